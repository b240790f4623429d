"""Checks for the exercises of lab 09 (the edge chip).

Each check recomputes the answer with `hardware_model` from the givens the lab states (kept
here, in one place, so the lab and the check cannot drift apart) and, when the learner's number
is off, tries the usual slips (bits for bytes, peak for sustained, K without V, a forgotten
term) to say in plain words which step went wrong.
"""

from __future__ import annotations

import hardware_model as hm
from hardware_model import energy, power, workload
from slmlab.checks._answers import as_number, diagnose

# The givens of each exercise, exactly as the lab states them.
MACS = dict(mac_format="int8", dram="ddr3")  # 45 nm: int8 multiply + 32-bit add; DDR3 DRAM
# q4_0 runs as int8 dot products; LPDDR4X-4267 x 32 bits = 17.07 GB/s peak (chips.py)
RIDGE = dict(chip="raspberry-pi-5", compute="int8", datasheet_bandwidth=17.07e9)
DECODE = dict(model="llama-3.2-1b", chip="raspberry-pi-5", weight_format="q4_0", context_len=0)
KV_MATCH = dict(model="llama-3.2-1b", weight_format="q4_0", kv_format="fp16")
BATTERY = dict(
    requests_per_hour=60,
    request_s=0.85,  # computing time of one request (s)
    request_j=0.055,  # energy of one request (J)
    sleep_w=50e-6,  # power asleep (W)
    battery_mah=2000,
    battery_v=3.7,
)


def macs_per_dram_byte_reference() -> float:
    """int8 MACs (multiply + 32-bit accumulate, 45 nm) that cost as much as one DRAM byte."""
    return energy.dram_pj_per_byte(MACS["dram"]) / energy.mac_pj(MACS["mac_format"])


def check_macs_per_dram_byte(answer) -> None:
    """Exercise 1: how many int8 MACs cost the energy of fetching one byte from DRAM."""
    answer = as_number(answer, "the number of MACs")
    expected = macs_per_dram_byte_reference()
    byte_pj, mul, add = (
        energy.dram_pj_per_byte(MACS["dram"]),
        energy.MUL_PJ_45NM["int8"],
        energy.ADD_PJ_45NM["int32"],
    )
    slips = {
        "A MAC is a multiply *and* the add that accumulates it (into 32 bits).": byte_pj / mul,
        "DRAM is quoted per bit: a byte is 8 bits.": byte_pj / 8 / (mul + add),
        "The add of an int8 MAC accumulates into a 32-bit register: 0.1 pJ, not the 8-bit "
        "0.03 pJ.": byte_pj / (mul + energy.ADD_PJ_45NM["int8"]),
        "That is a float32 MAC (3.7 + 0.9 pJ); the exercise asks for int8.": byte_pj
        / energy.mac_pj("fp32"),
    }
    diagnose(answer, expected, slips, "MACs", rel=0.01)
    print(f"Correct: one byte from DRAM costs as much as {expected:.0f} int8 MACs.")


def ridge_point_reference() -> float:
    """FLOPs per byte where the Pi 5's int8 compute roof meets its main-memory roof."""
    chip = hm.chips.get(RIDGE["chip"])
    return chip.ops_per_s(RIDGE["compute"]) / chip.main_memory.bandwidth_bytes_per_s


def check_ridge_point(answer) -> None:
    """Exercise 2: the ridge point of the Raspberry Pi 5 (FLOPs per byte)."""
    answer = as_number(answer, "the ridge point in FLOPs per byte")
    chip = hm.chips.get(RIDGE["chip"])
    peak, sustained = chip.peak_ops[RIDGE["compute"]], chip.ops_per_s(RIDGE["compute"])
    bw = chip.main_memory.bandwidth_bytes_per_s
    bw_peak = RIDGE["datasheet_bandwidth"]
    expected = ridge_point_reference()
    slips = {
        "Use the compute a matrix multiply sustains: peak x utilisation.": peak / bw,
        "The bandwidth in the chip is already the sustained one (70 % of the datasheet's "
        "17.07 GB/s); do not use the datasheet peak.": sustained / bw_peak,
        "Both numbers should be sustained ones: peak x utilisation over the sustained "
        "bandwidth.": peak / bw_peak,
        "It is FLOPs per byte: divide the compute rate by the bandwidth, not the other way "
        "round.": bw / sustained,
    }
    diagnose(answer, expected, slips, "FLOPs/byte", rel=0.01)
    print(
        f"Correct: {expected:.1f} FLOPs per byte. An operator doing fewer FLOPs per byte than "
        "this waits on memory."
    )


