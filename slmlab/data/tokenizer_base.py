"""What both tokenizers share: input checks, JSON save/load written atomically, rebuild by kind.

A tokenizer is stored as a small JSON object ``{"kind": ..., "version": 1, ...}`` (``to_dict``);
checkpoints embed that object, so a tokenizer never needs pickle.
"""

from __future__ import annotations

import json
import operator
import os

from slmlab.files import atomic_write_text

FORMAT_VERSION = 1


def check_text(text, name: str = "text") -> str:
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a str, got {type(text).__name__}")
    return text


def check_ids(ids, vocab_size: int) -> list[int]:
    """``ids`` as a list of ints, each in ``[0, vocab_size)``; a ValueError says which is not."""
    if isinstance(ids, (str, bytes)):
        raise ValueError(f"ids must be a sequence of ints, got {type(ids).__name__}")
    try:
        ids = [operator.index(i) for i in ids]
    except TypeError as err:
        raise ValueError(f"ids must be a sequence of ints: {err}") from None
    for pos, i in enumerate(ids):
        if not 0 <= i < vocab_size:
            raise ValueError(f"ids[{pos}] = {i} is out of range: ids must be in [0, {vocab_size})")
    return ids


class Tokenizer:
    """Base class: subclasses set ``kind`` and define ``to_dict`` and ``from_dict``."""

    kind = ""

    def to_dict(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict):
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON to ``path`` (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a tokenizer written by :meth:`save`; the file's kind must match this class."""
        tok = load_tokenizer(path)
        if not isinstance(tok, cls):
            raise ValueError(f"{path} holds a {tok.kind!r} tokenizer, not a {cls.kind!r} one")
        return tok


def _check_header(d, kind: str) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"a tokenizer dict must be a dict, got {type(d).__name__}")
    if d.get("kind") != kind:
        raise ValueError(f"expected a tokenizer dict of kind {kind!r}, got kind {d.get('kind')!r}")
    if d.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"tokenizer format version must be {FORMAT_VERSION}, got {d.get('version')!r}"
        )


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a :class:`CharTokenizer` or :class:`BPETokenizer` from its ``to_dict()``."""
    from slmlab.data.bpe import BPETokenizer
    from slmlab.data.char_tokenizer import CharTokenizer

    kinds = {"char": CharTokenizer, "bpe": BPETokenizer}
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind not in kinds:
        raise ValueError(f"tokenizer kind must be one of {sorted(kinds)}, got {kind!r}")
    return kinds[kind].from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Read either kind of tokenizer from a JSON file written by ``save``."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a tokenizer JSON file: {err}") from None
    return tokenizer_from_dict(d)
