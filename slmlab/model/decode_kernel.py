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

The kernel is built and loaded by ``native`` (once per machine, with torch's OpenMP runtime).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from . import native

SOURCE = Path(__file__).with_name("decode_kernel.cpp")
SIGNATURES = {"slm_decode_step": (ctypes.c_int64, (ctypes.c_void_p, ctypes.c_int64,
                                                   ctypes.c_int64, ctypes.c_void_p,
                                                   ctypes.c_void_p))}


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


def load():
    """The compiled kernel (a ctypes library), built at the first call; None when it cannot be
    built here (``native.error(SOURCE)`` says why)."""
    return native.load(SOURCE, SIGNATURES)


class DecodeKernel:
    """The kernel bound to one model's tensors and one pair of cache buffers.

    Args:
        model: an SLM whose layers are all attention + SwiGLU (CompiledDecoder checks).
        k, v: the decoder's cache buffers, (n_layer, 1, n_kv_head, capacity, head_dim).
    """

    def __init__(self, model, k: torch.Tensor, v: torch.Tensor):
        self.library = load()
        if self.library is None:
            raise RuntimeError(native.error(SOURCE))
        if k.shape[1] != 1:
            raise ValueError(f"the decode kernel decodes batch 1, got {k.shape[1]}")
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
        best = self.library.slm_decode_step(ctypes.addressof(self.model), token, pos,
                                            logits.data_ptr(), self._shared.data_ptr())
        if best < 0:
            raise MemoryError("the decode kernel could not allocate its per-thread buffers")
        return logits, torch.tensor([best])
