"""The lab 04 exercise checks: a correct solution passes, and each usual mistake fails with the
hint that names it. The "learner" functions below are written the way a learner would write
them, independently of the checks' own reference code."""

from collections import defaultdict

import pytest
import torch
import torch.nn.functional as F

from slmlab.checks import sharing_experts as checks
from slmlab.model import ModelConfig
from slmlab.model.moe import MoE


def fails(check, fn, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(fn)


# -- the layer -> block map --------------------------------------------------------------------
def layer_blocks(n_layer, n_unique, pattern):
    if pattern == "all":
        return [i % n_unique for i in range(n_layer)]
    return [i * n_unique // n_layer for i in range(n_layer)]  # n_layer / n_unique layers each


def test_layer_blocks_correct_passes(capsys):
    checks.check_layer_blocks(layer_blocks)
    assert "Correct" in capsys.readouterr().out


def test_layer_blocks_hand_written_cases():
    # Independent of both implementations: the patterns the docs describe.
    assert layer_blocks(6, 3, "all") == [0, 1, 2, 0, 1, 2]
    assert layer_blocks(6, 3, "repeat") == [0, 0, 1, 1, 2, 2]
    assert ModelConfig(vocab_size=8, n_layer=6, n_head=2, d_model=16, n_unique_blocks=3,
                       share_pattern="repeat").layer_blocks == (0, 0, 1, 1, 2, 2)


@pytest.mark.parametrize("wrong, hint", [
    (lambda L, n, p: layer_blocks(L, n, "repeat" if p == "all" else "all"), "cycles|in a row"),
    (lambda L, n, p: layer_blocks(L, n, "repeat"), "that is 'repeat'"),
    (lambda L, n, p: layer_blocks(L, n, "all"), "that is 'all'"),
    (lambda L, n, p: [i % n for i in range(L)] if p == "all" else
     [min(i // n, n - 1) for i in range(L)], "not by n_unique_blocks"),
    (lambda L, n, p: layer_blocks(L, n, p)[:-1], "one entry per layer"),
    (lambda L, n, p: [0] * L, "expected"),
    (lambda L, n, p: None, "sequence of ints"),
])
def test_layer_blocks_mistakes_get_their_hint(wrong, hint):
    fails(checks.check_layer_blocks, wrong, hint)


# -- routing -----------------------------------------------------------------------------------
def route(logits, k):
    probs = torch.softmax(logits, dim=-1)  # (N, E)
    top_p, idx = torch.topk(probs, k, dim=-1)  # best first
    return idx, top_p / top_p.sum(dim=-1, keepdim=True)


def route_from_logits(logits, k):
    # Softmax over the k chosen logits: the same gates, computed another way.
    top_l, idx = logits.topk(k, dim=-1)
    return idx, top_l.softmax(dim=-1)


def test_route_correct_passes(capsys):
    checks.check_route(route)
    assert "Correct" in capsys.readouterr().out
    checks.check_route(route_from_logits)


def _no_renorm(logits, k):
    top_p, idx = logits.softmax(-1).topk(k, dim=-1)
    return idx, top_p


def _smallest(logits, k):
    top_p, idx = logits.softmax(-1).topk(k, dim=-1, largest=False)
    return idx, top_p / top_p.sum(-1, keepdim=True)


def _by_expert_number(logits, k):
    idx, gates = route(logits, k)
    order = idx.argsort(dim=-1)
    return idx.gather(-1, order), gates.gather(-1, order)


def _softmax_over_tokens(logits, k):
    top_p, idx = logits.softmax(0).topk(k, dim=-1)
    return idx, top_p / top_p.sum(-1, keepdim=True)


@pytest.mark.parametrize("wrong, hint", [
    (_no_renorm, "renormalise"),
    (lambda logits, k: (route(logits, k)[0], torch.full((logits.shape[0], k), 1 / k)),
     "not 1/k"),
    (lambda logits, k: route(logits, k)[::-1], "in that order"),
    (lambda logits, k: (logits.topk(k, -1).indices, logits.topk(k, -1).values), "raw logits"),
    (_smallest, "least probable"),
    (_by_expert_number, "wrong order"),
    (_softmax_over_tokens, "not over the tokens"),
    (lambda logits, k: route(logits, 2), r"shape \(10, 2\); expected"),
    (lambda logits, k: (route(logits, k)[0], route(logits, k)[1] * 0.9), "differ"),
    (lambda logits, k: route(logits, k)[0], "pair of tensors"),
    (lambda logits, k: (route(logits, k)[0].float(), route(logits, k)[1].float()),
     "integer tensor"),
])
def test_route_mistakes_get_their_hint(wrong, hint):
    fails(checks.check_route, wrong, hint)


def test_route_that_raises_is_explained():
    def todo(logits, k):
        raise NotImplementedError

    fails(checks.check_route, todo, "not written yet")
    fails(checks.check_route, lambda logits: logits, "TypeError")


# -- the balancing loss ------------------------------------------------------------------------
def balance_loss(probs, top_i):
    N, E = probs.shape
    f = F.one_hot(top_i, E).sum(dim=(0, 1)) / top_i.numel()  # share of the k·N assignments
    P = probs.mean(dim=0)
    return E * (f * P).sum()


def balance_loss_loops(probs, top_i):
    N, E = probs.shape
    counts = [0] * E
    for row in top_i.tolist():
        for e in row:
            counts[e] += 1
    total = sum(counts)
    return E * sum(counts[e] / total * probs[:, e].mean().item() for e in range(E))


def test_balance_loss_correct_passes(capsys):
    checks.check_balance_loss(balance_loss)
    assert "Correct" in capsys.readouterr().out
    checks.check_balance_loss(balance_loss_loops)


def _variant(per="assignment", scale=True, f_src="top_i", p_src="probs"):
    def loss(probs, top_i):
        N, E = probs.shape
        chosen = top_i if f_src != "first" else top_i[:, :1]
        counts = F.one_hot(chosen, E).sum(dim=(0, 1)).double()
        f = {"assignment": counts / chosen.numel(), "token": counts / N, "count": counts}[per]
        if f_src == "probs":
            f = probs.double().mean(0)
        P = probs.double().mean(0) if p_src == "probs" else f
        return (E if scale else 1) * (f * P).sum()
    return loss


@pytest.mark.parametrize("wrong, hint", [
    (_variant(per="token"), "not by N"),
    (_variant(per="count"), "not a count"),
    (_variant(scale=False), "multiply by E"),
    (_variant(f_src="probs"), "where tokens were sent"),
    (_variant(p_src="f"), "mean router probability"),
    (_variant(f_src="first"), "all k choices"),
    (lambda probs, top_i: balance_loss(probs, top_i) + 0.1, "instead of"),
    (lambda probs, top_i: [1.0], "one number"),
])
def test_balance_loss_mistakes_get_their_hint(wrong, hint):
    fails(checks.check_balance_loss, wrong, hint)


def test_the_ends_of_the_scale_hold_for_the_library_itself():
    """Uniform routing gives 1 and routing collapsed on one expert gives E, measured on MoE."""
    def moe(k):
        torch.manual_seed(0)
        return MoE(ModelConfig(vocab_size=8, n_layer=1, n_head=2, d_model=16, d_ff=8,
                               mlp="moe", n_experts=4, top_k=k))

    x = torch.randn(2, 10, 16)
    uniform = moe(2)
    with torch.no_grad():
        uniform.router.weight.zero_()  # every probability 1/E: P_e = 1/E, Σ f_e = 1
        uniform(x)
    assert uniform.stats["balance_loss"] == pytest.approx(1.0, abs=1e-6)
    collapsed = moe(1)
    with torch.no_grad():
        collapsed.router.weight.zero_()
        collapsed.router.weight[0] = 50.0  # expert 0 wins every token, with probability ~1
        collapsed(x.abs() + 1)
    assert collapsed.stats["balance_loss"] == pytest.approx(4.0, abs=1e-4)


# -- capacity ----------------------------------------------------------------------------------
def capacity_keep(top_i, capacity):
    N, k = top_i.shape
    kept = torch.ones(N, k, dtype=torch.bool)
    if capacity is None:
        return kept
    used = defaultdict(int)
    for choice in range(k):  # all first choices, then all second choices ...
        for n in range(N):  # ... earlier tokens first
            e = int(top_i[n, choice])
            kept[n, choice] = used[e] < capacity
            used[e] += 1
    return kept


def test_capacity_correct_passes(capsys):
    checks.check_capacity(capacity_keep)
    assert "Correct" in capsys.readouterr().out


def test_capacity_cases_really_drop():
    """Each case with a capacity drops some assignments, so the check tests something."""
    for E, k, cf in checks.CAPACITY_CASES:
        moe, x = checks._skewed_moe(E, k, cf, seed=20 + E + k)
        with torch.no_grad():
            moe(x)
        assert (moe.stats["dropped"] > 0) == (cf is not None), (E, k, cf)


def _token_major(top_i, capacity):
    N, k = top_i.shape
    if capacity is None:
        return torch.ones(N, k, dtype=torch.bool)
    used, kept = defaultdict(int), torch.zeros(N, k, dtype=torch.bool)
    for n in range(N):
        for choice in range(k):
            e = int(top_i[n, choice])
            kept[n, choice] = used[e] < capacity
            used[e] += 1
    return kept


def _reversed(top_i, capacity):
    return capacity_keep(top_i.flip(0), capacity).flip(0)


@pytest.mark.parametrize("wrong, hint", [
    (_token_major, "choice first"),
    (_reversed, "earlier tokens come first"),
    (lambda t, c: capacity_keep(t, None if c is None else c + 1), "one more"),
    (lambda t, c: torch.ones_like(t, dtype=torch.bool), "kept everything"),
    (lambda t, c: capacity_keep(t, None if c is None else c - 1), "drops only what exceeds"),
    (lambda t, c: capacity_keep(t, c)[:, :1], "shaped like top_i"),
    (lambda t, c: capacity_keep(t, c).tolist(), "bool tensor"),
    (lambda t, c: t.new_ones(t.shape, dtype=torch.bool) if c is None else capacity_keep(
        t, min(c, 3)), "drops only what exceeds|more than"),
])
def test_capacity_mistakes_get_their_hint(wrong, hint):
    fails(checks.check_capacity, wrong, hint)


def test_capacity_none_unhandled_is_explained():
    def no_none(top_i, capacity):
        return capacity_keep(top_i, capacity + 0)

    fails(checks.check_capacity, no_none, "None means no limit")


def test_same_counts_different_assignments_are_caught():
    """Swap which of two same-expert assignments is dropped: counts agree, output does not."""
    def swapped(top_i, capacity):
        kept = capacity_keep(top_i, capacity)
        if capacity is None:
            return kept
        flat_i, flat_k = top_i.t().reshape(-1), kept.t().reshape(-1).clone()
        for e in flat_i.unique():
            where = (flat_i == e).nonzero().flatten()
            if (~flat_k[where]).any():
                first_drop = where[~flat_k[where]][0]
                last_kept = where[flat_k[where]][-1]
                flat_k[first_drop], flat_k[last_kept] = True, False
                break
        return flat_k.view(top_i.shape[1], -1).t()

    fails(checks.check_capacity, swapped, "not the same assignments")
