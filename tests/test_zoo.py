"""The model zoo: shipped models load, are as small as promised, and score what the manifest
says on held-out data; the build pipeline runs end to end."""

import json

import pytest
import torch

from slmlab import zoo
from slmlab.data import drop_overlap, fault_reports
from slmlab.evaluate import diagnosis_accuracy
from slmlab.zoo import recipes


def test_names_and_sizes():
    assert {"fault-explainer", "pydocs-bpe"} <= set(zoo.names())
    total = sum((zoo.ROOT / zoo.info(n)["file"]).stat().st_size for n in zoo.names())
    assert total <= 20 * 2**20, f"shipped weights are {total / 2**20:.1f} MiB > 20 MiB"


@pytest.mark.parametrize("name", ["fault-explainer", "pydocs-bpe"])
def test_shipped_model_matches_its_manifest(name):
    model, tokenizer = zoo.load(name)
    entry = zoo.info(name)
    assert model.num_params() == entry["params"]
    assert tokenizer.vocab_size == model.config.vocab_size == entry["vocab_size"]
    for key, value in entry["recipe"]["model"].items():
        assert getattr(model.config, key) == value
    assert next(model.parameters()).dtype == torch.float32 and not model.training


def test_fault_explainer_is_small_and_accurate_on_fresh_held_out_reports():
    model, tokenizer = zoo.load("fault-explainer")
    assert 1_000_000 <= model.num_params() <= 3_000_000
    # Fresh reports (a seed no recipe uses), minus any prompt seen in training.
    data = zoo.info("fault-explainer")["recipe"]["data"]
    train_set = fault_reports(data["train_reports"], seed=data["train_seed"])
    held_out = drop_overlap(fault_reports(300, seed=12345), train_set)
    accuracy = diagnosis_accuracy(model, tokenizer, held_out)
    assert accuracy >= 0.95
    assert zoo.info("fault-explainer")["metrics"]["diagnosis_accuracy"] >= 0.95


def test_pydocs_model_beats_unigram_and_matches_manifest_perplexity():
    model, tokenizer = zoo.load("pydocs-bpe")
    prepared = recipes.prepare("pydocs-bpe")
    from slmlab.evaluate import perplexity

    ppl = perplexity(model, prepared.val_ids, seq_len=256, max_windows=64)
    counts = torch.bincount(prepared.train_ids, minlength=tokenizer.vocab_size).double() + 1
    p = counts / counts.sum()
    unigram = float(torch.exp(-(p.log()[prepared.val_ids]).mean()))
    assert ppl < 0.5 * unigram  # context helps: far better than token frequencies alone
    assert ppl == pytest.approx(zoo.info("pydocs-bpe")["metrics"]["val_perplexity"], rel=0.1)


def test_unknown_names_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="available"):
        zoo.load("gpt-5")
    with pytest.raises(ValueError, match="available"):
        zoo.build("gpt-5", out_dir=tmp_path)


def test_quick_build_writes_loadable_weights_and_manifest(tmp_path):
    entry = zoo.build("fault-explainer", out_dir=tmp_path, quick=True, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["fault-explainer"] == entry
    model, tok = zoo._load_file(tmp_path / entry["file"])
    assert model.num_params() == entry["params"]
    assert 0.0 <= entry["metrics"]["diagnosis_accuracy"] <= 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "weights"]
