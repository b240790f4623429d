"""Char and byte-level BPE tokenizers: round trips (hypothesis), a naive BPE reference, storage."""

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slmlab.data import (
    BPETokenizer,
    CharTokenizer,
    get_pair_counts,
    load_tokenizer,
    merge_pair,
    python_docs,
    tokenizer_from_dict,
)

# Any str, lone surrogates included (Python strings may hold them).
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=60)
CORPUS = python_docs()[:60_000]
BPE = BPETokenizer().train(CORPUS, 400)


# ---------------------------------------------------------------- pair counts and one merge


def test_get_pair_counts_by_hand():
    assert get_pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_pair_counts([5, 5, 5]) == {(5, 5): 2}
    assert get_pair_counts([]) == {} and get_pair_counts([7]) == {}
    acc = get_pair_counts([1, 2])
    assert get_pair_counts([1, 2, 9], acc) is acc and acc == {(1, 2): 2, (2, 9): 1}


def test_merge_pair_by_hand():
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 256) == [256, 3, 256]
    assert merge_pair([7, 7, 7], (7, 7), 300) == [300, 7]  # leftmost first
    assert merge_pair([7, 7, 7, 7], (7, 7), 300) == [300, 300]
    assert merge_pair([1, 3, 2], (1, 2), 256) == [1, 3, 2]
    assert merge_pair([], (1, 2), 256) == []


@given(st.lists(st.integers(0, 3), max_size=30), st.integers(0, 3), st.integers(0, 3))
def test_merge_pair_can_be_undone(ids, a, b):
    merged = merge_pair(ids, (a, b), 99)
    expanded = [x for i in merged for x in ((a, b) if i == 99 else (i,))]
    assert expanded == ids
    assert len(merged) == len(ids) - merged.count(99)


# ---------------------------------------------------------------- pre-split


def test_split_follows_gpt2_chunking():
    tok = BPETokenizer()
    assert tok.split("Hello world's 123 foo!!  bar\n") == [
        "Hello",
        " world",
        "'s",
        " 123",
        " foo",
        "!!",
        " ",
        " bar",
        "\n",
    ]
    assert tok.split("x_y = ab3") == ["x", "_", "y", " =", " ab", "3"]
    assert tok.split("") == []


@given(ANY_TEXT)
def test_split_covers_the_text(text):
    assert "".join(BPETokenizer().split(text)) == text


# ---------------------------------------------------------------- training vs a naive reference


def naive_bpe(text, vocab_size, split):
    """Textbook BPE: recount every pair over every chunk each step; ties -> smallest pair."""
    words = [list(chunk.encode("utf-8", "surrogatepass")) for chunk in split(text)]
    merges = []
    while len(merges) < vocab_size - 256:
        counts = {}
        for w in words:
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts or max(counts.values()) < 2:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        new = 256 + len(merges)
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i : i + 2] = [new]
                i += 1
    return merges, [i for w in words for i in w]


@pytest.mark.parametrize(
    "text, vocab",
    [
        ("aaabdaaabac aaabdaaabac", 270),
        ("the cat sat on the mat; the cat ate the rat.\n" * 3, 300),
        (CORPUS[:3000], 330),
        ("héllo wörld 日本語 日本 🙂🙂 🙂!\n" * 2, 290),
    ],
)
def test_training_matches_naive_bpe(text, vocab):
    tok = BPETokenizer().train(text, vocab)
    merges, ids = naive_bpe(text, vocab, tok.split)
    assert tok.merges == merges and tok.vocab_size == 256 + len(merges)
    assert tok.encode(text) == ids  # encoding replays training exactly


@settings(max_examples=40, deadline=None)
@given(st.text(st.sampled_from("ab c\n"), max_size=80), st.integers(256, 300))
def test_training_matches_naive_bpe_on_random_text(text, vocab):
    tok = BPETokenizer().train(text, vocab)
    merges, ids = naive_bpe(text, vocab, tok.split)
    assert tok.merges == merges
    assert tok.encode(text) == ids


def test_vocab_holds_the_bytes_of_each_merge():
    for k, (a, b) in enumerate(BPE.merges):
        assert BPE.vocab[256 + k] == BPE.vocab[a] + BPE.vocab[b]
    assert BPE.vocab_size == 400 == len(BPE.vocab)
    assert b" the" in BPE.vocab  # the most common English word with its space


def test_training_stops_when_no_pair_repeats():
    tok = BPETokenizer().train("abcd", 1000)
    assert tok.vocab_size == 256 and tok.merges == []
    assert BPETokenizer().train("abab", 1000).merges == [(97, 98)]


def test_bpe_compresses_and_more_merges_compress_more():
    sizes = [len(BPE.truncate(v).encode(CORPUS)) for v in (256, 300, 400)]
    assert sizes[0] == len(CORPUS.encode("utf-8")) and sizes[0] > sizes[1] > sizes[2]


def test_truncate_equals_training_to_the_smaller_size():
    small = BPETokenizer().train(CORPUS, 300)
    assert BPE.truncate(300).merges == small.merges
    with pytest.raises(ValueError, match=r"vocab_size must be in \[256, 400\]"):
        BPE.truncate(401)


