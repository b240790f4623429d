"""Causal attention's C++ training kernel (float32, CPU) against attention written out in
float64 (softmax of the masked scores, autograd for the gradient), inside the model, and the
paths that keep torch's scaled_dot_product_attention."""

import math

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from slmlab.model import SLM, ModelConfig, forward_flops, native
from slmlab.model import attention as attention_module
from slmlab.model.attention import _KERNEL, _CausalAttention, _kernel

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernels are built on x86-64 Linux only")


def naive_attention(qkv: torch.Tensor, n_q: int, n_kv: int, d: int) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d) + causal mask) v, every score materialised: (B, T, n_q·d)."""
    B, T, _ = qkv.shape
    q, k, v = qkv.view(B, T, -1, d).transpose(1, 2).split([n_q, n_kv, n_kv], dim=1)
    k, v = (t.repeat_interleave(n_q // n_kv, dim=1) for t in (k, v))  # query head h: h // group
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)  # (B, n_q, T, T)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return (weights @ v).transpose(1, 2).reshape(B, T, n_q * d)


# (2, 5, 2, 1, 4): tiny, GQA 2:1; (12, 64, 4, 4, 32): the bench's shape (a), one block of
# queries; (3, 100, 6, 2, 64): GQA 3:1, a second, partial block; (2, 130, 3, 3, 16): three
# blocks; (1, 1, 2, 2, 8): a single token.
@pytest.mark.parametrize("B, T, n_q, n_kv, d", [(2, 5, 2, 1, 4), (12, 64, 4, 4, 32),
                                                (3, 100, 6, 2, 64), (2, 130, 3, 3, 16),
                                                (1, 1, 2, 2, 8)])
def test_kernel_matches_float64_attention(B, T, n_q, n_kv, d, autograd_nodes):
    assert _kernel() is not None, native.error(_KERNEL)
    torch.manual_seed(0)
    leaf = torch.randn(B, T, (n_q + 2 * n_kv) * d, requires_grad=True)
    y = _CausalAttention.apply(leaf * 1.0, n_q, n_kv, d)
    assert "_CausalAttentionBackward" in autograd_nodes(y)
    gy = torch.randn_like(y)
    y.backward(gy)
    reference = leaf.detach().double().requires_grad_()
    want = naive_attention(reference, n_q, n_kv, d)
    want.backward(gy.double())
    torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(leaf.grad.double(), reference.grad, rtol=1e-5, atol=1e-5)


def test_a_retained_graph_runs_the_backward_again():
    torch.manual_seed(0)
    leaf = torch.randn(2, 9, 3 * 2 * 8, requires_grad=True)
    y = _CausalAttention.apply(leaf * 1.0, 2, 2, 8)
    gy = torch.randn_like(y)
    y.backward(gy, retain_graph=True)
    once = leaf.grad.clone()
    y.backward(gy)  # the kernel leaves what it saved as it was
    torch.testing.assert_close(leaf.grad, 2 * once)


def config(**changes) -> ModelConfig:
    return ModelConfig(**{**dict(vocab_size=40, n_layer=2, n_head=6, n_kv_head=2, d_model=96,
                                 max_seq_len=96), **changes})


def test_training_step_runs_the_kernel_and_matches_float64(autograd_nodes):
    torch.manual_seed(0)
    model = SLM(config()).train()
    x, y = torch.randint(0, 40, (2, 2, 90))
    _, loss = model(x, y)
    assert "_CausalAttentionBackward" in autograd_nodes(loss)
    loss.backward()
    wide = SLM(config()).double().train()
    wide.load_state_dict(model.state_dict())
    _, wide_loss = wide(x, y)
    wide_loss.backward()
    torch.testing.assert_close(loss.double(), wide_loss.double(), rtol=1e-6, atol=1e-6)
    for (name, p), q in zip(model.named_parameters(), wide.parameters()):
        torch.testing.assert_close(p.grad.double(), q.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("changes", [dict(dropout=0.1), dict(mixer="sliding_window", window=8),
                                     dict(mixer="block_sparse", block_size=8)])
def test_other_attention_keeps_torch_sdpa(changes, autograd_nodes):
    """Dropout, and the mixers that replace attend(), stay on their own path."""
    model = SLM(config(**changes)).train()
    _, loss = model(*torch.randint(0, 40, (2, 2, 30)))
    assert "_CausalAttentionBackward" not in autograd_nodes(loss)


def test_no_grad_and_caches_keep_torch_sdpa(monkeypatch):
    def refuse(*args):
        raise AssertionError("the training kernel ran")

    monkeypatch.setattr(_CausalAttention, "apply", refuse)
    model = SLM(config()).eval()
    x = torch.randint(0, 40, (1, 20))
    with torch.no_grad():
        model(x)
    model.generate(x, max_new_tokens=3)


def test_a_flop_counter_sees_torch_attention_while_training():
    """Under a dispatch mode (here FlopCounterMode) the C++ kernels step aside, so the
    counter sees attention's matrix products in a training forward."""
    c = config()
    model = SLM(c).train()
    x = torch.randint(0, 40, (2, 50))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    assert counter.get_total_flops() == forward_flops(c, 2, 50)
    assert attention_module._kernel(x.float()) is not None  # and outside it, the kernel is there
