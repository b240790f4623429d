"""The published figures behind every default number in the budgets, by their key."""

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
