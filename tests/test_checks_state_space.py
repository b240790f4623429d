"""The lab 05 exercise checks: a correct solution passes, and each usual mistake fails with the
hint that names it. The "learner" functions are written the way a learner would write them,
independently of the checks' reference code (loops where the library vectorises, einsum where it
uses bmm, counts from the config's fields rather than from allocated tensors)."""

import math

import pytest
import torch

from slmlab.checks import state_space as checks
from slmlab.model import ModelConfig
from slmlab.model.ssm import selective_scan


def fails(check, fn, hint: str):
    with pytest.raises(AssertionError, match=hint):
        check(fn)


# -- the reference the checks build from the library -------------------------------------------
def test_library_discretise_matches_the_formula_in_float64():
    g = torch.Generator().manual_seed(9)
    delta = torch.rand(2, 4, 3, generator=g, dtype=torch.float64) + 0.1
    A = -torch.rand(3, 5, generator=g, dtype=torch.float64) * 3 - 0.1
    Bm = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    u = torch.randn(2, 4, 3, generator=g, dtype=torch.float64)
    dA, dBu = checks.library_discretise(delta, A, Bm, u)
    for b in range(2):
        for t in range(4):
            for d in range(3):
                for n in range(5):
                    assert math.isclose(dA[b, t, d, n].item(),
                                        math.exp(delta[b, t, d].item() * A[d, n].item()),
                                        rel_tol=1e-6)
                    assert math.isclose(dBu[b, t, d, n].item(),
                                        delta[b, t, d].item() * Bm[b, t, n].item()
                                        * u[b, t, d].item(), rel_tol=1e-5, abs_tol=1e-7)


# -- exercise 1: discretisation ----------------------------------------------------------------
def discretise(delta, A, Bm, u):
    dt = delta.unsqueeze(-1)  # (B, T, D, 1)
    return torch.exp(dt * A), dt * Bm.unsqueeze(2) * u.unsqueeze(-1)


def test_discretise_correct_passes(capsys):
    checks.check_discretise(discretise)
    assert "Correct" in capsys.readouterr().out


def with_dA(make_dA):
    def fn(delta, A, Bm, u):
        return make_dA(delta.unsqueeze(-1), A), discretise(delta, A, Bm, u)[1]
    return fn


def with_dBu(make_dBu):
    def fn(delta, A, Bm, u):
        dt, bu = delta.unsqueeze(-1), Bm.unsqueeze(2) * u.unsqueeze(-1)
        return torch.exp(dt * A), make_dBu(dt, A, Bm, u, bu)
    return fn


@pytest.mark.parametrize("fn, hint", [
    (with_dA(lambda dt, A: torch.exp(-dt * A)), "already negative"),
    (with_dA(lambda dt, A: 1 + dt * A), "Euler step"),
    (with_dA(lambda dt, A: dt * torch.exp(A)), "inside the exponential"),
    (with_dA(lambda dt, A: torch.exp(A) + 0 * dt), "depends on Δ"),
    (with_dA(lambda dt, A: torch.exp(dt * A * 0.5)), "differs from the library"),
    (with_dBu(lambda dt, A, Bm, u, bu: bu), "multiply B·u by the step"),
    (with_dBu(lambda dt, A, Bm, u, bu: dt * Bm.unsqueeze(2) + 0 * bu), "u is missing"),
    (with_dBu(lambda dt, A, Bm, u, bu: (torch.exp(dt * A) - 1) / A * bu), "exact zero-order"),
    (with_dBu(lambda dt, A, Bm, u, bu: torch.exp(dt * A) * dt * bu), "no Ā in it"),
])
def test_discretise_mistakes_get_their_hint(fn, hint):
    fails(checks.check_discretise, fn, hint)


