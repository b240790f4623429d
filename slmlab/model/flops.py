"""Analytic parameter and FLOP counts, for every mixer and MLP.

Convention (shared with ``hardware_model``): count matrix-multiply FLOPs only, 2 per
multiply-accumulate (convolutions count as matmuls). Norms, RoPE, softmax, activations and the
SSM's elementwise scan are left out. The embedding lookup is a gather, not a matmul: 0 FLOPs.

Per token and layer the cost has two parts, each given by the layer's class (see mixers.py):
    token_flops           does not depend on the context: projections, convolution, MLP
    sequence / decode     grows with the context: attention's Q·Kᵀ and weights·V
For full attention with C = d_model, H query heads, H_kv key/value heads, d = head_dim,
F = d_ff and a context of L tokens:
    projections  2 · C · (H + 2·H_kv) · d      (Q, K, V)     + 2 · H · d · C    (output)
    attention    2 · H · d · L  (Q·Kᵀ)         + 2 · H · d · L  (weights · V)
    MLP          2 · 3 · C · F                 (gate, up, down; MoE: router + top_k experts)
and once per token the LM head: 2 · C · V. Shared layers count once per use: sharing saves
parameters, not FLOPs.
"""

from __future__ import annotations

from .config import ModelConfig
from .mixers import mixer_class, mlp_class


def _config(obj) -> ModelConfig:
    config = getattr(obj, "config", obj)
    if not isinstance(config, ModelConfig):
        raise TypeError(f"expected a ModelConfig or an SLM, got {type(obj).__name__}")
    return config


def _mixers(c: ModelConfig):
    return [mixer_class(c, i) for i in range(c.n_layer)]


def matmul_weights_per_token(config) -> int:
    """Weights one token multiplies with (each used once): mixers, MLPs (MoE: router and the
    top_k experts it runs), LM head."""
    c = _config(config)
    mlp = mlp_class(c).matmul_weights(c, active=True)
    return sum(m.matmul_weights(c) + mlp for m in _mixers(c)) + c.d_model * c.vocab_size


def token_flops(config) -> int:
    """FLOPs per token that do not depend on the context length."""
    c = _config(config)
    mlp = 2 * mlp_class(c).matmul_weights(c, active=True)
    return sum(m.token_flops(c) + mlp for m in _mixers(c)) + 2 * c.d_model * c.vocab_size


def attention_flops_per_token(config, context_len: int) -> int:
    """The context-dependent FLOPs of one new token that sees ``context_len`` positions
    (incl. itself): Q·Kᵀ and weights·V over the keys its mixers read; 0 for SSM layers and
    constant for linear attention."""
    c = _config(config)
    if context_len < 0:
        raise ValueError(f"context_len must be >= 0, got {context_len}")
    return sum(m.decode_flops(c, context_len) for m in _mixers(c))


def decode_flops_per_token(config, context_len: int) -> int:
    """FLOPs to generate one token with a cache holding ``context_len`` tokens (incl. itself)."""
    return token_flops(config) + attention_flops_per_token(config, context_len)


def forward_flops(config, batch: int, seq_len: int, *, causal_skip: bool = False) -> int:
    """FLOPs of one forward pass over (batch, seq_len) tokens, all positions' logits.

    With ``causal_skip=False`` attention is counted as the implementation computes it (full
    attention: the whole T × T score matrix, as torch's FLOP counter counts it); ``True``
    counts only the query-key pairs the mask keeps (T·(T+1)/2 for full attention).
    """
    c = _config(config)
    if batch < 1 or seq_len < 1:
        raise ValueError(f"batch and seq_len must be >= 1, got {batch}, {seq_len}")
    mixing = sum(m.sequence_flops(c, seq_len, causal_skip) for m in _mixers(c))
    return batch * (seq_len * token_flops(c) + mixing)


def training_flops(config, batch: int, seq_len: int) -> int:
    """Forward + backward ≈ 3 × forward (the backward pass costs about twice the forward)."""
    return 3 * forward_flops(config, batch, seq_len)


def active_params(model) -> int:
    """Parameters one token uses: all of them, minus the experts an MoE layer does not run."""
    c = _config(model)
    n = model.num_params()
    if c.mlp == "moe":
        per_expert = 3 * c.d_model * c.d_ff
        n -= len(model.blocks) * (c.n_experts - c.top_k) * per_expert
    return n
