"""Data and money: what a sensor fleet produces, raw or as diagnoses, and what it costs.

Prices are parameters the caller passes; EXAMPLE_PRICES holds dated examples.
Keys in [brackets] are explained in sources.SOURCES.
"""

from __future__ import annotations

from hardware_model._check import at_least, integer
from hardware_model.budgets.units import BYTES_PER_GB, SECONDS_PER_DAY

# ---- Data: what a sensor fleet produces, raw or as diagnoses


def fleet_bytes_per_day(
    *, devices: int, channels: int, sample_rate_hz: float, bytes_per_sample: float
) -> float:
    """Raw bytes a fleet streams per day: devices x channels x rate x bytes x 86,400 s."""
    devices = integer("devices", devices)
    channels = integer("channels", channels)
    rate = at_least("sample_rate_hz", sample_rate_hz)
    size = at_least("bytes_per_sample", bytes_per_sample)
    return devices * channels * rate * size * SECONDS_PER_DAY


def messages_bytes_per_day(
    *, devices: int, messages_per_day: float, bytes_per_message: float
) -> float:
    """Bytes per day when each device sends only short messages (e.g. a diagnosis)."""
    devices = integer("devices", devices)
    per_day = at_least("messages_per_day", messages_per_day)
    size = at_least("bytes_per_message", bytes_per_message)
    return devices * per_day * size


# ---- Money: data and tokens per month, at prices the caller gives

# Example prices with their date: parameters to pass in, never used behind the caller's back.
EXAMPLE_PRICES = {
    "gpt-4o-mini usd per 1M input tokens": 0.15,  # [OAI-24], July 2024
    "gpt-4o-mini usd per 1M output tokens": 0.60,  # [OAI-24], July 2024
    "s3 standard usd per GB-month": 0.023,  # [S3-24], 2024
}


def monthly_data_cost(bytes_per_day: float, *, usd_per_gb: float, days_per_month: float) -> float:
    """Money per month to move (or store) ``bytes_per_day``, at ``usd_per_gb`` (GB = 1e9 B)."""
    bytes_per_day = at_least("bytes_per_day", bytes_per_day)
    usd_per_gb = at_least("usd_per_gb", usd_per_gb)
    days = at_least("days_per_month", days_per_month, strict=True)
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
    per_day = at_least("requests_per_day", requests_per_day)
    prompt_tokens = integer("prompt_tokens", prompt_tokens)
    answer_tokens = integer("answer_tokens", answer_tokens)
    p_in = at_least("usd_per_m_input", usd_per_m_input)
    p_out = at_least("usd_per_m_output", usd_per_m_output)
    days = at_least("days_per_month", days_per_month, strict=True)
    per_request = (prompt_tokens * p_in + answer_tokens * p_out) / 1e6
    return per_request * per_day * days
