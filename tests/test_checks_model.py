"""The lab 02 exercise checks: a correct solution passes, and each usual mistake fails with
the hint that names it. The "learner" functions below are written the way a learner would write
them, independently of the checks' own reference code."""

import math

import pytest
import torch
import torch.nn.functional as F

from slmlab.checks import model as checks
from slmlab.model import SLM, ModelConfig


def fails(check, fn, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(fn)


# -- RMSNorm -----------------------------------------------------------------------------------
def rms_norm(x, weight, eps=1e-5):
    return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps) * weight


def test_rmsnorm_correct_passes(capsys):
    checks.check_rmsnorm(rms_norm)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, w, eps: x / torch.sqrt((x * x).mean(dim=0, keepdim=True) + eps) * w,
     "wrong axis"),
    (lambda x, w, eps: x / torch.sqrt((x * x).mean() + eps) * w, "wrong axis"),
    (lambda x, w, eps: F.layer_norm(x, x.shape[-1:], eps=eps) * w, "LayerNorm"),
    (lambda x, w, eps: x / (x.std(-1, keepdim=True) + eps) * w, "std"),
    (lambda x, w, eps: x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps), "gain"),
    (lambda x, w, eps: x / ((x * x).mean(-1, keepdim=True) + eps) * w, "square root"),
    (lambda x, w, eps: x / (torch.sqrt((x * x).mean(-1, keepdim=True)) + eps) * w,
     "inside the square root"),
    (lambda x, w, eps: x / torch.sqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w,
     "eps argument"),
    (lambda x, w, eps: x * w, "differs from the library"),
])
def test_rmsnorm_mistakes_get_their_hint(wrong, hint):
    fails(checks.check_rmsnorm, wrong, hint)


def test_rmsnorm_shape_and_type_and_errors_are_explained():
    fails(checks.check_rmsnorm, lambda x, w, eps: x.mean(-1), "shape")
    fails(checks.check_rmsnorm, lambda x, w, eps: x.tolist(), "torch.Tensor")
    fails(checks.check_rmsnorm, lambda x, w: x, "TypeError")
    fails(checks.check_rmsnorm, rms_norm(torch.ones(2), torch.ones(2)), "itself")

    def todo(x, w, eps):
        raise NotImplementedError

    fails(checks.check_rmsnorm, todo, "not written yet")


def test_a_function_writing_into_its_input_does_not_spoil_the_reference():
    def in_place(x, weight, eps):
        return x.div_(torch.sqrt((x * x).mean(-1, keepdim=True) + eps)).mul_(weight)

    checks.check_rmsnorm(in_place)


# -- RoPE --------------------------------------------------------------------------------------
def make_rope(pair="neighbours", sign=1.0, exponent=2.0, offset=0, use_start=True,
              use_base=True):
    def apply_rope(x, start=0, base=10000.0):
        B, T, nh, d = x.shape
        base_ = base if use_base else 10000.0
        theta = base_ ** (-exponent * torch.arange(d // 2) / d)
        first = (start if use_start else 0) + offset
        angle = torch.arange(first, first + T)[:, None] * theta[None, :]  # (T, d/2)
        cos, sin = angle.cos()[:, None, :], sign * angle.sin()[:, None, :]
        if pair == "neighbours":
            a, b = x[..., 0::2], x[..., 1::2]
            return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)
        a, b = x[..., : d // 2], x[..., d // 2:]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], -1)

    return apply_rope


def test_rope_correct_passes(capsys):
    checks.check_rope(make_rope())
    assert "Correct" in capsys.readouterr().out


def test_rope_written_with_complex_numbers_passes_too():
    def apply_rope(x, start=0, base=10000.0):
        B, T, nh, d = x.shape
        theta = 1.0 / base ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        pos = torch.arange(start, start + T, dtype=torch.float64)
        rot = torch.polar(torch.ones(T, d // 2, dtype=torch.float64), torch.outer(pos, theta))
        z = torch.view_as_complex(x.double().reshape(B, T, nh, d // 2, 2))
        return torch.view_as_real(z * rot[:, None, :]).reshape(B, T, nh, d).float()

    checks.check_rope(apply_rope)


@pytest.mark.parametrize("kwargs, hint", [
    (dict(pair="halves"), "rotate half"),
    (dict(sign=-1.0), "wrong way"),
    (dict(exponent=1.0), "frequencies"),
    (dict(offset=1), "not at 1"),
    (dict(use_start=False), "ignore `start`"),
    (dict(use_base=False), "`base` argument"),
])
def test_rope_mistakes_get_their_hint(kwargs, hint):
    fails(checks.check_rope, make_rope(**kwargs), hint)


# -- attention ---------------------------------------------------------------------------------
def make_attention(scale="sqrt", mask="causal", fill=-math.inf, axis=-1, groups="interleave"):
    def causal_attention(q, k, v):
        B, H, T, d = q.shape
        g = H // k.shape[1]
        if groups == "interleave":
            k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        elif groups == "tile":
            k, v = k.repeat(1, g, 1, 1), v.repeat(1, g, 1, 1)
        s = q @ k.transpose(-2, -1)
        s = {"sqrt": s / math.sqrt(d), "none": s, "d": s / d}[scale]
        if mask == "causal":
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), fill)
        elif mask == "strict":  # hides the diagonal too
            s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 0), fill)
        elif mask == "upside down":
            s = s.masked_fill(torch.tril(torch.ones(T, T, dtype=torch.bool), -1), fill)
        elif mask == "leaky":  # hides all but the last future key
            hide = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
            hide[:, -1] = False
            s = s.masked_fill(hide, fill)
        return s.softmax(dim=axis) @ v

    return causal_attention


def test_attention_correct_passes(capsys):
    checks.check_attention(make_attention())
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, hint", [
    (dict(scale="none"), "1/sqrt"),
    (dict(scale="d"), "not 1/d"),
    (dict(mask="none"), "see the future"),
    (dict(mask="upside down"), "upside down"),
    (dict(mask="strict"), "see itself"),
    (dict(mask="leaky"), "see the future"),
    (dict(fill=0.0), "-inf"),
    (dict(axis=-2), "wrong axis"),
    (dict(groups="tile"), "repeat_interleave"),
    (dict(groups="none"), "fewer heads"),
])
def test_attention_mistakes_get_their_hint(kwargs, hint):
    fails(checks.check_attention, make_attention(**kwargs), hint)


