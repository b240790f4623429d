"""RoPE's C++ training kernel (float32, CPU) against float64 autograd through the complex
product, for the gradient layouts attention hands back, and the torch path that replaces it."""

import pytest
import torch

from slmlab.model import native
from slmlab.model.rope import _KERNEL, RotaryEmbedding, _kernel

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernels are built on x86-64 Linux only")


def reference(rope, qkv, n_q, n_kv, start, grads):
    """q, k, v and dL/dqkv in float64 through torch's complex product and autograd."""
    x = qkv.detach().double().requires_grad_()
    qk, v = x.split([n_q + n_kv, n_kv], dim=2)
    q, k = rope(qk, start).split([n_q, n_kv], dim=2)
    torch.autograd.backward([q, k, v], [g.double() for g in grads])
    return (q, k, v), x.grad


# (2, 5, 2, 1, 4): one thread, d/2 = 2 pairs; (12, 64, 4, 4, 32): the bench's shape (a);
# (3, 40, 6, 2, 64): GQA, rows split between threads.
@pytest.mark.parametrize("B, T, n_q, n_kv, d", [(2, 5, 2, 1, 4), (12, 64, 4, 4, 32),
                                                (3, 40, 6, 2, 64)])
@pytest.mark.parametrize("layout", ["contiguous", "heads_first"])
def test_kernel_matches_float64_autograd(B, T, n_q, n_kv, d, layout):
    assert _kernel() is not None, native.error(_KERNEL)  # the kernel, not the fallback
    torch.manual_seed(0)
    rope, start = RotaryEmbedding(d, T + 7), 7
    qkv = torch.randn(B, T, n_q + 2 * n_kv, d, requires_grad=True)
    q, k, v = rope.rotate_qk(qkv, n_q, n_kv, start)
    grads = [torch.randn(B, t.shape[2], T, d).transpose(1, 2) if layout == "heads_first"
             else torch.randn_like(t) for t in (q, k, v)]  # SDPA's are heads-first
    torch.autograd.backward([q, k, v], grads)
    want, want_grad = reference(rope, qkv, n_q, n_kv, start, grads)
    for got, expected in zip((q, k, v), want):
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(qkv.grad.double(), want_grad, rtol=1e-5, atol=1e-6)


def test_a_missing_gradient_counts_as_zero():
    """Only q used: the gradients of k and v are None, their part of dL/dqkv zero."""
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 16)
    qkv = torch.randn(2, 6, 4, 8, requires_grad=True)
    q, _, _ = rope.rotate_qk(qkv, 2, 1)
    gq = torch.randn_like(q)
    q.backward(gq)
    want = reference(rope, qkv, 2, 1, 0, [gq, torch.zeros(2, 6, 1, 8), torch.zeros(2, 6, 1, 8)])
    torch.testing.assert_close(qkv.grad.double(), want[1], rtol=1e-5, atol=1e-6)
    assert not qkv.grad[:, :, 2:].any()


def test_without_the_kernel_the_torch_ops_give_the_same_numbers(monkeypatch):
    def broken(source):
        raise RuntimeError("g++ could not build rope_kernel.cpp: no compiler")

    torch.manual_seed(0)
    rope = RotaryEmbedding(16, 12)
    qkv = torch.randn(3, 12, 8, 16, requires_grad=True)
    grads = [torch.randn(3, 12, h, 16) for h in (4, 2, 2)]
    kernel_out = rope.rotate_qk(qkv, 4, 2)
    torch.autograd.backward(kernel_out, grads)
    kernel_grad = qkv.grad.clone()
    monkeypatch.setattr(native, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(native, "build", broken)
    qkv.grad = None
    out = rope.rotate_qk(qkv, 4, 2)
    torch.autograd.backward(out, grads)
    assert "no compiler" in native.error(_KERNEL)
    for got, want in zip(out, kernel_out):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(qkv.grad, kernel_grad, rtol=1e-6, atol=1e-6)
