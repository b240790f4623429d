"""The chip explorer: controls on the left; tokens/s, energy and a roofline on the right.

It runs `simulate` once per update and writes an HTML readout and one FigureWidget.

The compute-in-memory switch is a what-if where the chip's own arrays cannot hold the model
(every preset but the analog one, and that one only for models under 80 M weights): the chip
is given arrays that hold all matmul weights, at the one published system-level figure in
chips.py (Mythic M1076, about 0.5 pJ per 8-bit MAC including converters) and the chip's own
int8 MAC rate. The readout says so whenever it happens.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hardware_model import _check, formats
from hardware_model import chips as chip_presets
from hardware_model import models as model_presets
from hardware_model.arch import Arch
from hardware_model.chip import Chip, CIMArray, MiB
from hardware_model.inputs import cim_weight_elems
from hardware_model.report import Report, joules
from hardware_model.simulate import PHASES, simulate
from hardware_model.widgets.controls import CONTEXTS, _control, _pick, _registries, _with_option

SRAM_MB = (0, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
WHAT_IF_CIM_PJ_PER_MAC = 0.5  # Mythic M1076, system level incl. DAC/ADC (WikiChip; chips.py)
NOMINAL = "nominal"
ENERGY, ROOF_ON_CHIP, ROOF_MAIN, OPERATORS, STEP = range(5)  # the explorer's traces, in order


def _on_chip_mb(chip: Chip) -> float:
    """Capacity of the chip's first on-chip level in MiB (0 when it has none)."""
    return chip.memory[0].capacity_bytes / MiB if len(chip.memory) > 1 else 0.0



def with_cim(chip: Chip, arch: Arch) -> tuple[Chip, bool]:
    """`chip` with compute-in-memory arrays that hold every matmul weight of `arch`.

    Args:
        chip: any Chip.
        arch: the architecture whose weights must stay in the arrays.

    Returns:
        (chip, what_if): the chip itself if its own arrays are big enough (what_if False), else
        a copy named "<chip>+cim" with hypothetical 8-bit arrays: capacity = the weights needed,
        the chip's int8 peak as MACs (2 ops each), WHAT_IF_CIM_PJ_PER_MAC per MAC.
    """
    need = cim_weight_elems(arch)
    if chip.cim is not None and chip.cim.capacity_weights >= need:
        return chip, False
    macs = chip.peak_ops[chip.compute_format("int8")] / 2
    arrays = CIMArray(float(need), 8, macs, WHAT_IF_CIM_PJ_PER_MAC)
    return chip.replace(name=f"{chip.name}+cim", cim=arrays), True


def _roof(bandwidth: float, peak: float, x_lo: float, x_hi: float):
    """min(bandwidth * I, peak) over [x_lo, x_hi]: two straight lines meeting at the ridge."""
    xs = np.array([x_lo, min(max(peak / bandwidth, x_lo), x_hi), x_hi])
    return xs, np.minimum(bandwidth * xs, peak)


