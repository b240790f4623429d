"""`sweep(...)`: every combination of architectures, chips, weight formats and context lengths,
evaluated at once with numpy, returned as columns ready for plotly.

The numbers are exactly simulate()'s (both call engine.evaluate); only the per-layer and
per-operator detail of a Report is left out.
"""

from __future__ import annotations

import numpy as np

from hardware_model import formats
from hardware_model.engine import evaluate
from hardware_model.inputs import arch_arrays, chip_arrays
from hardware_model.simulate import PHASES, as_arch, as_chip, check_int


class SweepTable(dict):
    """Columns (name -> numpy array), one entry per design point.

    Pass it straight to plotly (`px.scatter(table, x="weights_gb", y="tokens_per_s")` or
    `go.Scatter(x=table["..."], ...)`).
    """

    @property
    def n_rows(self) -> int:
        """Number of design points."""
        return len(next(iter(self.values()))) if self else 0

    def rows(self) -> list[dict]:
        """The table as a list of {column: value} dicts (for small tables)."""
        keys = list(self)
        return [{k: self[k][i].item() for k in keys} for i in range(self.n_rows)]

    def where(self, mask) -> SweepTable:
        """The rows where the boolean `mask` is True."""
        mask = np.asarray(mask, bool)
        return SweepTable({k: v[mask] for k, v in self.items()})


def _as_list(name: str, values) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    values = list(values)
    if not values:
        raise ValueError(f"{name} must not be empty")
    return values


def sweep(
    archs,
    chips,
    weight_formats=("fp16",),
    context_lens=(1024,),
    *,
    phase: str = "decode",
    prompt_len: int = 512,
    batch: int = 1,
    kv_format: str = "fp16",
    act_format: str = "fp16",
    cim: bool | None = None,
    chunk: int = 32768,
) -> SweepTable:
    """Evaluate the cartesian product archs x chips x weight_formats x context_lens.

    Args:
        archs: Archs or preset names (one or a list).
        chips: Chips or preset names (one or a list).
        weight_formats: format names (see formats.names("weight")).
        context_lens: decode context lengths (ints >= 0); ignored for prefill.
        phase, prompt_len, batch, kv_format, act_format, cim: as in simulate().
        chunk: design points evaluated per numpy pass (memory vs speed).

    Returns:
        SweepTable with columns arch, chip, weight_format, context_len, params, fits,
        tokens_per_s, latency_s, energy_per_token_j, avg_power_w, bound, weights_gb,
        memory_needed_gb, capacity_gb, flops_per_token, main_memory_bytes_per_token.
    """
    archs = [as_arch(a) for a in _as_list("archs", archs)]
    chip_list = [as_chip(c) for c in _as_list("chips", chips)]
    fmts = [formats.get(f, "weight") for f in _as_list("weight_formats", weight_formats)]
    ctxs = np.array(
        [check_int("context_len", c, 0) for c in _as_list("context_lens", context_lens)], float
    )
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {list(PHASES)}, got {phase!r}")
    prompt_len = check_int("prompt_len", prompt_len, 1)
    batch = check_int("batch", batch, 1)
    chunk = check_int("chunk", chunk, 1)
    kv_fmt, act_fmt = formats.get(kv_format, "kv"), formats.get(act_format, "activation")
    if cim is not None and not isinstance(cim, bool):
        raise TypeError(f"cim must be None, True or False, got {cim!r}")

    values, flags, sc = arch_arrays(archs)
    m_on = max(len(c.memory) - 1 for c in chip_list)
    ch = chip_arrays(chip_list, fmts, act_fmt, m_on)
    has_cim = np.array([c.cim is not None for c in chip_list]) & (cim is not False)
    wbytes = np.array([f.bytes for f in fmts])

    # Points are ordered arch-major; each arch's operator rows broadcast over its points.
    per_arch = len(chip_list) * len(fmts) * len(ctxs)
    ic, jf, il = (g.ravel() for g in np.indices((len(chip_list), len(fmts), len(ctxs))))
    ia = np.repeat(np.arange(len(archs)), per_arch)
    ic, jf, il = np.tile(ic, len(archs)), np.tile(jf, len(archs)), np.tile(il, len(archs))
    n = ia.size
    out = {k: np.empty(n) for k in ("tokens", "time", "energy", "flops", "need", "main_bytes")}
    bound = np.empty(n, dtype="<U8")
    for a in range(len(archs)):
        v = {k: x[a : a + 1] for k, x in values.items()}
        fl = {k: x[a : a + 1] for k, x in flags.items()}
        for s in range(a * per_arch, (a + 1) * per_arch, chunk):
            sl = slice(s, min(s + chunk, (a + 1) * per_arch))
            c, f, x = ic[sl], jf[sl], il[sl]
            m = c.size
            pt = dict(
                ctx=ctxs[x],
                prompt=np.full(m, float(prompt_len)),
                wbytes=wbytes[f],
                kvbytes=np.full(m, kv_fmt.bytes),
                abytes=np.full(m, act_fmt.bytes),
                use_cim=has_cim[c] & (sc["cim_need"][a] <= ch["cim_cap"][c, f]),
                **{k: np.full(m, x_[a]) for k, x_ in sc.items() if k != "cim_need"},
            )
            res = evaluate(
                v, fl, pt, {k: x_[c, f] for k, x_ in ch.items()}, phase=phase, batch=batch
            )
            out["tokens"][sl], out["time"][sl] = res["tokens"], res["time"]
            out["energy"][sl] = res["energy"]
            out["flops"][sl] = res["flops"] / res["tokens"]
            out["need"][sl] = res["footprint"].sum(-1)
            out["main_bytes"][sl] = res["bytes_levels"][:, -1] / res["tokens"]
            bound[sl] = res["bound"]

    capacity = ch["capacity"][ic, jf]
    fits = out["need"] <= capacity
    tps = np.where(fits, out["tokens"] / out["time"], 0.0)
    return SweepTable(
        arch=np.array([a.name for a in archs])[ia],
        chip=np.array([c.name for c in chip_list])[ic],
        weight_format=np.array([f.name for f in fmts])[jf],
        context_len=ctxs[il].astype(int),
        params=sc["w_total"][ia],
        fits=fits,
        tokens_per_s=tps,
        latency_s=np.where(fits, out["time"], np.inf),
        energy_per_token_j=np.where(fits, out["energy"] / out["tokens"], np.inf),
        avg_power_w=np.where(fits, out["energy"] / out["time"], 0.0),
        bound=bound,
        weights_gb=sc["w_total"][ia] * wbytes[jf] / 2**30,
        memory_needed_gb=out["need"] / 2**30,
        capacity_gb=capacity / 2**30,
        flops_per_token=out["flops"],
        main_memory_bytes_per_token=out["main_bytes"],
    )
