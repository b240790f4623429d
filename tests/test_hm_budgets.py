"""Tests for hardware_model.budgets: hand-computed cases, monotonicity, bad input.

Every expected number below is worked out by hand in the comment beside it (or by an
independent method: a simulated queue, a brute-force search), never copied from the code.
"""

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_model import budgets as b

# A small, round scenario used by several tests; every derived number is worked out by hand.
NET = b.Network("test", rtt_ms=50.0, uplink_mbps=8.0, downlink_mbps=10.0)
SERVER = b.CloudLLM(prefill_tps=1000.0, decode_tps=50.0, queue_s=0.2)
DEVICE = b.OnDevice(prefill_tps=500.0, decode_tps=20.0, power_w=4.0)
PROMPT = 100  # tokens, 4 bytes each -> 400 bytes -> 3200 bits


def cloud(**kw):
    args = dict(prompt_tokens=PROMPT, handshake="tcp+tls1.3")
    args.update(kw)
    return b.cloud_latency(NET, SERVER, **args)


# ---- hardware_model stays numpy-only ----


def test_budgets_imports_neither_torch_nor_slmlab():
    import subprocess

    code = (
        "import sys; import hardware_model.budgets; "
        "print(any(m == 'torch' or m.startswith(('torch.', 'slmlab')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- latency, by hand ----


def test_cloud_latency_hand_computed():
    lat = cloud()
    parts = dict(lat.parts)
    assert parts["connection set-up"] == pytest.approx(0.100)  # 2 RTT x 50 ms
    assert parts["round trip"] == pytest.approx(0.050)
    assert parts["upload"] == pytest.approx(3200 / 8e6)  # 400 B = 3200 bit at 8 Mbit/s = 0.4 ms
    assert parts["queue"] == pytest.approx(0.2)
    assert parts["server prefill"] == pytest.approx(0.1)  # 100 tokens at 1000 tok/s
    assert lat.first_token_s == pytest.approx(0.4504)  # 0.1 + 0.05 + 0.0004 + 0.2 + 0.1
    assert lat.per_token_s == pytest.approx(0.02)  # 1/50 s; download 32 bit at 10 Mbit/s is less
    assert lat.total_s(101) == pytest.approx(0.4504 + 100 * 0.02)


def test_handshake_names_and_counts():
    # Set-up costs 0, 1, 2, 3 round trips for warm, QUIC, TCP+TLS1.3, TCP+TLS1.2.
    base = cloud(handshake="warm").first_token_s
    for name, rtts in [("quic", 1), ("tcp+tls1.3", 2), ("tcp+tls1.2", 3)]:
        assert cloud(handshake=name).first_token_s == pytest.approx(base + rtts * 0.05)
    assert cloud(handshake=3).first_token_s == pytest.approx(
        cloud(handshake="tcp+tls1.2").first_token_s
    )


def test_upload_payload_adds_its_air_time():
    # 1 MB of raw sensor data at 8 Mbit/s = 1 s more before the first token.
    assert cloud(upload_bytes=1_000_000).first_token_s == pytest.approx(cloud().first_token_s + 1.0)


def test_slow_downlink_sets_the_pace():
    # 4 bytes per token over 0.0016 Mbit/s: 32 bit / 1600 bit/s = 20 ms, slower than 1/60 s.
    net = b.Network("slow", 50.0, 1.0, 0.0016)
    fast_server = b.CloudLLM(1000.0, 60.0)
    lat = b.cloud_latency(net, fast_server, prompt_tokens=10)
    assert lat.per_token_s == pytest.approx(0.02)


def test_device_latency_hand_computed():
    lat = b.device_latency(DEVICE, prompt_tokens=PROMPT)
    assert lat.first_token_s == pytest.approx(0.2)  # 100 tokens at 500 tok/s
    assert lat.per_token_s == pytest.approx(0.05)
    assert lat.total_s(101) == pytest.approx(0.2 + 100 * 0.05)
    # Arrays in, arrays out, same straight line.
    n = np.array([1, 2, 11])
    np.testing.assert_allclose(lat.total_s(n), [0.2, 0.25, 0.7])


def test_break_even_tokens_hand_computed_and_brute_force():
    c, d = cloud(), b.device_latency(DEVICE, prompt_tokens=PROMPT)
    # n* = 1 + (0.4504 - 0.2) / (0.05 - 0.02) = 1 + 8.34666... = 9.34666...
    n_star = b.break_even_tokens(c, d)
    assert n_star == pytest.approx(1 + 0.2504 / 0.03)
    # Brute force: the device is faster exactly for n <= 9 among whole answer lengths.
    n = np.arange(1, 200)
    device_faster = d.total_s(n) < c.total_s(n)
    assert n[device_faster].max() == 9 and device_faster[:9].all() and not device_faster[9:].any()
    assert b.verdict(c, d) == (
        "The device is faster for answers up to 9 tokens; "
        "beyond that the cloud's faster decoding wins."
    )


def test_break_even_decode_tps_hand_computed():
    c, d = cloud(), b.device_latency(DEVICE, prompt_tokens=PROMPT)
    # Cloud answers 101 tokens in 2.4504 s; the device has 2.4504 - 0.2 s for 100 tokens.
    r = b.break_even_decode_tps(c, d, n_tokens=101)
    assert r == pytest.approx(100 / 2.2504)
    # At that rate the device ties the cloud exactly.
    tied = b.device_latency(b.OnDevice(500.0, r, 4.0), prompt_tokens=PROMPT)
    assert tied.total_s(101) == pytest.approx(c.total_s(101))


def test_break_even_decode_tps_edges():
    c, d = cloud(), b.device_latency(DEVICE, prompt_tokens=PROMPT)
    assert b.break_even_decode_tps(c, d, n_tokens=1) == 0.0  # prefill 0.2 s < cloud's 0.4504 s
    slow_prefill = b.device_latency(b.OnDevice(10.0, 20.0, 4.0), prompt_tokens=PROMPT)  # 10 s
    assert b.break_even_decode_tps(c, slow_prefill, n_tokens=101) == math.inf
    off = b.cloud_latency(b.Network.offline(), SERVER, prompt_tokens=PROMPT)
    assert b.break_even_decode_tps(off, d, n_tokens=101) == 0.0


def test_verdict_covers_every_case():
    d = b.device_latency(DEVICE, prompt_tokens=PROMPT)
    # Device decodes faster and starts first: never slower.
    quick = b.device_latency(b.OnDevice(500.0, 100.0, 4.0), prompt_tokens=PROMPT)
    assert b.break_even_tokens(cloud(), quick) is None
    assert b.verdict(cloud(), quick) == "The device is faster at every answer length."
    # Device starts later and decodes slower: the cloud always wins.
    slow = b.device_latency(b.OnDevice(10.0, 20.0, 4.0), prompt_tokens=PROMPT)
    assert b.verdict(cloud(), slow) == "The cloud is faster at every answer length."
    # Device starts later but decodes faster: the cloud wins short answers only.
    # Device: 10 s + (n-1)/100; cloud: 0.4504 + (n-1)/50 -> n* = 1 + 9.5496 / 0.01 = 955.96.
    late_fast = b.device_latency(b.OnDevice(10.0, 100.0, 4.0), prompt_tokens=PROMPT)
    assert b.break_even_tokens(cloud(), late_fast) == pytest.approx(1 + 9.5496 / 0.01)
    assert b.verdict(cloud(), late_fast).startswith("The cloud is faster for answers up to 955 ")
    # Offline.
    off = b.cloud_latency(b.Network.offline(), SERVER, prompt_tokens=PROMPT)
    assert b.break_even_tokens(off, d) is None
    assert b.verdict(off, d).startswith("Offline")


def test_offline_cloud_never_answers():
    off = b.cloud_latency(b.network("offline"), SERVER, prompt_tokens=PROMPT)
    assert not off.available
    assert off.total_s(1) == math.inf
    assert np.all(np.isinf(off.total_s(np.arange(1, 5))))
    assert b.Network.offline().online is False


def test_mm1_wait_hand_values():
    assert b.mm1_wait_s(0.0, 1.0) == 0.0
    assert b.mm1_wait_s(0.5, 1.0) == pytest.approx(1.0)  # 0.5 / 0.5
    assert b.mm1_wait_s(0.9, 2.0) == pytest.approx(18.0)  # 0.9 / 0.1 x 2


def test_mm1_wait_matches_a_simulated_queue():
    # Independent reference: Lindley's recursion W_{k+1} = max(0, W_k + S_k - A_{k+1}) over a
    # seeded stream of exponential arrivals and service times.
    rng = np.random.default_rng(0)
    rho, service = 0.6, 0.5
    n = 200_000
    services = rng.exponential(service, n)
    gaps = rng.exponential(service / rho, n)
    w, total = 0.0, 0.0
    for k in range(1, n):
        w = max(0.0, w + services[k - 1] - gaps[k])
        total += w
    simulated = total / (n - 1)
    assert simulated == pytest.approx(b.mm1_wait_s(rho, service), rel=0.05)  # 0.75 s


def test_fibre_and_geo_floors():
    # 100 km there and back at c / 1.4682: 200 km / 204,190 km/s = 0.9795 ms.
    assert b.fibre_rtt_ms(100.0) == pytest.approx(200 / (299_792.458 / 1.4682) * 1e3)
    assert b.fibre_rtt_ms(100.0) == pytest.approx(0.9795, abs=1e-4)
    assert b.fibre_rtt_ms(0.0) == 0.0
    assert b.GEO_RTT_FLOOR_MS == pytest.approx(477.5, abs=0.1)  # 4 x 35,786 km / c


def test_every_preset_names_its_source():
    for net in b.NETWORKS.values():
        assert net.source
    for r in b.RADIOS.values():
        assert r.source
    keys = set(b.SOURCES)
    for text in [n.source for n in b.NETWORKS.values()] + [r.source for r in b.RADIOS.values()]:
        for key in [part.split("]")[0] for part in text.split("[")[1:]]:
            assert key in keys, f"{text!r} cites [{key}], which SOURCES does not define"


# ---- monotonicity (property tests) ----

pos = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(rtt=pos, extra=pos, up=pos, down=pos, n=st.integers(1, 5000))
def test_more_rtt_is_never_faster(rtt, extra, up, down, n):
    lo = b.cloud_latency(b.Network("a", rtt, up, down), SERVER, prompt_tokens=50)
    hi = b.cloud_latency(b.Network("b", rtt + extra, up, down), SERVER, prompt_tokens=50)
    assert hi.total_s(n) >= lo.total_s(n)


@settings(max_examples=60, deadline=None)
@given(up=pos, factor=st.floats(1.0, 100.0), n=st.integers(1, 5000))
def test_more_uplink_is_never_slower(up, factor, n):
    slow = b.cloud_latency(
        b.Network("a", 30.0, up, 10.0), SERVER, prompt_tokens=50, upload_bytes=10**5
    )
    fast = b.cloud_latency(
        b.Network("b", 30.0, up * factor, 10.0), SERVER, prompt_tokens=50, upload_bytes=10**5
    )
    assert fast.total_s(n) <= slow.total_s(n)


@settings(max_examples=60, deadline=None)
@given(rho=st.floats(0.0, 0.98), step=st.floats(0.0, 0.01), service=pos)
def test_more_utilisation_never_less_wait(rho, step, service):
    assert b.mm1_wait_s(rho + step, service) >= b.mm1_wait_s(rho, service)


@settings(max_examples=60, deadline=None)
@given(tps=pos, factor=st.floats(1.0, 100.0), prompt=st.integers(1, 4000), n=st.integers(1, 5000))
def test_faster_device_is_never_slower_and_longer_answers_take_longer(tps, factor, prompt, n):
    slow = b.device_latency(b.OnDevice(tps, tps, 1.0), prompt_tokens=prompt)
    fast = b.device_latency(b.OnDevice(tps * factor, tps * factor, 1.0), prompt_tokens=prompt)
    assert fast.total_s(n) <= slow.total_s(n)
    assert slow.total_s(n + 1) > slow.total_s(n)


# ---- energy ----


def test_device_energy_is_power_times_time():
    # 4 W for 0.2 s prefill + 100 tokens at 20 tok/s = 5.2 s -> 20.8 J.
    assert b.device_answer_energy_j(DEVICE, prompt_tokens=PROMPT, n_tokens=101) == pytest.approx(
        20.8
    )


def test_radio_energy_per_byte_hand_computed():
    # 1 W while sending at 8 Mbit/s = 1 MB/s -> 1 uJ per byte; 0.5 W receiving at 4 Mbit/s -> 1 uJ.
    r = b.Radio("test", tx_power_w=1.0, rx_power_w=0.5, uplink_mbps=8.0, downlink_mbps=4.0)
    assert r.uplink_j_per_byte == pytest.approx(1e-6)
    assert r.downlink_j_per_byte == pytest.approx(1e-6)
    assert b.radio_energy_j(r, bytes_up=1000, bytes_down=3000) == pytest.approx(4e-3)


def test_radio_presets_follow_their_sources():
    lte, wifi = b.radio("lte"), b.radio("wifi")
    # [Huang12] LTE uplink at 6 Mbit/s: 438.39 x 6 + 1288.04 = 3918.38 mW -> x 8 / 6e6 per byte.
    assert lte.uplink_j_per_byte == pytest.approx(3.91838 * 8 / 6e6)
    # NB-IoT: 0.5 W at 62.5 kbit/s = 8 uJ/bit = 64 uJ/byte.
    assert b.radio("nb-iot").uplink_j_per_byte == pytest.approx(64e-6)
    # BLE: 5.3 mA x 3 V = 15.9 mW at 1 Mbit/s = 127.2 nJ/byte.
    assert b.radio("ble").uplink_j_per_byte == pytest.approx(127.2e-9)
    # Huang et al.: LTE is less energy-efficient than Wi-Fi for sending data.
    assert lte.uplink_j_per_byte > wifi.uplink_j_per_byte


# ---- data and money ----


def test_fleet_bytes_hand_computed():
    # 1000 machines x 3 axes x 1000 Hz x 2 B x 86,400 s = 518.4 GB per day.
    raw = b.fleet_bytes_per_day(devices=1000, channels=3, sample_rate_hz=1000, bytes_per_sample=2)
    assert raw == pytest.approx(5.184e11)
    # 1000 machines x 24 diagnoses x 200 B = 4.8 MB per day.
    msgs = b.messages_bytes_per_day(devices=1000, messages_per_day=24, bytes_per_message=200)
    assert msgs == pytest.approx(4.8e6)


def test_monthly_costs_hand_computed():
    # 518.4 GB/day x 30 days x $0.5/GB = $7776.
    assert b.monthly_data_cost(5.184e11, usd_per_gb=0.5, days_per_month=30) == pytest.approx(7776.0)
    # 1000 requests/day x 30 days: 15M input tokens x $0.15/M + 6M output x $0.60/M = $5.85.
    cost = b.monthly_llm_cost(
        requests_per_day=1000,
        prompt_tokens=500,
        answer_tokens=200,
        usd_per_m_input=0.15,
        usd_per_m_output=0.60,
        days_per_month=30,
    )
    assert cost == pytest.approx(5.85)


# ---- bad input ----


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: b.Network("x", 50.0, -1.0, 10.0), "uplink_mbps"),
        (lambda: b.Network("x", 50.0, 0.0, 10.0), "uplink_mbps"),
        (lambda: b.Network("x", -5.0, 1.0, 10.0), "rtt_ms"),
        (lambda: b.Network("x", float("nan"), 1.0, 10.0), "rtt_ms"),
        (lambda: b.Network("x", 50.0, 1.0, math.inf), "downlink_mbps"),
        (lambda: b.CloudLLM(0.0, 50.0), "prefill_tps"),
        (lambda: b.CloudLLM(100.0, 50.0, queue_s=-1.0), "queue_s"),
        (lambda: b.OnDevice(100.0, -3.0, 1.0), "decode_tps"),
        (lambda: b.OnDevice(100.0, 3.0, -1.0), "power_w"),
        (lambda: b.mm1_wait_s(1.0, 1.0), "utilisation"),
        (lambda: b.mm1_wait_s(-0.1, 1.0), "utilisation"),
        (lambda: b.mm1_wait_s(0.5, -1.0), "service_s"),
        (lambda: b.cloud_latency(NET, SERVER, prompt_tokens=0), "prompt_tokens"),
        (lambda: b.cloud_latency(NET, SERVER, prompt_tokens=5, handshake="tls9"), "handshake"),
        (lambda: b.cloud_latency(NET, SERVER, prompt_tokens=5, upload_bytes=-1), "upload_bytes"),
        (lambda: cloud().total_s(0), "n_tokens"),
        (lambda: b.network("carrier pigeon"), "network"),
        (lambda: b.radio("smoke signal"), "radio"),
        (lambda: b.Radio("x", 1.0, 1.0, 0.0, 1.0), "uplink_mbps"),
        (lambda: b.fibre_rtt_ms(-1.0), "distance_km"),
        (
            lambda: b.fleet_bytes_per_day(
                devices=-1, channels=1, sample_rate_hz=1, bytes_per_sample=1
            ),
            "devices",
        ),
        (lambda: b.monthly_data_cost(1e9, usd_per_gb=-1.0, days_per_month=30), "usd_per_gb"),
        (lambda: b.monthly_data_cost(1e9, usd_per_gb=1.0, days_per_month=0), "days_per_month"),
    ],
)
def test_bad_values_raise_value_error_naming_the_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: b.Network("x", "50", 1.0, 1.0), "rtt_ms"),
        (lambda: b.CloudLLM(True, 50.0), "prefill_tps"),
        (lambda: b.cloud_latency(NET, SERVER, prompt_tokens=2.5), "prompt_tokens"),
        (lambda: cloud().total_s(2.5), "n_tokens"),
        (
            lambda: b.fleet_bytes_per_day(
                devices=1.5, channels=1, sample_rate_hz=1, bytes_per_sample=1
            ),
            "devices",
        ),
        (lambda: b.Network("x", 50.0, 1.0, 1.0, online="yes"), "online"),
    ],
)
def test_wrong_types_raise_type_error_naming_the_argument(make, name):
    with pytest.raises(TypeError, match=name):
        make()