class Explorer:
    """The chip explorer (build it with `explorer(...)`).

    Attributes:
        controls: name -> ipywidgets control: model, chip, weight_format, phase, context_len,
            sram_mb, cim, dvfs. Setting a control's `.value` runs `update`.
        readout: HTML widget: tokens/s, J per token, power, bound, fits and why, notes.
        figure: FigureWidget; traces (module constants): ENERGY (bars, x = mJ per token,
            y = where), ROOF_ON_CHIP and ROOF_MAIN (the fastest on-chip level's roof and main
            memory's: x = FLOPs per byte, y = FLOP/s), OPERATORS (each operator with FLOPs: its
            FLOPs per byte over all levels, its attained FLOP/s), STEP (the whole step: FLOPs
            per main-memory byte, FLOP/s). Data traces are empty when the model does not fit.
        report: the last Report.  chip: the last Chip simulated (SRAM, CIM applied).
        widget: the layout Jupyter displays.
    """

    def __init__(self, models: dict, chips: dict, start: dict):
        self._models, self._chips, self._hold = models, chips, False
        chip = chips[start["chip"]]
        fmts = formats.names("weight")
        sram = start["sram_mb"] if start["sram_mb"] is not None else _on_chip_mb(chip)
        c = self.controls = dict(
            model=_control(W.Dropdown, "model", options=list(models), value=start["model"]),
            chip=_control(W.Dropdown, "chip", options=list(chips), value=start["chip"]),
            weight_format=_control(W.Dropdown, "weight format", options=_with_option(
                fmts, start["weight_format"]), value=start["weight_format"]),
            phase=_control(W.ToggleButtons, "phase", options=PHASES, value=start["phase"]),
            context_len=_control(W.SelectionSlider, "context / prompt", options=_with_option(
                CONTEXTS, start["context_len"]), value=start["context_len"]),
            sram_mb=_control(W.SelectionSlider, "on-chip MiB",
                             options=_with_option(SRAM_MB, sram), value=sram),
            cim=_control(W.Checkbox, "compute-in-memory", value=start["cim"]),
            dvfs=_control(W.Dropdown, "DVFS point", options=[NOMINAL, *(
                p.name for p in chip.dvfs)], value=start["dvfs"] or NOMINAL,
                disabled=not chip.dvfs),
        )  # fmt: skip
        self.readout = W.HTML()
        fig = make_subplots(rows=1, cols=2, column_widths=[0.38, 0.62], horizontal_spacing=0.16,
                            subplot_titles=("where the energy goes", "roofline"))  # fmt: skip
        fig.add_bar(name="energy", orientation="h", row=1, col=1, showlegend=False)
        fig.add_scatter(name="on-chip roof", mode="lines", line_dash="dot", row=1, col=2)
        fig.add_scatter(name="main-memory roof", mode="lines", row=1, col=2)
        fig.add_scatter(name="operators", mode="markers", marker_size=9, row=1, col=2)
        fig.add_scatter(name="whole step", mode="markers", marker_symbol="star",
                        marker_size=14, row=1, col=2)  # fmt: skip
        fig.update_xaxes(title_text="mJ per token", row=1, col=1)
        fig.update_yaxes(autorange="reversed", row=1, col=1)
        fig.update_xaxes(type="log", title_text="FLOPs per byte moved", row=1, col=2)
        fig.update_yaxes(type="log", title_text="FLOP/s", row=1, col=2)
        fig.update_layout(height=440, margin=dict(l=60, r=20, t=80, b=50),
                          legend=dict(orientation="h", y=-0.25))  # fmt: skip
        self.figure = go.FigureWidget(fig)
        self.widget = W.HBox([W.VBox(list(c.values())), W.VBox([self.readout, self.figure])])
        for name, w in c.items():
            w.observe(self._on_chip if name == "chip" else self.update, "value")
        self.report: Report | None = None
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_chip(self, _change=None) -> None:
        """A new chip: its own SRAM size and DVFS points, then one update."""
        chip, c = self._chips[self.controls["chip"].value], self.controls
        self._hold = True  # the control changes below would each update otherwise
        try:
            c["sram_mb"].options = _with_option(SRAM_MB, _on_chip_mb(chip))
            c["sram_mb"].value = _on_chip_mb(chip)
            c["dvfs"].options = [NOMINAL, *(p.name for p in chip.dvfs)]
            c["dvfs"].value, c["dvfs"].disabled = NOMINAL, not chip.dvfs
        finally:
            self._hold = False
        self.update()

    def update(self, _change=None) -> Report | None:
        """Simulate the controls' design point; write the readout and the figure."""
        if self._hold:
            return self.report
        v = {k: w.value for k, w in self.controls.items()}
        arch, chip = self._models[v["model"]], self._chips[v["chip"]]
        if v["sram_mb"] != _on_chip_mb(chip):
            chip = chip.with_sram(v["sram_mb"])
        what_if = False
        if v["cim"]:
            chip, what_if = with_cim(chip, arch)
        n, dvfs = v["context_len"], None if v["dvfs"] == NOMINAL else v["dvfs"]
        r = simulate(arch, chip, weight_format=v["weight_format"], phase=v["phase"],
                     context_len=n, prompt_len=max(n, 1), cim=v["cim"], dvfs=dvfs)  # fmt: skip
        self.report, self.chip = r, chip
        self._write_readout(r, arch, what_if)
        self._write_figure(r)
        return r

    def _write_readout(self, r: Report, arch: Arch, what_if: bool) -> None:
        if r.fits:
            per = "per token" if r.phase == "decode" else "per prompt token"
            head = (
                f"<span style='font-size:1.4em'><b>{r.tokens_per_s:,.3g}</b> tokens/s · "
                f"<b>{joules(r.energy_per_token_j)}</b> {per} · {r.avg_power_w:.3g} W</span>"
                f"<br>{r.bound}-bound · <b style='color:#070'>fits</b>: {r.why}"
            )
        else:
            head = (
                "<span style='font-size:1.4em;color:#b00'><b>does not fit</b></span>"
                f"<br>{r.why}<br><b>smallest change:</b> {r.suggestion}"
            )
        notes = list(r.notes)
        if what_if:
            notes.append(
                f"what-if: {r.chip} has compute-in-memory arrays holding all "
                f"{cim_weight_elems(arch) / 1e6:,.0f} M matmul weights at "
                f"{WHAT_IF_CIM_PJ_PER_MAC} pJ per MAC; no preset chip has arrays this big"
            )
        self.readout.value = head + "".join(f"<br><i>note: {n}</i>" for n in notes)

    def _write_figure(self, r: Report) -> None:
        peak, bandwidth = r.roofline["peak_ops_per_s"], list(r.roofline["bandwidth"].items())
        ops = [o for o in r.ops if o["flops"] > 0 and o["bytes"] > 0] if r.fits else []
        x = np.array([o["intensity"] for o in ops])
        main_bytes = bandwidth and r.bytes_moved[bandwidth[-1][0]]
        step = r.fits and r.flops > 0 and main_bytes > 0
        step_x = [r.flops / main_bytes] if step else []
        x_hi, x_lo = max([1e4, *(3 * x), *(3 * np.array(step_x))]), min([1e-2, *(x / 3)])
        on_chip = len(bandwidth) > 1
        names = list(r.energy_breakdown_j) if r.fits else []
        mj = np.array([r.energy_breakdown_j[n] * 1e3 for n in names])
        level = {bandwidth[-1][0]: " (main memory)", **{k: " (on-chip)" for k, _ in bandwidth[:-1]}}
        what = f"{r.arch} on {r.chip} · {r.weight_format} · {r.phase}"
        if r.fits:
            what += f": {r.tokens_per_s:,.3g} tokens/s, {joules(r.energy_per_token_j)} per token"
        f = self.figure
        with f.batch_update():
            f.layout.title.text = what if r.fits else what + ": does not fit"
            f.data[ENERGY].x, f.data[ENERGY].y = mj, [n + level.get(n, "") for n in names]
            f.data[ENERGY].text = [f"{joules(e / 1e3)} ({e / mj.sum():.0%})" for e in mj]
            roof = _roof(bandwidth[0][1], peak, x_lo, x_hi) if on_chip else ([], [])
            f.data[ROOF_ON_CHIP].x, f.data[ROOF_ON_CHIP].y = roof
            f.data[ROOF_ON_CHIP].name = f"{bandwidth[0][0]} roof" if on_chip else "no on-chip"
            f.data[ROOF_MAIN].x, f.data[ROOF_MAIN].y = _roof(bandwidth[-1][1], peak, x_lo, x_hi)
            f.data[ROOF_MAIN].name = f"{bandwidth[-1][0]} roof"
            f.data[OPERATORS].x = x
            f.data[OPERATORS].y = np.array([o["attained_ops_per_s"] for o in ops])
            f.data[OPERATORS].text = [f"{o['name']} ({o['bound']}-bound)" for o in ops]
            f.data[STEP].x, f.data[STEP].y = step_x, [r.tokens_per_s * r.flops] if step else []


