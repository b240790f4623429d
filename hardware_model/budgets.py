"""Budgets: why a language model moves to the edge, in numbers (lab 00).

Four budgets decide where a model should run: latency, energy, data volume and money. This
module turns each into a few small functions so a learner can see the arithmetic:

1. latency   a cloud answer pays connection set-up, a round trip, the upload, a queue and the
             server's prefill before its first token; a device pays only its own prefill. Both
             then stream tokens at a steady rate, so time-to-answer is a straight line in the
             answer length and the break-even is where two lines cross.
2. energy    running the model on the device costs power x time; sending the question away costs
             radio energy per byte.
3. data      a sensor fleet produces devices x channels x rate x bytes every second; sending only
             diagnoses shrinks that by orders of magnitude.
4. money     data per month x price per GB, and tokens per month x price per token.

Glossary:
    RTT    round-trip time: a packet there and its answer back (ms)
    TTFT   time to first token
    rho    utilisation of a server queue: arrival rate / service rate, 0 <= rho < 1
    S      mean service time of one request in the queue (s)
    W_q    mean time a request waits in the queue before service starts (s)
    tok/s  tokens per second (prefill: prompt tokens read; decode: answer tokens written)

Every number carries a key such as [Huang12] beside it; SOURCES below says what each key is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

# The published figures behind every default number, by the key that appears beside it.
SOURCES = {
    "Dean09": 'J. Dean, "Numbers everyone should know", LADIS 2009 keynote',
    "SMF28": "Corning SMF-28 optical fibre datasheet: group index 1.4682 at 1550 nm",
    "RFC": "RFC 9293 (TCP), RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 9000 (QUIC)",
    "Kle75": "L. Kleinrock, Queueing Systems, Vol. 1, 1975 (M/M/1 waiting time)",
    "Huang12": 'J. Huang et al., "A Close Examination of Performance and Power Characteristics '
    'of 4G LTE Networks", MobiSys 2012: median LTE 13 Mbit/s down, 6 Mbit/s up; linear radio '
    "power model P = alpha * throughput + beta for LTE and Wi-Fi",
    "TR45820": "3GPP TR 45.820 (Rel-13 cellular IoT): device power 500 mW transmit, 80 mW "
    "receive; exception reports within 10 s",
    "NB1": "3GPP Rel-13 UE category NB1 (TS 36.306): peak rates as commonly quoted, about "
    "62.5 kbit/s up (multi-tone) and 26 kbit/s down",
    "nRF52": "Nordic nRF52832 product specification: 5.3 mA transmit at 0 dBm, 5.4 mA receive "
    "at 1 Mbit/s, DC/DC on, 3 V supply",
    "FCC24": "US FCC 2024 fixed-broadband benchmark: 100 Mbit/s down, 20 Mbit/s up",
    "M2410": "ITU-R M.2410 (2017), IMT-2020 requirements: user-experienced rates 100 Mbit/s "
    "down, 50 Mbit/s up; user-plane latency 4 ms (radio only)",
    "Apple24": "Apple ML Research, \"Introducing Apple's On-Device and Server Foundation "
    'Models", June 2024: iPhone 15 Pro, about 0.6 ms per prompt token to first token, '
    "30 tokens/s generation",
    "OAI-tok": 'OpenAI help centre, "What are tokens": about 4 characters of English per token',
    "OAI-24": "OpenAI pricing, GPT-4o mini (July 2024): $0.15 per 1M input tokens, $0.60 per "
    "1M output tokens",
    "S3-24": "AWS S3 Standard storage, us-east-1, first 50 TB: $0.023 per GB-month (2024)",
}

BITS_PER_BYTE = 8
BYTES_PER_GB = 1e9  # SI gigabyte; the unit in which the prices below are quoted
SECONDS_PER_DAY = 86_400
SPEED_OF_LIGHT_KM_S = 299_792.458  # exact, by definition of the metre
FIBRE_GROUP_INDEX = 1.4682  # [SMF28] at 1550 nm: light in fibre travels at c / 1.4682
BYTES_PER_TOKEN = 4  # [OAI-tok] about 4 characters of English text per token, 1 byte each


def _number(name: str, value, *, min_value: float = 0.0, allow_equal: bool = True) -> float:
    """Check one scalar argument and return it as a float, or raise naming the argument."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value < min_value or (value == min_value and not allow_equal):
        relation = ">=" if allow_equal else ">"
        raise ValueError(f"{name} must be {relation} {min_value:g}, got {value:g}")
    return value


