"""hm.widgets: the explorer and the grid, driven from code and read back from the FigureWidget.

The expected numbers come from hand formulas on the published shapes and the chips' datasheet
fields (bytes per token = weights at their bits + the KV cache read, time = bytes / bandwidth),
not from the widgets' own arithmetic. One explorer and one grid serve every test (the first
FigureWidget costs seconds: plotly imports nbformat and jsonschema).
"""

import math

import numpy as np
import pytest

import hardware_model as hm
from hardware_model import widgets as hw
from hardware_model.arch import Arch
from hardware_model.energy import dram_pj_per_byte, sram_pj_per_byte

LLAMA = hm.models.get("llama-3.2-1b")
PI5 = hm.chips.get("raspberry-pi-5")
TINY = Arch("course-tiny", n_layer=4, d_model=256, n_head=4, n_kv_head=2, d_ff=704,
            vocab_size=2048)  # fmt: skip


def main_bytes_per_token(arch, bits, context, kv_bytes=2):
    """Hand formula: every weight once, plus the KV of `context` positions read and one written."""
    kv_per_position = 2 * arch.n_layer * arch.n_kv_head * arch.head_dim * kv_bytes
    return arch.num_params() * bits / 8 + kv_per_position * (context + 1)


@pytest.fixture(scope="module")
def shared_explorer():
    return hw.explorer("llama-3.2-1b", "raspberry-pi-5", weight_format="q4_0")


@pytest.fixture
def ex(shared_explorer):
    """The shared explorer, put back to llama-3.2-1b on the Pi 5, q4_0, decode at 1024."""
    c = shared_explorer.controls
    c["chip"].value = "mcu-ethos-u55"  # a chip change resets the SRAM and DVFS controls
    c["chip"].value = "raspberry-pi-5"
    for name, value in (("model", "llama-3.2-1b"), ("weight_format", "q4_0"),
                        ("phase", "decode"), ("context_len", 1024), ("cim", False)):  # fmt: skip
        c[name].value = value
    return shared_explorer


def bars(ex):
    bar = ex.figure.data[hw.ENERGY]
    return dict(zip(bar.y, bar.x))


def step(ex):
    s = ex.figure.data[hw.STEP]
    return s.x[0], s.y[0]


def test_decode_sits_on_the_main_memory_roof_as_bytes_over_bandwidth(ex):
    x, y = step(ex)
    flops = hm.workload.decode_flops_per_token(LLAMA, 1024)
    nbytes = main_bytes_per_token(LLAMA, 4.5, 1024)
    assert x == pytest.approx(flops / nbytes, rel=0.01)
    bw = PI5.main_memory.bandwidth_bytes_per_s
    assert y == pytest.approx(bw * x, rel=0.02)  # memory-bound: FLOP/s = bandwidth x intensity
    assert "16.3 tokens/s" in ex.figure.layout.title.text  # 11.95 GB/s / 728.7 MB
    assert bw / nbytes == pytest.approx(16.4, abs=0.05)
    assert "memory-bound" in ex.readout.value and "fits" in ex.readout.value


def test_roofs_are_the_chips_bandwidths_and_sustained_peak(ex):
    peak = PI5.peak_ops["int8"] * PI5.utilisation  # q4_0 runs as int8 dot products
    for trace, level in ((hw.ROOF_MAIN, PI5.memory[-1]), (hw.ROOF_ON_CHIP, PI5.memory[0])):
        roof = ex.figure.data[trace]
        x, y = np.array(roof.x), np.array(roof.y)
        assert np.allclose(y, np.minimum(level.bandwidth_bytes_per_s * x, peak))
        assert y.max() == pytest.approx(peak) and level.name in roof.name
    ops = ex.figure.data[hw.OPERATORS]
    assert {"qkv", "attention", "lm_head"} <= {t.split(" ")[0] for t in ops.text}
    assert len(ops.x) == len(ops.y) == len(ops.text)


