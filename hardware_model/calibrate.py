"""Measure this machine with numpy and describe it as a `Chip`; run a numpy decode to check it.

`host()` times three things, best of a few repeats, in a couple of seconds:
    - memory bandwidth: the fastest of several numpy streams over arrays much larger than the
      caches (a copy, an element-wise add, matrix-vector products of two shapes), and a copy
      of an array that fits in cache (the on-chip level);
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

from hardware_model import _check
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


def add_bandwidth(nbytes: int, repeats: int = 3) -> float:
    """Bytes per second moved (two read + one written) by np.add over three float64 arrays of
    `nbytes` in all: the plainest stream numpy has, no BLAS kernel in the way."""
    n = max(nbytes // 24, 1024)
    a, b, out = np.ones(n), np.ones(n), np.empty(n)

    def run():
        np.add(a, b, out=out)

    run()  # touch the pages first
    return 3 * n * 8 / _best_time(run, repeats)


# Weight shapes streamed by measurements(), as (rows, cols, side). Side "left" computes x @ W
# (weights stored (in, out), as measure_decode does); "right" computes W @ x (stored (out, in),
# as torch's nn.Linear does). BLAS runs the two through different matrix-vector kernels, which
# keep different numbers of loads in flight.
MATVEC_SHAPES = ((1024, 4096, "left"), (4096, 1024, "right"))


def matvec_bandwidth(
    nbytes: int, repeats: int = 3, *, rows: int = 1024, cols: int = 4096, side: str = "left"
) -> float:
    """Bytes per second of fp32 weights streamed through numpy matrix-vector products.

    This is the rate a numpy decode reads its weights at: it can fall well below the copy
    bandwidth when a BLAS matrix-vector kernel does not keep enough loads in flight to fill
    the bus, and how far below depends on the shape and on which side the vector sits.

    Args:
        nbytes: bytes of weights in all (split into rows x cols fp32 matrices).
        repeats: timed passes over all matrices; the fastest is kept.
        rows, cols: shape of each weight matrix.
        side: "left" for x @ W (x has `rows` entries), "right" for W @ x (x has `cols`).
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' (x @ W) or 'right' (W @ x), got {side!r}")
    rows, cols = _check.integer("rows", rows, 1), _check.integer("cols", cols, 1)
    n_mats = max(1, nbytes // (rows * cols * 4))
    mats = [np.ones((rows, cols), np.float32) for _ in range(n_mats)]
    x = np.ones(rows if side == "left" else cols, np.float32)

    def run():
        for m in mats:
            if side == "left":
                x @ m
            else:
                m @ x

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
    """Every figure host() uses, measured now (a couple of seconds; `quick`: about one).

    Returns:
        dict: copy_bytes_per_s, add_bytes_per_s, matvec_bytes_per_s (the faster of the
        MATVEC_SHAPES), memory_bytes_per_s (the fastest of those three: main-memory
        bandwidth), cache_bytes_per_s, cache_bytes, memory_bytes, ops_per_s (per format, fp64
        included), overhead_s.
    """
    cache = cache_bytes()
    big = 64 * MiB if quick else 192 * MiB
    stream, repeats = max(big, 4 * cache), 2 if quick else 3
    sizes = {"fp64": 384, "fp32": 512, "fp16": 64, "int8": 64}
    if not quick:
        sizes = {"fp64": 512, "fp32": 768, "fp16": 128, "int8": 128}
    copy = copy_bandwidth(stream, repeats)
    add = add_bandwidth(stream, repeats)
    matvec = max(
        matvec_bandwidth(stream, repeats, rows=r, cols=c, side=s) for r, c, s in MATVEC_SHAPES
    )
    # Main-memory bandwidth is the best of several streams, not one. A single matrix shape was
    # seen to report 2 GB/s on a loaded machine while a real numpy decode streamed ~7.6 GB/s:
    # any one kernel can fall short of the bus (a BLAS matrix-vector kernel that keeps too few
    # loads in flight for that shape, a burst of load from other processes during its few
    # repeats), but the memory delivers at least the fastest rate any of them reached.
    return dict(
        copy_bytes_per_s=copy,
        add_bytes_per_s=add,
        matvec_bytes_per_s=matvec,
        memory_bytes_per_s=max(copy, add, matvec),
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
        main-memory bandwidth is the fastest of numpy's streams (copy, add, matrix-vector
        products of two shapes; each rate is in `source`). One cache level: the per-core L2.
        Energy numbers are not measured: they assume a 14 nm CPU with DDR4.
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
                max(m["cache_bytes_per_s"], m["memory_bytes_per_s"]),
                sram_pj_per_byte(cache, node),
                "cache",
            ),
            MemoryLevel(
                "dram", m["memory_bytes"], m["memory_bytes_per_s"], dram_pj_per_byte("ddr4"), "main"
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
            "measured by hardware_model.calibrate.host() with numpy; main memory = the "
            f"fastest of copy {m['copy_bytes_per_s'] / 1e9:.3g} GB/s, add "
            f"{m['add_bytes_per_s'] / 1e9:.3g} GB/s, matrix-vector streaming "
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
