"""hm.sweep: the same numbers as simulate for every point, table shape, clear errors."""

import numpy as np
import pytest

import hardware_model as hm

ARCHS = ["smollm2-135m", "gemma-2-2b", "olmoe-1b-7b", "mamba-370m", "phi-4"]
CHIPS = ["mcu-ethos-u55", "mythic-m1076", "raspberry-pi-5", "nvidia-h100-sxm"]
FMTS = ["fp16", "q8_0", "int4-g64"]
CTXS = [0, 300, 9000]


@pytest.mark.parametrize("phase", ["decode", "prefill"])
def test_sweep_equals_simulate_at_every_point(phase):
    t = hm.sweep(ARCHS, CHIPS, FMTS, CTXS, phase=phase, prompt_len=700)
    assert t.n_rows == len(ARCHS) * len(CHIPS) * len(FMTS) * len(CTXS)
    for row in t.rows():
        r = hm.simulate(
            row["arch"],
            row["chip"],
            weight_format=row["weight_format"],
            context_len=row["context_len"],
            phase=phase,
            prompt_len=700,
        )
        assert row["fits"] == r.fits
        assert row["memory_needed_gb"] == pytest.approx(r.memory_needed["total"] / 2**30)
        if r.fits:
            assert row["tokens_per_s"] == pytest.approx(r.tokens_per_s, rel=1e-12)
            assert row["energy_per_token_j"] == pytest.approx(r.energy_per_token_j, rel=1e-12)
            assert row["avg_power_w"] == pytest.approx(r.avg_power_w, rel=1e-12)
            assert row["bound"] == r.bound
            assert row["flops_per_token"] == pytest.approx(r.flops, rel=1e-12)
        else:
            assert row["tokens_per_s"] == 0 and row["energy_per_token_j"] == np.inf


def test_table_is_ready_for_plotly():
    go = pytest.importorskip("plotly.graph_objects")
    t = hm.sweep("llama-3.2-1b", hm.chips.names(), hm.formats.names("weight"), 1024)
    fig = go.Figure(
        go.Scatter(x=t["weights_gb"], y=t["tokens_per_s"], mode="markers", text=t["chip"])
    )
    assert len(fig.data[0].x) == t.n_rows
    fits = t.where(t["fits"])
    assert fits.n_rows == int(t["fits"].sum()) and fits["fits"].all()


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(archs=[]), ValueError, "archs must not be empty"),
        (dict(weight_formats=["q2"]), ValueError, "unknown weight format"),
        (dict(context_lens=[-5]), ValueError, "context_len must be >= 0"),
        (dict(phase="train"), ValueError, "phase must be one of"),
        (dict(batch=0), ValueError, "batch must be >= 1"),
        (dict(cim=1), TypeError, "cim must be None, True or False"),
    ],
)
def test_bad_arguments(kwargs, exc, words):
    args = dict(archs="smollm2-135m", chips="raspberry-pi-5")
    args.update(kwargs)
    with pytest.raises(exc, match=words):
        hm.sweep(**args)
