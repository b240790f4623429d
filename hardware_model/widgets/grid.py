"""The "can it run here?" grid: real small language models x real chips.

One `sweep` over every model x chip x format x context of its menus when it is built, so an
update only looks the numbers up and redraws two heatmaps.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from hardware_model import _check, formats
from hardware_model.report import joules, size
from hardware_model.sweep import SweepTable, sweep
from hardware_model.widgets.controls import CONTEXTS, _control, _registries, _with_option

GRID_METRICS = {  # metric -> label; colours always read "brighter is better"
    "tokens_per_s": "tokens/s",
    "energy_per_token_j": "energy per token",
    "fits": "fits (share of memory used)",
}


class CanItRunGrid:
    """The "can it run here?" grid (build it with `can_it_run_grid(...)`).

    Attributes:
        controls: name -> ipywidgets control: metric (a GRID_METRICS key), weight_format,
            context_len. Setting a control's `.value` runs `update`.
        figure: FigureWidget, two heatmaps over (rows: models, columns: chips): trace 0 the
            metric where the model fits (z = log10 tokens/s, log10 J per token, or the share
            of memory used; NaN where it does not fit; text = the value), trace 1 the cells
            that do not fit (z = 1 there, NaN elsewhere).
        table: SweepTable of every model x chip x format x context of the menus (built once).
        shown: SweepTable of the cells on screen (rows model-major, like `sweep`).
        widget: the layout Jupyter displays.
    """

    def __init__(self, models: dict, chips: dict, start: dict):
        self._models, self._chips = models, chips
        fmts = formats.names("weight")
        ctxs = _with_option(CONTEXTS, start["context_len"])
        self._shape = (len(models), len(chips), len(fmts), len(ctxs))  # sweep's order
        self.table = sweep(list(models.values()), list(chips.values()), fmts, ctxs)
        c = self.controls = dict(
            metric=_control(W.Dropdown, "colour by", value=start["metric"],
                            options=[(label, key) for key, label in GRID_METRICS.items()]),
            weight_format=_control(W.Dropdown, "weight format", options=fmts,
                                   value=start["weight_format"]),
            context_len=_control(W.SelectionSlider, "context", options=ctxs,
                                 value=start["context_len"]),
        )  # fmt: skip
        x, y = list(chips), list(models)
        grey = [[0, "#d9d9d9"], [1, "#d9d9d9"]]
        self.figure = go.FigureWidget(
            data=[go.Heatmap(x=x, y=y, texttemplate="%{text}", hoverinfo="text", name="fits"),
                  go.Heatmap(x=x, y=y, texttemplate="%{text}", hoverinfo="text",
                             showscale=False, colorscale=grey, name="does not fit")],
            layout=go.Layout(height=130 + 26 * len(y), margin=dict(l=120, r=20, t=60, b=120),
                             xaxis_tickangle=30, yaxis_autorange="reversed"),
        )  # fmt: skip
        self.widget = W.VBox([W.HBox([c["metric"], c["weight_format"]]), c["context_len"],
                              self.figure])  # fmt: skip
        for w in c.values():
            w.observe(self.update, "value")
        self.update()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def update(self, _change=None) -> SweepTable:
        """Look up every model x chip at the controls' format and context; redraw the grid."""
        metric, fmt = self.controls["metric"].value, self.controls["weight_format"].value
        ctx = self.controls["context_len"].value
        f_i = self.controls["weight_format"].options.index(fmt)
        c_i = self.controls["context_len"].options.index(ctx)
        n_m, n_c = self._shape[:2]
        pick = np.arange(self.table.n_rows).reshape(self._shape)[:, :, f_i, c_i].ravel()
        t = self.shown = SweepTable({k: v[pick] for k, v in self.table.items()})
        fits, tps, jpt = (t[k].reshape(n_m, n_c) for k in ("fits", "tokens_per_s",
                                                         "energy_per_token_j"))  # fmt: skip
        used = t["memory_needed_gb"] / t["capacity_gb"]
        if metric == "fits":
            z, text = used, [f"{u:.0%}" if ok else "" for u, ok in zip(used, t["fits"])]
        elif metric == "tokens_per_s":
            z = np.log10(np.where(fits, tps, 1.0))
            text = [f"{v:.3g}" if ok else "" for v, ok in zip(t[metric], t["fits"])]
        else:
            z = np.log10(np.where(fits, jpt, 1.0))
            text = [joules(v) if ok else "" for v, ok in zip(t[metric], t["fits"])]
        hover = [
            f"{m} on {c}<br>"
            + (f"{v:.3g} tokens/s · {joules(e)} per token · {b}-bound<br>" if ok else "no fit: ")
            + f"needs {size(need * 2**30)} of {size(cap * 2**30)}"
            for m, c, ok, v, e, b, need, cap in zip(
                *(t[k] for k in ("arch", "chip", "fits", "tokens_per_s", "energy_per_token_j",
                                 "bound", "memory_needed_gb", "capacity_gb")))
        ]  # fmt: skip
        hover = np.array(hover, dtype=object).reshape(n_m, n_c)
        z = np.where(fits, np.reshape(z, (n_m, n_c)), np.nan)
        g = self.figure
        with g.batch_update():
            g.layout.title.text = f"Can it run here? {GRID_METRICS[metric]} · {fmt} · context {ctx}"
            g.data[0].z, g.data[0].hovertext = z, hover
            g.data[0].text = np.array(text, dtype=object).reshape(n_m, n_c)
            g.data[0].update(self._colours(metric, z))
            g.data[1].z, g.data[1].hovertext = np.where(fits, np.nan, 1.0), hover
            g.data[1].text = np.full((n_m, n_c), "no fit", dtype=object)
        return t

    @staticmethod
    def _colours(metric: str, z: np.ndarray) -> dict:
        """Colour scale and bar: brighter is better; log10 values get ticks at powers of ten."""
        if metric == "fits":
            bar = dict(title=dict(text="memory used"), tickformat=".0%")
            return dict(colorscale="Greens", reversescale=True, zmin=0, zmax=1, colorbar=bar)
        finite = z[np.isfinite(z)]
        lo = np.floor(finite.min()) if finite.size else 0.0
        hi = max(np.ceil(finite.max()) if finite.size else 1.0, lo + 1)
        ticks = np.arange(lo, hi + 1)
        bar = dict(title=dict(text="tokens/s" if metric == "tokens_per_s" else "J per token"),
                   tickvals=ticks, ticktext=[f"{10**k:g}" for k in ticks])  # fmt: skip
        return dict(colorscale="Viridis", reversescale=metric == "energy_per_token_j",
                    zmin=lo, zmax=hi, colorbar=bar)  # fmt: skip


