"""A compiled one-token decode step: the same model, far fewer ops per generated token.

Why: eager PyTorch pays a fixed dispatch cost for every op (3–6 µs on a laptop-class CPU).
A decode step multiplies each weight matrix by one vector and then runs ~30 small ops per
layer (RMSNorm, RoPE, cache write, softmax, SiLU, residual adds); at small widths those ops
cost as much as the matrix products. Torch's inductor compiler fuses them into generated
C++ loops. The step is compiled ahead of time (``torch.export`` + AOTInductor) rather than
with ``torch.compile``: a loaded AOTInductor model is called straight from C++ with the
weights already bound, while a ``torch.compile``'d function passes through Python wrappers
on every call (~0.3 ms). At the bench's Llama shapes that made a token 1.05–1.3× faster,
most at the smallest shape, where that fixed cost weighs most (measured against llama2.c).

How the step stays compilable and fast:
    * each matrix-vector product is written as a sum of products, (x·W row).sum(), so inductor
      generates it too: one parallel loop over the rows of W that streams each row once (the
      loop llama2.c writes by hand; unrolled and with prefetches, ``_compile_options``).
      The small ops between the products (norms, residual adds, RoPE, softmax) fuse into a
      few loops around them; the normalised x that a product reads is stored once
      (``_INDUCTOR_OPTIONS``), not recomputed for every row of W.
      The whole step becomes one generated kernel; with BLAS's matrix-vector call
      for each matrix instead, a token took 1.27–1.45× longer (measured at the bench's three
      Llama shapes). A weight stored transposed (``SLM.optimize_for_decode``) keeps
      the BLAS call, which suits that layout;
    * all layers' keys and values live in one buffer (n_layer, B, H_kv, max_len, d_k); the
      step reads a view of the m cached positions and m is a dynamic size, so one compiled
      step serves every context length and attention reads only the real keys;
    * the step writes the new token's keys and values into their slot, position m of the
      buffer, passed in as a view: the compiled code stores straight into it;
    * per token, the Python around the step is kept to the call itself: the step's inputs for
      each length m (cache views, RoPE's tables) are gathered once and kept, and the step
      finds its position (m) and RoPE's row from the cache's length inside the graph. Each
      tensor op or module attribute in Python costs microseconds, more after a step has
      flushed the CPU's caches: dropping the ~8 ops per token made tokens 1–5% faster at the
      bench's shapes;
    * RoPE uses the cos/sin tables (the real and imaginary parts of the rotation table, so the
      numbers are the same) instead of complex tensors, which inductor cannot generate code
      for, written as one elementwise expression (``rope.rotate_pairs``);
    * attention's core, softmax(q·Kᵀ/√d)·V, is written out here (``_attend``): the eager
      version keeps the cache length as a Python int;
    * the greedy choice (argmax over the vocabulary) is made inside the step too;
    * the weights and the KV cache sit in 2 MB memory pages where Linux offers them
      (``huge_pages``): streaming them takes fewer address translations.

A batch-1 float32 step on an x86-64 Linux CPU goes through a hand-written C++ version of the
same step instead (``decode_kernel``), when a compiler can build it: the generated step's
threads wait for each other at ~18 points per layer (one per loop inductor generates; the
small ops run on one thread while the others wait), the hand-written one at 5, and at the
bench's shapes that was the difference between 0.86–0.97× and 1.01–1.10× llama2.c's
tokens/s. This file's step stays the general path (any batch, dtype, device) and the
reference the kernel is tested against.

Weights are not copied into the compiled step: it reads the model's own tensors, so training
or ``load_state_dict`` between generations is seen (``new_caches`` re-binds them each time).
Prefill (the prompt) runs eagerly on the same buffers; only one-token steps are compiled.
Compiling takes 20–60 s once per model shape, batch size, weight layout and thread count; it is
kept on disk (``torch``'s inductor cache folder, ``slmlab_decode/``), so a later model or
session with the same step only exports it again (a few seconds). It needs a C++ compiler:
if inductor cannot build, the same step runs uncompiled and a warning says so.
"""

from __future__ import annotations

import hashlib
import io
import math
import platform
import re
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..files import atomic_write_bytes
from . import decode_kernel
from .attention import CausalSelfAttention, KVCache
from .huge_pages import use_huge_pages
from .mlp import SwiGLU
from .rope import rotate_pairs

