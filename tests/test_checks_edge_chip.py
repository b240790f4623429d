"""Lab 09 check helpers: hand-derived right answers pass, the usual slips get their hint."""

import pytest

from slmlab.checks import edge_chip as ec

# Hand-derived answers from published numbers, not from the library:
#   int8 MAC at 45 nm = 0.2 pJ multiply + 0.1 pJ 32-bit add; DDR3 = 20 pJ/bit (Horowitz 2014)
MACS = 20 * 8 / (0.2 + 0.1)
#   Pi 5: 4 cores x 2 NEON pipes x 16 int8 MACs x 2 ops x 2.4 GHz = 614.4 GOPS, 60 % sustained;
#   LPDDR4X-4267 on 32 bits = 17.07 GB/s, 70 % sustained
RIDGE = 614.4e9 * 0.6 / (17.07e9 * 0.7)
#   Llama-3.2-1B: 1,235,814,400 parameters (tied embeddings) at 4.5 bits
LLAMA_PARAMS = 1_235_814_400
DECODE = 17.07e9 * 0.7 / (LLAMA_PARAMS * 4.5 / 8)
#   KV per position: K and V x 16 layers x 8 KV heads x 64 dims x 2 bytes
KV_MATCH = LLAMA_PARAMS * 4.5 / 8 / (2 * 16 * 8 * 64 * 2)
#   60 requests of 55 mJ and 0.85 s per hour, 50 uW asleep; 2000 mAh at 3.7 V
AVG_W = (60 * 0.055 + 50e-6 * (3600 - 60 * 0.85)) / 3600
BATTERY_DAYS = 2000e-3 * 3600 * 3.7 / AVG_W / 86400


def test_hand_answers_match_the_library_references():
    assert ec.macs_per_dram_byte_reference() == pytest.approx(MACS)
    assert ec.ridge_point_reference() == pytest.approx(RIDGE)
    assert ec.decode_reference() == pytest.approx(DECODE, rel=0.01)  # weights dominate
    assert ec.decode_reference() < DECODE  # the library also counts activations and overheads
    assert ec.kv_match_reference() == pytest.approx(KV_MATCH)
    assert ec.battery_reference() == pytest.approx((AVG_W, BATTERY_DAYS))


def test_right_answers_pass(capsys):
    ec.check_macs_per_dram_byte(MACS)
    ec.check_ridge_point(RIDGE)
    ec.check_decode_tokens_per_s(DECODE)
    ec.check_kv_matches_weights(KV_MATCH)
    ec.check_battery_life_days(BATTERY_DAYS)
    assert capsys.readouterr().out.count("Correct:") == 5
    ec.check_kv_matches_weights(round(KV_MATCH))  # whole tokens are fine too


@pytest.mark.parametrize(
    "check, answer, hint",
    [
        (ec.check_macs_per_dram_byte, 160 / 0.2, "multiply \\*and\\* the add"),
        (ec.check_macs_per_dram_byte, 20 / 0.3, "per bit"),
        (ec.check_macs_per_dram_byte, 160 / 0.23, "32-bit register"),
        (ec.check_macs_per_dram_byte, 160 / 4.6, "float32 MAC"),
        (ec.check_ridge_point, 614.4e9 / (17.07e9 * 0.7), "peak x utilisation"),
        (ec.check_ridge_point, 614.4e9 * 0.6 / 17.07e9, "already the sustained"),
        (ec.check_ridge_point, 614.4e9 / 17.07e9, "Both numbers"),
        (ec.check_ridge_point, 1 / RIDGE, "not the other way"),
        (ec.check_decode_tokens_per_s, 11.949e9 / (LLAMA_PARAMS * 0.5), "4.5 bits"),
        (ec.check_decode_tokens_per_s, 11.949e9 / (LLAMA_PARAMS * 2), "fp16"),
        (ec.check_decode_tokens_per_s, 11.949e9 / (LLAMA_PARAMS * 4.5), "become bytes"),
        (ec.check_decode_tokens_per_s, 17.07e9 / (LLAMA_PARAMS * 4.5 / 8), "sustained"),
        (ec.check_kv_matches_weights, KV_MATCH * 2, "K and V"),
        (ec.check_kv_matches_weights, KV_MATCH / 4, "n_kv_head = 8"),
        (ec.check_kv_matches_weights, KV_MATCH * 16 / 4.5, "4.5 bits each, not 16"),
        (ec.check_kv_matches_weights, KV_MATCH * 4 / 4.5, "not 4"),
        (ec.check_kv_matches_weights, KV_MATCH / 2, "2 bytes per value"),
        (ec.check_battery_life_days, 2000e-3 * 3600 * 3.7 / (3.3 / 3600) / 86400, "sleep"),
        (ec.check_battery_life_days, BATTERY_DAYS * 24, "hours"),
        (ec.check_battery_life_days, BATTERY_DAYS / 3.6, "3.6 joules"),
        (ec.check_battery_life_days, BATTERY_DAYS / 3600, "3600 s"),
    ],
)
def test_slips_get_their_hint(check, answer, hint):
    with pytest.raises(AssertionError, match=hint):
        check(answer)


@pytest.mark.parametrize(
    "check",
    [
        ec.check_macs_per_dram_byte,
        ec.check_ridge_point,
        ec.check_decode_tokens_per_s,
        ec.check_kv_matches_weights,
        ec.check_battery_life_days,
    ],
)
def test_wrong_and_missing_answers_say_so(check):
    with pytest.raises(AssertionError, match="away from the answer"):
        check(1e-7)
    for bad in (None, "17", True, float("nan")):
        with pytest.raises(AssertionError, match="Set `answer`"):
            check(bad)
