"""Rotary position embedding, RoPE (Su et al. 2021, "RoFormer").

Glossary (code name -> paper symbol):
    pos      m, the token's position
    theta    θ_i = base^(-2i/d), one frequency per pair of features, i = 0 .. d/2 - 1
    rot      e^{i·m·θ_i}, the unit complex number that rotates pair i at position m

Each query/key vector is read as d/2 complex numbers (x_{2i} + i·x_{2i+1}); RoPE multiplies
number i by e^{i·m·θ_i}, a rotation by angle m·θ_i. The dot product of a query at m and a key at
n then depends only on m - n: attention sees relative positions, and no position is stored in
the residual stream.

Training rotates q and k through ``rotate_qk``, whose backward is written by hand (see
``_RotateQK``); on an x86-64 Linux CPU in float32 both directions run as one C++ loop
(``rope_kernel.cpp``, built once at first use).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import nn

from . import native

_KERNEL = Path(__file__).with_name("rope_kernel.cpp")
_P, _N = ctypes.c_void_p, ctypes.c_int64


class _Grad(ctypes.Structure):
    """rope_kernel.cpp's Grad: one incoming gradient (B, T, heads, d), stride 1 along d."""
    _fields_ = [("data", _P), ("heads", _N), ("stride_b", _N), ("stride_t", _N),
                ("stride_h", _N)]


_SIGNATURES = {"rope_forward": (None, (_P, _P, _P, _P, _N, _N, _N, _N, _N)),
               "rope_backward": (None, (ctypes.POINTER(_Grad), _P, _P, _P, _N, _N, _N))}


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
        """Split packed heads [q | k | v] and rotate q and k.

        Args:
            qkv: (B, T, n_q + 2·n_kv, d), e.g. the output of attention's one [W_Q; W_K; W_V]
                product viewed as heads. n_q, n_kv: query and key/value heads. start: the
                position of the first token.

        Returns:
            q (B, T, n_q, d), k (B, T, n_kv, d) rotated; v (B, T, n_kv, d) as it was.
        """
        T, d = qkv.shape[1], qkv.shape[-1]
        if (torch.is_grad_enabled() and qkv.requires_grad and not torch.compiler.is_compiling()
                and qkv.dtype in (torch.float32, torch.float64)):
            self.tables_to(qkv.device)
            positions = slice(start, start + T)
            return _RotateQK.apply(qkv, self.rot[positions].view(1, T, 1, d // 2),
                                   self.cos[positions], self.sin[positions], n_q, n_kv)
        qk, v = qkv.split([n_q + n_kv, n_kv], dim=2)
        q, k = self(qk, start).split([n_q, n_kv], dim=2)  # both rotated in one call
        return q, k, v


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


def _pairs(x: torch.Tensor) -> torch.Tensor:
    """(..., d) real -> (..., d/2) complex view: feature pairs as complex numbers."""
    return torch.view_as_complex(x.unflatten(-1, (-1, 2)))


class _RotateQK(torch.autograd.Function):
    """rotate_qk for training. With autograd tracing the ops, the gradients of q, k and v
    would be concatenated twice (the two splits) and rotated back in between, three passes;
    here the backward writes the gradient of qkv in one: q's and k's rotated by e^{-i·m·θ}
    (a rotation's inverse), v's copied. Float32 on a CPU: rope_kernel.cpp, else complex
    products. Per layer (fwd + bwd) at the bench's shape (a): 463 µs with autograd's ops,
    220 µs with the products here, ~60 µs with the kernel."""

    @staticmethod
    def forward(ctx, qkv, rot, cos, sin, n_q: int, n_kv: int):
        B, T, _, d = qkv.shape
        ctx.n_q, ctx.n_kv = n_q, n_kv
        ctx.kernel = qkv.dtype == torch.float32 and qkv.device.type == "cpu" \
            and _kernel() is not None
        ctx.save_for_backward(rot, cos, sin)
        if ctx.kernel:
            qkv = qkv.contiguous()
            qk = qkv.new_empty(B, T, n_q + n_kv, d)
            _kernel().rope_forward(qkv.data_ptr(), cos.data_ptr(), sin.data_ptr(),
                                   qk.data_ptr(), B, T, n_q, n_kv, d)
        else:
            qk = torch.view_as_real(_pairs(qkv[:, :, : n_q + n_kv]) * rot).flatten(-2)
        return qk[:, :, :n_q], qk[:, :, n_q:], qkv[:, :, n_q + n_kv :]

    @staticmethod
    def backward(ctx, gq, gk, gv):
        rot, cos, sin = ctx.saved_tensors
        n_q, n_kv = ctx.n_q, ctx.n_kv
        like = next(g for g in (gq, gk, gv) if g is not None)
        B, T, _, d = like.shape
        grads = [like.new_zeros(B, T, heads, d) if grad is None else grad
                 for grad, heads in ((gq, n_q), (gk, n_kv), (gv, n_kv))]
        g = like.new_empty(B, T, n_q + 2 * n_kv, d)  # dL/dqkv
        if ctx.kernel:
            grads = [grad if grad.stride(-1) == 1 else grad.contiguous() for grad in grads]
            parts = (_Grad * 3)(*(_Grad(grad.data_ptr(), grad.shape[2], *grad.stride()[:3])
                                  for grad in grads))
            _kernel().rope_backward(parts, cos.data_ptr(), sin.data_ptr(), g.data_ptr(),
                                    B, T, d)
        else:
            torch.mul(_pairs(grads[0]), rot.conj(), out=_pairs(g[:, :, :n_q]))
            torch.mul(_pairs(grads[1]), rot.conj(), out=_pairs(g[:, :, n_q : n_q + n_kv]))
            g[:, :, n_q + n_kv :].copy_(grads[2])
        return g, None, None, None, None, None


def _kernel() -> ctypes.CDLL | None:
    """rope_kernel.cpp, compiled; None where it cannot be (``native.error`` says why)."""
    return native.load(_KERNEL, _SIGNATURES)
