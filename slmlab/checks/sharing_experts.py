"""Checks for the exercises of lab 04 (sharing and experts).

Each check runs the learner's function on seeded inputs and compares it with the library: the
layer -> block map with ``ModelConfig.layer_blocks``, top-k routing with ``MoE.route``, the
balancing loss with ``MoE.stats["balance_loss"]``, and capacity dropping with what an MoE layer
really computes in training mode. When an answer is off, the usual slips are recomputed and, if
one matches, named.

Glossary (Switch Transformers, Fedus et al. 2022, eq. 4):
    E        experts per layer;  k: experts per token;  N: tokens in the batch
    f_e      share of the k·N assignments that the router sent to expert e
    P_e      mean over the N tokens of the router's probability for expert e
    balance  E · Σ_e f_e · P_e: 1 when routing is uniform, E when all goes to one expert
"""

from __future__ import annotations

import torch

from slmlab.checks._model_compare import _call, _close, _tensor
from slmlab.model import ModelConfig
from slmlab.model.moe import MoE


def _moe(n_experts: int, top_k: int, *, d_model: int = 16, capacity_factor=1.25,
         seed: int = 0) -> MoE:
    """A small MoE layer with seeded weights (d_ff 8: the experts' size does not matter)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=8, n_layer=1, n_head=2, d_model=d_model, d_ff=8,
                      mlp="moe", n_experts=n_experts, top_k=top_k,
                      capacity_factor=capacity_factor)
    return MoE(cfg)


# -- 1. the layer -> block map -----------------------------------------------------------------
LAYER_CASES = ((4, 2, "all"), (4, 2, "repeat"), (6, 3, "all"), (6, 3, "repeat"),
               (6, 2, "repeat"), (5, 1, "all"), (3, 3, "repeat"))


def check_layer_blocks(fn) -> None:
    """Exercise: ``fn(n_layer, n_unique_blocks, share_pattern)`` returns which unique block each
    layer runs (a sequence of ints), as ``ModelConfig.layer_blocks`` does."""
    for L, n, pattern in LAYER_CASES:
        expected = ModelConfig(vocab_size=8, n_layer=L, n_head=2, d_model=16,
                               n_unique_blocks=n, share_pattern=pattern).layer_blocks
        out = _call(fn, "layer_blocks", L, n, pattern)
        try:
            answer = tuple(int(b) for b in out)
        except (TypeError, ValueError):
            raise AssertionError(f"layer_blocks should return a sequence of ints (one per "
                                 f"layer), got {out!r}.") from None
        if answer == expected:
            continue
        context = f"n_layer={L}, n_unique_blocks={n}, share_pattern={pattern!r}"
        cycle = tuple(i % n for i in range(L))
        runs = tuple(i // (L // n) for i in range(L))
        if len(answer) != L:
            hint = f"one entry per layer: {L} entries, got {len(answer)}."
        elif pattern == "all" and answer == runs:
            hint = ("that is 'repeat' (each block several times in a row); 'all' cycles "
                    "through the blocks: 0 1 2 0 1 2 (i % n_unique_blocks).")
        elif pattern == "repeat" and answer == cycle:
            hint = ("that is 'all' (cycling); 'repeat' runs each block several times in a row: "
                    "0 0 1 1 2 2 (i // (n_layer // n_unique_blocks)).")
        elif pattern == "repeat" and answer == tuple(min(i // n, n - 1) for i in range(L)):
            hint = ("each block runs n_layer // n_unique_blocks times in a row: divide the "
                    "layer index by that, not by n_unique_blocks.")
        else:
            hint = f"expected {list(expected)}, got {list(answer)}."
        raise AssertionError(f"Not quite ({context}): {hint}")
    print("Correct: your map equals ModelConfig.layer_blocks for every test case.")


# -- 2. top-k routing --------------------------------------------------------------------------
ROUTE_CASES = ((4, 2), (8, 2), (4, 1), (6, 3))


def _pair(out, N: int, k: int):
    if not (isinstance(out, (tuple, list)) and len(out) == 2
            and all(isinstance(t, torch.Tensor) for t in out)):
        raise AssertionError(f"route should return a pair of tensors (idx, gates), got "
                             f"{type(out).__name__}.")
    idx, gates = out
    if idx.is_floating_point() and not gates.is_floating_point():
        raise AssertionError("route returned (gates, idx): return (idx, gates) in that order.")
    if idx.is_floating_point() or idx.dtype == torch.bool:
        raise AssertionError(f"idx should hold expert numbers (an integer tensor), got "
                             f"{idx.dtype}.")
    if tuple(idx.shape) != (N, k):
        raise AssertionError(f"idx has shape {tuple(idx.shape)}; expected (N, k) = {(N, k)}: "
                             "k experts for each token.")
    return idx.long(), _tensor(gates, (N, k), "gates")


def check_route(fn) -> None:
    """Exercise: ``fn(logits, k)`` with router logits (N, E) returns ``(idx, gates)``, both
    (N, k): each token's k most probable experts, best first, and their probabilities
    renormalised to sum to 1."""
    g = torch.Generator().manual_seed(1)
    for E, k in ROUTE_CASES:
        moe = _moe(E, k, seed=E + k)
        x = torch.randn(10, 16, generator=g)
        with torch.no_grad():
            logits, probs, top_i, gates = moe.route(x)
        idx, out = _pair(_call(fn, "route", logits.clone(), k), 10, k)
        context = f"E = {E} experts, k = {k}"
        if not torch.equal(idx, top_i):
            if torch.equal(idx, probs.topk(k, dim=-1, largest=False).indices):
                hint = "you picked the least probable experts: take the k largest."
            elif torch.equal(idx.sort(-1).values, top_i.sort(-1).values):
                hint = ("the right experts in the wrong order: list them best first (as "
                        "torch.topk does). The first column is each token's first choice, "
                        "and the capacity rule serves first choices first.")
            elif torch.equal(idx, logits.softmax(dim=0).topk(k, dim=-1).indices):
                hint = ("the softmax runs over the experts of each token (the last "
                        "dimension), not over the tokens.")
            else:
                n = int((idx != top_i).any(-1).nonzero()[0])
                hint = (f"token {n} should go to experts {top_i[n].tolist()}, your route "
                        f"gives {idx[n].tolist()}.")
            raise AssertionError(f"Not quite ({context}): {hint}")
        top_p = probs.gather(-1, top_i)
        slips = [
            ("renormalise the gates: divide the k chosen probabilities by their sum, so each "
             "token's gates add up to 1.", top_p),
            ("the gates are the chosen experts' probabilities (renormalised), not 1/k each.",
             torch.full_like(top_p, 1 / k)),
            ("the gates come from the softmax probabilities, not from the raw logits.",
             logits.gather(-1, top_i)),
        ]
        if not _close(out, gates):
            for hint, wrong in slips:
                if _close(out, wrong):
                    raise AssertionError(f"Not quite ({context}): {hint}")
            gap = (out - gates).abs().max().item()
            raise AssertionError(f"Not quite ({context}): the experts are right, the gates "
                                 f"differ from MoE.route's by up to {gap:.3g}.")
    print("Correct: your routing picks the same experts with the same gates as MoE.route.")


# -- 3. the load-balancing loss ----------------------------------------------------------------
def _balance(probs: torch.Tensor, top_i: torch.Tensor, *, per: str = "assignment",
             scale: bool = True, f_from: str = "top_i", p_from: str = "probs") -> float:
    """E·Σ f_e·P_e written out in float64, or one of the usual slips (defaults: correct)."""
    N, E = probs.shape
    chosen = top_i[:, :1] if f_from == "first" else top_i
    counts = torch.bincount(chosen.reshape(-1), minlength=E).double()
    f = {"assignment": counts / chosen.numel(), "token": counts / N, "count": counts}[per]
    if f_from == "probs":
        f = probs.double().mean(0)
    P = probs.double().mean(0) if p_from == "probs" else f
    return float((E if scale else 1) * (f * P).sum())


def _routings():
    """(context, probs, top_i, expected): library routings, then the two ends of the scale."""
    g = torch.Generator().manual_seed(2)
    for E, k in ((4, 2), (8, 2), (4, 1)):
        moe = _moe(E, k, seed=10 + E + k)
        x = torch.randn(2, 12, 16, generator=g) + 0.5 * torch.randn(16, generator=g)
        with torch.no_grad():
            moe(x)
            _, probs, top_i, _ = moe.route(x.reshape(-1, 16))
        yield (f"a random routing, E = {E}, k = {k}", probs, top_i,
               moe.stats["balance_loss"])
    E, N = 4, 12
    spread = torch.stack([torch.arange(N) % E, (torch.arange(N) + 1) % E], dim=1)
    yield ("uniform routing: every expert gets the same share, all probabilities 1/E "
           "(the loss should be 1)", torch.full((N, E), 1 / E), spread, 1.0)
    one_hot = torch.zeros(N, E)
    one_hot[:, 0] = 1.0
    yield ("collapsed routing: every token to expert 0 with probability 1, k = 1 (the loss "
           "should be E = 4)", one_hot, torch.zeros(N, 1, dtype=torch.long), float(E))


def check_balance_loss(fn) -> None:
    """Exercise: ``fn(probs, top_i)`` with router probabilities (N, E) and chosen experts
    (N, k) returns the Switch load-balancing loss E · Σ_e f_e · P_e (a number)."""
    for context, probs, top_i, expected in _routings():
        out = _call(fn, "balance_loss", probs.clone(), top_i.clone())
        try:
            value = float(out)
        except (TypeError, ValueError, RuntimeError):
            raise AssertionError(f"balance_loss should return one number (a float or a 0-d "
                                 f"tensor), got {out!r}.") from None
        if abs(value - expected) <= 1e-5 * max(1.0, abs(expected)):
            continue
        slips = [
            ("f_e is the share of all k·N assignments (divide the counts by N·k, not by N).",
             _balance(probs, top_i, per="token")),
            ("f_e is a fraction of the assignments, not a count: divide by N·k.",
             _balance(probs, top_i, per="count")),
            ("multiply by E (the sum over experts, not the mean), so that uniform routing "
             "gives 1.", _balance(probs, top_i, scale=False)),
            ("f_e counts where tokens were sent (top_i); only P_e averages the router "
             "probabilities.", _balance(probs, top_i, f_from="probs")),
            ("P_e is the mean router probability of expert e (probs.mean(0)), not f_e again.",
             _balance(probs, top_i, p_from="f")),
            ("count all k choices of each token in f_e, not only the first.",
             _balance(probs, top_i, f_from="first")),
        ]
        for hint, wrong in slips:
            if abs(value - wrong) <= 1e-5 * max(1.0, abs(wrong)) and \
                    abs(wrong - expected) > 1e-6:
                raise AssertionError(f"Not quite ({context}): {hint}")
        raise AssertionError(f"Not quite ({context}): {value:.6g} instead of {expected:.6g}. "
                             "Compute f_e and P_e as vectors of E numbers, then E·Σ f_e·P_e.")
    print("Correct: your loss equals MoE's balance_loss, 1 for uniform and E for collapsed "
          "routing.")


# -- 4. capacity and dropped tokens ------------------------------------------------------------
CAPACITY_CASES = ((4, 2, 1.0), (4, 1, 1.25), (8, 2, 0.75), (4, 2, None))


def _skewed_moe(E: int, k: int, cf, seed: int) -> tuple[MoE, torch.Tensor]:
    """An MoE whose router favours experts 0 and 1, so capacity binds, and its input."""
    moe = _moe(E, k, capacity_factor=cf, seed=seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 8, 16, generator=g) + 1.0
    with torch.no_grad():
        moe.router.weight[0] += 0.15
        moe.router.weight[1] += 0.08
    return moe.train(), x


def check_capacity(fn) -> None:
    """Exercise: ``fn(top_i, capacity)`` with the chosen experts (N, k) and an expert's
    capacity (an int, or None for no limit) returns ``kept`` (N, k) bool: which assignments
    their experts keep — all first choices before any second choice, earlier tokens first."""
    for E, k, cf in CAPACITY_CASES:
        moe, x = _skewed_moe(E, k, cf, seed=20 + E + k)
        with torch.no_grad():
            expected_out = moe(x).reshape(-1, 16)
        st = moe.stats
        top_i, cap = st["top_experts"].reshape(-1, k), st["capacity"]
        N = top_i.shape[0]
        context = (f"{N} tokens, E = {E}, k = {k}, capacity "
                   f"{'None (no limit)' if cap is None else cap}")
        hint = "capacity None means no limit: keep everything." if cap is None else ""
        kept = _call(fn, "capacity_keep", top_i.clone(), cap, hint=hint)
        if not isinstance(kept, torch.Tensor) or tuple(kept.shape) != (N, k):
            got = tuple(kept.shape) if isinstance(kept, torch.Tensor) else type(kept).__name__
            raise AssertionError(f"capacity_keep should return a bool tensor shaped like "
                                 f"top_i {(N, k)}, got {got}.")
        kept = kept.bool()
        for hint, wrong in _capacity_slips(top_i, cap):
            if torch.equal(kept, wrong) and not torch.equal(wrong, _queue_keep(top_i, cap)):
                raise AssertionError(f"Not quite ({context}): {hint}")
        per_expert = torch.bincount(top_i[kept], minlength=E)
        dropped = int((~kept).sum())
        if cap is not None and int(per_expert.max()) > cap:
            e = int(per_expert.argmax())
            raise AssertionError(
                f"Not quite ({context}): expert {e} keeps {int(per_expert[e])} assignments, "
                f"more than its capacity {cap}; keep places 0 .. capacity-1 of each queue.")
        if per_expert.tolist() != st["kept_per_expert"].tolist() or dropped != st["dropped"]:
            raise AssertionError(
                f"Not quite ({context}): your mask keeps {per_expert.tolist()} per expert and "
                f"drops {dropped}; the MoE layer keeps {st['kept_per_expert'].tolist()} and "
                f"drops {st['dropped']}. An expert drops only what exceeds its capacity.")
        # The counts agree; now which assignments: the layer's output with your mask.
        out = _moe_output(moe, x.reshape(-1, 16), kept)
        if not _close(out, expected_out):
            raise AssertionError(
                f"Not quite ({context}): the right number of drops, but not the same "
                "assignments. Each expert serves its queue in order: every token's first "
                "choice (token 0, 1, 2, ...), then every token's second choice, and so on.")
    print("Correct: your mask keeps exactly the assignments the MoE layer keeps in training.")


def _queue_keep(top_i: torch.Tensor, cap, *, token_major: bool = False,
                reverse: bool = False) -> torch.Tensor:
    """Which assignments the experts keep, served in queue order (defaults: the library's
    order, first choices first, then earlier tokens first), or in one of the usual slips."""
    N, k = top_i.shape
    kept = torch.ones(N, k, dtype=torch.bool)
    if cap is None:
        return kept
    tokens = range(N - 1, -1, -1) if reverse else range(N)
    order = ([(n, s) for n in tokens for s in range(k)] if token_major
             else [(n, s) for s in range(k) for n in tokens])
    taken: dict[int, int] = {}
    for n, s in order:
        e = int(top_i[n, s])
        kept[n, s] = taken.get(e, 0) < cap
        taken[e] = taken.get(e, 0) + 1
    return kept


def _capacity_slips(top_i: torch.Tensor, cap):
    if cap is None:
        return []
    return [
        ("the queue goes by choice first: all tokens' first choices, then all second "
         "choices. You served each token's k choices together, token by token.",
         _queue_keep(top_i, cap, token_major=True)),
        ("earlier tokens come first in each expert's queue; yours served the last token "
         "first.", _queue_keep(top_i, cap, reverse=True)),
        ("an expert keeps at most `capacity` assignments (places 0 .. capacity-1); yours "
         "keeps one more.", _queue_keep(top_i, cap + 1)),
        ("with a capacity, an expert drops whatever exceeds it: you kept everything.",
         _queue_keep(top_i, None)),
    ]


def _moe_output(moe: MoE, x: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """What the MoE layer outputs if it keeps the assignments ``kept`` (N, k)."""
    with torch.no_grad():
        _, _, top_i, gates = moe.route(x)
        out = torch.zeros_like(x)
        for n in range(x.shape[0]):
            for s in range(top_i.shape[1]):
                if kept[n, s]:
                    out[n] += gates[n, s] * moe.experts[int(top_i[n, s])](x[n:n + 1])[0]
    return out
