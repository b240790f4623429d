"""`simulate(arch, chip, ...)`: one design point in, one readable `Report` out.

The arithmetic lives in engine.py (shared with sweep.py); this module checks the arguments,
builds the engine's inputs for one point, and turns the engine's arrays into a Report: totals
per token, the energy breakdown, whether it fits (fit.py says what would make it fit), and
per-layer and per-operator rows for tables and rooflines.
"""

from __future__ import annotations

import numpy as np

from hardware_model import _check, formats
from hardware_model import chips as chip_presets
from hardware_model import models as model_presets
from hardware_model.arch import Arch
from hardware_model.chip import Chip
from hardware_model.engine import CLASSES, evaluate
from hardware_model.fit import smallest_change
from hardware_model.inputs import (
    arch_arrays,
    capacity_bytes,
    chip_arrays,
    cim_weight_elems,
    uses_cim,
)
from hardware_model.report import Report, size
from hardware_model.workload import ops

PHASES = ("decode", "prefill")


def as_arch(arch) -> Arch:
    """An Arch from an Arch, a preset name, or an slmlab config/model (read by attribute)."""
    if isinstance(arch, (Arch, str)):
        return model_presets.get(arch)
    if hasattr(arch, "n_layer") or hasattr(arch, "config"):
        return Arch.from_slm(arch)
    raise TypeError(f"arch must be an Arch, a preset name or an slmlab config, got {arch!r}")


def as_chip(chip) -> Chip:
    """A Chip from a Chip or a preset name."""
    return chip_presets.get(chip)


def check_int(name: str, value, low: int) -> int:
    """`value` as an int >= low, or a clear error naming `name`."""
    return _check.integer(name, value, low)


def run(arch, chip, fmt, phase, ctx, prompt, batch, kv_fmt, act_fmt, cim, detail=True) -> dict:
    """The engine on one design point (formats are formats.Format objects)."""
    values, flags, sc = arch_arrays([arch])
    ch = chip_arrays([chip], [fmt], act_fmt, len(chip.memory) - 1)
    pt = dict(
        ctx=np.array([float(ctx)]),
        prompt=np.array([float(prompt)]),
        wbytes=np.array([fmt.bytes]),
        kvbytes=np.array([kv_fmt.bytes]),
        abytes=np.array([act_fmt.bytes]),
        use_cim=np.array([uses_cim(arch, chip, cim)]),
        **{k: v for k, v in sc.items() if k != "cim_need"},
    )
    chip_in = {k: v[:, 0] for k, v in ch.items()}
    return evaluate(values, flags, pt, chip_in, phase=phase, batch=batch, detail=detail)


def simulate(
    arch,
    chip,
    *,
    weight_format: str = "fp16",
    phase: str = "decode",
    context_len: int = 1024,
    prompt_len: int = 512,
    batch: int = 1,
    kv_format: str = "fp16",
    act_format: str = "fp16",
    cim: bool | None = None,
    dvfs: str | int | None = None,
) -> Report:
    """Simulate decoding (or prefilling) `arch` on `chip`.

    Args:
        arch: an Arch, a preset name ("llama-3.2-1b") or an slmlab config/model.
        chip: a Chip or a preset name ("raspberry-pi-5").
        weight_format: see formats.names("weight") ("fp16", "q4_0", "int4-g64", ...).
        phase: "decode" (one new token per sequence) or "prefill" (the whole prompt).
        context_len: decode: positions already in the KV cache (>= 0).
        prompt_len: prefill: prompt tokens (>= 1).
        batch: sequences processed together (>= 1).
        kv_format, act_format: formats of the KV cache and of activations.
        cim: use compute-in-memory arrays if the chip has them (None: when the weights fit).
        dvfs: a DVFS operating point of the chip (name or index); None: nominal.

    Returns:
        A Report. A model that does not fit is a Report with fits=False, not an exception.
    """
    arch, chip = as_arch(arch), as_chip(chip)
    fmt = formats.get(weight_format, "weight")
    kv_fmt, act_fmt = formats.get(kv_format, "kv"), formats.get(act_format, "activation")
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {list(PHASES)}, got {phase!r}")
    context_len = check_int("context_len", context_len, 0)
    prompt_len = check_int("prompt_len", prompt_len, 1)
    batch = check_int("batch", batch, 1)
    if cim is not None and not isinstance(cim, bool):
        raise TypeError(f"cim must be None, True or False, got {cim!r}")
    if cim and chip.cim is None:
        raise ValueError(f"cim=True but {chip.name} has no compute-in-memory arrays")
    chip = chip.at(dvfs)
    point = (arch, chip, fmt, phase, context_len, prompt_len, batch, kv_fmt, act_fmt, cim)

    res = run(*point)
    r = {k: (v[0] if isinstance(v, np.ndarray) else v) for k, v in res.items() if k != "op"}
    foot = dict(zip(("activations", "state", "weights", "kv_cache"), r["footprint"], strict=True))
    foot = {k: float(v) for k, v in foot.items()}
    capacity = capacity_bytes(chip)
    needed = sum(foot.values())
    fits = needed <= capacity
    parts = ", ".join(
        f"{label} {size(foot[key])}"
        for label, key in (
            ("weights", "weights"),
            ("KV cache", "kv_cache"),
            ("state", "state"),
            ("activations", "activations"),
        )
        if foot[key]
    )
    if fits:
        why = f"needs {size(needed)} of {size(capacity)} ({parts})"
    else:
        levels = " + ".join(
            f"{lv.name} {size(lv.capacity_bytes)}" for lv in chip.memory if lv.kind != "cache"
        )
        why = (
            f"needs {size(needed)} ({parts}) with {fmt.name} weights, but {chip.name} has "
            f"{size(capacity)} ({levels})"
        )

    tokens, time = r["tokens"], r["time"]
    names = [lv.name for lv in chip.memory]
    breakdown = {"compute": r["e_compute"] / tokens}
    breakdown.update({n: e / tokens for n, e in zip(names, r["e_levels"], strict=True)})
    breakdown["static"] = r["e_static"] / tokens
    classes = dict(zip(CLASSES, r["bytes_classes"] / tokens, strict=True))
    by_class = dict(
        weights=classes["weights"],
        activations=classes["activations"],
        kv_read=r["kv_read"] / tokens,
        kv_write=r["kv_write"] / tokens,
        state=classes["state"],
    )
    bounds = ("compute", "memory", "overhead")
    return Report(
        arch=arch.name,
        chip=chip.name,
        weight_format=fmt.name,
        kv_format=kv_fmt.name,
        act_format=act_fmt.name,
        phase=phase,
        context_len=context_len,
        prompt_len=prompt_len,
        batch=batch,
        fits=bool(fits),
        why=why,
        suggestion=None if fits else smallest_change(*point),
        tokens_per_s=float(tokens / time) if fits else 0.0,
        latency_s=float(time) if fits else float("inf"),
        energy_per_token_j=float(r["energy"] / tokens) if fits else float("inf"),
        avg_power_w=float(r["energy"] / time) if fits else 0.0,
        energy_breakdown_j={k: float(v) for k, v in breakdown.items()},
        bytes_moved={n: float(b / tokens) for n, b in zip(names, r["bytes_levels"], strict=True)},
        bytes_by_class={k: float(v) for k, v in by_class.items()},
        flops=float(r["flops"] / tokens),
        bound=str(r["bound"]),
        time_breakdown_s={
            b: float(t / tokens) for b, t in zip(bounds, r["time_by_bound"], strict=True)
        },
        memory_needed={**foot, "total": needed},
        capacity_bytes=float(capacity),
        layers=_layer_rows(arch, res["op"], tokens),
        ops=_op_rows(arch, res["op"], tokens),
        roofline=dict(
            peak_ops_per_s=float(chip.ops_per_s(fmt.compute)),
            bandwidth={lv.name: lv.bandwidth_bytes_per_s for lv in chip.memory},
        ),
        notes=_notes(*point),
        sleep_power_w=chip.sleep_power_w,
    )