# realize_cpu_acc_reads_threshold=2: a value that reads more than 2 buffers (the RMSNorm
# output, the attention output) is stored once; inductor's default (12) inlined it into the
# matrix-vector loop that reads it, so every row of W re-normalised x. Storing it made a token
# 7–9% faster at the bench's three Llama shapes (measured interleaved with llama2.c).
# memory_planning: the step's intermediate buffers (~150) come from a few pools allocated per
# call, not one malloc each (6–8% more tokens/s at 288/6/6 and 512/8/8).
# package_constants_in_so=False: the package holds code only; the weights are bound at load.
_INDUCTOR_OPTIONS = {"realize_cpu_acc_reads_threshold": 2, "memory_planning": True,
                     "aot_inductor.package_constants_in_so": False}


# Extra C++ compiler flags for the step on x86-64 Linux (see _compile_options).
_EXTRA_CFLAGS = "-funroll-loops -fprefetch-loop-arrays"


def _compile_options() -> dict:
    """_INDUCTOR_OPTIONS, plus _EXTRA_CFLAGS for the C++ compiler on x86-64 Linux.

    Each matrix-vector product is a loop over W's rows whose inner loop adds 8 products at a
    time into one vector register: a few instructions per 32 bytes of W. Unrolled, the loads
    run ahead of the additions; with software prefetches, the next rows are on their way
    while one is summed. Measured: the step's tokens/s +6.5% at 288/6/6 and +8.6% at
    768/12/12 for unrolling (interleaved A/B), and for the prefetches on top 0–5% less time
    in a C copy of the loop over the bench's three shapes (A/B of the whole step: 0.99×,
    1.07×, 1.10×, within this machine's noise). The numbers are the same: neither flag
    changes the order of the additions. Inductor has no option for extra compiler flags;
    its ``cpp.march`` value is written into the command line as ``-march=<value>``, so the
    flags ride along there. Only on x86-64 Linux, where inductor's own default is
    ``-march=native`` (macOS gets no -march at all).
    """
    from torch._inductor import config

    options = dict(_INDUCTOR_OPTIONS)
    if sys.platform == "linux" and platform.machine() == "x86_64":
        options["cpp.march"] = f"{config.cpp.march or 'native'} {_EXTRA_CFLAGS}"
    return options


