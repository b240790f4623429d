"""Tests for slmlab.notebooks: strip, learner copies, check, refresh, and the command line.

Every notebook here is built by hand with nbformat in tmp_path, so each expected result is
written out independently of the tool.
"""

import json
import os

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbformat.v4 import (
    new_code_cell,
    new_markdown_cell,
    new_notebook,
    new_output,
)

from slmlab import notebooks as nbt

WIDGET = "application/vnd.jupyter.widget-view+json"
PLOTLY = "application/vnd.plotly.v1+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def stream(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def display(data):
    return new_output("display_data", data=data, metadata={k: {"x": 1} for k in data})


def notebook(*cells, **metadata):
    nb = new_notebook(cells=list(cells), metadata={"kernelspec": KERNELSPEC, **metadata})
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    return nb


def write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    return path


def read(path):
    return nbformat.read(path, as_version=4)


def messy(tmp_path):
    """A notebook as JupyterLab leaves it after a run with a FigureWidget."""
    nb = notebook(
        new_markdown_cell("# Title", metadata={"collapsed": True}),
        new_code_cell(
            "x = 1\nprint(x)",
            execution_count=1,
            outputs=[stream("1\n")],
            metadata={
                "scrolled": True,
                "tags": ["keep-me"],
                "execution": {"iopub.status.idle": "2025-01-01T00:00:00Z"},
            },
        ),
        new_code_cell(
            "# NBVAL_CHECK_OUTPUT\nprint('a'); print('b'); fig",
            execution_count=2,
            outputs=[
                stream("a\n"),
                stream("b\n"),
                display({WIDGET: {"model_id": "m"}, "text/plain": "FigureWidget()"}),
                display({PLOTLY: {"data": []}}),
                stream("warn\n", name="stderr"),
            ],
            metadata={"collapsed": False},
        ),
        new_code_cell("y = 2\n# NBVAL_CHECK_OUTPUT", execution_count=3, outputs=[stream("2\n")]),
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {"m": "x" * 5000}}},
    )
    return write(tmp_path / "lab.ipynb", nb)


# ---------------------------------------------------------------- strip


def test_strip_clears_unmarked_keeps_marked_text(tmp_path):
    path = messy(tmp_path)
    nbt.strip(path)
    nb = read(path)
    md, plain, marked, late = nb.cells
    assert "widgets" not in nb.metadata
    assert md.source == "# Title" and md.metadata == {}
    assert plain.outputs == [] and plain.execution_count is None
    assert plain.metadata == {"tags": ["keep-me"]}  # only the noise keys go
    assert marked.execution_count == 2 and marked.metadata == {}
    assert [o.output_type for o in marked.outputs] == ["stream", "display_data", "stream"]
    assert marked.outputs[0].text == "a\nb\n"  # consecutive stdout chunks merged
    assert marked.outputs[1].data == {"text/plain": "FigureWidget()"}
    assert WIDGET not in marked.outputs[1].metadata
    assert marked.outputs[2].name == "stderr" and marked.outputs[2].text == "warn\n"
    # The marker must be the first line; elsewhere it does not protect the output.
    assert late.outputs == [] and late.execution_count is None
    assert [c.id for c in nb.cells] == ["c0", "c1", "c2", "c3"]


def test_strip_reports_bytes_saved_and_writes_stable_json(tmp_path):
    path = messy(tmp_path)
    before = path.stat().st_size
    saved = nbt.strip([str(path)])
    after = path.stat().st_size
    assert saved == {path: before - after} and before - after > 5000  # the widget state went
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["nbformat"] == 4
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def test_strip_is_atomic_and_idempotent(tmp_path):
    path = messy(tmp_path)
    os.chmod(path, 0o640)
    nbt.strip(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.ipynb"]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o640
    inode, content = path.stat().st_ino, path.read_bytes()
    assert nbt.strip(path) == {path: 0}
    assert path.stat().st_ino == inode and path.read_bytes() == content  # not rewritten


def test_strip_failed_replace_leaves_original_and_no_temp(tmp_path, monkeypatch):
    path = messy(tmp_path)
    original = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        nbt.strip(path)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.ipynb"]


def test_strip_bad_paths(tmp_path):
    with pytest.raises(ValueError, match="paths is empty"):
        nbt.strip([])
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"notes\.txt.*only \.ipynb"):
        nbt.strip(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="missing.ipynb"):
        nbt.strip(tmp_path / "missing.ipynb")
    with pytest.raises(TypeError, match="paths must be"):
        nbt.strip(3)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.ipynb: not a readable notebook"):
        nbt.strip(broken)


def test_strip_refuses_schema_invalid_notebook(tmp_path):
    path = write(tmp_path / "bad.ipynb", notebook(new_code_cell("x = 1")))
    data = json.loads(path.read_text())
    data["cells"][0]["execution_count"] = "seven"
    path.write_text(json.dumps(data))
    original = path.read_bytes()
    with pytest.raises(ValueError, match="bad.ipynb: not valid nbformat"):
        nbt.strip(path)
    assert path.read_bytes() == original


# ---------------------------------------------------------------- learner

