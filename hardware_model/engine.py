"""The model itself, vectorized: placement, time and energy for many design points at once.

`simulate` calls this with one point, `sweep` with a hundred thousand; both get the same numbers.
Shapes: N design points, K operator rows, M+1 memory levels (M on-chip, then main memory).

For every operator row (see workload.py), with T tokens in the step:

    FLOPs        F = 2 * w_macs * T + 2 * (a_macs * T + a_macs_ctx * attended)
    bytes        weights read (once per pass over the weights) + activations + KV + state,
                 each tensor class split over memory levels by where it lives (placement)
    time         t = max(F / ops_per_s, max over levels of bytes_level / bandwidth_level)
                     + dispatches * overhead_s
    energy       F * pJ/op + sum over levels of bytes_level * pJ/byte      (+ static power * time)

Placement fills on-chip levels, fastest first, in the order activations, state, weights, KV
cache: a "cache" level takes a tensor class only if all of it fits (a stream larger than an LRU
cache gets no reuse), a "scratchpad" takes whatever part fits; the rest lives in main memory.
Weights held by compute-in-memory arrays move nowhere: their MACs cost the array's pJ/MAC.

Prefill processes the prompt in tiles of as many tokens as the on-chip memory can hold the
activations of: weights are read once per tile (reuse across the tile), and attention reads the
KV of positions up to the tile's end (at most window + tile).
"""

from __future__ import annotations

import numpy as np

from hardware_model.workload import NO_CAP

CLASSES = ("activations", "state", "weights", "kv")  # placement order
BOUNDS = np.array(["compute", "memory", "overhead"])


def _attended_sum(p, cap):
    """Sum over query positions i = 1..p of min(i, cap): positions the prompt's tokens attend."""
    m = np.minimum(p, cap)
    return m * (m + 1) / 2 + (p - m) * np.where(cap >= NO_CAP, 0.0, cap)


def _kv_reads_tiled(p, cap, tile):
    """Sum over query tiles of the KV positions each reads: min(tile end, cap + tile)."""
    n = np.ceil(p / tile)
    c = np.minimum(p, cap + tile)
    j = np.ceil(c / tile) - 1  # tiles that end before the read cap
    return tile * j * (j + 1) / 2 + (n - j) * c


