"""RMSNorm's C++ kernel (float32, CPU) against float64 autograd through torch's own op, and
the torch-op path that replaces it where it cannot be built."""

import pytest
import torch
import torch.nn.functional as F

from slmlab.model import native
from slmlab.model.norm import _KERNEL, RMSNorm

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernels are built on x86-64 Linux only")


def reference(x, weight, gy, eps=1e-5):
    """y, dL/dx, dL/dg in float64 through F.rms_norm's autograd."""
    x64 = x.detach().double().requires_grad_()
    w64 = weight.detach().double().requires_grad_()
    y = F.rms_norm(x64, w64.shape, w64, eps)
    y.backward(gy.double())
    return y, x64.grad, w64.grad


def norm_with_gain(C: int) -> RMSNorm:
    norm = RMSNorm(C)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)  # a gain of ones would hide a misplaced g
    return norm


# (3, 7): one thread and C not a multiple of the vector width; (8, 256, 384): the bench's
# shape (b), rows split between threads; (2, 5, 1000): a long row.
@pytest.mark.parametrize("shape", [(3, 7), (8, 256, 384), (2, 5, 1000)])
def test_kernel_matches_float64_autograd(shape):
    torch.manual_seed(0)
    norm = norm_with_gain(shape[-1])
    x = torch.randn(*shape, requires_grad=True)
    gy = torch.randn(*shape)
    y = norm(x)
    assert type(y.grad_fn).__name__ == "_RMSNormKernelBackward"  # the kernel ran
    y.backward(gy)
    want_y, want_dx, want_dw = reference(x, norm.weight, gy)
    torch.testing.assert_close(y.double(), want_y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad.double(), want_dx, rtol=1e-5, atol=1e-5)
    # dg sums gy·x̂ over every row: float32 sums of 2,048 rows carry ~1e-6 relative error
    torch.testing.assert_close(norm.weight.grad.double(), want_dw, rtol=1e-5, atol=1e-3)


def test_kernel_reads_strided_inputs_and_repeats_itself_exactly():
    torch.manual_seed(0)
    norm = norm_with_gain(16)
    x = torch.randn(16, 40).t().requires_grad_()  # (40, 16), rows not contiguous
    gy = torch.randn(40, 16)
    grads = []
    for _ in range(2):
        norm.weight.grad = None
        norm(x).backward(gy)
        grads.append(norm.weight.grad.clone())
    assert torch.equal(grads[0], grads[1])  # fixed order of the per-thread sums
    want_y, _, want_dw = reference(x, norm.weight, gy)
    torch.testing.assert_close(norm(x).double(), want_y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0].double(), want_dw, rtol=1e-5, atol=1e-4)


def test_kernel_serves_inference_without_a_graph():
    norm = norm_with_gain(24)
    x = torch.randn(4, 24)
    with torch.inference_mode():
        y = norm(x)
    torch.testing.assert_close(y.double(), reference(x, norm.weight, torch.ones(4, 24))[0],
                               rtol=1e-5, atol=1e-5)


def test_without_the_kernel_the_torch_ops_give_the_same_numbers(monkeypatch):
    def broken(source):
        raise RuntimeError("g++ could not build norm_kernel.cpp: no compiler")

    torch.manual_seed(0)
    norm = norm_with_gain(32)
    x = torch.randn(6, 32, requires_grad=True)
    gy = torch.randn(6, 32)
    kernel_y = norm(x)
    kernel_y.backward(gy)
    kernel_dx, kernel_dw = x.grad.clone(), norm.weight.grad.clone()
    monkeypatch.setattr(native, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(native, "build", broken)
    x.grad = norm.weight.grad = None
    y = norm(x)
    assert type(y.grad_fn).__name__ == "_RMSNormFunctionBackward"
    y.backward(gy)
    assert "no compiler" in native.error(_KERNEL)
    torch.testing.assert_close(y, kernel_y)
    torch.testing.assert_close(x.grad, kernel_dx)
    torch.testing.assert_close(norm.weight.grad, kernel_dw)


def test_a_feature_size_that_is_not_the_gains_is_refused():
    with pytest.raises(ValueError, match=r"normalises 8 features, got an input of shape \(2, 7\)"):
        RMSNorm(8)(torch.randn(2, 7))
