"""Number formats for weights, the KV cache and activations: bits per element, scales included.

A quantized weight format stores small integers plus a scale shared by a block of them, so its
true cost is more than its nominal width: llama.cpp's q4_0 keeps 32 four-bit weights and one
16-bit scale per block, (32*4 + 16) / 32 = 4.5 bits per weight. Memory traffic, and so decode
speed, follows these true widths.

Each format also names the arithmetic its multiply-accumulates run in (`compute`): llama.cpp
multiplies q4_0 weights with activations quantized to 8 bits using int8 dot products, while
bitsandbytes' nf4 dequantizes to bf16 first.

Sources
    [GG] llama.cpp (ggml) block formats: q8_0 and q4_0 are 32-element blocks with an fp16 scale;
         Q4_K super-blocks are 256 elements with 6-bit sub-block scales and mins.
    [D23] T. Dettmers et al., "QLoRA: efficient finetuning of quantized LLMs", 2023: NF4 with one
         fp32 absmax per 64 weights; double quantization stores those absmax values in 8 bits
         with one fp32 scale per 256 of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One storage format.

    Attributes:
        name: the name used everywhere ("q4_0", "fp16", "int4-g64", ...).
        bits: storage bits per element, scales and zero points included.
        compute: the arithmetic the MACs use ("fp32", "fp16", "bf16", "int8", "int4").
        block: elements that share one scale (None for plain floats and per-channel int8).
        description: one line for a learner.
    """

    name: str
    bits: float
    compute: str
    block: int | None
    description: str

    @property
    def bytes(self) -> float:
        """Bytes per element (bits / 8)."""
        return self.bits / 8


def _int4(group: int) -> Format:
    # Symmetric int4 with one fp16 scale per group of `group` weights (GPTQ/AWQ-style storage).
    return Format(
        f"int4-g{group}",
        4 + 16 / group,
        "int4",
        group,
        f"4-bit integers, one fp16 scale per {group} weights",
    )


_FLOATS = {
    "fp32": Format("fp32", 32, "fp32", None, "IEEE single precision"),
    "fp16": Format("fp16", 16, "fp16", None, "IEEE half precision"),
    "bf16": Format("bf16", 16, "bf16", None, "bfloat16: fp32's exponent, 8-bit mantissa"),
}

WEIGHT_FORMATS: dict[str, Format] = {
    **_FLOATS,
    # Per-output-channel int8: one scale per row of thousands of weights, under 0.01 bit each.
    "int8": Format("int8", 8, "int8", None, "8-bit integers, one scale per output channel"),
    "q8_0": Format("q8_0", (32 * 8 + 16) / 32, "int8", 32, "llama.cpp: 32 int8 + fp16 scale [GG]"),
    "q4_0": Format("q4_0", (32 * 4 + 16) / 32, "int8", 32, "llama.cpp: 32 int4 + fp16 scale [GG]"),
    # Q4_K_M is a mix (most tensors Q4_K at 4.5 bits, some Q6_K); its average over a whole model,
    # measured from llama.cpp's reported size of Llama-2-7B Q4_K_M (3.80 GiB for 6.74 B weights):
    # 3.80 * 2**30 * 8 / 6.74e9 = 4.84 bits per weight.
    "q4_k_m": Format("q4_k_m", 4.84, "int8", 256, "llama.cpp k-quant mix, model average [GG]"),
    "int4": _int4(128),
    "int4-g32": _int4(32),
    "int4-g64": _int4(64),
    "int4-g128": _int4(128),
    "nf4": Format("nf4", 4 + 32 / 64, "bf16", 64, "QLoRA NormalFloat4, fp32 absmax per 64 [D23]"),
    "nf4-dq": Format(
        "nf4-dq",
        4 + 8 / 64 + 32 / (64 * 256),
        "bf16",
        64,
        "NF4 with double-quantized absmax [D23]",
    ),
}

KV_FORMATS: dict[str, Format] = {
    **_FLOATS,
    "int8": Format("int8", 8, "int8", None, "8-bit KV cache, per-head scale"),
    "q8_0": WEIGHT_FORMATS["q8_0"],
    "q4_0": WEIGHT_FORMATS["q4_0"],
}

ACT_FORMATS: dict[str, Format] = {
    **_FLOATS,
    "int8": Format("int8", 8, "int8", None, "8-bit activations, per-token scale"),
}

_KINDS = {"weight": WEIGHT_FORMATS, "kv": KV_FORMATS, "activation": ACT_FORMATS}
_INT4_GROUP = re.compile(r"^int4-g(\d+)$")


def names(kind: str = "weight") -> list[str]:
    """Format names for one kind of tensor, widest first.

    Args:
        kind: "weight", "kv" or "activation".

    Returns:
        Names sorted by decreasing bits per element.
    """
    table = _table(kind)
    return sorted(table, key=lambda n: (-table[n].bits, n))


def get(name: str, kind: str = "weight") -> Format:
    """Look a format up by name.

    Weight formats also accept any group size written "int4-g<N>" (N >= 1).

    Args:
        name: format name.
        kind: "weight", "kv" or "activation".

    Returns:
        The Format.
    """
    if isinstance(name, Format):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{kind} format must be a name (str), got {type(name).__name__}")
    table = _table(kind)
    if name in table:
        return table[name]
    match = _INT4_GROUP.match(name)
    if kind == "weight" and match and int(match.group(1)) >= 1:
        return _int4(int(match.group(1)))
    raise ValueError(
        f"unknown {kind} format {name!r}; allowed: {', '.join(names(kind))}"
        + (" (or int4-g<N> for any group size N)" if kind == "weight" else "")
    )


def bits_per_weight(name: str) -> float:
    """Storage bits per weight of a weight format, scales included (q4_0 -> 4.5)."""
    return get(name, "weight").bits


def _table(kind: str) -> dict[str, Format]:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    return _KINDS[kind]
