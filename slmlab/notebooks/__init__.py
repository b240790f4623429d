"""The maintainers' notebook tool: strip stored outputs, make learner copies, check, refresh.

    python -m slmlab.notebooks strip   FILES...            # clear unchecked outputs, in place
    python -m slmlab.notebooks learner FILES... --out DIR  # solutions replaced by stubs
    python -m slmlab.notebooks check   FILES...            # exit 1 listing every problem
    python -m slmlab.notebooks refresh FILES...            # re-run in fast mode, then strip

The conventions it enforces (COURSE_DESIGN.md, "Conventions"):

- A code cell whose first line is ``# NBVAL_CHECK_OUTPUT`` is *checked*: it keeps its stored
  output and its execution count, because ``pytest --nbval-lax`` compares that output (and
  refuses an output stored without an execution count: "Unrun reference cell has outputs").
  Checked outputs must be text, so widget-view and plotly bundles are dropped from them.
- Every other code cell is stored with no output. Notebook-level ``metadata.widgets`` (where a
  plotly FigureWidget saves megabytes of widget state) and per-cell ``execution`` /
  ``scrolled`` / ``collapsed`` metadata are noise and are removed.
- Exercise solutions sit between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION``
  (the nbgrader convention). Learner copies replace each region, markers included, by a stub
  at the indentation of the BEGIN line.

Each command is also a function (:func:`strip`, ...); :func:`strip_notebook`,
:func:`learner_notebook` and :func:`notebook_problems` work in memory. This file holds strip,
learner and check; ``execute.py`` holds refresh (it runs a kernel); ``cli.py`` the command line.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from pathlib import Path

import nbformat

from slmlab.files import atomic_write_text

__all__ = ["BEGIN", "CHECK_MARKER", "END", "STUB", "check", "is_checked", "learner",
           "learner_notebook", "main", "notebook_problems", "refresh", "strip", "strip_notebook"]

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = ("# YOUR CODE HERE", 'raise NotImplementedError("your code here")')
# Output bundles a checked cell may not keep: they render only with live widget state.
WIDGET_MIMES = ("application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json")
NOISE_CELL_KEYS = ("execution", "scrolled", "collapsed")
FAST_ENV = {"SLMLAB_FAST": "1"}


# ---------------------------------------------------------------- reading and writing


def _paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """Normalise the ``paths`` argument: one path or many, each an existing ``.ipynb`` file."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    try:
        out = [Path(p) for p in paths]
    except TypeError as e:
        raise TypeError(f"paths must be a path or an iterable of paths, got {paths!r}") from e
    if not out:
        raise ValueError("paths is empty: give at least one .ipynb file")
    for p in out:
        if p.suffix != ".ipynb":
            raise ValueError(f"paths: {str(p)!r} is not a notebook; only .ipynb files are allowed")
        if not p.is_file():
            raise FileNotFoundError(f"paths: notebook {str(p)!r} does not exist")
    return out


