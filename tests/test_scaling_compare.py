"""slmlab.scaling (cost against sequence length) and slmlab.compare (architecture studies)."""

import json

import pytest

from slmlab import compare, scaling


def test_fit_exponent_recovers_known_power_laws():
    lengths = [256, 512, 1024, 2048, 4096]
    for k in (1.0, 1.5, 2.0):
        assert scaling.fit_exponent(lengths, [3e-6 * n ** k for n in lengths]) == \
            pytest.approx(k)
    # min_len drops the short lengths where a fixed cost dominates.
    times = [1e-3 + 1e-9 * n ** 2 for n in lengths]
    assert scaling.fit_exponent(lengths, times) < scaling.fit_exponent(lengths, times, 1024)
    with pytest.raises(ValueError, match="at least two lengths"):
        scaling.fit_exponent(lengths, times, min_len=4096)
    with pytest.raises(ValueError, match="positive"):
        scaling.fit_exponent([1, 2], [0.0, 1.0])


def test_forward_time_and_memory_of_a_mixer_layer():
    c = scaling.mixer_config("sliding_window", window=32, max_seq_len=512)
    assert c.n_layer == 1 and c.window == 32
    assert scaling.forward_time(c, 64, repeats=1) > 0
    small, big = (scaling.forward_peak_bytes(c, T) for T in (128, 512))
    # At least the (T, C) output is allocated, and a windowed layer grows about linearly.
    assert small >= 128 * c.d_model * 4
    assert 2.5 < big / small < 6
    with pytest.raises(ValueError, match="max_seq_len"):
        scaling.forward_time(c, 1024)
    with pytest.raises(TypeError, match="ModelConfig"):
        scaling.forward_time("attention", 16)


def test_decode_time_reports_cache_bytes_that_follow_each_mixer():
    for mixer, grows in (("attention", True), ("sliding_window", False), ("ssm", False)):
        c = scaling.mixer_config(mixer, window=16, max_seq_len=256)
        (t1, b1), (t2, b2) = (scaling.decode_time_per_token(c, n, tokens=2, repeats=1)
                              for n in (32, 128))
        assert t1 > 0 and t2 > 0
        assert (b2 > b1) == grows, mixer
    # A full KV cache holds keys and values of every position: 2 · H_kv · d · 4 bytes each.
    c = scaling.mixer_config("attention", max_seq_len=256)
    _, nbytes = scaling.decode_time_per_token(c, 100, tokens=4, repeats=1)
    assert nbytes == 104 * 2 * c.n_kv_head * c.head_dim * 4
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        scaling.decode_time_per_token(c, 250, tokens=10)


def test_fault_task_masks_cover_the_answers_only():
    task = compare.fault_task(60, 10, seed=3)
    assert task.train_mask.shape == task.train_ids.shape
    assert task.val_mask.shape == task.val_ids.shape
    text = task.tokenizer.decode(task.train_ids[:400].tolist())
    masked = "".join(ch for ch, keep in zip(text, task.train_mask[:400].tolist()) if keep)
    # The first report's answer is exactly the masked characters up to its end.
    first = compare.fault_reports(60, seed=3)[0]
    assert masked.startswith(first.answer)
    assert not any(task.train_mask[:len(first.prompt)].tolist())
    with pytest.raises(ValueError, match="n_train"):
        compare.fault_task(0)


def test_train_and_score_and_a_study_written_atomically(tmp_path, monkeypatch):
    task = compare.fault_task(80, 6)
    tiny = dict(n_layer=1, n_head=2, d_model=32, max_seq_len=128)
    budget = dict(steps=3, batch_size=2, seq_len=64, eval_every=3, eval_batches=1, warmup=1)
    result = compare.train_and_score(dict(mlp="moe", n_experts=2, top_k=1), task, base=tiny,
                                     budget=budget)
    assert result["params"] > result["active_params"]
    assert 0.0 <= result["accuracy"] <= 1.0 and result["answer_loss"] > 0
    assert result["history"].steps[-1] == 3
    with pytest.raises(ValueError, match="mixer must be one of"):
        compare.train_and_score(dict(mixer="rnn"), task, base=tiny, budget=budget)

    monkeypatch.setitem(compare.STUDIES, "tiny", {"a": {}, "b": dict(mixer="ssm")})
    monkeypatch.setattr(compare, "BASE", tiny)
    out = tmp_path / "tiny.json"
    compare.run_study("tiny", quick=True, progress=False, out=out)
    stored = json.loads(out.read_text())
    assert [r["name"] for r in stored["results"]] == ["a", "b"]
    assert stored["results"][1]["changes"] == {"mixer": "ssm"}
    assert not list(tmp_path.glob("*.tmp*"))  # nothing half-written left behind
    with pytest.raises(ValueError, match="unknown study"):
        compare.run_study("nope")
    with pytest.raises(ValueError, match="no stored results"):
        compare.load_results("nope")


def test_stored_study_results_have_the_recorded_shape():
    for name in compare.STUDIES:  # every study ships its results (labs 03-05 read them)
        results = compare.load_results(name)
        assert results["base"] == compare.BASE and results["budget"] == compare.BUDGET
        assert results["task"]["reports"] == 20000
        assert [r["name"] for r in results["results"]] == list(compare.STUDIES[name])
        for row in results["results"]:
            assert row["changes"] == compare.STUDIES[name][row["name"]]
            assert 0 <= row["accuracy"] <= 1 and row["params"] >= row["active_params"]