def test_q4_0_is_faster_than_fp16_on_a_memory_bound_chip(ex):
    x4, y4 = step(ex)
    main4 = bars(ex)["lpddr4x (main memory)"]
    ex.controls["weight_format"].value = "fp16"
    x16, y16 = step(ex)
    main16 = bars(ex)["lpddr4x (main memory)"]
    expected = main_bytes_per_token(LLAMA, 16, 1024) / main_bytes_per_token(LLAMA, 4.5, 1024)
    assert y4 / y16 == pytest.approx(expected, rel=0.02)  # same FLOPs, fewer bytes
    assert x4 / x16 == pytest.approx(expected, rel=0.01)
    assert main16 / main4 == pytest.approx(expected, rel=0.01)
    # mJ per token of DRAM traffic = bytes x pJ/byte (LPDDR4X table entry), from the hand bytes
    hand_mj = main_bytes_per_token(LLAMA, 16, 1024) * dram_pj_per_byte("lpddr4x") * 1e-9
    assert main16 == pytest.approx(hand_mj, rel=0.01)


def test_longer_context_moves_more_kv_and_shorter_bars_sum_to_the_title(ex):
    before = bars(ex)["lpddr4x (main memory)"]
    ex.controls["context_len"].value = 8192
    after = bars(ex)["lpddr4x (main memory)"]
    kv = 2 * LLAMA.n_layer * LLAMA.n_kv_head * LLAMA.head_dim * 2 * (8192 - 1024)
    assert after - before == pytest.approx(kv * dram_pj_per_byte("lpddr4x") * 1e-9, rel=0.01)
    total_mj = sum(bars(ex).values())
    assert f"{total_mj:.3g} mJ per token" in ex.figure.layout.title.text


def test_prefill_is_far_more_arithmetic_per_byte_than_decode(ex):
    ridge = PI5.peak_ops["int8"] * PI5.utilisation / PI5.main_memory.bandwidth_bytes_per_s
    decode_x = np.median(ex.figure.data[hw.OPERATORS].x)
    ex.controls["phase"].value = "prefill"
    prefill_x = np.median(ex.figure.data[hw.OPERATORS].x)
    # A prefill tile of 13 tokens (4 MiB of cache / 295 KiB of activations per token) reads each
    # weight once for 13 tokens: the matmuls cross the ridge point to the compute side.
    assert decode_x < ridge < prefill_x and prefill_x > 10 * decode_x
    assert "prefill" in ex.figure.layout.title.text
    assert "compute-bound" in ex.readout.value


def test_on_chip_memory_that_holds_the_weights_takes_them_off_dram(ex):
    assert ex.controls["sram_mb"].value == 4  # the Pi's L2 + L3
    ex.controls["sram_mb"].value = 512  # the 32 MiB KV cache fits; 663 MiB of weights do not
    weights_only = main_bytes_per_token(LLAMA, 4.5, -1) * dram_pj_per_byte("lpddr4x") * 1e-9
    assert bars(ex)["lpddr4x (main memory)"] == pytest.approx(weights_only, rel=0.001)
    ex.controls["sram_mb"].value = 1024  # now the weights fit too: nothing left for DRAM
    b = bars(ex)
    on_chip = main_bytes_per_token(LLAMA, 4.5, 1024) * sram_pj_per_byte(2**30, 16) * 1e-9
    assert b["lpddr4x (main memory)"] == 0
    assert b["l2+l3 (on-chip)"] == pytest.approx(on_chip, rel=0.01)
    ex.controls["sram_mb"].value = 0
    assert list(ex.figure.data[hw.ROOF_ON_CHIP].x) == [] and len(bars(ex)) == 3


def test_compute_in_memory_removes_the_weight_traffic(ex):
    before = bars(ex)["lpddr4x (main memory)"]
    ex.controls["cim"].value = True
    b = bars(ex)
    main = next(v for k, v in b.items() if k.endswith("(main memory)"))
    assert main < 0.1 * before  # only the KV cache and the tied embedding row remain
    assert "what-if" in ex.readout.value and "+cim" in ex.figure.layout.title.text
    assert ex.chip.cim is not None and ex.chip.cim.capacity_weights >= LLAMA.num_params() * 0.5


def test_a_chip_whose_own_arrays_hold_the_model_is_not_a_what_if():
    mythic = hm.chips.get("mythic-m1076")
    chip, what_if = hw.with_cim(mythic, TINY)
    assert chip is mythic and not what_if  # 80 M weights of arrays hold a few million
    chip, what_if = hw.with_cim(PI5, TINY)
    assert what_if and chip.cim.energy_pj_per_mac == hw.WHAT_IF_CIM_PJ_PER_MAC
    assert chip.cim.macs_per_s == PI5.peak_ops["int8"] / 2


