"""RMSNorm (Zhang & Sennrich 2019): scale each vector to unit root-mean-square, then by a gain.

    r = 1 / sqrt(mean(x²) + eps)      x̂ = x · r      y = x̂ · g

Unlike LayerNorm there is no mean subtraction and no bias: cheaper, and as good in practice
(Llama, Gemma, Qwen all use it).

Training uses a hand-written backward. On a CPU torch's ``rms_norm`` has no fused kernel: it
runs as ~5 ops forward and ~10 backward, each a full pass over the activations. From the
formulas above, with gy the gradient arriving at y (sums over the feature dimension):

    dL/dg = Σ_rows gy ⊙ x̂
    dL/dx = r · (gy ⊙ g − x̂ · mean(gy ⊙ g ⊙ x̂))

which takes 3 passes forward and 5 backward (measured 1.5–1.9× faster per norm, fwd + bwd).
On an x86-64 Linux CPU in float32 the same formulas run as one C++ loop over the rows each way
(``norm_kernel.cpp``, built once at first use): at the bench's training shapes 2.4–4.4× faster
per norm (fwd + bwd) than those torch ops, as fast as torch's fused LayerNorm, and +4–6% on a
whole training step at shape (a). Elsewhere (GPUs, float64, no compiler)
the torch-op version above runs; inside ``torch.compile`` inductor fuses torch's own op.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import native

_KERNEL = Path(__file__).with_name("norm_kernel.cpp")
_P, _N = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {"rms_norm_forward": (None, (_P, _P, _P, _P, _N, _N, ctypes.c_float)),
               "rms_norm_backward": (ctypes.c_int, (_P, _P, _P, _P, _P, _P, _N, _N))}
_kernel = native.Kernel(_KERNEL, _SIGNATURES)


class RMSNorm(nn.Module):
    """Args: dim: feature size C; eps: added under the square root for stability."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # g, the learned gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        if x.shape[-1:] != self.weight.shape:
            raise ValueError(f"RMSNorm normalises {self.weight.shape[0]} features, got an input "
                             f"of shape {tuple(x.shape)}")
        if torch.compiler.is_compiling():  # inductor fuses torch's op into one loop anyway
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        if _kernel(x, self.weight) is not None:
            return _RMSNormKernel.apply(x, self.weight, self.eps)
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        if needs_grad and x.dtype in (torch.float32, torch.float64):
            return _RMSNormFunction.apply(x, self.weight, self.eps)
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


class _RMSNormKernel(torch.autograd.Function):
    """RMSNorm through norm_kernel.cpp: float32 CPU tensors, one pass each way."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        x, weight = x.contiguous(), weight.contiguous()  # the kernel walks rows at stride C
        C = x.shape[-1]
        y, r = torch.empty_like(x), x.new_empty(x.shape[:-1])
        _kernel().rms_norm_forward(x.data_ptr(), weight.data_ptr(), y.data_ptr(),
                                   r.data_ptr(), x.numel() // C, C, eps)
        ctx.save_for_backward(x, weight, r)
        return y

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        x, weight, r = ctx.saved_tensors
        gy = gy.contiguous()
        dx, dweight = torch.empty_like(x), torch.empty_like(weight)
        C = x.shape[-1]
        if _kernel().rms_norm_backward(gy.data_ptr(), x.data_ptr(), weight.data_ptr(),
                                       r.data_ptr(), dx.data_ptr(), dweight.data_ptr(),
                                       x.numel() // C, C) != 0:
            raise MemoryError("RMSNorm's backward could not allocate its per-thread sums")
        return dx, dweight, None


class _RMSNormFunction(torch.autograd.Function):
    """RMSNorm with the backward of the module docstring."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        C = x.shape[-1]
        # r = (‖x‖² / C + eps)^(-1/2): one reading pass, then work on (..., 1) only.
        r = torch.linalg.vector_norm(x, dim=-1, keepdim=True).square_().div_(C).add_(eps)
        r.rsqrt_()
        x_hat = x * r
        ctx.save_for_backward(x_hat, r, weight)
        return x_hat * weight

    @staticmethod
    def backward(ctx, gy: torch.Tensor):
        x_hat, r, weight = ctx.saved_tensors
        gyg = gy * weight  # gy ⊙ g
        mean = torch.linalg.vecdot(gyg, x_hat, dim=-1).unsqueeze(-1).div_(x_hat.shape[-1])
        dx = torch.addcmul(gyg, x_hat, mean, value=-1).mul_(r)
        dweight = (gy * x_hat).flatten(0, -2).sum(0) if ctx.needs_input_grad[1] else None
        return dx, dweight, None
