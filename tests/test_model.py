"""The decoder against independent references: a naive float64 attention, RoPE's relative-
position property, GQA as MHA with shared K/V heads, cached decode == full forward."""

import math

import pytest
import torch
import torch.nn.functional as F

from slmlab.model import SLM, ModelConfig, swiglu_hidden
from slmlab.model.attention import CausalSelfAttention
from slmlab.model.rope import RotaryEmbedding


def tiny(**kw) -> ModelConfig:
    base = dict(vocab_size=37, n_layer=2, n_head=4, n_kv_head=2, d_model=32, max_seq_len=24)
    base.update(kw)
    return ModelConfig(**base)


def model(seed=0, **kw) -> SLM:
    torch.manual_seed(seed)
    return SLM(tiny(**kw)).eval()


# -- config ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, field", [
    (dict(d_model=30, n_head=4), "d_model"),
    (dict(n_head=4, n_kv_head=3), "n_kv_head"),
    (dict(d_model=12, n_head=4, n_kv_head=4), "head_dim"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(n_layer=-1), "n_layer"),
    (dict(max_seq_len=2.5), "max_seq_len"),
    (dict(dropout=1.0), "dropout"),
    (dict(mixer="transformer"), "mixer"),
    (dict(mixer=["attention"]), "mixer"),
    (dict(mlp="gelu"), "mlp"),
    (dict(tie_embeddings="yes"), "tie_embeddings"),
])
def test_config_rejects_bad_values_naming_the_field(kw, field):
    with pytest.raises(ValueError, match=field):
        tiny(**kw)


def test_config_defaults_and_round_trip():
    c = ModelConfig(vocab_size=65, d_model=384, n_head=6)
    assert c.n_kv_head == 6 and c.head_dim == 64
    # SwiGLU hidden matches a 4·C GELU MLP in parameters: 3·C·F ≈ 2·C·4C (within rounding).
    assert c.d_ff == swiglu_hidden(384) == 1024
    assert abs(3 * c.d_ff - 8 * 384) <= 3 * 16
    assert ModelConfig.from_dict(c.to_dict()) == c
    c2 = c.replace(d_model=192, n_head=3)
    assert c2.d_ff == swiglu_hidden(192) and c2.n_kv_head == 3
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({**c.to_dict(), "n_embd": 3})
    assert tiny(mixer=["attention", "attention"]).layer_mixer(1) == "attention"


def test_num_params_matches_hand_count():
    for tie in (True, False):
        c = tiny(tie_embeddings=tie)
        C, V, F_, L, d = c.d_model, c.vocab_size, c.d_ff, c.n_layer, c.head_dim
        per_layer = 2 * C + C * (c.n_head + 2 * c.n_kv_head) * d + c.n_head * d * C + 3 * C * F_
        expected = V * C * (1 if tie else 2) + L * per_layer + C
        m = SLM(c)
        assert m.num_params() == expected
        assert m.num_params(exclude_embedding=True) == expected - V * C


