"""Cleaning helpers and the Python-docs corpus, each checked against a naive re-implementation."""

import re
import unicodedata
from collections import Counter

import numpy as np
import pytest

from slmlab.data import (
    LABELS,
    dedupe,
    drop_overlap,
    fault_reports,
    jaccard,
    label_counts,
    normalize,
    python_docs,
    quality_filter,
    quality_issues,
    shingles,
    train_test_split,
)
from slmlab.data.cleaning import minhash_signature

GOOD = (
    "temp=60 vib=3.0 cur=10 pres=5.0 rpm=1500 hum=50\n"
    "diagnosis: normal; all readings are within limits.\n"
)


def test_normalize():
    assert normalize("  Hello\n\tWORLD  ") == "hello world"
    assert normalize("ﬁ ＡＢ") == "fi ab"  # NFKC folds ligatures and full-width letters
    assert normalize("") == ""
    with pytest.raises(ValueError, match="text must be a str"):
        normalize(3)


# ---------------------------------------------------------------- quality


def test_quality_issues_by_hand():
    assert quality_issues(GOOD) == []
    cases = {
        GOOD.replace("temp=60", "temp=999"): ["reading out of range"],
        GOOD.replace("hum=50", "hum=-5"): ["reading out of range"],
        GOOD[:-1]: ["no final newline"],
        GOOD[:30]: ["no final newline", "bad readings line", "no valid label"],
        GOOD.replace("all", "äll"): ["non-ascii"],
        GOOD.replace("normal;", "fine;"): ["no valid label"],
        GOOD.replace("vib=3.0 cur=10", "cur=10 vib=3.0"): ["bad readings line"],
        GOOD.replace(" hum=50", ""): ["bad readings line"],
        GOOD.replace("rpm=1500", "rpm=1500x"): ["bad readings line"],
        GOOD.replace("limits", "limits" + "!" * 200): ["too long"],
    }
    for text, issues in cases.items():
        assert quality_issues(text) == issues, text


def test_quality_filter_drops_exactly_the_glitched_reports():
    reports = fault_reports(400, seed=1, noise=0.3)
    kept = quality_filter(reports)
    assert kept == [r for r in reports if r.glitch is None]
    assert quality_filter([r.text for r in reports]) == [r.text for r in kept]
    assert quality_filter([GOOD], max_chars=50) == []
    assert quality_filter(reports, allow={"reading out of range"}) == reports
    assert quality_filter(reports + [GOOD[:30]], allow="reading out of range") == reports
    with pytest.raises(ValueError, match="allow must hold issue names from"):
        quality_filter(reports, allow={"typo"})


# ---------------------------------------------------------------- duplicates


def naive_exact_dedupe(texts):
    seen, out = [], []
    for t in texts:
        key = " ".join(unicodedata.normalize("NFKC", t).lower().split())
        if key not in seen:
            seen.append(key)
            out.append(t)
    return out


def test_exact_dedupe_matches_a_naive_loop():
    texts = ["a b", "A  b", "c", "a b\n", "C ", "d", "ﬁ", "fi"]
    assert dedupe(texts) == naive_exact_dedupe(texts) == ["a b", "c", "d", "ﬁ"]
    reports = fault_reports(300, seed=2, repeats=0.3)
    kept = dedupe(reports)
    assert [r.text for r in kept] == naive_exact_dedupe([r.text for r in reports])
    assert len(kept) < 250 and all(isinstance(r, type(reports[0])) for r in kept)
    assert dedupe([]) == []


def ref_shingles(text, n=5):
    t = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return {t[i : i + n] for i in range(max(1, len(t) - n + 1))}


def test_shingles_and_jaccard():
    assert shingles("abcdef", 3) == {"abc", "bcd", "cde", "def"}
    assert shingles("ab", 5) == {"ab"}
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0
    for t in ("The quick brown fox", GOOD):
        assert shingles(t) == ref_shingles(t)


def test_minhash_agreement_estimates_jaccard():
    a_text = python_docs()[:3000]
    b_text = a_text[:1500] + a_text[2000:] + "a different ending to change the shingles."
    sa, sb = shingles(a_text), shingles(b_text)
    rng = np.random.default_rng(0)
    a = rng.integers(1, 2**31 - 1, 2000)
    b = rng.integers(0, 2**31 - 1, 2000)
    agree = np.mean(minhash_signature(sa, a, b) == minhash_signature(sb, a, b))
    assert abs(agree - jaccard(sa, sb)) < 0.04  # sd of the estimate ~ 0.011


