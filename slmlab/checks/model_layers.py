"""Checks for lab 02's layer exercises: RMSNorm, RoPE, causal attention with GQA, SwiGLU
and the whole forward pass, each against the library's own layer (``slmlab.model``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from slmlab.checks._model_compare import _call, _close, _match, _tensor
from slmlab.model import SLM, CausalSelfAttention, ModelConfig
from slmlab.model.mlp import SwiGLU
from slmlab.model.norm import RMSNorm
from slmlab.model.rope import RotaryEmbedding


# -- RMSNorm -----------------------------------------------------------------------------------
def check_rmsnorm(fn) -> None:
    """Exercise: ``fn(x, weight, eps)`` returns RMSNorm of x (..., C) with gain weight (C,)."""
    g = torch.Generator().manual_seed(0)
    for scale, eps, context in ((3.0, 1e-5, "x of size about 3"),
                                (1e-3, 1e-4, "tiny x, where eps matters")):
        x = torch.randn(3, 5, 16, generator=g) * scale * torch.rand(3, 5, 1, generator=g)
        w = 1 + 0.5 * torch.randn(16, generator=g)
        ref = RMSNorm(16, eps)
        with torch.no_grad():
            ref.weight.copy_(w)
            expected = ref(x)
        out = _tensor(_call(fn, "rms_norm", x, w, eps), x.shape, "rms_norm")
        ms = x.pow(2).mean(-1, keepdim=True)
        axis = ("the RMS is taken over the wrong axis: each vector is normalised over its own "
                "features, the last dimension (mean(dim=-1, keepdim=True)).")
        std = "x.std() subtracts the mean (and divides by n - 1): the RMS is sqrt(mean(x²))."
        slips = [
            (axis, x / torch.sqrt(x.pow(2).mean(0, keepdim=True) + eps) * w),
            (axis, x / torch.sqrt(x.pow(2).mean(1, keepdim=True) + eps) * w),
            (axis, x / torch.sqrt(x.pow(2).mean() + eps) * w),
            ("you subtracted the mean: that is LayerNorm. RMSNorm only divides by "
             "sqrt(mean(x²) + eps).",
             F.layer_norm(x, (16,), eps=eps) * w),
            (std, x / torch.sqrt(x.var(-1, keepdim=True) + eps) * w),
            (std, x / (x.std(-1, keepdim=True) + eps) * w),
            ("forgot the gain: multiply the normalised x by weight.",
             x / torch.sqrt(ms + eps)),
            ("forgot the square root: divide by sqrt(mean(x²) + eps), not by mean(x²) + eps.",
             x / (ms + eps) * w),
            ("eps belongs inside the square root: x / sqrt(mean(x²) + eps).",
             x / (torch.sqrt(ms) + eps) * w),
            ("eps is missing (or not the eps argument): x / sqrt(mean(x²) + eps).",
             x / torch.sqrt(ms) * w),
            ("use the eps argument, not a fixed 1e-5.",
             x / torch.sqrt(ms + 1e-5) * w),
        ]
        _match(out, expected, slips, context)
    print("Correct: your RMSNorm matches slmlab.model.norm.RMSNorm.")


# -- RoPE --------------------------------------------------------------------------------------
def _rope_variant(x, start, base, *, halves=False, sign=1.0, exponent=2.0, first=0):
    """RoPE computed with one of the usual slips (the defaults give the correct result)."""
    _, T, _, d = x.shape
    theta = base ** (-exponent * torch.arange(d // 2, dtype=torch.float64) / d)
    angle = torch.arange(start + first, start + first + T, dtype=torch.float64)[:, None] * theta
    cos, sin = angle.cos()[None, :, None].float(), sign * angle.sin()[None, :, None].float()
    a, b = (x[..., : d // 2], x[..., d // 2:]) if halves else (x[..., 0::2], x[..., 1::2])
    ra, rb = a * cos - b * sin, a * sin + b * cos
    return torch.cat([ra, rb], -1) if halves else torch.stack([ra, rb], -1).flatten(-2)


def check_rope(fn) -> None:
    """Exercise: ``fn(x, start, base)`` rotates x (B, T, n_heads, head_dim) as RoPE does, the
    first token sitting at position ``start``."""
    g = torch.Generator().manual_seed(1)
    for start, base, context in ((0, 10000.0, "start=0"), (7, 10000.0, "start=7"),
                                 (3, 500.0, "base=500")):
        x = torch.randn(2, 6, 3, 8, generator=g)
        with torch.no_grad():
            expected = RotaryEmbedding(8, start + 6, base)(x, start)
        out = _tensor(_call(fn, "apply_rope", x, start, base), x.shape, "apply_rope")
        slips = [
            ("you paired feature i with feature i + d/2 (the 'rotate half' layout); this "
             "library rotates neighbours (x0, x1), (x2, x3), ... as the RoFormer paper does.",
             _rope_variant(x, start, base, halves=True)),
            ("the rotation goes the wrong way: (a, b) -> (a·cos - b·sin, a·sin + b·cos).",
             _rope_variant(x, start, base, sign=-1.0)),
            ("check the frequencies: θ_i = base^(-2i/d) for pair i = 0 .. d/2 - 1.",
             _rope_variant(x, start, base, exponent=1.0)),
            ("positions start at 0 (plus `start`), not at 1.",
             _rope_variant(x, start, base, first=1)),
            ("the positions ignore `start`: token t sits at position start + t.",
             _rope_variant(x, 0, base)),
            ("use the `base` argument instead of a fixed 10000.",
             _rope_variant(x, start, 10000.0)),
        ]
        _match(out, expected, slips, context)
    print("Correct: your RoPE matches slmlab.model.rope.RotaryEmbedding.")


# -- causal attention with GQA -----------------------------------------------------------------
def _attention_variant(q, k, v, *, scale=None, mask="causal", fill=float("-inf"), axis=-1,
                       tile=False):
    """Naive attention with one of the usual slips (the defaults give the correct result)."""
    H, T, d = q.shape[1], q.shape[2], q.shape[3]
    group = H // k.shape[1]
    expand = (lambda t: t.repeat(1, group, 1, 1)) if tile else (
        lambda t: t.repeat_interleave(group, 1))
    k, v = expand(k), expand(v)
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(d) if scale is None else scale)
    hide = {"causal": torch.ones(T, T).triu(1), "none": torch.zeros(T, T),
            "transposed": torch.ones(T, T).tril(-1)}[mask].bool()
    return scores.masked_fill(hide, fill).softmax(axis) @ v


def check_attention(fn) -> None:
    """Exercise: ``fn(q, k, v)`` is causal attention with q (B, H, T, d) and k, v
    (B, H_kv, T, d), H a multiple of H_kv; returns (B, H, T, d)."""
    g = torch.Generator().manual_seed(2)
    for H, Hkv, context in ((4, 4, "plain multi-head, H = H_kv = 4"),
                            (6, 2, "grouped-query, H = 6, H_kv = 2")):
        q, k, v = (torch.randn(2, h, 5, 8, generator=g) for h in (H, Hkv, Hkv))
        gqa_hint = ("With GQA, k and v have fewer heads than q: repeat each K/V head "
                    "H / H_kv times (repeat_interleave on dim 1) first." if H != Hkv else "")
        out = _call(fn, "causal_attention", q, k, v, hint=gqa_hint)
        if isinstance(out, torch.Tensor) and out.shape == q.shape and out.isnan().any():
            raise AssertionError(
                f"Not quite ({context}): NaN in the output. A row of scores that is all -inf "
                "gives NaN: every token must be allowed to see itself (keep the diagonal)."
            )
        out = _tensor(out, q.shape, "causal_attention")
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=H != Hkv)
        slips = [
            ("forgot the 1/sqrt(d) scale on the scores.",
             _attention_variant(q, k, v, scale=1.0)),
            ("the scale is 1/sqrt(d), not 1/d.",
             _attention_variant(q, k, v, scale=1 / 8)),
            ("the mask lets a token see the future: hide keys after the query (above the "
             "diagonal) by setting their scores to -inf.",
             _attention_variant(q, k, v, mask="none")),
            ("the mask is upside down: each token sees the future and not the past. Hide the "
             "part above the diagonal (torch.triu(..., diagonal=1)).",
             _attention_variant(q, k, v, mask="transposed")),
            ("masked scores must be -inf (so softmax gives them weight 0), not 0.",
             _attention_variant(q, k, v, fill=0.0)),
            ("softmax over the wrong axis: each query's weights over the keys (the last "
             "dimension) must sum to 1.",
             _attention_variant(q, k, v, axis=-2)),
            ("query head h must use K/V head h // (H / H_kv): repeat each K/V head in place "
             "(repeat_interleave), not the whole stack (repeat).",
             _attention_variant(q, k, v, tile=True)),
        ]

        def sees_future(q=q, k=k, v=v, out=out):
            # Whatever the code: changing the last key and value must not move the outputs
            # of the earlier tokens.
            k2, v2 = k.clone(), v.clone()
            k2[:, :, -1] += 1.0
            v2[:, :, -1] += 1.0
            again = _tensor(_call(fn, "causal_attention", q, k2, v2), q.shape,
                            "causal_attention")
            if not _close(again[:, :, :-1], out[:, :, :-1]):
                return "the mask lets a token see the future."
            return None

        _match(out, expected, slips, context, behaviour=sees_future)
    _check_attention_in_module(fn)
    print("Correct: your attention matches scaled_dot_product_attention and, wired into the "
          "layer, slmlab.model.CausalSelfAttention.")


def _check_attention_in_module(fn) -> None:
    """The learner's attention between the library layer's own projections and RoPE."""
    torch.manual_seed(3)
    cfg = ModelConfig(vocab_size=11, n_layer=1, n_head=4, n_kv_head=2, d_model=32,
                      max_seq_len=16)
    layer, rope = CausalSelfAttention(cfg).eval(), RotaryEmbedding(cfg.head_dim, 16)
    B, T, H, Hkv, d = 2, 7, 4, 2, 8
    x = torch.randn(B, T, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = layer(x, rope)
        q, k, v = layer.qkv(x).view(B, T, H + 2 * Hkv, d).split([H, Hkv, Hkv], dim=2)
        q, k, v = rope(q).transpose(1, 2), rope(k).transpose(1, 2), v.transpose(1, 2)
        y = _tensor(_call(fn, "causal_attention", q, k, v), (B, H, T, d), "causal_attention")
        out = layer.out(y.transpose(1, 2).reshape(B, T, H * d))
    if not _close(out, expected):
        raise AssertionError("Not quite: inside CausalSelfAttention your function gives a "
                             "different result. Does it use the shapes of its inputs (not "
                             "fixed numbers) for T, H, H_kv and d?")


# -- SwiGLU ------------------------------------------------------------------------------------
def check_swiglu(fn) -> None:
    """Exercise: ``fn(x, w_gate, w_up, w_down)`` is the SwiGLU MLP; the weights are laid out
    like ``nn.Linear.weight``: (out_features, in_features)."""
    torch.manual_seed(5)
    C, hidden = 12, 20
    mlp = SwiGLU(C, hidden)
    x = torch.randn(2, 3, C, generator=torch.Generator().manual_seed(5))
    w_gate, w_up = (w.detach() for w in mlp.gate_up.weight.chunk(2, dim=0))
    w_down = mlp.down.weight.detach()
    with torch.no_grad():
        expected = mlp(x)
    layout = ("The weights are stored like nn.Linear's, as (out_features, in_features): "
              "project with x @ w.T (or F.linear(x, w)).")
    out = _tensor(_call(fn, "swiglu", x, w_gate, w_up, w_down, hint=layout), x.shape, "swiglu")
    gate, up = x @ w_gate.T, x @ w_up.T
    slips = [
        ("SiLU goes on the gate branch: silu(x·W_gateᵀ) ⊙ (x·W_upᵀ), then W_down.",
         (F.silu(up) * gate) @ w_down.T),
        ("SiLU(z) is z·sigmoid(z), not sigmoid(z).",
         (torch.sigmoid(gate) * up) @ w_down.T),
        ("the activation is SiLU (z·sigmoid(z)), not ReLU.",
         (F.relu(gate) * up) @ w_down.T),
        ("the activation is SiLU (z·sigmoid(z)), not GELU.",
         (F.gelu(gate) * up) @ w_down.T),
        ("apply SiLU to the gate first, then multiply by the up projection (not SiLU of the "
         "product).",
         F.silu(gate * up) @ w_down.T),
        ("forgot the gate: the hidden vector is silu(gate) multiplied elementwise by up.",
         F.silu(gate) @ w_down.T),
    ]
    _match(out, expected, slips, "a SwiGLU with d_model 12 and hidden size 20")
    print("Correct: your SwiGLU matches slmlab.model.mlp.SwiGLU.")


# -- the whole forward pass --------------------------------------------------------------------
def check_forward(fn) -> None:
    """Exercise: ``fn(model, idx)`` returns the logits (B, T, V) of an SLM, computed from its
    parts: tok_emb, blocks (norm1, mixer, norm2, mlp), norm, head, rope."""
    torch.manual_seed(6)
    cfg = ModelConfig(vocab_size=13, n_layer=2, n_head=2, d_model=16, max_seq_len=16)
    model = SLM(cfg).eval()
    with torch.no_grad():  # random gains, so a skipped norm shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.5 * torch.randn(p.shape))
    idx = torch.randint(0, 13, (2, 9), generator=torch.Generator().manual_seed(6))

    def variant(residual=True, final_norm=True, post_norm=False):
        x = model.tok_emb(idx)
        for b in model.blocks:
            if post_norm:
                x = b.norm1(x + b.mixer(x, model.rope))
                x = b.norm2(x + b.mlp(x))
            else:
                x = (x if residual else 0) + b.mixer(b.norm1(x), model.rope)
                x = (x if residual else 0) + b.mlp(b.norm2(x))
        return model.head(model.norm(x) if final_norm else x)

    with torch.no_grad():
        expected = model(idx)[0]
        out = _tensor(_call(fn, "forward", model, idx), (2, 9, 13), "forward")
        slips = [
            ("forgot the residual connections: x = x + mixer(norm1(x)), then x = x + "
             "mlp(norm2(x)).", variant(residual=False)),
            ("forgot the final RMSNorm before the head.", variant(final_norm=False)),
            ("the norms go before each sub-layer (pre-norm): x + mixer(norm1(x)), not "
             "norm1(x + mixer(x)).", variant(post_norm=True)),
        ]
        _match(out, expected, slips, "a 2-layer SLM")
    print("Correct: your forward pass gives the same logits as SLM.forward.")
