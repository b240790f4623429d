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

Every number carries a key such as [Huang12] beside it; SOURCES (in sources.py) says what
each key is.

Modules, in the order a reader meets them: sources (the published figures), units (shared
constants; argument checks come from hardware_model._check), network (links, physical floors,
handshakes), latency (queue, server, device, break-even), radio (energy: device vs radio),
fleet (data volume and money). Every public name is re-exported here, so
`from hardware_model import budgets; budgets.cloud_latency(...)` works as before.
"""

from hardware_model.budgets.fleet import (
    EXAMPLE_PRICES,
    fleet_bytes_per_day,
    messages_bytes_per_day,
    monthly_data_cost,
    monthly_llm_cost,
)
from hardware_model.budgets.latency import (
    CloudLLM,
    Latency,
    OnDevice,
    break_even_decode_tps,
    break_even_tokens,
    cloud_latency,
    device_latency,
    mm1_wait_s,
    verdict,
)
from hardware_model.budgets.network import (
    FIBRE_GROUP_INDEX,
    GEO_ALTITUDE_KM,
    GEO_RTT_FLOOR_MS,
    HANDSHAKE_RTTS,
    NETWORKS,
    SPEED_OF_LIGHT_KM_S,
    Network,
    fibre_rtt_ms,
    network,
)
from hardware_model.budgets.radio import (
    RADIOS,
    Radio,
    device_answer_energy_j,
    radio,
    radio_energy_j,
)
from hardware_model.budgets.sources import SOURCES
from hardware_model.budgets.units import (
    BITS_PER_BYTE,
    BYTES_PER_GB,
    BYTES_PER_TOKEN,
    SECONDS_PER_DAY,
)

__all__ = [
    "BITS_PER_BYTE",
    "BYTES_PER_GB",
    "BYTES_PER_TOKEN",
    "EXAMPLE_PRICES",
    "FIBRE_GROUP_INDEX",
    "GEO_ALTITUDE_KM",
    "GEO_RTT_FLOOR_MS",
    "HANDSHAKE_RTTS",
    "NETWORKS",
    "RADIOS",
    "SECONDS_PER_DAY",
    "SOURCES",
    "SPEED_OF_LIGHT_KM_S",
    "CloudLLM",
    "Latency",
    "Network",
    "OnDevice",
    "Radio",
    "break_even_decode_tps",
    "break_even_tokens",
    "cloud_latency",
    "device_answer_energy_j",
    "device_latency",
    "fibre_rtt_ms",
    "fleet_bytes_per_day",
    "messages_bytes_per_day",
    "mm1_wait_s",
    "monthly_data_cost",
    "monthly_llm_cost",
    "network",
    "radio",
    "radio_energy_j",
    "verdict",
]
