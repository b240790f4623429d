"""Always-on power: duty cycles, battery life, and the DVFS point that meets a deadline cheapest.

An always-on device spends most of its life asleep. Its average power is

    P_avg = (E_request * requests_per_hour + P_sleep * t_sleep_per_hour) / 3600 s

where E_request is the energy of one request (prompt + generated tokens) and t_sleep_per_hour
is what is left of the hour after the active time. Battery life is the battery's energy
(mAh * V * 3.6 J) over P_avg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware_model._check import non_negative as _non_negative
from hardware_model._check import positive as _positive
from hardware_model.report import Report, joules, seconds
from hardware_model.simulate import as_arch, as_chip, simulate


@dataclass
class DutyCycle:
    """Average power and battery life of a duty-cycled workload.

    Attributes:
        avg_power_w: average power over an hour.
        active_fraction: share of the hour spent computing.
        energy_per_request_j: energy of one request.
        active_s_per_request: seconds of computing per request.
        energy_per_hour_j: split into "active" and "sleep" joules per hour.
        battery_life_h: hours on the battery (None if no battery was given).
    """

    avg_power_w: float
    active_fraction: float
    energy_per_request_j: float
    active_s_per_request: float
    energy_per_hour_j: dict
    battery_life_h: float | None

    def __str__(self) -> str:
        active, sleep = self.energy_per_hour_j["active"], self.energy_per_hour_j["sleep"]
        lines = [
            f"average power {self.avg_power_w * 1e3:.3g} mW "
            f"(active {self.active_fraction:.2%} of the time)",
            f"per request: {joules(self.energy_per_request_j)} in "
            f"{seconds(self.active_s_per_request)}",
            f"per hour: {joules(active)} computing + {joules(sleep)} asleep",
        ]
        if self.battery_life_h is not None:
            lines.append(
                f"battery life: {self.battery_life_h:,.1f} h ({self.battery_life_h / 24:,.1f} days)"
            )
        return "\n".join(lines)


def battery_life_h(avg_power_w: float, battery_mah: float, battery_v: float = 3.7) -> float:
    """Hours a battery of `battery_mah` at `battery_v` lasts at `avg_power_w`.

    Args:
        avg_power_w: average power draw in W (> 0).
        battery_mah: capacity in mAh (> 0).
        battery_v: nominal voltage in V (> 0; 3.7 V for a Li-ion cell).

    Returns:
        Hours (mAh * V * 3.6 J / P / 3600).
    """
    for name, value in (
        ("avg_power_w", avg_power_w),
        ("battery_mah", battery_mah),
        ("battery_v", battery_v),
    ):
        _positive(name, value)
    return battery_mah * battery_v * 3.6 / avg_power_w / 3600


def duty_cycle(
    report: Report,
    *,
    requests_per_hour: float,
    tokens_per_request: int,
    prefill: Report | None = None,
    sleep_power_w: float | None = None,
    battery_mah: float | None = None,
    battery_v: float = 3.7,
) -> DutyCycle:
    """Average power of a device that wakes up, answers, and sleeps again.

    Args:
        report: a decode Report (its tokens/s and J/token price each generated token).
        requests_per_hour: how often the device wakes up (>= 0).
        tokens_per_request: tokens generated per request (>= 1).
        prefill: optional prefill Report for the prompt of each request (its whole latency and
            energy are added per request).
        sleep_power_w: power while asleep (default: the chip's, from the report).
        battery_mah, battery_v: a battery, for battery life.

    Returns:
        DutyCycle. Raises ValueError if the work does not fit in an hour.
    """
    if not isinstance(report, Report) or report.phase != "decode":
        raise TypeError("report must be a decode Report from hm.simulate(..., phase='decode')")
    if not report.fits:
        raise ValueError(f"the model does not fit, so it cannot run at all: {report.why}")
    if prefill is not None and (not isinstance(prefill, Report) or prefill.phase != "prefill"):
        raise TypeError("prefill must be a Report from hm.simulate(..., phase='prefill')")
    _non_negative("requests_per_hour", requests_per_hour)
    if isinstance(tokens_per_request, bool) or not isinstance(tokens_per_request, int):
        raise TypeError(f"tokens_per_request must be an int, got {tokens_per_request!r}")
    if tokens_per_request < 1:
        raise ValueError(f"tokens_per_request must be >= 1, got {tokens_per_request}")
    sleep = report.sleep_power_w if sleep_power_w is None else sleep_power_w
    _non_negative("sleep_power_w", sleep)

    t_req = tokens_per_request * report.latency_s / report.batch
    e_req = tokens_per_request * report.energy_per_token_j
    if prefill is not None:
        t_req += prefill.latency_s
        e_req += prefill.energy_per_token_j * prefill.prompt_len
    active_s = t_req * requests_per_hour
    if active_s > 3600:
        raise ValueError(
            f"{requests_per_hour:g} requests per hour need {active_s:,.0f} s of computing per hour "
            f"({t_req:.3g} s each): more than the 3600 s an hour has"
        )
    e_active = e_req * requests_per_hour
    e_sleep = sleep * (3600 - active_s)
    avg = (e_active + e_sleep) / 3600
    life = None
    if battery_mah is not None:
        life = battery_life_h(avg, battery_mah, battery_v) if avg > 0 else math.inf
    return DutyCycle(avg, active_s / 3600, e_req, t_req, dict(active=e_active, sleep=e_sleep), life)


@dataclass
class DVFSChoice:
    """The DVFS point that meets a deadline at the least energy, and every point's numbers.

    Attributes:
        point: the chosen point's name (the fastest one if none meets the deadline).
        meets_deadline: whether the chosen point meets it.
        report: the simulation at the chosen point.
        table: one row per point: name, voltage_v, frequency_hz, latency_s, energy_per_token_j,
            meets.
    """

    point: str
    meets_deadline: bool
    report: Report
    table: list

    def __str__(self) -> str:
        head = f"{'point':>8} {'V':>5} {'GHz':>6} {'latency':>10} {'J/token':>10}  meets"
        rows = [
            f"{r['name']:>8} {r['voltage_v']:5.2f} {r['frequency_hz'] / 1e9:6.3f} "
            f"{seconds(r['latency_s']):>10} {joules(r['energy_per_token_j']):>10}  "
            f"{'yes' if r['meets'] else 'no'}{'  <- chosen' if r['name'] == self.point else ''}"
            for r in self.table
        ]
        verdict = "" if self.meets_deadline else "\nno point meets the deadline; fastest shown"
        return "\n".join([head, *rows]) + verdict


def best_operating_point(
    arch, chip, *, deadline_s: float, tokens: int = 1, **simulate_kwargs
) -> DVFSChoice:
    """Try every DVFS point of `chip`; keep the one that meets the deadline at least energy.

    Lower voltage and frequency cut dynamic energy (C V^2) but stretch the time, so static
    power burns longer: for a memory-bound decode the slowest point is often not the cheapest.

    Args:
        arch: Arch or preset name; chip: Chip with DVFS points, or preset name.
        deadline_s: the latency budget for `tokens` tokens (> 0).
        tokens: tokens the deadline covers (decode steps, >= 1).
        **simulate_kwargs: passed to simulate (weight_format, context_len, ...).

    Returns:
        DVFSChoice.
    """
    arch, chip = as_arch(arch), as_chip(chip)
    _positive("deadline_s", deadline_s)
    if not chip.dvfs:
        raise ValueError(f"{chip.name} has no DVFS operating points to choose from")
    if "dvfs" in simulate_kwargs:
        raise TypeError("best_operating_point chooses dvfs itself; do not pass it")
    rows, reports = [], {}
    for p in chip.dvfs:
        r = simulate(arch, chip, dvfs=p.name, **simulate_kwargs)
        if not r.fits:
            raise ValueError(f"the model does not fit: {r.why}")
        latency = r.latency_s * tokens
        reports[p.name] = r
        rows.append(
            dict(
                name=p.name,
                voltage_v=p.voltage_v,
                frequency_hz=p.frequency_hz,
                latency_s=latency,
                energy_per_token_j=r.energy_per_token_j,
                meets=latency <= deadline_s,
            )
        )
    meeting = [row for row in rows if row["meets"]]
    if meeting:
        best = min(meeting, key=lambda row: row["energy_per_token_j"])
    else:
        best = min(rows, key=lambda row: row["latency_s"])
    return DVFSChoice(best["name"], bool(meeting), reports[best["name"]], rows)
