"""The hand-written decode step (``decode_kernel.cpp``): build, bind, call.

``CompiledDecoder`` runs a batch-1 float32 step on a CPU through this kernel when it builds,
and through inductor's generated step otherwise (batch > 1, other dtypes, GPUs, no compiler).
Both do the same arithmetic in a different order of additions: their logits agree to float
rounding (tests compare them with the eager step).

Why a hand-written step next to a generated one: the generated step waits at ~18 points per
layer (one per loop it generates), the data need five (the C++ file says which). Measured at
the bench's Llama shapes (288/6/6, 512/8/8, 768/12/12) on a 2-core VM, alternating with
llama2.c's run.c (2 threads): the generated step made 0.86 / 0.90 / 0.97 of llama2.c's
tokens/s, ``generate`` through this kernel 1.10 / 1.01 / 1.07 (medians of 11 runs; single runs
vary by ±15% there). At the larger shapes both stream their weights at about the machine's
read bandwidth: for a float32 step that is the ceiling, whoever writes it.

The kernel is compiled once per source and machine with the C++ compiler inductor uses
(``CXX``, default g++), against torch's own OpenMP runtime so that both share one thread pool
and ``torch.set_num_threads``; it is kept beside the compiled steps in inductor's cache folder.
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

SOURCE = Path(__file__).with_name("decode_kernel.cpp")
FLAGS = ("-O3", "-march=native", "-funroll-loops", "-fopenmp", "-shared", "-fPIC")


class _Layer(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p)
                for name in ("qkv", "out", "gate_up", "down", "norm1", "norm2")]


class _Model(ctypes.Structure):
    _fields_ = [*[(name, ctypes.c_int64) for name in (
                    "d_model", "n_layer", "n_head", "n_kv_head", "head_dim", "d_ff", "vocab",
                    "capacity")],
                ("eps", ctypes.c_double),
                *[(name, ctypes.c_void_p) for name in (
                    "tok_emb", "head", "norm", "cos", "sin", "k_cache", "v_cache")],
                ("layers", ctypes.POINTER(_Layer))]


_library = None  # the loaded kernel; False once a build failed in this process


def supported() -> bool:
    """Whether this platform gets the kernel: x86-64 Linux (where inductor, too, builds with
    gcc and -march=native)."""
    return sys.platform == "linux" and platform.machine() == "x86_64"


def load():
    """The compiled kernel (a ctypes library), building it at the first call; None when it
    cannot be built here (the reason is raised once as the build's error, then remembered)."""
    global _library
    if _library is None:
        _library = False  # until built: a failure is not retried on every step
        library = ctypes.CDLL(str(_build()))
        library.slm_decode_step.restype = ctypes.c_int64
        library.slm_decode_step.argtypes = (ctypes.POINTER(_Model), ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)
        _library = library
    return _library or None


def _build() -> Path:
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    compiler = os.environ.get("CXX", "g++")
    torch_lib = Path(torch.__file__).parent / "lib"  # torch's libgomp: one OpenMP runtime
    source = SOURCE.read_bytes()
    key = hashlib.sha256(repr((source, compiler, FLAGS, torch.__version__, platform.node(),
                               str(torch_lib))).encode()).hexdigest()[:32]
    path = Path(cache_dir()) / "slmlab_decode" / f"kernel_{key}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            built = Path(tmp) / path.name
            done = subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", str(built),
                                   f"-L{torch_lib}", "-lgomp", f"-Wl,-rpath,{torch_lib}"],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{compiler} could not build {SOURCE.name}: "
                                   f"{done.stderr.strip()[-500:]}")
            os.replace(built, path)  # whole or absent, for any other process
    return path


class DecodeKernel:
    """The kernel bound to one model's tensors and one pair of cache buffers.

    Args:
        model: an SLM whose layers are all attention + SwiGLU (CompiledDecoder checks).
        k, v: the decoder's cache buffers, (n_layer, 1, n_kv_head, capacity, head_dim).
    """

    def __init__(self, model, k: torch.Tensor, v: torch.Tensor):
        self.library = load()
        c = model.config
        self._keep = [k, v]  # the kernel holds raw pointers: keep what they point into
        layers = (_Layer * c.n_layer)()
        for i, j in enumerate(model.layer_blocks):
            block = model.blocks[j]
            layers[i] = _Layer(*map(self._pointer, (
                block.mixer.qkv.weight, block.mixer.out.weight, block.mlp.gate_up.weight,
                block.mlp.down.weight, block.norm1.weight, block.norm2.weight)))
        self._layers = layers
        self.model = _Model(c.d_model, c.n_layer, c.n_head, c.n_kv_head, c.head_dim, c.d_ff,
                            c.vocab_size, k.shape[3], float(model.norm.eps),
                            *map(self._pointer, (model.tok_emb.weight, model.head.weight,
                                                 model.norm.weight, model.rope.cos,
                                                 model.rope.sin, k, v)),
                            layers)
        H, Hkv, d = c.n_head, c.n_kv_head, c.head_dim
        self._shared = torch.empty((H + 2 * Hkv) * d + H * d + c.d_model + c.d_ff)
        self.vocab, self.positions = c.vocab_size, model.rope.cos.shape[0]

    def _pointer(self, t: torch.Tensor) -> int:
        if t.dtype != torch.float32 or t.device.type != "cpu" or not t.is_contiguous():
            raise ValueError(f"the decode kernel reads contiguous float32 CPU tensors, got "
                             f"{t.dtype} on {t.device}, contiguous={t.is_contiguous()}")
        self._keep.append(t)
        return t.data_ptr()

    def step(self, token: int, pos: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (1, 1, V) and argmax (1,) of ``token`` at position ``pos``; writes its keys
        and values into the caches at ``pos`` (the caller keeps it inside their capacity)."""
        if not 0 <= token < self.vocab:  # the kernel reads the embedding row unchecked
            raise IndexError(f"token id {token} is outside the vocabulary 0..{self.vocab - 1}")
        if pos >= self.positions:
            raise ValueError(f"position {pos} is beyond RoPE's {self.positions} positions")
        logits = torch.empty(1, 1, self.vocab)
        best = self.library.slm_decode_step(ctypes.byref(self.model), token, pos,
                                            logits.data_ptr(), self._shared.data_ptr())
        if best < 0:
            raise MemoryError("the decode kernel could not allocate its per-thread buffers")
        return logits, torch.tensor([best])
