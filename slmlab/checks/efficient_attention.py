"""Checks for the exercises of lab 03 (efficient attention).

Each check runs the learner's function on several inputs and compares it with the library:
the sliding-window mask with ``SlidingWindowAttention.allowed``, the block-sparse key count with
``BlockSparseAttention.allowed``, the linear-attention recurrent step with the chunked parallel
form ``chunked_linear_attention``, and the log-log slope with ``slmlab.scaling.fit_exponent``.
When the answer is off, the check recomputes the usual slips (a window one key too wide, a mask
that sees the future, a read-out before the state update, ...) and names the one it equals.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from slmlab.checks._model_compare import _call, _int_answer
from slmlab.model import BlockSparseAttention, ModelConfig, SlidingWindowAttention
from slmlab.model.linear_attention import chunked_linear_attention, phi

LINEAR_ATOL, LINEAR_RTOL = 1e-5, 1e-4  # float32 agreement of the step and the chunked form


def _pattern(cls, T: int, **fields) -> torch.Tensor:
    """The library's (T, T) pattern, ``cls.allowed``, for a small config with these fields."""
    config = ModelConfig(vocab_size=8, n_layer=1, n_head=1, d_model=8, max_seq_len=T, **fields)
    pos = torch.arange(T)
    return cls.allowed(config, pos, pos)


# -- exercise: the sliding-window mask ---------------------------------------------------------
def _band(T: int, lo: int, hi: int) -> torch.Tensor:
    """(T, T) bool: True where lo <= i - j <= hi (query i, key j)."""
    i = torch.arange(T)
    diff = i[:, None] - i[None, :]
    return (diff >= lo) & (diff <= hi)


def check_window_mask(fn) -> None:
    """Exercise: ``fn(T, W)`` returns the (T, T) bool mask of sliding-window attention:
    ``mask[i, j]`` is True when query i may see key j."""
    for T, W in ((12, 4), (9, 1), (6, 10), (16, 16), (20, 7)):
        expected = _pattern(SlidingWindowAttention, T, mixer="sliding_window", window=W)
        out = _call(fn, "window_mask", T, W)
        context = f"T={T}, W={W}"
        if not isinstance(out, torch.Tensor):
            raise AssertionError(f"window_mask should return a torch.Tensor, got "
                                 f"{type(out).__name__}.")
        if tuple(out.shape) != (T, T):
            raise AssertionError(f"Not quite ({context}): shape {tuple(out.shape)}, expected "
                                 f"({T}, {T}): one row per query, one column per key.")
        if out.dtype != torch.bool:
            raise AssertionError(f"window_mask should return a bool tensor (True = may attend), "
                                 f"got dtype {out.dtype}; compare with <, <=, >= to get one.")
        if torch.equal(out, expected):
            continue
        slips = [
            ("the window is one key too wide: query i sees W keys, i - W + 1 .. i (itself "
             "included), so i - j < W.", _band(T, 0, W)),
            ("a query sees its own key too (the diagonal): keys i - W + 1 .. i.",
             _band(T, 1, W - 1)),
            ("shifted by one: the window is i - W + 1 .. i, including the query itself, not "
             "i - W .. i - 1.", _band(T, 1, W)),
            ("the mask lets a query see the future: keep only keys at or before it (i - j >= 0).",
             _band(T, -(W - 1), W - 1)),
            ("the mask is upside down: rows are queries, columns keys, and query i sees keys "
             "j <= i (below the diagonal).", _band(T, -(W - 1), 0)),
            ("that is plain causal attention: also hide keys W or more positions back.",
             _band(T, 0, T)),
        ]
        for hint, wrong in slips:
            if torch.equal(out, wrong):
                raise AssertionError(f"Not quite ({context}): {hint}")
        i, j = (int(x) for x in (out != expected).nonzero()[0])
        n = int((out != expected).sum())
        raise AssertionError(
            f"Not quite ({context}): {n} entries differ; e.g. query {i}, key {j} is "
            f"{bool(out[i, j])} and should be {bool(expected[i, j])}. Query i may see key j "
            "when 0 <= i - j < W."
        )
    print("Correct: your mask equals SlidingWindowAttention.allowed for every T and W tried.")


