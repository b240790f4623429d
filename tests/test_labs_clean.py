"""Every committed lab is stripped, its checked cells hold outputs, and its learner copy works.

The labs are globbed at collection time, so a new lab is covered the moment it lands.
"""

from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from slmlab import notebooks as nbt

LABS = sorted((Path(__file__).resolve().parent.parent / "labs").glob("*.ipynb"))


def test_labs_exist():
    assert LABS, "no labs/*.ipynb found"
    assert LABS[0].name.startswith("00_"), f"the first lab should be 00_..., got {LABS[0].name}"


@pytest.mark.parametrize("lab", LABS, ids=[p.stem for p in LABS])
def test_lab_is_clean(lab):
    problems = nbt.check(lab)
    assert problems == [], "run `make strip` (or refresh):\n" + "\n".join(problems)


@pytest.mark.parametrize("lab", LABS, ids=[p.stem for p in LABS])
def test_learner_copy_has_no_solution_and_compiles(lab, tmp_path):
    source = nbformat.read(lab, as_version=4)
    # Independent count: marker lines in the source's code cells.
    begins = sum(
        line.strip() == nbt.BEGIN
        for cell in source.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
    )
    [(path, regions)] = nbt.learner(lab, tmp_path).items()
    assert regions == begins
    copy = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in copy.cells] == [c.cell_type for c in source.cells]
    stubs = 0
    for i, (cell, orig) in enumerate(zip(copy.cells, source.cells), start=1):
        if cell.cell_type != "code":
            assert cell.source == orig.source, f"cell {i}: markdown must be copied untouched"
            continue
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
        assert cell.outputs == [] and cell.execution_count is None
        stubs += cell.source.count('raise NotImplementedError("your code here")')
        python = TransformerManager().transform_cell(cell.source)  # magics become calls
        compile(python, f"{lab.name} cell {i}", "exec")
    assert stubs == begins