# -- a naive reference -------------------------------------------------------------------------
def naive_rope(x, start, base=10000.0):
    """(B, T, nh, d) float64; rotate pair (2i, 2i+1) by angle pos·base^(-2i/d), with cos/sin."""
    B, T, nh, d = x.shape
    out = torch.empty_like(x)
    for t in range(T):
        for i in range(d // 2):
            ang = (start + t) * base ** (-2 * i / d)
            c, s = math.cos(ang), math.sin(ang)
            a, b = x[:, t, :, 2 * i], x[:, t, :, 2 * i + 1]
            out[:, t, :, 2 * i] = a * c - b * s
            out[:, t, :, 2 * i + 1] = a * s + b * c
    return out


def naive_attention(layer: CausalSelfAttention, x):
    """Loops and an explicit softmax, in float64, with K/V heads indexed by group."""
    W = layer.qkv.weight.double()
    H, Hkv, d = layer.n_head, layer.n_kv_head, layer.head_dim
    B, T, C = x.shape
    qkv = (x.double() @ W.T).view(B, T, H + 2 * Hkv, d)
    q = naive_rope(qkv[:, :, :H], 0)
    k = naive_rope(qkv[:, :, H : H + Hkv], 0)
    v = qkv[:, :, H + Hkv :]
    y = torch.zeros(B, T, H, d, dtype=torch.float64)
    for h in range(H):
        g = h // (H // Hkv)  # the K/V head this query head reads
        for t in range(T):
            scores = torch.stack([(q[:, t, h] * k[:, s, g]).sum(-1) for s in range(t + 1)], -1)
            w = torch.softmax(scores / math.sqrt(d), dim=-1)  # (B, t+1)
            y[:, t, h] = (w[:, :, None] * v[:, : t + 1, g]).sum(1)
    return y.reshape(B, T, H * d) @ layer.out.weight.double().T


@pytest.mark.parametrize("n_kv_head", [4, 2, 1])
def test_attention_equals_naive_float64_reference(n_kv_head):
    m = model(n_kv_head=n_kv_head)
    layer = m.blocks[0].mixer
    x = torch.randn(2, 9, 32)
    got = layer(x, m.rope)
    assert torch.allclose(got.double(), naive_attention(layer, x), atol=1e-5)


def test_rope_scores_depend_only_on_relative_position():
    rope = RotaryEmbedding(8, 64)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def score(m, n):
        return (rope(q, m) * rope(k, n)).sum().item()
    assert score(5, 2) == pytest.approx(score(40, 37), abs=1e-5)
    assert score(5, 2) != pytest.approx(score(5, 4), abs=1e-3)
    assert torch.allclose(rope(q, 0), q)  # position 0: no rotation


def test_rotate_qk_and_its_backward_match_the_formula_in_float64():
    """Training's rotate_qk (q and k turned in place, a hand-written backward) against
    autograd through the naive rotation; the float64 path against gradcheck's finite
    differences."""
    torch.manual_seed(0)
    rope, H, Hkv, d, start = RotaryEmbedding(8, 32), 4, 2, 8, 5
    leaf = torch.randn(2, 6, (H + 2 * Hkv) * d, requires_grad=True)
    q, k, v = rope.rotate_qk(leaf * 1.0, H, Hkv, start)  # a product's output, as in attention
    grads = [torch.randn_like(t) for t in (q, k, v)]
    torch.autograd.backward([q, k, v], grads)
    ref = leaf.detach().double().view(2, 6, H + 2 * Hkv, d).requires_grad_()
    want = (naive_rope(ref[:, :, :H], start), naive_rope(ref[:, :, H : H + Hkv], start),
            ref[:, :, H + Hkv :])
    torch.autograd.backward(want, [g.double() for g in grads])
    for got, expected in zip((q, k, v), want):
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(leaf.grad.double(), ref.grad.flatten(2), rtol=1e-5, atol=1e-6)
    with torch.no_grad():  # inference takes the plain path (complex products)
        for got, plain in zip((q, k, v), rope.rotate_qk(leaf, H, Hkv, start)):
            torch.testing.assert_close(got, plain, rtol=1e-6, atol=1e-6)
    small = torch.randn(1, 3, (2 + 2) * 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: RotaryEmbedding(4, 8).rotate_qk(t, 2, 1, 2),
                                    (small,))


def test_gqa_equals_mha_with_shared_kv_heads():
    """A GQA layer == an MHA layer whose K/V heads are copies within each group."""
    gqa = model(n_kv_head=2)
    mha = SLM(tiny(n_kv_head=4)).eval()
    state = gqa.state_dict()
    H, Hkv, d, C = 4, 2, 8, 32
    for i in range(2):
        W = state[f"blocks.{i}.mixer.qkv.weight"].view(H + 2 * Hkv, d, C)
        q, k, v = W[:H], W[H : H + Hkv], W[H + Hkv :]
        rep = H // Hkv
        k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        state[f"blocks.{i}.mixer.qkv.weight"] = torch.cat([q, k, v]).reshape(-1, C)
    mha.load_state_dict(state)
    x = torch.randint(0, 37, (2, 12))
    assert torch.allclose(gqa(x)[0], mha(x)[0], atol=1e-5)


# -- forward, loss, cache ----------------------------------------------------------------------
def test_forward_shapes_and_loss_is_cross_entropy():
    m = model()
    x = torch.randint(0, 37, (3, 10))
    y = torch.randint(0, 37, (3, 10))
    logits, loss = m(x, y)
    assert logits.shape == (3, 10, 37)
    reference = F.cross_entropy(logits.reshape(-1, 37), y.reshape(-1))
    assert loss.item() == pytest.approx(reference.item())
    assert m(x)[1] is None
    y[:, :5] = -1  # ignored positions
    _, masked = m(x, y)
    assert masked.item() == pytest.approx(
        F.cross_entropy(logits[:, 5:].reshape(-1, 37), y[:, 5:].reshape(-1)).item())
    # Small init: the untrained model is close to uniform, loss ≈ ln V.
    assert abs(loss.item() - math.log(37)) < 0.15
    last, _ = m(x, last_only=True)
    assert torch.allclose(last[:, 0], logits[:, -1], atol=1e-6)


def test_tied_head_shares_the_embedding():
    m = model(tie_embeddings=True)
    assert m.head.weight is m.tok_emb.weight
    assert model(tie_embeddings=False).head.weight is not model().tok_emb.weight


@pytest.mark.parametrize("n_kv_head,batch", [(4, 1), (2, 2), (1, 3)])
def test_cached_decode_equals_full_forward(n_kv_head, batch):
    m = model(n_kv_head=n_kv_head)
    x = torch.randint(0, 37, (batch, 20))
    full, _ = m(x)
    caches = m.new_caches(batch)
    parts = [m(x[:, :6], caches=caches)[0], m(x[:, 6:9], caches=caches)[0]]  # prefill, chunk
    parts += [m(x[:, t : t + 1], caches=caches)[0] for t in range(9, 20)]  # one token a step
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)
    assert caches[0].length == 20


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(2, 3), "int64"),
    (torch.zeros(3, dtype=torch.long), "shape"),
    (torch.tensor([[0, 37]]), r"\[0, 37\)"),
    (torch.tensor([[-1, 2]]), r"\[0, 37\)"),
    (torch.zeros(1, 25, dtype=torch.long), "max_seq_len"),
    (torch.zeros(1, 0, dtype=torch.long), "at least one token"),
])
def test_forward_rejects_bad_ids(bad, match):
    with pytest.raises(ValueError, match=match):
        model()(bad)


