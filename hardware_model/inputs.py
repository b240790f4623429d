"""The engine's inputs: numpy arrays built from Arch and Chip objects, and memory footprints.

`simulate` builds them for one point, `sweep` for many; `footprint` gives the same bytes-in-
memory as the engine from the plain formulas of workload.py, cheaply enough to search with.
"""

from __future__ import annotations

import numpy as np

from hardware_model import workload
from hardware_model.arch import Arch
from hardware_model.chip import Chip
from hardware_model.workload import FIELDS, FLAGS, activation_width, ops


def cim_weight_elems(arch: Arch) -> int:
    """Weights compute-in-memory arrays must hold: every matmul weight (all experts) + LM head."""
    blocks = arch.n_unique_blocks or arch.n_layer
    layers = sum(arch.mixer_matmul_weights(m) for m in arch.layer_mixers[:blocks])
    return layers + blocks * arch.mlp_weights() + arch.embedding_params()


def uses_cim(arch: Arch, chip: Chip, cim: bool | None) -> bool:
    """Whether compute-in-memory arrays run this arch: not refused, and big enough for every
    matmul weight."""
    return bool(
        chip.cim is not None
        and cim is not False
        and cim_weight_elems(arch) <= chip.cim.capacity_weights
    )


def capacity_bytes(chip: Chip) -> float:
    """Memory that can hold data: main memory plus scratchpads (caches only hold copies)."""
    scratch = sum(lv.capacity_bytes for lv in chip.memory[:-1] if lv.kind == "scratchpad")
    return chip.main_memory.capacity_bytes + scratch


def footprint(arch, chip, fmt, phase, ctx, prompt, batch, kv_fmt, act_fmt, cim) -> dict:
    """Bytes a design point needs in memory, by tensor class (what `fits` compares).

    Args:
        arch, chip: the design; fmt, kv_fmt, act_fmt: formats.Format of weights, KV, activations.
        phase, ctx, prompt, batch: as in simulate(); cim: as in simulate().

    Returns:
        dict with activations, state, weights, kv_cache in bytes.
    """
    weights = arch.num_params()
    if uses_cim(arch, chip, cim):  # the embedding table stays readable in memory when tied
        weights += arch.embedding_params() * arch.tie_embeddings - cim_weight_elems(arch)
    width = activation_width(arch)
    if phase == "decode":
        in_flight, positions = batch, ctx + 1
    else:
        on_chip = sum(lv.capacity_bytes for lv in chip.memory[:-1])
        in_flight = min(max(np.floor(on_chip / (width * act_fmt.bytes)), 1), prompt)
        positions = prompt
    return dict(
        activations=float(in_flight * width * act_fmt.bytes),
        state=float(workload.state_bytes(arch, act_fmt.bytes, batch)),
        weights=float(weights * fmt.bytes),
        kv_cache=float(workload.kv_cache_bytes(arch, positions, kv_fmt.bytes, batch)),
    )


def arch_arrays(archs: list[Arch]) -> tuple[dict, dict, dict]:
    """Operator tables of several archs padded to one width K, each row's values multiplied by
    its layer count (the engine's convention): values (A, K), flags (A, K), scalars (A,)."""
    tables = [ops(a) for a in archs]
    k = max(len(t) for t in tables)
    values = {f: np.zeros((len(archs), k)) for f in FIELDS}
    flags = {f: np.zeros((len(archs), k), bool) for f in FLAGS}
    for i, t in enumerate(tables):
        for f in FIELDS:  # totals over each row's layers (cap is a window, not a total)
            scale = 1.0 if f in ("cap", "count") else t.values["count"]
            values[f][i, : len(t)] = t.values[f] * scale
        for f in FLAGS:
            flags[f][i, : len(t)] = t.flags[f]
    values["cap"][values["cap"] == 0] = 1.0  # padded rows: no work, any cap will do
    cim = np.array([cim_weight_elems(a) for a in archs], float)
    total = np.array([a.num_params() for a in archs], float)
    tied = np.array([a.embedding_params() * a.tie_embeddings for a in archs], float)
    scalars = dict(
        w_total=total,
        cim_need=cim,
        w_mem_cim=total - cim + tied,
        act_width=np.array([activation_width(a) for a in archs], float),
        moe_e=np.array([a.n_experts if a.mlp == "moe" else 1 for a in archs], float),
        moe_k=np.array([a.top_k if a.mlp == "moe" else 1 for a in archs], float),
    )
    return values, flags, scalars


def chip_arrays(chip_list: list[Chip], weight_formats: list, act_format, m_on: int) -> dict:
    """Per (chip, weight format) engine inputs: arrays shaped (C, F) and (C, F, M+1), where M is
    the most on-chip levels any chip has (missing levels: zero capacity)."""
    c, nf = len(chip_list), len(weight_formats)
    keys = ("peak_w", "peak_a", "e_w", "e_a", "static_w", "overhead_s", "cim_macs", "cim_e")
    out = {k: np.zeros((c, nf)) for k in (*keys, "cim_cap", "capacity")}
    out["cap"] = np.zeros((c, nf, m_on + 1))
    out["bw"] = np.ones((c, nf, m_on + 1))
    out["e_byte"] = np.zeros((c, nf, m_on + 1))
    out["scratch"] = np.zeros((c, nf, m_on), bool)
    for i, ch in enumerate(chip_list):
        for j, wf in enumerate(weight_formats):
            out["peak_w"][i, j] = ch.ops_per_s(wf.compute)
            out["e_w"][i, j] = ch.op_energy_pj(wf.compute)
        out["peak_a"][i] = ch.ops_per_s(act_format.compute)
        out["e_a"][i] = ch.op_energy_pj(act_format.compute)
        out["static_w"][i] = ch.static_power_w
        out["overhead_s"][i] = ch.overhead_s
        out["cim_macs"][i] = ch.cim.macs_per_s if ch.cim else 1.0
        out["cim_e"][i] = ch.cim.energy_pj_per_mac if ch.cim else 0.0
        out["cim_cap"][i] = ch.cim.capacity_weights if ch.cim else 0.0
        out["capacity"][i] = capacity_bytes(ch)
        for m, lv in enumerate(ch.memory[:-1]):
            out["cap"][i, :, m] = lv.capacity_bytes
            out["bw"][i, :, m] = lv.bandwidth_bytes_per_s
            out["e_byte"][i, :, m] = lv.energy_pj_per_byte
            out["scratch"][i, :, m] = lv.kind == "scratchpad"
        main = ch.main_memory
        out["cap"][i, :, -1] = main.capacity_bytes
        out["bw"][i, :, -1] = main.bandwidth_bytes_per_s
        out["e_byte"][i, :, -1] = main.energy_pj_per_byte
    return out
