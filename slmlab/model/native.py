"""Build and load the package's hand-written C++ kernels (``decode_kernel.cpp``,
``norm_kernel.cpp``, ``swiglu_kernel.cpp``, ``rope_kernel.cpp``, ``attention_kernel.cpp``;
``fast_exp.h`` is shared).

Each source is compiled once per machine with the C++ compiler inductor uses (``CXX``,
default g++) against torch's own OpenMP runtime, so that the kernels and torch share one
thread pool and ``torch.set_num_threads``, and against torch's library, whose BLAS
(``sgemm_``) attention_kernel.cpp calls for its matrix products. The library is kept beside
inductor's compiled code in its cache folder, written atomically (whole or absent for any
other process).

Where a kernel cannot be built or loaded (no compiler, another platform), ``load`` returns None
and ``error`` says why; callers then run the same computation with torch ops.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

FLAGS = ("-O3", "-march=native", "-funroll-loops", "-fopenmp", "-shared", "-fPIC")
LIBS = ("-lgomp", "-ltorch_cpu")  # from torch/lib: its OpenMP runtime, its BLAS

_loaded: dict[Path, ctypes.CDLL | str] = {}  # source -> its library, or why there is none


def supported() -> bool:
    """Whether this platform gets the kernels: x86-64 Linux (where inductor, too, builds with
    gcc and -march=native)."""
    return sys.platform == "linux" and platform.machine() == "x86_64"


def build(source: Path) -> Path:
    """Compile ``source`` into a shared library (once; later calls find it). Raises
    RuntimeError with the compiler's message when it fails."""
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    compiler = os.environ.get("CXX", "g++")
    torch_lib = Path(torch.__file__).parent / "lib"
    headers = [h.read_bytes() for h in sorted(source.parent.glob("*.h"))]  # it may include
    key = hashlib.sha256(repr((source.read_bytes(), headers, compiler, FLAGS, LIBS,
                               torch.__version__, platform.node(), str(torch_lib))).encode())
    path = Path(cache_dir()) / "slmlab_kernels" / f"{source.stem}_{key.hexdigest()[:32]}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            built = Path(tmp) / path.name
            done = subprocess.run([compiler, *FLAGS, str(source), "-o", str(built),
                                   f"-L{torch_lib}", *LIBS, f"-Wl,-rpath,{torch_lib}"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{compiler} could not build {source.name}: "
                                   f"{done.stderr.strip()[-500:]}")
            os.replace(built, path)
    return path


def load(source: Path, signatures: dict[str, tuple]) -> ctypes.CDLL | None:
    """The library built from ``source`` with its functions typed, ``{name: (restype,
    argtypes)}``; built at the first call of the process. None if it cannot be had here
    (tried once per process; ``error(source)`` says why)."""
    library = _loaded.get(source)
    if library is None:
        try:
            if not supported():
                raise RuntimeError(f"the C++ kernels are built on x86-64 Linux only, this is "
                                   f"{sys.platform} on {platform.machine()}")
            library = ctypes.CDLL(str(build(source)))
            for name, (restype, argtypes) in signatures.items():
                function = getattr(library, name)
                function.restype, function.argtypes = restype, argtypes
        except (RuntimeError, OSError, AttributeError) as err:
            library = f"{type(err).__name__}: {err}"
        _loaded[source] = library
    return None if isinstance(library, str) else library


def load_for(source: Path, signatures: dict[str, tuple], *tensors: torch.Tensor):
    """``load(source, signatures)`` if the kernel applies to ``tensors``: all float32 on a CPU,
    not inside ``torch.compile`` (there inductor fuses the torch ops instead) and under no
    dispatch mode (``FlopCounterMode``, fake tensors: they must see torch's ops); else None."""
    if (torch.compiler.is_compiling() or _get_current_dispatch_mode() is not None
            or any(t.dtype != torch.float32 or t.device.type != "cpu" for t in tensors)):
        return None
    return load(source, signatures)


class Kernel:
    """One C++ source with its functions' types, ``{name: (restype, argtypes)}``. Calling it,
    ``kernel(*tensors)``, is ``load_for(source, signatures, *tensors)``: the library if it
    applies to ``tensors`` (no tensors: if it can be had at all), else None."""

    def __init__(self, source: Path, signatures: dict[str, tuple]):
        self.source, self.signatures = source, signatures

    def __call__(self, *tensors: torch.Tensor) -> ctypes.CDLL | None:
        return load_for(self.source, self.signatures, *tensors)


def error(source: Path) -> str | None:
    """Why ``load(source)`` gave None (None if it did not, or was not called)."""
    library = _loaded.get(source)
    return library if isinstance(library, str) else None
