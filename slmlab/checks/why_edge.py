"""Checks for the exercises of lab 00 (why the edge).

Each check recomputes the answer with ``hardware_model.budgets`` from the same givens the lab's
exercise states, and when the learner's number is off, tries the usual slips (a missing round
trip, bytes for bits, a forgotten factor) to say which step went wrong.
"""

from __future__ import annotations

import math

from hardware_model import budgets
from slmlab.checks._answers import as_number, diagnose

# The givens of each exercise, exactly as the lab states them.
FIRST_TOKEN = dict(
    rtt_ms=25.0,
    uplink_mbps=50.0,
    downlink_mbps=100.0,
    handshake="tcp+tls1.3",
    prompt_tokens=500,
    upload_bytes=250_000,
    queue_s=0.1,
    prefill_tps=4000.0,
    decode_tps=100.0,
)
BREAK_EVEN = dict(cloud_first_s=0.6, cloud_tps=80.0, device_first_s=0.15, device_tps=25.0)
FLEET = dict(devices=40, channels=6, sample_rate_hz=25_600, bytes_per_sample=3)
WINDOW = dict(seconds=10, channels=3, sample_rate_hz=25_600, bytes_per_sample=2, radio="nb-iot")


def first_token_reference() -> float:
    """Time to first token for the exercise's 5G request, from the library."""
    g = FIRST_TOKEN
    net = budgets.Network("exercise 5g", g["rtt_ms"], g["uplink_mbps"], g["downlink_mbps"])
    server = budgets.CloudLLM(g["prefill_tps"], g["decode_tps"], queue_s=g["queue_s"])
    lat = budgets.cloud_latency(
        net,
        server,
        prompt_tokens=g["prompt_tokens"],
        upload_bytes=g["upload_bytes"],
        handshake=g["handshake"],
    )
    return lat.first_token_s


def check_first_token(answer) -> None:
    """Exercise 1: the time to first token of a cloud request, worked out by hand (seconds)."""
    answer = as_number(answer, "the time to first token in seconds")
    g = FIRST_TOKEN
    expected = first_token_reference()
    rtt = g["rtt_ms"] / 1e3
    up_bytes = g["prompt_tokens"] * budgets.BYTES_PER_TOKEN + g["upload_bytes"]
    upload = up_bytes * 8 / (g["uplink_mbps"] * 1e6)
    slips = {
        "Did you count the connection set-up? A fresh TCP + TLS 1.3 connection costs two round "
        "trips before the request can leave.": expected - 2 * rtt,
        "One round trip is missing: two for TCP + TLS 1.3 set-up, plus one for the request "
        "itself (out and the first token back).": expected - rtt,
        "Check the units of the upload: link rates are in bits per second, sizes in bytes "
        "(x 8).": expected - upload + upload / 8,
        "Did you upload the 250 kB of sensor data with the prompt?": expected
        - g["upload_bytes"] * 8 / (g["uplink_mbps"] * 1e6),
        "Did you add the queueing delay?": expected - g["queue_s"],
        "Did you add the server's prefill (prompt tokens / prefill rate)?": expected
        - g["prompt_tokens"] / g["prefill_tps"],
    }
    diagnose(answer, expected, slips, "s", rel=0.005)
    print(f"Correct: the first token arrives after {expected:.3f} s.")


def check_break_even(answer) -> None:
    """Exercise 2: the longest answer (whole tokens) for which the device finishes first."""
    answer = as_number(answer, "a whole number of tokens")
    g = BREAK_EVEN
    cloud = budgets.Latency(g["cloud_first_s"], 1.0 / g["cloud_tps"])
    device = budgets.Latency(g["device_first_s"], 1.0 / g["device_tps"])
    n_star = budgets.break_even_tokens(cloud, device)
    expected = math.floor(n_star)
    if answer == expected:
        print(
            f"Correct: the device finishes first for answers up to {expected} tokens "
            f"(the lines cross at {n_star:.2f})."
        )
        return
    if math.isclose(answer, n_star, rel_tol=1e-3):
        raise AssertionError(
            f"{answer:g} is where the two lines cross; the question asks for whole tokens, so "
            "round down to the last answer length the device still wins."
        )
    if answer == math.floor(n_star - 1) or math.isclose(answer, n_star - 1, rel_tol=1e-3):
        raise AssertionError(
            f"Not quite: {answer:g}. The first token comes out of the prefill, so an answer of n "
            "tokens needs only n - 1 decode steps: total(n) = first + (n - 1) / rate."
        )
    raise AssertionError(
        f"Not quite: {answer:g} tokens. Write both totals as first + (n - 1) / rate, set them "
        "equal, solve for n, and round down."
    )


def check_fleet_bytes(answer) -> None:
    """Exercise 4: bytes per day the exercise's wind farm streams, raw."""
    answer = as_number(answer, "the bytes per day")
    expected = budgets.fleet_bytes_per_day(**FLEET)
    slips = {
        "That is bytes per second: a day has 86,400 s.": expected / 86_400,
        "That is bytes per hour: a day has 24 of them.": expected / 24,
        "That is bits, not bytes: drop the factor 8.": expected * 8,
    }
    diagnose(answer, expected, slips, "bytes", rel=1e-3)
    print(f"Correct: {expected / 1e12:.2f} TB of raw samples per day.")


def window_bytes() -> int:
    """Bytes in the exercise's raw vibration window."""
    g = WINDOW
    return g["seconds"] * g["channels"] * g["sample_rate_hz"] * g["bytes_per_sample"]


def check_window_energy(answer) -> None:
    """Exercise 3: joules to send one raw vibration window over NB-IoT."""
    answer = as_number(answer, "the energy in joules")
    link = budgets.radio(WINDOW["radio"])
    expected = budgets.radio_energy_j(link, bytes_up=window_bytes(), bytes_down=0)
    via_downlink = window_bytes() * link.downlink_j_per_byte
    slips = {
        "Sending uses the uplink (transmit power at the uplink rate), not the downlink.": (
            via_downlink
        ),
        "Check bits and bytes: energy per byte = power x 8 / rate in bit/s.": expected / 8,
        "Check bits and bytes: the factor 8 is applied once, not twice.": expected * 8,
    }
    diagnose(answer, expected, slips, "J", rel=0.01)
    print(
        f"Correct: {expected:.1f} J, about {window_bytes() * 8 / (link.uplink_mbps * 1e6):.0f} "
        "s of transmitting."
    )
