"""Chips: presets with sources, from_datasheet defaults, validation, fallback, DVFS scaling."""

import pytest

import hardware_model as hm
from hardware_model import energy
from hardware_model.chip import Chip, CIMArray, GiB, MemoryLevel, MiB, OperatingPoint


def test_presets_cover_the_required_classes():
    names = hm.chips.names()
    assert len(names) >= 7
    for required in (
        "mcu-ethos-u55",
        "mythic-m1076",
        "raspberry-pi-5",
        "jetson-orin-nano",
        "apple-a17-pro",
        "apple-m2-pro",
        "nvidia-h100-sxm",
    ):
        assert required in names
    for n in names:
        chip = hm.chips.get(n)
        assert chip.source, n
        assert chip.main_memory.kind == "main"
    assert hm.chips.get("mythic-m1076").cim is not None
    mem = [hm.chips.get(n).main_memory.capacity_bytes for n in names]
    assert mem == sorted(mem)
    with pytest.raises(ValueError, match="unknown chip 'tpu'; presets: .*raspberry-pi-5"):
        hm.chips.get("tpu")


def test_datasheet_arithmetic_of_presets():
    pi = hm.chips.get("raspberry-pi-5")
    # LPDDR4X-4267 on 32 bits: 4267e6 transfers/s * 4 bytes, 70 % sustained.
    assert pi.main_memory.bandwidth_bytes_per_s == pytest.approx(4267e6 * 4 * 0.7, rel=1e-3)
    # 4 cores * 2.4 GHz * 2 pipes * 4 fp32 lanes * 2 ops.
    assert pi.peak_ops["fp32"] == pytest.approx(4 * 2.4e9 * 2 * 4 * 2)
    jet = hm.chips.get("jetson-orin-nano")
    assert jet.peak_ops["int8"] * 2 == pytest.approx(40e12, rel=0.03)  # 40 TOPS sparse
    sup = hm.chips.get("jetson-orin-nano-super")
    assert sup.peak_ops["int8"] * 2 == pytest.approx(67e12, rel=0.01)  # 67 TOPS sparse


def test_from_datasheet_defaults():
    c = Chip.from_datasheet(
        "x",
        memory_bandwidth_gbs=100,
        memory_gb=16,
        peak_tops=40,
        sram_mb=8,
        process_nm=5,
        memory_type="lpddr5x",
        tdp_w=10,
    )
    assert c.peak_ops == pytest.approx({"int8": 40e12, "fp16": 20e12, "bf16": 20e12, "fp32": 10e12})
    sram, dram = c.memory
    assert dram.capacity_bytes == 16 * GiB and dram.bandwidth_bytes_per_s == 0.7 * 100e9
    assert dram.energy_pj_per_byte == pytest.approx(energy.DRAM_PJ_PER_BIT["lpddr5x"] * 8)
    assert sram.capacity_bytes == 8 * MiB and sram.bandwidth_bytes_per_s == 1000e9
    assert sram.energy_pj_per_byte == pytest.approx(energy.sram_pj_per_byte(8 * MiB, 5))
    assert c.static_power_w == pytest.approx(2.0) and c.sleep_power_w == pytest.approx(0.02)
    assert c.energy_pj_per_op["int8"] == pytest.approx(energy.op_pj("int8", 5) * 2.0)
    no_sram = Chip.from_datasheet(
        "y", memory_bandwidth_gbs=10, memory_gb=1, peak_tops=1, sram_mb=0, kind="cpu"
    )
    assert len(no_sram.memory) == 1 and no_sram.overhead_s == 1e-6


def _chip(**change):
    args = dict(
        name="c", peak_ops={"fp32": 1e12}, memory=(MemoryLevel("dram", GiB, 1e10, 100.0, "main"),)
    )
    return Chip(**{**args, **change})


