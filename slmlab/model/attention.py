"""Causal self-attention with grouped-query attention (GQA) and a preallocated KV cache.

Glossary (code name -> symbol in "Attention Is All You Need" / the GQA paper, Ainslie et al. 2023):
    q, k, v      Q, K, V: queries, keys, values, one row per token and head
    n_head       H, query heads
    n_kv_head    H_kv, key/value heads; each K/V head serves H / H_kv query heads (a "group")
    head_dim     d_k = C / H

    Attention(Q, K, V) = softmax(Q Kᵀ / sqrt(d_k) + causal mask) V

GQA shrinks the K/V projections and, more important at the edge, the KV cache by H / H_kv,
at little cost in quality. The math runs in torch's ``scaled_dot_product_attention``, which
fuses the softmax and never stores the (T, T) score matrix. Training on an x86-64 Linux CPU in
float32 runs the same math in ``attention_kernel.cpp`` instead (see ``_CausalAttention``):
~40% less time in attention's forward and backward at the bench's shape (b).
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from . import native
from .config import ModelConfig
from .rope import RotaryEmbedding

_KERNEL = Path(__file__).with_name("attention_kernel.cpp")
_P, _N, _F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
_SIGNATURES = {
    "causal_attention_forward": (ctypes.c_int, (_P, _P, _P, _N, _N, _N, _N, _N, _F)),
    "causal_attention_backward": (ctypes.c_int, (_P, _P, _P, _P, _P, _N, _N, _N, _N, _N, _F)),
}
_kernel = native.Kernel(_KERNEL, _SIGNATURES)


class KVCache:
    """Keys and values of the tokens seen so far, in buffers allocated once.

    Decoding appends one token per step; a preallocated buffer makes that a copy into a slice
    instead of a ``torch.cat`` that would reallocate the whole cache every step.

    Args:
        batch: B. n_kv_head: H_kv. max_len: capacity in tokens. head_dim: d_k.
    """

    def __init__(self, batch: int, n_kv_head: int, max_len: int, head_dim: int, *,
                 device=None, dtype=torch.float32):
        shape = (batch, n_kv_head, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # tokens stored

    @classmethod
    def on(cls, k: torch.Tensor, v: torch.Tensor) -> KVCache:
        """An empty cache over existing buffers k, v (B, H_kv, capacity, d_k), e.g. slices of
        one buffer that holds every layer (see compiled_decode.py)."""
        cache = cls.__new__(cls)
        cache.k, cache.v, cache.length = k, v, 0
        return cache

    @property
    def capacity(self) -> int:
        return self.k.shape[2]

    def nbytes(self) -> int:
        """Memory held by the cache (both buffers, full capacity)."""
        return self.k.numel() * self.k.element_size() * 2

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, H_kv, T, d_k); return all keys and values so far (B, H_kv, L, d_k)."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.capacity:
            raise ValueError(f"KV cache full: {end} tokens > capacity {self.capacity}")
        self.k.narrow(2, start, end - start).copy_(k)
        self.v.narrow(2, start, end - start).copy_(v)
        self.length = end
        return self.k.narrow(2, 0, end), self.v.narrow(2, 0, end)


def projections(config: ModelConfig) -> tuple[nn.Linear, nn.Linear]:
    """[W_Q; W_K; W_V] as one (C -> (H + 2·H_kv)·d) matrix, one matmul, and W_O (H·d -> C)."""
    qkv_out = (config.n_head + 2 * config.n_kv_head) * config.head_dim
    return (nn.Linear(config.d_model, qkv_out, bias=False),
            nn.Linear(config.n_head * config.head_dim, config.d_model, bias=False))


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with GQA and RoPE. Args: config: the model's config.

    The variants in sliding_window.py and block_sparse.py reuse the projections and RoPE and
    replace only :meth:`attend` (which keys each query sees) and :meth:`new_cache`.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_dim = config.head_dim
        self.qkv, self.out = projections(config)
        self.dropout = config.dropout

    def new_cache(self, batch: int, max_len: int, *, device=None, dtype=torch.float32) -> KVCache:
        return KVCache(batch, self.n_kv_head, max_len, self.head_dim, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor, rope: RotaryEmbedding, cache=None) -> torch.Tensor:
        """x: (B, T, C) -> (B, T, C). With a cache, x holds the T tokens after the cached ones."""
        B, T, _ = x.shape
        H, Hkv, d = self.n_head, self.n_kv_head, self.head_dim
        start = cache.length if cache is not None else 0
        qkv = self.qkv(x)  # (B, T, (H + 2·Hkv)·d)
        if cache is None and self._kernel_attends(qkv, rope):
            qkv = rope.rotate_in_place(qkv, H + Hkv)
            return self.out(_CausalAttention.apply(qkv, H, Hkv, d))  # W_O of (B, T, H·d)
        q, k, v = rope.rotate_qk(qkv, H, Hkv, start)  # (B, T, H, d), 2 × (B, T, Hkv, d)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, d)
        y = self.attend(q, k, v, cache, start)  # (B, H, T, d)
        return self.out(y.transpose(1, 2).reshape(B, T, H * d))

    def _kernel_attends(self, qkv: torch.Tensor, rope: RotaryEmbedding) -> bool:
        """Whether this training step runs attention_kernel.cpp: plain causal attention (a
        subclass that replaces :meth:`attend` keeps its own), no dropout, q and k rotated in
        place (``rope.rotates_in_place``), float32 on a CPU (``native.load_for``)."""
        return (type(self).attend is CausalSelfAttention.attend
                and not (self.training and self.dropout > 0)
                and rope.rotates_in_place(qkv) and _kernel(qkv) is not None)

    def attend(self, q, k, v, cache, start: int) -> torch.Tensor:
        """softmax(q kᵀ / sqrt(d) + mask) v over every earlier position. q (B, H, T, d) for
        positions start .. start + T - 1; k, v (B, Hkv, T, d) for the same positions."""
        T = q.shape[2]
        if cache is not None:
            k, v = cache.append(k, v)  # (B, Hkv, start + T, d)
        return self.sdpa(q, k, v, mask=_causal_mask(T, start, q.device),
                         is_causal=(start == 0 and T > 1))

    def sdpa(self, q, k, v, mask=None, is_causal=False) -> torch.Tensor:
        """torch's fused attention, with GQA (each K/V head serves H / Hkv query heads)."""
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0,
            enable_gqa=self.n_kv_head != self.n_head,
        )

    def attend_blockwise(self, q, k, v, block: int, n_global: int = 0) -> torch.Tensor:
        """Attention computed block by block, for patterns that only reach back one block.

        The T queries are cut into blocks of ``block`` positions; each block is one SDPA call
        against the keys of the previous and its own block (plus, with ``n_global``, the first
        n_global keys of the sequence), masked by :meth:`pattern`. T·2b work instead of T².

        Args:
            q: (B, H, T, d). k, v: (B, Hkv, T, d). block: b. n_global: G.

        Returns:
            (B, H, T, d).
        """
        B, H, T, d = q.shape
        b, nb = block, -(-T // block)  # blocks, the last one padded
        pad = nb * b - T
        q = F.pad(q, (0, 0, 0, pad)).unflatten(2, (nb, b))  # (B, H, nb, b, d)
        keys, values = (_previous_and_own(t, b, nb, pad) for t in (k, v))  # (B, Hkv, nb, 2b, d)
        n = torch.arange(nb, device=q.device)[:, None]
        q_pos = n * b + torch.arange(b, device=q.device)  # (nb, b)
        k_pos = (n - 1) * b + torch.arange(2 * b, device=q.device)  # (nb, 2b); block -1 < 0
        mask = (k_pos[:, None, :] >= 0) & self.pattern(self.config, q_pos[:, :, None],
                                                      k_pos[:, None, :])  # (nb, b, 2b)
        if n_global:
            g = min(n_global, T)
            keys = torch.cat([k[:, :, None, :g].expand(-1, -1, nb, -1, -1), keys], dim=3)
            values = torch.cat([v[:, :, None, :g].expand(-1, -1, nb, -1, -1), values], dim=3)
            # A global key counts only where it is not already one of the block's local keys.
            first_local = (n - 1) * b  # (nb, 1)
            glob = torch.arange(g, device=q.device) < first_local  # (nb, g)
            mask = torch.cat([glob[:, None, :].expand(nb, b, g), mask], dim=2)
        y = self.sdpa(
            q.transpose(1, 2).flatten(0, 1),  # (B·nb, H, b, d)
            keys.transpose(1, 2).flatten(0, 1),  # (B·nb, Hkv, K, d)
            values.transpose(1, 2).flatten(0, 1),
            mask=mask[:, None].repeat(B, 1, 1, 1),  # (B·nb, 1, b, K)
        )
        return y.unflatten(0, (B, nb)).transpose(1, 2).reshape(B, H, nb * b, d)[:, :, :T]

    # -- the pattern and the cost, for the labs and flops.py ------------------------------------
    @staticmethod
    def pattern(config: ModelConfig, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """May a query at ``q_pos`` see a key at ``k_pos``? Elementwise on broadcasting
        position tensors; here: every earlier position (causal)."""
        return k_pos <= q_pos

    @classmethod
    def allowed(cls, config: ModelConfig, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """(Tq, Tk) bool: may query position ``q_pos[i]`` see key position ``k_pos[j]``?"""
        return cls.pattern(config, q_pos[:, None], k_pos[None, :])

    @staticmethod
    def matmul_weights(config: ModelConfig) -> int:
        """Weights one token multiplies with: W_Q, W_K, W_V and W_O."""
        d = config.head_dim
        return config.d_model * (config.n_head + 2 * config.n_kv_head) * d \
            + config.n_head * d * config.d_model

    @classmethod
    def token_flops(cls, config: ModelConfig) -> int:
        """FLOPs per token that do not depend on the context (the projections)."""
        return 2 * cls.matmul_weights(config)

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        """Q·Kᵀ and weights·V over one sequence: the full T × T matrix as SDPA computes it, or
        (causal_skip) only the T·(T+1)/2 pairs the mask keeps."""
        pairs = seq_len * (seq_len + 1) // 2 if causal_skip else seq_len * seq_len
        return 4 * config.n_head * config.head_dim * pairs

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        """Q·Kᵀ and weights·V for one new token that sees ``context_len`` keys (incl. itself)."""
        return 4 * config.n_head * config.head_dim * context_len


class _CausalAttention(torch.autograd.Function):
    """softmax(q kᵀ / sqrt(d) + causal mask) v through attention_kernel.cpp, from the packed
    projections qkv (B, T, (n_q + 2·n_kv)·d), q and k already rotated, to the heads side by
    side, (B, T, n_q·d): the input of W_O with no transpose. The backward returns dL/dqkv in
    qkv's layout, the one the projection's backward and RoPE's want (no concatenation)."""

    @staticmethod
    def forward(ctx, qkv: torch.Tensor, n_q: int, n_kv: int, d: int) -> torch.Tensor:
        B, T, _ = qkv.shape
        y = qkv.new_empty(B, T, n_q * d)
        lse = qkv.new_empty(B, n_q, T)  # log-sum-exp of each query's scores
        done = _kernel().causal_attention_forward(qkv.data_ptr(), y.data_ptr(), lse.data_ptr(),
                                                  B, T, n_q, n_kv, d, 1 / math.sqrt(d))
        _raise_if_failed(done, B, T)
        ctx.save_for_backward(qkv, y, lse)
        ctx.heads = n_q, n_kv, d
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy: torch.Tensor):
        qkv, y, lse = ctx.saved_tensors
        n_q, n_kv, d = ctx.heads
        gy = gy.contiguous()
        B, T, _ = qkv.shape
        dqkv = torch.empty_like(qkv)  # every number written by the kernel
        done = _kernel().causal_attention_backward(qkv.data_ptr(), y.data_ptr(), gy.data_ptr(),
                                                   lse.data_ptr(), dqkv.data_ptr(), B, T, n_q,
                                                   n_kv, d, 1 / math.sqrt(d))
        _raise_if_failed(done, B, T)
        return dqkv, None, None, None


def _raise_if_failed(status: int, B: int, T: int) -> None:
    if status != 0:
        raise MemoryError(f"attention_kernel.cpp could not allocate its per-thread score "
                          f"buffers ({T} keys) for a batch of {B}")


def _previous_and_own(t: torch.Tensor, b: int, nb: int, pad: int) -> torch.Tensor:
    """(B, h, T, d) -> (B, h, nb, 2b, d): for each block, the previous block and its own
    (zeros before the first block and after the last position)."""
    t = F.pad(t, (0, 0, b, pad)).unflatten(2, (nb + 1, b))  # (B, h, nb + 1, b, d)
    return torch.cat([t[:, :, :-1], t[:, :, 1:]], dim=3)


def _causal_mask(T: int, start: int, device) -> torch.Tensor | None:
    """Mask for T new queries after ``start`` cached tokens (None when SDPA needs none).

    Query i (absolute position start + i) may see keys 0 .. start + i. With no cached tokens
    that is SDPA's own ``is_causal``; a single new token sees every key.
    """
    if start == 0 or T == 1:
        return None
    keys = torch.arange(start + T, device=device)
    queries = torch.arange(start, start + T, device=device)
    return keys[None, :] <= queries[:, None]  # (T, start + T), True = may attend
