"""Recipes of the shipped models: data, tokenizer, shape and training budget, all seeded.

``python -m slmlab.zoo build NAME`` runs a recipe from scratch and writes the weights and the
manifest entry (recipe + measured metrics). ``quick=True`` shrinks data and steps (tests use it
to check that the build path works end to end; the result is not worth shipping).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch

from ..compare import fault_task
from ..data import BPETokenizer, python_docs
from ..evaluate import diagnosis_accuracy, perplexity
from ..model import SLM, ModelConfig
from ..train import train


@dataclass(frozen=True)
class Recipe:
    """Everything needed to rebuild one zoo model."""

    name: str
    description: str
    model: dict  # ModelConfig fields except vocab_size (set by the tokenizer)
    train: dict  # keyword arguments of slmlab.train.train
    data: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


FAULT_EXPLAINER = Recipe(
    name="fault-explainer",
    description="Character-level model that reads a machine's sensor readings and writes the "
                "diagnosis and a one-sentence explanation (the course's task).",
    model=dict(n_layer=4, n_head=4, n_kv_head=4, d_model=192, max_seq_len=128,
               tie_embeddings=True),
    train=dict(steps=1000, batch_size=24, seq_len=128, lr=3e-3, warmup=50,
               eval_every=200, eval_batches=8),
    # answers_only: the loss scores the answer (label + explanation), not the readings, which
    # are random and cannot be predicted — as in instruction tuning.
    data=dict(train_reports=30000, train_seed=1, test_reports=1000, test_seed=2,
              answers_only=True),
)

PYDOCS_BPE = Recipe(
    name="pydocs-bpe",
    description="Byte-level BPE model of English technical prose: the help topics that ship "
                "with Python (pydoc_data).",
    # The docs are small (~140k BPE tokens): a short run with dropout before it memorizes them.
    model=dict(n_layer=4, n_head=4, n_kv_head=2, d_model=192, max_seq_len=256,
               tie_embeddings=True, dropout=0.1),
    train=dict(steps=300, batch_size=16, seq_len=256, lr=2e-3, warmup=15,
               eval_every=100, eval_batches=8),
    data=dict(vocab_size=1024, val_fraction=0.1),
)

RECIPES = {r.name: r for r in (FAULT_EXPLAINER, PYDOCS_BPE)}


def _scaled(recipe: Recipe, quick: bool) -> tuple[dict, dict]:
    train_kw, data = dict(recipe.train), dict(recipe.data)
    if quick:
        train_kw.update(steps=3, eval_every=3, eval_batches=1, warmup=1)
        data.update({k: v for k, v in (("train_reports", 200), ("test_reports", 20),
                                        ("vocab_size", 300)) if k in data})
    return train_kw, data


@dataclass
class Prepared:
    """A recipe's data, tokenizer and training settings, ready to train and to score."""

    tokenizer: object
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    train_kw: dict
    test_reports: list | None = None
    loss_mask: torch.Tensor | None = None


def prepare(name: str, quick: bool = False) -> Prepared:
    """Generate the data and train the tokenizer of recipe ``name`` (deterministic)."""
    recipe = RECIPES[name]
    train_kw, data = _scaled(recipe, quick)
    if name == "fault-explainer":
        # Held out: another seed, minus any report whose prompt also occurs in training.
        task = fault_task(data["train_reports"], data["test_reports"], seed=data["train_seed"],
                          test_seed=data["test_seed"])
        mask = task.train_mask if data.get("answers_only") else None
        return Prepared(task.tokenizer, task.train_ids, task.val_ids, train_kw,
                        task.test_reports, mask)
    text = python_docs()
    if quick:
        text = text[:60_000]
    cut = int(len(text) * (1 - data["val_fraction"]))
    cut = text.rfind("\n", 0, cut) + 1 or cut  # split at a line boundary
    tokenizer = BPETokenizer().train(text[:cut], data["vocab_size"])
    return Prepared(tokenizer, torch.tensor(tokenizer.encode(text[:cut]), dtype=torch.long),
                    torch.tensor(tokenizer.encode(text[cut:]), dtype=torch.long), train_kw)


def train_recipe(name: str, prepared: Prepared, *, progress: bool = True, callback=None):
    """Train a fresh model on prepared data: (model, history)."""
    recipe = RECIPES[name]
    torch.manual_seed(recipe.seed)
    model = SLM(ModelConfig(vocab_size=prepared.tokenizer.vocab_size, **recipe.model))
    history = train(model, prepared.train_ids, prepared.val_ids, seed=recipe.seed,
                    progress=progress, callback=callback, loss_mask=prepared.loss_mask,
                    **prepared.train_kw)
    return model, history


def measure(name: str, model, tokenizer, prepared: Prepared) -> dict:
    """The metrics the manifest records, measured on ``model``."""
    seq_len = prepared.train_kw["seq_len"]
    metrics = {"val_perplexity": round(perplexity(model, prepared.val_ids, seq_len=seq_len), 3)}
    if prepared.test_reports is not None:
        metrics["diagnosis_accuracy"] = round(
            diagnosis_accuracy(model, tokenizer, prepared.test_reports), 4)
        metrics["held_out_reports"] = len(prepared.test_reports)
    return metrics


def run(name: str, quick: bool = False, progress: bool = True, callback=None):
    """Build one recipe from scratch: (model in float32, prepared data, manifest entry)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; available: {sorted(RECIPES)}")
    recipe = RECIPES[name]
    t0 = time.perf_counter()
    prepared = prepare(name, quick)
    model, history = train_recipe(name, prepared, progress=progress, callback=callback)
    entry = {
        "description": recipe.description,
        "recipe": recipe.to_dict(),
        "params": model.num_params(),
        "vocab_size": prepared.tokenizer.vocab_size,
        "train_tokens": len(prepared.train_ids),
        "final_val_loss": round(history.final_val_loss, 4),
        "train_seconds": round(history.seconds, 1),
        "train_tokens_per_s": round(history.tokens_per_s),
        "build_seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__.split("+")[0],
    }
    return model, prepared, entry