def _read(path: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat 4; any parse failure becomes a ValueError naming the file."""
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:  # JSON errors, unknown versions, missing keys: all mean "unreadable"
        raise ValueError(f"{path}: not a readable notebook ({type(e).__name__}: {e})") from e


def _validation_error(nb: nbformat.NotebookNode) -> str | None:
    """The first nbformat schema violation, in one line, or None when the notebook is valid."""
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        return str(e).strip().splitlines()[0]
    return None


def _write_atomic(path: Path, nb: nbformat.NotebookNode) -> None:
    """Write ``nb`` as nbformat 4 (sorted keys, indent 1, trailing newline), atomically: a
    crash mid-write leaves the old file intact (slmlab.files)."""
    text = nbformat.writes(nb, version=4)
    atomic_write_text(path, text if text.endswith("\n") else text + "\n")


def _where(name: str, index: int, cell: nbformat.NotebookNode) -> str:
    """How problems name a cell: notebook, 1-based position, and the cell id when present."""
    cid = cell.get("id")
    return f"{name}: cell {index + 1}" + (f" (id {cid!r})" if cid else "")


# ---------------------------------------------------------------- strip


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``."""
    return cell.cell_type == "code" and cell.source.split("\n", 1)[0].strip() == CHECK_MARKER


def _without_widgets(output: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The output minus widget/plotly bundles; None if nothing displayable is left."""
    if "data" not in output:
        return output  # stream and error outputs carry no MIME bundle
    for mime in WIDGET_MIMES:
        output.data.pop(mime, None)
        output.get("metadata", {}).pop(mime, None)
    return output if output.data else None


def _coalesce_streams(outputs: list) -> list:
    """Merge consecutive stream outputs of the same stream: how a kernel chunks text is timing."""
    merged = []
    for o in outputs:
        prev = merged[-1] if merged else {}
        if o.output_type == prev.get("output_type") == "stream" and o.name == prev.name:
            prev.text += o.text
        else:
            merged.append(o)
    return merged


def strip_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip ``nb`` in place (see the module docstring for what is kept) and return it."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for key in NOISE_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            kept = (_without_widgets(o) for o in cell.outputs)
            cell.outputs = _coalesce_streams([o for o in kept if o is not None])
        else:
            cell.outputs = []
            cell.execution_count = None
    return nb


def strip(paths) -> dict[Path, int]:
    """Strip each notebook in place, atomically.

    Args:
        paths: one ``.ipynb`` path or an iterable of them.

    Returns:
        Bytes saved per file (0 when the file was already stripped; it is then not rewritten).
    """
    saved = {}
    for path in _paths(paths):
        before = path.read_bytes()
        nb = _read(path)
        if (err := _validation_error(nb)) is not None:
            raise ValueError(f"{path}: not valid nbformat, not written: {err}")
        strip_notebook(nb)
        if nbformat.writes(nb, version=4).rstrip("\n") + "\n" != before.decode("utf-8"):
            _write_atomic(path, nb)
        saved[path] = len(before) - path.stat().st_size
    return saved


# ---------------------------------------------------------------- learner copies


def _replace_solutions(source: str, where: str) -> tuple[str, int]:
    """Replace every BEGIN..END SOLUTION region of one cell's source by the stub.

    Returns:
        The new source and the number of regions replaced.
    """
    out, begin_line, regions = [], None, 0
    for n, line in enumerate(source.split("\n"), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if begin_line is not None:
                raise ValueError(
                    f"{where}: line {n}: {BEGIN!r} inside the region opened on line "
                    f"{begin_line}; regions cannot nest, close it with {END!r} first"
                )
            begin_line, regions = n, regions + 1
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + s for s in STUB]
        elif marker == END:
            if begin_line is None:
                raise ValueError(f"{where}: line {n}: {END!r} with no {BEGIN!r} before it")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise ValueError(f"{where}: line {begin_line}: {BEGIN!r} is never closed by {END!r}")
    new = "\n".join(out)
    for n, line in enumerate(new.split("\n"), start=1):  # the inverse check: nothing left
        if BEGIN in line or END in line:
            raise ValueError(
                f"{where}: line {n}: solution marker text left in the learner copy; a marker "
                f"must be a line of its own, exactly {BEGIN!r} or {END!r}"
            )
    return new, regions


def learner_notebook(
    nb: nbformat.NotebookNode, name: str = "notebook"
) -> tuple[nbformat.NotebookNode, int]:
    """A learner copy of ``nb`` (which is left unchanged): solutions stubbed, no outputs.

    Markdown and raw cells are copied untouched, but a marker line in one is an error: its
    solution would reach the learner.

    Args:
        nb: the source notebook.
        name: how errors name the notebook (usually its path).

    Returns:
        The learner notebook and the number of solution regions replaced.
    """
    nb = strip_notebook(copy.deepcopy(nb))
    total = 0
    for i, cell in enumerate(nb.cells):
        where = _where(name, i, cell)
        if cell.cell_type != "code":
            if any(line.strip() in (BEGIN, END) for line in cell.source.split("\n")):
                raise ValueError(
                    f"{where}: solution marker in a {cell.cell_type} cell; only code cells "
                    "get their solutions replaced, move the solution into a code cell"
                )
            continue
        cell.source, regions = _replace_solutions(cell.source, where)
        cell.outputs, cell.execution_count = [], None
        total += regions
    return nb, total


def learner(paths, out: str | os.PathLike) -> dict[Path, int]:
    """Write a learner copy of each notebook into folder ``out`` (same file name).

    Every notebook is transformed before any file is written, so one bad notebook writes nothing.

    Args:
        paths: one ``.ipynb`` path or an iterable of them.
        out: the folder for the copies (created if missing); must not hold any of the sources.

    Returns:
        Solution regions replaced, keyed by the written path.
    """
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {type(out).__name__}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} exists and is not a folder")
    copies = {}
    for path in _paths(paths):
        target = out / path.name
        if target.exists() and target.resolve() == path.resolve():
            raise ValueError(f"out: writing {target} would overwrite the source notebook {path}")
        if target in copies:
            raise ValueError(f"paths: two notebooks named {path.name!r} would both go to {target}")
        copies[target] = learner_notebook(_read(path), str(path))
    for target, (nb, _) in copies.items():
        _write_atomic(target, nb)
    return {target: regions for target, (_, regions) in copies.items()}


# ---------------------------------------------------------------- check


def _nbval_checks(source: str) -> bool:
    """True if nbval would compare this cell's output: its marker rule, any line, any ``#``s."""
    lines = (line.strip() for line in source.split("\n"))
    return any(x.startswith("#") and x.lstrip("#").strip() == "NBVAL_CHECK_OUTPUT" for x in lines)


def notebook_problems(nb: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """Every way ``nb`` breaks the conventions, one line each; empty when it is clean."""
    if (err := _validation_error(nb)) is not None:
        return [f"{name}: not valid nbformat: {err}"]  # the cell checks below need the schema
    problems = []
    if "widgets" in nb.metadata:
        problems.append(f"{name}: widget state stored in metadata.widgets (run strip)")
    for i, cell in enumerate(nb.cells):
        where = _where(name, i, cell)
        noise = [k for k in NOISE_CELL_KEYS if k in cell.get("metadata", {})]
        if noise:
            problems.append(f"{where}: cell metadata holds {', '.join(noise)} (run strip)")
        if cell.cell_type != "code":
            continue
        if not is_checked(cell):
            if cell.outputs:
                problems.append(f"{where}: unmarked cell has stored outputs (run strip)")
            if cell.execution_count is not None:
                problems.append(f"{where}: unmarked cell has an execution_count (run strip)")
            if _nbval_checks(cell.source):
                problems.append(
                    f"{where}: nbval checks this cell but strip clears its output; "
                    f"make the first line exactly {CHECK_MARKER!r}"
                )
            continue
        if not cell.outputs:
            problems.append(f"{where}: marked {CHECK_MARKER!r} but has no stored output (refresh)")
        elif cell.execution_count is None:
            problems.append(
                f"{where}: stored output with no execution_count; nbval refuses it "
                "('Unrun reference cell has outputs') (refresh)"
            )
        if any(m in o.get("data", {}) for o in cell.outputs for m in WIDGET_MIMES):
            problems.append(
                f"{where}: checked output holds a widget or plotly bundle; "
                "it must show text (run strip)"
            )
        if any(o.get("output_type") == "error" for o in cell.outputs):
            problems.append(f"{where}: checked output is an error traceback")
    try:
        learner_notebook(nb, name)
    except ValueError as e:
        problems.append(str(e))
    return problems


def check(paths) -> list[str]:
    """All problems in the given notebooks (an unreadable file is one problem, not a crash).

    Args:
        paths: one ``.ipynb`` path or an iterable of them.

    Returns:
        One line per problem, each naming the notebook (and cell); empty when all are clean.
    """
    problems = []
    for path in _paths(paths):
        try:
            nb = _read(path)
        except ValueError as e:
            problems.append(str(e))
            continue
        problems += notebook_problems(nb, str(path))
    return problems


# The last two parts import from the ones above.
from slmlab.notebooks.cli import main  # noqa: E402
from slmlab.notebooks.execute import refresh  # noqa: E402
