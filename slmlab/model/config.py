"""ModelConfig: every number that decides the shape of an SLM, validated at construction.

A bad value fails here, with a message naming the field and what is allowed, instead of as a
shape error deep inside torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# The choices at the model's two switch points (see mixers.py). Later labs add entries here and
# a builder there; nothing else in the model changes.
MIXERS = ("attention", "sliding_window", "block_sparse", "linear_attention", "ssm")
MLPS = ("swiglu", "moe")
SHARE_PATTERNS = ("all", "repeat")


def swiglu_hidden(d_model: int, multiple_of: int = 16) -> int:
    """SwiGLU hidden size with the parameters and FLOPs of a 4·d_model GELU MLP.

    A GELU MLP has 2 matrices of d_model × 4·d_model; SwiGLU has 3 of d_model × d_ff, so
    d_ff = 2/3 · 4 · d_model = 8/3 · d_model, rounded up to a multiple of ``multiple_of``
    (Shazeer 2020, "GLU Variants Improve Transformer"; Llama uses the same rule).
    """
    hidden = int(8 * d_model / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


@dataclass(frozen=True)
class ModelConfig:
    """Shape and options of an :class:`~slmlab.model.SLM`.

    Args:
        vocab_size: number of token ids (V).
        n_layer: number of transformer blocks (L).
        n_head: query heads per attention layer (H).
        n_kv_head: key/value heads (H_kv); H must be a multiple of H_kv. H_kv == H is plain
            multi-head attention, 1 is multi-query attention, in between is grouped-query (GQA).
        d_model: width of the residual stream (C); a multiple of n_head. head_dim = C / H, even
            (RoPE rotates pairs of features).
        d_ff: hidden size of the SwiGLU MLP; ``None`` picks :func:`swiglu_hidden` (8/3 · C).
        max_seq_len: longest context the model attends to (and the RoPE table's length).
        tie_embeddings: share the token embedding with the output head (saves V·C parameters).
        dropout: dropout probability during training (0 for small data is usually best).
        rope_theta: RoPE base frequency (10000 in the RoFormer paper).
        norm_eps: epsilon of RMSNorm.
        mixer: the token-mixing layer: one of MIXERS, or a list with one per layer (a hybrid,
            e.g. ``["ssm", "ssm", "attention"]``).
        window: W for ``"sliding_window"``: each position sees itself and the W - 1 before it.
        block_size: local block for ``"block_sparse"``: a position sees its own block and the
            previous one (causally) ...
        n_global: ... plus the first ``n_global`` tokens of the sequence, which every later
            position sees.
        ssm_d_state: N, the state size per channel of an ``"ssm"`` layer (Mamba: 16).
        ssm_expand: the SSM's inner width is ssm_expand · d_model (Mamba: 2).
        ssm_d_conv: kernel width of the SSM's causal depthwise convolution (Mamba: 4).
        mlp: the channel-mixing layer: ``"swiglu"`` (dense) or ``"moe"`` (mixture of experts).
        n_experts: E, experts per MoE layer (each a SwiGLU of width d_ff).
        top_k: k, experts each token uses (1 <= k <= E).
        capacity_factor: while training, an expert takes at most
            ceil(capacity_factor · tokens · k / E) tokens per batch; the rest are dropped (they
            skip the MLP and keep only the residual). ``None``: no limit.
        moe_aux_loss_weight: weight of the Switch load-balancing loss in the training loss.
        moe_z_loss_weight: weight of the router z-loss (0 = off).
        n_unique_blocks: distinct blocks when layers share weights (``None``: no sharing).
        share_pattern: how n_layer layers reuse n_unique_blocks blocks: ``"all"`` cycles
            through them (0 1 2 0 1 2; ALBERT when n_unique_blocks=1), ``"repeat"`` runs each
            block several times in a row (0 0 1 1 2 2; MobileLLM's block-wise sharing).
    """

    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    n_kv_head: int | None = None
    d_model: int = 128
    d_ff: int | None = None
    max_seq_len: int = 256
    tie_embeddings: bool = True
    dropout: float = 0.0
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    mixer: str | tuple[str, ...] = "attention"
    window: int | None = None
    block_size: int = 32
    n_global: int = 4
    ssm_d_state: int = 16
    ssm_expand: int = 2
    ssm_d_conv: int = 4
    mlp: str = "swiglu"
    n_experts: int = 4
    top_k: int = 2
    capacity_factor: float | None = 1.25
    moe_aux_loss_weight: float = 0.01
    moe_z_loss_weight: float = 0.0
    n_unique_blocks: int | None = None
    share_pattern: str = "all"

    def __post_init__(self) -> None:
        # Fill the derived defaults (frozen dataclass: go through object.__setattr__).
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        if self.d_ff is None and isinstance(self.d_model, int) and self.d_model > 0:
            object.__setattr__(self, "d_ff", swiglu_hidden(self.d_model))
        if isinstance(self.mixer, list):
            object.__setattr__(self, "mixer", tuple(self.mixer))
        self._validate()

    def _validate(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_kv_head", "d_model", "d_ff",
                     "max_seq_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(
                f"ModelConfig.d_model ({self.d_model}) must be divisible by n_head "
                f"({self.n_head}); allowed n_head values divide d_model, "
                f"e.g. {_divisors(self.d_model)}"
            )
        if self.n_head % self.n_kv_head:
            raise ValueError(
                f"ModelConfig.n_head ({self.n_head}) must be a multiple of n_kv_head "
                f"({self.n_kv_head}); allowed n_kv_head values: {_divisors(self.n_head)}"
            )
        if (self.d_model // self.n_head) % 2:
            raise ValueError(
                f"ModelConfig head_dim = d_model / n_head = {self.d_model // self.n_head} must "
                "be even (RoPE rotates pairs of features)"
            )
        if not isinstance(self.tie_embeddings, bool):
            raise ValueError(
                f"ModelConfig.tie_embeddings must be True or False, got {self.tie_embeddings!r}"
            )
        if not (isinstance(self.dropout, (int, float)) and 0.0 <= self.dropout < 1.0):
            raise ValueError(f"ModelConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.rope_theta, (int, float)) and self.rope_theta > 0):
            raise ValueError(f"ModelConfig.rope_theta must be > 0, got {self.rope_theta!r}")
        if not (isinstance(self.norm_eps, (int, float)) and self.norm_eps > 0):
            raise ValueError(f"ModelConfig.norm_eps must be > 0, got {self.norm_eps!r}")
        mixers = self.mixer if isinstance(self.mixer, tuple) else (self.mixer,)
        if isinstance(self.mixer, tuple) and len(self.mixer) != self.n_layer:
            raise ValueError(
                f"ModelConfig.mixer as a list needs one entry per layer ({self.n_layer}), "
                f"got {len(self.mixer)}"
            )
        for m in mixers:
            if m not in MIXERS:
                raise ValueError(f"ModelConfig.mixer must be one of {list(MIXERS)}, got {m!r}")
        self._validate_mixer_options(mixers)
        self._validate_moe()
        self._validate_sharing()

    def _validate_mixer_options(self, mixers) -> None:
        if "sliding_window" in mixers and self.window is None:
            raise ValueError("ModelConfig.window is required for mixer 'sliding_window' "
                             "(a positive int: how many positions each token sees)")
        if self.window is not None:
            _positive_int("window", self.window)
        _positive_int("block_size", self.block_size)
        _positive_int("n_global", self.n_global, minimum=0)
        for name in ("ssm_d_state", "ssm_expand", "ssm_d_conv"):
            _positive_int(name, getattr(self, name))

    def _validate_moe(self) -> None:
        if self.mlp not in MLPS:
            raise ValueError(f"ModelConfig.mlp must be one of {list(MLPS)}, got {self.mlp!r}")
        _positive_int("n_experts", self.n_experts)
        _positive_int("top_k", self.top_k)
        if self.top_k > self.n_experts:
            raise ValueError(f"ModelConfig.top_k ({self.top_k}) must be <= n_experts "
                             f"({self.n_experts}): allowed 1..{self.n_experts}")
        cf = self.capacity_factor
        if cf is not None and (isinstance(cf, bool) or not isinstance(cf, (int, float))
                               or cf <= 0):
            raise ValueError(f"ModelConfig.capacity_factor must be None or a number > 0, "
                             f"got {cf!r}")
        for name in ("moe_aux_loss_weight", "moe_z_loss_weight"):
            w = getattr(self, name)
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ValueError(f"ModelConfig.{name} must be a number >= 0, got {w!r}")

    def _validate_sharing(self) -> None:
        if self.share_pattern not in SHARE_PATTERNS:
            raise ValueError(f"ModelConfig.share_pattern must be one of {list(SHARE_PATTERNS)}, "
                             f"got {self.share_pattern!r}")
        n = self.n_unique_blocks
        if n is None:
            return
        _positive_int("n_unique_blocks", n)
        if n > self.n_layer:
            raise ValueError(f"ModelConfig.n_unique_blocks ({n}) must be <= n_layer "
                             f"({self.n_layer})")
        if self.share_pattern == "repeat" and self.n_layer % n:
            raise ValueError(
                f"ModelConfig.share_pattern 'repeat' needs n_layer ({self.n_layer}) divisible by "
                f"n_unique_blocks ({n}); allowed n_unique_blocks: {_divisors(self.n_layer)}"
            )
        blocks = self.layer_blocks
        for layer, block in enumerate(blocks):
            first = blocks.index(block)
            if self.layer_mixer(layer) != self.layer_mixer(first):
                raise ValueError(
                    f"layers {first} and {layer} share block {block} but "
                    f"have different mixers ({self.layer_mixer(first)!r}, "
                    f"{self.layer_mixer(layer)!r}); shared layers need the same mixer"
                )

    def __repr__(self) -> str:
        """The core shape always; an option only where it matters (its mixer or MLP is used) or
        differs from its default — so a plain model prints as briefly as before the options."""
        mixers = set(self.mixer) if isinstance(self.mixer, tuple) else {self.mixer}
        used = {name for key, names in _OPTION_FIELDS.items()
                if key in mixers or key == self.mlp
                or (key == "sharing" and self.n_unique_blocks is not None)
                for name in names}
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            optional = any(f.name in names for names in _OPTION_FIELDS.values())
            if not optional or f.name in used or value != f.default:
                shown.append(f"{f.name}={value!r}")
        return f"ModelConfig({', '.join(shown)})"

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def layer_mixer(self, layer: int) -> str:
        """The mixer name of layer ``layer``."""
        return self.mixer[layer] if isinstance(self.mixer, tuple) else self.mixer

    @property
    def layer_blocks(self) -> tuple[int, ...]:
        """Which unique block each layer runs, e.g. (0, 1, 0, 1) for 2 blocks shared "all"."""
        n = self.n_unique_blocks or self.n_layer
        if self.share_pattern == "repeat":
            return tuple(i // (self.n_layer // n) for i in range(self.n_layer))
        return tuple(i % n for i in range(self.n_layer))

    @property
    def ssm_d_inner(self) -> int:
        """D, the SSM's inner width (ssm_expand · d_model)."""
        return self.ssm_expand * self.d_model

    @property
    def ssm_dt_rank(self) -> int:
        """R, the rank of the SSM's Δ projection: ceil(d_model / 16) as in Mamba."""
        return -(-self.d_model // 16)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(d["mixer"], tuple):
            d["mixer"] = list(d["mixer"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Rebuild from :meth:`to_dict`; unknown keys are an error (a sign of a wrong file)."""
        if not isinstance(d, dict):
            raise ValueError(f"ModelConfig.from_dict needs a dict, got {type(d).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}; known: {sorted(fields)}")
        return cls(**d)

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (validated again).

        Derived defaults follow their source: changing ``d_model`` re-derives ``d_ff`` and
        changing ``n_head`` re-derives ``n_kv_head`` if they were at their defaults.
        """
        if "d_model" in changes and "d_ff" not in changes and self.d_ff == swiglu_hidden(
            self.d_model
        ):
            changes["d_ff"] = None
        if "n_head" in changes and "n_kv_head" not in changes and self.n_kv_head == self.n_head:
            changes["n_kv_head"] = None
        return dataclasses.replace(self, **changes)


# Which options belong to which mixer / MLP / feature (for the repr).
_OPTION_FIELDS = {
    "sliding_window": ("window",),
    "block_sparse": ("block_size", "n_global"),
    "ssm": ("ssm_d_state", "ssm_expand", "ssm_d_conv"),
    "moe": ("n_experts", "top_k", "capacity_factor", "moe_aux_loss_weight", "moe_z_loss_weight"),
    "sharing": ("n_unique_blocks", "share_pattern"),
}


def _positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"ModelConfig.{name} must be an int >= {minimum}, got {value!r}")


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]