def can_it_run_grid(
    models=None,
    chips=None,
    *,
    weight_format: str = "q4_0",
    context_len: int = 1024,
    metric: str = "tokens_per_s",
) -> CanItRunGrid:
    """Real small language models x real chips: does it fit, how fast, how many joules.

    Args:
        models: preset names or Arch objects for the rows (default: every preset model).
        chips: preset names or Chip objects for the columns (default: every preset chip).
        weight_format: the weight format shown first (one of formats.names("weight")).
        context_len: decode context length shown first (>= 0).
        metric: "tokens_per_s", "energy_per_token_j" or "fits" (colour by share of memory used).

    Returns:
        A CanItRunGrid (displays itself in Jupyter).
    """
    reg_m, reg_c = _registries(models, chips)
    fmt = formats.get(weight_format, "weight").name
    if fmt not in formats.names("weight"):
        raise ValueError(
            f"weight_format {fmt!r} is not in the grid's menu {formats.names('weight')}"
        )
    if metric not in GRID_METRICS:
        raise ValueError(f"metric must be one of {list(GRID_METRICS)}, got {metric!r}")
    ctx = _check.integer("context_len", context_len, 0)
    return CanItRunGrid(reg_m, reg_c, dict(weight_format=fmt, context_len=ctx, metric=metric))
