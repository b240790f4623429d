"""Interactive widgets: the chip explorer and the "can it run here?" grid.

    ex = hm.widgets.explorer("llama-3.2-1b", "raspberry-pi-5", weight_format="q4_0")
    grid = hm.widgets.can_it_run_grid()          # the last expression of a cell shows it

Every control calls `update()`, which runs the model and writes the result into one plotly
FigureWidget (and, for the explorer, an HTML readout). The explorer runs `simulate` once per
update; the grid runs one `sweep` over every model x chip x format x context of its menus when
it is built, so an update only looks the numbers up. Nothing needs a browser: set a control's
`.value` from code (or call `update()`) and read `figure.data` back, as the tests and
`bench_widgets` do.

Modules: controls (shared menus and registries), chip_explorer (`explorer`, `with_cim`,
the trace constants, the compute-in-memory what-if), grid (`can_it_run_grid`), bench
(`bench_widgets`). Every public name is re-exported here.
"""

from hardware_model.widgets.bench import bench_widgets
from hardware_model.widgets.chip_explorer import (
    ENERGY,
    NOMINAL,
    OPERATORS,
    ROOF_MAIN,
    ROOF_ON_CHIP,
    SRAM_MB,
    STEP,
    WHAT_IF_CIM_PJ_PER_MAC,
    Explorer,
    explorer,
    with_cim,
)
from hardware_model.widgets.controls import CONTEXTS
from hardware_model.widgets.grid import GRID_METRICS, CanItRunGrid, can_it_run_grid

__all__ = [
    "CONTEXTS",
    "ENERGY",
    "GRID_METRICS",
    "NOMINAL",
    "OPERATORS",
    "ROOF_MAIN",
    "ROOF_ON_CHIP",
    "SRAM_MB",
    "STEP",
    "WHAT_IF_CIM_PJ_PER_MAC",
    "CanItRunGrid",
    "Explorer",
    "bench_widgets",
    "can_it_run_grid",
    "explorer",
    "with_cim",
]
