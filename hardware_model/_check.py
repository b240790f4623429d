"""Argument checks shared by the package: each raises a clear error naming the argument."""

from __future__ import annotations

import math
import numbers


def number(name: str, value) -> float:
    """`value` as a float, or TypeError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def at_least(name: str, value, low: float = 0.0, *, strict: bool = False) -> float:
    """`value` as a finite float >= low (> low when `strict`), or an error naming `name`."""
    value = number(name, value)
    if not ((value > low if strict else value >= low) and math.isfinite(value)):
        if low == 0:
            raise ValueError(f"{name} must be a {'positive' if strict else 'non-negative'} "
                             f"finite number, got {value}")
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, "
                         f"got {value}")
    return value


def positive(name: str, value) -> float:
    """`value` as a float > 0 and finite, or an error naming `name`."""
    return at_least(name, value, strict=True)


def non_negative(name: str, value) -> float:
    """`value` as a float >= 0 and finite, or an error naming `name`."""
    return at_least(name, value)


def integer(name: str, value, low: int = 0) -> int:
    """`value` as an int >= low, or an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def name(what: str, value) -> str:
    """`value` as a non-empty str, or TypeError naming `what`."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty str, got {value!r}")
    return value


def lookup_preset(presets: dict, name, kind: type, what: str, names: list[str]):
    """The preset called ``name`` (an instance of ``kind`` passed in is returned as is).

    ``what`` names the thing in errors ("chip", "model"); ``names`` lists the presets.
    """
    if isinstance(name, kind):
        return name
    if not isinstance(name, str):
        article = "an" if kind.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"{what} must be a preset name (str) or {article} {kind.__name__}, "
                        f"got {name!r}")
    key = name.strip().lower()
    if key not in presets:
        raise ValueError(f"unknown {what} {name!r}; presets: {', '.join(names)}")
    return presets[key]
