"""The benchmark command runs and reports every figure (speed itself is never asserted)."""

import json

from slmlab import bench


def test_quick_bench_reports_every_figure(tmp_path, capsys, monkeypatch):
    # Keep the smoke test cheap: shrink the shapes, keep the code path.
    monkeypatch.setitem(bench.TRAIN_SHAPES, "a", dict(n_layer=1, n_head=2, d_model=16,
                                                     seq_len=8, batch=2))
    monkeypatch.setitem(bench.TRAIN_SHAPES, "b", dict(n_layer=1, n_head=2, d_model=16,
                                                     seq_len=8, batch=2))
    for name in list(bench.DECODE_SHAPES):
        monkeypatch.setitem(bench.DECODE_SHAPES, name, dict(d_model=16, n_layer=1, n_head=2,
                                                            d_ff=32))
    path = tmp_path / "bench.json"
    results = bench.main(["--quick", "--json", str(path)])
    assert json.loads(path.read_text()) == json.loads(json.dumps(results))
    for shape in ("a", "b", "a_compiled", "b_compiled"):
        assert results["training_tokens_per_s"][shape]["median"] > 0
    for shape in ("288/6/6", "512/8/8", "768/12/12"):
        row = results["decode_tokens_per_s"][shape]
        assert row["kv_cache"]["median"] > 0 and row["no_cache"]["median"] > 0
        assert row["kv_cache_compiled"]["median"] > 0 and row["kv_cache_compiled"]["compiled"]
        assert row["kv_cache_compiled"]["after_first_token"] > 0
    assert results["hardware_model"]["sweep_points_per_s"] > 0
    assert results["hardware_model"]["explorer_update_ms"] > 0
    for mixer in ("attention", "sliding_window", "block_sparse", "linear_attention", "ssm"):
        row = results["mixers"][mixer]
        assert all(t > 0 for t in row["forward_s"].values()) and row["decode_ms_at_64"] > 0
    # Caches that grow with the context and states that do not:
    mixers = results["mixers"]
    assert mixers["attention"]["cache_bytes_at_64"] > mixers["attention"]["cache_bytes_at_32"]
    for fixed in ("linear_attention", "ssm"):
        assert mixers[fixed]["cache_bytes_at_64"] == mixers[fixed]["cache_bytes_at_32"]
    # (the ring buffer grows only until it holds a whole window: 256 positions here)
    out = capsys.readouterr().out
    assert "training tokens/s" in out and "greedy decode" in out and "exponent" in out
