"""Latency, part 2: the queue, the server, the device, and who answers first.

Time to answer is a straight line in the answer length (first token, then a steady rate),
so the break-even between cloud and device is where two lines cross.
Keys in [brackets] are explained in sources.SOURCES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hardware_model._check import at_least, integer
from hardware_model.budgets.network import HANDSHAKE_RTTS, Network
from hardware_model.budgets.units import BITS_PER_BYTE, BYTES_PER_TOKEN


def mm1_wait_s(utilisation: float, service_s: float) -> float:
    """Mean time a request waits in an M/M/1 queue before it is served [Kle75].

    W_q = rho / (1 - rho) * S: at 50 % utilisation a request waits one service time on
    average, at 90 % nine, and the wait grows without bound as rho approaches 1.

    Args:
        utilisation: rho, the fraction of time the server is busy, 0 <= rho < 1.
        service_s: S, the mean service time of one request, in seconds.
    """
    rho = at_least("utilisation", utilisation)
    if rho >= 1.0:
        raise ValueError(
            f"utilisation must be < 1 (at or above 1 the queue grows without bound), got {rho:g}"
        )
    service_s = at_least("service_s", service_s)
    return rho / (1.0 - rho) * service_s


@dataclass(frozen=True)
class CloudLLM:
    """A hosted model: how fast it reads the prompt and writes the answer, and how long a
    request waits for a free slot.

    Args:
        prefill_tps: prompt tokens read per second.
        decode_tps: answer tokens written per second, per request.
        queue_s: mean wait before the request is served (e.g. from mm1_wait_s).
    """

    prefill_tps: float
    decode_tps: float
    queue_s: float = 0.0
    source: str = ""

    def __post_init__(self):
        at_least("prefill_tps", self.prefill_tps, strict=True)
        at_least("decode_tps", self.decode_tps, strict=True)
        at_least("queue_s", self.queue_s)


@dataclass(frozen=True)
class OnDevice:
    """A model running on the device itself.

    Args:
        prefill_tps: prompt tokens read per second.
        decode_tps: answer tokens written per second.
        power_w: average power drawn while generating, in watts.
    """

    prefill_tps: float
    decode_tps: float
    power_w: float
    source: str = ""

    def __post_init__(self):
        at_least("prefill_tps", self.prefill_tps, strict=True)
        at_least("decode_tps", self.decode_tps, strict=True)
        at_least("power_w", self.power_w)


@dataclass(frozen=True)
class Latency:
    """Time to answer as a straight line in the answer length n (tokens):

        total(n) = first_token_s + (n - 1) * per_token_s

    The prefill pass emits the first token; every later token costs one decode step.
    ``parts`` lists what makes up ``first_token_s`` as (name, seconds) pairs.
    """

    first_token_s: float
    per_token_s: float
    parts: tuple[tuple[str, float], ...] = field(default=())

    @property
    def available(self) -> bool:
        """False when the answer never arrives (no connectivity)."""
        return math.isfinite(self.first_token_s)

    def total_s(self, n_tokens):
        """Seconds until an answer of ``n_tokens`` tokens (int or array of ints >= 1) is done."""
        n = np.asarray(n_tokens)
        if n.dtype == bool or not np.issubdtype(n.dtype, np.integer):
            raise TypeError(f"n_tokens must be an int or an array of ints, got {n_tokens!r}")
        if np.any(n < 1):
            raise ValueError(f"n_tokens must be >= 1 (an answer has a first token), got {n_tokens}")
        if not self.available:
            out = np.full(n.shape, math.inf)
        else:
            out = self.first_token_s + (n - 1) * self.per_token_s
        return float(out) if out.ndim == 0 else out


def cloud_latency(
    net: Network,
    server: CloudLLM,
    *,
    prompt_tokens: int,
    upload_bytes: int = 0,
    handshake: str | int = "tcp+tls1.3",
    bytes_per_token: float = BYTES_PER_TOKEN,
) -> Latency:
    """Time to answer when the question goes to a hosted model.

    First token = set-up round trips + one round trip (request out, first token back)
    + upload of prompt and payload at the uplink rate + queue + server prefill.
    Later tokens stream at the slower of the server's decode rate and the downlink.

    Args:
        net: the connection (``Network.offline()`` gives an answer that never arrives).
        server: the hosted model.
        prompt_tokens: prompt length in tokens (>= 1).
        upload_bytes: extra payload sent with the prompt, e.g. a window of raw sensor data.
        handshake: a HANDSHAKE_RTTS name or a number of round trips for connection set-up.
        bytes_per_token: bytes of text per token on the wire, up and down.
    """
    prompt_tokens = integer("prompt_tokens", prompt_tokens, 1)
    upload_bytes = integer("upload_bytes", upload_bytes)
    bytes_per_token = at_least("bytes_per_token", bytes_per_token, strict=True)
    if isinstance(handshake, str):
        if handshake not in HANDSHAKE_RTTS:
            raise ValueError(
                f"unknown handshake {handshake!r}; choose one of "
                f"{sorted(HANDSHAKE_RTTS)} or give a number of round trips"
            )
        setup_rtts = HANDSHAKE_RTTS[handshake]
    else:
        setup_rtts = integer("handshake", handshake)
    if not net.online:
        return Latency(math.inf, math.inf, (("offline: no answer", math.inf),))

    rtt_s = net.rtt_ms / 1e3
    up_bits = (prompt_tokens * bytes_per_token + upload_bytes) * BITS_PER_BYTE
    parts = (
        ("connection set-up", setup_rtts * rtt_s),
        ("round trip", rtt_s),
        ("upload", up_bits / (net.uplink_mbps * 1e6)),
        ("queue", server.queue_s),
        ("server prefill", prompt_tokens / server.prefill_tps),
    )
    download_s = bytes_per_token * BITS_PER_BYTE / (net.downlink_mbps * 1e6)
    per_token_s = max(1.0 / server.decode_tps, download_s)  # the slower stage sets the pace
    return Latency(sum(s for _, s in parts), per_token_s, parts)


def device_latency(device: OnDevice, *, prompt_tokens: int) -> Latency:
    """Time to answer on the device: its own prefill, then its own decode rate."""
    prompt_tokens = integer("prompt_tokens", prompt_tokens, 1)
    prefill_s = prompt_tokens / device.prefill_tps
    return Latency(prefill_s, 1.0 / device.decode_tps, (("device prefill", prefill_s),))


def break_even_tokens(cloud: Latency, device: Latency) -> float | None:
    """The answer length (tokens, > 1) at which cloud and device take equally long.

    Two straight lines cross at n* = 1 + (F_c - F_d) / (d - c), with F the first-token
    times and c, d the per-token times. Returns None when they do not cross at n > 1:
    one side is faster at every longer length (or the cloud is offline); ``verdict`` says
    which.
    """
    if not cloud.available:
        return None
    slope = device.per_token_s - cloud.per_token_s
    gap = cloud.first_token_s - device.first_token_s
    if slope == 0.0:
        return None
    n_star = 1.0 + gap / slope
    return n_star if n_star > 1.0 else None


def break_even_decode_tps(cloud: Latency, device: Latency, *, n_tokens: int) -> float:
    """The device decode rate at which an ``n_tokens`` answer is done as soon as the cloud's.

    Solves F_d + (n - 1) / r = total_cloud(n) for r. Returns 0.0 when any rate is enough
    (cloud offline, or a one-token answer the device's prefill already wins) and ``math.inf``
    when no rate is enough (the device's prefill alone takes longer than the cloud's answer).
    Only ``device.first_token_s`` is used: the device's own decode rate is what is solved for.
    """
    n_tokens = integer("n_tokens", n_tokens, 1)
    if not cloud.available:
        return 0.0
    time_left = cloud.total_s(n_tokens) - device.first_token_s
    if time_left <= 0.0:
        return math.inf
    return (n_tokens - 1) / time_left


def verdict(cloud: Latency, device: Latency) -> str:
    """One plain sentence: who answers first, and up to which answer length."""
    if not cloud.available:
        return "Offline: the cloud cannot answer at all; only the device can."
    n_star = break_even_tokens(cloud, device)
    if n_star is None:
        # No crossing beyond one token: the sign of the difference at n = 2 holds for all n > 1.
        diff = device.total_s(2) - cloud.total_s(2)
        if diff < 0:
            return "The device is faster at every answer length."
        if diff > 0:
            return "The cloud is faster at every answer length."
        return "Cloud and device take equally long at every answer length."
    up_to = math.floor(n_star)
    tokens = "token" if up_to == 1 else "tokens"
    if device.first_token_s < cloud.first_token_s:
        return (
            f"The device is faster for answers up to {up_to} {tokens}; "
            "beyond that the cloud's faster decoding wins."
        )
    return (
        f"The cloud is faster for answers up to {up_to} {tokens}; "
        "beyond that the device's faster decoding wins."
    )
