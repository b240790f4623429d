"""One transformer block, pre-norm: normalise, transform, add back to the residual stream."""

from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .mixers import build_mixer, build_mlp
from .norm import RMSNorm


class Block(nn.Module):
    """x + mixer(RMSNorm(x)), then x + mlp(RMSNorm(x)). Args: config; layer: block index."""

    def __init__(self, config: ModelConfig, layer: int):
        super().__init__()
        self.norm1 = RMSNorm(config.d_model, config.norm_eps)
        self.mixer = build_mixer(config, layer)  # token mixing: attention or a variant
        self.norm2 = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = build_mlp(config, layer)  # channel mixing: SwiGLU or a variant
        # Identity when dropout is off: no op at all in the decode loop.
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, rope, cache=None) -> torch.Tensor:  # (B, T, C)
        x = x + self.dropout(self.mixer(self.norm1(x), rope, cache))
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return x
