"""Published small-language-model shapes, as `Arch` presets: `names()` and `get(name)`.

Every shape is read from the model's published configuration (its `config.json` on the
Hugging Face Hub, or the paper's table), and `published_params` is the size as its authors or
llama.cpp report it. tests/test_hm_models.py checks that the parameter count computed from the
shapes lands on that published size.
"""

from __future__ import annotations

from hardware_model._check import lookup_preset
from hardware_model.arch import Arch

_HF = "config.json of {} on the Hugging Face Hub"

# fmt: off
_PRESETS = [
    # ---- SmolLM2 (Allal et al., 2025): Llama-style, GQA, tied embeddings ----
    Arch("smollm2-135m", n_layer=30, d_model=576, n_head=9, n_kv_head=3, d_ff=1536,
         vocab_size=49152, max_seq_len=8192, published_params="135M",
         source=_HF.format("HuggingFaceTB/SmolLM2-135M")),
    Arch("smollm2-360m", n_layer=32, d_model=960, n_head=15, n_kv_head=5, d_ff=2560,
         vocab_size=49152, max_seq_len=8192, published_params="360M",
         source=_HF.format("HuggingFaceTB/SmolLM2-360M")),
    Arch("smollm2-1.7b", n_layer=24, d_model=2048, n_head=32, n_kv_head=32, d_ff=8192,
         vocab_size=49152, max_seq_len=8192, published_params="1.7B",
         source=_HF.format("HuggingFaceTB/SmolLM2-1.7B")),
    # ---- Qwen2.5 (Qwen team, 2024): biases on q, k, v; model cards give 0.49B and 1.54B ----
    Arch("qwen2.5-0.5b", n_layer=24, d_model=896, n_head=14, n_kv_head=2, d_ff=4864,
         vocab_size=151936, qkv_bias=True, max_seq_len=32768, published_params="0.49B",
         source=_HF.format("Qwen/Qwen2.5-0.5B")),
    Arch("qwen2.5-1.5b", n_layer=28, d_model=1536, n_head=12, n_kv_head=2, d_ff=8960,
         vocab_size=151936, qkv_bias=True, max_seq_len=32768, published_params="1.54B",
         source=_HF.format("Qwen/Qwen2.5-1.5B")),
    # ---- Llama 3.x (Meta, 2024): model cards give 1.23B, 3.21B, 8.03B ----
    Arch("llama-3.2-1b", n_layer=16, d_model=2048, n_head=32, n_kv_head=8, d_ff=8192,
         vocab_size=128256, max_seq_len=131072, published_params="1.23B",
         source=_HF.format("meta-llama/Llama-3.2-1B")),
    Arch("llama-3.2-3b", n_layer=28, d_model=3072, n_head=24, n_kv_head=8, d_ff=8192,
         vocab_size=128256, max_seq_len=131072, published_params="3.21B",
         source=_HF.format("meta-llama/Llama-3.2-3B")),
    Arch("llama-3.1-8b", n_layer=32, d_model=4096, n_head=32, n_kv_head=8, d_ff=14336,
         vocab_size=128256, tie_embeddings=False, max_seq_len=131072,
         published_params="8.03B", source=_HF.format("meta-llama/Llama-3.1-8B")),
    # ---- Phi (Microsoft): Phi-3-mini 3.8B (technical report), Phi-4 14.7B ----
    Arch("phi-3-mini", n_layer=32, d_model=3072, n_head=32, n_kv_head=32, d_ff=8192,
         vocab_size=32064, tie_embeddings=False, max_seq_len=4096, published_params="3.8B",
         source=_HF.format("microsoft/Phi-3-mini-4k-instruct")),
    Arch("phi-4", n_layer=40, d_model=5120, n_head=40, n_kv_head=10, d_ff=17920,
         vocab_size=100352, tie_embeddings=False, max_seq_len=16384,
         published_params="14.7B", source=_HF.format("microsoft/phi-4")),
    # ---- Gemma 2 2B (Gemma team, 2024): head_dim 256, GeGLU, four norms per block, local
    # sliding-window (4096) and global attention alternating, layer 0 local; 2.6B parameters ----
    Arch("gemma-2-2b", n_layer=26, d_model=2304, n_head=8, n_kv_head=4, head_dim=256,
         d_ff=9216, vocab_size=256000, mlp="geglu", norms_per_layer=4,
         mixer=("sliding_window", "attention") * 13, window=4096, max_seq_len=8192,
         published_params="2.6B", source=_HF.format("google/gemma-2-2b")),
    # ---- TinyLlama 1.1B (Zhang et al., 2024) ----
    Arch("tinyllama-1.1b", n_layer=22, d_model=2048, n_head=32, n_kv_head=4, d_ff=5632,
         vocab_size=32000, tie_embeddings=False, max_seq_len=2048, published_params="1.1B",
         source=_HF.format("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T")),
    # ---- 7B references; llama.cpp reports 6.74 B and 7.24 B parameters when it loads them ----
    Arch("llama-2-7b", n_layer=32, d_model=4096, n_head=32, n_kv_head=32, d_ff=11008,
         vocab_size=32000, tie_embeddings=False, max_seq_len=4096, published_params="6.74B",
         source=_HF.format("meta-llama/Llama-2-7b-hf")),
    Arch("mistral-7b", n_layer=32, d_model=4096, n_head=32, n_kv_head=8, d_ff=14336,
         vocab_size=32000, tie_embeddings=False, mixer="sliding_window", window=4096,
         max_seq_len=32768, published_params="7.24B",
         source=_HF.format("mistralai/Mistral-7B-v0.1")),
    # ---- OLMoE-1B-7B (Muennighoff et al., 2024): 64 experts, 8 active; QK-norm; 6.9B total,
    # 1.3B active ----
    Arch("olmoe-1b-7b", n_layer=16, d_model=2048, n_head=16, n_kv_head=16, d_ff=1024,
         vocab_size=50304, tie_embeddings=False, mlp="moe", n_experts=64, top_k=8,
         qk_norm=True, max_seq_len=4096, published_params="6.9B",
         source=_HF.format("allenai/OLMoE-1B-7B-0924")),
    # ---- Mamba (Gu & Dao, 2023): attention-free, one norm per block, no MLP; vocabulary 50277
    # padded to a multiple of 8 (50280) as the released checkpoints store it ----
    Arch("mamba-130m", n_layer=24, d_model=768, n_head=1, n_kv_head=1, d_ff=0,
         vocab_size=50280, mlp="none", mixer="ssm", norms_per_layer=1,
         published_params="130M", source=_HF.format("state-spaces/mamba-130m")),
    Arch("mamba-370m", n_layer=48, d_model=1024, n_head=1, n_kv_head=1, d_ff=0,
         vocab_size=50280, mlp="none", mixer="ssm", norms_per_layer=1,
         published_params="370M", source=_HF.format("state-spaces/mamba-370m")),
    Arch("mamba-1.4b", n_layer=48, d_model=2048, n_head=1, n_kv_head=1, d_ff=0,
         vocab_size=50280, mlp="none", mixer="ssm", norms_per_layer=1,
         published_params="1.4B", source=_HF.format("state-spaces/mamba-1.4b")),
]
# fmt: on

PRESETS: dict[str, Arch] = {a.name: a for a in _PRESETS}

# OLMoE's published active size, checked by the tests next to the total.
OLMOE_ACTIVE_PARAMS = "1.3B"


def names() -> list[str]:
    """Preset names, smallest model first."""
    return sorted(PRESETS, key=lambda n: PRESETS[n].num_params())


def get(name: str | Arch) -> Arch:
    """The preset Arch with this name (an Arch passed in is returned as is).

    Args:
        name: a preset name such as "llama-3.2-1b" (see names()).

    Returns:
        The Arch.
    """
    return lookup_preset(PRESETS, name, Arch, "model", names())
