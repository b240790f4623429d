"""Kernelized linear attention (Katharopoulos et al. 2020, "Transformers are RNNs").

Glossary (code name -> paper symbol):
    phi      φ(x) = elu(x) + 1, a positive feature map replacing exp(q·k)
    state    S_i = Σ_{j<=i} φ(k_j) [v_j, 1]ᵀ, a d × (d + 1) matrix per head: the values summed,
             weighted by their keys, plus (last column) the normaliser z_i = Σ_{j<=i} φ(k_j)
    chunk    c: positions processed together in the parallel (training) form

Softmax attention weighs value j by exp(q_i·k_j); linear attention uses φ(q_i)·φ(k_j) instead:

    y_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ / φ(q_i)ᵀ Σ_j φ(k_j) = (φ(q_i)ᵀ S_i)[:d] / (φ(q_i)ᵀ S_i)[d]

The sums do not depend on i except through their upper limit, so decoding carries S (fixed size,
whatever the context) and updates it with one outer product per token: a recurrent network.
Training uses the chunked parallel form: inside a chunk of c positions the masked c × c product
(like attention), across chunks the state S carried from the chunks before — T·c + T·d² work,
linear in T. Appending a column of ones to v makes the normaliser fall out of the same matmuls.

There is no softmax to sharpen the weights and no position encoding (the causal sum is the
only sense of order), so quality on recall-heavy tasks is usually below softmax attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CausalSelfAttention, projections
from .config import ModelConfig

CHUNK = 64  # c: the parallel form's chunk length


class LinearAttentionState:
    """The running sum S (B, H, d, d + 1) and the number of tokens it holds."""

    def __init__(self, batch: int, n_head: int, head_dim: int, *, device=None,
                 dtype=torch.float32):
        self.S = torch.zeros(batch, n_head, head_dim, head_dim + 1, device=device, dtype=dtype)
        self.length = 0

    def nbytes(self) -> int:
        return self.S.numel() * self.S.element_size()


def phi(x: torch.Tensor) -> torch.Tensor:
    """The feature map elu(x) + 1 (> 0, so the normaliser never vanishes)."""
    return F.elu(x) + 1


def chunked_linear_attention(q, k, v1, S0=None, chunk: int = CHUNK):
    """Causal linear attention over a whole sequence, chunk by chunk.

    Args:
        q, k: φ(queries), φ(keys), (B, H, T, d).
        v1: values with a column of ones appended, (B, H, T, d + 1).
        S0: the state before the first position, (B, H, d, d + 1), or None for zeros.

    Returns:
        (out (B, H, T, d + 1): numerators and normaliser of every position, S after the last).
    """
    B, H, T, d = q.shape
    c = min(chunk, T)
    nc = -(-T // c)
    pad = nc * c - T  # zero keys and values add nothing to any sum
    q, k, v1 = (F.pad(t, (0, 0, 0, pad)).unflatten(2, (nc, c)) for t in (q, k, v1))
    # Inside each chunk: (q kᵀ ⊙ causal) [v, 1], as in attention without the softmax.
    scores = (q @ k.transpose(-1, -2)).tril()  # (B, H, nc, c, c)
    out = scores @ v1  # (B, H, nc, c, d + 1)
    if nc > 1 or S0 is not None:
        # Across chunks: each chunk adds kᵀ [v, 1] to the state; a chunk reads the state of all
        # the chunks before it (an exclusive running sum).
        kv = k.transpose(-1, -2) @ v1  # (B, H, nc, d, d + 1)
        S_before = kv.cumsum(dim=2) - kv
        if S0 is not None:
            S_before = S_before + S0[:, :, None]
        out = out + q @ S_before  # (B, H, nc, c, d + 1)
        S_last = S_before[:, :, -1] + kv[:, :, -1]
    else:
        S_last = (k.transpose(-1, -2) @ v1)[:, :, 0]
    return out.flatten(2, 3)[:, :, :T], S_last


def recurrent_step(q, k, v1, S):
    """One token: S <- S + φ(k)ᵀ [v, 1]; read out φ(q) S. q, k (B, H, 1, d); v1 (B, H, 1, d+1)."""
    S = S + k.transpose(-1, -2) @ v1  # outer product, (B, H, d, d + 1)
    return q @ S, S  # (B, H, 1, d + 1)


class LinearAttention(nn.Module):
    """Multi-head linear attention with the same projections as CausalSelfAttention (GQA's K/V
    heads are repeated to H heads, so the state is per query head)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_dim = config.head_dim
        self.qkv, self.out = projections(config)  # the same W_Q, W_K, W_V, W_O as attention

    def new_cache(self, batch: int, max_len: int, *, device=None,
                  dtype=torch.float32) -> LinearAttentionState:
        return LinearAttentionState(batch, self.n_head, self.head_dim, device=device,
                                    dtype=dtype)

    def forward(self, x: torch.Tensor, rope=None, cache=None) -> torch.Tensor:
        """x: (B, T, C) -> (B, T, C); ``rope`` is unused (no positions here)."""
        B, T, _ = x.shape
        H, Hkv, d = self.n_head, self.n_kv_head, self.head_dim
        q, k, v = self.qkv(x).view(B, T, H + 2 * Hkv, d).transpose(1, 2).split(
            [H, Hkv, Hkv], dim=1)  # (B, H, T, d), (B, Hkv, T, d) × 2
        if Hkv != H:
            k, v = (t.repeat_interleave(H // Hkv, dim=1) for t in (k, v))
        q, k = phi(q), phi(k)
        v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)  # (B, H, T, d + 1)
        if cache is not None and T == 1:  # decode: the recurrent form
            out, S = recurrent_step(q, k, v1, cache.S)
        else:
            out, S = chunked_linear_attention(q, k, v1, None if cache is None else cache.S)
        if cache is not None:
            cache.S, cache.length = S, cache.length + T
        y = out[..., :d] / out[..., d:]  # numerator / normaliser, (B, H, T, d)
        return self.out(y.transpose(1, 2).reshape(B, T, H * d))

    # -- the cost -------------------------------------------------------------------------------
    # The same W_Q, W_K, W_V, W_O as softmax attention.
    matmul_weights = CausalSelfAttention.matmul_weights
    token_flops = CausalSelfAttention.token_flops

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        """As computed by :func:`chunked_linear_attention` (causal_skip does not apply: the
        masked half of each chunk's c × c block is computed either way)."""
        d, T = config.head_dim, seq_len
        c = min(CHUNK, T)
        nc = -(-T // c)
        per_chunk = c * c * d + c * c * (d + 1) + c * d * (d + 1)  # q·kᵀ, ·[v,1], kᵀ[v,1]
        if nc > 1:
            per_chunk += c * d * (d + 1)  # q · S_before
        return 2 * config.n_head * nc * per_chunk

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        """The state update and the read-out: 2 · d · (d + 1) MACs per head, whatever the
        context."""
        d = config.head_dim
        return 2 * config.n_head * 2 * d * (d + 1)

