"""SLM: a Llama-style decoder-only language model, small enough to train on a laptop CPU.

    tokens (B, T)
      -> token embedding                      (B, T, C)
      -> n_layer × Block (RMSNorm, mixer, RMSNorm, MLP, residual adds); with weight sharing
         the layers reuse n_unique_blocks blocks in the order config.layer_blocks gives
      -> final RMSNorm -> LM head             (B, T, V) logits for the next token

Positions enter only through RoPE inside attention; the LM head shares its weight with the
embedding when ``tie_embeddings`` (saves V·C parameters, often most of a small model).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .block import Block
from .config import ModelConfig
from .norm import RMSNorm
from .rope import RotaryEmbedding


class SLM(nn.Module):
    """The small language model. Args: config: a :class:`ModelConfig`."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, ModelConfig):
            raise TypeError(f"SLM needs a ModelConfig, got {type(config).__name__}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        # Identity when dropout is off: no op at all in the decode loop.
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        # One Block per unique weight set; layer i runs blocks[layer_blocks[i]] (sharing, if any).
        self.layer_blocks = config.layer_blocks
        first_layer = [self.layer_blocks.index(j) for j in range(max(self.layer_blocks) + 1)]
        self.blocks = nn.ModuleList(Block(config, i) for i in first_layer)
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.tok_emb.weight
        self.rope = RotaryEmbedding(config.head_dim, config.max_seq_len, config.rope_theta)
        self.aux_loss = None  # auxiliary losses of the last forward (MoE), or None
        self.compiled_decoder = None  # set by compile_decode()
        self._aux_layers = [b.mlp for b in self.blocks if hasattr(b.mlp, "aux_loss")]
        self._init_weights()

    def _init_weights(self) -> None:
        """GPT-2 init: N(0, 0.02) everywhere; the projections that write into the residual
        stream get std / sqrt(2·n_layer) so the stream's variance does not grow with depth."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith(("mixer.out.weight", "down.weight")):  # incl. each expert's
                nn.init.normal_(p, mean=0.0, std=residual_std)

    # -- sizes ---------------------------------------------------------------------------------
    def num_params(self, exclude_embedding: bool = False) -> int:
        """Number of unique parameters (a tied head counts once).

        ``exclude_embedding`` leaves out the V·C embedding table (Kaplan et al.'s
        "non-embedding" size; a tied head goes with it, an untied head stays).
        """
        n = sum(p.numel() for p in self.parameters())
        if exclude_embedding:
            n -= self.tok_emb.weight.numel()
        return n

    @property
    def device(self) -> torch.device:
        return self.tok_emb.weight.device

    # -- forward -------------------------------------------------------------------------------
    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, *,
                caches: list | None = None, last_only: bool = False):
        """Next-token logits and, with targets, the mean cross-entropy loss.

        Args:
            idx: token ids (B, T), int64, each in [0, vocab_size).
            targets: the next token at each position (B, T); -1 marks positions to ignore.
            caches: decode caches from :meth:`new_caches`; idx then holds only the new tokens.
            last_only: compute logits for the last position only (B, 1, V) — what decoding
                needs, and V/C times cheaper in the head for long inputs.

        Returns:
            (logits (B, T, V) or (B, 1, V), loss: a scalar tensor or None). In training mode
            the loss includes the layers' auxiliary losses (MoE balancing / z-loss), so
            ``train`` needs no special case; in eval mode it is the cross-entropy alone (what
            perplexity measures). Either way the auxiliary part is kept in ``self.aux_loss``.
        """
        _check_ids(idx, self.config, caches)
        if targets is not None:
            if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
                raise ValueError(
                    f"targets must be a tensor shaped like idx {tuple(idx.shape)}, got "
                    f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else targets!r}"
                )
            last_only = False
        logits = self._forward(idx, caches, last_only)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(),
                                   ignore_index=-1)
            if self.training and self.aux_loss is not None:
                loss = loss + self.aux_loss
        return logits, loss

    def _forward(self, idx: torch.Tensor, caches: list | None, last_only: bool) -> torch.Tensor:
        """The forward pass without input checks (the decode loop calls this every token)."""
        aux_layers = self._aux_layers
        for mlp in aux_layers:
            mlp.aux_loss = None  # each MoE layer sums its losses over this forward's calls
        x = self.dropout(self.tok_emb(idx))  # (B, T, C)
        for i, j in enumerate(self.layer_blocks):
            x = self.blocks[j](x, self.rope, None if caches is None else caches[i])
        losses = [m.aux_loss for m in aux_layers if m.aux_loss is not None]
        self.aux_loss = sum(losses) if losses else None
        if last_only:
            x = x[:, -1:]  # (B, 1, C)
        return self.head(self.norm(x))  # (B, T, V)

    def new_caches(self, batch: int, max_len: int | None = None) -> list:
        """One empty decode cache (or state) per layer, on the model's device and dtype.

        Shared blocks share weights, not caches: every layer keeps its own.
        """
        max_len = max_len or self.config.max_seq_len
        dtype = self.tok_emb.weight.dtype
        return [self.blocks[j].mixer.new_cache(batch, max_len, device=self.device, dtype=dtype)
                for j in self.layer_blocks]

    @torch.no_grad()
    def optimize_for_decode(self) -> SLM:
        """Store every weight matrix transposed in memory, for fast one-token decoding.

        Decoding multiplies each weight matrix by a single vector. On CPUs the BLAS
        matrix-vector path streams a weight stored (in, out) row by row faster than the
        (out, in) rows nn.Linear keeps (measured 1.2–1.7× per matrix, about 1.25× per token
        at the bench's Llama shapes). Values, shapes, ``state_dict`` and outputs do not
        change, only the strides; tied weights stay tied. Training still works but its
        large matrix products are slower this way, so this is opt-in; ``compile_decode``
        generates its own matrix-vector loops, which want the (out, in) rows, so it is faster
        without this. Returns ``self``.
        """
        new = {}
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)) and module.weight.dim() == 2:
                old = module.weight
                if id(old) not in new:
                    new[id(old)] = nn.Parameter(old.t().contiguous().t(),
                                                requires_grad=old.requires_grad)
                module.weight = new[id(old)]
        return self

    def compile_decode(self, enable: bool = True) -> SLM:
        """Decode one token per step through a compiled step (see compiled_decode.py).

        ``generate`` (with ``use_cache``) then runs each decode step as one kernel compiled
        ahead of time: same numbers up to float rounding, a fraction of the per-op overhead.
        The first generate compiles (tens of seconds, then kept on disk; needs a C++ compiler,
        else it warns and runs uncompiled). Needs mixer "attention" and mlp "swiglu" in every
        layer (ValueError otherwise). ``enable=False`` goes back to eager decoding. Returns
        ``self``.
        """
        from .compiled_decode import CompiledDecoder

        self.compiled_decoder = CompiledDecoder(self) if enable else None
        return self

    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
                 seed: int | None = None, stop_token: int | None = None) -> torch.Tensor:
        """Continue ``idx``; see :func:`slmlab.model.generation.generate` for the rules."""
        from .generation import generate

        return generate(self, idx, max_new_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, use_cache=use_cache, seed=seed, stop_token=stop_token)


def check_token_ids(idx, vocab_size: int, shapes: str = "(batch, time)") -> None:
    """A clear ValueError unless ``idx`` is a non-empty int64 tensor of ids in [0, vocab_size).

    Shared by ``forward`` and ``generate`` (``shapes`` names the shapes each accepts).
    """
    if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long:
        got = (f"{idx.dtype} tensor of shape {tuple(idx.shape)}"
               if isinstance(idx, torch.Tensor) else type(idx).__name__)
        raise ValueError(f"idx must be an int64 tensor of shape {shapes}, got {got}")
    if idx.shape[-1] == 0:
        raise ValueError(f"idx must hold at least one token, got shape {tuple(idx.shape)}")
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= vocab_size:
        raise ValueError(f"token ids must be in [0, {vocab_size}), got values in [{low}, {high}]")


@torch.compiler.disable  # reads token values (data-dependent): always runs eagerly
def _check_ids(idx, config: ModelConfig, caches) -> None:
    if isinstance(idx, torch.Tensor) and idx.dim() != 2:
        raise ValueError(f"idx must be an int64 tensor of shape (batch, time), got shape "
                         f"{tuple(idx.shape)}")
    check_token_ids(idx, config.vocab_size)
    start = caches[0].length if caches else 0
    if start + idx.shape[1] > config.max_seq_len:
        raise ValueError(
            f"sequence of {start + idx.shape[1]} tokens is longer than max_seq_len "
            f"({config.max_seq_len}); crop it (generate() does this for you)"
        )