def _paragraphs():
    paras = [p for p in python_docs().split("\n\n") if 300 < len(p) < 800]
    return paras[:150]


def test_near_dedupe_drops_only_what_brute_force_calls_similar():
    paras = _paragraphs()
    rng = np.random.default_rng(1)
    items = list(paras)
    for i in rng.choice(len(paras), 40, replace=False):  # near copies: a few words changed
        words = paras[i].split(" ")
        for j in rng.choice(len(words), 2, replace=False):
            words[j] = "CHANGED"
        items.insert(int(rng.integers(len(items) + 1)), " ".join(words))
    kept = dedupe(items, near=True, threshold=0.7)
    # brute force: walk in order, drop an item whose Jaccard with a kept one reaches 0.7
    sets = {t: ref_shingles(t) for t in items}
    expected = []
    for t in items:
        if all(jaccard(sets[t], sets[k]) < 0.7 for k in expected):
            expected.append(t)
    assert kept == expected
    assert len(items) - len(kept) >= 40


def test_near_dedupe_keeps_texts_below_the_threshold():
    base = "the pump on line four reported a pressure of five bar at noon today"
    other = "the fan on line two reported a vibration of three mm at night yesterday"
    assert dedupe([base, other], near=True, threshold=0.5) == [base, other]
    assert dedupe([base, base.upper(), base + "!"], near=True) == [base]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(threshold=0), r"threshold must be in \(0, 1\]"),
        (dict(threshold=1.5), r"threshold must be in \(0, 1\]"),
        (dict(num_perm=10, rows=4), "must be a multiple of rows"),
        (dict(ngram=0), "ngram must be a positive int"),
        (dict(rows=2.0), "rows must be a positive int"),
    ],
)
def test_near_dedupe_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dedupe(["a", "b"], near=True, **kwargs)


def test_items_must_be_texts_or_reports():
    for bad in ("just a string", [1, 2], None):
        with pytest.raises(
            ValueError, match="must be a list of str or reports|must be str or have"
        ):
            dedupe(bad)


# ---------------------------------------------------------------- splits and counts


def test_train_test_split_never_shares_a_prompt():
    reports = fault_reports(1000, seed=3, repeats=0.3)
    train, test = train_test_split(reports, 0.2, seed=0)
    assert len(train) + len(test) == 1000 and 180 <= len(test) <= 260
    assert not {r.prompt for r in train} & {r.prompt for r in test}
    assert Counter(r.text for r in train + test) == Counter(r.text for r in reports)
    assert train == [r for r in reports if r in set(train)]  # original order kept
    assert train_test_split(reports, 0.2, seed=0) == (train, test)
    assert train_test_split(reports, 0.2, seed=1) != (train, test)
    assert train_test_split(reports, 0.0) == (reports, [])
    assert train_test_split(reports, 1.0) == ([], reports)
    for bad in (-0.1, 1.1, "half", True):
        with pytest.raises(ValueError, match="test_fraction must be a number in"):
            train_test_split(reports, bad)


def test_drop_overlap_removes_prompts_seen_in_the_reference():
    train = fault_reports(200, seed=4)
    other = fault_reports(50, seed=5) + train[:10]
    held_out = drop_overlap(other, train)
    assert held_out == other[:50]
    assert drop_overlap(["a", "b"], ["A"]) == ["b"]


def test_label_counts():
    reports = fault_reports(300, seed=6, balanced=False)
    counts = label_counts(reports)
    assert list(counts) == list(LABELS)
    assert counts == {label: sum(r.label == label for r in reports) for label in LABELS}
    texts = [r.text for r in reports[:20]] + ["garbage\n", "x\ndiagnosis: nonsense"]
    from_text = label_counts(texts)
    assert from_text[None] == 2 and sum(from_text.values()) == 22
    assert label_counts([]) == dict.fromkeys(LABELS, 0)


# ---------------------------------------------------------------- python docs


def test_python_docs_is_clean_deterministic_prose():
    text = python_docs()
    assert text == python_docs() and len(text) > 200_000 and text.endswith("\n")
    assert 'The "assert" statement' in text and "\r" not in text and "\n\n\n" not in text
    lines = text.split("\n")
    assert not any(line != line.rstrip() for line in lines)
    assert not any(re.fullmatch(r"\s*[-=*+|~^]{3,}[-=*+|~^ ]*", line) for line in lines)
    assert text.count('The "assert" statement\n') == 1