def test_discretise_bad_returns_are_explained():
    fails(checks.check_discretise, lambda d, A, Bm, u: torch.exp(A), "pair of tensors")
    fails(checks.check_discretise, lambda d, A, Bm, u: (torch.exp(A), torch.exp(A)), "shape")
    fails(checks.check_discretise,
          lambda d, A, Bm, u: (torch.exp(d[..., None] * A), (d * u)[..., None] @ Bm), "raised")


# -- exercise 2: the sequential scan -----------------------------------------------------------
def scan(dA, dBu, C):
    B, T, D, N = dA.shape
    h = torch.zeros(B, D, N)
    y = torch.zeros(B, T, D)
    for t in range(T):
        h = dA[:, t] * h + dBu[:, t]
        y[:, t] = torch.einsum("bdn,bn->bd", h, C[:, t])
    return y


def test_scan_correct_passes_and_agrees_with_selective_scan(capsys):
    checks.check_scan(scan)
    assert "Correct" in capsys.readouterr().out
    # and independently: the learner's scan on discretised inputs equals the library's scan
    delta, A, Bm, C, u = checks._ssm_inputs(5, 1, 6, 3, 2)
    dA = torch.exp(delta[..., None] * A)
    dBu = delta[..., None] * Bm[:, :, None, :] * u[..., None]
    torch.testing.assert_close(scan(dA, dBu, C), selective_scan(delta, A, Bm, C, u)[0])


def scan_with(step, read_before=False, weigh=True):
    def fn(dA, dBu, C):
        B, T, D, N = dA.shape
        h, ys = torch.zeros(B, D, N), []
        for t in range(T):
            new = step(dA[:, t], h, dBu[:, t])
            read = h if read_before else new
            ys.append((read * C[:, t, None, :]).sum(-1) if weigh else read.sum(-1))
            h = new
        return torch.stack(ys, 1)
    return fn


@pytest.mark.parametrize("fn, hint", [
    (scan_with(lambda a, h, b: a * h + b, read_before=True), "after the update"),
    (scan_with(lambda a, h, b: h + b), "must decay"),
    (scan_with(lambda a, h, b: b), "must carry over"),
    (scan_with(lambda a, h, b: a * (h + b)), "old state only"),
    (scan_with(lambda a, h, b: a * h + b, weigh=False), "weighs the N state entries"),
    (scan_with(lambda a, h, b: a * a * h + b), "differs from the library"),
])
def test_scan_mistakes_get_their_hint(fn, hint):
    fails(checks.check_scan, fn, hint)


def test_scan_returning_states_is_a_shape_error():
    def states(dA, dBu, C):
        h, hs = torch.zeros_like(dA[:, 0]), []
        for t in range(dA.shape[1]):
            h = dA[:, t] * h + dBu[:, t]
            hs.append(h)
        return torch.stack(hs, 1)

    fails(checks.check_scan, states, "shape")

    def todo(dA, dBu, C):
        raise NotImplementedError

    fails(checks.check_scan, todo, "not written yet")


# -- exercise 3: the associative combine -------------------------------------------------------
def combine(a1, b1, a2, b2):
    return a1 * a2, a2 * b1 + b2


def test_combine_correct_passes(capsys):
    checks.check_combine(combine)
    assert "Correct" in capsys.readouterr().out


def test_combine_is_the_composition_of_the_two_steps():
    # The definition the check encodes, by hand on numbers: h -> 0.5h + 1, then h -> 0.2h + 3.
    a, b = combine(torch.tensor(0.5), torch.tensor(1.0), torch.tensor(0.2), torch.tensor(3.0))
    h = 7.0
    assert math.isclose(a.item() * h + b.item(), 0.2 * (0.5 * h + 1.0) + 3.0, rel_tol=1e-6)