def _count(name: str, value, *, min_value: int = 0) -> int:
    """Check an integer count (tokens, devices, ...) and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < min_value:
        raise ValueError(f"{name} must be an int >= {min_value}, got {value}")
    return int(value)


# ---- 1. Latency: the network, the queue, the server, the device


@dataclass(frozen=True)
class Network:
    """A connection from the device to the cloud.

    Args:
        name: a label for tables.
        rtt_ms: round-trip time to the cloud region, in milliseconds.
        uplink_mbps / downlink_mbps: usable throughput, in megabits per second.
        source: where the numbers come from.
        online: False for no connectivity at all; the other numbers are then ignored.
    """

    name: str
    rtt_ms: float
    uplink_mbps: float
    downlink_mbps: float
    source: str = ""
    online: bool = True

    def __post_init__(self):
        if not isinstance(self.online, bool):
            raise TypeError(f"online must be True or False, got {self.online!r}")
        if self.online:
            _number("rtt_ms", self.rtt_ms)
            _number("uplink_mbps", self.uplink_mbps, allow_equal=False)
            _number("downlink_mbps", self.downlink_mbps, allow_equal=False)

    @classmethod
    def offline(cls, name: str = "offline") -> Network:
        """No connectivity: every cloud answer takes forever."""
        return cls(name, math.inf, 0.0, 0.0, "no connectivity", online=False)


def fibre_rtt_ms(distance_km: float, *, group_index: float = FIBRE_GROUP_INDEX) -> float:
    """The physical floor of a round trip over fibre: there and back at c / group index.

    About 1 ms per 100 km of route; real routes are longer than the straight line and add
    routers, so measured RTTs sit above this floor.
    """
    distance_km = _number("distance_km", distance_km)
    group_index = _number("group_index", group_index, min_value=1.0)
    return 2 * distance_km / (SPEED_OF_LIGHT_KM_S / group_index) * 1e3


# Geostationary orbit altitude 35,786 km: up and down twice per round trip (ground -> satellite
# -> gateway, and back), at the speed of light; the ground network and queues come on top.
GEO_ALTITUDE_KM = 35_786
GEO_RTT_FLOOR_MS = 4 * GEO_ALTITUDE_KM / SPEED_OF_LIGHT_KM_S * 1e3  # about 477 ms

NETWORKS: dict[str, Network] = {
    n.name: n
    for n in [
        # Throughput: [FCC24] benchmark. RTT: an assumed, typical fixed-line value to a nearby
        # cloud region (several hundred km of fibre, see fibre_rtt_ms, plus the access network).
        Network(
            "home broadband", 20.0, 20.0, 100.0, "[FCC24] 20 up/100 down Mbit/s; RTT 20 ms assumed"
        ),
        # Throughput: [Huang12] median measured LTE rates. RTT assumed: the 3GPP radio target is
        # 5 ms one way (TR 25.913); the core network and the path to the region add the rest.
        Network("lte", 50.0, 6.0, 13.0, "[Huang12] medians 6 up/13 down Mbit/s; RTT 50 ms assumed"),
        # Throughput: [M2410] user-experienced rates; radio latency 4 ms one way; RTT assumed.
        Network("5g", 25.0, 50.0, 100.0, "[M2410] 50 up/100 down Mbit/s; RTT 25 ms assumed"),
        # Throughput: [NB1] peak rates (real rates are lower); RTT assumed, within the
        # [TR45820] requirement of 10 s for an exception report.
        Network(
            "nb-iot", 1000.0, 0.0625, 0.026, "[NB1] peaks 62.5 up/26 down kbit/s; RTT 1 s assumed"
        ),
        # RTT: the geostationary floor rounded up for the ground segment; throughput assumed.
        Network("geo satellite", 600.0, 3.0, 25.0, "RTT floor 477 ms (physics); rates assumed"),
        # [Dean09]: packet California -> Netherlands -> California, 150 ms; rates as at home.
        Network("other continent", 150.0, 20.0, 100.0, "[Dean09] 150 ms; rates as [FCC24]"),
        Network.offline(),
    ]
}


def network(name: str) -> Network:
    """A preset network by name (see NETWORKS)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {sorted(NETWORKS)}")
    return NETWORKS[name]


# Round trips spent opening a connection before the request can be sent [RFC].
HANDSHAKE_RTTS = {
    "warm": 0,  # connection kept alive from an earlier request
    "quic": 1,  # QUIC joins transport and TLS 1.3 in one round trip (RFC 9000)
    "tcp+tls1.3": 2,  # TCP 3-way handshake (RFC 9293) + TLS 1.3 full handshake (RFC 8446)
    "tcp+tls1.2": 3,  # TCP + TLS 1.2 full handshake, two round trips (RFC 5246)
}


