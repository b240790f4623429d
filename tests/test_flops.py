"""Analytic FLOPs against torch's own FLOP counter (SDPA's math backend, so the counter sees
the attention matmuls)."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from slmlab.model import (
    SLM,
    ModelConfig,
    decode_flops_per_token,
    forward_flops,
    matmul_weights_per_token,
    training_flops,
)


def counted(fn) -> int:
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


CONFIGS = [
    dict(vocab_size=50, n_layer=2, n_head=4, n_kv_head=4, d_model=32, max_seq_len=64),
    dict(vocab_size=71, n_layer=3, n_head=6, n_kv_head=2, d_model=48, d_ff=100, max_seq_len=64,
         tie_embeddings=False),
]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_flops_equal_torch_counter(cfg):
    c = ModelConfig(**cfg)
    m = SLM(c).eval()
    x = torch.randint(0, c.vocab_size, (2, 40))
    with torch.no_grad():
        assert forward_flops(c, 2, 40) == counted(lambda: m(x))


@pytest.mark.parametrize("cfg", CONFIGS)
def test_decode_flops_equal_torch_counter_for_one_cached_step(cfg):
    c = ModelConfig(**cfg)
    m = SLM(c).eval()
    caches = m.new_caches(1)
    with torch.no_grad():
        m(torch.randint(0, c.vocab_size, (1, 30)), caches=caches)
        step = torch.randint(0, c.vocab_size, (1, 1))
        # The new token attends to 31 keys: the 30 cached and itself.
        assert decode_flops_per_token(c, 31) == counted(lambda: m(step, caches=caches))


def test_training_flops_are_three_forwards_and_weights_count_the_head():
    c = ModelConfig(**CONFIGS[0])
    assert training_flops(c, 2, 8) == 3 * forward_flops(c, 2, 8)
    # Every weight except the (tied) embedding's lookup role and the norm gains is a matmul.
    m = SLM(c)
    norms = c.d_model * (2 * c.n_layer + 1)
    assert matmul_weights_per_token(c) == m.num_params() - norms
    assert forward_flops(c, 1, 8, causal_skip=True) < forward_flops(c, 1, 8)
    with pytest.raises(ValueError):
        forward_flops(c, 0, 8)
    with pytest.raises(TypeError):
        forward_flops("gpt", 1, 8)


VARIANTS = [
    dict(mixer="sliding_window", window=8),
    dict(mixer="block_sparse", block_size=8, n_global=3),
    dict(mixer="linear_attention"),
    dict(mixer="ssm"),
    dict(mlp="moe", n_experts=4, top_k=2),
    dict(n_layer=4, n_unique_blocks=2, share_pattern="repeat"),
    dict(n_layer=3, mixer=["ssm", "attention", "sliding_window"], window=8),
]


@pytest.mark.parametrize("changes", VARIANTS)
@pytest.mark.parametrize("T", [5, 40])
def test_every_mixer_mlp_and_sharing_matches_the_torch_counter(changes, T):
    c = ModelConfig(**{**CONFIGS[0], "n_kv_head": 2, **changes})
    m = SLM(c).eval()
    x = torch.randint(0, c.vocab_size, (2, T))
    with torch.no_grad():
        assert forward_flops(c, 2, T) == counted(lambda: m(x))
        caches = m.new_caches(1)
        m(x[:1], caches=caches)
        step = x[:1, :1]
        assert decode_flops_per_token(c, T + 1) == counted(lambda: m(step, caches=caches))


def test_causal_skip_counts_the_pairs_each_pattern_keeps():
    from slmlab.model import BlockSparseAttention, SlidingWindowAttention, token_flops

    base = ModelConfig(**CONFIGS[0])
    per_pair = 4 * base.n_head * base.head_dim * base.n_layer  # Q·Kᵀ and weights·V, all layers
    for cls, changes in ((SlidingWindowAttention, dict(mixer="sliding_window", window=8)),
                         (BlockSparseAttention, dict(mixer="block_sparse", block_size=8))):
        c = base.replace(**changes)
        pos = torch.arange(50)
        pairs = int(cls.allowed(c, pos, pos).sum())  # counted from the pattern itself
        attention = forward_flops(c, 1, 50, causal_skip=True) - 50 * token_flops(c)
        assert attention == pairs * per_pair