def _notes(arch, chip, fmt, phase, ctx, prompt, batch, kv_fmt, act_fmt, cim) -> list[str]:
    notes = []
    if chip.cim is not None and cim is not False:
        need, held = cim_weight_elems(arch) / 1e6, chip.cim.capacity_weights / 1e6
        if uses_cim(arch, chip, cim):
            notes.append(f"compute-in-memory arrays hold the {need:.0f} M matmul weights")
        else:
            notes.append(
                f"the {need:.0f} M matmul weights exceed the {held:.0f} M the compute-in-memory "
                "arrays hold, so the digital path streams them from memory"
            )
    seen = ctx if phase == "decode" else prompt
    if arch.max_seq_len and seen > arch.max_seq_len:
        notes.append(
            f"{seen} positions is beyond the {arch.max_seq_len} {arch.name} was trained for"
        )
    used = chip.compute_format(fmt.compute)
    if used != fmt.compute:
        notes.append(f"{chip.name} has no {fmt.compute} arithmetic; {fmt.name} runs in {used}")
    return notes


def _op_rows(arch: Arch, op: dict, tokens: float) -> list[dict]:
    """One row per operator of one layer (the engine's rows cover `count` layers)."""
    t = ops(arch)
    rows = []
    for i, name in enumerate(t.name):
        per = tokens * t.count[i]
        flops, nbytes, time = (float(op[k][0, i] / per) for k in ("flops", "bytes", "time"))
        t_comp, t_mem, t_over = (op[k][0, i] for k in ("t_comp", "t_mem", "t_over"))
        bound = "compute" if t_comp >= t_mem else "memory"
        if t_over > max(t_comp, t_mem):
            bound = "overhead"
        rows.append(
            dict(
                name=name,
                group=t.group[i],
                count=int(t.count[i]),
                flops=flops,
                bytes=nbytes,
                intensity=flops / nbytes if nbytes else float("inf"),
                time_s=time,
                attained_ops_per_s=flops / time if time else 0.0,
                bound=bound,
                in_cim=bool(op["in_cim"][0, i]),
            )
        )
    return rows


def _layer_rows(arch: Arch, op: dict, tokens: float) -> list[dict]:
    """One row per layer (and the embedding and head): flops, bytes, time, energy per token."""
    t = ops(arch)
    acc = {}
    for i, layer_ids in enumerate(t.layers):
        per = tokens * t.count[i]
        for key in layer_ids or (t.name[i],):
            kind = t.group[i] if layer_ids else key
            row = acc.setdefault(
                key, dict(layer=key, kind=kind, flops=0.0, bytes=0.0, time_s=0.0, energy_j=0.0)
            )
            row["flops"] += float(op["flops"][0, i] / per)
            row["bytes"] += float(op["bytes"][0, i] / per)
            row["time_s"] += float(op["time"][0, i] / per)
            row["energy_j"] += float(op["energy"][0, i] / per)
    order = ["embed", *range(arch.n_layer), "final_norm", "lm_head"]
    return [acc[key] for key in order if key in acc]
