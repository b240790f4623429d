"""Data-centric helpers: normalize, check quality, de-duplicate, split, count labels.

Every function takes a list of items that are either plain strings or objects with a ``.text``
attribute (a :class:`~slmlab.data.faults.FaultReport`), and returns items of the same kind, in
their original order, so the steps chain: ``dedupe(quality_filter(raw))``.

Near-duplicates are found with MinHash (Broder 1997, "On the resemblance and containment of
documents") and locality-sensitive hashing by bands (Leskovec, Rajaraman, Ullman, "Mining of
Massive Datasets", ch. 3). Glossary:
    shingle    a run of ``ngram`` consecutive characters of the normalized text.
    Jaccard    |A & B| / |A | B| of two shingle sets: 1 for equal texts, 0 for nothing shared.
    signature  for each of ``num_perm`` random hash functions h, min over shingles of h(shingle);
               two texts agree in one signature slot with probability equal to their Jaccard.
    band       ``rows`` consecutive signature slots; texts that agree on a whole band become a
               candidate pair, which is then kept or dropped by its exact Jaccard.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

import numpy as np

from slmlab.data.faults import CHANNELS, LABELS, VALID, parse_diagnosis

_SPACES = re.compile(r"\s+")
_MERSENNE = (1 << 31) - 1  # prime modulus of the MinHash hash family; products fit in int64


def _text(item) -> str:
    text = item if isinstance(item, str) else getattr(item, "text", None)
    if not isinstance(text, str):
        raise ValueError(f"items must be str or have a str .text, got {type(item).__name__}")
    return text


def _items(items, name: str = "items") -> list:
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise ValueError(f"{name} must be a list of str or reports, got {type(items).__name__}")
    items = list(items)
    for item in items:
        _text(item)
    return items


def normalize(text: str) -> str:
    """The form two texts are compared in: Unicode NFKC, lower case, every run of whitespace
    (newlines included) made one space, stripped at both ends."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


# ----------------------------------------------------------------------------- quality

QUALITY_ISSUES = (
    "non-ascii",
    "too long",
    "no final newline",
    "bad readings line",
    "reading out of range",
    "no valid label",
)
_READING = re.compile(r"(\w+)=(-?\d+(?:\.\d)?)")


def quality_issues(item, *, max_chars: int = 200) -> list[str]:
    """What is wrong with one fault report (given as a report or its text); [] if nothing.

    Checks: plain ASCII; at most ``max_chars`` characters; ends in a newline; one readings line
    with exactly the channels ``temp vib cur pres rpm hum`` in that order; every reading inside
    its channel's valid range (outside = a sensor glitch); a valid label after ``diagnosis:``.
    """
    text = _text(item)
    issues = []
    if not text.isascii():
        issues.append("non-ascii")
    if len(text) > max_chars:
        issues.append("too long")
    if not text.endswith("\n"):
        issues.append("no final newline")
    first = text.split("\n", 1)[0]
    pairs = _READING.findall(first)
    if [key for key, _ in pairs] != list(CHANNELS) or " ".join(
        f"{k}={v}" for k, v in pairs
    ) != first:
        issues.append("bad readings line")
    elif any(not VALID[k][0] <= float(v) <= VALID[k][1] for k, v in pairs):
        issues.append("reading out of range")
    if "\ndiagnosis:" not in text or parse_diagnosis(text) is None:
        issues.append("no valid label")
    return issues


def quality_filter(items, *, max_chars: int = 200, allow=()) -> list:
    """Keep the items for which :func:`quality_issues` finds nothing outside ``allow``.

    Args:
        items: list of str or reports.
        max_chars: longest acceptable text.
        allow: issue names to tolerate, from ``QUALITY_ISSUES``; e.g. ``{"reading out of
            range"}`` keeps glitched reports, whose labels are right, so a model can learn to
            ignore a stuck sensor.
    Returns:
        The kept items, in their original order.
    """
    allow = set(allow) if not isinstance(allow, str) else {allow}
    if not allow <= set(QUALITY_ISSUES):
        raise ValueError(f"allow must hold issue names from {QUALITY_ISSUES}, got {sorted(allow)}")
    return [
        item for item in _items(items) if not set(quality_issues(item, max_chars=max_chars)) - allow
    ]


# ----------------------------------------------------------------------------- duplicates


