"""Block-sparse attention: local blocks plus a few global tokens.

Glossary (code name -> idea in Sparse Transformer, Child et al. 2019; Longformer / BigBird's
"global tokens", Beltagy et al. 2020, Zaheer et al. 2020):
    block_size  b: the sequence is cut into blocks of b positions
    n_global    G: the first G positions, which every later position may see

Query i (in block i // b) sees key j <= i when j is in the same block or the previous one
("local"), or j < G ("global"). That is at most 2b + G keys per query whatever the length:
T·(2b + G) work instead of T². The global tokens give every position a direct line to the start
of the sequence (for the fault reports: the first readings), which a pure window loses.

Training computes it blockwise: each block of b queries is one SDPA call against
[G global keys, previous block, own block], with a mask that removes keys a query may not see
(and globals that are already in its local blocks, so no key counts twice). Decoding keeps an
ordinary KV cache and gathers the keys the new token may see: time per token stays flat, memory
still grows (the design choice to keep any position reachable as a future global or local key).
"""

from __future__ import annotations

import torch

from .attention import CausalSelfAttention
from .config import ModelConfig


class BlockSparseAttention(CausalSelfAttention):
    """Causal attention over the own and previous block plus the first ``n_global`` tokens."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.block_size, self.n_global = config.block_size, config.n_global

    def attend(self, q, k, v, cache, start: int) -> torch.Tensor:
        T = q.shape[2]
        if cache is None:
            return self.attend_blockwise(q, k, v, self.block_size, self.n_global)
        k, v = cache.append(k, v)  # (B, Hkv, start + T, d): every key so far
        if T == 1:  # decode: gather the globals before the local range, then the local range
            g, lo = _decode_keys(start, self.config)
            keys = torch.cat([k[:, :, :g], k[:, :, lo:start + 1]], dim=2)
            values = torch.cat([v[:, :, :g], v[:, :, lo:start + 1]], dim=2)
            return self.sdpa(q, keys, values)
        q_pos = torch.arange(start, start + T, device=q.device)
        k_pos = torch.arange(start + T, device=q.device)
        return self.sdpa(q, k, v, mask=self.allowed(self.config, q_pos, k_pos))

    # -- the pattern and the cost ---------------------------------------------------------------
    @staticmethod
    def pattern(config: ModelConfig, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """Causal, and in the own or previous block, or one of the first n_global tokens
        (elementwise on broadcasting position tensors)."""
        local = k_pos // config.block_size >= q_pos // config.block_size - 1
        return (k_pos <= q_pos) & (local | (k_pos < config.n_global))

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        """As computed: ceil(T / b) blocks of b queries against G + 2b keys; causal_skip counts
        only the pairs the pattern keeps."""
        T, b = seq_len, config.block_size
        if causal_skip:  # query i sees g globals and positions lo .. i
            pairs = 0
            for i in range(T):
                g, lo = _decode_keys(i, config)
                pairs += g + i + 1 - lo
        else:
            pairs = -(-T // b) * b * (min(config.n_global, T) + 2 * b)
        return 4 * config.n_head * config.head_dim * pairs

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        i = context_len - 1  # the new token's position
        g, lo = _decode_keys(i, config)
        return 4 * config.n_head * config.head_dim * (g + i + 1 - lo)


def _decode_keys(i: int, config: ModelConfig) -> tuple[int, int]:
    """What the query at position i reads: (the globals before its local range, the first
    local position lo); it sees keys 0 .. g-1 and lo .. i."""
    lo = max(0, (i // config.block_size - 1) * config.block_size)
    return min(config.n_global, lo), lo
