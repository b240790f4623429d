"""hardware_model.energy: the 45 nm table reproduced, the process-scaling rule, clear errors.

Published values are typed in here from the papers (Horowitz ISSCC 2014; Han et al. 2015,
Table 1), never copied from the module.
"""

import math

import pytest

from hardware_model import energy


def test_45nm_table_reproduces_han_2015_table_1():
    # Han et al. 2015, Table 1 (45 nm, from Horowitz): pJ per 32-bit operation or access.
    published = {
        "32-bit int ADD": 0.1,
        "32-bit float ADD": 0.9,
        "32-bit register file": 1.0,
        "32-bit int MULT": 3.1,
        "32-bit float MULT": 3.7,
        "32-bit SRAM read (8 KB)": 5.0,
        "32-bit DRAM read": 640.0,
    }
    rows = {what: pj for what, pj, _source in energy.table_45nm()}
    assert rows.keys() == published.keys()
    for what, pj in published.items():
        assert rows[what] == pytest.approx(pj, rel=1e-12), what
    # "Data movement costs more than compute": a DRAM word is ~170x a float multiply.
    assert rows["32-bit DRAM read"] / rows["32-bit float MULT"] == pytest.approx(640 / 3.7)


def test_horowitz_cache_points_and_8bit_ops():
    # Horowitz 2014: a 64-bit cache access costs 10 / 20 / 100 pJ at 8 KB / 32 KB / 1 MB.
    for kib, pj64 in ((8, 10.0), (32, 20.0), (1024, 100.0)):
        assert energy.sram_pj_per_byte(kib * 1024) * 8 == pytest.approx(pj64, rel=1e-12)
    # 8-bit add 0.03 pJ + 8-bit multiply 0.2 pJ; int8 MACs accumulate in 32 bits (+0.1 pJ).
    assert energy.mac_pj("int8") == pytest.approx(0.2 + 0.1)
    assert energy.mac_pj("fp32") == pytest.approx(3.7 + 0.9)
    assert energy.mac_pj("fp16") == pytest.approx(1.1 + 0.4)
    assert energy.op_pj("fp16") == pytest.approx((1.1 + 0.4) / 2)
    # int4 is derived: (4/8)^2 of the int8 multiply plus a 16-bit add (0.05 pJ).
    assert energy.mac_pj("int4") == pytest.approx(0.2 * 0.25 + 0.05)


def test_sram_energy_grows_with_capacity_and_extrapolates_with_last_slope():
    caps = [1024 * 2**k for k in range(0, 16)]
    values = [energy.sram_pj_per_byte(c) for c in caps]
    assert all(b > a for a, b in zip(values, values[1:]))
    # Beyond 1 MB the 32 KB -> 1 MB slope continues: slope = ln(100/20) / ln(1024/32).
    slope = math.log(5) / math.log(32)
    assert energy.sram_pj_per_byte(4 * 2**20) == pytest.approx(12.5 * 4**slope, rel=1e-12)
    # Below 8 KB the 8 -> 32 KB slope (exactly 0.5) continues.
    assert energy.sram_pj_per_byte(2 * 1024) == pytest.approx(1.25 * 0.25**0.5, rel=1e-12)


def test_process_scaling_rule():
    assert energy.node_scale(45) == pytest.approx(1.0)
    assert energy.node_scale(22, vdd=0.8) == pytest.approx((22 / 45) * (0.8 / 0.9) ** 2)
    assert energy.node_scale(7) == pytest.approx((7 / 45) * (0.75 / 0.9) ** 2)
    nodes = [180, 90, 45, 28, 16, 7, 4]
    scales = [energy.node_scale(n) for n in nodes]
    assert all(b < a for a, b in zip(scales, scales[1:]))
    assert energy.mac_pj("fp32", 7) == pytest.approx(4.6 * energy.node_scale(7))
    assert energy.register_pj_per_byte(16) == pytest.approx(0.25 * energy.node_scale(16))
    # DRAM energy is not process-scaled: it belongs to the memory, not the chip reading it.
    assert energy.dram_pj_per_byte("hbm2") == pytest.approx(3.9 * 8)
    assert energy.dram_pj_per_byte("ddr3") > energy.dram_pj_per_byte("lpddr5")


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: energy.mac_pj("fp8"), ValueError, "fmt must be one of"),
        (lambda: energy.node_scale(2), ValueError, "between 3 and 180"),
        (lambda: energy.node_scale("7nm"), TypeError, "node_nm"),
        (lambda: energy.node_scale(7, vdd=-1), ValueError, "vdd"),
        (lambda: energy.sram_pj_per_byte(0), ValueError, "capacity_bytes"),
        (lambda: energy.dram_pj_per_byte("sdram"), ValueError, "memory_type must be one of"),
    ],
)
def test_bad_arguments(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
