"""hardware_model: an analytical energy and data-movement model of edge chips (numpy only).

    import hardware_model as hm
    print(hm.simulate(hm.models.get("llama-3.2-1b"), hm.chips.get("raspberry-pi-5"),
                      weight_format="q4_0"))

Modules, in the order a reader meets them: energy (pJ per op and per byte), formats (bits per
weight), chip / chips (hardware and presets), arch / models (architectures and presets),
workload (operators, FLOPs, bytes), engine (placement, time, energy), simulate / report (one
point), power (duty cycle, battery, DVFS), sweep (many points), calibrate (this machine), bench.
`budgets` and `widgets` are loaded on first use.
"""

import importlib

from hardware_model import arch, calibrate, chip, chips, energy, formats, models, power, workload
from hardware_model.arch import Arch
from hardware_model.chip import Chip, CIMArray, MemoryLevel, OperatingPoint
from hardware_model.report import Report
from hardware_model.simulate import simulate
from hardware_model.sweep import sweep

__all__ = [
    "Arch",
    "CIMArray",
    "Chip",
    "MemoryLevel",
    "OperatingPoint",
    "Report",
    "arch",
    "calibrate",
    "chip",
    "chips",
    "energy",
    "formats",
    "models",
    "power",
    "simulate",
    "sweep",
    "workload",
]


def __getattr__(name):
    # Heavier or optional parts load on first use: `hm.widgets` imports ipywidgets and plotly.
    if name in ("widgets", "budgets", "bench"):
        return importlib.import_module(f"hardware_model.{name}")
    raise AttributeError(f"module 'hardware_model' has no attribute {name!r}")
