"""Efficient mixers: each against an independent reference (dense masked attention, a float64
loop, full attention), and cached / recurrent decoding against the full forward."""

import math

import pytest
import torch
import torch.nn.functional as F

from slmlab.model import (
    MIXERS,
    SLM,
    BlockSparseAttention,
    ModelConfig,
    SlidingWindowAttention,
)
from slmlab.model.linear_attention import chunked_linear_attention, phi, recurrent_step
from slmlab.model.mixers import build_mixer
from slmlab.model.rope import RotaryEmbedding
from slmlab.model.ssm import parallel_scan, selective_scan

SMALL = dict(vocab_size=40, n_layer=2, n_head=4, n_kv_head=2, d_model=32, max_seq_len=96,
             window=8, block_size=8, n_global=3)


def small(**changes) -> ModelConfig:
    return ModelConfig(**{**SMALL, **changes})


def dense_masked_attention(layer, x, rope, allowed):
    """Reference: the layer's own projections, then softmax over an explicit (T, T) mask."""
    B, T, _ = x.shape
    H, Hkv, d = layer.n_head, layer.n_kv_head, layer.head_dim
    qkv = layer.qkv(x).view(B, T, H + 2 * Hkv, d)
    qk, v = qkv.split([H + Hkv, Hkv], dim=2)
    q, k = rope(qk).split([H, Hkv], dim=2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    k, v = (t.repeat_interleave(H // Hkv, dim=1) for t in (k, v))
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
    scores = scores.masked_fill(~allowed, float("-inf"))
    y = scores.softmax(-1) @ v
    return layer.out(y.transpose(1, 2).reshape(B, T, H * d))


@pytest.mark.parametrize("T", [5, 8, 20, 33])
@pytest.mark.parametrize("mixer", ["sliding_window", "block_sparse"])
def test_sparse_attention_equals_dense_attention_with_its_mask(mixer, T):
    torch.manual_seed(0)
    c = small(mixer=mixer)
    layer = build_mixer(c, 0).eval()
    rope = RotaryEmbedding(c.head_dim, c.max_seq_len)
    x = torch.randn(2, T, c.d_model)
    pos = torch.arange(T)
    ref = dense_masked_attention(layer, x, rope, type(layer).allowed(c, pos, pos))
    torch.testing.assert_close(layer(x, rope), ref, atol=1e-5, rtol=1e-5)


def test_sliding_window_key_count_per_row_is_min_of_position_and_window():
    for W in (1, 3, 8):
        pos = torch.arange(30)
        allowed = SlidingWindowAttention.allowed(small(window=W), pos, pos)
        assert allowed.sum(1).tolist() == [min(i + 1, W) for i in range(30)]
        assert not allowed.triu(1).any()  # nothing from the future


def test_block_sparse_pattern_by_hand():
    c = small(block_size=4, n_global=2)
    pos = torch.arange(12)
    allowed = BlockSparseAttention.allowed(c, pos, pos)
    # Query 10 is in block 2: it sees block 1 (4..7), its own block up to itself (8..10) and
    # the two global tokens 0, 1.
    assert torch.nonzero(allowed[10]).flatten().tolist() == [0, 1, 4, 5, 6, 7, 8, 9, 10]
    assert torch.nonzero(allowed[3]).flatten().tolist() == [0, 1, 2, 3]


def test_sliding_window_at_least_the_sequence_equals_full_attention():
    torch.manual_seed(1)
    full = SLM(small()).eval()
    windowed = SLM(small(mixer="sliding_window", window=40)).eval()
    windowed.load_state_dict(full.state_dict())
    x = torch.randint(0, 40, (2, 40))
    torch.testing.assert_close(windowed(x)[0], full(x)[0])
    # And the banded path (T > W) with a window as long as the sequence is still exact:
    windowed = SLM(small(mixer="sliding_window", window=39)).eval()
    windowed.load_state_dict(full.state_dict())
    assert not torch.allclose(windowed(x)[0], full(x)[0])  # the last row lost one key


@pytest.mark.parametrize("mixer,mlp", [(m, "swiglu") for m in MIXERS] + [("attention", "moe")])
def test_cached_decoding_equals_the_full_forward(mixer, mlp):
    torch.manual_seed(2)
    model = SLM(small(mixer=mixer, mlp=mlp)).eval()
    x = torch.randint(0, 40, (2, 37))
    full, _ = model(x)
    caches = model.new_caches(2)
    steps = torch.cat([model(x[:, i:i + 1], caches=caches)[0] for i in range(37)], dim=1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-4)
    # A prefill followed by chunks goes through the multi-token cached paths.
    caches = model.new_caches(2)
    parts = [model(x[:, a:b], caches=caches)[0] for a, b in ((0, 11), (11, 12), (12, 30),
                                                              (30, 37))]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-4)


def test_hybrid_per_layer_mixers_decode_and_generate_the_same_with_and_without_cache():
    torch.manual_seed(3)
    c = small(n_layer=4, mixer=["ssm", "ssm", "attention", "sliding_window"])
    model = SLM(c).eval()
    kinds = [type(b.mixer).__name__ for b in model.blocks]
    assert kinds == ["SelectiveSSM", "SelectiveSSM", "CausalSelfAttention",
                     "SlidingWindowAttention"]
    prompt = torch.randint(0, 40, (1, 5))
    # 5 + 100 tokens > max_seq_len: the context rule crops and rebuilds the caches.
    with_cache = model.generate(prompt, 100, temperature=0)
    without = model.generate(prompt, 100, temperature=0, use_cache=False)
    assert torch.equal(with_cache, without)


def test_sliding_window_decode_memory_stops_growing():
    model = SLM(small(mixer="sliding_window", window=8)).eval()
    caches = model.new_caches(1)
    sizes = []
    for i in range(30):
        model(torch.tensor([[i % 40]]), caches=caches)
        sizes.append(sum(c.nbytes() for c in caches))
        assert caches[0].window == 8
    assert len(set(sizes)) == 1
    assert sorted(caches[0].pos.tolist()) == list(range(22, 30))  # the last W positions


def test_linear_attention_parallel_and_recurrent_forms_agree_token_by_token():
    torch.manual_seed(4)
    B, H, T, d = 2, 3, 150, 8
    q, k = phi(torch.randn(B, H, T, d, dtype=torch.float64)), phi(torch.randn(B, H, T, d,
                                                                              dtype=torch.float64))
    v = torch.randn(B, H, T, d, dtype=torch.float64)
    v1 = torch.cat([v, torch.ones_like(v[..., :1])], -1)
    out, S_last = chunked_linear_attention(q, k, v1, chunk=16)  # 10 chunks, the last partial
    S = torch.zeros(B, H, d, d + 1, dtype=torch.float64)
    for t in range(T):
        step, S = recurrent_step(q[:, :, t:t + 1], k[:, :, t:t + 1], v1[:, :, t:t + 1], S)
        torch.testing.assert_close(step[:, :, 0], out[:, :, t])
    torch.testing.assert_close(S, S_last)
    # And both equal the definition: causal sums of φ(q)·φ(k) weights, normalised.
    w = (q @ k.transpose(-1, -2)).tril()
    torch.testing.assert_close(out[..., :d] / out[..., d:], (w @ v) / w.sum(-1, keepdim=True))


def naive_selective_scan(delta, A, Bm, C, u):
    """Reference: the recurrence written out per batch, channel and state entry, float64."""
    B, T, D = u.shape
    N = A.shape[1]
    h = torch.zeros(B, D, N, dtype=torch.float64)
    ys = []
    for t in range(T):
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[:, :, None] \
            * Bm[:, t, None, :]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, t]))
    return torch.stack(ys, 1), h