def evaluate(v, f, pt, chip, *, phase: str, batch: int, detail: bool = False) -> dict:
    """Time, energy and traffic of N design points.

    Args:
        v: operator values (workload.FIELDS) already multiplied by each row's layer count,
            float arrays of shape (N, K) or (1, K).
        f: operator flags (workload.FLAGS), bool arrays of the same shape.
        pt: per-point dict of (N,) arrays: ctx, prompt, wbytes, kvbytes, abytes, w_total
            (weight elements stored), w_mem_cim (elements still in memory when CIM holds the
            rest), act_width, moe_e, moe_k, use_cim (bool).
        chip: per-point dict: peak_w, peak_a (sustained ops/s), e_w, e_a (pJ/op), static_w,
            overhead_s, cim_macs, cim_e (N,); cap, bw, e_byte (N, M+1), scratch (N, M) bool.
        phase: "decode" or "prefill".
        batch: sequences processed together.
        detail: also return per-operator arrays (still multiplied by the layer count).

    Returns:
        dict of arrays (see the keys at the end of this function); times in s, energies in J.
    """
    cap = v["cap"]
    on_cap = chip["cap"][:, :-1]
    n = on_cap.shape[0]
    if phase == "decode":
        tokens = np.full(n, float(batch))
        passes = np.ones(n)
        tokens_per_pass = tokens
        attended = batch * np.minimum(pt["ctx"][:, None], cap)
        kv_read_pos = attended
        state_passes = tokens
        ctx_total = pt["ctx"] + 1  # the cache also holds the new token
        in_flight = tokens
    else:
        p = pt["prompt"]
        act_tok = pt["act_width"] * pt["abytes"]
        tile = np.clip(np.floor(on_cap.sum(-1) / act_tok), 1, p)
        tokens = batch * p
        passes = np.ceil(tokens / tile)
        tokens_per_pass = tile
        attended = batch * _attended_sum(p[:, None], cap)
        kv_read_pos = batch * _kv_reads_tiled(p[:, None], cap, tile[:, None])
        state_passes = batch * np.ceil(p / tile)
        ctx_total = p
        in_flight = tile
    T = tokens[:, None]

    # ---- work per operator -----------------------------------------------------------------
    e, k = pt["moe_e"][:, None], pt["moe_k"][:, None]
    moe_factor = (e / k) * (1 - (1 - k / e) ** tokens_per_pass[:, None])
    w_read = v["w_elems"] * np.where(
        f["w_per_token"], T, passes[:, None] * np.where(f["moe"], moe_factor, 1.0)
    )
    in_cim = pt["use_cim"][:, None] & f["cim_ok"]
    cim_macs = np.where(in_cim, v["w_macs"] * T, 0.0)
    flops_w = 2 * (v["w_macs"] * T - cim_macs)  # digital weight FLOPs
    flops_a = 2 * (v["a_macs"] * T + v["a_macs_ctx"] * attended)
    kv_read = v["kv_read_ctx"] * kv_read_pos * pt["kvbytes"][:, None]
    kv_write = v["kv_write"] * T * pt["kvbytes"][:, None]
    by_class = (  # bytes per operator, in CLASSES order
        v["act"] * T * pt["abytes"][:, None],
        v["state"] * (2 * state_passes * pt["abytes"])[:, None],
        np.where(in_cim, 0.0, w_read * pt["wbytes"][:, None]),
        kv_read + kv_write,
    )

    # ---- footprints and placement ---------------------------------------------------------------
    w_elems_mem = np.where(pt["use_cim"], pt["w_mem_cim"], pt["w_total"])
    kv_cap = np.minimum(ctx_total[:, None], cap)
    footprint = np.stack(
        np.broadcast_arrays(
            in_flight * pt["act_width"] * pt["abytes"],
            batch * v["state"].sum(-1) * pt["abytes"],
            w_elems_mem * pt["wbytes"],
            batch * (v["kv_write"] * kv_cap).sum(-1) * pt["kvbytes"],
        ),
        axis=-1,
    )  # (N, 4)
    m_on = on_cap.shape[1]
    frac = np.zeros((n, 4, m_on + 1))
    remaining = footprint.copy()
    free = on_cap.copy()
    safe = np.where(footprint > 0, footprint, 1.0)
    for m in range(m_on):
        for c in range(4):
            fits = remaining[:, c] <= free[:, m]
            placed = np.where(
                chip["scratch"][:, m],
                np.minimum(remaining[:, c], free[:, m]),
                np.where(fits, remaining[:, c], 0.0),
            )
            frac[:, c, m] = placed / safe[:, c]
            free[:, m] -= placed
            remaining[:, c] -= placed
    frac[:, :, -1] = np.where(footprint > 0, remaining / safe, 1.0)

    # ---- time ----------------------------------------------------------------------------------
    t_mem = 0.0
    traffic = []
    for m in range(m_on + 1):
        level = sum(b * frac[:, c, m, None] for c, b in enumerate(by_class))
        if detail:
            traffic.append(level)
        t_mem = np.maximum(t_mem, level / chip["bw"][:, m, None])
    t_comp = (
        flops_w / chip["peak_w"][:, None]
        + flops_a / chip["peak_a"][:, None]
        + cim_macs / chip["cim_macs"][:, None]
    )
    t_over = v["dispatches"] * chip["overhead_s"][:, None]
    compute_wins = t_comp >= t_mem
    t_max = np.where(compute_wins, t_comp, t_mem)
    by_bound = np.stack(
        np.broadcast_arrays(
            np.where(compute_wins, t_comp, 0.0).sum(-1),
            np.where(compute_wins, 0.0, t_mem).sum(-1),
            t_over.sum(-1),
        ),
        axis=-1,
    )
    time = by_bound.sum(-1)

    # ---- energy (pJ, then J) -------------------------------------------------------------------
    class_sums = np.stack([b.sum(-1) for b in np.broadcast_arrays(*by_class)], axis=-1)
    bytes_levels = np.einsum("nc,ncm->nm", class_sums, frac)
    e_compute = (
        flops_w.sum(-1) * chip["e_w"]
        + flops_a.sum(-1) * chip["e_a"]
        + cim_macs.sum(-1) * chip["cim_e"]
    ) * 1e-12
    e_levels = bytes_levels * chip["e_byte"] * 1e-12
    e_static = chip["static_w"] * time
    energy = e_compute + e_levels.sum(-1) + e_static

    out = dict(
        tokens=tokens,
        time=time,
        energy=energy,
        e_compute=e_compute,
        e_levels=e_levels,
        e_static=e_static,
        bytes_levels=bytes_levels,
        bytes_classes=class_sums,
        kv_read=kv_read.sum(-1),
        kv_write=kv_write.sum(-1),
        flops=(flops_w + flops_a + 2 * cim_macs).sum(-1),
        time_by_bound=by_bound,
        bound=BOUNDS[by_bound.argmax(-1)],
        footprint=footprint,
        placement=frac,
    )
    if detail:
        traffic = np.stack(traffic, axis=-1)  # (N, K, M+1)
        e_op = (
            flops_w * chip["e_w"][:, None]
            + flops_a * chip["e_a"][:, None]
            + cim_macs * chip["cim_e"][:, None]
            + (traffic * chip["e_byte"][:, None, :]).sum(-1)
        )
        out["op"] = dict(
            flops=flops_w + flops_a + 2 * cim_macs,
            bytes=traffic.sum(-1),
            traffic=traffic,
            t_comp=t_comp,
            t_mem=t_mem,
            t_over=t_over,
            time=t_max + t_over,
            energy=e_op * 1e-12,
            in_cim=in_cim,
        )
    return out