class CompiledDecoder:
    """Fast cached decoding for an SLM whose layers are plain attention + SwiGLU.

    ``SLM.compile_decode()`` attaches one; ``generate`` then uses it for every decode step.

    A batch-1 float32 step on a CPU runs through the hand-written kernel when it builds here
    (``decode_kernel``: the same step with far fewer points where threads wait); everything
    else through the step inductor generates from ``decode_step``.

    Args:
        model: an SLM with mixer "attention" and mlp "swiglu" in every layer.
        compile: False runs the same step eagerly (the reference the tests compare against).
        kernel: False never uses the hand-written kernel.
    """

    def __init__(self, model: nn.Module, *, compile: bool = True, kernel: bool = True):
        wrong = sorted({f"{type(b.mixer).__name__} + {type(b.mlp).__name__}"
                        for b in model.blocks
                        if type(b.mixer) is not CausalSelfAttention or type(b.mlp) is not SwiGLU})
        if wrong:
            raise ValueError(f"a compiled decode step needs mixer 'attention' and mlp 'swiglu' in "
                             f"every layer, got {', '.join(wrong)}; decode those eagerly")
        self.model = model
        self._module = _DecodeStep(model)  # what torch.export traces
        self._compile = compile
        self._runner = None  # the loaded compiled step, built at the first step that needs it
        self._layout = None  # what the runner was built for (see _current_layout)
        self._weights = {}  # the tensors the runner reads (it keeps raw pointers only)
        self.k = self.v = None  # (n_layer, B, H_kv, max_len, d_k), allocated by new_caches
        self._step_inputs = {}  # m -> the inputs of a step at cache length m but its token
        self._use_kernel = compile and kernel  # until it cannot be built here
        self._kernel = None  # a DecodeKernel bound to today's tensors, made at the first step
        self.kernel_error = None  # why the kernel is not used, if it was tried and refused
        self.last_step = None  # which step ran last: "kernel", "compiled" or "eager"

    @property
    def compiled(self) -> bool:
        """Whether steps run compiled (False when built with compile=False or after a failed
        compile fell back)."""
        return self._compile

    def new_caches(self, batch: int, max_len: int) -> list[KVCache]:
        """Per-layer KV caches whose buffers are slices of this decoder's shared buffers."""
        m, c = self.model, self.model.config
        shape = (c.n_layer, batch, c.n_kv_head, max_len, c.head_dim)
        dtype, device = m.tok_emb.weight.dtype, m.device
        if self.k is None or self.k.shape != shape or self.k.dtype != dtype \
                or self.k.device != device:
            self.k = torch.zeros(shape, dtype=dtype, device=device)
            self.v = torch.zeros(shape, dtype=dtype, device=device)
            use_huge_pages((self.k, self.v))
            self._step_inputs = {}
        m.rope.tables_to(device)
        self._kernel = None  # bound again at the next step: the tensors may have changed
        kept = next(iter(self._step_inputs.values()), None)  # (cos, sin, ...) of any length
        if kept is not None and kept[0] is not m.rope.cos:  # tables moved or replaced
            self._step_inputs = {}
        if self._runner is not None:
            if self._current_layout() == self._layout:
                self._weights = _bind_weights(self._runner, self._module)  # today's tensors
            else:  # new batch size, weight layout or thread count: another compiled step
                self._runner = None
        return [KVCache.on(self.k[i], self.v[i]) for i in range(c.n_layer)]

    def step(self, token: torch.Tensor,
             caches: list[KVCache]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, 1, V) for the newest token of each row, ``token`` (B,), after the tokens
        held in ``caches``, and the greedy choice, their argmax (B,)."""
        m = caches[0].length  # cached tokens (>= 1: prefill came first); the new one is at m
        if m + 1 > self.k.shape[3]:
            raise ValueError(f"KV cache full: {m + 1} tokens > capacity {self.k.shape[3]}")
        if self._use_kernel and self._ready_kernel():
            logits, greedy = self._kernel.step(int(token[0]), m)
            self.last_step = "kernel"
        else:
            logits, greedy = self._generated_step(token, m)
        for cache in caches:
            cache.length = m + 1
        return logits, greedy

    def _generated_step(self, token: torch.Tensor, m: int):
        """``decode_step`` at cache length m: compiled by inductor, or eager (see step)."""
        # The step's other inputs for length m, gathered once per length: a decode step costs
        # a few µs of Python per tensor op or module attribute, the more so with the CPU's
        # caches cold after a step.
        rest = self._step_inputs.get(m)
        if rest is None:  # RoPE's tables, the m cached keys/values, the slot for the new ones
            rope = self.model.rope
            rest = (rope.cos, rope.sin, self.k[..., :m, :], self.v[..., :m, :],
                    self.k[..., m, :], self.v[..., m, :])
            self._step_inputs[m] = rest
        if not token.is_contiguous():  # the compiled step reads the ids at stride 1
            token = token.contiguous()
        inputs = (token, *rest)
        # Compiled with m symbolic from 2 up (torch.export fixes sizes 0 and 1 as constants),
        # so a one-token cache takes the uncompiled step once.
        if self._compile and m >= 2:
            logits, greedy = self._run_compiled(*inputs)
        else:
            logits, greedy = decode_step(self.model, *inputs)
        self.last_step = "compiled" if self._compile and m >= 2 else "eager"  # after a fallback
        return logits, greedy

    def _ready_kernel(self) -> bool:
        """Bind the hand-written kernel if it is not bound; False if it cannot serve here,
        and the generated step runs instead: tensors it does not read (another dtype or
        device, a transposed weight, batch > 1; until new_caches binds again) or no kernel
        on this machine (no compiler, another platform; for good). ``kernel_error`` says why."""
        if self._kernel is None:
            try:
                self._kernel = decode_kernel.DecodeKernel(self.model, self.k, self.v)
            except ValueError as err:
                self.kernel_error, self._kernel = f"{err}", False
            except (RuntimeError, OSError) as err:  # cannot be built or loaded here
                self.kernel_error, self._use_kernel = f"{type(err).__name__}: {err}", False
            else:
                use_huge_pages(_named_tensors(self._module).values())
        return bool(self._kernel)

    def _run_compiled(self, *inputs: torch.Tensor):
        if self._runner is None:
            layout = self._current_layout()
            try:
                self._runner = _build_runner(self._module, inputs, layout)
            except Exception as err:  # inductor could not build (e.g. no C++ compiler)
                warnings.warn(f"compiling the decode step failed ({type(err).__name__}: "
                              f"{err}); decoding uncompiled instead", RuntimeWarning,
                              stacklevel=3)
                self._compile = False
                return decode_step(self.model, *inputs)
            self._layout = layout
            self._weights = _bind_weights(self._runner, self._module)
        # The loader's own call, not AOTICompiledModel.__call__, which re-parses the input and
        # output specs on every call (~0.1 ms).
        return self._runner.loader.boxed_run(list(inputs))

    def _current_layout(self) -> tuple:
        """Everything a compiled step is specialised to besides the code: batch size and
        capacity (the cache's strides), every weight's shape, strides, dtype and device, and
        torch's thread count (with one thread inductor generates no parallel loops)."""
        return (tuple(self.k.shape), torch.get_num_threads()) + tuple(
            (name, tuple(t.shape), t.stride(), t.dtype, t.device)
            for name, t in _named_tensors(self._module).items())


class _DecodeStep(nn.Module):
    """The model's decode step as a module, the form torch.export traces."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, token, cos, sin, k_cache, v_cache, k_slot, v_slot):
        return decode_step(self.model, token, cos, sin, k_cache, v_cache, k_slot, v_slot)


def _named_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer by name, tied ones under each of their names."""
    return {**dict(module.named_parameters(remove_duplicate=False)),
            **dict(module.named_buffers(remove_duplicate=False))}


def _bind_weights(runner, module: nn.Module) -> dict[str, torch.Tensor]:
    """Point the compiled step at the module's current tensors (no copy), kept in 2 MB pages
    (``huge_pages``: a no-op once they are). The runner keeps raw pointers only: the caller
    keeps the returned tensors for as long as it runs."""
    tensors = _named_tensors(module)
    weights = {name: tensors[name] for name in runner.get_constant_fqns()}
    runner.load_constants(weights, check_full_update=True, user_managed=True)
    use_huge_pages(weights.values())
    return weights


def _build_runner(module: nn.Module, inputs: tuple[torch.Tensor, ...], layout: tuple):
    """Export the step, compile it with AOTInductor (or find it compiled on disk) and load
    it; the weights are bound apart (``_bind_weights``).

    Args:
        module: the _DecodeStep to trace. inputs: a real step's inputs (decode_step's).
        layout: ``CompiledDecoder._current_layout()``, part of the file's name.
    """
    from torch._inductor.cpu_vec_isa import pick_vec_isa
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    k = inputs[3]  # (n_layer, B, H_kv, m, d): the first m positions of the cache buffer
    capacity = k.stride(2) // k.stride(3)  # the buffer's max_len
    # The new token sits at position m: inside the cache and the rotation tables.
    m = torch.export.Dim("m", min=2, max=max(min(capacity, inputs[1].shape[0]) - 1, 3))
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # Torch's tracing deep-copies graphs through a deprecated pytree check: a FutureWarning
        # per compile that says nothing to a learner.
        warnings.filterwarnings("ignore", re.escape("`isinstance(treespec, LeafSpec)`"),
                                FutureWarning)
        # Plain tensors with the real inputs' strides (the real ones are inference tensors,
        # which tracing may not use) and a half-full cache: inductor shapes its parallel loops
        # for the example's length, so the file does not depend on which m compiled it.
        shapes = [t.shape for t in inputs]
        shapes[3] = shapes[4] = k.shape[:3] + (max(2, capacity // 2),) + k.shape[4:]
        examples = tuple(torch.empty_strided(shape, t.stride(), dtype=t.dtype,
                                             device=t.device).zero_()
                         for shape, t in zip(shapes, inputs))
        program = torch.export.export(module, examples,
                                      dynamic_shapes=(None, None, None, {3: m}, {3: m},
                                                      None, None))
        # The compiled file depends on the traced program, the layout, the options, torch and
        # the CPU's vector instructions: its name hashes them all, so a change compiles anew.
        options = _compile_options()
        key = repr((torch.__version__, str(pick_vec_isa()), options, str(program), layout))
        folder = Path(cache_dir()) / "slmlab_decode"
        path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.pt2"
        if not path.exists():
            package = io.BytesIO()
            torch._inductor.aoti_compile_and_package(  # a copy: it adds its own options
                program, package_path=package, inductor_configs=options)
            atomic_write_bytes(path, package.getvalue())  # whole or absent, for any reader
        return torch._inductor.aoti_load_package(
            str(path), device_index=-1 if k.device.index is None else k.device.index)


def decode_step(model, token, cos, sin, k_cache, v_cache, k_slot, v_slot):
    """The decode step as plain tensor code (what torch.export traces): reads the m cached
    keys/values and writes the new token's into their slot.

    Args:
        token: (B,) ids of the newest token. cos, sin: (max_seq_len, d/2) rotation tables.
        k_cache, v_cache: (n_layer, B, H_kv, m, d) keys/values of the m earlier tokens.
        k_slot, v_slot: (n_layer, B, H_kv, d) where the new token's keys/values go
            (position m of the cache buffer).

    Returns:
        logits (B, 1, V) and their argmax (B,).
    """
    B, m = token.shape[0], k_cache.shape[3]  # the new token's position is m
    H, Hkv, d = model.config.n_head, model.config.n_kv_head, model.config.head_dim
    cos, sin = cos[m], sin[m]  # (d/2,)
    # Rows of (B, C), not (B, 1, C): a size-1 middle dim gets a zero stride in the graph,
    # and BLAS then copies every matmul's input first.
    x = model.tok_emb(token)  # (B, C)
    new_k, new_v = [], []
    for i, j in enumerate(model.layer_blocks):
        block = model.blocks[j]
        qkv = _matvec(block.norm1(x), block.mixer.qkv.weight).view(B, H + 2 * Hkv, d)
        qk = rotate_pairs(qkv[:, : H + Hkv], cos, sin)  # RoPE on queries and keys
        # Grouped-query attention: query heads g·h .. g·h + g - 1 share K/V head h.
        q = qk[:, :H].view(B, Hkv, H // Hkv, d)
        k, v = qk[:, H:, None], qkv[:, H + Hkv :, None]  # (B, Hkv, 1, d)
        y = _attend(q, k_cache[i], v_cache[i], k, v)  # (B, Hkv, H/Hkv, d)
        x = x + _matvec(y.reshape(B, H * d), block.mixer.out.weight)
        # SwiGLU with its two products as _matvec's.
        gate, up = _matvec(block.norm2(x), block.mlp.gate_up.weight).chunk(2, dim=-1)
        x = x + _matvec(SwiGLU.glu(gate, up), block.mlp.down.weight)
        new_k.append(k[:, :, 0])
        new_v.append(v[:, :, 0])
    k_slot.copy_(torch.stack(new_k))
    v_slot.copy_(torch.stack(new_v))
    logits = _matvec(model.norm(x), model.head.weight)  # (B, V)
    return logits[:, None], logits.argmax(dim=-1)


def _matvec(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x·Wᵀ for a few rows x (B, in) and a weight (out, in): (B, out).

    When traced for compiling (torch.export, torch.compile) with W's rows contiguous, it is
    written as a sum of products, which inductor turns into a loop over W's rows fused with
    the ops around it (module docstring).
    Otherwise, eagerly (where that form would build a (B, out, in) temporary) or with W
    stored transposed, it is the BLAS product.
    """
    if torch.compiler.is_compiling() and weight.stride(-1) == 1:
        return (x[:, None, :] * weight).sum(dim=-1)
    return F.linear(x, weight)


def _attend(q, k_cache, v_cache, k, v) -> torch.Tensor:
    """softmax(q·[K; k]ᵀ/√d)·[V; v] without concatenating the new key onto the cache.

    The two parts share one maximum and one normaliser (the merge step of online softmax),
    and the division happens once on the (g, d) output instead of on the (g, m) weights.

    Args:
        q: (B, Hkv, g, d) queries. k_cache, v_cache: (B, Hkv, m, d). k, v: (B, Hkv, 1, d).
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    s_cache = (q @ k_cache.transpose(-1, -2)).float() * scale  # (B, Hkv, g, m)
    s_new = (q @ k.transpose(-1, -2)).float() * scale  # (B, Hkv, g, 1)
    top = torch.maximum(s_cache.amax(dim=-1, keepdim=True), s_new)
    w_cache, w_new = (s_cache - top).exp(), (s_new - top).exp()
    y = w_cache.to(q.dtype) @ v_cache + w_new.to(q.dtype) * v  # (B, Hkv, g, d)
    return y / (w_cache.sum(dim=-1, keepdim=True) + w_new).to(q.dtype)

