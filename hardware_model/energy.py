"""Energy per arithmetic operation and per byte moved, with the source beside every number.

The course's first claim is that moving a number costs far more energy than computing with it.
This module holds the published figures behind that claim and one rule for carrying them to other
process nodes. Everything here is in picojoules (pJ, 1e-12 J).

Glossary
    MAC     multiply-accumulate, a*b + c: one multiply and one add, counted as 2 operations.
    op      one arithmetic operation (half a MAC). FLOPs, TOPS and pJ/op all use this unit.
    node    the process node of a chip in nanometres (45 nm, 16 nm, 4 nm ...).
    Vdd     the supply voltage of the logic.

Sources
    [H14] M. Horowitz, "Computing's energy problem (and what we can do about it)",
          ISSCC 2014, keynote paper 1.1. Figures at 45 nm, 0.9 V.
    [H15] S. Han, J. Pool, J. Tran, W. Dally, "Learning both weights and connections for
          efficient neural networks", NeurIPS 2015, Table 1 (32-bit figures derived from [H14]).
    [O17] M. O'Connor et al., "Fine-grained DRAM: energy-efficient DRAM for extreme bandwidth
          systems", MICRO 2017 (HBM2 and GDDR5 energy per bit).
"""

from __future__ import annotations

import math

REFERENCE_NODE_NM = 45.0  # [H14] measured everything at 45 nm ...
REFERENCE_VDD = 0.9  # ... and 0.9 V

# ---- arithmetic at 45 nm, pJ per operation [H14] -------------------------------------------------
ADD_PJ_45NM = {
    "int8": 0.03,  # [H14] 8-bit integer add
    "int16": 0.05,  # [H14] 16-bit integer add
    "int32": 0.1,  # [H14] 32-bit integer add
    "fp16": 0.4,  # [H14] 16-bit float add
    "fp32": 0.9,  # [H14] 32-bit float add
}
MUL_PJ_45NM = {
    "int8": 0.2,  # [H14] 8-bit integer multiply
    "int32": 3.1,  # [H14] 32-bit integer multiply
    "fp16": 1.1,  # [H14] 16-bit float multiply
    "fp32": 3.7,  # [H14] 32-bit float multiply
}

# Energy of one MAC by compute format at 45 nm: the multiply plus the add that accumulates it.
# Integer products are accumulated in a wider register (int8 -> int32, int4 -> int16), as
# every int8 dot-product unit does; float products accumulate in their own format.
MAC_PJ_45NM = {
    "fp32": MUL_PJ_45NM["fp32"] + ADD_PJ_45NM["fp32"],  # 4.6 pJ
    "fp16": MUL_PJ_45NM["fp16"] + ADD_PJ_45NM["fp16"],  # 1.5 pJ
    # [H14] has no bf16 figure. bf16's 8-bit mantissa multiplier is smaller than fp16's 11-bit
    # one, so using the fp16 figure slightly overstates bf16: a conservative choice.
    "bf16": MUL_PJ_45NM["fp16"] + ADD_PJ_45NM["fp16"],  # 1.5 pJ
    "int8": MUL_PJ_45NM["int8"] + ADD_PJ_45NM["int32"],  # 0.3 pJ
    # Derived, not measured: an array multiplier has bits^2 partial-product cells, so a 4x4
    # multiply costs (4/8)^2 of an 8x8 one; the accumulate is a 16-bit add.
    "int4": MUL_PJ_45NM["int8"] * (4 / 8) ** 2 + ADD_PJ_45NM["int16"],  # 0.1 pJ
}
COMPUTE_FORMATS = tuple(MAC_PJ_45NM)

# ---- memory at 45 nm, pJ per byte -------------------------------------------------------------
REGISTER_FILE_PJ_PER_BYTE_45NM = 1.0 / 4  # [H15] 1 pJ per 32-bit register-file access

# [H14] energy of one 64-bit (8-byte) read from an SRAM cache, by capacity.
SRAM_POINTS_45NM = (  # (capacity in bytes, pJ per 64-bit access)
    (8 * 1024, 10.0),  # [H14] 8 KB cache
    (32 * 1024, 20.0),  # [H14] 32 KB cache
    (1024 * 1024, 100.0),  # [H14] 1 MB cache
)

