"""The result of a simulation, printable at a glance (`print(report)`, or rich in Jupyter).

Everything per token is per generated token for decode and per prompt token for prefill.
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field

GiB, MiB, KiB = 2**30, 2**20, 2**10


def size(nbytes: float) -> str:
    """Human-readable binary size: 1.2 GiB, 36 MiB, 512 B."""
    if not math.isfinite(nbytes):
        return str(nbytes)
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.3g} B"


def joules(j: float) -> str:
    """Energy with a sensible prefix: 2.1 J, 35 mJ, 120 uJ."""
    if not math.isfinite(j):
        return str(j)
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9)):
        if abs(j) >= scale:
            return f"{j / scale:.3g} {unit}"
    return f"{j / 1e-12:.3g} pJ"


def seconds(s: float) -> str:
    """Time with a sensible unit: 1.5 s, 84 ms, 12 us."""
    if not math.isfinite(s):
        return str(s)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


@dataclass
class Report:
    """What running `arch` on `chip` costs.

    Attributes:
        arch, chip, weight_format, kv_format, act_format, phase: what was simulated.
        context_len, prompt_len, batch: the workload.
        fits: whether weights + KV cache + state + activations fit in memory.
        why: plain words: what is needed against what is there.
        suggestion: the smallest change that would make it fit (None when it fits).
        tokens_per_s: generated (decode) or processed (prefill) tokens per second; 0 if no fit.
        latency_s: one decode step, or the whole prompt for prefill; inf if no fit.
        energy_per_token_j: joules per token; inf if no fit.
        avg_power_w: average power while running.
        energy_breakdown_j: per token: "compute", each memory level by name, "static".
        bytes_moved: per token, by memory level.
        bytes_by_class: per token: weights, activations, kv_read, kv_write, state.
        flops: FLOPs per token (the shared convention, see workload.py).
        bound: "compute", "memory" or "overhead": where most of the time goes.
        time_breakdown_s: per token: time attributed to compute, memory and overhead.
        memory_needed: bytes of weights, kv_cache, state, activations and their total.
        capacity_bytes: memory the chip offers (main memory + scratchpads).
        layers: per-layer rows (layer, kind, flops, bytes, time_s, energy_j), per token.
        ops: per-operator rows for a roofline (name, group, count, flops, bytes, intensity,
            time_s, attained_ops_per_s, bound), per token and per layer.
        roofline: the chip's roofs: peak_ops_per_s and bandwidth by level (bytes/s).
        notes: anything else worth knowing (CIM use, context beyond training length, ...).
        sleep_power_w: the chip's sleep power (used by power.duty_cycle).
    """

    arch: str
    chip: str
    weight_format: str
    kv_format: str
    act_format: str
    phase: str
    context_len: int
    prompt_len: int
    batch: int
    fits: bool
    why: str
    suggestion: str | None
    tokens_per_s: float
    latency_s: float
    energy_per_token_j: float
    avg_power_w: float
    energy_breakdown_j: dict
    bytes_moved: dict
    bytes_by_class: dict
    flops: float
    bound: str
    time_breakdown_s: dict
    memory_needed: dict
    capacity_bytes: float
    layers: list = field(repr=False)
    ops: list = field(repr=False)
    roofline: dict = field(repr=False)
    notes: list = field(default_factory=list)
    sleep_power_w: float = 0.0

    def to_dict(self) -> dict:
        """All fields as plain Python types."""
        return asdict(self)

    # ---- text ----------------------------------------------------------------------------------
    def _headline(self) -> str:
        what = (
            f"decode at context {self.context_len}"
            if self.phase == "decode"
            else f"prefill of {self.prompt_len} tokens"
        )
        batch = f", batch {self.batch}" if self.batch > 1 else ""
        return f"{self.arch} on {self.chip} · {self.weight_format} weights · {what}{batch}"

    def _speed(self) -> str:
        per = "per token" if self.phase == "decode" else "for the prompt"
        bound = {
            "memory": "memory-bound: moving bytes takes longest",
            "compute": "compute-bound: arithmetic takes longest",
            "overhead": "overhead-bound: launching operators takes longest",
        }[self.bound]
        return f"{self.tokens_per_s:,.1f} tokens/s ({seconds(self.latency_s)} {per}) · {bound}"

    def _bars(self) -> list[tuple[str, float, str]]:
        total = sum(self.energy_breakdown_j.values()) or 1.0
        return [(k, v / total, joules(v)) for k, v in self.energy_breakdown_j.items()]

    def __str__(self) -> str:
        lines = [self._headline()]
        if not self.fits:
            lines.append(f"  DOES NOT FIT: {self.why}")
            if self.suggestion:
                lines.append(f"  smallest change: {self.suggestion}")
            return "\n".join(lines + [f"  note: {n}" for n in self.notes])
        lines.append(f"  fits     {self.why}")
        lines.append(f"  speed    {self._speed()}")
        lines.append(
            f"  energy   {joules(self.energy_per_token_j)} per token · "
            f"average power {self.avg_power_w:.3g} W"
        )
        lines.append("  where the energy goes (per token):")
        for name, share, text in self._bars():
            bar = "█" * round(share * 30)
            lines.append(f"    {name:<10} {share:6.1%} {bar} {text}")
        moved = ", ".join(f"{k} {size(v)}" for k, v in self.bytes_moved.items() if v > 0)
        lines.append(f"  bytes moved per token: {moved}")
        lines.append(f"  FLOPs per token: {self.flops:.3g}")
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])

    def _repr_html_(self) -> str:
        e = html.escape
        head = f"<b>{e(self._headline())}</b>"
        if not self.fits:
            body = f"<p style='color:#b00'><b>Does not fit:</b> {e(self.why)}</p>"
            if self.suggestion:
                body += f"<p><b>Smallest change:</b> {e(self.suggestion)}</p>"
            return f"<div>{head}{body}</div>"
        rows = [
            ("fits", self.why),
            ("speed", self._speed()),
            (
                "energy",
                f"{joules(self.energy_per_token_j)} per token, "
                f"average power {self.avg_power_w:.3g} W",
            ),
            ("FLOPs per token", f"{self.flops:.3g}"),
        ]
        table = "".join(
            f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows
        )
        bars = "".join(
            f"<tr><td>{e(n)}</td><td><div style='background:#4a7;height:10px;"
            f"width:{share * 200:.0f}px'></div></td><td>{share:.1%} ({e(t)})</td></tr>"
            for n, share, t in self._bars()
        )
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        return (
            f"<div>{head}<table>{table}</table><p>Where the energy goes (per token):</p>"
            f"<table>{bars}</table>{'<ul>' + notes + '</ul>' if notes else ''}</div>"
        )