# ---------------------------------------------------------------- round trips


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_bpe_round_trips_every_string(text):
    assert BPE.decode(BPE.encode(text)) == text
    assert BPETokenizer().decode(BPETokenizer().encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(ANY_TEXT)
def test_bpe_trained_on_anything_round_trips(text):
    tok = BPETokenizer().train(text * 2, 300)
    assert tok.decode(tok.encode(text)) == text


def test_bpe_encoding_is_cached_and_stable():
    text = "the cache keeps the chunks: the the the"
    first = BPE.encode(text)
    assert " the" in BPE._cache and BPE.encode(text) == first
    assert all(0 <= i < BPE.vocab_size for i in first)


def test_bpe_decode_replaces_invalid_utf8():
    assert BPE.decode([0xFF]) == "\ufffd"
    assert BPE.decode([0xE2, 0x82]) == "\ufffd\ufffd" or BPE.decode([0xE2, 0x82]) == "\ufffd"
    assert BPE.decode([]) == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_char_round_trips_what_it_was_trained_on(text):
    tok = CharTokenizer().train(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))
    assert tok.chars == sorted(set(text))


def test_char_tokenizer_by_hand():
    tok = CharTokenizer().train("hello\n")
    assert tok.chars == ["\n", "e", "h", "l", "o"] and tok.vocab_size == 5
    assert tok.encode("hole") == [2, 4, 3, 1]
    assert tok.decode([2, 1, 3, 3, 4]) == "hello"
    with pytest.raises(ValueError, match=r"character 'z' \(U\+007A\) is not in this tokenizer"):
        tok.encode("hz")


# ---------------------------------------------------------------- storage


@pytest.mark.parametrize("tok", [CharTokenizer().train("abc\n é"), BPE], ids=["char", "bpe"])
def test_save_load_and_dict_round_trip(tok, tmp_path):
    path = tmp_path / "tok.json"
    tok.save(path)
    assert json.loads(path.read_text())["kind"] == tok.kind
    assert os.listdir(tmp_path) == ["tok.json"]  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # the mode a plain open() gives
    for again in (
        type(tok).load(path),
        load_tokenizer(path),
        tokenizer_from_dict(tok.to_dict()),
        tokenizer_from_dict(json.loads(json.dumps(tok.to_dict()))),
    ):
        assert type(again) is type(tok) and again.to_dict() == tok.to_dict()
        assert again.encode("abc é") == tok.encode("abc é")
    tok.save(path)  # overwriting works too
    assert load_tokenizer(path).to_dict() == tok.to_dict()


def test_load_rejects_the_wrong_kind_and_broken_files(tmp_path):
    path = tmp_path / "bpe.json"
    BPE.save(path)
    with pytest.raises(ValueError, match="holds a 'bpe' tokenizer, not a 'char' one"):
        CharTokenizer.load(path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "bpe", "merg')
    with pytest.raises(ValueError, match="is not a tokenizer JSON file"):
        load_tokenizer(broken)


@pytest.mark.parametrize(
    "d, match",
    [
        ({"kind": "wordpiece"}, "tokenizer kind must be one of"),
        ([], "tokenizer kind must be one of"),
        ({"kind": "bpe", "version": 2, "merges": [], "pattern": "."}, "format version must be 1"),
        ({"kind": "bpe", "version": 1, "merges": [[1, 256]], "pattern": "."}, r"merge 0 must be"),
        ({"kind": "bpe", "version": 1, "merges": [[1, 2, 3]], "pattern": "."}, r"merge 0 must be"),
        ({"kind": "bpe", "version": 1, "merges": "x", "pattern": "."}, "needs 'merges'"),
        ({"kind": "bpe", "version": 1, "merges": [], "pattern": "("}, "not a valid regular"),
        ({"kind": "char", "version": 1, "chars": ["b", "a"]}, "sorted list of distinct"),
        ({"kind": "char", "version": 1, "chars": ["a", "a"]}, "sorted list of distinct"),
        ({"kind": "char", "version": 1, "chars": ["ab"]}, "a list of single characters"),
        ({"kind": "char", "version": 1, "chars": [1]}, "a list of single characters"),
        ({"kind": "char", "version": 1}, "a list of single characters"),
    ],
)
def test_from_dict_rejects_bad_dicts(d, match):
    with pytest.raises(ValueError, match=match):
        tokenizer_from_dict(d)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("vocab", [255, 0, "512", 512.0, True, None])
def test_bpe_rejects_bad_vocab_size(vocab):
    with pytest.raises(ValueError, match="vocab_size must be an int >= 256"):
        BPETokenizer().train("abc", vocab)


@pytest.mark.parametrize("tok", [CharTokenizer().train("ab"), BPE], ids=["char", "bpe"])
def test_tokenizers_reject_bad_input(tok):
    for bad in (b"ab", None, 3, ["a"]):
        with pytest.raises(ValueError, match="text must be a str"):
            tok.encode(bad)
    with pytest.raises(ValueError, match=r"ids\[1\] = -1 is out of range"):
        tok.decode([0, -1])
    with pytest.raises(ValueError, match=rf"ids\[0\] = {tok.vocab_size} is out of range"):
        tok.decode([tok.vocab_size])
    for bad in ([1.5], "ab", [None]):
        with pytest.raises(ValueError, match="ids must be a sequence of ints"):
            tok.decode(bad)
    with pytest.raises(ValueError, match="text must be a str"):
        tok.train(42, 300) if isinstance(tok, BPETokenizer) else tok.train(42)


def test_decode_accepts_numpy_and_torch_ints():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    ids = BPE.encode("int types")
    assert BPE.decode(np.array(ids)) == "int types"
    assert BPE.decode(torch.tensor(ids)) == "int types"
    assert BPE.decode(torch.tensor(ids).tolist()) == "int types"
