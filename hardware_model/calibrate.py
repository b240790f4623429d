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
    """Largest CPU cache on this machine, from /sys (Linux); 1 MiB if unknown."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip().upper()
        scale = {"K": 1024, "M": MiB, "G": GiB}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes) if sizes else MiB


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


def host(quick: bool = False) -> Chip:
    """Measure this machine and return it as a Chip named "host".

    Args:
        quick: smaller measurements (under a second, noisier).

    Returns:
        A Chip whose peaks are numpy's sustained rates (utilisation 1), main memory the
        measured copy bandwidth, and one cache level of the machine's largest cache. Energy
        numbers are not measured: they assume a 14 nm CPU with DDR4 (see energy.py).
    """
    cache = cache_bytes()
    big = 64 * MiB if quick else 256 * MiB
    dram_bw = copy_bandwidth(max(big, 8 * cache), repeats=2 if quick else 3)
    cache_bw = max(copy_bandwidth(cache // 4, repeats=3), dram_bw)
    sizes = (
        {"fp64": 256, "fp32": 256, "fp16": 64, "int8": 64}
        if quick
        else {"fp64": 512, "fp32": 768, "fp16": 128, "int8": 128}
    )
    peak = {f: matmul_ops_per_s(f, n) for f, n in sizes.items()}
    peak.pop("fp64")  # kept out of the Chip (no fp64 formats), measured for the curious
    node = 14.0
    return Chip(
        "host",
        peak_ops=peak,
        memory=(
            MemoryLevel("cache", cache, cache_bw, sram_pj_per_byte(cache, node), "cache"),
            MemoryLevel("dram", memory_bytes(), dram_bw, dram_pj_per_byte("ddr4"), "main"),
        ),
        kind="cpu",
        utilisation=1.0,
        process_nm=node,
        compute_overhead=10.0,
        static_power_w=5.0,
        sleep_power_w=5.0,
        overhead_s=op_overhead_s(2000 if quick else 20000),
        source="measured by hardware_model.calibrate.host() with numpy",
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
    up_out = (2 if arch.mlp != "gelu" else 1) * arch.d_ff

    def mat(rows, cols):
        return rng.standard_normal((rows, cols), dtype=np.float32) * (1 / np.sqrt(rows))

    layers = [
        (mat(d, qkv_out), mat(arch.n_head * hd, d), mat(d, up_out), mat(arch.d_ff, d))
        for _ in range(arch.n_layer)
    ]
    head = mat(d, arch.vocab_size)
    x0 = rng.standard_normal((1, d), dtype=np.float32)

    def token():
        x = x0
        for w_qkv, w_o, w_up, w_down in layers:
            v = (
                (x @ w_qkv)[:, -arch.n_head * hd :]
                if arch.n_kv_head == arch.n_head
                else (x @ w_qkv)[:, : arch.n_head * hd]
            )
            x = x + v @ w_o
            h = x @ w_up
            h = h[:, : arch.d_ff] * h[:, arch.d_ff :] if arch.mlp != "gelu" else h
            x = x + h @ w_down
        return x @ head

    token()
    return 1.0 / _best_time(token, n_tokens)