def _digest(text: str) -> bytes:
    # A 16-byte hash stands in for the normalized text: same set behaviour, bounded memory.
    return hashlib.blake2b(
        normalize(text).encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def shingles(text: str, ngram: int = 5) -> set[str]:
    """The set of ``ngram``-character runs of the normalized text (the text itself if shorter)."""
    t = normalize(text)
    if len(t) <= ngram:
        return {t}
    return {t[i : i + ngram] for i in range(len(t) - ngram + 1)}


def jaccard(a: set, b: set) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def minhash_signature(shingle_set: set[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signature: slot i = min over shingles s of (a[i] * x(s) + b[i]) mod (2^31 - 1),
    with x(s) a fixed 31-bit hash of s (blake2b, so the same on every run and machine)."""
    x = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                "little",
            )
            % _MERSENNE
            for s in shingle_set
        ],
        dtype=np.int64,
    )
    return ((a[:, None] * x[None, :] + b[:, None]) % _MERSENNE).min(axis=1)  # (num_perm,)


def dedupe(
    items,
    *,
    near: bool = False,
    threshold: float = 0.8,
    ngram: int = 5,
    num_perm: int = 64,
    rows: int = 4,
    seed: int = 0,
) -> list:
    """Drop duplicates, keeping each item's first occurrence.

    Exact mode (``near=False``): two items are duplicates when their :func:`normalize`-d texts
    are equal (compared through a 16-byte blake2b digest).

    Near mode (``near=True``): exact duplicates go first, then an item is dropped when its
    shingle set has Jaccard >= ``threshold`` with an item already kept. Candidates come from
    MinHash + LSH bands (``num_perm / rows`` bands of ``rows`` slots); each candidate is
    confirmed with the exact Jaccard, so nothing below the threshold is ever dropped, and a
    pair at Jaccard J is found with probability 1 - (1 - J^rows)^(num_perm / rows).

    Args:
        items: list of str or reports.
        near: also drop near-duplicates.
        threshold: Jaccard at or above which two items are near-duplicates (0 < t <= 1).
        ngram: shingle length in characters.
        num_perm: MinHash signature length; a multiple of ``rows``.
        rows: signature slots per LSH band.
        seed: seeds the hash family.
    Returns:
        The kept items, in their original order.
    """
    items = _items(items)
    seen: set[bytes] = set()
    kept = []
    for item in items:
        key = _digest(_text(item))
        if key not in seen:
            seen.add(key)
            kept.append(item)
    if not near:
        return kept
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    for name, value in (("ngram", ngram), ("num_perm", num_perm), ("rows", rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if num_perm % rows:
        raise ValueError(f"num_perm ({num_perm}) must be a multiple of rows ({rows})")
    rng = random.Random(seed)
    a = np.array([rng.randrange(1, _MERSENNE) for _ in range(num_perm)], dtype=np.int64)
    b = np.array([rng.randrange(0, _MERSENNE) for _ in range(num_perm)], dtype=np.int64)
    buckets: dict[tuple, list[int]] = {}  # (band, its slots) -> indices into `out`
    out, out_shingles = [], []
    for item in kept:
        sh = shingles(_text(item), ngram)
        sig = minhash_signature(sh, a, b)
        keys = [
            (band, sig[band * rows : (band + 1) * rows].tobytes())
            for band in range(num_perm // rows)
        ]
        candidates = {j for key in keys for j in buckets.get(key, ())}
        if any(jaccard(sh, out_shingles[j]) >= threshold for j in sorted(candidates)):
            continue
        for key in keys:
            buckets.setdefault(key, []).append(len(out))
        out.append(item)
        out_shingles.append(sh)
    return out


# ----------------------------------------------------------------------------- splits and counts


def _prompt_key(item) -> bytes:
    prompt = getattr(item, "prompt", None)
    return _digest(prompt if isinstance(prompt, str) else _text(item))


def train_test_split(items, test_fraction: float = 0.1, *, seed: int = 0) -> tuple[list, list]:
    """Split items so that no test prompt (normalized) also appears in the training split.

    Items are grouped by their normalized prompt (the whole text for plain strings); whole
    groups are shuffled with ``seed`` and go to the test split until it holds about
    ``test_fraction`` of the items. Two copies of one report therefore always land on the same
    side, which separate seeds for train and test cannot promise.

    Returns:
        (train, test), each in the original order.
    """
    items = _items(items)
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float))
        or not 0 <= test_fraction <= 1
    ):
        raise ValueError(f"test_fraction must be a number in [0, 1], got {test_fraction!r}")
    groups: dict[bytes, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(_prompt_key(item), []).append(i)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    test_idx: set[int] = set()
    target = round(test_fraction * len(items))
    for group in order:
        if len(test_idx) >= target:
            break
        test_idx.update(group)
    train = [item for i, item in enumerate(items) if i not in test_idx]
    test = [item for i, item in enumerate(items) if i in test_idx]
    return train, test


def drop_overlap(items, reference) -> list:
    """The items whose normalized prompt does not occur in ``reference`` (e.g. a held-out set
    drawn with another seed, cleaned against the training set)."""
    seen = {_prompt_key(item) for item in _items(reference, "reference")}
    return [item for item in _items(items) if _prompt_key(item) not in seen]


def label_counts(items) -> dict:
    """Count labels: every label in ``LABELS`` order (zeros included); items without a valid
    label are counted under None, which appears only when there are some."""
    counts = dict.fromkeys(LABELS, 0)
    for item in _items(items):
        label = getattr(item, "label", None)
        if label not in LABELS:
            label = parse_diagnosis(_text(item))
        counts[label] = counts.get(label, 0) + 1
    return counts
