"""Latency, part 1: the connection from the device to the cloud.

Network presets with their sources, the physical floor of a round trip (fibre, a
geostationary satellite), and the round trips spent opening a connection.
Keys in [brackets] are explained in sources.SOURCES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware_model._check import at_least

SPEED_OF_LIGHT_KM_S = 299_792.458  # exact, by definition of the metre
FIBRE_GROUP_INDEX = 1.4682  # [SMF28] at 1550 nm: light in fibre travels at c / 1.4682


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
            at_least("rtt_ms", self.rtt_ms)
            at_least("uplink_mbps", self.uplink_mbps, strict=True)
            at_least("downlink_mbps", self.downlink_mbps, strict=True)

    @classmethod
    def offline(cls, name: str = "offline") -> Network:
        """No connectivity: every cloud answer takes forever."""
        return cls(name, math.inf, 0.0, 0.0, "no connectivity", online=False)


def fibre_rtt_ms(distance_km: float, *, group_index: float = FIBRE_GROUP_INDEX) -> float:
    """The physical floor of a round trip over fibre: there and back at c / group index.

    About 1 ms per 100 km of route; real routes are longer than the straight line and add
    routers, so measured RTTs sit above this floor.
    """
    distance_km = at_least("distance_km", distance_km)
    group_index = at_least("group_index", group_index, 1.0)
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
