"""Checks for lab 02's counting exercises: parameters, decode FLOPs per token and KV-cache
bytes, each against what the library's model has or allocates.
"""

from __future__ import annotations

import torch

from slmlab.checks._model_compare import _int_answer, _match_int
from slmlab.model import SLM, ModelConfig, decode_flops_per_token

# -- counting ----------------------------------------------------------------------------------
COUNT_CONFIGS = (
    # H / H_kv, n_layer and batch are kept apart from 2 and 8 so each slip gives its own number.
    dict(vocab_size=40, n_layer=4, n_head=4, n_kv_head=1, d_model=128, max_seq_len=128),
    dict(vocab_size=300, n_layer=3, n_head=6, n_kv_head=2, d_model=96, d_ff=200,
         tie_embeddings=False),
    dict(vocab_size=512, n_layer=5, n_head=8, n_kv_head=2, d_model=64, max_seq_len=64),
)


def check_param_count(fn) -> None:
    """Exercise: ``fn(config)`` returns the number of parameters of ``SLM(config)``."""
    for kw in COUNT_CONFIGS:
        cfg = ModelConfig(**kw)
        expected = SLM(cfg).num_params()
        C, L, V, F_, d = cfg.d_model, cfg.n_layer, cfg.vocab_size, cfg.d_ff, cfg.head_dim
        head = V * C
        slips = {
            "with tie_embeddings the head reuses the embedding matrix: count it once.":
                expected + head if cfg.tie_embeddings else None,
            "without tie_embeddings the head is its own V x C matrix: count it too.":
                expected - head if not cfg.tie_embeddings else None,
            "forgot the RMSNorm gains: 2 per block plus the final one, d_model each.":
                expected - C * (2 * L + 1),
            "K and V have n_kv_head heads, not n_head (that is what GQA saves).":
                expected + L * 2 * (cfg.n_head - cfg.n_kv_head) * d * C,
            "SwiGLU has three matrices (gate, up, down), each d_model x d_ff.":
                expected - L * C * F_,
            "forgot the attention's output projection W_O (d_model x d_model).":
                expected - L * C * C,
        }
        answer = _int_answer(fn, "param_count", cfg)
        _match_int(answer, expected, {k: v for k, v in slips.items() if v is not None},
                   f"config {kw}")
    print("Correct: your count equals SLM(config).num_params() for all test shapes.")


def check_decode_flops(fn) -> None:
    """Exercise: ``fn(config, context_len)`` returns the matmul FLOPs to generate one token
    with a KV cache of ``context_len`` tokens (2 FLOPs per multiply-accumulate)."""
    for kw in COUNT_CONFIGS:
        cfg = ModelConfig(**kw)
        for n_ctx in (1, 50):
            expected = decode_flops_per_token(cfg, n_ctx)
            C, L, H, Hkv, d = cfg.d_model, cfg.n_layer, cfg.n_head, cfg.n_kv_head, cfg.head_dim
            attention = L * 4 * H * d * n_ctx
            slips = {
                "count 2 FLOPs per multiply-accumulate (one multiply, one add).":
                    expected // 2,
                "forgot attention itself: Q·Kᵀ and weights·V over the context cost "
                "2·H·d·context each, per layer.": expected - attention,
                "attention has two matmuls (Q·Kᵀ, then weights·V): 4·H·d·context per layer.":
                    expected - attention // 2,
                "every query head computes its own scores: use n_head (not n_kv_head) in the "
                "attention term.": expected - attention + L * 4 * Hkv * d * n_ctx,
                "forgot the LM head: 2·d_model·vocab_size per token.":
                    expected - 2 * C * cfg.vocab_size,
                "K and V projections have n_kv_head heads, not n_head.":
                    expected + L * 2 * 2 * (H - Hkv) * d * C,
            }
            answer = _int_answer(fn, "decode_flops", cfg, n_ctx)
            _match_int(answer, expected, slips, f"config {kw}, context {n_ctx}")
    print("Correct: your FLOPs per token equal slmlab.model.decode_flops_per_token.")


def check_kv_cache_bytes(fn) -> None:
    """Exercise: ``fn(config, context_len, batch, bytes_per_value)`` returns the bytes of the
    KV cache an SLM holds for ``batch`` sequences of ``context_len`` tokens."""
    for kw in COUNT_CONFIGS:
        cfg = ModelConfig(**kw)
        model = SLM(cfg)
        for n_ctx, batch, dtype in ((64, 1, torch.float32), (40, 3, torch.bfloat16)):
            nbytes = torch.finfo(dtype).bits // 8
            # The caches the model would allocate, one per block, in that dtype.
            expected = sum(b.mixer.new_cache(batch, n_ctx, dtype=dtype).nbytes()
                           for b in model.blocks)
            one_layer_k = batch * cfg.n_kv_head * n_ctx * cfg.head_dim * nbytes
            slips = {
                "a cache holds keys AND values: count both (x 2).": expected // 2,
                "the cache stores n_kv_head heads, not n_head (that is what GQA saves).":
                    expected * cfg.n_head // cfg.n_kv_head,
                "every layer has its own cache: multiply by n_layer.": 2 * one_layer_k,
                "that is bits: bytes_per_value is already in bytes.": expected * 8,
                "use the batch argument: one cache row per sequence.": expected // batch,
            }
            answer = _int_answer(fn, "kv_cache_bytes", cfg, n_ctx, batch, nbytes)
            _match_int(answer, expected, slips,
                       f"config {kw}, context {n_ctx}, batch {batch}, {nbytes} bytes/value")
    print("Correct: your formula equals the bytes of the caches SLM.new_caches allocates.")