def test_dvfs_lowers_the_compute_roof_not_the_dram_roof(ex):
    roof = ex.figure.data[hw.ROOF_MAIN]
    peak, slope = max(roof.y), roof.y[0] / roof.x[0]
    ex.controls["dvfs"].value = "1.5GHz"
    roof = ex.figure.data[hw.ROOF_MAIN]
    assert max(roof.y) == pytest.approx(peak * 1.5 / 2.4)
    assert roof.y[0] / roof.x[0] == pytest.approx(slope)  # DRAM keeps its own clock


def test_changing_chip_resets_sram_and_dvfs_and_no_fit_says_why(ex):
    ex.controls["dvfs"].value = "2.0GHz"
    ex.controls["chip"].value = "mcu-ethos-u55"
    assert ex.controls["sram_mb"].value == 4 and ex.controls["dvfs"].value == hw.NOMINAL
    assert list(ex.controls["dvfs"].options) == ["nominal", "low", "mid", "high"]
    assert "does not fit" in ex.figure.layout.title.text
    assert list(ex.figure.data[hw.ENERGY].x) == [] and list(ex.figure.data[hw.STEP].x) == []
    assert "smallest change" in ex.readout.value and "36 MiB" in ex.readout.value
    ex.controls["chip"].value = "apple-m2-pro"
    assert ex.controls["dvfs"].disabled and ex.controls["sram_mb"].value == 24


def test_your_own_arch_and_chip_go_into_the_menus(shared_explorer):
    ex = hw.explorer(TINY, "mcu-ethos-u55", weight_format="int8", models=["smollm2-135m"],
                     chips=["raspberry-pi-5"], dvfs=0)  # fmt: skip
    assert list(ex.controls["model"].options) == ["smollm2-135m", "course-tiny"]
    assert ex.controls["dvfs"].value == "low" and "@low" in ex.figure.layout.title.text
    assert "course-tiny on mcu-ethos-u55" in ex.figure.layout.title.text
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(model="gpt-5"), ValueError, "unknown"),
        (dict(model=3), TypeError, "model must be"),
        (dict(chip="cray-1"), ValueError, "unknown chip"),
        (dict(weight_format="int3"), ValueError, "unknown weight format"),
        (dict(context_len=-1), ValueError, "context_len must be >= 0"),
        (dict(context_len=1.5), TypeError, "context_len must be an int"),
        (dict(phase="train"), ValueError, "phase must be one of"),
        (dict(sram_mb=-2), ValueError, "sram_mb must be a non-negative"),
        (dict(cim="yes"), TypeError, "cim must be True or False"),
        (dict(chip="apple-m2-pro", dvfs="turbo"), ValueError, "no DVFS"),
        (dict(dvfs="turbo"), ValueError, "unknown dvfs point"),
        (dict(dvfs=7), ValueError, "out of range"),
        (dict(models=[]), ValueError, "models must not be empty"),
        (dict(models="llama-3.2-1b"), TypeError, "models must be a list"),
        (dict(chips=[1.0]), TypeError, "chip must be a preset name"),
        (dict(model=TINY, models=[TINY.replace(d_ff=512)]), ValueError, "two different"),
    ],
)
def test_explorer_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        hw.explorer(**kwargs)


# ---- the grid ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grid():
    return hw.can_it_run_grid(weight_format="q4_0", context_len=1024)


def cells(grid):
    """{(model, chip): (z, text)} of the value trace, and the set of no-fit cells."""
    d0, d1 = grid.figure.data
    z0, t0, z1 = np.array(d0.z, float), np.array(d0.text), np.array(d1.z, float)
    keys = [(m, c) for m in d0.y for c in d0.x]
    values = dict(zip(keys, zip(z0.ravel(), t0.ravel())))
    no_fit = {k for k, z in zip(keys, z1.ravel()) if z == 1}
    return values, no_fit


def hand_fit(arch, chip, bits, context=1024):
    """True / False where weights + KV alone decide it (a 10 % margin), else None."""
    cap = chip.main_memory.capacity_bytes + sum(
        lv.capacity_bytes for lv in chip.memory[:-1] if lv.kind == "scratchpad"
    )
    need = main_bytes_per_token(arch, bits, context) if "mamba" not in arch.name else None
    if need is None:
        need = arch.num_params() * bits / 8
        return False if need > cap else (True if need < 0.5 * cap else None)
    return False if need > cap else (True if need < 0.9 * cap else None)


