"""Evaluation: perplexity on held-out text and diagnosis accuracy on the fault-report task."""

from __future__ import annotations

import math
from collections import defaultdict

import torch

from .model import SLM


@torch.no_grad()
def perplexity(model: SLM, ids, *, seq_len: int | None = None, batch_size: int = 8,
               max_windows: int | None = None) -> float:
    """exp(mean next-token cross-entropy) over consecutive windows of ``ids``.

    The ids are cut into non-overlapping windows of ``seq_len`` (default: max_seq_len) tokens;
    each window predicts its next ``seq_len`` tokens, so every token after the first is scored
    once (the leftover tail shorter than a window is dropped). Lower is better; a model that
    guesses uniformly scores exactly vocab_size.

    Args:
        model: an SLM. ids: 1-D int64 token ids (at least seq_len + 1).
        seq_len: window length. batch_size: windows per forward pass.
        max_windows: score only the first N windows (quick estimates).
    """
    if not isinstance(model, SLM):
        raise TypeError(f"perplexity() needs an SLM, got {type(model).__name__}")
    ids = torch.as_tensor(ids, dtype=torch.long)
    seq_len = seq_len or model.config.max_seq_len
    if ids.dim() != 1 or len(ids) < seq_len + 1:
        raise ValueError(f"ids must be 1-D with at least seq_len + 1 = {seq_len + 1} tokens, "
                         f"got shape {tuple(ids.shape)}")
    if seq_len > model.config.max_seq_len:
        raise ValueError(f"seq_len ({seq_len}) must be <= max_seq_len "
                         f"({model.config.max_seq_len})")
    n_windows = (len(ids) - 1) // seq_len
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    windows = ids[: n_windows * seq_len + 1]
    x_all = windows[:-1].view(n_windows, seq_len)
    y_all = windows[1:].view(n_windows, seq_len)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, n_windows, batch_size):
        x = x_all[i : i + batch_size].to(model.device)
        y = y_all[i : i + batch_size].to(model.device)
        _, loss = model(x, y)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return math.exp(total / count)


@torch.no_grad()
def diagnose(model: SLM, tokenizer, prompts: list[str], *, max_new_tokens: int = 24,
             batch_size: int = 64) -> list[str]:
    """Greedy answers to ``prompts``: the generated text after each prompt.

    Prompts of the same token length are batched together (no padding needed); generation
    stops once every row of a batch has produced a newline, if the tokenizer has one.
    """
    stop = None
    try:
        newline = tokenizer.encode("\n")
        stop = newline[0] if len(newline) == 1 else None
    except ValueError:
        pass
    encoded = [tokenizer.encode(p) for p in prompts]
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(encoded):
        by_length[len(ids)].append(i)
    answers: list[str] = [""] * len(prompts)
    for length, members in by_length.items():
        for j in range(0, len(members), batch_size):
            rows = members[j : j + batch_size]
            idx = torch.tensor([encoded[r] for r in rows], dtype=torch.long, device=model.device)
            out = model.generate(idx, max_new_tokens, temperature=0.0, stop_token=stop)
            for r, seq in zip(rows, out[:, length:].tolist()):
                answers[r] = tokenizer.decode(seq)
    return answers


def diagnosis_accuracy(model: SLM, tokenizer, reports, *, max_new_tokens: int = 24,
                       return_answers: bool = False):
    """Fraction of held-out fault reports whose generated diagnosis equals the true label.

    For each report the model greedily continues ``report.prompt``; the label is parsed from
    the continuation with :func:`slmlab.data.parse_diagnosis` (an unparseable answer counts as
    wrong).

    Args:
        model: an SLM trained on fault reports. tokenizer: its tokenizer.
        reports: FaultReport items (with ``.prompt`` and ``.label``).
        max_new_tokens: tokens generated per answer (enough for the longest label).
        return_answers: also return the list of (generated text, parsed label).
    """
    from .data import parse_diagnosis

    reports = list(reports)
    if not reports:
        raise ValueError("reports is empty: need at least one FaultReport to score")
    if not all(hasattr(r, "prompt") and hasattr(r, "label") for r in reports):
        raise ValueError("reports must be FaultReport items with .prompt and .label")
    answers = diagnose(model, tokenizer, [r.prompt for r in reports],
                       max_new_tokens=max_new_tokens)
    parsed = [parse_diagnosis(a) for a in answers]
    accuracy = sum(p == r.label for p, r in zip(parsed, reports)) / len(reports)
    if return_answers:
        return accuracy, list(zip(answers, parsed))
    return accuracy
