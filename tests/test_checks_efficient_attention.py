"""The lab 03 exercise checks: a correct solution passes, and each usual mistake fails with the
hint that names it. The "learner" functions are written the way a learner would write them,
independently of the checks' reference code (loops, numpy, naive sums)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from slmlab.checks import efficient_attention as checks


def fails(check, fn, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(fn)


# -- the sliding-window mask -------------------------------------------------------------------
def make_window_mask(lo=0, hi_offset=-1, causal=True, transposed=False):
    """Query i sees key j when lo <= i - j <= W + hi_offset (and j <= i if causal)."""
    def window_mask(T, W):
        mask = torch.zeros(T, T, dtype=torch.bool)
        for i in range(T):
            for j in range(T):
                diff = i - j if not transposed else j - i
                ok = lo <= diff <= W + hi_offset if causal else abs(diff) <= W + hi_offset
                mask[i, j] = ok
        return mask
    return window_mask


def test_window_mask_correct_passes(capsys):
    checks.check_window_mask(make_window_mask())
    assert "Correct" in capsys.readouterr().out


def test_window_mask_from_triangles_passes():
    # Another correct way: a lower triangle minus the part W or more below the diagonal.
    def window_mask(T, W):
        ones = torch.ones(T, T, dtype=torch.bool)
        return torch.tril(ones) & ~torch.tril(ones, diagonal=-W)
    checks.check_window_mask(window_mask)


@pytest.mark.parametrize("fn, hint", [
    (make_window_mask(hi_offset=0), "one key too wide"),
    (make_window_mask(lo=1), "its own key"),
    (make_window_mask(lo=1, hi_offset=0), "shifted by one"),
    (make_window_mask(causal=False), "see the future"),
    (make_window_mask(transposed=True), "upside down"),
    (lambda T, W: torch.ones(T, T, dtype=torch.bool).tril(), "plain causal"),
    (lambda T, W: torch.eye(T, dtype=torch.bool), "entries differ"),
])
def test_window_mask_mistakes_get_their_hint(fn, hint):
    fails(checks.check_window_mask, fn, hint)


def test_window_mask_type_shape_dtype_and_errors():
    fails(checks.check_window_mask, lambda T, W: np.ones((T, T), bool), "torch.Tensor")
    fails(checks.check_window_mask, lambda T, W: torch.ones(T, W, dtype=torch.bool), "shape")
    fails(checks.check_window_mask, lambda T, W: make_window_mask()(T, W).int(), "bool")
    fails(checks.check_window_mask, make_window_mask()(3, 2), "itself")

    def todo(T, W):
        raise NotImplementedError

    fails(checks.check_window_mask, todo, "not written yet")


# -- block-sparse keys per query ---------------------------------------------------------------
def brute_keys(i, b, G, *, own_full=False, prev=True, globals_="exclusive"):
    """Count the keys by listing them (a set, so nothing counts twice unless asked)."""
    own = i // b
    last = (own + 1) * b - 1 if own_full else i
    first = max(0, (own - 1) * b) if prev else own * b
    local = set(range(first, last + 1))
    if globals_ == "exclusive":
        return len(local | set(range(min(G, i + 1))))
    if globals_ == "overlap":
        return len(local) + min(G, i + 1)
    if globals_ == "all":
        return len(local) + G
    return len(local)


def test_block_sparse_keys_correct_passes(capsys):
    checks.check_block_sparse_keys(lambda i, b, G: brute_keys(i, b, G))
    assert "Correct" in capsys.readouterr().out


def test_block_sparse_keys_accepts_numpy_and_tensor_ints():
    checks.check_block_sparse_keys(lambda i, b, G: np.int64(brute_keys(i, b, G)))
    checks.check_block_sparse_keys(lambda i, b, G: torch.tensor(brute_keys(i, b, G)))


@pytest.mark.parametrize("kwargs, hint", [
    (dict(globals_="overlap"), "counted twice"),
    (dict(globals_="all"), "never more globals"),
    (dict(globals_="none"), "forgot the global tokens"),
    (dict(prev=False), "forgot the previous block"),
    (dict(own_full=True), "up to the query itself"),
])
def test_block_sparse_keys_mistakes_get_their_hint(kwargs, hint):
    fails(checks.check_block_sparse_keys, lambda i, b, G: brute_keys(i, b, G, **kwargs), hint)


def test_block_sparse_keys_other_answers_are_explained():
    fails(checks.check_block_sparse_keys, lambda i, b, G: 2 * b + G, "you counted")
    fails(checks.check_block_sparse_keys, lambda i, b, G: "3", "whole number")
    fails(checks.check_block_sparse_keys, lambda i, b, G: 2.5, "whole number")


# -- the linear-attention recurrent step -------------------------------------------------------
def make_step(feature="elu1", read_first=False, normalise=True, accumulate=True):
    """A learner's step, with explicit loops over batch and heads and numpy-free torch."""
    feat = {"elu1": lambda x: torch.where(x > 0, x + 1, torch.exp(x)),  # elu(x) + 1 by hand
            "none": lambda x: x, "relu": torch.relu, "exp": torch.exp}[feature]

    def linear_attention_step(S, q, k, v):
        B, H, d = q.shape
        S_new = S.clone()
        y = torch.empty(B, H, d)
        for b in range(B):
            for h in range(H):
                fq, fk = feat(q[b, h]), feat(k[b, h])
                v1 = torch.cat([v[b, h], torch.ones(1)])
                outer = torch.outer(fk, v1)
                S_new[b, h] = S[b, h] + outer if accumulate else outer
                read = fq @ (S[b, h] if read_first else S_new[b, h])  # (d + 1,)
                y[b, h] = read[:d] / read[d] if normalise else read[:d]
        return y, S_new

    return linear_attention_step