# Off-chip DRAM, pJ per bit for a whole access (array + interface). DRAM energy does not follow
# the logic node of the chip that reads it, so these are not process-scaled.
DRAM_PJ_PER_BIT = {
    # [H14] 1.3-2.6 nJ per 64-bit access = 20-41 pJ/bit; [H15] uses 640 pJ per 32-bit word,
    # i.e. 20 pJ/bit. We take the low end (DDR3-era commodity DRAM).
    "ddr3": 20.0,
    # The entries below are estimates, not single published measurements: DDR4/DDR5 scale the
    # DDR3 figure by the I/O voltage squared (1.5 V -> 1.2 V -> 1.1 V); the LPDDR entries sit in
    # the 3-8 pJ/bit range reported for unterminated low-swing mobile interfaces. Treat them as
    # +-50 %: good for "DRAM costs 100x an SRAM read", not for a three-digit answer.
    "ddr4": 20.0 * (1.2 / 1.5) ** 2,  # 12.8
    "ddr5": 20.0 * (1.1 / 1.5) ** 2,  # 10.8
    "lpddr4": 6.0,
    "lpddr4x": 5.0,
    "lpddr5": 4.5,
    "lpddr5x": 4.0,
    "gddr5": 14.0,  # [O17]
    "gddr6": 7.5,  # estimate: half of GDDR5 (lower I/O swing, PAM-free 16 Gb/s signalling)
    "hbm2": 3.9,  # [O17]
    "hbm3": 3.5,  # estimate: a little below HBM2 (lower I/O voltage)
    # Serial or octal-SPI memory on a microcontroller (PSRAM/HyperRAM/flash): a slow, narrow bus
    # whose energy per bit is dominated by pad drivers. Estimate in the DDR3 range.
    "octal-spi": 20.0,
}
DRAM_TYPES = tuple(DRAM_PJ_PER_BIT)

# ---- process-node scaling -----------------------------------------------------------------------
# Nominal logic supply voltage by node (typical published core voltages; the exact value varies
# by foundry and flavour, which is why the scaling rule below is a first-order guide only).
NOMINAL_VDD = {
    180: 1.8,
    130: 1.2,
    90: 1.0,
    65: 1.0,
    45: 0.9,
    40: 0.9,
    32: 0.9,
    28: 0.9,
    22: 0.8,
    16: 0.8,
    14: 0.8,
    12: 0.8,
    10: 0.75,
    7: 0.75,
    5: 0.7,
    4: 0.7,
    3: 0.7,
}


def nominal_vdd(node_nm: float) -> float:
    """The nominal logic voltage for a process node: the table entry at or just above it.

    Args:
        node_nm: process node in nanometres, 3 to 180.

    Returns:
        Voltage in volts.
    """
    node_nm = _check_node(node_nm)
    for node in sorted(NOMINAL_VDD):
        if node >= node_nm:
            return NOMINAL_VDD[node]
    return NOMINAL_VDD[max(NOMINAL_VDD)]


def node_scale(node_nm: float, vdd: float | None = None) -> float:
    """Factor that carries a 45 nm, 0.9 V energy to another node: (node/45) * (Vdd/0.9)^2.

    The rule is the dynamic-energy law E = C * V^2 with switched capacitance C proportional to
    the feature size. It is first-order: below about 28 nm wires shrink less than transistors,
    so the rule is optimistic there (it overstates the saving by up to about 2x).

    Args:
        node_nm: target process node in nanometres.
        vdd: supply voltage at the target; defaults to the node's nominal voltage.

    Returns:
        Dimensionless multiplier (1.0 at 45 nm, 0.9 V).
    """
    node_nm = _check_node(node_nm)
    v = nominal_vdd(node_nm) if vdd is None else _check_positive("vdd", vdd)
    return (node_nm / REFERENCE_NODE_NM) * (v / REFERENCE_VDD) ** 2


