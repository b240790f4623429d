"""Comparing a learner's answer with the library's, for the lab 02 checks.

Shared by model_layers (tensors: close within float32 tolerance) and model_accounting
(whole numbers: equal). Each helper turns a wrong answer into a plain-words message: the
hint of the first known slip the answer equals, else how far off it is.
"""

from __future__ import annotations

import operator

import torch

ATOL, RTOL = 1e-5, 1e-4  # float32 agreement; every slip the checks name is off by far more


# -- shared helpers ----------------------------------------------------------------------------
def _call(fn, name: str, *args, hint: str = ""):
    """Run the learner's ``fn``; turn an exception it raises into a plain-words message."""
    if not callable(fn):
        raise AssertionError(f"Pass your function `{name}` itself (without calling it), got "
                             f"a {type(fn).__name__}.")
    # Copies, so a function that writes into its inputs cannot spoil the reference.
    args = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"{name} is not written yet: write it where it says so.") from None
    except Exception as err:  # the learner's code: any error becomes a hint
        raise AssertionError(f"{name} raised {type(err).__name__}: {err}. {hint}") from err


def _tensor(out, shape: tuple, name: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise AssertionError(f"{name} should return a torch.Tensor, got {type(out).__name__}.")
    if tuple(out.shape) != tuple(shape):
        raise AssertionError(
            f"{name} returned shape {tuple(out.shape)}; expected {tuple(shape)} (the input's "
            "shape). Check which dimension each operation acts on."
        )
    if not torch.isfinite(out).all():
        raise AssertionError(f"{name} returned NaN or inf values.")
    return out.detach().float()


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b.float(), atol=ATOL, rtol=RTOL)


def _match(out: torch.Tensor, expected: torch.Tensor, slips, context: str,
           behaviour=None) -> None:
    """Pass if ``out`` equals ``expected``; else raise the hint of the first slip it equals.

    ``slips`` is a list of (hint, the slip's result). ``behaviour``, if given,
    returns a hint from testing a property of the learner's function (or None), tried before
    the generic message.
    """
    if _close(out, expected):
        return
    for hint, wrong in slips:
        if _close(out, wrong):
            raise AssertionError(f"Not quite ({context}): {hint}")
    found = behaviour() if behaviour is not None else None
    if found:
        raise AssertionError(f"Not quite ({context}): {found}")
    gap = (out - expected.float()).abs().max().item()
    raise AssertionError(
        f"Not quite ({context}): the result differs from the library's by up to {gap:.3g}. "
        "Go through the formula one step at a time on a small input."
    )


def _int_answer(fn, name: str, *args) -> int:
    """Call the learner's ``fn`` and accept a whole number: int, numpy integer, a one-element
    tensor or an integral float."""
    out = _call(fn, name, *args)
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if isinstance(out, float) and out.is_integer():
        out = int(out)
    if isinstance(out, bool):
        raise AssertionError(f"{name} should return a whole number (an int), got {out!r}.")
    try:
        return operator.index(out)  # int, numpy integers
    except TypeError:
        raise AssertionError(f"{name} should return a whole number (an int), got "
                             f"{out!r}.") from None


def _match_int(answer: int, expected: int, slips: dict, context: str) -> None:
    if answer == expected:
        return
    for hint, wrong in slips.items():
        if answer == wrong:
            raise AssertionError(f"Not quite ({context}): {hint}")
    raise AssertionError(
        f"Not quite ({context}): {answer:,} instead of {expected:,} "
        f"({answer / expected:.3f} times the right value). Count one part at a time."
    )
