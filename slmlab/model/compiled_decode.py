"""A compiled one-token decode step: the same model, far fewer ops per generated token.

Why: eager PyTorch pays a fixed dispatch cost for every op (3–6 µs on a laptop-class CPU).
A decode step multiplies each weight matrix by one vector and then runs ~30 small ops per
layer (RMSNorm, RoPE, cache write, softmax, SiLU, residual adds); at small widths those ops
cost as much as the matrix products. ``torch.compile`` (its inductor backend) fuses them into
generated C++ loops, and with ``cpp_wrapper`` the loops are launched from C++, not Python.

How the step stays compilable and fast:
    * each matrix-vector product is written as a sum of products, (x·W row).sum(), so inductor
      generates it too: one parallel loop over the rows of W that streams each row once (the
      loop llama2.c writes by hand). The small ops between the products (norms, residual
      adds, RoPE, softmax) fuse into a few loops around them; the normalised x that a product
      reads is stored once (``_INDUCTOR_OPTIONS``), not recomputed for every row of W.
      The whole step becomes one generated kernel; with BLAS's matrix-vector call
      for each matrix instead, a token took 1.27–1.45× longer (measured at the bench's three
      Llama shapes). A weight stored transposed (``SLM.optimize_for_decode``) keeps
      the BLAS call, which suits that layout;
    * all layers' keys and values live in one buffer (n_layer, B, H_kv, max_len, d_k); the
      step reads a view of the m cached positions and treats m as a dynamic size, so one
      compiled graph serves every context length and attention reads only the real keys;
    * the step returns the new token's keys and values, and one copy outside the graph stores
      them (a graph that wrote into its inputs would copy them back whole);
    * RoPE uses the cos/sin tables (the real and imaginary parts of the rotation table, so the
      numbers are the same) instead of complex tensors, which inductor cannot generate code for;
    * attention's core, softmax(q·Kᵀ/√d)·V, is written out here (``_attend``): the eager
      version keeps the cache length as a Python int;
    * the greedy choice (argmax over the vocabulary) is made inside the graph too.

Prefill (the prompt) runs eagerly on the same buffers; only one-token steps are compiled.
Compiling takes 10–60 s once per model shape and batch size (later models of the same shape
reuse the graph; torch keeps at most ``torch._dynamo.config.recompile_limit`` graphs, 8 by
default, and runs further shapes uncompiled). It needs a C++ compiler: if inductor cannot
build, the same step runs uncompiled and a warning says so.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CausalSelfAttention, KVCache
from .mlp import SwiGLU
from .rope import rotate_pairs

# cpp_wrapper: see the module docstring. realize_cpu_acc_reads_threshold=2: a value that
# reads more than 2 buffers (the RMSNorm output, the attention output) is stored once;
# inductor's default (12) inlined it into the matrix-vector loop that reads it, so every row
# of W re-normalised x. Storing it made a token 7–9% faster at the bench's three Llama
# shapes (measured interleaved with llama2.c).
_INDUCTOR_OPTIONS = {"cpp_wrapper": True, "realize_cpu_acc_reads_threshold": 2}


class CompiledDecoder:
    """Fast cached decoding for an SLM whose layers are plain attention + SwiGLU.

    ``SLM.compile_decode()`` attaches one; ``generate`` then uses it for every decode step.

    Args:
        model: an SLM with mixer "attention" and mlp "swiglu" in every layer.
        compile: False runs the same step eagerly (the reference the tests compare against).
    """

    def __init__(self, model: nn.Module, *, compile: bool = True):
        wrong = sorted({f"{type(b.mixer).__name__} + {type(b.mlp).__name__}"
                        for b in model.blocks
                        if type(b.mixer) is not CausalSelfAttention or type(b.mlp) is not SwiGLU})
        if wrong:
            raise ValueError(f"a compiled decode step needs mixer 'attention' and mlp 'swiglu' in "
                             f"every layer, got {', '.join(wrong)}; decode those eagerly")
        self.model = model
        # One bound method, kept: each `self._step_eager` lookup makes a new object, and the
        # step below tells the two paths apart by identity.
        self._eager = self._step_eager
        self._step = (torch.compile(self._eager, fullgraph=True, options=_INDUCTOR_OPTIONS)
                      if compile else self._eager)
        self.k = self.v = None  # (n_layer, B, H_kv, max_len, d_k), allocated by new_caches
        self._checked = False  # has a compiled step passed dynamo's guards since new_caches?

    @property
    def compiled(self) -> bool:
        """Whether steps run compiled (False when built with compile=False or after a failed
        compile fell back)."""
        return self._step is not self._eager

    def new_caches(self, batch: int, max_len: int) -> list[KVCache]:
        """Per-layer KV caches whose buffers are slices of this decoder's shared buffers."""
        m, c = self.model, self.model.config
        shape = (c.n_layer, batch, c.n_kv_head, max_len, c.head_dim)
        dtype, device = m.tok_emb.weight.dtype, m.device
        if self.k is None or self.k.shape != shape or self.k.dtype != dtype \
                or self.k.device != device:
            self.k = torch.zeros(shape, dtype=dtype, device=device)
            self.v = torch.zeros(shape, dtype=dtype, device=device)
        self._checked = False  # new buffers (maybe new weights, batch): run dynamo's guards
        return [KVCache.on(self.k[i], self.v[i]) for i in range(c.n_layer)]

    def step(self, token: torch.Tensor,
             caches: list[KVCache]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, 1, V) for one new token (B, 1) after the tokens held in ``caches``, and
        the greedy choice, their argmax (B,)."""
        m = caches[0].length  # cached tokens (>= 1: prefill came first); the new one is at m
        if m + 1 > caches[0].capacity:
            raise ValueError(f"KV cache full: {m + 1} tokens > capacity {caches[0].capacity}")
        rope = self.model.rope
        rope.tables_to(token.device)
        cos, sin = rope.cos[m], rope.sin[m]  # (d/2,): the rotation at the new token's position
        # Fresh (B, 1) strides: a slice of the growing token buffer would trigger a recompile.
        token = token.clone(memory_format=torch.contiguous_format)
        k, v = self.k[..., :m, :], self.v[..., :m, :]  # (n_layer, B, H_kv, m, d)
        # One graph for every m: compiled with m symbolic (sizes 0 and 1 would be fixed
        # constants in the graph, so a one-token cache takes the uncompiled path once).
        compiled = self.compiled and m >= 2
        step = self._step if compiled else self._eager
        if compiled:
            torch._dynamo.mark_dynamic(k, 3)
            torch._dynamo.mark_dynamic(v, 3)
        # Dynamo checks ~1000 guards per call (~0.2 ms); between steps of one generation only
        # the length m changes, which the graph takes as a symbol, so after one checked step
        # the rest may skip them.
        skip = torch.compiler.set_stance("default", skip_guard_eval_unsafe=True) \
            if self._checked else contextlib.nullcontext()
        try:
            with skip:
                logits, greedy, k_new, v_new = step(token, cos, sin, k, v)
            self._checked = compiled
        except Exception as err:  # inductor could not build (e.g. no C++ compiler)
            if not compiled:
                raise
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {err}); decoding "
                          f"uncompiled instead", RuntimeWarning, stacklevel=2)
            self._step = self._eager
            logits, greedy, k_new, v_new = self._eager(token, cos, sin, k, v)
        self.k[..., m, :] = k_new  # the new token's key and value, every layer in one copy
        self.v[..., m, :] = v_new
        for cache in caches:
            cache.length = m + 1
        return logits, greedy

    def _step_eager(self, token, cos, sin, k_cache, v_cache):
        """The decode step as plain tensor code (what torch.compile traces). It reads the cache
        and returns the new keys/values instead of writing them: a graph that mutated its
        inputs would copy them back whole.

        Args:
            token: (B, 1) ids. cos, sin: (d/2,) the rotation at the new position.
            k_cache, v_cache: (n_layer, B, H_kv, m, d) keys/values of the m earlier tokens.

        Returns:
            logits (B, 1, V), their argmax (B,), and the new token's keys and values
            (n_layer, B, H_kv, d).
        """
        model = self.model
        B = token.shape[0]
        H, Hkv, d = model.config.n_head, model.config.n_kv_head, model.config.head_dim
        # Rows of (B, C), not (B, 1, C): a size-1 middle dim gets a zero stride in the graph,
        # and BLAS then copies every matmul's input first.
        x = model.tok_emb(token[:, 0])  # (B, C)
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
        logits = _matvec(model.norm(x), model.head.weight)  # (B, V)
        return logits[:, None], logits.argmax(dim=-1), torch.stack(new_k), torch.stack(new_v)


def _matvec(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x·Wᵀ for a few rows x (B, in) and a weight (out, in): (B, out).

    Under torch.compile, with W's rows contiguous, it is written as a sum of products, which
    inductor turns into a loop over W's rows fused with the ops around it (module docstring).
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