def test_linear_step_correct_passes(capsys):
    checks.check_linear_attention_step(make_step())
    assert "Correct" in capsys.readouterr().out


def test_linear_step_in_float64_passes():
    step = make_step()
    checks.check_linear_attention_step(
        lambda S, q, k, v: step(S.double(), q.double(), k.double(), v.double()))


@pytest.mark.parametrize("kwargs, hint", [
    (dict(read_first=True), "update S first"),
    (dict(normalise=False), "normaliser"),
    (dict(accumulate=False), "forgets every earlier token"),
    (dict(feature="relu"), "not relu"),
    (dict(feature="exp"), "not exp"),
])
def test_linear_step_mistakes_get_their_hint(kwargs, hint):
    fails(checks.check_linear_attention_step, make_step(**kwargs), hint)


def test_linear_step_without_feature_map_is_caught():
    # Raw q·k can be negative: the normaliser may cross zero (NaN/inf) or the answer is off;
    # either way the hint names the feature map.
    fails(checks.check_linear_attention_step, make_step(feature="none"), "elu")


def test_linear_step_shape_and_state_errors_are_explained():
    def no_ones_column(S, q, k, v):
        S_new = S[..., :-1] + torch.einsum("bhi,bhj->bhij", F.elu(k) + 1, v)
        return torch.zeros_like(q), S_new

    fails(checks.check_linear_attention_step, no_ones_column, "column of ones")
    fails(checks.check_linear_attention_step, lambda S, q, k, v: q, "pair")

    def wrong_state(S, q, k, v):
        y, S_new = make_step()(S, q, k, v)
        return y, S_new * 1.5

    fails(checks.check_linear_attention_step, wrong_state, "S_new is off")

    def wrong_y(S, q, k, v):
        y, S_new = make_step()(S, q, k, v)
        return y + 0.1, S_new

    fails(checks.check_linear_attention_step, wrong_y, "S_new is right but y is off")


# -- the log-log slope -------------------------------------------------------------------------
def fit_slope(lengths, values, min_len):
    keep = [(n, v) for n, v in zip(lengths, values) if n >= min_len]
    x = np.log10([n for n, _ in keep])
    y = np.log10([v for _, v in keep])
    return np.polyfit(x, y, 1)[0]


def test_fit_slope_correct_passes(capsys):
    checks.check_fit_slope(fit_slope)
    assert "Correct" in capsys.readouterr().out


def test_fit_slope_recovers_a_known_exponent_like_the_reference():
    # Independent of the checks: on an exact power law the learner's fit gives the exponent.
    lengths = [256, 512, 1024, 2048]
    assert math.isclose(fit_slope(lengths, [3 * n ** 1.7 for n in lengths], 0), 1.7,
                        rel_tol=1e-9)


def _keep(lengths, values, min_len):
    return zip(*[(n, v) for n, v in zip(lengths, values) if n >= min_len])


@pytest.mark.parametrize("fn, hint", [
    (lambda L, V, m: fit_slope(L, V, 0), "only the lengths >= min_len"),
    (lambda L, V, m: (lambda n, v: math.log(v[-1] / v[0]) / math.log(n[-1] / n[0]))(
        *_keep(L, V, m)), "not just the first and the last"),
    (lambda L, V, m: (lambda n, v: np.polyfit(np.log(v), np.log(n), 1)[0])(*_keep(L, V, m)),
     "swapped"),
    (lambda L, V, m: (lambda n, v: np.polyfit(n, np.log(v), 1)[0])(*_keep(L, V, m)),
     "log of the lengths"),
    (lambda L, V, m: (lambda n, v: np.polyfit(np.log(n), v, 1)[0])(*_keep(L, V, m)),
     "log of the values"),
    (lambda L, V, m: 2.0, "expected"),
])
def test_fit_slope_mistakes_get_their_hint(fn, hint):
    fails(checks.check_fit_slope, fn, hint)


def test_fit_slope_returning_polyfit_pair_is_explained():
    fails(checks.check_fit_slope,
          lambda L, V, m: np.polyfit(np.log(L), np.log(V), 1), "slope, intercept")
