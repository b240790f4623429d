"""Number answers shared by the checks of labs 00 and 09: accept a number, name the slip."""

from __future__ import annotations

import math
from numbers import Real


def as_number(answer, what: str) -> float:
    """The learner's ``answer`` as a float, or an AssertionError saying what to set."""
    if isinstance(answer, bool) or not isinstance(answer, Real) or math.isnan(float(answer)):
        raise AssertionError(f"Set `answer` to {what} (a number); got {answer!r}.")
    return float(answer)


def diagnose(answer: float, expected: float, slips: dict[str, float], unit: str,
             rel: float) -> None:
    """Return if ``answer`` is within ``rel`` of ``expected``; else raise with the hint of the
    known slip it matches (``slips``: hint -> the number that slip gives), or with the gap."""
    if math.isclose(answer, expected, rel_tol=rel):
        return
    for hint, wrong in slips.items():
        if math.isclose(answer, wrong, rel_tol=rel):
            raise AssertionError(f"Not quite: {answer:,.4g} {unit}. {hint}")
    raise AssertionError(
        f"Not quite: {answer:,.4g} {unit} is {abs(answer - expected) / expected:.0%} away from "
        "the answer. Go through the steps again, one term at a time."
    )
