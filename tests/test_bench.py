"""The benchmark command runs and reports every figure (speed itself is never asserted)."""

import json

import pytest

from slmlab import bench
from slmlab.model import SLM, ModelConfig, native
from slmlab.model.mlp import SwiGLU


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
        # batch 1, float32 on a CPU: the hand-written step where it builds (x86-64 Linux)
        want = "kernel" if native.supported() else "compiled"
        assert row["kv_cache_compiled"]["step"] == want
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
    ceilings = results["ceilings"]  # one measured next to each shape's rows
    for shape in ("a", "b"):
        assert ceilings["matmul_flops_per_s"][shape] > 0
        row = results["utilisation"]["training"][shape]
        assert row[shape]["flops_per_s"] == pytest.approx(
            row["flops_per_token"] * results["training_tokens_per_s"][shape]["median"])
        assert row[shape]["of_matmul"] == pytest.approx(
            row[shape]["flops_per_s"] / ceilings["matmul_flops_per_s"][shape])
    for shape in ("288/6/6", "512/8/8", "768/12/12"):
        assert ceilings["read_bytes_per_s"][shape] > 0
        row = results["utilisation"]["decode"][shape]
        assert row["of_read"] == pytest.approx(row["bytes_per_s"]
                                               / ceilings["read_bytes_per_s"][shape])
    out = capsys.readouterr().out
    assert "training tokens/s" in out and "greedy decode" in out and "exponent" in out
    assert "against this machine's ceilings" in out and "of read" in out


@pytest.mark.parametrize("tied", [False, True])
def test_decode_bytes_per_token_counts_the_weights_and_the_cache(tied):
    config = ModelConfig(vocab_size=97, n_layer=3, n_head=4, n_kv_head=2, d_model=32, d_ff=48,
                         max_seq_len=64, tie_embeddings=tied)
    model = SLM(config)
    # Independent count from the model itself: every matrix is multiplied with once per token
    # (a tied table once, as the head), an untied embedding table is not; the token's row of
    # the table is read by the lookup either way; the vectors (norm gains) are left out.
    matrices = {id(p): p for p in model.parameters() if p.dim() == 2}
    weights = sum(p.numel() for p in matrices.values()) + config.d_model
    if not tied:
        weights -= model.tok_emb.weight.numel()
    kv_per_position = config.n_layer * 2 * config.n_kv_head * config.head_dim
    for context in (0, 1, 17):
        assert bench.decode_bytes_per_token(config, context) == 4 * (weights
                                                                     + kv_per_position * context)
    assert bench.decode_bytes_per_token(config, 17, value_bytes=2) == 2 * (
        weights + kv_per_position * 17)


def test_decode_utilisation_averages_over_the_generated_tokens():
    config = ModelConfig(vocab_size=32000, max_seq_len=1024, tie_embeddings=False,
                         **bench.DECODE_SHAPES["288/6/6"])
    weights = bench.decode_bytes_per_token(config, 0)
    kv_per_position = bench.decode_bytes_per_token(config, 1) - weights
    results = {"ceilings": {"read_bytes_per_s": {"288/6/6": 40e9},
                            "matmul_flops_per_s": {"a": 1e11, "b": 1e11}},
               "training_tokens_per_s": {k: {"median": 1000.0} for k in
                                         ("a", "a_compiled", "b", "b_compiled")},
               "decode_tokens_per_s": {"288/6/6": {"new_tokens": 256,
                                                   "kv_cache_compiled": {"after_first_token":
                                                                         300.0}}}}
    row = bench.utilisation(results)["decode"]["288/6/6"]
    # New token j (0-based) attends to the 3 prompt positions, the j before it and itself - 1:
    # 3 + j positions, 3 + 127.5 on average over 256 tokens.
    assert row["bytes_per_token"] == pytest.approx(weights + kv_per_position * (3 + 127.5))
    assert row["of_read"] == pytest.approx(300.0 * row["bytes_per_token"] / 40e9)


def test_training_shapes_match_a_gelu_mlp_in_parameters_and_flops():
    # The shapes: SwiGLU's 3 matrices of C × hidden against a GELU MLP's 2 of C × 4C.
    for shape in bench.TRAIN_SHAPES:
        config = bench._train_config(shape)
        gelu = 2 * config.d_model * 4 * config.d_model
        assert SwiGLU.matmul_weights(config) == pytest.approx(gelu, rel=0.002)


@pytest.mark.parametrize("measure, bad", [(bench.read_bandwidth, dict(mib=0)),
                                          (bench.read_bandwidth, dict(mib=True)),
                                          (bench.read_bandwidth, dict(repeats=1.5)),
                                          (bench.matmul_rate, dict(n=-1))])
def test_ceilings_reject_bad_sizes(measure, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        measure(**bad)


def test_ceilings_are_rates_of_the_work_done(monkeypatch):
    # Every timed call takes 0.5 s (and its work runs once): the rates are work / 0.5 s.
    monkeypatch.setattr(bench, "_timed", lambda fn, repeats: [fn(), 0.5][1:] * repeats)
    assert bench.read_bandwidth(4, repeats=2) == 4 * 2**20 / 0.5
    assert bench.matmul_rate(8, repeats=2) == 2 * 8**3 / 0.5
