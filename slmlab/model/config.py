"""ModelConfig: every number that decides the shape of an SLM, validated at construction.

A bad value fails here, with a message naming the field and what is allowed, instead of as a
shape error deep inside torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# The choices at the model's two switch points (see mixers.py). Later labs add entries here and
# a builder there; nothing else in the model changes.
MIXERS = ("attention",)
MLPS = ("swiglu",)


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
        mixer: the token-mixing layer: one of MIXERS, or a list with one per layer.
        mlp: the channel-mixing layer: one of MLPS.
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
    mlp: str = "swiglu"

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
        if self.mlp not in MLPS:
            raise ValueError(f"ModelConfig.mlp must be one of {list(MLPS)}, got {self.mlp!r}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def layer_mixer(self, layer: int) -> str:
        """The mixer name of block ``layer``."""
        return self.mixer[layer] if isinstance(self.mixer, tuple) else self.mixer

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


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]
