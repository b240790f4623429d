"""simulate(): energy accounting, fitting and the smallest change, CIM, errors, monotonicity."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hardware_model as hm
from hardware_model.arch import Arch
from hardware_model.chip import Chip, GiB, MemoryLevel

TINY = Arch("tiny", n_layer=2, d_model=64, n_head=4, n_kv_head=2, d_ff=128, vocab_size=100)


def test_the_new_user_example_reads_at_a_glance():
    r = hm.simulate(
        hm.models.get("llama-3.2-1b"), hm.chips.get("raspberry-pi-5"), weight_format="q4_0"
    )
    text = str(r)
    for words in (
        "llama-3.2-1b on raspberry-pi-5",
        "q4_0",
        "tokens/s",
        "memory-bound",
        "per token",
        "where the energy goes",
        "lpddr4x",
        "static",
        "fits",
    ):
        assert words in text
    assert len(text.splitlines()) <= 16
    assert "<table>" in r._repr_html_()
    assert r.fits and r.bound == "memory" and 5 < r.tokens_per_s < 50


def test_energy_adds_up_and_static_is_power_times_time():
    for name, fmt in (("llama-3.2-1b", "q4_0"), ("smollm2-360m", "fp16")):
        r = hm.simulate(name, "jetson-orin-nano", weight_format=fmt)
        assert sum(r.energy_breakdown_j.values()) == pytest.approx(r.energy_per_token_j)
        chip = hm.chips.get("jetson-orin-nano")
        assert r.energy_breakdown_j["static"] == pytest.approx(chip.static_power_w * r.latency_s)
        assert r.avg_power_w == pytest.approx(r.energy_per_token_j / r.latency_s)
        # Each memory level's energy is its bytes times its pJ per byte.
        for level in chip.memory:
            assert r.energy_breakdown_j[level.name] == pytest.approx(
                r.bytes_moved[level.name] * level.energy_pj_per_byte * 1e-12
            )
        # Layers and operators add up to the whole.
        assert sum(row["time_s"] for row in r.layers) == pytest.approx(r.latency_s)
        assert sum(row["flops"] * row["count"] for row in r.ops) == pytest.approx(r.flops)


def test_compute_bound_time_is_flops_over_throughput():
    chip = Chip(
        "slow",
        peak_ops={"fp16": 1e9},
        utilisation=0.5,
        overhead_s=0.0,
        memory=(MemoryLevel("dram", GiB, 1e30, 0.0, "main"),),
    )
    r = hm.simulate(TINY, chip, context_len=10)
    assert r.bound == "compute"
    assert r.latency_s == pytest.approx(r.flops / 0.5e9)


def test_overhead_bound_time_counts_dispatches():
    chip = Chip(
        "launchy",
        peak_ops={"fp16": 1e30},
        overhead_s=1e-3,
        memory=(MemoryLevel("dram", GiB, 1e30, 0.0, "main"),),
    )
    r = hm.simulate(TINY, chip)
    # Dispatches per layer: norms 4, qkv 5, attention 3, o 1, MLP up 3, down 1 = 17;
    # embedding, final norm and head 1 each: 2 * 17 + 3 = 37 kernels of 1 ms.
    assert r.bound == "overhead" and r.latency_s == pytest.approx(37e-3)


def test_does_not_fit_says_why_and_the_smallest_change():
    r = hm.simulate("phi-4", "mcu-ethos-u55", weight_format="fp16")
    assert not r.fits and r.tokens_per_s == 0 and r.latency_s == float("inf")
    assert "needs 27" in r.why and "mcu-ethos-u55 has 36 MiB" in r.why
    assert "no preset model fits" in r.suggestion and "would hold it" in r.suggestion
    text = str(r)
    assert "DOES NOT FIT" in text and "smallest change" in text


def test_suggested_format_is_the_widest_that_fits():
    r = hm.simulate("llama-3.1-8b", "jetson-orin-nano", weight_format="fp16")
    assert not r.fits and r.suggestion.startswith("use ")
    suggested = r.suggestion.split()[1]
    assert hm.simulate("llama-3.1-8b", "jetson-orin-nano", weight_format=suggested).fits
    widths = [
        n
        for n in hm.formats.names("weight")
        if hm.formats.get(suggested).bits < hm.formats.get(n).bits < 16
    ]
    for wider in widths:  # nothing between the suggestion and fp16 fits
        assert not hm.simulate("llama-3.1-8b", "jetson-orin-nano", weight_format=wider).fits


def test_suggested_context_is_the_longest_that_fits():
    r = hm.simulate("llama-3.2-1b", "jetson-orin-nano", weight_format="q4_0", context_len=10**6)
    assert not r.fits and r.suggestion.startswith("shorten the context to ")
    n = int(r.suggestion.split()[4])
    ok = hm.simulate("llama-3.2-1b", "jetson-orin-nano", weight_format="q4_0", context_len=n)
    too_long = hm.simulate(
        "llama-3.2-1b", "jetson-orin-nano", weight_format="q4_0", context_len=n + 1
    )
    assert ok.fits and not too_long.fits


def test_suggested_model_is_the_largest_preset_that_fits():
    tight = hm.chips.get("jetson-orin-nano").replace(
        memory=(
            dataclasses.replace(
                hm.chips.get("jetson-orin-nano").main_memory, capacity_bytes=1 * GiB
            ),
        )
    )
    r = hm.simulate("phi-4", tight, weight_format="q4_0", context_len=0)
    assert r.suggestion.startswith("pick a smaller model: ")
    name = r.suggestion.split()[4]
    assert hm.simulate(name, tight, weight_format="q4_0", context_len=0).fits
    bigger = [
        n
        for n in hm.models.names()
        if hm.models.get(n).num_params() > hm.models.get(name).num_params()
    ]
    assert not any(hm.simulate(n, tight, weight_format="q4_0", context_len=0).fits for n in bigger)


def test_compute_in_memory_moves_no_weights():
    chip = hm.chips.get("mythic-m1076")
    small = Arch("small", n_layer=4, d_model=512, n_head=8, n_kv_head=8, d_ff=1536, vocab_size=8000)
    on = hm.simulate(small, chip, weight_format="int8", context_len=64)
    off = hm.simulate(small, chip, weight_format="int8", context_len=64, cim=False)
    # Only the embedding row (512 int8 values) and norm weights still come from memory.
    assert on.bytes_by_class["weights"] == pytest.approx(512 + 4 * 2 * 512 + 512)
    assert off.bytes_by_class["weights"] > 100 * on.bytes_by_class["weights"]
    macs = small.matmul_weights_per_token()
    assert on.energy_breakdown_j["compute"] >= macs * 0.5e-12  # 0.5 pJ per MAC in the arrays
    assert on.energy_per_token_j < off.energy_per_token_j
    assert any("hold the" in n for n in on.notes)
    big = hm.simulate("smollm2-135m", chip, weight_format="int8")
    assert any("exceed" in n for n in big.notes)


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(weight_format="q3"), ValueError, "unknown weight format 'q3'"),
        (dict(kv_format="q4_k_m"), ValueError, "unknown kv format"),
        (dict(context_len=-1), ValueError, "context_len must be >= 0"),
        (dict(context_len=1.5), TypeError, "context_len must be an int"),
        (dict(prompt_len=0), ValueError, "prompt_len must be >= 1"),
        (dict(batch=0), ValueError, "batch must be >= 1"),
        (dict(phase="train"), ValueError, "phase must be one of"),
        (dict(cim=True), ValueError, "has no compute-in-memory"),
        (dict(cim="on"), TypeError, "cim must be None, True or False"),
        (dict(dvfs="turbo"), ValueError, "unknown dvfs point"),
    ],
)
def test_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        hm.simulate("smollm2-135m", "raspberry-pi-5", **kwargs)


def test_bad_arch_and_chip():
    with pytest.raises(ValueError, match="unknown model"):
        hm.simulate("gpt-9", "raspberry-pi-5")
    with pytest.raises(TypeError, match="arch must be"):
        hm.simulate(42, "raspberry-pi-5")
    with pytest.raises(ValueError, match="unknown chip"):
        hm.simulate("smollm2-135m", "pi-6")


CHIPS = ["raspberry-pi-5", "jetson-orin-nano", "apple-m2-pro", "mcu-ethos-u55", "mythic-m1076"]


@settings(max_examples=40, deadline=None)
@given(
    arch=st.sampled_from(["smollm2-135m", "mamba-130m", "qwen2.5-0.5b", "gemma-2-2b"]),
    chip=st.sampled_from(CHIPS),
    factor=st.floats(1.0, 100.0),
    ctx=st.integers(0, 20000),
    fmt=st.sampled_from(["fp16", "int8", "q4_0", "int4-g64"]),
)
def test_more_bandwidth_is_never_slower(arch, chip, factor, ctx, fmt):
    c = hm.chips.get(chip)
    faster = c.replace(
        memory=tuple(
            dataclasses.replace(m, bandwidth_bytes_per_s=m.bandwidth_bytes_per_s * factor)
            for m in c.memory
        )
    )
    a = hm.simulate(arch, c, weight_format=fmt, context_len=ctx)
    b = hm.simulate(arch, faster, weight_format=fmt, context_len=ctx)
    assert b.fits == a.fits
    if a.fits:
        assert b.latency_s <= a.latency_s * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arch=st.sampled_from(["smollm2-360m", "olmoe-1b-7b", "mamba-370m", "mistral-7b"]),
    fmts=st.lists(st.sampled_from(hm.formats.names("weight")), min_size=2, max_size=2),
    ctx=st.integers(0, 5000),
)
def test_fewer_weight_bits_never_more_bytes(arch, fmts, ctx):
    narrow, wide = sorted(fmts, key=lambda f: hm.formats.get(f).bits)
    a = hm.simulate(arch, "nvidia-h100-sxm", weight_format=narrow, context_len=ctx)
    b = hm.simulate(arch, "nvidia-h100-sxm", weight_format=wide, context_len=ctx)
    assert a.bytes_by_class["weights"] <= b.bytes_by_class["weights"] * (1 + 1e-12)
    assert a.memory_needed["weights"] <= b.memory_needed["weights"] * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arch=st.sampled_from(["smollm2-135m", "gemma-2-2b", "mistral-7b", "mamba-130m"]),
    ctxs=st.lists(st.integers(0, 100000), min_size=2, max_size=2),
    phase=st.sampled_from(["decode", "prefill"]),
)
def test_longer_context_never_fewer_kv_bytes(arch, ctxs, phase):
    short, long = sorted(ctxs)
    kw = dict(phase=phase)
    a = hm.simulate(arch, "apple-m2-ultra", context_len=short, prompt_len=max(short, 1), **kw)
    b = hm.simulate(arch, "apple-m2-ultra", context_len=long, prompt_len=max(long, 1), **kw)
    assert a.memory_needed["kv_cache"] <= b.memory_needed["kv_cache"]
    if phase == "decode":
        assert a.bytes_by_class["kv_read"] <= b.bytes_by_class["kv_read"]