def test_forward_rejects_mismatched_targets_and_non_config():
    with pytest.raises(ValueError, match="targets"):
        model()(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="ModelConfig"):
        SLM({"vocab_size": 3})


def test_dropout_only_in_training():
    m = model(dropout=0.5)
    x = torch.randint(0, 37, (2, 8))
    assert torch.equal(m(x)[0], m(x)[0])  # eval: deterministic
    m.train()
    assert not torch.equal(m(x)[0], m(x)[0])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_copy_keeps_rope_exact_and_logits_close(dtype):
    m = model(n_kv_head=2)
    x = torch.randint(0, 37, (2, 12))
    ref = m(x)[0]
    low = model(n_kv_head=2).to(dtype)
    assert low.rope.rot.dtype == torch.complex64  # the rotation table is never rounded
    got = low(x)[0].float()
    assert (got - ref).abs().max() < 0.05
    caches = low.new_caches(2)
    assert caches[0].k.dtype == dtype


def test_rmsnorm_backward_matches_autograd_in_float64():
    """The hand-written RMSNorm backward (training) against autograd through torch's op."""
    from slmlab.model.norm import RMSNorm, _RMSNormFunction

    torch.manual_seed(0)
    x = torch.randn(3, 5, 16, dtype=torch.float64, requires_grad=True)
    w = torch.rand(16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: _RMSNormFunction.apply(a, b, 1e-5), (x, w))
    norm = RMSNorm(16).double()
    with torch.no_grad():
        norm.weight.copy_(w)
    gy = torch.randn(3, 5, 16, dtype=torch.float64)
    y = norm(x)
    y.backward(gy)
    ref_x = x.detach().clone().requires_grad_()
    ref_w = w.detach().clone().requires_grad_()
    ref = torch.nn.functional.rms_norm(ref_x, (16,), ref_w, 1e-5)
    ref.backward(gy)
    torch.testing.assert_close(y, ref)
    torch.testing.assert_close(x.grad, ref_x.grad)
    torch.testing.assert_close(norm.weight.grad, ref_w.grad)
