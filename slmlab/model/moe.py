"""Mixture of experts: E SwiGLU experts, a router sends each token to k of them.

Glossary (code name -> symbol in Switch Transformers, Fedus et al. 2022, and ST-MoE, Zoph et al.
2022):
    n_experts        E, experts per layer
    top_k            k, experts per token
    router           W_r, (C -> E): the router's logits for each token
    probs            p(x) = softmax(W_r x), (tokens, E)
    gates            the k chosen probabilities, renormalised to sum to 1
    capacity         ceil(capacity_factor · tokens · k / E): most tokens an expert takes per batch
    balance_loss     E · Σ_e f_e · P_e, f_e = share of assignments routed to expert e,
                     P_e = mean router probability of e; 1 when routing is uniform, E when every
                     token goes to one expert (Switch, eq. 4)
    z_loss           mean over tokens of logsumexp(router logits)² (ST-MoE, eq. 5): keeps the
                     logits small, which keeps the router numerically stable

Parameters grow with E, compute per token with k: E = 8, k = 2 holds 8 MLPs' weights and runs 2.
While training, an expert that receives more than its capacity drops the excess tokens (they
skip the MLP; the residual connection carries them on), which keeps batches balanced on parallel
hardware. In eval mode nothing is dropped, so decoding a token never depends on its neighbours.
The auxiliary losses (weighted by config.moe_aux_loss_weight and moe_z_loss_weight) are kept in
``aux_loss`` and added to the training loss by SLM.forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .mlp import SwiGLU


def balance_loss(probs: torch.Tensor, top_i: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Switch load-balancing loss E · Σ_e f_e · P_e.

    Args:
        probs: router probabilities (N, E). top_i: chosen experts (N, k). n_experts: E.

    f_e counts assignments (all k choices of every token) before any dropping, so it sums to 1;
    the loss is 1 when P is uniform, E when every token goes to one expert with probability 1.
    """
    f = torch.bincount(top_i.flatten(), minlength=n_experts).float() / top_i.numel()
    return n_experts * (f * probs.mean(dim=0)).sum()


def z_loss(logits: torch.Tensor) -> torch.Tensor:
    """Router z-loss: mean over tokens of logsumexp(logits)², (N, E) -> scalar."""
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


class MoE(nn.Module):
    """Top-k mixture of SwiGLU experts. Args: config (d_model, d_ff, n_experts, top_k, ...)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_experts, self.top_k = config.n_experts, config.top_k
        self.capacity_factor = config.capacity_factor
        self.aux_weight, self.z_weight = config.moe_aux_loss_weight, config.moe_z_loss_weight
        self.router = nn.Linear(config.d_model, config.n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(config.d_model, config.d_ff)
                                     for _ in range(config.n_experts))
        self.aux_loss = None  # weighted auxiliary loss, summed over the calls of one forward
        self.stats: dict = {}  # routing of the last call (see forward)

    @classmethod
    def from_config(cls, config: ModelConfig) -> MoE:
        return cls(config)

    def route(self, x: torch.Tensor):
        """Router probabilities (N, E), chosen experts (N, k) and their gates (N, k)."""
        logits = self.router(x).float()  # (N, E); route in float32
        probs = logits.softmax(dim=-1)
        top_p, top_i = probs.topk(self.top_k, dim=-1)
        gates = top_p / top_p.sum(dim=-1, keepdim=True)  # renormalise over the chosen k
        return logits, probs, top_i, gates

    def capacity(self, n_tokens: int) -> int | None:
        """Most tokens one expert takes in a training batch of ``n_tokens`` (None: no limit)."""
        if self.capacity_factor is None or not self.training:
            return None
        return math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts)

    def within_capacity(self, top_i: torch.Tensor, cap: int | None) -> torch.Tensor:
        """Which assignments (N, k) their expert takes, given its capacity (None: all).

        Each assignment's place in its expert's queue: first choices before second choices,
        earlier tokens first; places beyond the capacity are dropped.
        """
        if cap is None:
            return torch.ones_like(top_i, dtype=torch.bool)
        N, k = top_i.shape
        order_i = top_i.t().reshape(-1)  # (k·N,): all first choices, then all second ...
        onehot = F.one_hot(order_i, self.n_experts)  # (k·N, E)
        place = ((onehot.cumsum(dim=0) - 1) * onehot).sum(dim=-1)  # (k·N,)
        return (place < cap).view(k, N).t()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (N, C): routing does not care about batch or time
        N, E, k = x.shape[0], self.n_experts, self.top_k
        logits, probs, top_i, gates = self.route(x)

        cap = self.capacity(N)
        kept = self.within_capacity(top_i, cap)  # (N, k)

        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):  # each expert runs on its tokens only
            token, slot = torch.nonzero((top_i == e) & kept, as_tuple=True)
            if token.numel() == 0:
                continue
            y = expert(x[token]) * gates[token, slot, None].to(x.dtype)  # (n_e, C)
            out.index_add_(0, token, y)

        # Auxiliary losses and statistics.
        balance, z = balance_loss(probs, top_i, E), z_loss(logits)
        loss = self.aux_weight * balance + self.z_weight * z
        self.aux_loss = loss if self.aux_loss is None else self.aux_loss + loss
        self.stats = {
            "tokens_per_expert": torch.bincount(top_i.flatten(), minlength=E),  # before dropping
            "kept_per_expert": torch.bincount(top_i[kept], minlength=E),
            "dropped": int((~kept).sum()),
            "capacity": cap,
            "balance_loss": float(balance.detach()),
            "z_loss": float(z.detach()),
            "top_experts": top_i.view(*shape[:-1], k).detach(),  # (B, T, k)
            "gates": gates.view(*shape[:-1], k).detach(),
        }
        return out.view(shape)

    # -- the cost -------------------------------------------------------------------------------
    @staticmethod
    def matmul_weights(config: ModelConfig, active: bool = True) -> int:
        """Router plus the experts one token runs (active) or all experts."""
        experts = config.top_k if active else config.n_experts
        return config.d_model * config.n_experts + experts * 3 * config.d_model * config.d_ff
