"""Argument checks shared by the budget modules: each raises an error naming the argument."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def _number(name: str, value, *, min_value: float = 0.0, allow_equal: bool = True) -> float:
    """Check one scalar argument and return it as a float, or raise naming the argument."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < min_value or (value == min_value and not allow_equal):
        relation = ">=" if allow_equal else ">"
        raise ValueError(f"{name} must be {relation} {min_value:g}, got {value:g}")
    return value


def _count(name: str, value, *, min_value: int = 0) -> int:
    """Check an integer count (tokens, devices, ...) and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < min_value:
        raise ValueError(f"{name} must be an int >= {min_value}, got {value}")
    return int(value)
