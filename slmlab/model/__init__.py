"""The small language model, one concept per file (read in this order):

    config.py      ModelConfig: the shape, validated
    norm.py        RMSNorm (on a CPU through norm_kernel.cpp, one pass each way)
    rope.py        rotary position embedding (training on a CPU: rope_kernel.cpp, in place)
    attention.py   causal self-attention with GQA, and the KV cache (training on a CPU:
                   attention_kernel.cpp, its products through torch's BLAS)
    sliding_window.py  attention over the last W positions, rolling KV cache
    block_sparse.py    attention over local blocks plus global tokens
    linear_attention.py  kernelized linear attention: chunked parallel form, recurrent state
    ssm.py         selective state-space layer (Mamba-style): parallel scan, recurrent state
    mlp.py         SwiGLU feed-forward (on a CPU: the activation in swiglu_kernel.cpp)
    moe.py         mixture of SwiGLU experts: router, top-k, capacity, balancing losses
    mixers.py      the switch point: which mixer / MLP each layer gets
    block.py       a pre-norm transformer block
    slm.py         SLM: embedding, blocks, head, forward, loss
    generation.py  greedy / temperature / top-k / top-p, cached decoding, the context rule
    compiled_decode.py  one decode step compiled ahead of time (SLM.compile_decode)
    decode_kernel.py    the same step written by hand in C++ (decode_kernel.cpp) for
                   batch 1 on a CPU: 5 points per layer where threads wait instead of ~18
    huge_pages.py  weights in 2 MB memory pages for that step (Linux)
    native.py      builds and loads the C++ kernels (*.cpp here; fast_exp.h is their e^x)
                   with torch's OpenMP
    flops.py       analytic parameter and FLOP counts
"""

from .attention import CausalSelfAttention, KVCache
from .block_sparse import BlockSparseAttention
from .config import MIXERS, MLPS, SHARE_PATTERNS, ModelConfig, swiglu_hidden
from .flops import (
    active_params,
    attention_flops_per_token,
    decode_flops_per_token,
    forward_flops,
    matmul_weights_per_token,
    token_flops,
    training_flops,
)
from .generation import generate, sample_next
from .linear_attention import LinearAttention, LinearAttentionState
from .mixers import MIXER_CLASSES, MLP_CLASSES
from .moe import MoE
from .sliding_window import RingKVCache, SlidingWindowAttention
from .slm import SLM
from .ssm import SelectiveSSM, SSMState, selective_scan

__all__ = [
    "MIXERS", "MLPS", "SHARE_PATTERNS", "ModelConfig", "SLM", "swiglu_hidden",
    "CausalSelfAttention", "KVCache", "SlidingWindowAttention", "RingKVCache",
    "BlockSparseAttention", "LinearAttention", "LinearAttentionState", "SelectiveSSM",
    "SSMState", "selective_scan", "MoE", "MIXER_CLASSES", "MLP_CLASSES",
    "generate", "sample_next", "matmul_weights_per_token", "token_flops",
    "attention_flops_per_token", "decode_flops_per_token", "forward_flops", "training_flops",
    "active_params",
]
