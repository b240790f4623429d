"""Unit constants shared by the budget modules (keys in [brackets]: see sources.SOURCES)."""

BITS_PER_BYTE = 8
BYTES_PER_GB = 1e9  # SI gigabyte; the unit in which prices are quoted (fleet.py)
SECONDS_PER_DAY = 86_400
BYTES_PER_TOKEN = 4  # [OAI-tok] about 4 characters of English text per token, 1 byte each
