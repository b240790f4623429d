"""Sliding-window attention: each position sees only the last W positions (itself included).

Glossary (code name -> symbol in Longformer, Beltagy et al. 2020, and Mistral 7B, Jiang et al.
2023):
    window   W, the window: query i sees keys max(0, i - W + 1) .. i, i.e. min(i + 1, W) keys
    ring     the rolling KV buffer of W slots; position p lives in slot p mod W

Cost. Full attention does T² query-key products for T tokens and keeps T keys per layer while
decoding. With a window it is T·W products and W keys: training time grows linearly with T and
decode memory stops growing once W tokens are cached. Information from further back still
arrives, but indirectly: layer l can draw on about l·W positions through the layers below.

Training computes the band blockwise: the sequence is cut into blocks of W queries; block b
needs only the keys of blocks b - 1 and b, so each block is one small SDPA call on 2W keys.
"""

from __future__ import annotations

import torch

from .attention import CausalSelfAttention
from .config import ModelConfig


class RingKVCache:
    """Keys and values of the last ``window`` positions, in W preallocated slots.

    Position p is written to slot p mod W, over the key that fell out of the window. Attention
    does not care about the order of its keys (RoPE already put the position into each key), so
    the slots are used as they are, without unrolling the ring.

    Args:
        batch: B. n_kv_head: H_kv. window: W, the number of slots. head_dim: d_k.
    """

    def __init__(self, batch: int, n_kv_head: int, window: int, head_dim: int, *,
                 device=None, dtype=torch.float32):
        shape = (batch, n_kv_head, window, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = torch.full((window,), -1, dtype=torch.long, device=device)  # -1 = empty
        self.length = 0  # tokens seen (may exceed the window)

    @property
    def window(self) -> int:
        return self.k.shape[2]

    def nbytes(self) -> int:
        """Memory held by the cache: fixed, whatever the context length."""
        return self.k.numel() * self.k.element_size() * 2 + self.pos.numel() * 8

    def write(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store k, v (B, H_kv, T, d) for positions length .. length + T - 1 (the last W)."""
        T = k.shape[2]
        keep = min(T, self.window)
        pos = torch.arange(self.length + T - keep, self.length + T, device=self.pos.device)
        slots = pos % self.window
        self.k.index_copy_(2, slots, k[:, :, T - keep:])
        self.v.index_copy_(2, slots, v[:, :, T - keep:])
        self.pos[slots] = pos
        self.length += T


class SlidingWindowAttention(CausalSelfAttention):
    """Causal attention restricted to a window of ``config.window`` positions."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.window = config.window

    def new_cache(self, batch: int, max_len: int, *, device=None,
                  dtype=torch.float32) -> RingKVCache:
        window = min(self.window, max_len)  # never more slots than positions
        return RingKVCache(batch, self.n_kv_head, window, self.head_dim, device=device,
                           dtype=dtype)

    def attend(self, q, k, v, cache, start: int) -> torch.Tensor:
        T, W = q.shape[2], self.window
        if cache is None:
            if T <= W:  # the window covers everything: plain causal attention
                return self.sdpa(q, k, v, is_causal=T > 1)
            return self.attend_blockwise(q, k, v, W)  # blocks of W queries against 2W keys
        if T == 1:
            # Decode: the new key replaces the one that just left the window; then the ring
            # holds exactly the keys this query may see. Until it is full, positions 0 .. n-1
            # sit in slots 0 .. n-1.
            cache.write(k, v)
            n = min(cache.length, cache.window)
            return self.sdpa(q, cache.k[:, :, :n], cache.v[:, :, :n])
        # Several new tokens after cached ones: attend over ring + new keys, then store.
        q_pos = torch.arange(start, start + T, device=q.device)
        k_pos = torch.cat([cache.pos, q_pos])
        mask = self.allowed(self.config, q_pos, k_pos) & (k_pos >= 0)[None, :]
        y = self.sdpa(q, torch.cat([cache.k, k], dim=2), torch.cat([cache.v, v], dim=2),
                      mask=mask)
        cache.write(k, v)
        return y

    # -- the pattern and the cost ---------------------------------------------------------------
    @staticmethod
    def pattern(config: ModelConfig, q_pos: torch.Tensor, k_pos: torch.Tensor) -> torch.Tensor:
        """Key position in (q - W, q], elementwise on broadcasting position tensors."""
        diff = q_pos - k_pos
        return (diff >= 0) & (diff < config.window)

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        """As computed: T ≤ W is one causal T × T call; longer inputs are blocks of W queries
        against 2W keys (padded to whole blocks). causal_skip: only the pairs the window keeps,
        sum over i of min(i + 1, W)."""
        T, W = seq_len, config.window
        if causal_skip:
            pairs = min(T, W) * (min(T, W) + 1) // 2 + max(0, T - W) * W
        elif T <= W:
            pairs = T * T
        else:
            pairs = -(-T // W) * W * 2 * W
        return 4 * config.n_head * config.head_dim * pairs

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        return 4 * config.n_head * config.head_dim * min(context_len, config.window)
