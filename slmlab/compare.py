"""Architecture studies: train variants on the same data with the same budget, then score them.

A study is a base shape plus named changes to it (``{"sliding_window": {"mixer":
"sliding_window", "window": 32}, ...}``). Every variant trains with the same seed, the same
batches and the same number of steps on the fault-report task, and is scored on the same held-out
reports, so the differences come from the architecture alone.

``python -m slmlab.compare STUDY`` runs a study in full and writes its results (recipe, measured
numbers, the machine's timing) to ``slmlab/results/STUDY.json``; labs 03–05 show those results
next to the small runs they train live. ``load_results(STUDY)`` reads them.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import CharTokenizer, drop_overlap, fault_reports
from .evaluate import diagnosis_accuracy
from .files import atomic_write_text
from .model import SLM, ModelConfig, active_params
from .train import estimate_loss, train

RESULTS = Path(__file__).parent / "results"

# The shared shape and budget: a 4-layer, 128-wide character model, about 0.8M parameters, and
# 1000 steps of 16 × 128 characters with the loss on the answers only.
BASE = dict(n_layer=4, n_head=4, d_model=128, max_seq_len=128)
BUDGET = dict(steps=1000, batch_size=16, seq_len=128, lr=3e-3, warmup=50, eval_every=250,
              eval_batches=8)

STUDIES = {
    "mixers": {
        "attention": {},
        "sliding_window": dict(mixer="sliding_window", window=32),
        "block_sparse": dict(mixer="block_sparse", block_size=16, n_global=16),
        "linear_attention": dict(mixer="linear_attention"),
        "ssm": dict(mixer="ssm"),
        "hybrid": dict(mixer=["ssm", "ssm", "attention", "ssm"]),
    },
    "sharing_experts": {
        "dense": {},
        "shared_all_1": dict(n_unique_blocks=1),
        "shared_repeat_2": dict(n_unique_blocks=2, share_pattern="repeat"),
        "moe_4x2": dict(mlp="moe", n_experts=4, top_k=2),
        "moe_4x1": dict(mlp="moe", n_experts=4, top_k=1),
        "moe_4x2_no_balance": dict(mlp="moe", n_experts=4, top_k=2, moe_aux_loss_weight=0.0),
    },
}


@dataclass
class FaultTask:
    """Character-level fault-report data with answer-only loss masks and held-out reports."""

    tokenizer: CharTokenizer
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    train_mask: torch.Tensor  # True where the target is part of an answer
    val_mask: torch.Tensor
    test_reports: list


def fault_task(n_train: int = 20000, n_test: int = 300, *, seed: int = 0,
               test_seed: int | None = None) -> FaultTask:
    """Generate the task: ``n_train`` reports (95% train, 5% validation) and ``n_test`` held-out
    reports from another seed (default seed + 1000), minus any whose prompt occurs in the
    training reports. The zoo's fault explainer is trained on the same construction."""
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    reports = fault_reports(n_train, seed=seed)
    test_seed = seed + 1000 if test_seed is None else test_seed
    test = drop_overlap(fault_reports(n_test, seed=test_seed), reports)
    text = "".join(r.text for r in reports)
    tokenizer = CharTokenizer().train(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    mask = torch.tensor([c for r in reports
                         for c in [False] * len(r.prompt) + [True] * len(r.answer)])
    split = int(0.95 * len(ids))
    return FaultTask(tokenizer, ids[:split], ids[split:], mask[:split], mask[split:], test)


def train_and_score(changes: dict, task: FaultTask, *, base: dict | None = None,
                    budget: dict | None = None, seed: int = 0, progress: bool = False,
                    callback=None) -> dict:
    """Train one variant (``base`` updated with ``changes``) and measure it.

    Returns:
        a dict: params, active_params (what one token uses), answer_loss (validation loss on
        the answers), accuracy (diagnosis accuracy on task.test_reports), train_seconds,
        tokens_per_s, plus ``model`` and ``history`` (not JSON; the CLI drops them).
    """
    if not isinstance(changes, dict):
        raise TypeError(f"changes must be a dict of ModelConfig fields, got {changes!r}")
    budget = {**BUDGET, **(budget or {})}
    config = ModelConfig(vocab_size=task.tokenizer.vocab_size, **{**(base or BASE), **changes})
    torch.manual_seed(seed)
    model = SLM(config)
    history = train(model, task.train_ids, task.val_ids, seed=seed, progress=progress,
                    callback=callback, loss_mask=task.train_mask, val_loss_mask=task.val_mask,
                    **budget)
    answer_loss = estimate_loss(model, task.val_ids, batch_size=budget["batch_size"],
                                seq_len=budget["seq_len"], batches=16, loss_mask=task.val_mask)
    return {
        "params": model.num_params(),
        "active_params": active_params(model),
        "answer_loss": round(answer_loss, 4),
        "accuracy": round(diagnosis_accuracy(model, task.tokenizer, task.test_reports), 4),
        "train_seconds": round(history.seconds, 1),
        "tokens_per_s": round(history.tokens_per_s),
        "model": model,
        "history": history,
    }


def run_study(name: str, *, quick: bool = False, progress: bool = True,
              out: str | Path | None = None) -> dict:
    """Train and score every variant of study ``name``; write the results JSON atomically.

    ``quick`` shrinks data and steps to check the path end to end (results not meaningful;
    written only when ``out`` is given).
    """
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; available: {sorted(STUDIES)}")
    budget = dict(BUDGET, steps=4, eval_every=4, eval_batches=1, warmup=1) if quick else BUDGET
    n_train, n_test = (300, 20) if quick else (20000, 300)
    task = fault_task(n_train, n_test)
    rows = []
    for variant, changes in STUDIES[name].items():
        t0 = time.perf_counter()
        result = train_and_score(changes, task, budget=budget, progress=progress)
        row = {"name": variant, "changes": changes,
               **{k: v for k, v in result.items() if k not in ("model", "history")}}
        rows.append(row)
        if progress:
            print(f"{variant:<20} acc {row['accuracy']:.3f}  answer loss {row['answer_loss']:.3f}"
                  f"  {row['params']:,} params  {time.perf_counter() - t0:.0f} s", flush=True)
    results = {
        "study": name,
        "base": BASE,
        "budget": budget,
        "task": {"reports": n_train, "characters": len(task.train_ids) + len(task.val_ids),
                 "held_out_reports": len(task.test_reports)},
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",  # edit in a note on the load, if any
        "results": rows,
    }
    path = out if out is not None else (None if quick else RESULTS / f"{name}.json")
    if path is not None:
        atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    return results


def load_results(name: str) -> dict:
    """The stored results of study ``name`` (written by ``python -m slmlab.compare NAME``)."""
    path = RESULTS / f"{name}.json"
    if name not in STUDIES or not path.exists():
        have = sorted(p.stem for p in RESULTS.glob("*.json")) if RESULTS.exists() else []
        raise ValueError(f"no stored results for study {name!r}; stored: {have}")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slmlab.compare",
                                     description="Train and score architecture variants.")
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--quick", action="store_true", help="tiny run to check the path")
    parser.add_argument("--out", help="where to write the JSON (default: slmlab/results/)")
    args = parser.parse_args(argv)
    run_study(args.study, quick=args.quick, out=args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