def test_attention_with_fixed_shapes_fails_inside_the_module():
    # Right on the check's own (B, H, T, d) shapes, wrong elsewhere: a hard-coded head size.
    right = make_attention()

    def fixed_d(q, k, v):
        if q.shape[-1] == 8 and q.shape[2] == 5:
            return right(q, k, v)
        return right(q, k, v) * 0.5

    fails(checks.check_attention, fixed_d, "inside CausalSelfAttention")


# -- SwiGLU ------------------------------------------------------------------------------------
def make_swiglu(act=F.silu, swap=False, gated=True, after=False):
    def swiglu(x, w_gate, w_up, w_down):
        gate, up = x @ w_gate.T, x @ w_up.T
        if swap:
            gate, up = up, gate
        hidden = act(gate * up) if after else (act(gate) * up if gated else act(gate))
        return hidden @ w_down.T

    return swiglu


def test_swiglu_correct_passes(capsys):
    checks.check_swiglu(make_swiglu())
    checks.check_swiglu(lambda x, g, u, d: F.linear(F.silu(F.linear(x, g)) * F.linear(x, u), d))
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, hint", [
    (dict(swap=True), "gate branch"),
    (dict(act=torch.sigmoid), "not sigmoid"),
    (dict(act=F.relu), "not ReLU"),
    (dict(act=F.gelu), "not GELU"),
    (dict(after=True), "not SiLU of the product"),
    (dict(gated=False), "forgot the gate"),
])
def test_swiglu_mistakes_get_their_hint(kwargs, hint):
    fails(checks.check_swiglu, make_swiglu(**kwargs), hint)


def test_swiglu_weight_layout_mistake_is_explained():
    fails(checks.check_swiglu, lambda x, g, u, d: (F.silu(x @ g) * (x @ u)) @ d,
          "out_features, in_features")


# -- the forward pass --------------------------------------------------------------------------
def make_forward(residual=True, final_norm=True):
    def forward(model, idx):
        x = model.tok_emb(idx)
        for block in model.blocks:
            h = block.mixer(block.norm1(x), model.rope)
            x = x + h if residual else h
            h = block.mlp(block.norm2(x))
            x = x + h if residual else h
        return model.head(model.norm(x) if final_norm else x)

    return forward


def test_forward_correct_passes(capsys):
    checks.check_forward(make_forward())
    assert "Correct" in capsys.readouterr().out


def test_forward_mistakes_get_their_hint():
    fails(checks.check_forward, make_forward(residual=False), "residual")
    fails(checks.check_forward, make_forward(final_norm=False), "final RMSNorm")

    def post_norm(model, idx):
        x = model.tok_emb(idx)
        for b in model.blocks:
            x = b.norm1(x + b.mixer(x, model.rope))
            x = b.norm2(x + b.mlp(x))
        return model.head(model.norm(x))

    fails(checks.check_forward, post_norm, "pre-norm")