def test_selective_scan_matches_a_plain_loop_forward_and_gradients():
    torch.manual_seed(5)
    B, T, D, N = 2, 23, 6, 4
    make = lambda *s: torch.randn(*s, dtype=torch.float64, requires_grad=True)  # noqa: E731
    delta = F.softplus(make(B, T, D)).detach().requires_grad_()
    A = (-torch.rand(D, N, dtype=torch.float64) * 3).requires_grad_()
    Bm, C, u = make(B, T, N), make(B, T, N), make(B, T, D)
    inputs = (delta, A, Bm, C, u)
    y, h = selective_scan(*inputs)
    y_ref, h_ref = naive_selective_scan(*inputs)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(h, h_ref)
    g = torch.autograd.grad((y * y_ref.detach().cos()).sum(), inputs)
    g_ref = torch.autograd.grad((y_ref * y_ref.detach().cos()).sum(), inputs)
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("T,chunk", [(1, 4), (7, 4), (32, 8), (45, 16)])
def test_parallel_scan_equals_the_sequential_recurrence(T, chunk):
    torch.manual_seed(6)
    dA = torch.rand(2, T, 3, 4, dtype=torch.float64, requires_grad=True)
    dBu = torch.randn(2, T, 3, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 4, dtype=torch.float64)
    h_all, h_last = parallel_scan(dA, dBu, h0, chunk=chunk)
    h, ref = h0, []
    for t in range(T):
        h = dA[:, t] * h + dBu[:, t]
        ref.append(h)
    torch.testing.assert_close(h_all, torch.stack(ref, 1))
    torch.testing.assert_close(h_last, h)
    g = torch.autograd.grad(h_all.sum(), (dA, dBu))
    g_ref = torch.autograd.grad(torch.stack(ref, 1).sum(), (dA, dBu))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b)


