"""Analytic parameter and FLOP counts.

Convention (shared with ``hardware_model``): count matrix-multiply FLOPs only, 2 per
multiply-accumulate. Norms, RoPE, softmax and activations are left out — together they are
a few percent at these shapes. The embedding lookup is a gather, not a matmul: 0 FLOPs.

Per token, per layer, with C = d_model, H query heads, H_kv key/value heads, d = head_dim,
F = d_ff and a context of L tokens:
    projections  2 · C · (H + 2·H_kv) · d      (Q, K, V)     + 2 · H · d · C    (output)
    attention    2 · H · d · L  (Q·Kᵀ)         + 2 · H · d · L  (weights · V)
    MLP          2 · 3 · C · F                 (gate, up, down)
and once per token the LM head: 2 · C · V.
"""

from __future__ import annotations

from .config import ModelConfig


def _config(obj) -> ModelConfig:
    config = getattr(obj, "config", obj)
    if not isinstance(config, ModelConfig):
        raise TypeError(f"expected a ModelConfig or an SLM, got {type(obj).__name__}")
    return config


def matmul_weights_per_token(config) -> int:
    """Weights one token multiplies with (each used once): projections, MLP, LM head."""
    c = _config(config)
    d = c.head_dim
    per_layer = c.d_model * (c.n_head + 2 * c.n_kv_head) * d + c.n_head * d * c.d_model
    per_layer += 3 * c.d_model * c.d_ff
    return c.n_layer * per_layer + c.d_model * c.vocab_size


def attention_flops_per_token(config, context_len: int) -> int:
    """Q·Kᵀ and weights·V for one query token that attends to ``context_len`` keys."""
    c = _config(config)
    if context_len < 0:
        raise ValueError(f"context_len must be >= 0, got {context_len}")
    return c.n_layer * 4 * c.n_head * c.head_dim * context_len


def decode_flops_per_token(config, context_len: int) -> int:
    """FLOPs to generate one token with a KV cache holding ``context_len`` tokens (incl. itself)."""
    return 2 * matmul_weights_per_token(config) + attention_flops_per_token(config, context_len)


def forward_flops(config, batch: int, seq_len: int, *, causal_skip: bool = False) -> int:
    """FLOPs of one forward pass over (batch, seq_len) tokens, all positions' logits.

    With ``causal_skip=False`` attention is counted over the full T × T score matrix, as a
    plain implementation computes it (and as torch's FLOP counter counts it); ``True`` counts
    only the T·(T+1)/2 query-key pairs a causal mask keeps.
    """
    c = _config(config)
    if batch < 1 or seq_len < 1:
        raise ValueError(f"batch and seq_len must be >= 1, got {batch}, {seq_len}")
    pairs = seq_len * (seq_len + 1) // 2 if causal_skip else seq_len * seq_len
    attention = c.n_layer * 4 * c.n_head * c.head_dim * pairs
    return batch * (seq_len * 2 * matmul_weights_per_token(c) + attention)


def training_flops(config, batch: int, seq_len: int) -> int:
    """Forward + backward ≈ 3 × forward (the backward pass costs about twice the forward)."""
    return 3 * forward_flops(config, batch, seq_len)
