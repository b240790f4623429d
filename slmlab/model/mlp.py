"""SwiGLU feed-forward block (Shazeer 2020, "GLU Variants Improve Transformer").

    MLP(x) = W_down · (SiLU(W_gate · x) ⊙ (W_up · x))

The gate decides, per hidden unit, how much of the "up" projection passes. W_gate and W_up are
stored as one (C -> 2·d_ff) matrix: one matmul instead of two. On an x86-64 Linux CPU in
float32 the activation SiLU(g) ⊙ u runs as one C++ loop each way (``swiglu_kernel.cpp``, built
once at first use): one pass over the activations each way instead of torch's two forward
and three backward, ~3% less time per MLP (fwd + bwd) at the bench's training shapes.
Elsewhere (GPUs, float64, no compiler) torch's ops run; inside ``torch.compile`` inductor
fuses them.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import native

_KERNEL = Path(__file__).with_name("swiglu_kernel.cpp")
_P, _N = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {"swiglu_forward": (None, (_P, _P, _N, _N)),
               "swiglu_backward": (None, (_P, _P, _P, _N, _N))}
_kernel = native.Kernel(_KERNEL, _SIGNATURES)


class SwiGLU(nn.Module):
    """Args: d_model: C; d_ff: hidden size."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * d_ff, bias=False)  # [W_gate; W_up]
        self.down = nn.Linear(d_ff, d_model, bias=False)  # W_down

    @classmethod
    def from_config(cls, config) -> SwiGLU:
        return cls(config.d_model, config.d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        if _kernel(x, self.gate_up.weight) is not None:
            gate_up = self.gate_up(x)  # (B, T, 2·d_ff): [x·W_gateᵀ | x·W_upᵀ]
            if torch.is_grad_enabled():
                return self.down(_SwiGLUKernel.apply(gate_up))
            return self.down(_swiglu_forward(gate_up))
        if torch.is_grad_enabled() and not torch.compiler.is_compiling():
            # Training without the kernel (GPUs, float64): two products with the two halves
            # of the matrix. The backward of a chunk would concatenate two (B, T, d_ff)
            # gradients; this way only the small weight gradient is assembled (measured ~10%
            # faster per MLP at the bench's (a) before the kernel).
            w_gate, w_up = self.gate_up.weight.chunk(2, dim=0)
            gate, up = F.linear(x, w_gate), F.linear(x, w_up)
        else:
            gate, up = self.gate_up(x).chunk(2, dim=-1)  # 2 × (B, T, d_ff), one product
        return self.down(self.glu(gate, up))

    @staticmethod
    def glu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        """The gated hidden activation SiLU(x·W_gate) ⊙ (x·W_up), from the two products."""
        return F.silu(gate) * up

    @staticmethod
    def matmul_weights(config, active: bool = True) -> int:
        """W_gate, W_up and W_down: 3 · C · d_ff (all active for every token)."""
        return 3 * config.d_model * config.d_ff


def _swiglu_forward(gate_up: torch.Tensor) -> torch.Tensor:
    """SiLU(g) ⊙ u from gate_up (..., 2·d_ff) = [g | u], through the kernel: (..., d_ff)."""
    gate_up = gate_up.contiguous()  # the kernel walks rows of 2·d_ff numbers
    d_ff = gate_up.shape[-1] // 2
    h = gate_up.new_empty(gate_up.shape[:-1] + (d_ff,))
    _kernel().swiglu_forward(gate_up.data_ptr(), h.data_ptr(), gate_up.numel() // (2 * d_ff),
                             d_ff)
    return h


class _SwiGLUKernel(torch.autograd.Function):
    """SiLU(g) ⊙ u through swiglu_kernel.cpp; the backward returns the gradient of [g | u] as
    one tensor, the layout the product x·[W_gate; W_up]ᵀ wants (no concatenation)."""

    @staticmethod
    def forward(ctx, gate_up: torch.Tensor) -> torch.Tensor:
        gate_up = gate_up.contiguous()
        ctx.save_for_backward(gate_up)
        ctx.spent = False
        return _swiglu_forward(gate_up)

    @staticmethod
    def backward(ctx, gh: torch.Tensor):
        if ctx.spent:
            raise RuntimeError("SwiGLU's C++ backward writes its gradient over the activations "
                               "it saved, so it runs once per forward (no retain_graph=True "
                               "on this path; run the MLP in float64 to backward twice)")
        (gate_up,) = ctx.saved_tensors
        gh = gh.contiguous()
        d_ff = gate_up.shape[-1] // 2
        # Element j of [dg | du] needs only element j of [g | u]: written over gate_up, which
        # nothing else reads (the product that made it keeps its inputs, not its output).
        _kernel().swiglu_backward(gh.data_ptr(), gate_up.data_ptr(), gate_up.data_ptr(),
                                  gate_up.numel() // (2 * d_ff), d_ff)
        ctx.spent = True
        return gate_up