@pytest.mark.parametrize(
    "change, exc, words",
    [
        (dict(peak_ops={}), TypeError, "peak_ops must be a non-empty dict"),
        (dict(peak_ops={"fp8": 1.0}), ValueError, "peak_ops format must be one of"),
        (dict(peak_ops={"fp32": -1.0}), ValueError, "peak_ops\\['fp32'\\]"),
        (dict(memory=()), TypeError, "memory must be a non-empty sequence"),
        (dict(utilisation=0.0), ValueError, "utilisation must be in"),
        (dict(utilisation=1.5), ValueError, "utilisation must be in"),
        (dict(static_power_w=-1.0), ValueError, "static_power_w"),
        (dict(kind="fpga"), ValueError, "kind must be one of"),
        (dict(compute_overhead=0.5), ValueError, "compute_overhead must be >= 1"),
        (dict(process_nm=1), ValueError, "between 3 and 180"),
        (dict(dvfs=(OperatingPoint("a", 1, 1e9),), nominal="b"), ValueError, "nominal"),
        (dict(cim="yes"), TypeError, "cim must be a CIMArray"),
    ],
)
def test_chip_validation(change, exc, words):
    with pytest.raises(exc, match=words):
        _chip(**change)


@pytest.mark.parametrize(
    "build, exc, words",
    [
        (lambda: MemoryLevel("l", -1, 1e9, 1.0), ValueError, "l.capacity_bytes"),
        (lambda: MemoryLevel("l", 1, 1e9, 1.0, "ram"), ValueError, "l.kind"),
        (lambda: CIMArray(1e6, 0, 1e12, 0.5), ValueError, "cim.bits"),
        (lambda: OperatingPoint("p", 0, 1e9), ValueError, "p.voltage_v"),
        (
            lambda: Chip.from_datasheet("z", memory_bandwidth_gbs=0, memory_gb=1, peak_tops=1),
            ValueError,
            "memory_bandwidth_gbs",
        ),
    ],
)
def test_part_validation(build, exc, words):
    with pytest.raises(exc, match=words):
        build()


def test_compute_format_fallback():
    pi = hm.chips.get("raspberry-pi-5")
    assert pi.compute_format("int4") == "int8" and pi.compute_format("bf16") == "fp16"
    only32 = _chip()
    assert only32.compute_format("int8") == "fp32"
    assert only32.ops_per_s("int4") == 1e12 * only32.utilisation


def test_dvfs_scaling():
    chip = hm.chips.get("jetson-orin-nano-super")
    low = chip.at("15w")
    fr, vr = 0.612 / 1.02, 0.70 / 0.85
    assert low.peak_ops["int8"] == pytest.approx(chip.peak_ops["int8"] * fr)
    assert low.energy_pj_per_op["fp16"] == pytest.approx(chip.energy_pj_per_op["fp16"] * vr**2)
    assert low.static_power_w == pytest.approx(chip.static_power_w * vr)
    assert low.overhead_s == pytest.approx(chip.overhead_s / fr)
    assert low.memory[0].bandwidth_bytes_per_s == pytest.approx(
        chip.memory[0].bandwidth_bytes_per_s * fr
    )
    assert low.main_memory == chip.main_memory  # DRAM keeps its own clock
    assert chip.at(None) is chip and chip.at(-1).name.endswith("@maxn")
    with pytest.raises(ValueError, match="unknown dvfs point"):
        chip.at("turbo")
    with pytest.raises(ValueError, match="has no DVFS"):
        hm.chips.get("nvidia-h100-sxm").at("low")


def test_with_sram():
    pi = hm.chips.get("raspberry-pi-5")
    big = pi.with_sram(64)
    assert big.memory[0].capacity_bytes == 64 * MiB
    assert big.memory[0].energy_pj_per_byte == pytest.approx(energy.sram_pj_per_byte(64 * MiB, 16))
    assert len(pi.with_sram(0).memory) == 1
    added = pi.with_sram(0).with_sram(2)
    assert added.memory[0].kind == "scratchpad"
    assert "raspberry-pi-5" in str(pi) and "GB/s" in str(pi)


# ---- syntiant-ndp120: the always-on, milliwatt-class at-memory-compute preset ----------------


def test_ndp120_preset_matches_its_sources():
    c = hm.chips.get("syntiant-ndp120")
    assert c.kind == "cim" and c.cim is not None and c.source
    assert c.process_nm == 40
    # Two DVFS points as published for MLPerf Tiny v0.7 keyword spotting.
    assert [(p.voltage_v, p.frequency_hz) for p in c.dvfs] == [(0.9, 30e6), (1.1, 98e6)]
    assert c.nominal == "1.1v-98mhz"
    # Core 2 peak 6.4 GOPS int8 = 3.2 G MAC/s in the arrays; 48 KB SRAM; no DRAM, 16 MB host flash.
    assert c.peak_ops == {"int8": 6.4e9} and c.cim.macs_per_s * 2 == 6.4e9
    assert c.cim.bits == 8 and c.cim.capacity_weights == 1e6
    sram, host = c.memory
    assert sram.capacity_bytes == 48 * 1024 and sram.kind == "scratchpad"
    assert host.capacity_bytes == 16 * MiB and host.kind == "main"
    # Milliwatt class: awake static power ~1 mW, sleep in the microwatts.
    assert 1e-4 < c.static_power_w < 5e-3 and c.sleep_power_w < 1e-4