def test_ssm_layer_scan_equals_token_by_token_decoding_with_gradients():
    torch.manual_seed(7)
    c = small(mixer="ssm")
    layer = build_mixer(c, 0).double()
    x = torch.randn(2, 19, c.d_model, dtype=torch.float64, requires_grad=True)
    full = layer(x)
    state = layer.new_cache(2, 19, dtype=torch.float64)
    steps = torch.cat([layer(x[:, t:t + 1], cache=state) for t in range(19)], dim=1)
    torch.testing.assert_close(steps, full)
    params = [x, layer.A_log, layer.dt_proj.weight, layer.conv.weight]
    g_full = torch.autograd.grad(full.pow(2).sum(), params)
    g_steps = torch.autograd.grad(steps.pow(2).sum(), params)
    for a, b in zip(g_full, g_steps):
        torch.testing.assert_close(a, b)
    assert state.length == 19 and state.h.shape == (2, c.ssm_d_inner, c.ssm_d_state)


def test_ssm_and_linear_attention_state_size_does_not_depend_on_context():
    for mixer in ("ssm", "linear_attention"):
        model = SLM(small(mixer=mixer)).eval()
        sizes = set()
        for T in (1, 10, 90):
            caches = model.new_caches(1)
            model(torch.randint(0, 40, (1, T)), caches=caches)
            sizes.add(sum(c.nbytes() for c in caches))
        assert len(sizes) == 1, mixer


def test_every_mixer_trains_a_step_and_the_loss_falls():
    for mixer in MIXERS:
        torch.manual_seed(8)
        model = SLM(small(mixer=mixer))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        x = torch.randint(0, 40, (4, 24))
        losses = []
        for _ in range(5):
            _, loss = model(x[:, :-1], x[:, 1:])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], mixer


@pytest.mark.parametrize("mixer", MIXERS)
def test_every_mixer_runs_in_bfloat16_close_to_float32(mixer):
    torch.manual_seed(9)
    model = SLM(small(mixer=mixer)).eval()
    x = torch.randint(0, 40, (1, 30))
    ref, _ = model(x)
    half = model.to(torch.bfloat16)
    logits, _ = half(x)
    assert logits.dtype == torch.bfloat16
    assert (logits.float() - ref).abs().max() < 0.05 * ref.abs().max()
    out = half.generate(x[0, :3], 10, temperature=0)
    assert out.shape == (13,)
    if mixer == "ssm":  # the recurrence keeps float32 even in a bfloat16 model
        caches = half.new_caches(1)
        half(x[:, :4], caches=caches)
        assert caches[0].h.dtype == torch.float32
