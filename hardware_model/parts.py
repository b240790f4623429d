"""The parts a Chip is built from: memory levels, compute-in-memory arrays, DVFS points."""

from __future__ import annotations

from dataclasses import dataclass

from hardware_model._check import name as _name
from hardware_model._check import non_negative as _non_negative
from hardware_model._check import positive as _positive


@dataclass(frozen=True)
class MemoryLevel:
    """One level of the memory hierarchy.

    Attributes:
        name: "l2", "sram", "lpddr5", ...
        capacity_bytes: usable capacity.
        bandwidth_bytes_per_s: sustained bandwidth.
        energy_pj_per_byte: energy to move one byte in or out.
        kind: "cache" (hardware-managed: a working set larger than the cache gets no reuse, so a
            tensor class either fits whole or streams from below) or "scratchpad" (software-
            managed: any part of a tensor class can be pinned) or "main" (the last level).
    """

    name: str
    capacity_bytes: float
    bandwidth_bytes_per_s: float
    energy_pj_per_byte: float
    kind: str = "cache"

    def __post_init__(self):
        _name("MemoryLevel.name", self.name)
        _positive(f"{self.name}.capacity_bytes", self.capacity_bytes)
        _positive(f"{self.name}.bandwidth_bytes_per_s", self.bandwidth_bytes_per_s)
        _non_negative(f"{self.name}.energy_pj_per_byte", self.energy_pj_per_byte)
        if self.kind not in ("cache", "scratchpad", "main"):
            raise ValueError(
                f"{self.name}.kind must be 'cache', 'scratchpad' or 'main', got {self.kind!r}"
            )


@dataclass(frozen=True)
class CIMArray:
    """Compute-in-memory arrays: weights are stored in the arrays that multiply with them.

    Attributes:
        capacity_weights: how many weights the arrays hold.
        bits: weight precision in the arrays.
        macs_per_s: peak multiply-accumulates per second.
        energy_pj_per_mac: energy per MAC including the DACs and ADCs around the arrays.
    """

    capacity_weights: float
    bits: int
    macs_per_s: float
    energy_pj_per_mac: float

    def __post_init__(self):
        _positive("cim.capacity_weights", self.capacity_weights)
        if (
            isinstance(self.bits, bool)
            or not isinstance(self.bits, int)
            or not 1 <= self.bits <= 16
        ):
            raise ValueError(f"cim.bits must be an int in 1..16, got {self.bits!r}")
        _positive("cim.macs_per_s", self.macs_per_s)
        _positive("cim.energy_pj_per_mac", self.energy_pj_per_mac)


@dataclass(frozen=True)
class OperatingPoint:
    """A DVFS operating point: a named (voltage, frequency) pair."""

    name: str
    voltage_v: float
    frequency_hz: float

    def __post_init__(self):
        _name("OperatingPoint.name", self.name)
        _positive(f"{self.name}.voltage_v", self.voltage_v)
        _positive(f"{self.name}.frequency_hz", self.frequency_hz)
