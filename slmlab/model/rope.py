"""Rotary position embedding, RoPE (Su et al. 2021, "RoFormer").

Glossary (code name -> paper symbol):
    pos      m, the token's position
    theta    θ_i = base^(-2i/d), one frequency per pair of features, i = 0 .. d/2 - 1
    rot      e^{i·m·θ_i}, the unit complex number that rotates pair i at position m

Each query/key vector is read as d/2 complex numbers (x_{2i} + i·x_{2i+1}); RoPE multiplies
number i by e^{i·m·θ_i}, a rotation by angle m·θ_i. The dot product of a query at m and a key at
n then depends only on m - n: attention sees relative positions, and no position is stored in
the residual stream.

Training on an x86-64 Linux CPU in float32 rotates q and k in place (``rotate_in_place``),
with a backward written by hand: one C++ loop each way (``rope_kernel.cpp``, built once at
first use; see ``_RotateInPlace``).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import nn

from . import native

_KERNEL = Path(__file__).with_name("rope_kernel.cpp")
_P, _N = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES = {"rope_rotate": (None, (_P, _P, _P, _N, _N, _N, _N, _N, ctypes.c_float))}
_kernel = native.Kernel(_KERNEL, _SIGNATURES)


class RotaryEmbedding(nn.Module):
    """Precomputed rotations for positions 0 .. max_seq_len - 1.

    Args:
        head_dim: d, the per-head feature size (even).
        max_seq_len: number of positions to precompute.
        base: the RoPE base (10000 in the paper).
    """

    def __init__(self, head_dim: int, max_seq_len: int, base: float = 10000.0):
        super().__init__()
        theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # (d/2,)
        pos = torch.arange(max_seq_len, dtype=torch.float64)
        angles = torch.outer(pos, theta)  # (max_seq_len, d/2): m·θ_i
        # A plain attribute, not a buffer: model.half() / .to(torch.bfloat16) must not round
        # (or, for a complex tensor, drop the imaginary part of) the rotation table, and it is
        # rebuilt from the config, never stored in a checkpoint. forward() moves it to x's device.
        self.rot = torch.polar(torch.ones_like(angles), angles).to(torch.complex64)
        self.cos, self.sin = self.rot.real.contiguous(), self.rot.imag.contiguous()  # compile, C++

    def tables_to(self, device) -> None:
        """Move the tables to ``device`` (plain attributes: module.to() does not move them)."""
        if self.rot.device != device:
            self.rot, self.cos, self.sin = (t.to(device) for t in (self.rot, self.cos, self.sin))

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Rotate ``x`` (B, T, n_heads, d) whose first token sits at position ``start``."""
        B, T, nh, d = x.shape
        self.tables_to(x.device)
        if torch.compiler.is_compiling():
            # Inductor generates no code for complex numbers: same rotation on real pairs.
            return rotate_pairs(x, self.cos[start : start + T].view(1, T, 1, d // 2),
                                self.sin[start : start + T].view(1, T, 1, d // 2))
        rot = self.rot[start : start + T].view(1, T, 1, d // 2)
        # bfloat16 / float16 rotate in float32; float64 stays float64
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        pairs = torch.view_as_complex(xf.reshape(B, T, nh, d // 2, 2))  # (B, T, nh, d/2)
        out = torch.view_as_real(pairs * rot).reshape(B, T, nh, d)
        return out if out.dtype == x.dtype else out.to(x.dtype)

    def rotate_qk(self, qkv: torch.Tensor, n_q: int, n_kv: int, start: int = 0):
        """Split attention's packed projections into heads and rotate the queries and keys.

        Args:
            qkv: (B, T, (n_q + 2·n_kv)·d), the output of the one [W_Q; W_K; W_V] product:
                per token n_q query heads, then n_kv key heads, then n_kv value heads.
            n_q, n_kv: query and key/value heads. start: the position of the first token.

        Returns:
            q (B, T, n_q, d), k (B, T, n_kv, d) rotated; v (B, T, n_kv, d) as it was. When
            training on a CPU in float32, q and k are views of ``qkv``, rotated in place.
        """
        B, T, _ = qkv.shape
        d = 2 * self.cos.shape[1]
        if self.rotates_in_place(qkv):
            qkv = self.rotate_in_place(qkv, n_q + n_kv, start)
            return qkv.view(B, T, -1, d).split([n_q, n_kv, n_kv], dim=2)
        qk, v = qkv.view(B, T, -1, d).split([n_q + n_kv, n_kv], dim=2)
        q, k = self(qk, start).split([n_q, n_kv], dim=2)  # both rotated in one call
        return q, k, v

    @staticmethod
    def rotates_in_place(qkv: torch.Tensor) -> bool:
        """Whether :meth:`rotate_in_place` may take ``qkv``: training (grad enabled) on the
        output of a product (not a leaf the caller still holds), contiguous, and
        rope_kernel.cpp applies (float32 on a CPU, built)."""
        return (torch.is_grad_enabled() and qkv.grad_fn is not None and qkv.is_contiguous()
                and _kernel(qkv) is not None)

    def rotate_in_place(self, qkv: torch.Tensor, n_rot: int, start: int = 0) -> torch.Tensor:
        """Rotate the first ``n_rot`` heads (queries, then keys) of every token of ``qkv``
        (B, T, heads·d) in place, for the tokens at positions start .. start + T - 1; returns
        qkv, whose backward turns the gradient back in place. Only where
        :meth:`rotates_in_place`."""
        T = qkv.shape[1]
        self.tables_to(qkv.device)
        positions = slice(start, start + T)
        return _RotateInPlace.apply(qkv, self.cos[positions], self.sin[positions], n_rot)


def rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE in real arithmetic: each pair (x0, x1) -> (x0·cos − x1·sin, x0·sin + x1·cos).

    The same numbers as the complex product, in more (elementwise) ops: slower eagerly, but
    what the compilers can fuse. Written as one expression over the interleaved pairs, with
    the swapped pair times ∓sin, so inductor generates one loop (a stack of the two halves
    took three). x (..., d); cos, sin broadcast against (..., d/2).
    """
    pairs = x.float().unflatten(-1, (-1, 2))  # (..., d/2, 2)
    sign = torch.arange(2, device=x.device) * 2 - 1  # -1 for the first of a pair, +1 second
    out = pairs * cos[..., None] + pairs.flip(-1) * (sin[..., None] * sign)
    return out.flatten(-2).to(x.dtype)


class _RotateInPlace(torch.autograd.Function):
    """rotate_in_place with rope_kernel.cpp: q and k turned in place in the product's
    output, their gradients turned back in place. Autograd through the torch ops would write
    new tensors both ways and concatenate the q, k, v gradients twice. Time RoPE adds to a
    layer (fwd + bwd, over the same layer without RoPE) at the bench's shapes (a) / (b):
    ~270 / 1,150 µs that way, ~180 / 800 µs in place."""

    @staticmethod
    def forward(ctx, qkv, cos, sin, n_rot: int):
        B, T, width = qkv.shape
        d = 2 * cos.shape[1]
        ctx.mark_dirty(qkv)  # the product's output: its backward does not read it
        ctx.save_for_backward(cos, sin)
        ctx.n_rot = n_rot
        _kernel().rope_rotate(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(), B, T, n_rot,
                              width // d, d, 1.0)
        return qkv

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        # dL/dqkv, read by nothing else (the concatenation of the split views rotate_qk hands
        # out, or the attention kernel's fresh gradient): turned back in place.
        grad = grad.contiguous()
        B, T, width = grad.shape
        d = 2 * cos.shape[1]
        _kernel().rope_rotate(grad.data_ptr(), cos.data_ptr(), sin.data_ptr(), B, T, ctx.n_rot,
                              width // d, d, -1.0)
        return grad, None, None, None