def decode_reference() -> float:
    """Decode tokens/s the library predicts for the exercise's model, chip and format."""
    d = DECODE
    return hm.simulate(
        d["model"], d["chip"], weight_format=d["weight_format"], context_len=d["context_len"]
    ).tokens_per_s


def check_decode_tokens_per_s(answer) -> None:
    """Exercise 3: decode tokens/s of Llama-3.2-1B (q4_0) on the Pi 5, by bytes / bandwidth."""
    answer = as_number(answer, "the tokens per second")
    d = DECODE
    arch, chip = hm.models.get(d["model"]), hm.chips.get(d["chip"])
    bw = chip.main_memory.bandwidth_bytes_per_s
    bits = hm.formats.bits_per_weight(d["weight_format"])
    expected = decode_reference()
    slips = {
        "q4_0 stores a 16-bit scale per 32 weights: 4.5 bits per weight, not 4.": bw
        / (arch.num_params() * 4 / 8),
        "That is fp16 (2 bytes per weight); the exercise uses q4_0 (4.5 bits).": bw
        / (arch.num_params() * 2),
        "Bits per weight must become bytes (/ 8).": bw / (arch.num_params() * bits),
        "Use the sustained bandwidth of the chip's main memory (11.95 GB/s), not the "
        "datasheet peak.": RIDGE["datasheet_bandwidth"] / (arch.num_params() * bits / 8),
    }
    diagnose(answer, expected, slips, "tokens/s", rel=0.03)
    print(
        f"Correct: the library says {expected:.1f} tokens/s; weights over bandwidth alone give "
        f"{bw / (arch.num_params() * bits / 8):.1f} (the rest is small vectors and overheads)."
    )


def kv_match_reference() -> float:
    """Context length at which the KV cache holds as many bytes as the weights."""
    k = KV_MATCH
    arch = hm.models.get(k["model"])
    weights = workload.weight_bytes(arch, hm.formats.bits_per_weight(k["weight_format"]))
    per_position = float(workload.kv_cache_bytes(arch, 1, hm.formats.get(k["kv_format"]).bytes))
    return weights / per_position


def check_kv_matches_weights(answer) -> None:
    """Exercise 4: the context at which Llama-3.2-1B's fp16 KV cache equals its q4_0 weights."""
    answer = as_number(answer, "the context length in tokens")
    arch = hm.models.get(KV_MATCH["model"])
    expected = kv_match_reference()
    slips = {
        "The cache holds two tensors per layer, K and V.": 2 * expected,
        "Grouped-query attention caches only the n_kv_head = 8 key/value heads, not all 32 "
        "query heads.": expected * arch.n_kv_head / arch.n_head,
        "The weights are q4_0: 4.5 bits each, not 16.": expected * 16 / 4.5,
        "q4_0 is 4.5 bits per weight (a 16-bit scale per 32 weights), not 4.": expected * 4 / 4.5,
        "The KV cache is fp16: 2 bytes per value.": expected / 2,
    }
    diagnose(answer, expected, slips, "tokens", rel=0.01)
    print(
        f"Correct: at about {expected:,.0f} tokens of context the KV cache weighs as much as "
        "the weights, and each decoded token reads both."
    )


def battery_reference() -> tuple[float, float]:
    """(average power in W, battery life in days) of the exercise's always-on device."""
    b = BATTERY
    active_s = b["requests_per_hour"] * b["request_s"]
    avg_w = (b["requests_per_hour"] * b["request_j"] + b["sleep_w"] * (3600 - active_s)) / 3600
    return avg_w, power.battery_life_h(avg_w, b["battery_mah"], b["battery_v"]) / 24


def check_battery_life_days(answer) -> None:
    """Exercise 5: days an always-on device lasts on its battery."""
    answer = as_number(answer, "the battery life in days")
    b = BATTERY
    avg_w, expected = battery_reference()
    battery_j = b["battery_mah"] * b["battery_v"] * 3.6
    n, e = b["requests_per_hour"], b["request_j"]
    slips = {
        "Add the sleep power: asleep for the rest of each hour, the device still draws "
        f"{b['sleep_w'] * 1e6:g} µW.": battery_j / (n * e / 3600) / 86400,
        "That is hours: divide by 24 for days.": expected * 24,
        "A battery holds mAh x V x 3.6 joules (1 mAh = 3.6 coulombs).": expected / 3.6,
        "Average power is the energy per hour over 3600 s.": expected / 3600,
    }
    diagnose(answer, expected, slips, "days", rel=0.01)
    print(
        f"Correct: {expected:.0f} days at an average of {avg_w * 1e3:.3f} mW "
        f"({n * e / 3600 / avg_w:.0%} of it answering requests)."
    )