# -- exercise: keys per query in block-sparse attention ----------------------------------------
def check_block_sparse_keys(fn) -> None:
    """Exercise: ``fn(i, block_size, n_global)`` returns how many keys query position ``i``
    sees in block-sparse attention (own block up to i, the previous block, the globals)."""
    for b, G in ((4, 2), (8, 0), (4, 10), (16, 16), (5, 3)):
        n = 6 * b + 1
        expected = _pattern(BlockSparseAttention, n, mixer="block_sparse", block_size=b,
                            n_global=G).sum(1).tolist()
        answer = [_int_answer(fn, "block_sparse_keys", i, b, G)
                  for i in range(n)]
        if answer == expected:
            continue

        def count(own_full=False, prev=True, glob="exclusive", b=b, G=G, n=n):
            out = []
            for i in range(n):
                own_start = (i // b) * b
                lo = max(0, own_start - b) if prev else own_start
                hi = own_start + b - 1 if own_full else i
                g = {"exclusive": min(G, lo), "all": G, "overlap": min(G, i + 1),
                     "none": 0}[glob]
                out.append(hi - lo + 1 + g)
            return out

        slips = [
            ("a global key that already lies in the query's own or previous block is counted "
             "twice: only the globals before the previous block add keys, min(n_global, lo).",
             count(glob="overlap")),
            ("there are never more globals than positions before the local blocks: "
             "min(n_global, lo), where lo is the start of the previous block.", count(glob="all")),
            ("forgot the global tokens: the first n_global positions are visible to every "
             "later query.", count(glob="none")),
            ("forgot the previous block: a query sees its own block and the one before it.",
             count(prev=False)),
            ("the own block counts only keys up to the query itself (causal), not the whole "
             "block.", count(own_full=True)),
        ]
        context = f"block_size={b}, n_global={G}"
        for hint, wrong in slips:
            if answer == wrong:
                raise AssertionError(f"Not quite ({context}): {hint}")
        i = next(i for i in range(n) if answer[i] != expected[i])
        raise AssertionError(
            f"Not quite ({context}): query {i} sees {expected[i]} keys, you counted "
            f"{answer[i]}. Count the local keys lo .. i, then the globals below lo."
        )
    print("Correct: your counts equal the rows of BlockSparseAttention.allowed.")


# -- exercise: the linear-attention recurrent step ---------------------------------------------
def _step_variant(S, q, k, v, *, feature=phi, read_first=False, normalise=True,
                  accumulate=True):
    """One recurrent step with one of the usual slips (the defaults are correct).
    S (B, H, d, d + 1); q, k, v (B, H, d)."""
    d = q.shape[-1]
    fq, fk = feature(q), feature(k)
    v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)  # (B, H, d + 1)
    update = fk[..., :, None] * v1[..., None, :]  # outer product (B, H, d, d + 1)
    S_new = S + update if accumulate else update
    out = torch.einsum("bhd,bhde->bhe", fq, S if read_first else S_new)  # (B, H, d + 1)
    y = out[..., :d] / out[..., d:] if normalise else out[..., :d]
    return y, S_new


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), atol=LINEAR_ATOL,
                                                 rtol=LINEAR_RTOL)


def _learner_step(fn, S, q, k, v):
    out = _call(fn, "linear_attention_step", S, q, k, v)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise AssertionError("linear_attention_step should return a pair (y, S_new).")
    y, S_new = out
    B, H, d = q.shape
    for name, t, shape in (("y", y, (B, H, d)), ("S_new", S_new, (B, H, d, d + 1))):
        if not isinstance(t, torch.Tensor):
            raise AssertionError(f"{name} should be a torch.Tensor, got {type(t).__name__}.")
        if tuple(t.shape) != shape:
            extra = (" Append a column of ones to v ([v, 1]) so the state carries the "
                     "normaliser in its last column." if name == "S_new" else "")
            raise AssertionError(f"{name} has shape {tuple(t.shape)}; expected {shape}.{extra}")
        if not torch.isfinite(t).all():
            raise AssertionError(
                f"{name} holds NaN or inf. Did you apply φ(x) = elu(x) + 1 to q and k? Without "
                "a positive feature map the normaliser φ(q)·z can be zero or negative.")
    return y.detach().float(), S_new.detach().float()


