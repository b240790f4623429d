"""The work one token asks for: operators with their FLOPs and bytes by tensor class.

An architecture becomes a table of operators (one row per operator of a group of identical
layers, `count` layers in the group). Each row holds counts that do not depend on the number
formats or the context length; `engine.py` multiplies them by bytes per element and by the
context to get bytes and time. Tensor classes:

    weights      parameters read from memory (the whole model for every decoded token)
    activations  the vectors flowing between operators
    kv           the attention KV cache: read for every attended position, written once per token
    state        the fixed-size recurrent state of SSM and linear-attention layers

FLOP convention, shared with slmlab: matrix-multiply FLOPs only, 2 per multiply-accumulate.
Decode FLOPs per token at context L = 2 x (weights in the matmuls one token uses: q, k, v, o,
active MLP experts, router, LM head; not the embedding lookup) + 4 x n_head x head_dim x L per
attention layer (scores and weighted sum; a sliding window uses min(L, window)). A linear-
attention layer replaces L by head_dim + 1 (its state is head_dim x (head_dim + 1) per head: the
weighted values and the normaliser); an SSM adds its depthwise convolution (d_inner x d_conv
MACs) and its state read-out C_t . h_t (d_inner x d_state MACs); its elementwise state update
is not counted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hardware_model.arch import Arch

NO_CAP = 1e18  # attention without a window: "attend to every position" as a finite number

FIELDS = (
    "w_elems",  # weight elements read per weight pass (MoE: top_k experts)
    "w_macs",  # weight x activation MACs per token (run in the weight format's arithmetic)
    "a_macs",  # activation x activation MACs per token, context-independent (linear attention)
    "a_macs_ctx",  # activation x activation MACs per token per attended position (attention)
    "cap",  # attended positions are min(context, cap)
    "kv_read_ctx",  # KV elements read per token per attended position
    "kv_write",  # KV elements written per token
    "state",  # recurrent state elements (read and written once per pass)
    "act",  # activation elements read + written per token
    "dispatches",  # kernels a typical runtime launches for this operator
    "count",  # layers in the group
)
FLAGS = (
    "w_per_token",  # weights read per token, not per pass (the embedding lookup)
    "moe",  # expert weights: a pass over many tokens touches more experts
    "cim_ok",  # a weight matrix a compute-in-memory array can hold
)


@dataclass(frozen=True)
class Ops:
    """Operators of one forward step of an architecture (rows of equal-length numpy arrays).

    Attributes:
        arch: the Arch.
        name: operator names ("qkv", "attention", ...), one per row.
        group: the layer group of each row ("attention+swiglu", "model").
        layers: layer indices each row stands for (() for the embedding and the head).
        values: dict FIELDS -> float64 arrays; flags: dict FLAGS -> bool arrays.
    """

    arch: Arch
    name: tuple[str, ...]
    group: tuple[str, ...]
    layers: tuple[tuple[int, ...], ...]
    values: dict
    flags: dict

    def __getattr__(self, key):
        table = self.__dict__.get("values", {})
        if key in table:
            return table[key]
        flags = self.__dict__.get("flags", {})
        if key in flags:
            return flags[key]
        raise AttributeError(key)

    def __len__(self) -> int:
        return len(self.name)


def _layer_ops(a: Arch, mixer: str) -> list[dict]:
    """Rows for one layer with this mixer (and the arch's MLP)."""
    # fmt: off
    d, hd, nh, nkv, ff = a.d_model, a.head_dim, a.n_head, a.n_kv_head, a.d_ff
    rows = [dict(name="norm", w_elems=a.norms_per_layer * d, act=5 * d * a.norms_per_layer,
                 dispatches=2 * a.norms_per_layer)]
    if mixer == "ssm":
        di, n, r = a.d_inner, a.ssm_d_state, a.ssm_dt_rank
        scan_mm = di * (r + 2 * n) + r * di  # x_proj and dt_proj
        rows += [
            dict(name="ssm_in", w_elems=d * 2 * di, w_macs=d * 2 * di, act=d + 2 * di,
                 dispatches=1, cim_ok=True),
            dict(name="ssm_scan", w_elems=scan_mm + a.mixer_other_params("ssm"),
                 w_macs=scan_mm + di * a.ssm_d_conv,  # + the depthwise convolution
                 a_macs=di * n,  # the read-out C_t . h_t
                 state=a.state_elements_of("ssm"), act=4 * di + 2 * n + r, dispatches=6,
                 cim_ok=True),
            dict(name="ssm_out", w_elems=di * d, w_macs=di * d, act=di + d, dispatches=1,
                 cim_ok=True),
        ]
    else:
        qkv = d * (nh + 2 * nkv) * hd
        rows.append(dict(name="qkv", w_elems=qkv + a.mixer_other_params(mixer), w_macs=qkv,
                         act=d + (nh + 2 * nkv) * hd, dispatches=5, cim_ok=True))
        if mixer == "linear_attention":
            rows.append(dict(name="linear_attention", a_macs=2 * nh * hd * (hd + 1),
                             state=a.state_elements_of(mixer), act=4 * nh * hd, dispatches=3))
        else:
            cap = a.window if mixer in ("sliding_window", "block_sparse") else NO_CAP
            rows.append(dict(name="attention", a_macs_ctx=2 * nh * hd, cap=cap,
                             kv_read_ctx=2 * nkv * hd, kv_write=2 * nkv * hd, act=2 * nh * hd,
                             dispatches=3))
        rows.append(dict(name="o_proj", w_elems=nh * hd * d, w_macs=nh * hd * d,
                         act=nh * hd + d, dispatches=1, cim_ok=True))
    if a.mlp in ("swiglu", "geglu"):
        rows += [
            dict(name="mlp_up", w_elems=2 * d * ff, w_macs=2 * d * ff, act=d + 2 * ff,
                 dispatches=3, cim_ok=True),
            dict(name="mlp_down", w_elems=d * ff, w_macs=d * ff, act=2 * ff + d, dispatches=1,
                 cim_ok=True),
        ]
    elif a.mlp == "gelu":
        rows += [
            dict(name="mlp_up", w_elems=d * ff, w_macs=d * ff, act=d + ff, dispatches=2,
                 cim_ok=True),
            dict(name="mlp_down", w_elems=d * ff, w_macs=d * ff, act=ff + d, dispatches=1,
                 cim_ok=True),
        ]
    elif a.mlp == "moe":
        e, k = a.n_experts, a.top_k
        rows += [
            dict(name="router", w_elems=d * e, w_macs=d * e, act=d + e, dispatches=2,
                 cim_ok=True),
            dict(name="experts_up", w_elems=k * 2 * d * ff, w_macs=k * 2 * d * ff,
                 act=k * (d + 2 * ff), dispatches=3, moe=True, cim_ok=True),
            dict(name="experts_down", w_elems=k * d * ff, w_macs=k * d * ff,
                 act=k * (2 * ff + d), dispatches=2, moe=True, cim_ok=True),
        ]
    # fmt: on
    return rows


@functools.lru_cache(maxsize=256)
def ops(arch: Arch) -> Ops:
    """The operator table of one forward step of `arch` (cached per Arch).

    Args:
        arch: the architecture.

    Returns:
        Ops: the embedding lookup, each group of identical layers, the final norm, the LM head.
    """
    if not isinstance(arch, Arch):
        raise TypeError(f"arch must be an Arch, got {type(arch).__name__}")
    d, v = arch.d_model, arch.vocab_size
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(arch.layer_mixers):
        groups.setdefault(m, []).append(i)
    rows = [dict(name="embed", w_elems=d, act=d, dispatches=1, w_per_token=True)]
    meta = [("model", ())]
    for mixer, layer_ids in groups.items():
        for r in _layer_ops(arch, mixer):
            rows.append(dict(r, count=len(layer_ids)))
            meta.append((f"{mixer}+{arch.mlp}", tuple(layer_ids)))
    rows.append(dict(name="final_norm", w_elems=d, act=2 * d, dispatches=1))
    rows.append(
        dict(name="lm_head", w_elems=v * d, w_macs=v * d, act=d + v, dispatches=1, cim_ok=True)
    )
    meta += [("model", ()), ("model", ())]
    defaults = dict(cap=NO_CAP, count=1)
    values = {f: np.array([r.get(f, defaults.get(f, 0)) for r in rows], float) for f in FIELDS}
    flags = {f: np.array([bool(r.get(f, False)) for r in rows]) for f in FLAGS}
    return Ops(
        arch,
        tuple(r["name"] for r in rows),
        tuple(g for g, _ in meta),
        tuple(ls for _, ls in meta),
        values,
        flags,
    )


# ---- reference formulas (plain Python, used by tests and by slmlab's cross-check) ---------------
def decode_flops_per_token(arch: Arch, context_len: int) -> int:
    """Matmul FLOPs to decode one token that attends to `context_len` positions (see module doc).

    Args:
        arch: the architecture.
        context_len: positions in the KV cache the new token attends to (>= 0).

    Returns:
        FLOPs as an int.
    """
    if isinstance(context_len, bool) or not isinstance(context_len, (int, np.integer)):
        raise TypeError(f"context_len must be an int, got {context_len!r}")
    if context_len < 0:
        raise ValueError(f"context_len must be >= 0, got {context_len}")
    flops = 2 * arch.matmul_weights_per_token()
    for m in arch.layer_mixers:
        if m in ("attention", "sliding_window", "block_sparse"):
            attended = context_len if m == "attention" else min(context_len, arch.window)
            flops += 4 * arch.n_head * arch.head_dim * attended
        elif m == "linear_attention":
            flops += 4 * arch.n_head * arch.head_dim * (arch.head_dim + 1)
        elif m == "ssm":
            flops += 2 * arch.d_inner * (arch.ssm_d_conv + arch.ssm_d_state)
    return int(flops)


def weight_bytes(arch: Arch, bits_per_weight: float) -> float:
    """Bytes to store every parameter at `bits_per_weight` (tied embeddings stored once)."""
    return arch.num_params() * bits_per_weight / 8


@functools.lru_cache(maxsize=256)
def _memory_profile(arch: Arch) -> tuple[float, float, float]:
    """(KV elements per position in full-attention layers, in windowed layers, state elements)."""
    full = windowed = 0.0
    for i, m in enumerate(arch.layer_mixers):
        if m in ("sliding_window", "block_sparse"):
            windowed += arch.kv_elements_per_token(i)
        else:
            full += arch.kv_elements_per_token(i)
    return full, windowed, float(sum(arch.state_elements(i) for i in range(arch.n_layer)))


def kv_cache_bytes(arch: Arch, context_len, bytes_per_element: float, batch: int = 1):
    """Bytes of KV cache for `batch` sequences of `context_len` positions (windows cap layers)."""
    full, windowed, _ = _memory_profile(arch)
    ctx = np.asarray(context_len, float)
    window = arch.window or 0
    return (full * ctx + windowed * np.minimum(ctx, window)) * bytes_per_element * batch


def state_bytes(arch: Arch, bytes_per_element: float, batch: int = 1) -> float:
    """Bytes of recurrent state (SSM, linear attention) for `batch` sequences."""
    return _memory_profile(arch)[2] * bytes_per_element * batch


def activation_bytes(arch: Arch, tokens, bytes_per_element: float):
    """Bytes of live activation buffers for `tokens` tokens in flight (an estimate).

    Per token: the residual stream and a normalised copy (2 d_model), the widest intermediate
    (MLP hidden, both halves when gated; SSM inner), the attention output, and the logits.
    """
    return np.asarray(tokens, float) * activation_width(arch) * bytes_per_element


def activation_width(arch: Arch) -> int:
    """Activation elements per token in flight (see activation_bytes)."""
    gated = 2 if arch.mlp in ("swiglu", "geglu", "moe") else 1
    experts = arch.top_k if arch.mlp == "moe" else 1
    widest = max(gated * experts * arch.d_ff, 2 * arch.d_inner if "ssm" in arch.layer_mixers else 0)
    return 2 * arch.d_model + widest + arch.n_head * arch.head_dim + arch.vocab_size