SOLVED = """import math


def area(r):
    \"\"\"Area of a circle.\"\"\"
    ### BEGIN SOLUTION
    secret_value = math.pi * r**2
    return secret_value
    ### END SOLUTION


### BEGIN SOLUTION
answer = area(2)  # secret_answer
### END SOLUTION
print(answer)"""

STUBBED = """import math


def area(r):
    \"\"\"Area of a circle.\"\"\"
    # YOUR CODE HERE
    raise NotImplementedError("your code here")


# YOUR CODE HERE
raise NotImplementedError("your code here")
print(answer)"""


def exercise(tmp_path, name="ex.ipynb"):
    nb = notebook(
        new_markdown_cell("Write `area`; the solution sits after `### BEGIN SOLUTION`."),
        new_code_cell(SOLVED, execution_count=4, outputs=[stream("12.56\n")]),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=5, outputs=[stream("1\n")]),
    )
    return write(tmp_path / name, nb)


def test_learner_replaces_regions_and_clears_outputs(tmp_path):
    src = exercise(tmp_path)
    original = src.read_bytes()
    result = nbt.learner(src, tmp_path / "learner")
    copy_path = tmp_path / "learner" / "ex.ipynb"
    assert result == {copy_path: 2}
    assert src.read_bytes() == original  # the source is not touched
    nb = read(copy_path)
    assert nb.cells[0].source == read(src).cells[0].source  # markdown untouched
    assert nb.cells[1].source == STUBBED
    for cell in nb.cells[1:]:
        assert cell.outputs == [] and cell.execution_count is None
    text = copy_path.read_text()
    assert "secret" not in text and "BEGIN SOLUTION\\n" not in text
    assert sorted(p.name for p in (tmp_path / "learner").iterdir()) == ["ex.ipynb"]


def test_learner_copy_compiles_and_stub_raises(tmp_path):
    nbt.learner(exercise(tmp_path), tmp_path / "out")
    nb = read(tmp_path / "out" / "ex.ipynb")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for source in code:
        compile(TransformerManager().transform_cell(source), "<cell>", "exec")
    namespace = {}
    with pytest.raises(NotImplementedError, match="your code here"):
        exec(code[0], namespace)
    with pytest.raises(NotImplementedError):
        namespace["area"](1.0)  # the def ran before the top-level stub raised


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1", r"line 1: '### BEGIN SOLUTION' is never closed"),
        ("x = 1\n### END SOLUTION", r"line 2: '### END SOLUTION' with no '### BEGIN"),
        (
            "### BEGIN SOLUTION\n  ### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION",
            r"line 2: .*opened on line 1.*cannot nest",
        ),
        ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION", r"line 2: '### END SOLUTION' with no"),
        ("x = 1  ### BEGIN SOLUTION", r"line 1: solution marker text left"),
    ],
)
def test_learner_unbalanced_markers_name_notebook_and_cell(tmp_path, source, message):
    nb = notebook(new_markdown_cell("intro"), new_code_cell(source))
    path = write(tmp_path / "bad.ipynb", nb)
    with pytest.raises(ValueError, match=rf"bad\.ipynb: cell 2 \(id 'c1'\): {message}"):
        nbt.learner(path, tmp_path / "out")
    assert not (tmp_path / "out" / "bad.ipynb").exists()


