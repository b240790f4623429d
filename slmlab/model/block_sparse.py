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
import torch.nn.functional as F

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
            return self._blocked(q, k, v)
        k, v = cache.append(k, v)  # (B, Hkv, start + T, d): every key so far
        if T == 1:  # decode: gather the globals before the local range, then the local range
            i, b = start, self.block_size
            lo = max(0, (i // b - 1) * b)
            g = min(self.n_global, lo)
            keys = torch.cat([k[:, :, :g], k[:, :, lo:i + 1]], dim=2)
            values = torch.cat([v[:, :, :g], v[:, :, lo:i + 1]], dim=2)
            return self.sdpa(q, keys, values)
        q_pos = torch.arange(start, start + T, device=q.device)
        k_pos = torch.arange(start + T, device=q.device)
        return self.sdpa(q, k, v, mask=self.allowed_by(self.block_size, self.n_global,
                                                       q_pos, k_pos))

    def _blocked(self, q, k, v) -> torch.Tensor:
        B, H, T, d = q.shape
        b = self.block_size
        nb = -(-T // b)
        pad = nb * b - T
        g = min(self.n_global, T)
        q = F.pad(q, (0, 0, 0, pad)).view(B, H, nb, b, d)
        kb = F.pad(k, (0, 0, b, pad)).unflatten(2, (nb + 1, b))  # block -1 is padding
        vb = F.pad(v, (0, 0, b, pad)).unflatten(2, (nb + 1, b))
        Hkv = k.shape[1]
        k_glob = k[:, :, None, :g].expand(B, Hkv, nb, g, d)  # the same G keys for every block
        v_glob = v[:, :, None, :g].expand(B, Hkv, nb, g, d)
        keys = torch.cat([k_glob, kb[:, :, :-1], kb[:, :, 1:]], dim=3)  # (B, Hkv, nb, G+2b, d)
        values = torch.cat([v_glob, vb[:, :, :-1], vb[:, :, 1:]], dim=3)
        # Positions: query r of block n is n·b + r; the keys are [0 .. g-1] then (n-1)b .. (n+1)b-1.
        blk = torch.arange(nb, device=q.device)[:, None, None]
        q_pos = blk * b + torch.arange(b, device=q.device)[None, :, None]  # (nb, b, 1)
        local = (blk - 1) * b + torch.arange(2 * b, device=q.device)[None, None, :]
        glob = torch.arange(g, device=q.device)[None, None, :]
        mask = torch.cat([
            (glob < (blk - 1) * b).expand(nb, b, g),  # a global only if before the local blocks
            (local >= 0) & (local <= q_pos),  # (nb, b, 2b)
        ], dim=2)
        y = self.sdpa(
            q.transpose(1, 2).flatten(0, 1),  # (B·nb, H, b, d)
            keys.transpose(1, 2).flatten(0, 1),  # (B·nb, Hkv, G+2b, d)
            values.transpose(1, 2).flatten(0, 1),
            mask=mask[:, None].repeat(B, 1, 1, 1),  # (B·nb, 1, b, G+2b)
        )
        return y.view(B, nb, H, b, d).transpose(1, 2).reshape(B, H, nb * b, d)[:, :, :T]

    # -- the pattern and the cost ---------------------------------------------------------------
    @staticmethod
    def allowed_by(block_size: int, n_global: int, q_pos: torch.Tensor,
                   k_pos: torch.Tensor) -> torch.Tensor:
        """(Tq, Tk) bool: key is causal and (in the own or previous block, or global)."""
        qb, kb = q_pos[:, None] // block_size, k_pos[None, :] // block_size
        causal = k_pos[None, :] <= q_pos[:, None]
        return causal & ((kb >= qb - 1) | (k_pos[None, :] < n_global))

    @staticmethod
    def allowed(config: ModelConfig, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        return BlockSparseAttention.allowed_by(config.block_size, config.n_global, q_pos, k_pos)

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        """As computed: ceil(T / b) blocks of b queries against G + 2b keys; causal_skip counts
        only the pairs the pattern keeps."""
        T, b = seq_len, config.block_size
        if causal_skip:
            pos = torch.arange(T)
            pairs = int(BlockSparseAttention.allowed(config, pos, pos).sum())
        else:
            pairs = -(-T // b) * b * (min(config.n_global, T) + 2 * b)
        return 4 * config.n_head * config.head_dim * pairs

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        i, b = context_len - 1, config.block_size  # the new token's position
        lo = max(0, (i // b - 1) * b)
        return 4 * config.n_head * config.head_dim * (min(config.n_global, lo) + i + 1 - lo)
