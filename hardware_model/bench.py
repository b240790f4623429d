"""Speed figures of the model itself: `run(quick=False) -> dict` (for slmlab.bench).

    sweep_points_per_s     design points per second of hm.sweep (every preset model x every
                           preset chip x 8 weight formats x context lengths)
    simulate_calls_per_s   hm.simulate calls per second (llama-3.2-1b on raspberry-pi-5, q4_0,
                           with per-layer and per-operator rows for the roofline)
    simulate_ms            the same, milliseconds per call (a widget update; target <= 50 ms)
    simulate_no_fit_ms     a model that does not fit (phi-4 on the microcontroller), which also
                           searches for the smallest change that would make it fit
    calibrate_host_s       seconds for hm.calibrate.host(quick=True)

Timings are the best of a few repeats, so noise from other processes inflates them less.
"""

from __future__ import annotations

import numpy as np

from hardware_model.calibrate import _best_time

FORMATS = ("fp32", "fp16", "int8", "q8_0", "q4_0", "q4_k_m", "int4-g64", "nf4")


def run(quick: bool = False) -> dict:
    """Measure the figures above.

    Args:
        quick: fewer points and repeats (about a second instead of several).

    Returns:
        dict of figure name -> float.
    """
    import hardware_model as hm

    archs, chips = hm.models.names(), hm.chips.names()
    contexts = np.linspace(0, 32768, 20 if quick else 100).astype(int).tolist()
    n_points = len(archs) * len(chips) * len(FORMATS) * len(contexts)
    repeats = 2 if quick else 3
    hm.sweep(archs, chips, FORMATS, contexts[:2])  # warm caches (operator tables)
    t_sweep = _best_time(lambda: hm.sweep(archs, chips, FORMATS, contexts), repeats)

    arch, chip = hm.models.get("llama-3.2-1b"), hm.chips.get("raspberry-pi-5")
    calls = 20 if quick else 100

    def simulate_many():
        for _ in range(calls):
            hm.simulate(arch, chip, weight_format="q4_0")

    t_sim = _best_time(simulate_many, repeats) / calls
    t_nofit = _best_time(lambda: hm.simulate("phi-4", "mcu-ethos-u55"), repeats)
    t_host = _best_time(lambda: hm.calibrate.host(quick=True), 1)
    return dict(
        sweep_points=float(n_points),
        sweep_points_per_s=n_points / t_sweep,
        simulate_calls_per_s=1 / t_sim,
        simulate_ms=t_sim * 1e3,
        simulate_no_fit_ms=t_nofit * 1e3,
        calibrate_host_s=t_host,
    )


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:24s} {value:,.3g}")
