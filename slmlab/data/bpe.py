"""Byte-level byte-pair encoding (BPE), written from scratch.

Text is first turned into UTF-8 bytes, so the 256 byte values are the starting vocabulary and
every string can be encoded: nothing is ever "unknown". Training then repeats one step: find the
most frequent adjacent pair of ids and give it a new id (a "merge"). Each merge adds one token,
so ``vocab_size = 256 + len(merges)``. Encoding replays the merges; decoding concatenates the
bytes behind each id and decodes them as UTF-8.

Like GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", section
2.2), the text is first cut into chunks -- words with their leading space, digit runs,
punctuation runs, whitespace -- and merges never cross a chunk boundary, so " the" can become
one token but "the." cannot. The same chunk appears many times in a corpus, so training works
on the distinct chunks and their counts, and encoding caches each chunk's ids.

Glossary:
    pair     two ids that stand next to each other, e.g. (104, 101) for the bytes of "he".
    merge    the rule "pair (a, b) becomes the new id 256 + k"; the k-th merge has rank k.
    chunk    a piece of the pre-split text; merges act inside chunks only.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter

from slmlab.data.tokenizer_base import (
    FORMAT_VERSION,
    Tokenizer,
    _check_header,
    check_ids,
    check_text,
)

# GPT-2's split, in the standard library's regex dialect: `[^\W\d_]` is "letters" (\p{L} in the
# original), `\d` digits, `(?:[^\s\w]|_)` everything else that is not a space. The last
# alternative catches any single character the others miss, so the chunks always cover the text.
GPT2_SPLIT = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+|[\s\S]"""
_CACHE_LIMIT = 1 << 16


def get_pair_counts(ids, counts=None) -> dict:
    """How often each adjacent pair occurs in ``ids``.

    Args:
        ids: a list of ints.
        counts: a dict to add into (for counting over many chunks), or None for a new one.
    Returns:
        dict (a, b) -> count.
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge_pair(ids, pair, new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Overlaps resolve leftmost first: merging (7, 7) in [7, 7, 7] gives [new, 7].
    """
    out, i, n = [], 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _to_bytes(text: str) -> bytes:
    # surrogatepass: a Python str may hold lone surrogates (U+D800..U+DFFF); keep them too.
    return text.encode("utf-8", "surrogatepass")


