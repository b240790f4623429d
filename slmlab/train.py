"""The training loop: AdamW, linear warm-up then cosine decay, gradient clipping, periodic
validation, progress bar, seeded batches, and checkpoints you can resume from exactly.

    for step in 0 .. steps-1:
        x, y = random windows of seq_len tokens (y is x shifted by one)
        loss = model(x, y)           # mean next-token cross-entropy (+ any auxiliary losses)
        loss.backward(); clip; set lr(step); AdamW step

Same seed, same data, same machine: the same losses, to the last bit — and a run resumed from
a checkpoint continues exactly as if it had never stopped.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .model import SLM


@dataclass
class History:
    """What happened during training; lists are aligned by index."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_per_s: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def final_val_loss(self) -> float | None:
        return self.val_loss[-1] if self.val_loss else None


def lr_at(step: int, *, lr: float, warmup: int, steps: int, min_lr_ratio: float) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to min_lr_ratio·lr."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return lr * (min_lr_ratio + (1.0 - min_lr_ratio) * cosine)


def get_batch(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator,
              loss_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs x and next-token targets y, each (B, seq_len).

    With a ``loss_mask`` (bool, aligned with ids), targets where the mask is False become -1,
    which the loss ignores.
    """
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    index = starts[:, None] + torch.arange(seq_len + 1)[None, :]  # (B, seq_len + 1)
    windows = ids[index]
    x, y = windows[:, :-1], windows[:, 1:]
    if loss_mask is not None:
        y = y.masked_fill(~loss_mask[index[:, 1:]], -1)
    return x, y


def _as_ids(name: str, ids, seq_len: int) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        try:
            ids = torch.as_tensor(ids, dtype=torch.long)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a 1-D sequence of token ids") from None
    if ids.dim() != 1 or ids.dtype != torch.long:
        raise ValueError(f"{name} must be a 1-D int64 tensor of token ids, got "
                         f"{ids.dtype} of shape {tuple(ids.shape)}")
    if len(ids) < seq_len + 2:
        raise ValueError(f"{name} has {len(ids)} tokens; need at least seq_len + 2 = "
                         f"{seq_len + 2}")
    return ids


def _as_mask(name: str, mask, ids_name: str, ids: torch.Tensor) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = torch.as_tensor(mask, dtype=torch.bool)
    if mask.shape != ids.shape:
        raise ValueError(f"{name} must have the shape of {ids_name} {tuple(ids.shape)}, got "
                         f"{tuple(mask.shape)}")
    return mask


def _optimizer(model: SLM, lr: float, weight_decay: float, betas) -> torch.optim.AdamW:
    # Decay matrices only: norm gains are scales, decaying them toward 0 would fight the norm.
    # A parameter can opt out (the SSM's A_log: a decay rate, not a weight).
    def decays(p):
        return p.dim() >= 2 and not getattr(p, "_no_weight_decay", False)

    decay = [p for p in model.parameters() if decays(p)]
    no_decay = [p for p in model.parameters() if not decays(p)]
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    # fused: torch's one-kernel AdamW (CPU, CUDA, MPS); the default runs ~10 ops per tensor
    # list and took 4× as long per step on a 2-core CPU.
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)


@torch.no_grad()
def estimate_loss(model: SLM, ids: torch.Tensor, *, batch_size: int, seq_len: int,
                  batches: int, seed: int = 1234, loss_mask: torch.Tensor | None = None) -> float:
    """Mean loss over ``batches`` fixed random windows (same windows every call); with a
    ``loss_mask`` aligned with ids, only the targets where it is True count."""
    was_training = model.training
    model.eval()
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(batches):
        x, y = get_batch(ids, batch_size, seq_len, g, loss_mask)
        _, loss = model(x.to(model.device), y.to(model.device))
        total += loss.item()
    model.train(was_training)
    return total / batches


def train(model: SLM, train_ids, val_ids=None, *, steps: int, batch_size: int = 16,
          seq_len: int = 128, lr: float = 1e-3, warmup: int | None = None,
          min_lr_ratio: float = 0.1, weight_decay: float = 0.1,
          betas: tuple[float, float] = (0.9, 0.95), grad_clip: float = 1.0,
          eval_every: int | None = None, eval_batches: int = 8, seed: int = 0,
          checkpoint_path: str | Path | None = None, checkpoint_every: int | None = None,
          resume: bool = False, tokenizer=None, progress: bool = True,
          callback=None, loss_mask=None, val_loss_mask=None) -> History:
    """Train ``model`` in place on next-token prediction.

    Args:
        model: an SLM (on the device to train on).
        train_ids, val_ids: 1-D int64 token ids (val_ids optional).
        steps: optimizer steps in total (with ``resume``, including the steps already done).
        batch_size, seq_len: windows per step and tokens per window.
        lr, warmup, min_lr_ratio: peak learning rate, warm-up steps (default 5% of steps),
            floor of the cosine decay as a fraction of lr.
        weight_decay, betas: AdamW settings. grad_clip: max global gradient norm (0 = off).
        eval_every, eval_batches: validate every N steps (and at the end) on eval_batches
            fixed windows of val_ids.
        seed: seeds the batch sampler (and, through torch, dropout).
        checkpoint_path, checkpoint_every: write a resumable checkpoint every N steps and at
            the end. resume: continue from checkpoint_path if it exists.
        tokenizer: stored in the checkpoints so they load as (model, tokenizer).
        progress: show a tqdm progress bar.
        callback: called as callback(step, history) after every step (e.g. a live plot).
        loss_mask: optional bool tensor aligned with train_ids: only targets where it is True
            count in the training loss (e.g. answers but not prompts, as in instruction
            tuning).
        val_loss_mask: the same for val_ids (default: validation scores every token).

    Returns:
        a :class:`History`.
    """
    if not isinstance(model, SLM):
        raise TypeError(f"train() needs an SLM, got {type(model).__name__}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if seq_len > model.config.max_seq_len:
        raise ValueError(f"seq_len ({seq_len}) must be <= the model's max_seq_len "
                         f"({model.config.max_seq_len})")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not 0 <= min_lr_ratio <= 1:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio!r}")
    if checkpoint_every is not None and checkpoint_path is None:
        raise ValueError("checkpoint_every needs a checkpoint_path to write to")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs the checkpoint_path to resume from")
    train_ids = _as_ids("train_ids", train_ids, seq_len)
    loss_mask = _as_mask("loss_mask", loss_mask, "train_ids", train_ids)
    if val_ids is not None:
        val_ids = _as_ids("val_ids", val_ids, seq_len)
        val_loss_mask = _as_mask("val_loss_mask", val_loss_mask, "val_ids", val_ids)
    elif val_loss_mask is not None:
        raise ValueError("val_loss_mask needs val_ids to go with it")
    warmup = max(1, steps // 20) if warmup is None else warmup
    if eval_every is None:
        eval_every = max(1, steps // 10)

    if checkpoint_path is not None:
        checkpoint_path = ckpt.with_suffix(checkpoint_path)
    torch.manual_seed(seed)  # dropout
    generator = torch.Generator().manual_seed(seed)
    optimizer = _optimizer(model, lr, weight_decay, betas)
    history, start = History(), 0
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        start, history = _restore(checkpoint_path, model, optimizer, generator)

    device = model.device
    model.train()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start, desc="training", leave=False)
    t0, tokens = time.perf_counter(), 0
    for step in range(start, steps):
        x, y = get_batch(train_ids, batch_size, seq_len, generator, loss_mask)
        x, y = x.to(device), y.to(device)
        step_lr = lr_at(step, lr=lr, warmup=warmup, steps=steps, min_lr_ratio=min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        tokens += x.numel()

        history.steps.append(step + 1)
        history.train_loss.append(loss.item())
        history.lr.append(step_lr)
        last = step + 1 == steps
        if val_ids is not None and ((step + 1) % eval_every == 0 or last):
            history.val_steps.append(step + 1)
            history.val_loss.append(estimate_loss(model, val_ids, batch_size=batch_size,
                                                  seq_len=seq_len, batches=eval_batches,
                                                  loss_mask=val_loss_mask))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        if checkpoint_path is not None and (
            last or (checkpoint_every and (step + 1) % checkpoint_every == 0)
        ):
            _save_state(checkpoint_path, model, optimizer, generator, step + 1, history,
                        tokenizer)
        if callback is not None:
            callback(step + 1, history)
    if bar is not None:
        bar.close()
    history.seconds = time.perf_counter() - t0
    history.tokens_per_s = tokens / history.seconds if history.seconds > 0 else 0.0
    model.eval()
    return history


def _save_state(path, model, optimizer, generator, step, history, tokenizer) -> None:
    """A checkpoint that also holds the optimizer moments, the sampler's RNG and the history."""
    state = optimizer.state_dict()
    tensors = {"rng.batches": generator.get_state(), "rng.torch": torch.get_rng_state()}
    for idx, s in state["state"].items():
        for key, value in s.items():
            tensors[f"optim.{idx}.{key}"] = torch.as_tensor(value)
    groups = [{k: v for k, v in g.items()} for g in state["param_groups"]]
    extra = {"training": {"step": step, "param_groups": groups, "history": history.to_dict()}}
    ckpt.save(path, model, tokenizer, extra=json.loads(json.dumps(extra)), extra_tensors=tensors)


def _restore(path, model, optimizer, generator) -> tuple[int, History]:
    tensors, meta = ckpt.read(path)
    training = meta["extra"].get("training")
    if training is None:
        raise ValueError(f"{path} holds no training state to resume from (saved by save()?)")
    ckpt.load_weights(model, tensors, path)
    state: dict = {}
    for name, t in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = t
    optimizer.load_state_dict({"state": state, "param_groups": training["param_groups"]})
    generator.set_state(tensors["rng.batches"])
    torch.set_rng_state(tensors["rng.torch"])
    return training["step"], History(**training["history"])
