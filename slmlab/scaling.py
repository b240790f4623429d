"""How a mixer's cost grows with the sequence: forward time, peak memory, decode time per token.

Shared by the benchmark (``python -m slmlab.bench``) and labs 03 and 05. Everything here times
or measures one mixer layer (or a one-layer SLM) on random input, so the numbers isolate the
token mixer from the rest of the model.

    t(T) ≈ c · T^k   ->   k = slope of log t against log T   (:func:`fit_exponent`)

Full attention has k -> 2 once the T² score work dominates; windowed, linear and state-space
mixers stay near 1.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import time

import torch

from .model import SLM, ModelConfig
from .model.mixers import build_mixer
from .model.rope import RotaryEmbedding

# One layer, 128 wide, 4 heads; long enough for the longest measured context.
TIMING_SHAPE = dict(vocab_size=256, n_layer=1, n_head=4, d_model=128, max_seq_len=8192,
                    window=256, block_size=128, n_global=16)


def mixer_config(mixer: str, **changes) -> ModelConfig:
    """A one-layer config for timing ``mixer`` (TIMING_SHAPE updated with ``changes``)."""
    return ModelConfig(**{**TIMING_SHAPE, "mixer": mixer, **changes})


def _check_len(name: str, value: int, limit: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if limit is not None and value > limit:
        raise ValueError(f"{name} ({value}) exceeds the config's max_seq_len ({limit})")


def _layer_and_input(config: ModelConfig, seq_len: int, batch: int):
    if not isinstance(config, ModelConfig):
        raise TypeError(f"expected a ModelConfig (see mixer_config), got {type(config).__name__}")
    _check_len("seq_len", seq_len, config.max_seq_len)
    _check_len("batch", batch)
    torch.manual_seed(0)
    layer = build_mixer(config, 0).eval()
    rope = RotaryEmbedding(config.head_dim, config.max_seq_len, config.rope_theta)
    x = torch.randn(batch, seq_len, config.d_model)
    return layer, rope, x


@torch.inference_mode()
def forward_time(config: ModelConfig, seq_len: int, *, batch: int = 1,
                 repeats: int = 3) -> float:
    """Seconds for one forward pass of the config's first mixer layer over (batch, seq_len).

    The best of ``repeats`` runs after one warm-up: other programs only ever add time.
    """
    layer, rope, x = _layer_and_input(config, seq_len, batch)
    layer(x, rope)  # warm-up
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        layer(x, rope)
        best = min(best, time.perf_counter() - t0)
    return best


@torch.inference_mode()
def forward_peak_bytes(config: ModelConfig, seq_len: int, *, batch: int = 1) -> int:
    """Peak memory allocated during one forward pass of the mixer layer (bytes above the
    input), from torch's profiler: each allocation counts from the start of the operation that
    made it, each release from its end, so a temporary freed inside a fused kernel still
    counts — a slight over-estimate, never an under-estimate of what the operations held."""
    from torch.profiler import ProfilerActivity, profile

    layer, rope, x = _layer_and_input(config, seq_len, batch)
    layer(x, rope)  # warm-up: one-time allocations (e.g. the RoPE table's move) stay out
    with _native_stderr_silenced(), profile(activities=[ProfilerActivity.CPU],
                                            profile_memory=True) as prof:
        layer(x, rope)
    timeline = []
    for event in prof.events():
        used = event.self_cpu_memory_usage
        if used:
            timeline.append((event.time_range.start if used > 0 else event.time_range.end, used))
    timeline.sort()
    return max(0, max(itertools.accumulate(u for _, u in timeline), default=0))


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a moment: the profiler's C++ side logs a
    "profiler_start/stop" line per use there, which no setting turns off (and which a
    notebook would show under every measurement). Python exceptions are unaffected."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def fit_exponent(lengths, values, min_len: int | None = None) -> float:
    """Least-squares slope of log(values) against log(lengths), over lengths >= ``min_len``.

    Args:
        lengths: sequence lengths (positive). values: the measured cost at each length.
        min_len: ignore shorter lengths (where fixed per-call costs hide the growth).

    Returns:
        k in cost ∝ T^k.
    """
    pairs = [(float(n), float(v)) for n, v in zip(lengths, values, strict=True)
             if min_len is None or n >= min_len]
    if len(pairs) < 2:
        raise ValueError(f"fit_exponent needs at least two lengths >= {min_len}, got "
                         f"{[n for n, _ in pairs]}")
    if any(n <= 0 or v <= 0 for n, v in pairs):
        raise ValueError("fit_exponent needs positive lengths and values")
    if len({n for n, _ in pairs}) < 2:
        raise ValueError("fit_exponent needs at least two different lengths")
    return least_squares_slope([math.log(n) for n, _ in pairs], [math.log(v) for _, v in pairs])


def least_squares_slope(xs, ys) -> float:
    """Slope of the least-squares line through the points (xs[i], ys[i])."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


@torch.inference_mode()
def decode_time_per_token(config: ModelConfig, context_len: int, *, tokens: int = 16,
                          repeats: int = 3) -> tuple[float, int]:
    """(seconds per decoded token, cache/state bytes) for a model of ``config`` that has
    already processed ``context_len`` tokens.

    One prefill of context_len random tokens fills the caches; then ``tokens`` single-token
    decode steps are timed one by one. Each of ``repeats`` runs (from a copy of the same caches)
    gives its median step; the best run counts.
    """
    if not isinstance(config, ModelConfig):
        raise TypeError(f"expected a ModelConfig (see mixer_config), got {type(config).__name__}")
    _check_len("context_len", context_len)
    _check_len("tokens", tokens)
    if context_len + tokens > config.max_seq_len:
        raise ValueError(f"context_len + tokens ({context_len + tokens}) exceeds max_seq_len "
                         f"({config.max_seq_len})")
    torch.manual_seed(0)
    model = SLM(config).eval()
    ids = torch.randint(0, config.vocab_size, (1, context_len + tokens))
    caches = model.new_caches(1, context_len + tokens)  # a KV cache sized to what it holds
    model(ids[:, :context_len], caches=caches, last_only=True)
    nbytes = sum(c.nbytes() for c in caches)
    warm = [_copy_cache(c) for c in caches]
    model(ids[:, context_len:context_len + 1], caches=warm, last_only=True)  # one-time costs
    best = math.inf
    for _ in range(max(1, repeats)):
        run = [_copy_cache(c) for c in caches]
        steps = []
        for i in range(context_len, context_len + tokens):
            t0 = time.perf_counter()
            model(ids[:, i:i + 1], caches=run, last_only=True)
            steps.append(time.perf_counter() - t0)
        best = min(best, sorted(steps)[len(steps) // 2])  # median step: robust to a hiccup
    return best, nbytes


def _copy_cache(cache):
    """An independent copy of a cache or state (its tensors cloned, counters copied)."""
    new = object.__new__(type(cache))
    for name, value in vars(cache).items():
        setattr(new, name, value.clone() if isinstance(value, torch.Tensor) else value)
    return new