# ---- the lab's exercise checks (slmlab.checks.why_edge) ----


def test_exercise_checks_accept_hand_computed_answers(capsys):
    from slmlab.checks import why_edge as w

    # 2 x 25 ms set-up + 25 ms round trip + (500 x 4 + 250,000) B x 8 / 50 Mbit/s = 40.32 ms
    # + 0.1 s queue + 500 / 4000 s prefill = 0.34032 s.
    w.check_first_token(0.34032)
    w.check_first_token(0.340)  # rounded to the millisecond is fine
    # n* = 1 + (0.6 - 0.15) / (1/25 - 1/80) = 17.36 -> 17 whole tokens.
    w.check_break_even(17)
    # 40 x 6 x 25,600 x 3 x 86,400 = 1.5925248e12 bytes.
    w.check_fleet_bytes(1.5925248e12)
    # 10 s x 3 x 25,600 x 2 B = 1.536 MB at 0.5 W x 8 / 62,500 bit/s = 64 uJ/B -> 98.304 J.
    w.check_window_energy(98.304)
    assert capsys.readouterr().out.count("Correct") == 5


@pytest.mark.parametrize(
    "check, wrong, hint",
    [
        ("check_first_token", 0.29032, "set-up"),  # no handshake
        ("check_first_token", 0.30504, "bits"),  # bytes / (bit/s)
        ("check_first_token", 0.24032, "queue"),
        ("check_first_token", 1.0, "away from the answer"),
        ("check_first_token", "0.34", "a number"),
        ("check_break_even", 17.36, "whole tokens"),
        ("check_break_even", 16, "n - 1"),
        ("check_break_even", 18, "round down"),
        ("check_fleet_bytes", 1.8432e7, "86,400"),
        ("check_fleet_bytes", 1.5925248e12 * 8, "bits"),
        ("check_window_energy", 98.304 / 8, "bits and bytes"),
        ("check_window_energy", 1_536_000 * 0.08 * 8 / 26_000, "uplink"),
    ],
)
def test_exercise_checks_reject_wrong_answers_with_a_hint(check, wrong, hint):
    from slmlab.checks import why_edge as w

    with pytest.raises(AssertionError, match=hint):
        getattr(w, check)(wrong)
