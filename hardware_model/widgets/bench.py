"""Speed of both widgets, for python -m slmlab.bench: what a control change costs the
kernel (recompute + write into the FigureWidget), no browser needed."""

from __future__ import annotations

import statistics
import time

from hardware_model.widgets.chip_explorer import NOMINAL, explorer
from hardware_model.widgets.grid import can_it_run_grid


def _time_changes(controls: dict, changes: list, repeats: int) -> list[float]:
    """Milliseconds of each control change (the observer runs the whole update)."""
    out = []
    for _ in range(repeats):
        for name, value in changes:
            t0 = time.perf_counter()
            controls[name].value = value
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def bench_widgets(quick: bool = False) -> dict:
    """Python-side update time of both widgets, no browser needed: each control change
    recomputes and writes into the FigureWidget (what a slider move costs the kernel).

    Args:
        quick: one pass over the changes instead of three.

    Returns:
        dict: explorer_update_ms and grid_update_ms (medians over the changes),
        explorer_update_max_ms and grid_update_max_ms (the slowest change), grid_build_ms
        (the grid's one sweep over its menus), updates (changes timed). Target: <= 50 ms each.
    """
    ex = explorer("llama-3.2-1b", "raspberry-pi-5", weight_format="q4_0")
    t0 = time.perf_counter()
    grid = can_it_run_grid()
    build_ms = (time.perf_counter() - t0) * 1e3
    ex_changes = [("weight_format", "fp16"), ("weight_format", "q4_0"), ("context_len", 8192),
                  ("context_len", 1024), ("sram_mb", 1024), ("sram_mb", 4), ("cim", True),
                  ("cim", False), ("dvfs", "1.5GHz"), ("dvfs", NOMINAL), ("phase", "prefill"),
                  ("phase", "decode"), ("model", "phi-4"), ("model", "llama-3.2-1b"),
                  ("chip", "mcu-ethos-u55"), ("chip", "raspberry-pi-5")]  # fmt: skip
    grid_changes = [("weight_format", "fp16"), ("weight_format", "q4_0"), ("context_len", 32768),
                    ("context_len", 1024), ("metric", "energy_per_token_j"), ("metric", "fits"),
                    ("metric", "tokens_per_s")]  # fmt: skip
    repeats = 1 if quick else 3
    t_ex = _time_changes(ex.controls, ex_changes, repeats)
    t_grid = _time_changes(grid.controls, grid_changes, repeats)
    return dict(
        explorer_update_ms=statistics.median(t_ex),
        explorer_update_max_ms=max(t_ex),
        grid_update_ms=statistics.median(t_grid),
        grid_update_max_ms=max(t_grid),
        grid_build_ms=build_ms,
        updates=float(len(t_ex) + len(t_grid)),
    )
