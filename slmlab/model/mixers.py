"""The model's two switch points: which token mixer and which MLP each layer gets.

A block is ``x + mixer(norm(x))`` then ``x + mlp(norm(x))``. Everything that differs between
attention variants, state-space layers and experts lives behind these two tables, so adding a
variant is one class in its own file, one entry here and one name in config.py — the block, the
model, generation and the FLOP counts do not change.

A mixer is an ``nn.Module`` class with
    forward(x (B, T, C), rope, cache=None) -> (B, T, C)
    new_cache(batch, max_len, *, device, dtype) -> its own decode cache or state, which has a
        ``length`` (tokens seen) and ``nbytes()``
and, for flops.py, the static methods matmul_weights(config), token_flops(config),
sequence_flops(config, seq_len, causal_skip) and decode_flops(config, context_len).
An MLP is an ``nn.Module`` class with from_config(config), forward(x (B, T, C)) -> (B, T, C) and
matmul_weights(config, active); an MLP with auxiliary losses keeps them in ``aux_loss``.
"""

from __future__ import annotations

from torch import nn

from .attention import CausalSelfAttention
from .block_sparse import BlockSparseAttention
from .config import ModelConfig
from .linear_attention import LinearAttention
from .mlp import SwiGLU
from .moe import MoE
from .sliding_window import SlidingWindowAttention
from .ssm import SelectiveSSM

MIXER_CLASSES = {
    "attention": CausalSelfAttention,
    "sliding_window": SlidingWindowAttention,
    "block_sparse": BlockSparseAttention,
    "linear_attention": LinearAttention,
    "ssm": SelectiveSSM,
}

MLP_CLASSES = {
    "swiglu": SwiGLU,
    "moe": MoE,
}


def mixer_class(config: ModelConfig, layer: int):
    """The class of layer ``layer``'s token mixer (for its cost formulas)."""
    return MIXER_CLASSES[config.layer_mixer(layer)]


def mlp_class(config: ModelConfig):
    """The class of the config's MLP (for its cost formulas)."""
    return MLP_CLASSES[config.mlp]


def build_mixer(config: ModelConfig, layer: int) -> nn.Module:
    """The token mixer of layer ``layer``, as named by ``config.mixer``."""
    return mixer_class(config, layer)(config)


def build_mlp(config: ModelConfig, layer: int) -> nn.Module:
    """The MLP of layer ``layer``, as named by ``config.mlp``."""
    return mlp_class(config).from_config(config)
