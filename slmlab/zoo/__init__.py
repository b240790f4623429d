"""The model zoo: small trained models shipped inside the package, so later labs load instead of
retraining. Each is rebuilt from scratch by ``python -m slmlab.zoo build NAME``; its recipe and
measured metrics are in ``manifest.json`` beside the weights.

    names()            the shipped models
    info(name)         the manifest entry: description, recipe, parameters, metrics
    load(name)         (model, tokenizer), the model in eval mode
    build(name, ...)   retrain from the recipe and write weights + manifest entry
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).parent
MANIFEST = ROOT / "manifest.json"
WEIGHTS = ROOT / "weights"


def _manifest(root: Path = ROOT) -> dict:
    path = root / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def names() -> list[str]:
    """Names of the models shipped with this installation."""
    return sorted(_manifest())


def info(name: str) -> dict:
    """The manifest entry of ``name`` (recipe, parameter count, measured metrics)."""
    manifest = _manifest()
    if name not in manifest:
        raise ValueError(f"unknown zoo model {name!r}; available: {sorted(manifest)}")
    return manifest[name]


def load(name: str, *, device=None):
    """Load a shipped model: returns (model, tokenizer), the model in eval mode (float32)."""
    entry = info(name)  # clear error for unknown names
    model, tokenizer = _load_file(ROOT / entry["file"])
    return (model if device is None else model.to(device)), tokenizer


def build(name: str, *, out_dir: str | Path | None = None, quick: bool = False,
          progress: bool = True, callback=None) -> dict:
    """Rebuild ``name`` from its recipe; write weights (float16) and its manifest entry.

    The metrics in the manifest are measured on the written (float16) weights, i.e. on exactly
    what :func:`load` returns.

    Args:
        name: a recipe name (see ``recipes.RECIPES``).
        out_dir: where to write (default: inside the package, replacing the shipped model).
        quick: tiny data and 3 steps — checks the pipeline, not worth shipping.
        callback: passed to ``slmlab.train.train`` (e.g. to watch progress).
    """
    from .. import checkpoint
    from ..files import atomic_write_bytes
    from . import recipes

    root = Path(out_dir) if out_dir is not None else ROOT
    model, prepared, entry = recipes.run(name, quick=quick, progress=progress,
                                         callback=callback)
    # Half precision halves the download; load() converts back to float32.
    path = checkpoint.save(root / "weights" / f"{name}.safetensors", model.half(),
                           prepared.tokenizer, extra={"zoo": name})
    shipped, tokenizer = _load_file(path)
    entry["metrics"] = recipes.measure(name, shipped, tokenizer, prepared)
    entry["file"] = f"weights/{path.name}"
    entry["bytes"] = path.stat().st_size
    manifest = _manifest(root)
    manifest[name] = entry
    atomic_write_bytes(root / "manifest.json",
                       (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return entry


def _load_file(path: str | Path):
    from .. import checkpoint

    model, tokenizer = checkpoint.load(path)
    return model.float(), tokenizer
