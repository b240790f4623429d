"""calibrate (this machine as a Chip), bench figures, and the validation table in the README."""

from pathlib import Path

import pytest

import hardware_model as hm
from hardware_model import calibrate, validation
from hardware_model.arch import Arch

README = Path(__file__).resolve().parents[1] / "hardware_model" / "README.md"


def test_host_chip_is_built_from_the_measurements():
    m = calibrate.measurements(quick=True)
    streams = ("copy_bytes_per_s", "add_bytes_per_s", "matvec_bytes_per_s")
    for key in (*streams, "memory_bytes_per_s", "cache_bytes_per_s", "overhead_s"):
        assert m[key] > 0
    assert m["memory_bytes_per_s"] == max(m[k] for k in streams)
    chip = calibrate.host(measured=m)
    assert chip.name == "host" and chip.kind == "cpu"
    assert chip.main_memory.bandwidth_bytes_per_s == m["memory_bytes_per_s"]
    assert chip.memory[0].bandwidth_bytes_per_s >= m["memory_bytes_per_s"]
    assert chip.peak_ops["fp32"] == m["ops_per_s"]["fp32"] and "fp64" not in chip.peak_ops
    assert chip.overhead_s == m["overhead_s"] and chip.memory[0].capacity_bytes == m["cache_bytes"]
    r = hm.simulate("smollm2-135m", chip, weight_format="fp32", act_format="fp32")
    assert r.fits and r.tokens_per_s > 0


@pytest.mark.parametrize(
    "copy, add, left, right, matvec, memory",
    [
        # A single slow matrix shape (2 GB/s) no longer sets the bandwidth: the other shape wins.
        (3e9, 5e9, 2e9, 7.6e9, 7.6e9, 7.6e9),
        # ... and when a plain stream beats both shapes, the stream sets it.
        (9e9, 5e9, 2e9, 7.6e9, 7.6e9, 9e9),
        (1e9, 6e9, 4e9, 2e9, 4e9, 6e9),
    ],
)
def test_memory_bandwidth_is_the_best_of_the_streams(monkeypatch, copy, add, left, right,
                                                      matvec, memory):
    big = 64 * 2**20
    shapes = []

    def fake_copy(nbytes, repeats=3):
        return copy if nbytes >= big else 50e9  # the small copy is the cache figure

    def fake_matvec(nbytes, repeats=3, *, rows=1024, cols=4096, side="left"):
        shapes.append((rows, cols, side))
        return left if side == "left" else right

    monkeypatch.setattr(calibrate, "copy_bandwidth", fake_copy)
    monkeypatch.setattr(calibrate, "add_bandwidth", lambda nbytes, repeats=3: add)
    monkeypatch.setattr(calibrate, "matvec_bandwidth", fake_matvec)
    monkeypatch.setattr(calibrate, "matmul_ops_per_s", lambda fmt, n, repeats=3: 1e9)
    monkeypatch.setattr(calibrate, "op_overhead_s", lambda calls=20000: 1e-6)
    m = calibrate.measurements(quick=True)
    assert sorted(shapes) == [(1024, 4096, "left"), (4096, 1024, "right")]
    assert (m["copy_bytes_per_s"], m["add_bytes_per_s"]) == (copy, add)
    assert m["matvec_bytes_per_s"] == matvec and m["memory_bytes_per_s"] == memory
    chip = calibrate.host(measured=m)
    assert chip.main_memory.bandwidth_bytes_per_s == memory
    assert chip.memory[0].bandwidth_bytes_per_s == 50e9


def test_stream_byte_counts(monkeypatch):
    # With every pass taking "1 s", each function returns the bytes it counts per pass.
    monkeypatch.setattr(calibrate, "_best_time", lambda fn, repeats: (fn(), 1.0)[1])
    rows, cols = 8, 32
    one = rows * cols * 4  # bytes of one fp32 matrix
    for side in ("left", "right"):  # x has `rows` entries on the left, `cols` on the right
        got = calibrate.matvec_bandwidth(3 * one + 100, rows=rows, cols=cols, side=side)
        assert got == 3 * one  # whole matrices only
    assert calibrate.add_bandwidth(24 * 5000) == 3 * 5000 * 8  # read a, read b, write out
    # copy: read + write 2**20 doubles, repeated 8 times to make 64 MiB of work.
    assert calibrate.copy_bandwidth(8 * 2**20) == 2 * 8 * 2**20 * 8
    with pytest.raises(ValueError, match="side must be 'left'"):
        calibrate.matvec_bandwidth(one, rows=rows, cols=cols, side="top")
    with pytest.raises(ValueError, match="rows must be >= 1"):
        calibrate.matvec_bandwidth(one, rows=0, cols=cols)
    with pytest.raises(TypeError, match="cols must be an int"):
        calibrate.matvec_bandwidth(one, rows=rows, cols=32.0)


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