def mm1_wait_s(utilisation: float, service_s: float) -> float:
    """Mean time a request waits in an M/M/1 queue before it is served [Kle75].

    W_q = rho / (1 - rho) * S: at 50 % utilisation a request waits one service time on
    average, at 90 % nine, and the wait grows without bound as rho approaches 1.

    Args:
        utilisation: rho, the fraction of time the server is busy, 0 <= rho < 1.
        service_s: S, the mean service time of one request, in seconds.
    """
    rho = _number("utilisation", utilisation)
    if rho >= 1.0:
        raise ValueError(
            f"utilisation must be < 1 (at or above 1 the queue grows without bound), got {rho:g}"
        )
    service_s = _number("service_s", service_s)
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
        _number("prefill_tps", self.prefill_tps, allow_equal=False)
        _number("decode_tps", self.decode_tps, allow_equal=False)
        _number("queue_s", self.queue_s)


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
        _number("prefill_tps", self.prefill_tps, allow_equal=False)
        _number("decode_tps", self.decode_tps, allow_equal=False)
        _number("power_w", self.power_w)


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
    prompt_tokens = _count("prompt_tokens", prompt_tokens, min_value=1)
    upload_bytes = _count("upload_bytes", upload_bytes)
    bytes_per_token = _number("bytes_per_token", bytes_per_token, allow_equal=False)
    if isinstance(handshake, str):
        if handshake not in HANDSHAKE_RTTS:
            raise ValueError(
                f"unknown handshake {handshake!r}; choose one of "
                f"{sorted(HANDSHAKE_RTTS)} or give a number of round trips"
            )
        setup_rtts = HANDSHAKE_RTTS[handshake]
    else:
        setup_rtts = _count("handshake", handshake)
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
    prompt_tokens = _count("prompt_tokens", prompt_tokens, min_value=1)
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
    n_tokens = _count("n_tokens", n_tokens, min_value=1)
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


# ---- 2. Energy: computing on the device vs sending bytes over a radio


def device_answer_energy_j(device: OnDevice, *, prompt_tokens: int, n_tokens: int) -> float:
    """Energy to answer on the device: average power x time to the last token."""
    seconds = device_latency(device, prompt_tokens=prompt_tokens).total_s(
        _count("n_tokens", n_tokens, min_value=1)
    )
    return device.power_w * seconds


@dataclass(frozen=True)
class Radio:
    """A radio link as seen by the device's battery.

    Energy per byte = power while the radio is busy / bytes per second at that rate. Rates
    below the one given mean longer air time and more joules per byte.

    Args:
        tx_power_w / rx_power_w: power drawn while sending / receiving, in watts.
        uplink_mbps / downlink_mbps: the throughput at which that power was measured or assumed.
    """

    name: str
    tx_power_w: float
    rx_power_w: float
    uplink_mbps: float
    downlink_mbps: float
    source: str = ""

    def __post_init__(self):
        _number("tx_power_w", self.tx_power_w)
        _number("rx_power_w", self.rx_power_w)
        _number("uplink_mbps", self.uplink_mbps, allow_equal=False)
        _number("downlink_mbps", self.downlink_mbps, allow_equal=False)

    @property
    def uplink_j_per_byte(self) -> float:
        return self.tx_power_w * BITS_PER_BYTE / (self.uplink_mbps * 1e6)

    @property
    def downlink_j_per_byte(self) -> float:
        return self.rx_power_w * BITS_PER_BYTE / (self.downlink_mbps * 1e6)


def _huang_radio(name, alpha_up, alpha_down, beta, up_mbps, down_mbps) -> Radio:
    """[Huang12] linear model of a phone's radio power, P = alpha * throughput + beta, with
    alpha in mW per Mbit/s and beta in mW, evaluated at the given rates."""
    tx_w = (alpha_up * up_mbps + beta) / 1e3
    rx_w = (alpha_down * down_mbps + beta) / 1e3
    return Radio(
        name,
        tx_w,
        rx_w,
        up_mbps,
        down_mbps,
        f"[Huang12] model at {up_mbps:g}/{down_mbps:g} Mbit/s up/down",
    )


