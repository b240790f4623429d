"""Energy: computing the answer on the device vs sending bytes over a radio.

Keys in [brackets] are explained in sources.SOURCES.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware_model._check import at_least, integer
from hardware_model.budgets.latency import OnDevice, device_latency
from hardware_model.budgets.units import BITS_PER_BYTE


def device_answer_energy_j(device: OnDevice, *, prompt_tokens: int, n_tokens: int) -> float:
    """Energy to answer on the device: average power x time to the last token."""
    seconds = device_latency(device, prompt_tokens=prompt_tokens).total_s(
        integer("n_tokens", n_tokens, 1)
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
        at_least("tx_power_w", self.tx_power_w)
        at_least("rx_power_w", self.rx_power_w)
        at_least("uplink_mbps", self.uplink_mbps, strict=True)
        at_least("downlink_mbps", self.downlink_mbps, strict=True)

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
    bytes_up = integer("bytes_up", bytes_up)
    bytes_down = integer("bytes_down", bytes_down)
    return bytes_up * link.uplink_j_per_byte + bytes_down * link.downlink_j_per_byte
