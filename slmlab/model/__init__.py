"""The small language model, one concept per file (read in this order):

    config.py      ModelConfig: the shape, validated
    norm.py        RMSNorm
    rope.py        rotary position embedding
    attention.py   causal self-attention with GQA, and the KV cache
    mlp.py         SwiGLU feed-forward
    mixers.py      the switch point: which mixer / MLP each block gets
    block.py       a pre-norm transformer block
    slm.py         SLM: embedding, blocks, head, forward, loss
    generation.py  greedy / temperature / top-k / top-p, cached decoding, the context rule
    flops.py       analytic parameter and FLOP counts
"""

from .attention import CausalSelfAttention, KVCache
from .config import MIXERS, MLPS, ModelConfig, swiglu_hidden
from .flops import (
    attention_flops_per_token,
    decode_flops_per_token,
    forward_flops,
    matmul_weights_per_token,
    training_flops,
)
from .generation import generate, sample_next
from .slm import SLM

__all__ = [
    "MIXERS", "MLPS", "ModelConfig", "SLM", "CausalSelfAttention", "KVCache", "swiglu_hidden",
    "generate", "sample_next", "matmul_weights_per_token", "attention_flops_per_token",
    "decode_flops_per_token", "forward_flops", "training_flops",
]
