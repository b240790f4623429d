"""hardware_model and slmlab agree: FLOP and parameter counts; hardware_model imports no torch."""

import subprocess
import sys

import pytest

from hardware_model.arch import Arch
from hardware_model.workload import decode_flops_per_token


def test_hardware_model_imports_neither_torch_nor_slmlab():
    code = (
        "import sys, hardware_model as hm; hm.simulate('smollm2-135m', 'raspberry-pi-5'); "
        "hm.sweep('smollm2-135m', 'raspberry-pi-5'); "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'slmlab')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flops_and_params_match_slmlab():
    model = pytest.importorskip("slmlab.model")
    configs = [
        model.ModelConfig(
            vocab_size=96, n_layer=2, n_head=4, n_kv_head=2, d_model=64, max_seq_len=64
        ),
        model.ModelConfig(
            vocab_size=300,
            n_layer=3,
            n_head=6,
            d_model=96,
            d_ff=200,
            max_seq_len=128,
            tie_embeddings=False,
        ),
    ]
    for cfg in configs:
        arch = Arch.from_slm(cfg)
        for ctx in (0, 1, 37, 64):
            assert decode_flops_per_token(arch, ctx) == model.decode_flops_per_token(cfg, ctx)
        slm = model.SLM(cfg)
        assert arch.num_params() == slm.num_params()
        assert Arch.from_slm(slm).num_params() == arch.num_params()


@pytest.mark.parametrize("changes", [
    dict(mixer="sliding_window", window=16),
    dict(mixer="linear_attention"),
    dict(mixer="ssm"),
    dict(mixer=["ssm", "attention", "ssm"], n_layer=3),
    dict(mlp="moe", n_experts=4, top_k=2),
    dict(n_layer=4, n_unique_blocks=2),
])
def test_efficient_variants_match_slmlab(changes):
    model = pytest.importorskip("slmlab.model")
    cfg = model.ModelConfig(**{**dict(vocab_size=96, n_layer=2, n_head=4, n_kv_head=2,
                                      d_model=64, max_seq_len=64), **changes})
    arch = Arch.from_slm(cfg)
    assert arch.num_params() == model.SLM(cfg).num_params()
    for ctx in (1, 10, 64):
        assert decode_flops_per_token(arch, ctx) == model.decode_flops_per_token(cfg, ctx)


def test_block_sparse_reads_as_its_widest_window():
    model = pytest.importorskip("slmlab.model")
    cfg = model.ModelConfig(vocab_size=96, n_layer=2, n_head=4, d_model=64, max_seq_len=256,
                            mixer="block_sparse", block_size=16, n_global=4)
    arch = Arch.from_slm(cfg)
    assert arch.window == 2 * 16 + 4
    # hardware_model's window is an upper bound on what slmlab's decode step reads.
    for ctx in (1, 20, 100, 256):
        assert decode_flops_per_token(arch, ctx) >= model.decode_flops_per_token(cfg, ctx)