def mac_pj(fmt: str, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Energy of one multiply-accumulate of the datapath alone, in pJ.

    Args:
        fmt: compute format, one of COMPUTE_FORMATS ("fp32", "fp16", "bf16", "int8", "int4").
        node_nm: process node in nanometres.

    Returns:
        pJ per MAC (no instruction fetch, no operand delivery: see Chip.compute_overhead).
    """
    if fmt not in MAC_PJ_45NM:
        raise ValueError(f"fmt must be one of {list(COMPUTE_FORMATS)}, got {fmt!r}")
    return MAC_PJ_45NM[fmt] * node_scale(node_nm)


def op_pj(fmt: str, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Energy of one arithmetic operation (half a MAC) in pJ; see mac_pj."""
    return mac_pj(fmt, node_nm) / 2


def sram_pj_per_byte(capacity_bytes: float, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Energy to read one byte from an SRAM of the given size, in pJ.

    Interpolates [H14]'s three cache figures on a log-log scale. Bigger arrays cost more per access
    because the word lines, bit lines and wires to reach a cell grow with the array's side, about
    the square root of its capacity: outside 8 KB..1 MB the nearest segment's slope is extended
    (0.5 below, 0.46 above, close to that square-root law).

    Args:
        capacity_bytes: SRAM capacity in bytes (> 0).
        node_nm: process node in nanometres.

    Returns:
        pJ per byte.
    """
    cap = _check_positive("capacity_bytes", capacity_bytes)
    xs = [math.log(c) for c, _ in SRAM_POINTS_45NM]
    ys = [math.log(e / 8) for _, e in SRAM_POINTS_45NM]  # per byte: a 64-bit access is 8 bytes
    x = math.log(cap)
    i = 0 if x < xs[1] else 1  # segment: [8 KB, 32 KB] or [32 KB, 1 MB], extended outward
    slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
    return math.exp(ys[i] + slope * (x - xs[i])) * node_scale(node_nm)


def register_pj_per_byte(node_nm: float = REFERENCE_NODE_NM) -> float:
    """Energy of one byte of register-file access in pJ ([H15] at 45 nm, node-scaled)."""
    return REGISTER_FILE_PJ_PER_BYTE_45NM * node_scale(node_nm)


def dram_pj_per_byte(memory_type: str) -> float:
    """Energy to move one byte to or from off-chip memory of the given type, in pJ.

    Args:
        memory_type: one of DRAM_TYPES ("lpddr4x", "lpddr5", "hbm3", "ddr5", ...).

    Returns:
        pJ per byte (8 x the pJ/bit figure).
    """
    if memory_type not in DRAM_PJ_PER_BIT:
        raise ValueError(f"memory_type must be one of {list(DRAM_TYPES)}, got {memory_type!r}")
    return DRAM_PJ_PER_BIT[memory_type] * 8


def table_45nm() -> list[tuple[str, float, str]]:
    """The 45 nm reference table as (what, pJ, source) rows, the way [H15] prints it.

    Returns:
        Rows for a 32-bit word: integer and float add and multiply, a register-file access,
        an 8 KB SRAM read, and a DRAM read. The ratio of the last to the float multiply is the
        course's "data movement costs more than compute" in one number (about 170x).
    """
    return [
        ("32-bit int ADD", ADD_PJ_45NM["int32"], "Horowitz ISSCC 2014"),
        ("32-bit float ADD", ADD_PJ_45NM["fp32"], "Horowitz ISSCC 2014"),
        ("32-bit register file", REGISTER_FILE_PJ_PER_BYTE_45NM * 4, "Han et al. 2015"),
        ("32-bit int MULT", MUL_PJ_45NM["int32"], "Horowitz ISSCC 2014"),
        ("32-bit float MULT", MUL_PJ_45NM["fp32"], "Horowitz ISSCC 2014"),
        ("32-bit SRAM read (8 KB)", sram_pj_per_byte(8 * 1024) * 4, "Horowitz ISSCC 2014"),
        ("32-bit DRAM read", dram_pj_per_byte("ddr3") * 4, "Horowitz 2014 / Han et al. 2015"),
    ]


def _check_node(node_nm: float) -> float:
    if isinstance(node_nm, bool) or not isinstance(node_nm, (int, float)):
        raise TypeError(f"node_nm must be a number of nanometres, got {node_nm!r}")
    if not 3 <= node_nm <= 180:
        raise ValueError(f"node_nm must be between 3 and 180 (nm), got {node_nm}")
    return float(node_nm)


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)
