"""FLOPs and bytes against formulas worked out by hand for small architectures."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hardware_model as hm
from hardware_model.arch import Arch
from hardware_model.chip import Chip, GiB, MemoryLevel
from hardware_model.engine import _attended_sum, _kv_reads_tiled
from hardware_model.workload import decode_flops_per_token, kv_cache_bytes, ops

# d=64, 4 heads of 16, 2 kv heads, d_ff=128, vocab 100, 2 layers, tied.
TINY = Arch("tiny", n_layer=2, d_model=64, n_head=4, n_kv_head=2, d_ff=128, vocab_size=100)
# Per layer: q 64*64 + k,v 2*64*32 + o 64*64 + MLP 3*64*128 = 36864 matmul weights.
LAYER_MM = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 128
# A chip that only has main memory, enormous compute and no dispatch cost: pure memory time.
MEM_ONLY = Chip(
    "mem-only",
    peak_ops={"fp32": 1e30, "fp16": 1e30, "int8": 1e30},
    memory=(MemoryLevel("dram", 64 * GiB, 1e9, 10.0, "main"),),
    utilisation=1.0,
    overhead_s=0.0,
    static_power_w=0.0,
)


def test_decode_flops_hand_formula():
    assert LAYER_MM == 36864
    matmul = 2 * LAYER_MM + 64 * 100  # + LM head, embedding lookup excluded
    assert TINY.matmul_weights_per_token() == matmul
    for ctx in (0, 1, 10, 1000):
        hand = 2 * matmul + 2 * 4 * 4 * 16 * ctx  # 4 * n_head * head_dim * L per layer
        assert decode_flops_per_token(TINY, ctx) == hand
        assert hm.simulate(TINY, MEM_ONLY, context_len=ctx).flops == pytest.approx(hand)


def test_window_linear_moe_and_ssm_flops():
    win = TINY.replace(mixer="sliding_window", window=4)
    assert decode_flops_per_token(win, 10) == 2 * (2 * LAYER_MM + 6400) + 2 * 4 * 4 * 16 * 4
    lin = TINY.replace(mixer="linear_attention")
    # State read-out and update: head_dim x (head_dim + 1) per head (values and normaliser).
    assert decode_flops_per_token(lin, 10**6) == 2 * (2 * LAYER_MM + 6400) + 2 * 4 * 4 * 16 * 17
    moe = TINY.replace(mlp="moe", n_experts=4, top_k=2)
    # MLP part per layer: router 64*4 + 2 experts * 3*64*128 (instead of one dense MLP).
    moe_layer = LAYER_MM - 3 * 64 * 128 + 64 * 4 + 2 * 3 * 64 * 128
    assert decode_flops_per_token(moe, 0) == 2 * (2 * moe_layer + 6400)
    ssm = Arch(
        "s",
        n_layer=1,
        d_model=32,
        n_head=1,
        n_kv_head=1,
        d_ff=0,
        vocab_size=10,
        mlp="none",
        mixer="ssm",
    )
    # d_inner 64, d_state 16, dt_rank 2: in 32*128, x 64*(2+32), dt 2*64, out 64*32, head 320,
    # the depthwise convolution 64 * 4 and the read-out C . h, 64 * 16.
    mm = 32 * 128 + 64 * 34 + 2 * 64 + 64 * 32 + 320 + 64 * 4 + 64 * 16
    assert decode_flops_per_token(ssm, 123) == 2 * mm
    for arch, ctx in ((win, 10), (lin, 99), (moe, 7), (ssm, 5)):
        r = hm.simulate(arch, MEM_ONLY, context_len=ctx)
        assert r.flops == pytest.approx(decode_flops_per_token(arch, ctx))


def test_decode_bytes_by_class_hand():
    r = hm.simulate(TINY, MEM_ONLY, weight_format="fp16", context_len=10)
    # Weights read per token: both layers (matmuls + 2 norms of 64), one embedding row (64),
    # final norm (64) and the tied head (6400), at 2 bytes.
    weights = 2 * (LAYER_MM + 128) + 64 + 64 + 6400
    assert r.bytes_by_class["weights"] == pytest.approx(2 * weights)
    # KV per token per layer: keys and values of 2 heads * 16 = 64 elements.
    assert r.bytes_by_class["kv_read"] == pytest.approx(2 * 64 * 10 * 2)
    assert r.bytes_by_class["kv_write"] == pytest.approx(2 * 64 * 2)
    assert r.bytes_by_class["state"] == 0


def test_memory_bound_decode_time_equals_bytes_over_bandwidth():
    r = hm.simulate(TINY, MEM_ONLY, weight_format="q4_0", context_len=50)
    total = sum(r.bytes_moved.values())
    assert r.bytes_moved["dram"] == pytest.approx(total)
    assert r.latency_s == pytest.approx(total / 1e9, rel=1e-12)
    assert r.bound == "memory"
    # A real preset: llama-3.2-1b on the Pi is memory-bound; its time is within the dispatch
    # overhead (1 us per kernel) of main-memory bytes / sustained bandwidth.
    pi = hm.chips.get("raspberry-pi-5")
    r = hm.simulate("llama-3.2-1b", pi, weight_format="q4_0")
    t_mem = r.bytes_moved["lpddr4x"] / pi.main_memory.bandwidth_bytes_per_s
    assert r.bound == "memory"
    assert t_mem <= r.latency_s <= t_mem + r.time_breakdown_s["overhead"] + 1e-3 * t_mem


def test_moe_batch_touches_more_experts():
    moe = TINY.replace(mlp="moe", n_experts=4, top_k=2)
    one = hm.simulate(moe, MEM_ONLY, batch=1, context_len=0).bytes_by_class["weights"]
    two = hm.simulate(moe, MEM_ONLY, batch=2, context_len=0).bytes_by_class["weights"] * 2
    # Two tokens choosing 2 of 4 experts each touch 4 * (1 - (1/2)^2) = 3 experts on average:
    # 1.5x the expert weights of one token; the second token also reads its own embedding
    # row (64 fp16 values); everything else is read once for both.
    experts = 2 * 2 * 3 * 64 * 128 * 2  # layers * top_k * weights * bytes
    assert two - one == pytest.approx(0.5 * experts + 64 * 2)


def test_kv_cache_windows_cap_memory():
    win = TINY.replace(mixer=("sliding_window", "attention"), window=8)
    assert kv_cache_bytes(win, 100, 2) == pytest.approx((8 + 100) * 64 * 2)
    gemma = hm.models.get("gemma-2-2b")
    per_layer = 2 * 4 * 256 * 2  # k and v, 4 kv heads of 256, fp16
    assert kv_cache_bytes(gemma, 8192, 2) == pytest.approx(13 * per_layer * (4096 + 8192))


def test_operator_table_shape():
    t = ops(hm.models.get("gemma-2-2b"))
    assert t.name[0] == "embed" and t.name[-1] == "lm_head"
    assert sorted(set(t.group)) == ["attention+geglu", "model", "sliding_window+geglu"]
    covered = sorted(i for layers in t.layers for i in layers)
    assert covered == sorted(list(range(26)) * 6)  # 6 operators per layer
    with pytest.raises(TypeError, match="arch must be an Arch"):
        ops("gemma-2-2b")
    with pytest.raises(ValueError, match="context_len must be >= 0"):
        decode_flops_per_token(TINY, -1)


@settings(max_examples=60, deadline=None)
@given(
    p=st.integers(1, 300),
    cap=st.one_of(st.integers(1, 300), st.just(None)),
    tile=st.integers(1, 64),
)
def test_prefill_sums_match_brute_force(p, cap, tile):
    c = 1e18 if cap is None else cap
    attended = sum(min(i, c) for i in range(1, p + 1))
    assert _attended_sum(np.float64(p), np.float64(c)) == pytest.approx(attended)
    reads = sum(min(min(j * tile, p), c + tile) for j in range(1, math.ceil(p / tile) + 1))
    assert _kv_reads_tiled(np.float64(p), np.float64(c), np.float64(tile)) == pytest.approx(reads)


def test_prefill_reads_weights_once_per_tile():
    # Activations per token in flight: 2*64 + 2*128 (gated MLP) + 4*16 + 100 = 548 elements;
    # a 10-token tile in fp16 needs 10960 bytes of scratchpad.
    chip = Chip(
        "tile",
        peak_ops={"fp16": 1e30},
        utilisation=1.0,
        overhead_s=0.0,
        memory=(
            MemoryLevel("sram", 10960, 1e30, 0.0, "scratchpad"),
            MemoryLevel("dram", GiB, 1e9, 10.0, "main"),
        ),
    )
    r = hm.simulate(TINY, chip, phase="prefill", prompt_len=25)
    passes = math.ceil(25 / 10)
    weights = 2 * (LAYER_MM + 128) + 64 + 6400  # all but the embedding rows, per pass
    expected = (passes * weights + 25 * 64) * 2 / 25  # + one embedding row per token
    assert r.bytes_by_class["weights"] == pytest.approx(expected)
    attended = 25 * 26 / 2  # causal: token i attends to i positions
    assert r.flops == pytest.approx(
        2 * TINY.matmul_weights_per_token() + 2 * 4 * 4 * 16 * attended / 25
    )
    assert r.tokens_per_s == pytest.approx(25 / r.latency_s)
