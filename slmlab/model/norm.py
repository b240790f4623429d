"""RMSNorm (Zhang & Sennrich 2019): scale each vector to unit root-mean-square, then by a gain.

    y = x / sqrt(mean(x²) + eps) · g

Unlike LayerNorm there is no mean subtraction and no bias: cheaper, and as good in practice
(Llama, Gemma, Qwen all use it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Args: dim: feature size C; eps: added under the square root for stability."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))  # g, the learned gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., C) -> (..., C)
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
