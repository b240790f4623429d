"""Run-time switches shared by the library and the labs.

Fast mode: the test run sets ``SLMLAB_FAST=1`` so every lab shrinks its data, steps and
sweeps and runs in seconds. Labs read the switch only through :func:`fast_mode` and
:func:`pick`, never ad hoc.
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

T = TypeVar("T")

FAST_ENV = "SLMLAB_FAST"


def fast_mode() -> bool:
    """True when the environment asks for the short test run (``SLMLAB_FAST=1``)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise: ``steps = pick(2000, 60)``."""
    return fast if fast_mode() else full


def device(prefer: str | None = None):
    """The torch device to use: CUDA if present, then Apple's MPS, otherwise the CPU.

    ``prefer`` ("cpu", "cuda", "mps") overrides the choice; so does the ``SLMLAB_DEVICE``
    environment variable.
    """
    import torch

    name = prefer or os.environ.get("SLMLAB_DEVICE")
    if name:
        allowed = {"cpu", "cuda", "mps"}
        if name.split(":")[0] not in allowed:
            raise ValueError(f"device must be one of {sorted(allowed)}, got {name!r}")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so the same seed gives the same numbers."""
    import numpy as np
    import torch

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