def check_linear_attention_step(fn) -> None:
    """Exercise: ``fn(S, q, k, v)`` is one decode step of linear attention for one token:
    q, k, v (B, H, d) are the token's projections before the feature map, S (B, H, d, d + 1)
    the state. Returns (y (B, H, d), S_new)."""
    g = torch.Generator().manual_seed(3)
    B, H, T, d, prefix = 2, 3, 11, 4, 5
    q, k, v = (torch.randn(B, H, prefix + T, d, generator=g) for _ in range(3))
    v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
    with torch.no_grad():
        # The state after a prefix of 5 tokens, then the chunked (training) form over the next
        # T tokens with chunks of 4, so the reference crosses chunk boundaries.
        _, S0 = chunked_linear_attention(phi(q[:, :, :prefix]), phi(k[:, :, :prefix]),
                                         v1[:, :, :prefix], chunk=4)
        out, _ = chunked_linear_attention(phi(q[:, :, prefix:]), phi(k[:, :, prefix:]),
                                          v1[:, :, prefix:], S0=S0, chunk=4)
    y_ref = out[..., :d] / out[..., d:]  # (B, H, T, d)
    # The state by its definition: S_0 plus the outer products φ(k_j) [v_j, 1]ᵀ so far.
    outer = phi(k[:, :, prefix:])[..., :, None] * v1[:, :, prefix:, None, :]  # (B,H,T,d,d+1)
    S_ref = S0[:, :, None] + outer.cumsum(dim=2)
    variants = {
        "the new token must be in the state before the read-out: update S first, then read "
        "φ(q)·S (a token attends to itself).": dict(read_first=True),
        "divide the numerator (the first d columns of φ(q)·S) by the normaliser (its last "
        "column).": dict(normalise=False),
        "add the outer product φ(k)ᵀ[v, 1] to S; replacing S forgets every earlier token.":
            dict(accumulate=False),
        "apply the feature map φ(x) = elu(x) + 1 to q and k.": dict(feature=lambda x: x),
        "the feature map is φ(x) = elu(x) + 1, not relu.": dict(feature=F.relu),
        "the feature map is φ(x) = elu(x) + 1, not exp (that would be softmax attention's "
        "kernel, which does not split into a fixed-size state).": dict(feature=torch.exp),
    }
    S, S_slip = S0.clone(), {hint: S0.clone() for hint in variants}
    for t in range(T):
        qt, kt, vt = q[:, :, prefix + t], k[:, :, prefix + t], v[:, :, prefix + t]
        y, S_new = _learner_step(fn, S.clone(), qt, kt, vt)
        slip_out = {}
        for hint, kw in variants.items():
            slip_out[hint] = _step_variant(S_slip[hint], qt, kt, vt, **kw)
            S_slip[hint] = slip_out[hint][1]
        if _close(y, y_ref[:, :, t]) and _close(S_new, S_ref[:, :, t]):
            S = S_new
            continue
        where = f"token {t + 1} of {T}, after a prefix of {prefix}"
        for hint, (y_w, S_w) in slip_out.items():
            if _close(y, y_w) and _close(S_new, S_w):
                raise AssertionError(f"Not quite ({where}): {hint}")
        if not _close(S_new, S_ref[:, :, t]):
            raise AssertionError(
                f"Not quite ({where}): S_new is off by up to "
                f"{(S_new - S_ref[:, :, t]).abs().max().item():.3g}. It should be "
                "S + φ(k)ᵀ[v, 1]: the outer product of the key's features (d) with the value "
                "and a one (d + 1).")
        raise AssertionError(
            f"Not quite ({where}): S_new is right but y is off by up to "
            f"{(y - y_ref[:, :, t]).abs().max().item():.3g}. Read out φ(q)·S_new, then divide "
            "its first d entries by the last one.")
    print("Correct: token by token, your recurrent step gives the same outputs as the chunked "
          "parallel form chunked_linear_attention, and the same state.")


# -- exercise: the log-log slope ---------------------------------------------------------------
def _as_float(out, name: str) -> float:
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if isinstance(out, bool):
        raise AssertionError(f"{name} should return a number, got {out!r}.")
    try:
        return float(out)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{name} should return one number, the slope, got {out!r}. (np.polyfit returns "
            "[slope, intercept]: take the first.)") from None


def check_fit_slope(fn) -> None:
    """Exercise: ``fn(lengths, values, min_len)`` returns the least-squares slope k of
    log(value) against log(length), using only lengths >= min_len (cost ∝ length^k)."""
    from slmlab.scaling import fit_exponent, least_squares_slope

    g = torch.Generator().manual_seed(4)
    lengths = [128, 256, 512, 1024, 2048, 4096]
    for k, overhead, min_len in ((2.0, 0.3, 1024), (1.0, 0.5, 512), (1.5, 0.0, 128)):
        noise = 1 + 0.1 * torch.rand(len(lengths), generator=g)
        values = [(overhead + (n / 1024) ** k) * float(e) for n, e in zip(lengths, noise)]
        expected = fit_exponent(lengths, values, min_len)
        answer = _as_float(_call(fn, "fit_slope", list(lengths), list(values), min_len),
                           "fit_slope")
        if math.isclose(answer, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        kept = [(n, v) for n, v in zip(lengths, values) if n >= min_len]
        (n0, v0), (n1, v1) = kept[0], kept[-1]
        slips = [
            ("use only the lengths >= min_len: below it fixed per-call costs flatten the "
             "curve.", fit_exponent(lengths, values)),
            ("fit every kept point by least squares, not just the first and the last.",
             math.log(v1 / v0) / math.log(n1 / n0)),
            ("the axes are swapped: the slope is d log(value) / d log(length).",
             least_squares_slope([math.log(v) for _, v in kept], [math.log(n) for n, _ in kept])),
            ("take the log of the lengths too (a log-log fit, not log-linear).",
             least_squares_slope([n for n, _ in kept], [math.log(v) for _, v in kept])),
            ("take the log of the values too (a log-log fit, not linear-log).",
             least_squares_slope([math.log(n) for n, _ in kept], [v for _, v in kept])),
        ]
        context = f"cost ∝ T^{k:g} plus a fixed overhead, min_len={min_len}"
        for hint, wrong in slips:
            if math.isclose(answer, wrong, rel_tol=1e-6, abs_tol=1e-9):
                raise AssertionError(f"Not quite ({context}): {hint}")
        raise AssertionError(f"Not quite ({context}): slope {answer:.4g}, expected "
                             f"{expected:.4g}. Fit a line to (log length, log value).")
    print("Correct: your slope equals slmlab.scaling.fit_exponent.")