def test_grid_fits_where_the_bytes_fit_and_greys_the_rest(grid):
    grid.controls["metric"].value = "tokens_per_s"
    values, no_fit = cells(grid)
    assert len(values) == len(hm.models.names()) * len(hm.chips.names())
    decided = 0
    for (m, c), (z, text) in values.items():
        verdict = hand_fit(hm.models.get(m), hm.chips.get(c), 4.5)
        assert ((m, c) in no_fit) == math.isnan(z) == (text == "")
        if verdict is not None:
            decided += 1
            assert verdict == ((m, c) not in no_fit), (m, c)
    assert decided > 100
    assert {("phi-4", "mcu-ethos-u55"), ("smollm2-135m", "mcu-ethos-u55")} <= no_fit


def test_grid_tokens_per_s_is_bandwidth_over_bytes(grid):
    values, _ = cells(grid)
    z, text = values[("llama-3.2-1b", "raspberry-pi-5")]
    hand = PI5.main_memory.bandwidth_bytes_per_s / main_bytes_per_token(LLAMA, 4.5, 1024)
    assert 10**z == pytest.approx(hand, rel=0.01) and float(text) == pytest.approx(hand, rel=0.01)
    assert "tokens/s" in grid.figure.layout.title.text


def test_grid_q4_0_never_slower_than_fp16_and_fits_more(grid):
    q4, no_fit_q4 = cells(grid)
    grid.controls["weight_format"].value = "fp16"
    f16, no_fit_16 = cells(grid)
    grid.controls["weight_format"].value = "q4_0"
    assert no_fit_q4 < no_fit_16  # strictly fewer cells fail with 4.5-bit weights
    both = [k for k in q4 if k not in no_fit_16]
    assert both and all(q4[k][0] >= f16[k][0] - 1e-12 for k in both)
    faster = sum(q4[k][0] > f16[k][0] + math.log10(2) for k in both)
    assert faster > len(both) / 2  # most cells are memory-bound: at least 2x faster


def test_grid_energy_and_fits_metrics(grid):
    grid.controls["metric"].value = "energy_per_token_j"
    values, no_fit = cells(grid)
    assert grid.figure.data[0].reversescale is True  # fewer joules is brighter
    z, text = values[("llama-3.2-1b", "raspberry-pi-5")]
    assert text.endswith("mJ") and 0.05 < 10**z < 1.0
    grid.controls["metric"].value = "fits"
    values, _ = cells(grid)
    used = [z for k, (z, _) in values.items() if k not in no_fit]
    assert all(0 < u <= 1 for u in used)
    z, text = values[("smollm2-135m", "apple-m2-ultra")]
    assert text == "0%" and z < 0.001  # 76 MB in 192 GiB
    grid.controls["metric"].value = "tokens_per_s"


def test_grid_longer_context_never_helps(grid):
    short, no_fit_short = cells(grid)
    grid.controls["context_len"].value = 131072
    long, no_fit_long = cells(grid)
    grid.controls["context_len"].value = 1024
    assert no_fit_short < no_fit_long
    assert all(long[k][0] <= short[k][0] + 1e-12 for k in long if k not in no_fit_long)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(metric="watts"), ValueError, "metric must be one of"),
        (dict(weight_format="int4-g7"), ValueError, "not in the grid's menu"),
        (dict(weight_format="int3"), ValueError, "unknown weight format"),
        (dict(context_len=-5), ValueError, "context_len"),
        (dict(models=["llama-3.2-1b", "nope"]), ValueError, "unknown"),
        (dict(chips=[]), ValueError, "chips must not be empty"),
    ],
)
def test_grid_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        hw.can_it_run_grid(**kwargs)


def test_bench_widgets_reports_every_figure(shared_explorer, grid):
    out = hw.bench_widgets(quick=True)
    keys = {"explorer_update_ms", "explorer_update_max_ms", "grid_update_ms",
            "grid_update_max_ms", "grid_build_ms", "updates"}  # fmt: skip
    assert set(out) == keys
    assert all(math.isfinite(v) and v > 0 for v in out.values())
    assert out["explorer_update_max_ms"] >= out["explorer_update_ms"]
    assert out["updates"] == 23