# -- counting: parameters, FLOPs, KV-cache bytes -----------------------------------------------
def param_count(c, *, tie=None, norms=True, kv_heads=None, mlp_mats=3, w_o=True):
    """Hand count of an SLM's parameters, with switches for the usual slips."""
    d = c.d_model // c.n_head
    kv = c.n_kv_head if kv_heads is None else kv_heads
    attn = c.d_model * (c.n_head + 2 * kv) * d + (c.n_head * d * c.d_model if w_o else 0)
    per_layer = attn + mlp_mats * c.d_model * c.d_ff + (2 * c.d_model if norms else 0)
    tied = c.tie_embeddings if tie is None else tie
    head = 0 if tied else c.vocab_size * c.d_model
    return c.vocab_size * c.d_model + c.n_layer * per_layer + (c.d_model if norms else 0) + head


def test_hand_count_agrees_with_the_model_before_it_is_used_as_the_correct_answer():
    for kw in checks.COUNT_CONFIGS:
        c = ModelConfig(**kw)
        assert param_count(c) == SLM(c).num_params()


def test_param_count_correct_passes_and_slips_get_their_hint(capsys):
    checks.check_param_count(param_count)
    assert "Correct" in capsys.readouterr().out
    fails(checks.check_param_count, lambda c: param_count(c, tie=False), "count it once")
    fails(checks.check_param_count, lambda c: param_count(c, norms=False), "RMSNorm gains")
    fails(checks.check_param_count, lambda c: param_count(c, kv_heads=c.n_head), "n_kv_head")
    fails(checks.check_param_count, lambda c: param_count(c, mlp_mats=2), "three matrices")
    fails(checks.check_param_count, lambda c: param_count(c, w_o=False), "W_O")
    fails(checks.check_param_count, lambda c: 1.5, "whole number")
    fails(checks.check_param_count, lambda c: 12345, "times the right value")


def decode_flops(c, n_ctx, *, per_mac=2, attn_mats=2, attn_heads=None, head=True):
    d = c.d_model // c.n_head
    heads = c.n_head if attn_heads is None else attn_heads
    weights = c.n_layer * (c.d_model * (c.n_head + 2 * c.n_kv_head) * d
                           + c.n_head * d * c.d_model + 3 * c.d_model * c.d_ff)
    weights += c.vocab_size * c.d_model if head else 0
    attention = c.n_layer * attn_mats * heads * d * n_ctx
    return per_mac * (weights + attention)


def test_decode_flops_correct_passes_and_slips_get_their_hint(capsys):
    checks.check_decode_flops(decode_flops)
    assert "Correct" in capsys.readouterr().out
    fails(checks.check_decode_flops, lambda c, n: decode_flops(c, n, per_mac=1), "2 FLOPs")
    fails(checks.check_decode_flops, lambda c, n: decode_flops(c, n, attn_mats=0),
          "forgot attention")
    fails(checks.check_decode_flops, lambda c, n: decode_flops(c, n, attn_mats=1),
          "two matmuls")
    fails(checks.check_decode_flops, lambda c, n: decode_flops(c, n, attn_heads=c.n_kv_head),
          "own scores")
    fails(checks.check_decode_flops, lambda c, n: decode_flops(c, n, head=False), "LM head")


def kv_bytes(c, n_ctx, batch, nbytes, *, kv=2, heads=None, layers=True):
    h = c.n_kv_head if heads is None else heads
    return kv * (c.n_layer if layers else 1) * batch * h * n_ctx * (c.d_model // c.n_head) \
        * nbytes


def test_kv_cache_bytes_correct_passes_and_slips_get_their_hint(capsys):
    checks.check_kv_cache_bytes(kv_bytes)
    assert "Correct" in capsys.readouterr().out
    fails(checks.check_kv_cache_bytes, lambda c, n, b, s: kv_bytes(c, n, b, s, kv=1), "AND")
    fails(checks.check_kv_cache_bytes,
          lambda c, n, b, s: kv_bytes(c, n, b, s, heads=c.n_head), "n_kv_head")
    fails(checks.check_kv_cache_bytes,
          lambda c, n, b, s: kv_bytes(c, n, b, s, layers=False), "n_layer")
    fails(checks.check_kv_cache_bytes, lambda c, n, b, s: kv_bytes(c, n, b, s) * 8, "bits")
    fails(checks.check_kv_cache_bytes, lambda c, n, b, s: kv_bytes(c, n, 1, s), "batch")
