"""Checks for the exercises of lab 01 (data and tokenizers).

Each check runs the learner's function on small cases, compares with the library (or with the
formula the lab states), and when the answer is off, tries the usual slips -- comparing raw
instead of normalized text, counting pairs without overlaps, forgetting that K and V are two
tensors -- to say in plain words which step went wrong.
"""

from __future__ import annotations

from slmlab.data import dedupe, get_pair_counts, merge_pair

DEDUPE_CASES = [
    ["a b", "c", "a b", "d"],
    ["Pump OK", "pump ok", "pump  ok\n", "fan"],
    ["x", "y", "z"],
    [],
    ["b", "a", "b", "a"],
]
PAIR_CASES = [[1, 2, 3, 1, 2], [5, 5, 5], [104, 101, 108, 108, 111], [7], []]
MERGE_CASES = [
    ([1, 2, 3, 1, 2], (1, 2), 256),
    ([7, 7, 7], (7, 7), 300),
    ([7, 7, 7, 7], (7, 7), 300),
    ([1, 3, 2], (1, 2), 256),
    ([], (1, 2), 256),
]
# (n_layer, n_kv_head, head_dim, bytes_per_value, tokens)
KV_CASES = [(30, 3, 64, 2, 1), (30, 3, 64, 2, 100), (4, 4, 32, 4, 64), (22, 4, 64, 1, 2048)]


def _call(fn, *args):
    try:
        return fn(*args)
    except Exception as err:  # report the learner's error in words, not a deep traceback
        raise AssertionError(
            f"Your function raised {type(err).__name__}: {err} (input {args!r})."
        ) from None


def check_exact_dedupe(fn) -> None:
    """``fn(texts) -> list[str]``: keep the first of each group of texts equal after normalize."""
    for texts in DEDUPE_CASES:
        got = _call(fn, list(texts))
        want = dedupe(texts)
        if not isinstance(got, list):
            raise AssertionError(f"Return a list of texts; got {type(got).__name__}.")
        if got == want:
            continue
        raw_unique = list(dict.fromkeys(texts))
        if got == raw_unique:
            raise AssertionError(
                f"For {texts!r} you compared the raw texts. Compare "
                f"normalize(text) instead, so case and spacing do not make a "
                f"copy look new. Want {want!r}."
            )
        last = list(reversed(dedupe(list(reversed(texts)))))
        if got == last and got != want:
            raise AssertionError(
                f"For {texts!r} you kept the last copy; keep the first. Want {want!r}."
            )
        if sorted(got) == sorted(want):
            raise AssertionError(
                f"Right texts, wrong order for {texts!r}: keep the order in which "
                f"texts first appear (a set does not keep order). Want {want!r}."
            )
        raise AssertionError(f"For {texts!r} you returned {got!r}; want {want!r}.")
    print("Correct: exact dedupe keeps the first copy of each normalized text, in order.")


def check_pair_counts(fn) -> None:
    """``fn(ids) -> dict[(a, b), count]`` of adjacent pairs."""
    for ids in PAIR_CASES:
        got = _call(fn, list(ids))
        want = get_pair_counts(ids)
        if not isinstance(got, dict):
            raise AssertionError(f"Return a dict {{(a, b): count}}; got {type(got).__name__}.")
        got = dict(got)
        if got == want:
            continue
        if ids == [5, 5, 5] and got.get((5, 5)) == 1:
            raise AssertionError(
                "Pairs overlap: in [5, 5, 5] the pair (5, 5) starts at position 0 "
                "and at position 1, so it occurs twice. Step one id at a time."
            )
        if any(not isinstance(k, tuple) for k in got):
            raise AssertionError(f"Keys must be tuples (a, b); got keys {list(got)[:3]!r}.")
        raise AssertionError(f"For ids {ids!r} you returned {got!r}; want {want!r}.")
    print("Correct: adjacent pairs counted, overlaps included.")


def check_merge(fn) -> None:
    """``fn(ids, pair, new_id) -> list[int]``: every occurrence of pair replaced, left to right."""
    for ids, pair, new_id in MERGE_CASES:
        got = _call(fn, list(ids), pair, new_id)
        want = merge_pair(ids, pair, new_id)
        if list(got) == want:
            continue
        if ids == [7, 7, 7] and list(got) == [7, new_id]:
            raise AssertionError(
                "For [7, 7, 7] merging (7, 7) scan from the left: the first two "
                "7s merge, the last one stays: [300, 7]."
            )
        if len(got) == len(ids):
            raise AssertionError(
                f"For {ids!r} the output is as long as the input: after writing "
                "new_id, skip both ids of the pair (advance by 2)."
            )
        raise AssertionError(
            f"merge({ids!r}, {pair!r}, {new_id}) returned {list(got)!r}; want {want!r}."
        )
    print("Correct: merge replaces every occurrence of the pair, leftmost first.")


def kv_cache_reference(n_layer, n_kv_head, head_dim, bytes_per_value, tokens) -> int:
    """Bytes of the KV cache: K and V (2) for every layer, KV head, head dim and token."""
    return 2 * n_layer * n_kv_head * head_dim * bytes_per_value * tokens


def check_kv_cache_bytes(fn) -> None:
    """``fn(n_layer, n_kv_head, head_dim, bytes_per_value, tokens) -> bytes``."""
    got = [_call(fn, *case) for case in KV_CASES]
    want = [kv_cache_reference(*case) for case in KV_CASES]
    if got == want:
        print("Correct: KV cache = 2 x layers x KV heads x head dim x bytes per value x tokens.")
        return
    if all(g * 2 == w for g, w in zip(got, want)):
        raise AssertionError(
            "Half the answer: the cache holds two tensors per layer, keys AND "
            "values, so multiply by 2."
        )
    if all(g == w * 8 for g, w in zip(got, want)):
        raise AssertionError("Eight times too big: bytes_per_value is already in bytes, not bits.")
    if all(g * case[3] == w for g, w, case in zip(got, want, KV_CASES)):
        raise AssertionError("You counted values, not bytes: multiply by bytes_per_value.")
    case, g, w = next((c, g, w) for c, g, w in zip(KV_CASES, got, want) if g != w)
    raise AssertionError(
        f"For (n_layer, n_kv_head, head_dim, bytes_per_value, tokens) = {case} "
        f"you returned {g!r} bytes; want {w}."
    )