# Wi-Fi and LTE: [Huang12] power model (alpha_u, alpha_d in mW per Mbit/s, beta in mW), both
# evaluated at the LTE median rates of the same paper (6 up, 13 down) so they compare like for
# like. NB-IoT: [TR45820] power at [NB1] peak rates. BLE: [nRF52] currents x 3 V at the 1 Mbit/s
# PHY rate. Peak rates make NB-IoT and BLE figures lower bounds: protocol overhead adds air time.
RADIOS: dict[str, Radio] = {
    r.name: r
    for r in [
        _huang_radio(
            "wifi", alpha_up=283.17, alpha_down=137.01, beta=132.86, up_mbps=6.0, down_mbps=13.0
        ),
        _huang_radio(
            "lte", alpha_up=438.39, alpha_down=51.97, beta=1288.04, up_mbps=6.0, down_mbps=13.0
        ),
        Radio(
            "nb-iot",
            0.500,
            0.080,
            0.0625,
            0.026,
            "[TR45820] 500 mW tx/80 mW rx at [NB1] peak rates",
        ),
        Radio(
            "ble",
            5.3e-3 * 3.0,
            5.4e-3 * 3.0,
            1.0,
            1.0,
            "[nRF52] 5.3 mA tx/5.4 mA rx x 3 V at 1 Mbit/s",
        ),
    ]
}


def radio(name: str) -> Radio:
    """A preset radio by name (see RADIOS)."""
    if name not in RADIOS:
        raise ValueError(f"unknown radio {name!r}; choose one of {sorted(RADIOS)}")
    return RADIOS[name]


def radio_energy_j(link: Radio, *, bytes_up: int, bytes_down: int) -> float:
    """Energy the device spends moving ``bytes_up`` out and ``bytes_down`` in over ``link``.

    Counts air time only: the radio's idle and tail states (an LTE modem stays in a high-power
    state for seconds after each transfer [Huang12]) come on top.
    """
    bytes_up = _count("bytes_up", bytes_up)
    bytes_down = _count("bytes_down", bytes_down)
    return bytes_up * link.uplink_j_per_byte + bytes_down * link.downlink_j_per_byte


# ---- 3. Data: what a sensor fleet produces, raw or as diagnoses


def fleet_bytes_per_day(
    *, devices: int, channels: int, sample_rate_hz: float, bytes_per_sample: float
) -> float:
    """Raw bytes a fleet streams per day: devices x channels x rate x bytes x 86,400 s."""
    devices = _count("devices", devices)
    channels = _count("channels", channels)
    rate = _number("sample_rate_hz", sample_rate_hz)
    size = _number("bytes_per_sample", bytes_per_sample)
    return devices * channels * rate * size * SECONDS_PER_DAY


def messages_bytes_per_day(
    *, devices: int, messages_per_day: float, bytes_per_message: float
) -> float:
    """Bytes per day when each device sends only short messages (e.g. a diagnosis)."""
    devices = _count("devices", devices)
    per_day = _number("messages_per_day", messages_per_day)
    size = _number("bytes_per_message", bytes_per_message)
    return devices * per_day * size


# ---- 4. Money: data and tokens per month, at prices the caller gives

# Example prices with their date: parameters to pass in, never used behind the caller's back.
EXAMPLE_PRICES = {
    "gpt-4o-mini usd per 1M input tokens": 0.15,  # [OAI-24], July 2024
    "gpt-4o-mini usd per 1M output tokens": 0.60,  # [OAI-24], July 2024
    "s3 standard usd per GB-month": 0.023,  # [S3-24], 2024
}


def monthly_data_cost(bytes_per_day: float, *, usd_per_gb: float, days_per_month: float) -> float:
    """Money per month to move (or store) ``bytes_per_day``, at ``usd_per_gb`` (GB = 1e9 B)."""
    bytes_per_day = _number("bytes_per_day", bytes_per_day)
    usd_per_gb = _number("usd_per_gb", usd_per_gb)
    days = _number("days_per_month", days_per_month, allow_equal=False)
    return bytes_per_day * days / BYTES_PER_GB * usd_per_gb


def monthly_llm_cost(
    *,
    requests_per_day: float,
    prompt_tokens: int,
    answer_tokens: int,
    usd_per_m_input: float,
    usd_per_m_output: float,
    days_per_month: float,
) -> float:
    """Money per month for a hosted model billed per million input and output tokens."""
    per_day = _number("requests_per_day", requests_per_day)
    prompt_tokens = _count("prompt_tokens", prompt_tokens)
    answer_tokens = _count("answer_tokens", answer_tokens)
    p_in = _number("usd_per_m_input", usd_per_m_input)
    p_out = _number("usd_per_m_output", usd_per_m_output)
    days = _number("days_per_month", days_per_month, allow_equal=False)
    per_request = (prompt_tokens * p_in + answer_tokens * p_out) / 1e6
    return per_request * per_day * days