def test_learner_writes_nothing_when_any_notebook_is_bad(tmp_path):
    good = exercise(tmp_path, "a.ipynb")
    bad = write(tmp_path / "b.ipynb", notebook(new_code_cell("### BEGIN SOLUTION")))
    with pytest.raises(ValueError, match="b.ipynb"):
        nbt.learner([good, bad], tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_learner_refuses_marker_in_markdown_and_bad_out(tmp_path):
    nb = notebook(new_markdown_cell("### BEGIN SOLUTION\nthe answer is 42\n### END SOLUTION"))
    path = write(tmp_path / "md.ipynb", nb)
    with pytest.raises(ValueError, match=r"md\.ipynb: cell 1 .*markdown cell"):
        nbt.learner(path, tmp_path / "out")
    src = exercise(tmp_path)
    with pytest.raises(ValueError, match="would overwrite the source"):
        nbt.learner(src, tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        nbt.learner(src, tmp_path / "file")
    with pytest.raises(TypeError, match="out must be a folder path"):
        nbt.learner(src, None)


# ---------------------------------------------------------------- check


def test_check_lists_every_problem(tmp_path):
    path = messy(tmp_path)
    problems = "\n".join(nbt.check(path))
    assert "lab.ipynb: widget state stored in metadata.widgets" in problems
    assert "cell 1 (id 'c0'): cell metadata holds collapsed" in problems
    assert "cell 2 (id 'c1'): cell metadata holds execution, scrolled" in problems
    assert "cell 2 (id 'c1'): unmarked cell has stored outputs" in problems
    assert "cell 2 (id 'c1'): unmarked cell has an execution_count" in problems
    assert "cell 3 (id 'c2'): checked output holds a widget or plotly bundle" in problems
    assert "cell 4 (id 'c3'): nbval checks this cell but strip clears its output" in problems


def test_check_passes_after_strip_but_for_a_misplaced_marker(tmp_path):
    path = messy(tmp_path)
    # widgets; c0 noise; c1 noise, outputs, count; c2 noise, bundle; c3 outputs, count, marker
    assert len(nbt.check(path)) == 10
    nbt.strip(path)
    # Strip cannot move a marker to the first line, so that one problem stays.
    [problem] = nbt.check(path)
    assert "cell 4 (id 'c3'): nbval checks this cell" in problem
    nbt.strip(exercise(tmp_path))
    assert nbt.check(tmp_path / "ex.ipynb") == []


def test_check_marked_cell_needs_output_and_execution_count(tmp_path):
    nb = notebook(
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)", outputs=[stream("2\n")]),
        new_code_cell(
            "# NBVAL_CHECK_OUTPUT\n1/0",
            execution_count=3,
            outputs=[new_output("error", ename="ZeroDivisionError", evalue="", traceback=[])],
        ),
    )
    problems = nbt.check(write(tmp_path / "m.ipynb", nb))
    assert len(problems) == 3
    assert (
        "cell 1 (id 'c0'): marked '# NBVAL_CHECK_OUTPUT' but has no stored output" in (problems[0])
    )
    assert "cell 2 (id 'c1'): stored output with no execution_count" in problems[1]
    assert "Unrun reference cell has outputs" in problems[1]
    assert "cell 3 (id 'c2'): checked output is an error traceback" in problems[2]


def test_check_reports_markers_and_invalid_files(tmp_path):
    unbalanced = write(tmp_path / "u.ipynb", notebook(new_code_cell("### BEGIN SOLUTION\nx=1")))
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    invalid = write(tmp_path / "inv.ipynb", notebook(new_code_cell("x")))
    data = json.loads(invalid.read_text())
    data["cells"][0]["execution_count"] = "seven"
    invalid.write_text(json.dumps(data))
    problems = nbt.check([unbalanced, broken, invalid])
    assert len(problems) == 3
    assert (
        "u.ipynb: cell 1 (id 'c0'): line 1: '### BEGIN SOLUTION' is never closed" in (problems[0])
    )
    assert "broken.ipynb: not a readable notebook" in problems[1]
    assert "inv.ipynb: not valid nbformat" in problems[2]


def test_cli_check_exit_status_and_output(tmp_path, capsys):
    dirty, clean = messy(tmp_path), exercise(tmp_path)
    nbt.strip(clean)
    capsys.readouterr()
    assert nbt.main(["check", str(clean)]) == 0
    assert "1 notebook(s) clean" in capsys.readouterr().out
    assert nbt.main(["check", str(clean), str(dirty)]) == 1
    captured = capsys.readouterr()
    assert "lab.ipynb: widget state stored" in captured.out
    assert "problem(s)" in captured.err


def test_cli_strip_and_learner(tmp_path, capsys):
    # main() is what `python -m slmlab.notebooks` runs; a subprocess would re-import nbformat,
    # which costs seconds here, so the command line is driven in-process.
    path = messy(tmp_path)
    before = path.stat().st_size
    assert nbt.main(["strip", str(path)]) == 0
    assert f"saved {before - path.stat().st_size:,} bytes" in capsys.readouterr().out
    assert nbt.main(["learner", str(path), "--out", str(tmp_path / "l")]) == 0
    assert (tmp_path / "l" / "lab.ipynb").is_file()
    assert nbt.main(["learner", str(tmp_path / "nope.ipynb"), "--out", "x"]) == 1
    with pytest.raises(SystemExit) as exit_info:
        nbt.main(["learner", str(path)])  # --out is required
    assert exit_info.value.code == 2


# ---------------------------------------------------------------- refresh


def test_refresh_runs_fast_mode_in_own_folder_then_strips(tmp_path, monkeypatch):
    monkeypatch.delenv("SLMLAB_FAST", raising=False)
    folder = tmp_path / "labdir"
    folder.mkdir()
    (folder / "data.txt").write_text("beside")
    nb = notebook(
        new_code_cell("import os\nprint('noise')"),
        new_code_cell(
            "# NBVAL_CHECK_OUTPUT\n"
            "print(os.environ.get('SLMLAB_FAST'), os.path.basename(os.getcwd()))\n"
            "print(open('data.txt').read())"
        ),
    )
    path = write(folder / "lab.ipynb", nb)
    seconds = nbt.refresh(path)
    assert set(seconds) == {path} and seconds[path] > 0
    out = read(path)
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
    assert out.cells[1].execution_count == 2
    assert [o.text for o in out.cells[1].outputs] == ["1 labdir\nbeside\n"]
    assert "execution" not in out.cells[1].metadata  # nbclient's timing record is stripped
    assert nbt.check(path) == []
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt", "lab.ipynb"]


def test_refresh_bad_arguments_leave_file_untouched(tmp_path):
    path = exercise(tmp_path)
    original = path.read_bytes()
    with pytest.raises(ValueError, match="no Jupyter kernel named 'no-such-kernel'"):
        nbt.refresh(path, kernel_name="no-such-kernel")
    for bad in (0, -1, "600", True):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            nbt.refresh(path, timeout=bad)
    assert path.read_bytes() == original
