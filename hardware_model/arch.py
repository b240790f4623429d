"""A model architecture as the chip sees it: the shapes that decide FLOPs, bytes and memory.

An `Arch` is a decoder-only language model: an embedding table, `n_layer` blocks of
(mixer, MLP) with RMSNorms, and an LM head (tied to the embedding or not). The mixer of each
layer is one of

    attention          full causal attention over the whole context, with a KV cache
    sliding_window     attention over the last `window` positions (KV cache capped at `window`)
    block_sparse       attention over `window` selected positions (local + chosen blocks)
    linear_attention   kernelized attention: a (head_dim x head_dim) state per head, no KV cache
    ssm                a Mamba-style selective state-space layer: a (d_inner x d_state) state

and the MLP is "swiglu"/"geglu" (three d_model x d_ff matrices), "gelu" (two), "moe" (a router
plus `n_experts` SwiGLU experts of width d_ff, `top_k` of them used per token) or "none" (Mamba
blocks have no separate MLP).

Glossary
    d_model  residual width            n_head / n_kv_head  query heads / key-value heads (GQA)
    d_ff     MLP hidden width          head_dim            width of one head (d_model // n_head
    d_inner  ssm_expand * d_model                          unless the model says otherwise)
    N        ssm_d_state               R                   dt_rank = ceil(d_model / 16) (Mamba)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from hardware_model._check import integer

MIXERS = ("attention", "sliding_window", "block_sparse", "linear_attention", "ssm")
MLPS = ("swiglu", "geglu", "gelu", "moe", "none")
_ATTENTION_LIKE = ("attention", "sliding_window", "block_sparse", "linear_attention")
_WINDOWED = ("sliding_window", "block_sparse")


@dataclass(frozen=True)
class Arch:
    """Shapes of a decoder-only language model (see the module docstring for the symbols).

    Attributes:
        name: a label ("llama-3.2-1b").
        n_layer, d_model, n_head, n_kv_head, d_ff, vocab_size: the usual shapes.
        head_dim: per-head width; None means d_model // n_head.
        tie_embeddings: the LM head reuses the embedding matrix (stored once).
        mlp: "swiglu", "geglu", "gelu", "moe" or "none".
        n_experts, top_k: MoE experts and experts used per token (mlp="moe").
        mixer: one mixer name for every layer, or a sequence of n_layer names.
        window: attended positions for sliding_window / block_sparse layers.
        n_unique_blocks: distinct weight sets when layers share weights (None: no sharing).
        ssm_d_state, ssm_expand, ssm_d_conv, ssm_dt_rank: Mamba shapes (dt_rank None: d/16).
        qkv_bias: q, k, v projections have biases (Qwen2).
        qk_norm: RMSNorm on queries and keys (OLMoE).
        norms_per_layer: RMSNorm weight vectors per block (2; Gemma-2 has 4; Mamba 1).
        max_seq_len: the longest context the model was trained for (None: unbounded).
        published_params: the parameter count as published ("1.23B"), for tests.
        source: where the shapes come from.
    """

    name: str
    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int
    d_ff: int
    vocab_size: int
    head_dim: int | None = None
    tie_embeddings: bool = True
    mlp: str = "swiglu"
    n_experts: int = 1
    top_k: int = 1
    mixer: str | tuple[str, ...] = "attention"
    window: int | None = None
    n_unique_blocks: int | None = None
    ssm_d_state: int = 16
    ssm_expand: int = 2
    ssm_d_conv: int = 4
    ssm_dt_rank: int | None = None
    qkv_bias: bool = False
    qk_norm: bool = False
    norms_per_layer: int = 2
    max_seq_len: int | None = None
    published_params: str | None = None
    source: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {self.name!r}")
        for f in ("n_layer", "d_model", "n_head", "n_kv_head", "vocab_size"):
            _positive_int(f, getattr(self, f))
        _non_negative_int("d_ff", self.d_ff)
        for f in ("tie_embeddings", "qkv_bias", "qk_norm"):
            if not isinstance(getattr(self, f), bool):
                raise TypeError(f"{f} must be True or False, got {getattr(self, f)!r}")
        if self.n_head % self.n_kv_head:
            raise ValueError(
                f"n_head ({self.n_head}) must be a multiple of n_kv_head ({self.n_kv_head})"
            )
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.d_model // self.n_head)
        _positive_int("head_dim", self.head_dim)
        if self.mlp not in MLPS:
            raise ValueError(f"mlp must be one of {list(MLPS)}, got {self.mlp!r}")
        if self.mlp != "none" and self.d_ff == 0:
            raise ValueError(f"d_ff must be positive for mlp={self.mlp!r}")
        _positive_int("n_experts", self.n_experts)
        _positive_int("top_k", self.top_k)
        if self.mlp == "moe" and not 1 <= self.top_k <= self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) must be in 1..n_experts ({self.n_experts})")
        object.__setattr__(self, "mixer", self._check_mixer(self.mixer))
        if any(m in _WINDOWED for m in self.layer_mixers):
            if self.window is None:
                raise ValueError("window is required when a layer is sliding_window/block_sparse")
        if self.window is not None:
            _positive_int("window", self.window)
        if self.n_unique_blocks is not None:
            _positive_int("n_unique_blocks", self.n_unique_blocks)
            if self.n_unique_blocks > self.n_layer:
                raise ValueError(
                    f"n_unique_blocks ({self.n_unique_blocks}) cannot exceed n_layer "
                    f"({self.n_layer})"
                )
        for f in ("ssm_d_state", "ssm_expand", "ssm_d_conv"):
            _positive_int(f, getattr(self, f))
        if self.ssm_dt_rank is None:
            object.__setattr__(self, "ssm_dt_rank", math.ceil(self.d_model / 16))
        _positive_int("ssm_dt_rank", self.ssm_dt_rank)
        _non_negative_int("norms_per_layer", self.norms_per_layer)
        if self.max_seq_len is not None:
            _positive_int("max_seq_len", self.max_seq_len)

    def _check_mixer(self, mixer):
        if isinstance(mixer, str):
            if mixer not in MIXERS:
                raise ValueError(f"mixer must be one of {list(MIXERS)}, got {mixer!r}")
            return mixer
        try:
            mixers = tuple(mixer)
        except TypeError:
            raise TypeError(f"mixer must be a str or a sequence of str, got {mixer!r}") from None
        if len(mixers) != self.n_layer:
            raise ValueError(f"mixer lists {len(mixers)} layers but n_layer is {self.n_layer}")
        bad = [m for m in mixers if m not in MIXERS]
        if bad:
            raise ValueError(f"mixer entries must be in {list(MIXERS)}, got {bad[0]!r}")
        return mixers[0] if len(set(mixers)) == 1 else mixers

    # ---- derived shapes ------------------------------------------------------------------------
    @property
    def layer_mixers(self) -> tuple[str, ...]:
        """The mixer of every layer, as a tuple of n_layer names."""
        if isinstance(self.mixer, str):
            return (self.mixer,) * self.n_layer
        return self.mixer

    @property
    def d_inner(self) -> int:
        """SSM inner width, ssm_expand * d_model."""
        return self.ssm_expand * self.d_model

    def replace(self, **changes) -> Arch:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- parameter counts ----------------------------------------------------------------------
    def mixer_matmul_weights(self, mixer: str) -> int:
        """Weights of the mixer's matrix multiplies (all used by every token)."""
        d, hd = self.d_model, self.head_dim
        if mixer in _ATTENTION_LIKE:
            return d * self.n_head * hd * 2 + d * self.n_kv_head * hd * 2  # q, o and k, v
        r, n, di = self.ssm_dt_rank, self.ssm_d_state, self.d_inner
        return d * 2 * di + di * (r + 2 * n) + r * di + di * d  # in, x, dt and out projections

    def mixer_other_params(self, mixer: str) -> int:
        """Mixer parameters outside matrix multiplies (biases, norms, conv, A, D)."""
        if mixer in _ATTENTION_LIKE:
            qkv = (self.n_head + 2 * self.n_kv_head) * self.head_dim
            qk = (self.n_head + self.n_kv_head) * self.head_dim
            return qkv * self.qkv_bias + qk * self.qk_norm
        di, n = self.d_inner, self.ssm_d_state
        return di * self.ssm_d_conv + di + di + di * n + di  # conv w+b, dt bias, A, D

    def mlp_weights(self, active: bool = False) -> int:
        """MLP weights: all of them, or (active=True) those one token uses."""
        d, f = self.d_model, self.d_ff
        if self.mlp in ("swiglu", "geglu"):
            return 3 * d * f
        if self.mlp == "gelu":
            return 2 * d * f
        if self.mlp == "moe":
            experts = self.top_k if active else self.n_experts
            return d * self.n_experts + experts * 3 * d * f  # router + experts
        return 0

    def layer_params(self, i: int) -> int:
        """All parameters of layer i."""
        m = self.layer_mixers[i]
        return (
            self.mixer_matmul_weights(m)
            + self.mixer_other_params(m)
            + self.mlp_weights()
            + self.norms_per_layer * self.d_model
        )

    def embedding_params(self) -> int:
        """Parameters of the token embedding table (vocab_size x d_model)."""
        return self.vocab_size * self.d_model

    def num_params(self) -> int:
        """Parameters stored, counting tied embeddings once and shared blocks once."""
        return _num_params(self)

    def active_params(self) -> int:
        """Parameters one token touches (MoE: only the top_k experts), embeddings counted once."""
        blocks = self.n_unique_blocks or self.n_layer
        return self.num_params() - blocks * (self.mlp_weights() - self.mlp_weights(active=True))

    def matmul_weights_per_token(self) -> int:
        """Weights in the matrix multiplies one decoded token runs through (head included,
        embedding lookup excluded): the count that FLOPs per token are twice of."""
        mixers = sum(self.mixer_matmul_weights(m) for m in self.layer_mixers)
        return mixers + self.n_layer * self.mlp_weights(active=True) + self.embedding_params()

    # ---- per-token memory ----------------------------------------------------------------------
    def kv_elements_per_token(self, i: int) -> int:
        """KV-cache elements one token adds in layer i (keys and values; 0 without a KV cache)."""
        if self.layer_mixers[i] in ("attention", "sliding_window", "block_sparse"):
            return 2 * self.n_kv_head * self.head_dim
        return 0

    def state_elements(self, i: int) -> int:
        """Recurrent-state elements layer i keeps per sequence (0 for KV-cache layers)."""
        return self.state_elements_of(self.layer_mixers[i])

    def state_elements_of(self, m: str) -> int:
        """Recurrent-state elements of one layer with mixer `m`."""
        if m == "linear_attention":
            return self.n_head * self.head_dim * (self.head_dim + 1)  # S and its normaliser
        if m == "ssm":
            return self.d_inner * (self.ssm_d_state + self.ssm_d_conv - 1)  # h and conv window
        return 0

    # ---- from slmlab ---------------------------------------------------------------------------
    @classmethod
    def from_slm(cls, obj, name: str | None = None) -> Arch:
        """Read an slmlab ModelConfig (or a model with a `.config`) by attribute names.

        No import of slmlab or torch: any object with the attributes works. slmlab's blocks are
        pre-norm with two RMSNorms, a SwiGLU MLP (or MoE of SwiGLU experts), no biases.

        Args:
            obj: a config, or an object whose `.config` is one.
            name: label for the Arch (default: the config's `name` attribute or "slmlab-model").

        Returns:
            The Arch.
        """
        cfg = obj if hasattr(obj, "n_layer") else getattr(obj, "config", None)
        required = ("vocab_size", "n_layer", "n_head", "d_model", "d_ff", "max_seq_len")
        missing = [a for a in required if cfg is None or not hasattr(cfg, a)]
        if missing:
            raise TypeError(
                "from_slm needs an slmlab ModelConfig or a model with .config; "
                f"{type(obj).__name__} lacks {missing}"
            )
        n_kv = getattr(cfg, "n_kv_head", None) or cfg.n_head
        mlp = getattr(cfg, "mlp", "swiglu") or "swiglu"
        return cls(
            name=name or getattr(cfg, "name", None) or "slmlab-model",
            n_layer=cfg.n_layer,
            d_model=cfg.d_model,
            n_head=cfg.n_head,
            n_kv_head=n_kv,
            d_ff=cfg.d_ff,
            vocab_size=cfg.vocab_size,
            tie_embeddings=bool(getattr(cfg, "tie_embeddings", True)),
            mlp=mlp,
            n_experts=getattr(cfg, "n_experts", 1) or 1,
            top_k=getattr(cfg, "top_k", 1) or 1,
            mixer=getattr(cfg, "mixer", "attention") or "attention",
            window=_window(cfg),
            n_unique_blocks=getattr(cfg, "n_unique_blocks", None),
            ssm_d_state=getattr(cfg, "ssm_d_state", 16) or 16,
            ssm_expand=getattr(cfg, "ssm_expand", 2) or 2,
            ssm_d_conv=getattr(cfg, "ssm_d_conv", 4) or 4,
            max_seq_len=cfg.max_seq_len,
            source="slmlab ModelConfig",
        )


@functools.lru_cache(maxsize=1024)
def _num_params(a: Arch) -> int:
    # Cached: the fit search asks every preset's size many times per simulate() call.
    blocks = a.n_unique_blocks or a.n_layer
    layers = sum(a.layer_params(i) for i in range(blocks))
    head = 0 if a.tie_embeddings else a.embedding_params()
    return a.embedding_params() + head + layers + a.d_model  # + final norm


def _window(cfg) -> int | None:
    """Positions a windowed layer attends to. slmlab's block_sparse layers see at most their own
    and the previous block plus the global tokens: 2 · block_size + n_global."""
    window = getattr(cfg, "window", None)
    mixers = getattr(cfg, "mixer", "attention")
    if "block_sparse" in ((mixers,) if isinstance(mixers, str) else tuple(mixers)):
        sparse = 2 * getattr(cfg, "block_size", 0) + getattr(cfg, "n_global", 0)
        window = max(window or 0, sparse)
    return window


def _positive_int(name: str, value) -> None:
    integer(name, value, 1)


def _non_negative_int(name: str, value) -> None:
    integer(name, value, 0)
