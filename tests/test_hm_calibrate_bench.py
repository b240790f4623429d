"""calibrate (this machine as a Chip), bench figures, and the validation table in the README."""

from pathlib import Path

import pytest

import hardware_model as hm
from hardware_model import calibrate, validation
from hardware_model.arch import Arch

README = Path(__file__).resolve().parents[1] / "hardware_model" / "README.md"


def test_host_chip_is_built_from_the_measurements():
    m = calibrate.measurements(quick=True)
    for key in ("copy_bytes_per_s", "matvec_bytes_per_s", "cache_bytes_per_s", "overhead_s"):
        assert m[key] > 0
    chip = calibrate.host(measured=m)
    assert chip.name == "host" and chip.kind == "cpu"
    assert chip.main_memory.bandwidth_bytes_per_s == m["matvec_bytes_per_s"]
    assert chip.peak_ops["fp32"] == m["ops_per_s"]["fp32"] and "fp64" not in chip.peak_ops
    assert chip.overhead_s == m["overhead_s"] and chip.memory[0].capacity_bytes == m["cache_bytes"]
    r = hm.simulate("smollm2-135m", chip, weight_format="fp32", act_format="fp32")
    assert r.fits and r.tokens_per_s > 0


def test_measure_decode_runs_and_refuses_what_it_cannot_build():
    small = Arch("small", n_layer=2, d_model=128, n_head=4, n_kv_head=4, d_ff=256, vocab_size=1000)
    assert calibrate.measure_decode(small, n_tokens=2) > 0
    with pytest.raises(ValueError, match="attention \\+ dense-MLP"):
        calibrate.measure_decode(hm.models.get("mamba-130m"))
    with pytest.raises(ValueError, match="at most"):
        calibrate.measure_decode(hm.models.get("llama-3.2-1b"))


def test_bench_figures():
    figures = hm.bench.run(quick=True)
    for key in (
        "sweep_points_per_s",
        "simulate_calls_per_s",
        "simulate_ms",
        "simulate_no_fit_ms",
        "calibrate_host_s",
    ):
        assert figures[key] > 0, key


def test_validation_table_in_readme_is_current_and_errors_are_as_stated():
    assert validation.markdown() in README.read_text()
    rows = validation.table()
    assert len(rows) >= 8 and all(r["source"] for r in rows)
    # The README states every prediction lies within -10 % .. +45 % of the measurement.
    assert all(-0.10 <= r["error"] <= 0.45 for r in rows)