@pytest.mark.parametrize("fn, hint", [
    (lambda a1, b1, a2, b2: (a1 + a2, a2 * b1 + b2), "multiply"),
    (lambda a1, b1, a2, b2: (a2, a2 * b1 + b2), "both decays"),
    (lambda a1, b1, a2, b2: (a1 * a2, a1 * b2 + b1), "order is swapped"),
    (lambda a1, b1, a2, b2: (a1 * a2, a1 * b1 + b2), "acts on it"),
    (lambda a1, b1, a2, b2: (a1 * a2, b1 + b2), "not b1 \\+ b2"),
    (lambda a1, b1, a2, b2: (a1 * a2, a2 * b1 + a1 * b2), "nothing decays it"),
    (lambda a1, b1, a2, b2: (a1 * a2, 0.5 * (a2 * b1 + b2)), "differs from the library"),
    (lambda a1, b1, a2, b2: a1 * a2, "pair of tensors"),
])
def test_combine_mistakes_get_their_hint(fn, hint):
    fails(checks.check_combine, fn, hint)


def test_combine_that_only_works_on_the_first_inputs_fails_in_the_scan():
    # Right on the check's first (2, 3, 4) tensors, wrong on anything else: the scan catches it.
    def brittle(a1, b1, a2, b2):
        if a1.shape == (2, 3, 4):
            return a1 * a2, a2 * b1 + b2
        return a1 * a2, a2 * b1

    fails(checks.check_combine, brittle, "Hillis-Steele")


# -- exercise 4: decode memory of a hybrid -----------------------------------------------------
def decode_cache_bytes(config, context_len):
    values = 0
    for layer in range(config.n_layer):
        if config.layer_mixer(layer) == "attention":
            head_dim = config.d_model // config.n_head
            values += 2 * config.n_kv_head * head_dim * context_len
        else:
            d_inner = config.ssm_expand * config.d_model
            values += d_inner * config.ssm_d_state + d_inner * (config.ssm_d_conv - 1)
    return values * 4  # float32


def test_decode_cache_bytes_correct_passes(capsys):
    checks.check_decode_cache_bytes(decode_cache_bytes)
    assert "Correct" in capsys.readouterr().out


def test_decode_cache_bytes_by_hand():
    # The hybrid of the check, by hand: 3 SSM layers of D = 64 channels, N = 16, d_conv 4, and
    # one attention layer with 4 K/V heads of 8 dims at 96 tokens, in fp32.
    config = ModelConfig(vocab_size=11, n_layer=4, n_head=4, d_model=32, max_seq_len=256,
                         mixer=("ssm", "ssm", "attention", "ssm"))
    ssm = 64 * 16 + 64 * 3
    attention = 2 * 4 * 8 * 96
    assert decode_cache_bytes(config, 96) == (3 * ssm + attention) * 4


def counting(**kw):
    def fn(config, context_len):
        values = 0
        for layer in range(config.n_layer):
            attention = config.layer_mixer(layer) == "attention" or kw.get("all_attention")
            if attention:
                heads = config.n_head if kw.get("query_heads") else config.n_kv_head
                values += kw.get("kv", 2) * heads * (config.d_model // config.n_head) \
                    * context_len
            elif not kw.get("no_ssm"):
                d_inner = config.ssm_expand * config.d_model
                per_token = context_len if kw.get("grows") else 1
                values += d_inner * config.ssm_d_state * per_token
                values += 0 if kw.get("no_conv") else d_inner * (config.ssm_d_conv - 1)
        return values * (1 if kw.get("no_bytes") else 4)
    return fn


@pytest.mark.parametrize("fn, hint", [
    (counting(no_conv=True), "convolution's last"),
    (counting(grows=True), "does not grow"),
    (counting(kv=1), "key AND a value"),
    (counting(query_heads=True), "not the query heads"),
    (counting(all_attention=True), "only the attention layers"),
    (counting(no_ssm=True), "SSM layers hold memory"),
    (counting(no_bytes=True), "4 bytes"),
    (lambda c, n: 12345, "times the right value"),
    (lambda c, n: 1.5, "whole number"),
])
def test_decode_cache_bytes_mistakes_get_their_hint(fn, hint):
    fails(checks.check_decode_cache_bytes, fn, hint)
