"""Character-level tokenizer: one id per distinct character seen in training.

The simplest tokenizer there is: the vocabulary is the sorted set of characters in the training
text, so ids are small and sequences are long (one token per character). Encoding a character
that training never saw raises a ValueError naming it, rather than silently mapping it to an
"unknown" id: the fault-report alphabet is closed, so an unseen character is a data bug.
"""

from __future__ import annotations

from slmlab.data.tokenizer_base import (
    FORMAT_VERSION,
    Tokenizer,
    _check_header,
    check_ids,
    check_text,
)


class CharTokenizer(Tokenizer):
    """Maps each character to its index in the sorted vocabulary.

    Args:
        chars: the vocabulary (any iterable of single characters; duplicates are dropped and
            the rest sorted by code point). Empty until :meth:`train` is called.
    """

    kind = "char"

    def __init__(self, chars=()):
        self._set_chars(chars)

    def _set_chars(self, chars) -> None:
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars must be single characters, got {c!r}")
        self.chars = sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def train(self, text: str) -> CharTokenizer:
        """Make the vocabulary the distinct characters of ``text``. Returns self."""
        self._set_chars(check_text(text))
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """One id per character; a character outside the vocabulary is a ValueError."""
        check_text(text)
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            c = err.args[0]
            raise ValueError(
                f"character {c!r} (U+{ord(c):04X}) is not in this tokenizer's vocabulary of "
                f"{self.vocab_size} characters; train it on text that contains it"
            ) from None

    def decode(self, ids) -> str:
        """The characters for ``ids`` (each must be in ``[0, vocab_size)``)."""
        return "".join(self.chars[i] for i in check_ids(ids, self.vocab_size))

    def to_dict(self) -> dict:
        return {"kind": self.kind, "version": FORMAT_VERSION, "chars": list(self.chars)}

    @classmethod
    def from_dict(cls, d: dict) -> CharTokenizer:
        _check_header(d, cls.kind)
        chars = d.get("chars")
        if not isinstance(chars, list) or not all(
            isinstance(c, str) and len(c) == 1 for c in chars
        ):
            raise ValueError("a char tokenizer dict needs 'chars': a list of single characters")
        if chars != sorted(set(chars)):
            raise ValueError(
                "a char tokenizer dict needs 'chars': a sorted list of distinct characters"
            )
        return cls(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
