"""Lab 01 check helpers: right answers pass, the usual slips get their plain-words hint."""

import pytest

from slmlab.checks.data import (
    check_exact_dedupe,
    check_kv_cache_bytes,
    check_merge,
    check_pair_counts,
    kv_cache_reference,
)
from slmlab.data import normalize


def good_dedupe(texts):
    seen, out = set(), []
    for t in texts:
        if normalize(t) not in seen:
            seen.add(normalize(t))
            out.append(t)
    return out


def good_pairs(ids):
    counts = {}
    for i in range(len(ids) - 1):
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def good_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if tuple(ids[i : i + 2]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def test_right_answers_pass(capsys):
    check_exact_dedupe(good_dedupe)
    check_pair_counts(good_pairs)
    check_merge(good_merge)
    check_kv_cache_bytes(lambda L, h, d, b, t: 2 * L * h * d * b * t)
    assert capsys.readouterr().out.count("Correct:") == 4


def test_kv_reference_by_hand():
    # SmolLM2-135M shape: 30 layers, 3 KV heads of 64, fp16 -> 23040 bytes per token
    assert kv_cache_reference(30, 3, 64, 2, 1) == 23_040
    assert kv_cache_reference(30, 3, 64, 2, 1000) == 23_040_000


@pytest.mark.parametrize(
    "fn, hint",
    [
        (lambda texts: list(dict.fromkeys(texts)), "compared the raw texts"),
        (lambda texts: sorted(set(good_dedupe(texts))), "wrong order"),
        (lambda texts: list(reversed(good_dedupe(list(reversed(texts))))), "kept the last copy"),
        (lambda texts: texts, "you returned"),
        (lambda texts: set(texts), "Return a list"),
        (lambda texts: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_dedupe_slips(fn, hint):
    with pytest.raises(AssertionError, match=hint):
        check_exact_dedupe(fn)


def no_overlap_pairs(ids):
    counts, i = {}, 0
    while i < len(ids) - 1:
        counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
        i += 2 if ids[i] == ids[i + 1] else 1
    return counts


@pytest.mark.parametrize(
    "fn, hint",
    [
        (no_overlap_pairs, "Pairs overlap"),
        (lambda ids: {f"{a},{b}": 1 for a, b in zip(ids, ids[1:])}, "Keys must be tuples"),
        (lambda ids: dict.fromkeys(zip(ids, ids[1:]), 1), "you returned"),
        (lambda ids: list(zip(ids, ids[1:])), "Return a dict"),
    ],
)
def test_pair_count_slips(fn, hint):
    with pytest.raises(AssertionError, match=hint):
        check_pair_counts(fn)


def right_to_left_merge(ids, pair, new_id):
    return list(reversed(good_merge(list(reversed(ids)), tuple(reversed(pair)), new_id)))


@pytest.mark.parametrize(
    "fn, hint",
    [
        (right_to_left_merge, "scan from the left"),
        (
            lambda ids, pair, new: [
                new if tuple(ids[i : i + 2]) == pair else x for i, x in enumerate(ids)
            ],
            "advance by 2",
        ),
        (lambda ids, pair, new: [new], "returned"),
    ],
)
def test_merge_slips(fn, hint):
    with pytest.raises(AssertionError, match=hint):
        check_merge(fn)


@pytest.mark.parametrize(
    "fn, hint",
    [
        (lambda L, h, d, b, t: L * h * d * b * t, "keys AND values"),
        (lambda L, h, d, b, t: 2 * L * h * d * b * t * 8, "not bits"),
        (lambda L, h, d, b, t: 2 * L * h * d * t, "multiply by bytes_per_value"),
        (lambda L, h, d, b, t: 2 * L * h * d * b, "want 2304000"),
    ],
)
def test_kv_slips(fn, hint):
    with pytest.raises(AssertionError, match=hint):
        check_kv_cache_bytes(fn)
