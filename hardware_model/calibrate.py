"""Measure this machine with numpy and describe it as a `Chip`; run a numpy decode to check it.

`host()` times three things, best of a few repeats, in a couple of seconds:
    - memory bandwidth: copying an array much larger than the caches (bytes read + written),
      and the same on an array that fits in cache (the on-chip level);
    - matrix-multiply throughput per format numpy offers (fp64, fp32, fp16, int8 as int32
      products): what *numpy* sustains here, not what the silicon could;
    - per-operation overhead: the time of a numpy call on a one-element array.

`measure_decode(arch)` then streams the weights of a small architecture through matrix-vector
products, one token at a time, and reports tokens/s to set against
`simulate(arch, host(), weight_format="fp32", act_format="fp32")`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from hardware_model.arch import Arch
from hardware_model.chip import Chip, GiB, MemoryLevel, MiB
from hardware_model.energy import dram_pj_per_byte, sram_pj_per_byte


def _best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cache_bytes() -> int:
    """Per-core level-2 cache of this machine from /sys (Linux), else the largest; 1 MiB if
    unknown. (A shared last-level cache is split between cores and, on a virtual machine,
    between guests, so a single decode thread sees about the L2.)"""
    sizes = {}
    for d in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (d / "size").read_text().strip().upper()
            level = int((d / "level").read_text())
        except (OSError, ValueError):
            continue
        scale = {"K": 1024, "M": MiB, "G": GiB}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes[level] = max(sizes.get(level, 0), int(digits) * scale)
    return sizes.get(2) or max(sizes.values(), default=MiB)


def memory_bytes() -> int:
    """Physical memory of this machine in bytes (8 GiB if the OS will not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * GiB


def copy_bandwidth(nbytes: int, repeats: int = 3) -> float:
    """Bytes per second moved (read + written) copying a float64 array of `nbytes`."""
    n = max(nbytes // 8, 1024)
    src, dst = np.ones(n), np.empty(n)
    loops = max(1, int(64 * MiB // (n * 8)))  # enough work to time a small array

    def run():
        for _ in range(loops):
            np.copyto(dst, src)

    run()  # touch the pages first
    return 2 * n * 8 * loops / _best_time(run, repeats)


def matvec_bandwidth(nbytes: int, repeats: int = 3) -> float:
    """Bytes per second of fp32 weights streamed through numpy vector-matrix products.

    This is the rate a numpy decode reads its weights at: often well below the copy bandwidth,
    because a BLAS matrix-vector kernel may not keep enough loads in flight to fill the bus.
    """
    rows, cols = 1024, 4096
    n_mats = max(1, nbytes // (rows * cols * 4))
    mats = [np.ones((rows, cols), np.float32) for _ in range(n_mats)]
    x = np.ones(rows, np.float32)

    def run():
        for m in mats:
            x @ m

    run()
    return n_mats * rows * cols * 4 / _best_time(run, repeats)


def matmul_ops_per_s(fmt: str, n: int, repeats: int = 3) -> float:
    """Operations per second (2 per MAC) of an n x n numpy matrix multiply in `fmt`."""
    dtype = {"fp64": np.float64, "fp32": np.float32, "fp16": np.float16, "int8": np.int32}[fmt]
    rng = np.random.default_rng(0)
    a = rng.integers(-8, 8, (n, n)) if fmt == "int8" else rng.standard_normal((n, n))
    a = a.astype(dtype)
    b = a.T.copy()
    a @ b  # warm up (BLAS threads, caches)
    return 2 * n**3 / _best_time(lambda: a @ b, repeats)


def op_overhead_s(calls: int = 20000) -> float:
    """Seconds per numpy call on a one-element array: the fixed cost of dispatching an op."""
    x = np.ones(1)
    out = np.empty(1)

    def run():
        for _ in range(calls):
            np.add(x, x, out=out)

    return _best_time(run, 3) / calls


def measurements(quick: bool = False) -> dict:
    """Every figure host() uses, measured now (a couple of seconds; `quick`: under one).

    Returns:
        dict: copy_bytes_per_s, matvec_bytes_per_s, cache_bytes_per_s, cache_bytes,
        memory_bytes, ops_per_s (per format, fp64 included), overhead_s.
    """
    cache = cache_bytes()
    big = 64 * MiB if quick else 192 * MiB
    sizes = {"fp64": 384, "fp32": 512, "fp16": 64, "int8": 64}
    if not quick:
        sizes = {"fp64": 512, "fp32": 768, "fp16": 128, "int8": 128}
    return dict(
        copy_bytes_per_s=copy_bandwidth(max(big, 4 * cache), repeats=2 if quick else 3),
        matvec_bytes_per_s=matvec_bandwidth(max(big, 4 * cache), repeats=2 if quick else 3),
        cache_bytes_per_s=copy_bandwidth(cache // 4, repeats=3),
        cache_bytes=cache,
        memory_bytes=memory_bytes(),
        ops_per_s={f: matmul_ops_per_s(f, n) for f, n in sizes.items()},
        overhead_s=op_overhead_s(2000 if quick else 20000),
    )


def host(quick: bool = False, measured: dict | None = None) -> Chip:
    """Measure this machine and return it as a Chip named "host".

    Args:
        quick: smaller measurements (under a second, noisier).
        measured: figures from measurements() to reuse instead of measuring again.

    Returns:
        A Chip whose peaks are numpy's sustained matrix-multiply rates (utilisation 1) and whose
        main-memory bandwidth is the rate numpy streams weights through vector-matrix products
        (what a numpy decode sees; the copy bandwidth is in `source`). One cache level: the
        per-core L2. Energy numbers are not measured: they assume a 14 nm CPU with DDR4.
    """
    m = measured or measurements(quick)
    peak = {f: v for f, v in m["ops_per_s"].items() if f != "fp64"}  # no fp64 formats here
    node = 14.0
    cache = m["cache_bytes"]
    return Chip(
        "host",
        peak_ops=peak,
        memory=(
            MemoryLevel(
                "cache",
                cache,
                max(m["cache_bytes_per_s"], m["matvec_bytes_per_s"]),
                sram_pj_per_byte(cache, node),
                "cache",
            ),
            MemoryLevel(
                "dram", m["memory_bytes"], m["matvec_bytes_per_s"], dram_pj_per_byte("ddr4"), "main"
            ),
        ),
        kind="cpu",
        utilisation=1.0,
        process_nm=node,
        compute_overhead=10.0,
        static_power_w=5.0,
        sleep_power_w=5.0,
        overhead_s=m["overhead_s"],
        source=(
            "measured by hardware_model.calibrate.host() with numpy; copy bandwidth "
            f"{m['copy_bytes_per_s'] / 1e9:.3g} GB/s, matrix-vector streaming "
            f"{m['matvec_bytes_per_s'] / 1e9:.3g} GB/s"
        ),
    )


def measure_decode(
    arch: Arch, *, n_tokens: int = 4, seed: int = 0, max_params: float = 300e6
) -> float:
    """Decode tokens/s of a numpy forward pass through `arch`'s matmul weights (fp32).

    Each layer has its own weight matrices (so every token streams the whole model from
    memory, as a real decode does); the work is the matrix-vector products of q/k/v, o, the
    MLP and the LM head, attention over an empty cache (context 0). Used to check the model
    against this machine: compare with simulate(arch, host(), weight_format="fp32",
    act_format="fp32", context_len=0).

    Args:
        arch: an attention + SwiGLU/GELU architecture (MoE and SSM layers are not built here).
        n_tokens: tokens to time (the best of them is kept).
        seed: seed for the random weights.
        max_params: refuse bigger models (their fp32 weights would need too much memory).

    Returns:
        Tokens per second.
    """
    if not isinstance(arch, Arch):
        raise TypeError(f"arch must be an Arch, got {type(arch).__name__}")
    if arch.mlp not in ("swiglu", "geglu", "gelu") or set(arch.layer_mixers) != {"attention"}:
        raise ValueError("measure_decode builds attention + dense-MLP models only")
    if arch.num_params() > max_params:
        raise ValueError(
            f"{arch.name} has {arch.num_params():,} parameters; measure_decode "
            f"allows at most {max_params:,.0f} (fp32 weights must fit in memory)"
        )
    rng = np.random.default_rng(seed)
    d, hd = arch.d_model, arch.head_dim
    qkv_out = (arch.n_head + 2 * arch.n_kv_head) * hd
    gated = arch.mlp != "gelu"

    def mat(rows, cols):  # uniform weights with unit-variance outputs
        return (rng.random((rows, cols), dtype=np.float32) - 0.5) * np.float32(np.sqrt(12 / rows))

    layers = [
        (
            mat(d, qkv_out),
            mat(arch.n_head * hd, d),
            mat(d, (1 + gated) * arch.d_ff),
            mat(arch.d_ff, d),
        )
        for _ in range(arch.n_layer)
    ]
    head = mat(d, arch.vocab_size)
    x0 = rng.standard_normal(d, dtype=np.float32)

    def rms(x):
        return x / np.sqrt(np.mean(x * x) + 1e-6)

    def token():
        x = x0
        for w_qkv, w_o, w_up, w_down in layers:
            q = (rms(x) @ w_qkv)[: arch.n_head * hd]  # empty cache: attention output = v ~ q
            x = x + q @ w_o
            h = rms(x) @ w_up
            h = h[: arch.d_ff] * h[arch.d_ff :] if gated else np.maximum(h, 0)
            x = x + h @ w_down
        return rms(x) @ head

    token()
    return 1.0 / _best_time(token, n_tokens)
