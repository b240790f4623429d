"""A selective state-space layer (Mamba; Gu & Dao 2023, "Linear-Time Sequence Modeling with
Selective State Spaces").

Glossary (code name -> paper symbol):
    d_inner  D = ssm_expand · d_model, channels inside the layer
    d_state  N, state size per channel
    dt_rank  R = ceil(d_model / 16), rank of the Δ projection
    A_log    A = -exp(A_log), (D, N): a negative decay rate per channel and state entry
    delta    Δ = softplus(W_Δ · dt + b_Δ), (B, T, D): the input-dependent step size
    Bm, Cm   B_t, C_t, (B, T, N): input-dependent input and output matrices ("selective")
    dA, dBu  Ā_t = exp(Δ_t A), B̄_t u_t = Δ_t B_t u_t: the recurrence discretised (zero-order
             hold for A, Euler for B, as in the paper's code)
    h        h_t, (B, D, N): the state

Per channel the layer is a linear recurrence whose coefficients depend on the input:

    h_t = Ā_t ⊙ h_{t-1} + B̄_t u_t,        y_t = C_t · h_t + D_skip ⊙ u_t

A large Δ_t resets the state towards the current input, a small one keeps the past: the model
chooses per token what to remember. Around it: an input projection to 2D (signal u and gate z),
a short causal depthwise convolution on u, SiLU, and y ⊙ SiLU(z) projected back to d_model.

Decoding carries h and the last d_conv - 1 inputs of the convolution: constant memory and time
per token. Training runs the same recurrence over the whole sequence in :func:`selective_scan`;
:func:`parallel_scan` is the parallel form GPUs use, kept here to compare.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

SCAN_CHUNK = 32  # parallel_scan: positions scanned at once before the carry moves on


class SSMState:
    """Decode state of one SSM layer: h (B, D, N), at least float32, and the convolution's last
    inputs (in the model's dtype)."""

    def __init__(self, batch: int, d_inner: int, d_state: int, d_conv: int, *, device=None,
                 dtype=torch.float32):
        wide = torch.promote_types(dtype, torch.float32)
        self.h = torch.zeros(batch, d_inner, d_state, device=device, dtype=wide)
        self.conv = torch.zeros(batch, d_inner, d_conv - 1, device=device, dtype=dtype)
        self.length = 0

    def nbytes(self) -> int:
        return self.h.numel() * self.h.element_size() + self.conv.numel() * self.conv.element_size()


def selective_scan(delta: torch.Tensor, A: torch.Tensor, Bm: torch.Tensor, C: torch.Tensor,
                   u: torch.Tensor, h0: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Run h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t over the sequence; read out y_t = C_t · h_t.

    A loop over time whose steps are whole-batch tensor operations on (B, D, N). Each step
    discretises its own Ā_t and B̄_t u_t, so the (B, T, D, N) tensors are never built: the work
    stays in the CPU cache. On a CPU this beats :func:`parallel_scan`, which does log2(c) times
    the work and streams (B, T, D, N) tensors through memory several times (lab 05 measures
    both). ``unbind`` splits the inputs once, so the backward pass stacks the per-step
    gradients once instead of building a full-size zero tensor per step.

    Args:
        delta: Δ, (B, T, D). A: (D, N), negative. Bm, C: B_t and C_t, (B, T, N).
        u: the input, (B, T, D). h0: state before position 0, (B, D, N), or None for zeros.

    Returns:
        (y (B, T, D) without the D-skip, the last state (B, D, N)).
    """
    B, T, D = u.shape
    h = u.new_zeros(B, D, A.shape[1]) if h0 is None else h0
    ys = []
    steps = zip(delta.unbind(1), (delta * u).unbind(1), Bm.unbind(1), C.unbind(1))
    for d_t, du_t, b_t, c_t in steps:
        h = torch.exp(d_t[:, :, None] * A) * h + du_t[:, :, None] * b_t[:, None, :]  # (B, D, N)
        ys.append(torch.bmm(h, c_t[:, :, None]).squeeze(-1))  # C_t · h_t, (B, D)
    return torch.stack(ys, dim=1), h


def parallel_scan(dA: torch.Tensor, dBu: torch.Tensor, h0: torch.Tensor | None = None,
                  chunk: int = SCAN_CHUNK) -> tuple[torch.Tensor, torch.Tensor]:
    """All states of h_t = dA_t ⊙ h_{t-1} + dBu_t, computed in parallel (what GPUs do).

    The step (a, b): h -> a·h + b composes associatively — doing (a1, b1) then (a2, b2) is
    (a1·a2, a2·b1 + b2) — so a Hillis–Steele scan finds every prefix in log2(c) rounds of
    whole-tensor operations. It runs inside chunks of c positions at once; a short loop then
    carries the state from each chunk to the next (T / c small steps). Depth O(log c + T / c)
    instead of T, work O(T log c); only products of decays in (0, 1], so nothing overflows.

    Args:
        dA, dBu: (B, T, D, N). h0: the state before position 0, (B, D, N), or None for zeros.

    Returns:
        (h for every position (B, T, D, N), the last state (B, D, N)).
    """
    B, T, D, N = dA.shape
    c = min(chunk, T)
    nc = -(-T // c)
    pad = nc * c - T  # padding steps (a=1, b=0) leave the state alone
    a = F.pad(dA, (0, 0, 0, 0, 0, pad), value=1.0).view(B, nc, c, D, N)
    b = F.pad(dBu, (0, 0, 0, 0, 0, pad)).view(B, nc, c, D, N)
    offset = 1
    while offset < c:  # after this loop a[:, :, t] = Π dA, b[:, :, t] = h with h(chunk start)=0
        b = torch.cat([b[:, :, :offset], a[:, :, offset:] * b[:, :, :-offset] + b[:, :, offset:]],
                      dim=2)
        a = torch.cat([a[:, :, :offset], a[:, :, offset:] * a[:, :, :-offset]], dim=2)
        offset *= 2
    h = dA.new_zeros(B, D, N) if h0 is None else h0
    starts = []
    for j in range(nc):  # carry: the state entering chunk j
        starts.append(h)
        h = a[:, j, -1] * h + b[:, j, -1]
    h_all = b + a * torch.stack(starts, dim=1)[:, :, None]  # (B, nc, c, D, N)
    return h_all.view(B, nc * c, D, N)[:, :T], h


class SelectiveSSM(nn.Module):
    """A Mamba block's mixer. Args: config (uses d_model, ssm_expand, ssm_d_state, ssm_d_conv)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        C, D, N = config.d_model, config.ssm_d_inner, config.ssm_d_state
        R, K = config.ssm_dt_rank, config.ssm_d_conv
        self.d_inner, self.d_state, self.d_conv, self.dt_rank = D, N, K, R
        self.in_proj = nn.Linear(C, 2 * D, bias=False)  # -> u and the gate z
        self.conv = nn.Conv1d(D, D, K, groups=D)  # depthwise; made causal by left padding
        self.x_proj = nn.Linear(D, R + 2 * N, bias=False)  # -> dt (R), B_t (N), C_t (N)
        self.dt_proj = nn.Linear(R, D)  # W_Δ, b_Δ
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32))
                                  .repeat(D, 1))  # A = -[1, 2, .., N] per channel (S4D-real)
        self.A_log._no_weight_decay = True  # a decay rate, not a weight (as in Mamba)
        self.D_skip = nn.Parameter(torch.ones(D))
        self.out = nn.Linear(D, C, bias=False)
        self._init_dt_bias()

    @torch.no_grad()
    def _init_dt_bias(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        """Start Δ log-uniform in [dt_min, dt_max] (Mamba's init): b_Δ = softplus⁻¹(Δ)."""
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min))
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def new_cache(self, batch: int, max_len: int, *, device=None, dtype=torch.float32):
        return SSMState(batch, self.d_inner, self.d_state, self.d_conv, device=device,
                        dtype=dtype)

    def forward(self, x: torch.Tensor, rope=None, cache: SSMState | None = None) -> torch.Tensor:
        """x: (B, T, C) -> (B, T, C); ``rope`` is unused (the recurrence knows the order)."""
        B, T, _ = x.shape
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, T, D) each
        # Causal convolution: each output sees its K - 1 predecessors, from the state or zeros.
        u = u.transpose(1, 2)  # (B, D, T)
        before = cache.conv if cache is not None else u.new_zeros(B, self.d_inner,
                                                                   self.d_conv - 1)
        window = torch.cat([before, u], dim=2)  # (B, D, K - 1 + T)
        if T == 1:  # decode: one output; a contraction is ~10x cheaper than a conv1d call
            conv = torch.einsum("bdk,dk->bd", window, self.conv.weight[:, 0]) + self.conv.bias
            u = F.silu(conv)[:, None, :]  # (B, 1, D)
        else:
            u = F.silu(self.conv(window)).transpose(1, 2)  # (B, T, D)
        dt, Bm, Cm = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # Δ (B, T, D)
        A = -torch.exp(self.A_log)  # (D, N)
        h0 = cache.h if cache is not None else None
        # The recurrence runs in at least float32 whatever the weights' dtype: a decay applied
        # thousands of times over needs the precision (Mamba does the same).
        wide = torch.promote_types(x.dtype, torch.float32)
        delta, Bm, Cm, uw = (t.to(wide) for t in (delta, Bm, Cm, u))
        y, h_last = selective_scan(delta, A.to(wide), Bm, Cm, uw, h0)
        y = (y + self.D_skip.to(wide) * uw).to(x.dtype)  # + the skip path D ⊙ u, (B, T, D)
        if cache is not None:
            cache.h = h_last
            cache.conv = window[:, :, window.shape[2] - (self.d_conv - 1):]  # last K - 1 inputs
            cache.length += T
        return self.out(y * F.silu(z))

    # -- the cost -------------------------------------------------------------------------------
    @staticmethod
    def matmul_weights(config: ModelConfig) -> int:
        """W_in (C -> 2D), W_x (D -> R + 2N), W_Δ (R -> D) and W_out (D -> C)."""
        C, D, N, R = config.d_model, config.ssm_d_inner, config.ssm_d_state, config.ssm_dt_rank
        return C * 2 * D + D * (R + 2 * N) + R * D + D * C

    @classmethod
    def token_flops(cls, config: ModelConfig) -> int:
        """Projections, the depthwise convolution (D · d_conv MACs) and the read-out C_t · h_t
        (a D × N matrix-vector product, D · N MACs). The state update itself is elementwise
        (about 5 · D · N FLOPs per token) and, like norms and activations, outside the
        matmul-only convention of flops.py."""
        D = config.ssm_d_inner
        return 2 * cls.matmul_weights(config) + 2 * D * (config.ssm_d_conv + config.ssm_d_state)

    @staticmethod
    def sequence_flops(config: ModelConfig, seq_len: int, causal_skip: bool = False) -> int:
        return 0  # nothing grows with the context

    @staticmethod
    def decode_flops(config: ModelConfig, context_len: int) -> int:
        return 0