def explorer(
    model="llama-3.2-1b",
    chip="raspberry-pi-5",
    *,
    weight_format: str = "q4_0",
    context_len: int = 1024,
    phase: str = "decode",
    sram_mb: float | None = None,
    cim: bool = False,
    dvfs: str | int | None = None,
    models=None,
    chips=None,
) -> Explorer:
    """The chip explorer: controls on the left; tokens/s, energy and a roofline on the right.

    Args:
        model: the model shown first: a preset name or an Arch (yours, via Arch.from_slm).
        chip: the chip shown first: a preset name or a Chip (e.g. calibrate.host()).
        weight_format: see formats.names("weight").
        context_len: decode context (positions in the KV cache) or, for prefill, the prompt
            length (>= 0; a prefill of 0 tokens runs 1).
        phase: "decode" or "prefill".
        sram_mb: size of the chip's first on-chip level in MiB (None: as the chip has it).
        cim: keep the weights in compute-in-memory arrays (a what-if where the chip has none
            big enough; see the module docstring).
        dvfs: the chip's DVFS point (name or index; None: nominal).
        models, chips: what the menus offer (default: every preset); `model` and `chip` are
            added if missing.

    Returns:
        An Explorer (displays itself in Jupyter).
    """
    reg_m, reg_c = _registries(models, chips)
    model = _pick(model, reg_m, model_presets.get, "model", Arch)
    chip = _pick(chip, reg_c, chip_presets.get, "chip", Chip)
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {list(PHASES)}, got {phase!r}")
    if sram_mb is not None:
        sram_mb = _check.non_negative("sram_mb", sram_mb)
    if not isinstance(cim, bool):
        raise TypeError(f"cim must be True or False, got {cim!r}")
    if dvfs is not None:
        reg_c[chip].at(dvfs)  # a clear ValueError for an unknown point or a chip without DVFS
        dvfs = reg_c[chip].dvfs[dvfs].name if isinstance(dvfs, int) else dvfs
    start = dict(model=model, chip=chip, weight_format=formats.get(weight_format, "weight").name,
                 context_len=_check.integer("context_len", context_len, 0), phase=phase,
                 sram_mb=sram_mb, cim=cim, dvfs=dvfs)  # fmt: skip
    return Explorer(reg_m, reg_c, start)
