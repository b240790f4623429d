"""Checkpoints: exact round trip, atomic writes, and clear errors for damaged or foreign files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from slmlab import checkpoint
from slmlab.data import CharTokenizer
from slmlab.model import SLM, ModelConfig


def make(tie=True) -> SLM:
    torch.manual_seed(0)
    return SLM(ModelConfig(vocab_size=20, n_layer=2, n_head=2, n_kv_head=1, d_model=16,
                           max_seq_len=32, tie_embeddings=tie)).eval()


@pytest.mark.parametrize("tie", [True, False])
def test_round_trip_gives_identical_logits_and_tokenizer(tmp_path, tie):
    m = make(tie)
    tok = CharTokenizer().train("abcdefghij klmnopqrs")
    path = checkpoint.save(tmp_path / "m", m, tok, extra={"recipe": {"steps": 3}})
    assert path.name == "m.safetensors"
    loaded, tok2 = checkpoint.load(path)
    x = torch.randint(0, 20, (2, 9))
    assert torch.equal(loaded(x)[0], m(x)[0])
    assert loaded.config == m.config
    assert (loaded.head.weight is loaded.tok_emb.weight) == tie
    assert tok2.encode("fed cab") == tok.encode("fed cab")
    assert loaded.checkpoint_extra == {"recipe": {"steps": 3}}
    # No stray temporary files next to the checkpoint.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_no_pickle_the_file_is_safetensors_with_json_header(tmp_path):
    path = checkpoint.save(tmp_path / "m.safetensors", make())
    data = path.read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert header["__metadata__"]["format"] == checkpoint.FORMAT
    assert json.loads(header["__metadata__"]["tokenizer"]) is None


def test_truncated_file_is_a_clear_error(tmp_path):
    path = checkpoint.save(tmp_path / "m", make())
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        checkpoint.load(path)


def test_flipped_byte_is_caught_by_the_checksum(tmp_path):
    path = checkpoint.save(tmp_path / "m", make())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        checkpoint.load(path)


def test_config_that_does_not_match_the_weights_is_a_clear_error(tmp_path):
    path = checkpoint.save(tmp_path / "m", make())
    tensors, meta = checkpoint.read(path)
    cfg = dict(meta["config"], d_model=32)
    from safetensors.torch import save
    header = {"format": checkpoint.FORMAT, "config": json.dumps(cfg), "tokenizer": "null",
              "extra": "{}", "sha256": checkpoint._digest(tensors)}
    path.write_bytes(save(tensors, metadata=header))
    with pytest.raises(ValueError, match="does not match its config"):
        checkpoint.load(path)


def test_foreign_and_missing_files_are_clear_errors(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="not an slmlab checkpoint"):
        checkpoint.load(other)
    with pytest.raises(ValueError, match="no checkpoint file"):
        checkpoint.load(tmp_path / "absent.safetensors")
    with pytest.raises(TypeError):
        checkpoint.save(tmp_path / "x", torch.nn.Linear(2, 2))


def test_failed_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = checkpoint.save(tmp_path / "m", make())
    before = path.read_bytes()
    import os
    def broken_replace(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", broken_replace)
    m2 = make()
    with torch.no_grad():
        m2.tok_emb.weight.add_(1.0)
    with pytest.raises(OSError):
        checkpoint.save(path, m2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
