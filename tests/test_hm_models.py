"""Architectures and presets: parameter counts against published sizes, validation, from_slm."""

import math
from types import SimpleNamespace

import pytest

import hardware_model as hm
from hardware_model.arch import Arch


def _parse(published: str) -> tuple[float, float]:
    """'1.23B' -> (1.23e9, half a unit in the last digit = 0.005e9)."""
    scale = {"M": 1e6, "B": 1e9}[published[-1]]
    digits = published[:-1]
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * scale, 0.5 * 10**-decimals * scale


@pytest.mark.parametrize("name", hm.models.names())
def test_parameter_count_matches_published_size(name):
    arch = hm.models.get(name)
    published, half_unit = _parse(arch.published_params)
    # Published sizes are rounded to 2-3 significant figures ("1.1B", "135M"), so the count
    # cannot be checked closer than half a unit of the last digit; 2 % on top of that still
    # catches a missing or doubled matrix (one layer or all k/v projections is >2.5 % of every
    # preset), while allowing the rounding of a name like "360M" for 361.8 M.
    assert abs(arch.num_params() - published) <= max(half_unit, 0.02 * published), (
        arch.num_params(),
        arch.published_params,
    )
    assert arch.source


def test_exact_counts_worked_by_hand():
    # SmolLM2-135M: embedding 49152*576 (tied) + 30 layers of [q,o 576^2; k,v 576*192;
    # MLP 3*576*1536; 2 norms of 576] + final norm 576.
    layer = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536 + 2 * 576
    assert hm.models.get("smollm2-135m").num_params() == 49152 * 576 + 30 * layer + 576
    # Qwen2.5-0.5B adds biases on q (896), k and v (128 each).
    layer = 896 * 896 + 896 + 2 * (896 * 128 + 128) + 896 * 896 + 3 * 896 * 4864 + 2 * 896
    assert hm.models.get("qwen2.5-0.5b").num_params() == 151936 * 896 + 24 * layer + 896
    # Qwen's model cards also give the non-embedding size: 0.36B and 1.31B.
    for name, non_emb in (("qwen2.5-0.5b", 0.36e9), ("qwen2.5-1.5b", 1.31e9)):
        a = hm.models.get(name)
        assert abs(a.num_params() - a.embedding_params() - non_emb) <= 0.005e9
    # Untied: TinyLlama stores the head separately (2 * 32000 * 2048 for the two tables).
    t = hm.models.get("tinyllama-1.1b")
    assert t.num_params() - t.replace(tie_embeddings=True).num_params() == 32000 * 2048


def test_moe_active_parameters_and_published_active_size():
    olmoe = hm.models.get("olmoe-1b-7b")
    published, half = _parse(hm.models.OLMOE_ACTIVE_PARAMS)
    assert abs(olmoe.active_params() - published) <= max(half, 0.02 * published)
    # Only 8 of 64 experts of 3 * 2048 * 1024 weights are active per layer.
    assert olmoe.num_params() - olmoe.active_params() == 16 * 56 * 3 * 2048 * 1024


def test_shared_blocks_count_unique_weights_once():
    a = Arch("shared", n_layer=8, d_model=64, n_head=4, n_kv_head=4, d_ff=128, vocab_size=100)
    s = a.replace(n_unique_blocks=2)
    assert a.num_params() - s.num_params() == 6 * a.layer_params(0)
    # Every layer still multiplies with its block's weights: the per-token work is unchanged.
    assert s.matmul_weights_per_token() == a.matmul_weights_per_token()


def test_gemma_head_dim_and_windows():
    g = hm.models.get("gemma-2-2b")
    assert g.head_dim == 256 != g.d_model // g.n_head
    assert g.layer_mixers[:2] == ("sliding_window", "attention") and g.window == 4096


def test_names_and_get():
    names = hm.models.names()
    assert len(names) >= 18 and {"llama-3.2-1b", "smollm2-135m", "qwen2.5-0.5b"} <= set(names)
    sizes = [hm.models.get(n).num_params() for n in names]
    assert sizes == sorted(sizes)
    assert hm.models.get("Llama-3.2-1B") is hm.models.get("llama-3.2-1b")
    with pytest.raises(ValueError, match="unknown model 'gpt-5'; presets: .*llama-3.2-1b"):
        hm.models.get("gpt-5")
    with pytest.raises(TypeError, match="preset name"):
        hm.models.get(3)


BASE = dict(name="t", n_layer=2, d_model=64, n_head=4, n_kv_head=2, d_ff=128, vocab_size=100)


@pytest.mark.parametrize(
    "change, exc, words",
    [
        (dict(n_kv_head=3), ValueError, "multiple of n_kv_head"),
        (dict(n_layer=0), ValueError, "n_layer must be >= 1"),
        (dict(d_model=64.0), TypeError, "d_model must be an int"),
        (dict(mixer="mamba"), ValueError, "mixer must be one of"),
        (dict(mixer=["attention"]), ValueError, "lists 1 layers but n_layer is 2"),
        (dict(mixer="sliding_window"), ValueError, "window is required"),
        (dict(mlp="relu"), ValueError, "mlp must be one of"),
        (dict(mlp="moe", n_experts=4, top_k=5), ValueError, "top_k"),
        (dict(n_unique_blocks=3), ValueError, "cannot exceed n_layer"),
        (dict(tie_embeddings=1), TypeError, "tie_embeddings must be True or False"),
        (dict(d_ff=0), ValueError, "d_ff must be positive"),
    ],
)
def test_arch_validation(change, exc, words):
    with pytest.raises(exc, match=words):
        Arch(**{**BASE, **change})


def test_from_slm_reads_attributes_duck_typed():
    cfg = SimpleNamespace(
        vocab_size=100,
        n_layer=2,
        n_head=4,
        n_kv_head=2,
        d_model=64,
        d_ff=128,
        max_seq_len=256,
        tie_embeddings=True,
    )
    a = Arch.from_slm(cfg)
    assert a == Arch(**BASE, max_seq_len=256, source="slmlab ModelConfig").replace(
        name="slmlab-model"
    )
    model = SimpleNamespace(config=cfg)
    assert Arch.from_slm(model, name="m").num_params() == a.num_params()
    moe = SimpleNamespace(
        **{**vars(cfg), "n_kv_head": None},
        mlp="moe",
        n_experts=4,
        top_k=2,
        mixer=["attention", "sliding_window"],
        window=16,
    )
    b = Arch.from_slm(moe)
    assert (b.n_experts, b.top_k, b.n_kv_head, b.layer_mixers[1]) == (4, 2, 4, "sliding_window")
    with pytest.raises(TypeError, match="lacks .*d_ff"):
        Arch.from_slm(SimpleNamespace(vocab_size=1, n_layer=1, n_head=1, d_model=8, max_seq_len=8))
    with pytest.raises(TypeError, match="from_slm needs"):
        Arch.from_slm(object())


def test_state_and_kv_sizes_by_hand():
    ssm = hm.models.get("mamba-130m")
    # d_inner = 1536: h is 1536 x 16 and the conv keeps 3 past inputs of 1536 each.
    assert ssm.state_elements(0) == 1536 * 16 + 1536 * 3 and ssm.kv_elements_per_token(0) == 0
    lin = Arch(**{**BASE, "mixer": "linear_attention"})
    assert lin.state_elements(1) == 4 * 16 * 17
    assert Arch(**BASE).kv_elements_per_token(0) == 2 * 2 * 16
    assert math.ceil(768 / 16) == ssm.ssm_dt_rank
