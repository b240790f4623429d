"""RoPE's C++ training kernel (float32, CPU, in place) against float64 autograd through the
complex product, for the gradient layouts attention hands back, and the torch path that
replaces it where it cannot be built or may not write in place."""

import pytest
import torch

from slmlab.model import native
from slmlab.model.rope import _KERNEL, RotaryEmbedding, _kernel

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernels are built on x86-64 Linux only")


def reference(rope, leaf, n_q, n_kv, start, grads):
    """q, k, v and dL/dqkv in float64 through torch's complex product and autograd."""
    B, T, _ = leaf.shape
    x = leaf.detach().double().requires_grad_()
    qk, v = x.view(B, T, n_q + 2 * n_kv, -1).split([n_q + n_kv, n_kv], dim=2)
    q, k = rope(qk, start).split([n_q, n_kv], dim=2)
    torch.autograd.backward([q, k, v], [g.double() for g in grads])
    return (q, k, v), x.grad


def rotate(rope, B, T, n_q, n_kv, d, start=0):
    """rotate_qk on a product's output (not a leaf, so it may be rotated in place)."""
    leaf = torch.randn(B, T, (n_q + 2 * n_kv) * d, requires_grad=True)
    return leaf, rope.rotate_qk(leaf * 1.0, n_q, n_kv, start)


# (2, 5, 2, 1, 4): one thread, d/2 = 2 pairs; (12, 64, 4, 4, 32): the bench's shape (a);
# (3, 40, 6, 2, 64): GQA, rows split between threads.
@pytest.mark.parametrize("B, T, n_q, n_kv, d", [(2, 5, 2, 1, 4), (12, 64, 4, 4, 32),
                                                (3, 40, 6, 2, 64)])
@pytest.mark.parametrize("layout", ["contiguous", "heads_first"])
def test_kernel_matches_float64_autograd(B, T, n_q, n_kv, d, layout, autograd_nodes):
    assert _kernel() is not None, native.error(_KERNEL)
    torch.manual_seed(0)
    rope, start = RotaryEmbedding(d, T + 7), 7
    leaf, (q, k, v) = rotate(rope, B, T, n_q, n_kv, d, start)
    assert "_RotateInPlaceBackward" in autograd_nodes(q)  # the kernel ran
    grads = [torch.randn(B, t.shape[2], T, d).transpose(1, 2) if layout == "heads_first"
             else torch.randn_like(t) for t in (q, k, v)]  # SDPA's are heads-first
    torch.autograd.backward([q, k, v], grads)
    want, want_grad = reference(rope, leaf, n_q, n_kv, start, grads)
    for got, expected in zip((q, k, v), want):
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(leaf.grad.double(), want_grad, rtol=1e-5, atol=1e-6)


def test_a_missing_gradient_counts_as_zero():
    """Only q used: the gradients of k and v are None, their part of dL/dqkv zero."""
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 16)
    leaf, (q, _, _) = rotate(rope, 2, 6, 2, 1, 8)
    gq = torch.randn_like(q)
    q.backward(gq)
    zeros = torch.zeros(2, 6, 1, 8)
    torch.testing.assert_close(leaf.grad.double(),
                               reference(rope, leaf, 2, 1, 0, [gq, zeros, zeros])[1],
                               rtol=1e-5, atol=1e-6)
    assert not leaf.grad[:, :, 2 * 8 :].any()


def test_a_leaf_is_not_rotated_in_place(autograd_nodes):
    """A tensor the caller made (a leaf) keeps its values: the torch path runs instead."""
    rope = RotaryEmbedding(8, 16)
    leaf = torch.randn(2, 6, 4 * 8, requires_grad=True)
    before = leaf.detach().clone()
    q, k, v = rope.rotate_qk(leaf, 2, 1, 3)
    assert "_RotateInPlaceBackward" not in autograd_nodes(q)
    assert torch.equal(leaf.detach(), before)
    (q.sum() + k.sum() + v.sum()).backward()
    assert leaf.grad is not None


def test_without_the_kernel_the_torch_ops_give_the_same_numbers(monkeypatch, autograd_nodes):
    def broken(source):
        raise RuntimeError("g++ could not build rope_kernel.cpp: no compiler")

    torch.manual_seed(0)
    rope = RotaryEmbedding(16, 12)
    grads = [torch.randn(3, 12, h, 16) for h in (4, 2, 2)]
    leaf, kernel_out = rotate(rope, 3, 12, 4, 2, 16)
    torch.autograd.backward(kernel_out, grads)
    kernel_grad = leaf.grad.clone()
    monkeypatch.setattr(native, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(native, "build", broken)
    leaf.grad = None
    out = rope.rotate_qk(leaf * 1.0, 4, 2)
    assert "_RotateInPlaceBackward" not in autograd_nodes(out[0])
    torch.autograd.backward(out, grads)
    assert "no compiler" in native.error(_KERNEL)
    for got, want in zip(out, kernel_out):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(leaf.grad, kernel_grad, rtol=1e-6, atol=1e-6)
