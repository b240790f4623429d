"""Checkpoints: one safetensors file holding the weights, with the config, the tokenizer and a
checksum as JSON in its header. Never pickle: loading a checkpoint cannot run code.

File layout (``*.safetensors``):
    tensors   the model's state dict (a tied head is stored once, as the embedding),
              plus any extra tensors (optimizer moments, RNG state) under their own prefix
    metadata  "format": "slmlab-checkpoint/1"
              "config": ModelConfig as JSON
              "tokenizer": the tokenizer's to_dict() as JSON (or "null")
              "sha256": hash of every tensor's name, dtype, shape and bytes
              "extra": free JSON (training state, recipe, metrics)

Writes are atomic: a temporary file in the same folder, flushed, then renamed over the target,
so a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .files import atomic_write_bytes
from .model import SLM, ModelConfig

FORMAT = "slmlab-checkpoint/1"


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def with_suffix(path: str | os.PathLike) -> Path:
    """``path`` with ``.safetensors`` appended unless it already ends so."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def model_tensors(model: SLM) -> dict[str, torch.Tensor]:
    """The model's weights by name, each stored once (a tied head is the embedding)."""
    state = model.state_dict()
    if model.config.tie_embeddings:
        state.pop("head.weight", None)
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save(path: str | os.PathLike, model: SLM, tokenizer=None, *,
         extra: dict | None = None, extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Save ``model`` (and its tokenizer) to one ``.safetensors`` file, atomically.

    Args:
        path: target file; ``.safetensors`` is appended if missing.
        model: an :class:`~slmlab.model.SLM`.
        tokenizer: anything with ``to_dict()`` (CharTokenizer, BPETokenizer) or None.
        extra: JSON-serialisable information kept beside the weights (recipe, metrics...).
        extra_tensors: more tensors to store (names must not start with a model key).

    Returns:
        the path written.
    """
    if not isinstance(model, SLM):
        raise TypeError(f"save() needs an SLM, got {type(model).__name__}")
    if tokenizer is not None and not hasattr(tokenizer, "to_dict"):
        raise TypeError(f"tokenizer must have to_dict() (got {type(tokenizer).__name__})")
    path = with_suffix(path)
    tensors = model_tensors(model)
    for name, t in (extra_tensors or {}).items():
        if name in tensors:
            raise ValueError(f"extra tensor name {name!r} clashes with a model weight")
        tensors[name] = t.detach().cpu().contiguous()
    metadata = {
        "format": FORMAT,
        "config": json.dumps(model.config.to_dict()),
        "tokenizer": json.dumps(tokenizer.to_dict() if tokenizer is not None else None),
        "extra": json.dumps(extra or {}),
        "sha256": _digest(tensors),
    }
    atomic_write_bytes(path, st_save(tensors, metadata=metadata))
    return path


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify a checkpoint file: (tensors, metadata with JSON fields decoded).

    Raises ValueError for a missing, truncated, corrupted or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint file at {path}")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a readable safetensors file (truncated or "
                         f"corrupted?): {e}") from None
    meta = header.get("__metadata__") or {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an slmlab checkpoint (format {meta.get('format')!r}, "
                         f"expected {FORMAT!r})")
    if _digest(tensors) != meta.get("sha256"):
        raise ValueError(f"{path} is corrupted: its tensors do not match the stored checksum")
    try:
        decoded = {k: json.loads(meta[k]) for k in ("config", "tokenizer", "extra")}
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} has a damaged header ({e})") from None
    return tensors, decoded


def load_weights(model: SLM, tensors: dict[str, torch.Tensor], path) -> None:
    """Copy the model's weights out of ``tensors`` (extra tensors are ignored), or raise a
    ValueError naming what is missing or mis-shaped."""
    expected = model_tensors(model)
    weights = {k: v for k, v in tensors.items() if k in expected}
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ValueError(f"{path} does not match its config: missing weights {missing[:5]}")
    wrong = [f"{k}: file {tuple(weights[k].shape)} vs config {tuple(expected[k].shape)}"
             for k in expected if weights[k].shape != expected[k].shape]
    if wrong:
        raise ValueError(f"{path} does not match its config: " + "; ".join(wrong[:5]))
    # A tied head is stored once, as the embedding: its key is absent on purpose.
    model.load_state_dict(weights, strict=not model.config.tie_embeddings)


def load(path: str | os.PathLike, *, device=None):
    """Load a checkpoint written by :func:`save`.

    Returns:
        (model, tokenizer) — tokenizer is None if none was saved. The model is in eval mode;
        its ``checkpoint_extra`` attribute holds the ``extra`` dict.
    """
    tensors, meta = read(path)
    config = ModelConfig.from_dict(meta["config"])
    model = SLM(config)
    load_weights(model, tensors, path)
    tokenizer = None
    if meta["tokenizer"] is not None:
        from .data import tokenizer_from_dict

        tokenizer = tokenizer_from_dict(meta["tokenizer"])
    model.checkpoint_extra = meta["extra"]
    if device is not None:
        model.to(device)
    return model.eval(), tokenizer
