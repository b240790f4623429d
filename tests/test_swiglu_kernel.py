"""SwiGLU's C++ activation kernel (float32, CPU) against float64 autograd through torch's own
ops, and the torch-op path that replaces it where it cannot be built."""

import pytest
import torch
import torch.nn.functional as F

from slmlab.model import native
from slmlab.model.mlp import _KERNEL, SwiGLU, _SwiGLUKernel

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernels are built on x86-64 Linux only")


def reference(mlp: SwiGLU, x, gy):
    """y, dL/dx, dL/dW_gate_up, dL/dW_down in float64 through torch's SiLU and product."""
    x64 = x.detach().double().requires_grad_()
    w_gu = mlp.gate_up.weight.detach().double().requires_grad_()
    w_down = mlp.down.weight.detach().double().requires_grad_()
    gate, up = F.linear(x64, w_gu).chunk(2, dim=-1)
    y = F.linear(F.silu(gate) * up, w_down)
    y.backward(gy.double())
    return y, x64.grad, w_gu.grad, w_down.grad


# (3, 16, 7): one thread, d_ff not a multiple of the vector width; (12, 64, 128, 341): the
# bench's shape (a), rows split between threads; (2, 40, 24, 1000): long rows.
@pytest.mark.parametrize("shape", [(3, 16, 7), (12, 64, 128, 341), (2, 40, 24, 1000)])
def test_kernel_matches_float64_autograd(shape, autograd_nodes):
    *lead, C, d_ff = shape
    torch.manual_seed(0)
    mlp = SwiGLU(C, d_ff)
    x = torch.randn(*lead, C, requires_grad=True)
    gy = torch.randn(*lead, C)
    y = mlp(x)
    assert "_SwiGLUKernelBackward" in autograd_nodes(y)  # the kernel ran
    y.backward(gy)
    want_y, want_dx, want_dgu, want_ddown = reference(mlp, x, gy)
    tol = dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(y.double(), want_y, **tol)
    torch.testing.assert_close(x.grad.double(), want_dx, **tol)
    torch.testing.assert_close(mlp.gate_up.weight.grad.double(), want_dgu, **tol)
    torch.testing.assert_close(mlp.down.weight.grad.double(), want_ddown, **tol)


def test_the_activation_holds_far_into_both_tails():
    """g from -100 to 100: e^-g is clamped where it leaves float range (SiLU is then 0 or g
    to float precision), and NaN stays NaN."""
    g = torch.cat([torch.linspace(-100, 100, 2001), torch.tensor([float("nan")])])
    u = torch.linspace(-2, 2, g.numel())
    gate_up = torch.cat([g, u])[None].requires_grad_()  # one row [g | u]
    h = _SwiGLUKernel.apply(gate_up)
    gh = torch.ones_like(h)
    h.backward(gh)
    g64 = torch.cat([g, u]).double()[None].requires_grad_()
    gate, up = g64.chunk(2, dim=-1)
    want = F.silu(gate) * up
    want.backward(gh.double())
    assert torch.isnan(h[0, -1]) and torch.isnan(gate_up.grad[0, g.numel() - 1])
    torch.testing.assert_close(h.double()[:, :-1], want[:, :-1], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(gate_up.grad.double()[:, :-1], g64.grad[:, :-1], rtol=1e-6,
                               atol=1e-6, equal_nan=True)


def test_kernel_serves_inference_without_a_graph():
    torch.manual_seed(0)
    mlp = SwiGLU(24, 40)
    x = torch.randn(4, 24)
    with torch.inference_mode():
        y = mlp(x)
    torch.testing.assert_close(y.double(), reference(mlp, x, torch.ones(4, 24))[0],
                               rtol=1e-5, atol=1e-5)


def test_without_the_kernel_the_torch_ops_give_the_same_numbers(monkeypatch, autograd_nodes):
    def broken(source):
        raise RuntimeError("g++ could not build swiglu_kernel.cpp: no compiler")

    torch.manual_seed(0)
    mlp = SwiGLU(32, 48)
    x = torch.randn(6, 32, requires_grad=True)
    gy = torch.randn(6, 32)
    kernel_y = mlp(x)
    kernel_y.backward(gy)
    grads = [t.grad.clone() for t in (x, mlp.gate_up.weight, mlp.down.weight)]
    monkeypatch.setattr(native, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(native, "build", broken)
    x.grad = mlp.gate_up.weight.grad = mlp.down.weight.grad = None
    y = mlp(x)
    assert "_SwiGLUKernelBackward" not in autograd_nodes(y)
    y.backward(gy)
    assert "no compiler" in native.error(_KERNEL)
    torch.testing.assert_close(y, kernel_y)
    for t, want in zip((x, mlp.gate_up.weight, mlp.down.weight), grads):
        torch.testing.assert_close(t.grad, want)


def test_a_second_backward_through_the_same_forward_is_refused_clearly():
    """The backward writes over the activations it saved: retain_graph cannot be honoured."""
    mlp = SwiGLU(8, 12)
    y = mlp(torch.randn(2, 8, requires_grad=True)).sum()
    y.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="runs once per forward"):
        y.backward()