class BPETokenizer(Tokenizer):
    """Byte-level BPE with a GPT-2 style pre-split.

    Args:
        merges: learned merges, a list of id pairs (the k-th becomes id 256 + k); empty
            until :meth:`train` is called.
        pattern: the pre-split regular expression (Python ``re`` syntax).
    """

    kind = "bpe"

    def __init__(self, merges=(), pattern: str = GPT2_SPLIT):
        check_text(pattern, "pattern")
        try:
            self._split = re.compile(pattern)
        except re.error as err:
            raise ValueError(f"pattern is not a valid regular expression: {err}") from None
        self.pattern = pattern
        self._set_merges(merges)

    def _set_merges(self, merges) -> None:
        self.merges: list[tuple[int, int]] = []
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]  # id -> the bytes it stands for
        for k, pair in enumerate(merges):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(i, int) and 0 <= i < 256 + k for i in pair)
            ):
                raise ValueError(f"merge {k} must be a pair of ids in [0, {256 + k}), got {pair!r}")
            a, b = pair
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.ranks = {pair: k for k, pair in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges)

    def split(self, text: str) -> list[str]:
        """The pre-split chunks of ``text`` (they concatenate back to ``text``)."""
        return self._split.findall(check_text(text))

    # ----------------------------------------------------------------------------- training

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text`` (replacing any earlier ones).

        Each step merges the most frequent pair (ties: the smallest pair). Training stops
        early when no pair occurs twice, so ``self.vocab_size`` can end up below the request.

        Args:
            text: the training corpus.
            vocab_size: the target vocabulary size, at least 256 (the byte alphabet).
        Returns:
            self.
        """
        check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(
                "vocab_size must be an int >= 256 (the 256 byte values come first), "
                f"got {vocab_size!r}"
            )
        chunk_counts = Counter(self._split.findall(text))
        words = [list(_to_bytes(chunk)) for chunk in chunk_counts]
        weights = list(chunk_counts.values())

        # Pair statistics over distinct chunks, weighted by chunk count, and for each pair the
        # chunks it occurs in, so a merge only revisits the chunks it changes.
        stats: dict[tuple[int, int], int] = {}
        where: dict[tuple[int, int], set[int]] = {}
        for w, (ids, c) in enumerate(zip(words, weights)):
            for pair in zip(ids, ids[1:]):
                stats[pair] = stats.get(pair, 0) + c
                where.setdefault(pair, set()).add(w)
        # A max-heap by (count, then smallest pair); entries go stale as counts change and are
        # skipped when popped (their count no longer matches).
        heap = [(-c, pair) for pair, c in stats.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        while len(merges) < vocab_size - 256 and heap:
            neg, pair = heapq.heappop(heap)
            if stats.get(pair, 0) != -neg:
                continue  # stale entry
            if -neg < 2:
                break  # no pair occurs twice: nothing left worth merging
            new_id = 256 + len(merges)
            merges.append(pair)
            touched = set()
            for w in where.pop(pair):
                ids, c = words[w], weights[w]
                for p in zip(ids, ids[1:]):
                    stats[p] -= c
                    touched.add(p)
                ids = merge_pair(ids, pair, new_id)
                words[w] = ids
                for p in zip(ids, ids[1:]):
                    stats[p] = stats.get(p, 0) + c
                    where.setdefault(p, set()).add(w)
                    touched.add(p)
            del stats[pair]
            touched.discard(pair)
            for p in touched:
                if stats[p] > 0:
                    heapq.heappush(heap, (-stats[p], p))
                else:
                    del stats[p]
                    where.pop(p, None)
        self._set_merges(merges)
        return self

    def truncate(self, vocab_size: int) -> BPETokenizer:
        """A new tokenizer with only the first ``vocab_size - 256`` merges.

        Merges are learned greedily in order, so this is exactly what training to the smaller
        vocab size would have given -- a cheap way to sweep vocab sizes.
        """
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise ValueError(f"vocab_size must be an int, got {vocab_size!r}")
        if not 256 <= vocab_size <= self.vocab_size:
            raise ValueError(f"vocab_size must be in [256, {self.vocab_size}], got {vocab_size}")
        return BPETokenizer(self.merges[: vocab_size - 256], self.pattern)

    # ----------------------------------------------------------------------------- encode / decode

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(_to_bytes(chunk))
        while len(ids) >= 2:
            # The pair that was merged earliest in training goes first.
            pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, len(self.ranks)))
            rank = self.ranks.get(pair)
            if rank is None:
                break
            ids = merge_pair(ids, pair, 256 + rank)
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids for ``text`` (any str, including emoji and lone surrogates)."""
        out: list[int] = []
        for chunk in self.split(text):
            ids = self._cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[chunk] = ids
            out.extend(ids)
        return out

    def decode(self, ids) -> str:
        """The text for ``ids``. Byte sequences that are not valid UTF-8 (a model can emit
        them) become U+FFFD; ``decode(encode(s)) == s`` for every str ``s``."""
        data = b"".join(self.vocab[i] for i in check_ids(ids, self.vocab_size))
        try:
            return data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")

    # ----------------------------------------------------------------------------- storage

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "version": FORMAT_VERSION,
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self.merges],
        }

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        _check_header(d, cls.kind)
        if not isinstance(d.get("merges"), list) or not isinstance(d.get("pattern"), str):
            raise ValueError("a bpe tokenizer dict needs 'merges' (a list of pairs) and 'pattern'")
        return cls(d["merges"], d["pattern"])

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"
