"""A chip: compute, a memory hierarchy, optional compute-in-memory arrays, power and DVFS.

Units: operations per second count 2 per multiply-accumulate (so TOPS and TFLOPS compare with
FLOPs); capacities in bytes (datasheets' "8 GB" of DRAM is 8 GiB = 8 * 2**30 bytes, "4 MB" of
SRAM is 4 MiB); bandwidths in bytes per second, decimal (a "68 GB/s" bus moves 68e9 B/s);
energies in picojoules; power in watts.

Glossary
    peak_ops          ops/s the datasheet promises per compute format
    utilisation       the fraction of peak a well-tuned matrix multiply sustains
    sustained bandwidth  the part of a memory's peak bandwidth real streams reach
    compute_overhead  energy spent around each arithmetic operation (instruction fetch, decode,
                      register files, control) as a multiple of the bare datapath energy
    overhead_s        fixed time to launch one kernel / cross one thread barrier
    DVFS              dynamic voltage and frequency scaling: operating points (V, f)
    CIM               compute-in-memory: weights stay in the arrays that multiply with them
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from hardware_model import energy
from hardware_model._check import name as _name
from hardware_model._check import non_negative as _non_negative
from hardware_model._check import positive as _positive
from hardware_model.parts import CIMArray, MemoryLevel, OperatingPoint

GiB = 2**30
MiB = 2**20

# When a chip lacks a format's arithmetic, it runs it in the next wider one it has.
FALLBACK = {
    "int4": ("int4", "int8", "fp16", "bf16", "fp32"),
    "int8": ("int8", "fp16", "bf16", "fp32"),
    "fp16": ("fp16", "bf16", "fp32"),
    "bf16": ("bf16", "fp16", "fp32"),
    "fp32": ("fp32", "fp16", "bf16"),
}

# Defaults by kind of chip, used by from_datasheet (each a modelling assumption, see README):
#   compute_overhead  CPUs pay ~70 pJ of fetch/decode/register traffic per instruction at 45 nm
#                     [Horowitz 2014] spread over 8-32 SIMD lanes: ~10x the datapath energy;
#                     GPUs amortize it over warps and tensor cores; NPUs and MCU NPUs are fixed
#                     dataflow engines close to the bare datapath.
#   overhead_s        per kernel launch (GPU ~5 us), per thread barrier (CPU ~1 us), per command
#                     issued to an NPU (~10 us).
#   dispatches        (in workload.py) counts the kernels a typical runtime runs per operator.
KIND_DEFAULTS = {
    "cpu": dict(compute_overhead=10.0, overhead_s=1e-6, utilisation=0.6),
    "gpu": dict(compute_overhead=4.0, overhead_s=5e-6, utilisation=0.6),
    "npu": dict(compute_overhead=2.0, overhead_s=10e-6, utilisation=0.5),
    "mcu": dict(compute_overhead=2.0, overhead_s=10e-6, utilisation=0.5),
    "cim": dict(compute_overhead=2.0, overhead_s=10e-6, utilisation=0.5),
}
KINDS = tuple(KIND_DEFAULTS)


@dataclass(frozen=True)
class Chip:
    """A chip (or board) that runs a language model.

    Attributes:
        name: label ("raspberry-pi-5").
        peak_ops: ops/s per compute format ({"fp16": 10e12, "int8": 20e12, ...}).
        memory: memory levels, fastest first; the last one is main memory.
        kind: "cpu", "gpu", "npu", "mcu" or "cim" (for defaults and text).
        utilisation: fraction of peak_ops a matrix multiply sustains (0 < u <= 1).
        process_nm: logic process node, for energy scaling.
        compute_overhead: multiple of the bare datapath energy paid per operation (>= 1).
        energy_pj_per_op: pJ per operation per format; None derives it from energy tables.
        static_power_w: power drawn whenever the chip is awake (leakage + always-on parts).
        sleep_power_w: power while asleep between requests.
        overhead_s: fixed time per kernel dispatch.
        dvfs: operating points; the peaks above hold at `nominal`.
        nominal: name of the DVFS point the peak numbers refer to (default: fastest point).
        cim: compute-in-memory arrays, or None.
        source: datasheets and measurements the numbers come from.
    """

    name: str
    peak_ops: Mapping[str, float]
    memory: tuple[MemoryLevel, ...]
    kind: str = "npu"
    utilisation: float = 0.5
    process_nm: float = 7.0
    compute_overhead: float = 2.0
    energy_pj_per_op: Mapping[str, float] | None = None
    static_power_w: float = 0.5
    sleep_power_w: float = 0.01
    overhead_s: float = 10e-6
    dvfs: tuple[OperatingPoint, ...] = ()
    nominal: str | None = None
    cim: CIMArray | None = None
    source: str = field(default="", repr=False)

    def __post_init__(self):
        _name("name", self.name)
        if not isinstance(self.peak_ops, Mapping) or not self.peak_ops:
            raise TypeError("peak_ops must be a non-empty dict {format: ops per second}")
        for fmt, ops in self.peak_ops.items():
            if fmt not in FALLBACK:
                raise ValueError(f"peak_ops format must be one of {list(FALLBACK)}, got {fmt!r}")
            _positive(f"peak_ops[{fmt!r}]", ops)
        object.__setattr__(self, "peak_ops", dict(self.peak_ops))
        memory = tuple(self.memory) if isinstance(self.memory, (list, tuple)) else None
        if not memory or not all(isinstance(m, MemoryLevel) for m in memory):
            raise TypeError("memory must be a non-empty sequence of MemoryLevel, fastest first")
        object.__setattr__(self, "memory", memory)
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        if not 0 < self.utilisation <= 1:
            raise ValueError(f"utilisation must be in (0, 1], got {self.utilisation}")
        energy._check_node(self.process_nm)
        if not self.compute_overhead >= 1:
            raise ValueError(f"compute_overhead must be >= 1, got {self.compute_overhead}")
        if self.energy_pj_per_op is None:
            per_op = {
                f: energy.op_pj(f, self.process_nm) * self.compute_overhead for f in self.peak_ops
            }
            object.__setattr__(self, "energy_pj_per_op", per_op)
        else:
            for fmt in self.peak_ops:
                if fmt not in self.energy_pj_per_op:
                    raise ValueError(f"energy_pj_per_op lacks format {fmt!r} listed in peak_ops")
                _positive(f"energy_pj_per_op[{fmt!r}]", self.energy_pj_per_op[fmt])
            object.__setattr__(self, "energy_pj_per_op", dict(self.energy_pj_per_op))
        _non_negative("static_power_w", self.static_power_w)
        _non_negative("sleep_power_w", self.sleep_power_w)
        _non_negative("overhead_s", self.overhead_s)
        dvfs = tuple(self.dvfs)
        if not all(isinstance(p, OperatingPoint) for p in dvfs):
            raise TypeError("dvfs must be a sequence of OperatingPoint")
        if len({p.name for p in dvfs}) != len(dvfs):
            raise ValueError("dvfs point names must be unique")
        object.__setattr__(self, "dvfs", dvfs)
        if dvfs and self.nominal is None:
            object.__setattr__(self, "nominal", max(dvfs, key=lambda p: p.frequency_hz).name)
        if self.nominal is not None and self.nominal not in {p.name for p in dvfs}:
            raise ValueError(f"nominal {self.nominal!r} is not one of the dvfs points")
        if self.cim is not None and not isinstance(self.cim, CIMArray):
            raise TypeError("cim must be a CIMArray or None")

    # ---- compute -------------------------------------------------------------------------------
    def compute_format(self, fmt: str) -> str:
        """The arithmetic format this chip actually uses for `fmt` (see FALLBACK)."""
        if fmt not in FALLBACK:
            raise ValueError(f"compute format must be one of {list(FALLBACK)}, got {fmt!r}")
        for f in FALLBACK[fmt]:
            if f in self.peak_ops:
                return f
        return min(self.peak_ops, key=self.peak_ops.get)  # nothing wider: the slowest unit

    def ops_per_s(self, fmt: str) -> float:
        """Sustained ops/s for compute format `fmt`: peak * utilisation, after fallback."""
        return self.peak_ops[self.compute_format(fmt)] * self.utilisation

    def op_energy_pj(self, fmt: str) -> float:
        """pJ per operation for compute format `fmt`, after fallback."""
        return self.energy_pj_per_op[self.compute_format(fmt)]

    # ---- memory --------------------------------------------------------------------------------
    @property
    def main_memory(self) -> MemoryLevel:
        """The last memory level: where everything that is not on chip lives."""
        return self.memory[-1]

    @property
    def capacity_bytes(self) -> float:
        """Total capacity of all memory levels."""
        return sum(m.capacity_bytes for m in self.memory)

    # ---- variants ------------------------------------------------------------------------------
    def replace(self, **changes) -> Chip:
        """A copy with some fields changed (validated again)."""
        if "peak_ops" in changes and "energy_pj_per_op" not in changes:
            changes["energy_pj_per_op"] = None
        return dataclasses.replace(self, **changes)

    def with_sram(self, megabytes: float) -> Chip:
        """A copy whose first on-chip level holds `megabytes` MiB (0 removes on-chip memory).

        The energy per byte follows the new capacity (energy.sram_pj_per_byte); bandwidth is kept,
        or set to 10x main-memory bandwidth when the chip had no on-chip level.
        """
        _non_negative("megabytes", megabytes)
        on_chip = list(self.memory[:-1])
        if megabytes == 0:
            return self.replace(memory=(self.main_memory,))
        cap = megabytes * MiB
        pj = energy.sram_pj_per_byte(cap, self.process_nm)
        if on_chip:
            on_chip[0] = dataclasses.replace(on_chip[0], capacity_bytes=cap, energy_pj_per_byte=pj)
        else:
            bw = 10 * self.main_memory.bandwidth_bytes_per_s
            on_chip = [MemoryLevel("sram", cap, bw, pj, "scratchpad")]
        return self.replace(memory=(*on_chip, self.main_memory))

    def at(self, point: str | int | None) -> Chip:
        """This chip at a DVFS operating point (by name or index; None: unchanged).

        Scaling from the nominal point (f0, V0) to (f, V): peak ops, compute-in-memory MACs/s
        and on-chip bandwidth x f/f0 (they run on the core clock; DRAM has its own), dispatch
        overhead x f0/f, energy per operation, per CIM MAC and per on-chip byte x (V/V0)^2
        (dynamic energy C*V^2), static power x V/V0 (leakage current held fixed: a first-order
        choice).
        """
        if point is None:
            return self
        if not self.dvfs:
            raise ValueError(f"{self.name} has no DVFS operating points")
        p = self._point(point)
        p0 = self._point(self.nominal)
        fr, vr = p.frequency_hz / p0.frequency_hz, p.voltage_v / p0.voltage_v
        memory = tuple(
            m
            if m is self.main_memory
            else dataclasses.replace(
                m,
                bandwidth_bytes_per_s=m.bandwidth_bytes_per_s * fr,
                energy_pj_per_byte=m.energy_pj_per_byte * vr**2,
            )
            for m in self.memory
        )
        cim = None if self.cim is None else dataclasses.replace(
            self.cim,
            macs_per_s=self.cim.macs_per_s * fr,
            energy_pj_per_mac=self.cim.energy_pj_per_mac * vr**2,
        )
        return dataclasses.replace(
            self,
            name=f"{self.name}@{p.name}",
            cim=cim,
            peak_ops={f: v * fr for f, v in self.peak_ops.items()},
            energy_pj_per_op={f: v * vr**2 for f, v in self.energy_pj_per_op.items()},
            memory=memory,
            static_power_w=self.static_power_w * vr,
            overhead_s=self.overhead_s / fr,
            dvfs=(),
            nominal=None,
        )

    def _point(self, point: str | int) -> OperatingPoint:
        if isinstance(point, int) and not isinstance(point, bool):
            if not -len(self.dvfs) <= point < len(self.dvfs):
                raise ValueError(f"dvfs index {point} out of range 0..{len(self.dvfs) - 1}")
            return self.dvfs[point]
        for p in self.dvfs:
            if p.name == point:
                return p
        raise ValueError(
            f"unknown dvfs point {point!r}; {self.name} has {[p.name for p in self.dvfs]}"
        )

    def __str__(self) -> str:
        peaks = ", ".join(f"{f} {v / 1e12:.3g} T" for f, v in self.peak_ops.items())
        mem = " > ".join(
            f"{m.name} {_size(m.capacity_bytes)} @ {m.bandwidth_bytes_per_s / 1e9:.3g} GB/s"
            for m in self.memory
        )
        cim = f"; CIM {self.cim.capacity_weights / 1e6:.0f} M weights" if self.cim else ""
        return f"{self.name} ({self.kind}, {self.process_nm:g} nm): {peaks}ops/s; {mem}{cim}"

    # ---- from a datasheet ----------------------------------------------------------------------
    @classmethod
    def from_datasheet(
        cls,
        name: str,
        *,
        memory_bandwidth_gbs: float,
        memory_gb: float,
        peak_tops: float,
        sram_mb: float = 4.0,
        process_nm: float = 7.0,
        memory_type: str = "lpddr5",
        kind: str = "npu",
        peak_format: str = "int8",
        peak_tops_by_format: Mapping[str, float] | None = None,
        sustained_bandwidth: float = 0.7,
        sram_kind: str = "cache",
        sram_bandwidth_gbs: float | None = None,
        static_power_w: float | None = None,
        tdp_w: float | None = None,
        sleep_power_w: float | None = None,
        dvfs: tuple[OperatingPoint, ...] = (),
        cim: CIMArray | None = None,
        source: str = "",
        **overrides,
    ) -> Chip:
        """Build a sensible chip from datasheet numbers alone.

        Defaults for what datasheets rarely say:
            - other formats' peaks from `peak_tops` at `peak_format`, with the usual ratios of
              matrix engines (int4 = 2x int8, fp16 = bf16 = int8 / 2, fp32 = int8 / 4), unless
              `peak_tops_by_format` gives them;
            - sustained bandwidth 0.7 of peak (streams typically reach 60-80 % of a DRAM bus);
            - on-chip SRAM bandwidth 10x the DRAM peak, energy from its capacity and node;
            - static power 20 % of `tdp_w` if given, else 0.5 W; sleep power 1 % of static;
            - utilisation, compute overhead and dispatch time from KIND_DEFAULTS[kind].

        Args:
            name: chip name.
            memory_bandwidth_gbs: main-memory peak bandwidth in GB/s.
            memory_gb: main-memory capacity in GiB.
            peak_tops: peak tera-operations per second at `peak_format`.
            sram_mb: on-chip SRAM/cache in MiB (0 for none).
            process_nm: logic process node in nm.
            memory_type: one of energy.DRAM_TYPES.
            kind: one of KINDS.
            peak_format: the format `peak_tops` refers to.
            peak_tops_by_format: explicit TOPS per format (overrides the ratios).
            sustained_bandwidth: fraction of peak bandwidth streams reach, in (0, 1].
            sram_kind: "cache" or "scratchpad".
            sram_bandwidth_gbs: on-chip bandwidth in GB/s (default 10x DRAM).
            static_power_w, tdp_w, sleep_power_w: power figures in W.
            dvfs: operating points; cim: compute-in-memory arrays.
            source: where the numbers come from.
            **overrides: any other Chip field (utilisation, overhead_s, ...).

        Returns:
            The Chip.
        """
        _positive("memory_bandwidth_gbs", memory_bandwidth_gbs)
        _positive("memory_gb", memory_gb)
        _positive("peak_tops", peak_tops)
        _non_negative("sram_mb", sram_mb)
        if not 0 < sustained_bandwidth <= 1:
            raise ValueError(f"sustained_bandwidth must be in (0, 1], got {sustained_bandwidth}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        if peak_format not in FALLBACK:
            raise ValueError(f"peak_format must be one of {list(FALLBACK)}, got {peak_format!r}")
        ratio = {"int4": 2.0, "int8": 1.0, "fp16": 0.5, "bf16": 0.5, "fp32": 0.25}
        if peak_tops_by_format is None:
            base = peak_tops / ratio[peak_format]
            keep = [f for f in ratio if f != "int4" or peak_format == "int4"]
            tops = {f: base * ratio[f] for f in keep}
        else:
            tops = {peak_format: peak_tops, **dict(peak_tops_by_format)}
        dram_bw = memory_bandwidth_gbs * 1e9
        memory = []
        if sram_mb > 0:
            sram_bw = (sram_bandwidth_gbs or 10 * memory_bandwidth_gbs) * 1e9
            cap = sram_mb * MiB
            pj = energy.sram_pj_per_byte(cap, process_nm)
            memory.append(MemoryLevel("sram", cap, sram_bw, pj, sram_kind))
        memory.append(
            MemoryLevel(
                memory_type,
                memory_gb * GiB,
                dram_bw * sustained_bandwidth,
                energy.dram_pj_per_byte(memory_type),
                "main",
            )
        )
        if static_power_w is None:
            static_power_w = 0.2 * tdp_w if tdp_w is not None else 0.5
        if sleep_power_w is None:
            sleep_power_w = 0.01 * static_power_w
        fields = dict(KIND_DEFAULTS[kind])
        fields.update(overrides)
        return cls(
            name=name,
            peak_ops={f: t * 1e12 for f, t in tops.items()},
            memory=tuple(memory),
            kind=kind,
            process_nm=process_nm,
            static_power_w=static_power_w,
            sleep_power_w=sleep_power_w,
            dvfs=tuple(dvfs),
            cim=cim,
            source=source,
            **fields,
        )


def _size(nbytes: float) -> str:
    if nbytes >= GiB:
        return f"{nbytes / GiB:.3g} GiB"
    if nbytes >= MiB:
        return f"{nbytes / MiB:.3g} MiB"
    return f"{nbytes / 1024:.3g} KiB"