def test_ndp120_fit_reproduces_both_mlperf_points():
    # Independent check of the docstring's fit: E = P(V) t + e(V) MACs, P ~ V, e ~ V^2, with the
    # published (energy, latency) per DS-CNN inference (~2.7 M MACs) at 1.1 V and 0.9 V.
    c = hm.chips.get("syntiant-ndp120")
    macs = 2.7e6
    for volts, t, published in ((1.1, 1.8e-3, 49.59e-6), (0.9, 4.3e-3, 35.29e-6)):
        vr = volts / 1.1
        e = c.static_power_w * vr * t + c.cim.energy_pj_per_mac * 1e-12 * vr**2 * macs
        assert e == pytest.approx(published, rel=0.01)


def test_ndp120_low_energy_point_scales_its_arrays():
    """At 0.9 V / 30 MHz the arrays slow with the clock and spend (V/V0)^2 per MAC, the scaling
    the MLPerf fit above relies on; a simulated token's compute energy follows."""
    c = hm.chips.get("syntiant-ndp120")
    low = c.at("0.9v-30mhz")
    fr, vr = 30 / 98, 0.9 / 1.1
    assert low.cim.macs_per_s == pytest.approx(c.cim.macs_per_s * fr)
    assert low.cim.energy_pj_per_mac == pytest.approx(c.cim.energy_pj_per_mac * vr**2)
    assert low.cim.capacity_weights == c.cim.capacity_weights
    a = _tiny_arch()
    fast = hm.simulate(a, c, weight_format="int8", context_len=16, cim=True)
    slow = hm.simulate(a, low, weight_format="int8", context_len=16, cim=True)
    ratio = slow.energy_breakdown_j["compute"] / fast.energy_breakdown_j["compute"]
    assert ratio == pytest.approx(vr**2, rel=0.02)
    assert slow.latency_s > fast.latency_s


def _tiny_arch():
    # ~0.46 M parameters: a model the size always-on chips run (wake words, commands).
    return hm.Arch(
        name="tiny",
        n_layer=4,
        d_model=96,
        n_head=4,
        n_kv_head=2,
        d_ff=256,
        vocab_size=256,
        tie_embeddings=False,
    )


def test_ndp120_runs_a_tiny_model_in_memory():
    c, a = hm.chips.get("syntiant-ndp120"), _tiny_arch()
    assert 2e5 < a.num_params() < 1e6
    r = hm.simulate(a, c, weight_format="int8", context_len=16, cim=True)
    assert r.fits
    assert r.bytes_moved["host-spi"] == 0  # weights stay in the arrays; KV fits in SRAM
    assert r.bytes_by_class["weights"] < a.d_model * 16  # only an embedding row and norms move
    # The arrays do every weight MAC at the sourced pJ per MAC; the rest is digital.
    assert r.energy_breakdown_j["compute"] >= a.matmul_weights_per_token() * 17.8e-12
    assert r.energy_breakdown_j["compute"] == pytest.approx(
        a.matmul_weights_per_token() * 17.8e-12, rel=0.01
    )
    assert 1e-6 < r.energy_per_token_j < 1e-3  # micro- to millijoules per token
    # Without the arrays the same weights cross the host SPI link every token.
    off = hm.simulate(a, c, weight_format="int8", context_len=16, cim=False)
    assert off.bytes_moved["host-spi"] > 0.9 * a.matmul_weights_per_token()
    assert off.energy_per_token_j > 10 * r.energy_per_token_j


def test_ndp120_does_not_fit_an_slm():
    r = hm.simulate(
        hm.models.get("smollm2-135m"), hm.chips.get("syntiant-ndp120"), weight_format="q4_0"
    )
    assert not r.fits
    assert "syntiant-ndp120 has 16 MiB" in r.why and "weights" in r.why
