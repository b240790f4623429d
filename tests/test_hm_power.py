"""Duty cycles, battery life and DVFS choice, against the formulas written out here."""

import pytest

import hardware_model as hm


def test_battery_life_by_hand():
    # 1000 mAh at 3.7 V = 3.7 Wh: 3.7 h at 1 W, 370 h at 10 mW.
    assert hm.power.battery_life_h(1.0, 1000, 3.7) == pytest.approx(3.7)
    assert hm.power.battery_life_h(0.01, 1000) == pytest.approx(370.0)
    with pytest.raises(ValueError, match="battery_mah"):
        hm.power.battery_life_h(1.0, 0)


def test_duty_cycle_formula():
    r = hm.simulate("smollm2-135m", "jetson-orin-nano", weight_format="q4_0", context_len=256)
    d = hm.power.duty_cycle(
        r,
        requests_per_hour=12,
        tokens_per_request=50,
        sleep_power_w=0.2,
        battery_mah=5000,
        battery_v=3.7,
    )
    active_s = 12 * 50 * r.latency_s
    energy_per_hour = 12 * 50 * r.energy_per_token_j + 0.2 * (3600 - active_s)
    assert d.avg_power_w == pytest.approx(energy_per_hour / 3600)
    assert d.active_fraction == pytest.approx(active_s / 3600)
    assert d.battery_life_h == pytest.approx(5000 * 3.7 * 3.6 / d.avg_power_w / 3600)
    assert "average power" in str(d) and "battery life" in str(d)
    # The chip's own sleep power is the default.
    d2 = hm.power.duty_cycle(r, requests_per_hour=12, tokens_per_request=50)
    assert d2.energy_per_hour_j["sleep"] == pytest.approx(r.sleep_power_w * (3600 - active_s))


def test_duty_cycle_adds_the_prompt():
    dec = hm.simulate("smollm2-135m", "raspberry-pi-5", weight_format="q8_0")
    pre = hm.simulate(
        "smollm2-135m", "raspberry-pi-5", weight_format="q8_0", phase="prefill", prompt_len=200
    )
    d = hm.power.duty_cycle(dec, requests_per_hour=1, tokens_per_request=10, prefill=pre)
    assert d.energy_per_request_j == pytest.approx(
        10 * dec.energy_per_token_j + 200 * pre.energy_per_token_j
    )
    assert d.active_s_per_request == pytest.approx(10 * dec.latency_s + pre.latency_s)


def test_duty_cycle_errors():
    r = hm.simulate("smollm2-135m", "raspberry-pi-5")
    with pytest.raises(ValueError, match="more than the 3600 s"):
        hm.power.duty_cycle(r, requests_per_hour=10**6, tokens_per_request=100)
    with pytest.raises(ValueError, match="tokens_per_request must be >= 1"):
        hm.power.duty_cycle(r, requests_per_hour=1, tokens_per_request=0)
    with pytest.raises(ValueError, match="requests_per_hour"):
        hm.power.duty_cycle(r, requests_per_hour=-1, tokens_per_request=1)
    with pytest.raises(TypeError, match="decode Report"):
        hm.power.duty_cycle("report", requests_per_hour=1, tokens_per_request=1)
    no_fit = hm.simulate("phi-4", "mcu-ethos-u55")
    with pytest.raises(ValueError, match="does not fit"):
        hm.power.duty_cycle(no_fit, requests_per_hour=1, tokens_per_request=1)


def test_best_operating_point_is_cheapest_that_meets_the_deadline():
    chip = hm.chips.get("jetson-orin-nano-super")
    kw = dict(weight_format="q4_0", context_len=512)
    every = {p.name: hm.simulate("llama-3.2-1b", chip, dvfs=p.name, **kw) for p in chip.dvfs}
    deadline = sorted(r.latency_s for r in every.values())[1] * 1.0001  # two points meet it
    choice = hm.power.best_operating_point("llama-3.2-1b", chip, deadline_s=deadline, **kw)
    meeting = {n: r for n, r in every.items() if r.latency_s <= deadline}
    assert choice.meets_deadline and len(meeting) == 2
    assert choice.point == min(meeting, key=lambda n: meeting[n].energy_per_token_j)
    assert "chosen" in str(choice)
    impossible = hm.power.best_operating_point("llama-3.2-1b", chip, deadline_s=1e-9, **kw)
    assert not impossible.meets_deadline
    assert impossible.point == min(every, key=lambda n: every[n].latency_s)
    with pytest.raises(ValueError, match="no DVFS"):
        hm.power.best_operating_point("llama-3.2-1b", "nvidia-h100-sxm", deadline_s=1.0)
    with pytest.raises(ValueError, match="deadline_s"):
        hm.power.best_operating_point("llama-3.2-1b", chip, deadline_s=0)
