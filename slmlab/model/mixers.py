"""The model's two switch points: which token mixer and which MLP each block gets.

A block is ``x + mixer(norm(x))`` then ``x + mlp(norm(x))``. Everything that differs between
attention variants, state-space layers and experts lives behind these two tables, so adding a
variant is one builder here and one name in config.py — the block and the model do not change.

A mixer is an ``nn.Module`` with
    forward(x (B, T, C), rope, cache=None) -> (B, T, C)
    new_cache(batch, max_len, *, device, dtype) -> its own decode cache or state
An MLP is an ``nn.Module`` with forward(x (B, T, C)) -> (B, T, C).
"""

from __future__ import annotations

from torch import nn

from .attention import CausalSelfAttention
from .config import ModelConfig
from .mlp import SwiGLU

MIXER_BUILDERS = {
    "attention": CausalSelfAttention,
}

MLP_BUILDERS = {
    "swiglu": lambda config: SwiGLU(config.d_model, config.d_ff),
}


def build_mixer(config: ModelConfig, layer: int) -> nn.Module:
    """The token mixer of block ``layer``, as named by ``config.mixer``."""
    return MIXER_BUILDERS[config.layer_mixer(layer)](config)


def build_mlp(config: ModelConfig, layer: int) -> nn.Module:
    """The MLP of block ``layer``, as named by ``config.mlp``."""
    return MLP_BUILDERS[config.mlp](config)
