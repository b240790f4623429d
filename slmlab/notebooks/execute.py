"""``refresh``: run each lab in a fresh kernel in fast mode, then strip it (stored outputs)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from slmlab.notebooks import (
    FAST_ENV,
    _paths,
    _read,
    _validation_error,
    _write_atomic,
    strip_notebook,
)


def refresh(paths, *, timeout: float = 600, kernel_name: str | None = None) -> dict[Path, float]:
    """Execute each notebook in a fresh kernel in fast mode, from its own folder, then strip it.

    The one way maintainers regenerate the checked outputs. A failing cell stops the run and
    leaves that notebook's file untouched.

    Args:
        paths: one ``.ipynb`` path or an iterable of them.
        timeout: seconds allowed per cell.
        kernel_name: a Jupyter kernel name; default: the notebook's own kernelspec.

    Returns:
        Wall-clock seconds per notebook (execution only).
    """
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    options = {} if kernel_name is None else {"kernel_name": kernel_name}
    seconds = {}
    for path in _paths(paths):
        nb = _read(path)
        if (err := _validation_error(nb)) is not None:
            raise ValueError(f"{path}: not valid nbformat, not run: {err}")
        client = NotebookClient(
            nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}, **options
        )
        start = time.perf_counter()
        try:
            client.execute(env={**os.environ, **FAST_ENV})
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
            raise RuntimeError(f"{path}: a cell failed in fast mode; file not written\n{e}") from e
        except NoSuchKernel as e:
            raise ValueError(
                f"{path}: no Jupyter kernel named {e.name!r}; pass kernel_name or fix the "
                "notebook's kernelspec (`jupyter kernelspec list` shows what is installed)"
            ) from e
        seconds[path] = time.perf_counter() - start
        strip_notebook(nb)
        _write_atomic(path, nb)
    return seconds
