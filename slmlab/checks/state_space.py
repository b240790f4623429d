"""Checks for lab 05's exercises: discretising the selective SSM, the sequential scan, the
associative combine of two recurrence steps, and the decode memory of a hybrid model — each
against the library (``slmlab.model.ssm`` and the caches ``SLM.new_caches`` allocates).

Glossary (as in ``slmlab/model/ssm.py``):
    delta  Δ, (B, T, D), positive          A   (D, N), negative
    Bm, C  B_t and C_t, (B, T, N)          u   the input, (B, T, D)
    dA     Ā_t = exp(Δ_t A), (B, T, D, N)  dBu B̄_t u_t = Δ_t B_t u_t, (B, T, D, N)
    h      the state, (B, D, N)            y   y_t = C_t · h_t, (B, T, D)
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from slmlab.checks._model_compare import _call, _int_answer, _match, _match_int, _tensor
from slmlab.model import SLM, ModelConfig
from slmlab.model.ssm import parallel_scan, selective_scan


# -- shared helpers ----------------------------------------------------------------------------
def _ssm_inputs(seed: int, B: int, T: int, D: int, N: int):
    """Random (delta, A, Bm, C, u) shaped as the layer makes them; D != N so a wrong axis shows."""
    g = torch.Generator().manual_seed(seed)
    delta = F.softplus(torch.randn(B, T, D, generator=g) - 1)  # Δ > 0, mostly below 1
    A = -torch.arange(1, N + 1, dtype=torch.float32).repeat(D, 1) * (
        0.5 + torch.rand(D, N, generator=g))  # negative, a spread of decay rates
    Bm, C = torch.randn(B, T, N, generator=g), torch.randn(B, T, N, generator=g)
    u = torch.randn(B, T, D, generator=g)
    return delta, A, Bm, C, u


@torch.no_grad()
def library_discretise(delta, A, Bm, u) -> tuple[torch.Tensor, torch.Tensor]:
    """(Ā, B̄u) for every position, read off the library's own scan.

    One step of ``selective_scan`` from state h0 ends in Ā ⊙ h0 + B̄u: from h0 = 0 that is B̄u,
    from h0 = 1 it is Ā + B̄u. Each position runs as its own one-step sequence (T folded into
    the batch), in float64 so the subtraction loses nothing.
    """
    B, T, D = u.shape
    N = A.shape[1]
    d, b, x = (t.double().reshape(B * T, 1, -1) for t in (delta, Bm, u))  # (B·T, 1, ·)
    zeros = torch.zeros(B * T, D, N, dtype=torch.float64)
    # The read-out is not used here, so B_t stands in for C_t.
    dBu = selective_scan(d, A.double(), b, b, x, zeros)[1]
    dA = selective_scan(d, A.double(), b, b, x, zeros + 1)[1] - dBu
    return dA.view(B, T, D, N).float(), dBu.view(B, T, D, N).float()


def _pair(out, shape: tuple, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AssertionError(f"{name} should return a pair of tensors, got "
                             f"{type(out).__name__}.")
    return _tensor(out[0], shape, f"{name}'s first result"), _tensor(out[1], shape,
                                                                      f"{name}'s second result")


# -- exercise 1: discretisation ----------------------------------------------------------------
def check_discretise(fn) -> None:
    """Exercise: ``fn(delta, A, Bm, u)`` returns (Ā, B̄u), each (B, T, D, N):
    Ā = exp(Δ A) (zero-order hold) and B̄u = Δ B u (Euler), as ``selective_scan`` makes them."""
    for seed, shape, context in ((0, (2, 5, 6, 4), "B=2, T=5, D=6, N=4"),
                                 (1, (1, 3, 3, 7), "B=1, T=3, D=3, N=7")):
        delta, A, Bm, _, u = _ssm_inputs(seed, *shape)
        B, T, D, N = shape
        dA_ref, dBu_ref = library_discretise(delta, A, Bm, u)
        dA, dBu = _pair(_call(fn, "discretise", delta, A, Bm, u,
                              hint="Shapes: delta (B, T, D), A (D, N), Bm (B, T, N), u (B, T, D)."),
                        (B, T, D, N), "discretise")
        dA_slips = [
            ("A is already negative (A = -exp(A_log)): Ā = exp(Δ·A) with no extra minus "
             "sign. With one, Ā > 1 and the state grows without bound.",
             torch.exp(-delta[..., None] * A)),
            ("1 + Δ·A is the Euler step; for A the library uses the exact zero-order hold "
             "exp(Δ·A), which stays between 0 and 1 for any Δ > 0.",
             1 + delta[..., None] * A),
            ("Δ goes inside the exponential: Ā = exp(Δ·A), not Δ·exp(A).",
             delta[..., None] * torch.exp(A)),
            ("Ā depends on Δ: exp(Δ_t·A), a different decay at every position.",
             torch.exp(A).expand(B, T, D, N)),
        ]
        _match(dA, dA_ref, dA_slips, f"Ā, {context}")
        bu = u[..., None] * Bm[:, :, None, :]  # B_t u_t, (B, T, D, N)
        dBu_slips = [
            ("B̄u = Δ·B·u: multiply B·u by the step Δ too.", bu),
            ("B̄u = Δ·B·u: the input u is missing.",
             delta[..., None] * Bm[:, :, None, :].expand(B, T, D, N)),
            ("(exp(ΔA) - 1)/A · B·u is the exact zero-order hold for B; the library (like "
             "Mamba's code) uses the simpler Euler form Δ·B·u.",
             torch.expm1(delta[..., None] * A) / A * bu),
            ("B̄u = Δ·B·u, with no Ā in it: the decay acts on the old state, not on the input.",
             dA_ref * delta[..., None] * bu),
        ]
        _match(dBu, dBu_ref, dBu_slips, f"B̄u, {context}")
    print("Correct: your Ā and B̄u are the ones slmlab.model.ssm.selective_scan uses.")


# -- exercise 2: the sequential scan -----------------------------------------------------------
def _scan_variant(dA, dBu, C, *, decay=True, carry=True, read_first=False, decay_input=False,
                  use_c=True):
    """A sequential scan with one of the usual slips (the defaults give the correct result)."""
    h = torch.zeros_like(dA[:, 0])
    ys = []
    for t in range(dA.shape[1]):
        before = h
        keep = (dA[:, t] * h if decay else h) if carry else 0
        h = dA[:, t] * (h + dBu[:, t]) if decay_input else keep + dBu[:, t]
        read = before if read_first else h
        ys.append((read * C[:, t, None, :]).sum(-1) if use_c else read.sum(-1))
    return torch.stack(ys, dim=1)


def check_scan(fn) -> None:
    """Exercise: ``fn(dA, dBu, C)`` runs h_t = Ā_t ⊙ h_{t-1} + B̄_t u_t from h = 0 and returns
    y_t = C_t · h_t for every position, (B, T, D)."""
    for seed, shape, context in ((2, (2, 7, 5, 3), "B=2, T=7, D=5, N=3"),
                                 (3, (1, 12, 4, 6), "B=1, T=12, D=4, N=6")):
        delta, A, Bm, C, u = _ssm_inputs(seed, *shape)
        B, T, D, N = shape
        dA, dBu = library_discretise(delta, A, Bm, u)
        with torch.no_grad():
            expected = selective_scan(delta, A, Bm, C, u)[0]
        out = _tensor(_call(fn, "scan", dA, dBu, C,
                            hint="Shapes: dA, dBu (B, T, D, N), C (B, T, N)."), (B, T, D), "scan")
        slips = [
            ("read the output after the update: y_t = C_t · h_t, where h_t already includes "
             "position t's input.", _scan_variant(dA, dBu, C, read_first=True)),
            ("the old state must decay: h_t = Ā_t ⊙ h_{t-1} + B̄_t u_t (without Ā it is a "
             "running sum that never forgets).", _scan_variant(dA, dBu, C, decay=False)),
            ("the state must carry over: h_t = Ā_t ⊙ h_{t-1} + B̄_t u_t, not just B̄_t u_t.",
             _scan_variant(dA, dBu, C, carry=False)),
            ("Ā decays the old state only: Ā_t ⊙ h_{t-1} + B̄_t u_t, not Ā_t ⊙ (h_{t-1} + "
             "B̄_t u_t).", _scan_variant(dA, dBu, C, decay_input=True)),
            ("the read-out weighs the N state entries by C_t: y_t = Σ_n C_t[n] · h_t[:, n], "
             "not their plain sum.", _scan_variant(dA, dBu, C, use_c=False)),
        ]
        _match(out, expected, slips, context)
    print("Correct: your scan gives the outputs of slmlab.model.ssm.selective_scan.")


# -- exercise 3: the associative combine -------------------------------------------------------
def _hillis_steele(combine, a, b):
    """Every prefix of the steps (a_t, b_t) along dim 1, in log2(T) rounds, using ``combine``.

    Round k combines each position with the one 2^k before it: a tree order, unlike a left to
    right fold, so it is right only if ``combine`` is associative (as parallel_scan assumes).
    """
    offset = 1
    while offset < a.shape[1]:
        na, nb = _pair(_call(combine, "combine", a[:, :-offset], b[:, :-offset], a[:, offset:],
                             b[:, offset:]), tuple(a[:, offset:].shape), "combine")
        a = torch.cat([a[:, :offset], na], dim=1)
        b = torch.cat([b[:, :offset], nb], dim=1)
        offset *= 2
    return a, b


def check_combine(fn) -> None:
    """Exercise: ``fn(a1, b1, a2, b2)`` returns (a, b) with a·h + b = a2·(a1·h + b1) + b2, the
    step h -> a1·h + b1 followed by h -> a2·h + b2; then used in a parallel scan."""
    g = torch.Generator().manual_seed(4)
    a1, a2 = torch.rand(2, 3, 4, generator=g), torch.rand(2, 3, 4, generator=g)
    b1, b2 = torch.randn(2, 3, 4, generator=g), torch.randn(2, 3, 4, generator=g)
    a, b = _pair(_call(fn, "combine", a1, b1, a2, b2), (2, 3, 4), "combine")
    _match(a, a1 * a2, [
        ("two decays in a row multiply: a = a1·a2.", a1 + a2),
        ("the combined step must use both decays: a = a1·a2.", a2),
    ], "the combined decay a")
    _match(b, a2 * b1 + b2, [
        ("the order is swapped: that is (a2, b2) first, then (a1, b1). The first step's b1 "
         "is decayed by the second step's a2: b = a2·b1 + b2.", a1 * b2 + b1),
        ("b1 happens first, so the second step's decay a2 acts on it: b = a2·b1 + b2.",
         a1 * b1 + b2),
        ("b1 must be decayed by the second step: b = a2·b1 + b2, not b1 + b2.", b1 + b2),
        ("b2 comes last, nothing decays it: b = a2·b1 + b2.", a2 * b1 + a1 * b2),
    ], "the combined input b")

    # Now as the library uses it: every prefix of a random recurrence, in a tree order.
    B, T, D, N = 2, 13, 3, 4
    dA = torch.rand(B, T, D, N, generator=g) * 0.9 + 0.05
    dBu = torch.randn(B, T, D, N, generator=g)
    expected = parallel_scan(dA, dBu)[0]
    _, states = _hillis_steele(fn, dA, dBu)
    _match(states, expected, [], "your combine inside a Hillis-Steele scan, T=13")
    print("Correct: your combine is associative and, in a parallel scan, gives every state "
          "that slmlab.model.ssm.parallel_scan gives.")


# -- exercise 4: decode memory of a hybrid -----------------------------------------------------
def _cache_variant(config: ModelConfig, context_len: int, *, nbytes=4, kv_factor=2,
                   kv_heads=None, conv=True, state_per_token=False, all_attention=False,
                   ssm_layers=True) -> int:
    """Decode memory with one of the usual slips (the defaults give the right count)."""
    c = config
    total = 0
    for i in range(c.n_layer):
        if all_attention or c.layer_mixer(i) == "attention":
            total += kv_factor * (kv_heads or c.n_kv_head) * c.head_dim * context_len
        elif ssm_layers:
            D = c.ssm_d_inner
            state = D * c.ssm_d_state * (context_len if state_per_token else 1)
            total += state + (D * (c.ssm_d_conv - 1) if conv else 0)
    return total * nbytes


def check_decode_cache_bytes(fn) -> None:
    """Exercise: ``fn(config, context_len)`` is the memory, in bytes, that the float32 decode
    caches of a model with "attention" and "ssm" layers hold after ``context_len`` tokens
    (batch 1)."""
    shapes = [
        (dict(mixer=("ssm", "ssm", "attention", "ssm")), 96,
         "the hybrid [ssm, ssm, attention, ssm], 96 tokens"),
        (dict(mixer="ssm", ssm_d_state=8, ssm_expand=1, ssm_d_conv=3), 200,
         "all-SSM, d_state 8, expand 1, d_conv 3, 200 tokens"),
        (dict(mixer=("attention", "ssm", "attention", "ssm"), n_kv_head=2), 50,
         "[attention, ssm, attention, ssm] with 2 K/V heads, 50 tokens"),
    ]
    for changes, context_len, context in shapes:
        config = ModelConfig(vocab_size=11, n_layer=4, n_head=4, d_model=32,
                             max_seq_len=256, **changes)
        torch.manual_seed(0)
        model = SLM(config)  # float32
        expected = sum(cache.nbytes() for cache in model.new_caches(1, context_len))
        answer = _int_answer(fn, "decode_cache_bytes", config, context_len)
        slip = partial(_cache_variant, config, context_len)
        _match_int(answer, expected, {
            "an SSM layer also keeps the convolution's last d_conv - 1 inputs per channel: "
            "D·(d_conv - 1) values besides the D·N state.": slip(conv=False),
            "the SSM state does not grow with the context: D·N + D·(d_conv - 1) values per "
            "layer, however many tokens came before.": slip(state_per_token=True),
            "an attention layer caches a key AND a value per K/V head per token: "
            "2·H_kv·head_dim·context.": slip(kv_factor=1),
            "the cache holds the K/V heads (n_kv_head), not the query heads (n_head).":
                slip(kv_heads=config.n_head),
            "only the attention layers keep a KV cache; the SSM layers keep their fixed-size "
            "state (config.layer_mixer(i) says which is which).": slip(all_attention=True),
            "the SSM layers hold memory too: D·N state values plus D·(d_conv - 1) convolution "
            "inputs each.": slip(ssm_layers=False),
            "that is a count of values; each float32 value takes 4 bytes.": slip(nbytes=1),
        }, context)
    print("Correct: your byte count matches what SLM.new_caches allocates.")
