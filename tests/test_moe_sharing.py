"""Mixture of experts and block sharing: against a dense loop, hand-computed losses and
counts, and the config's error messages."""

import pytest
import torch

from slmlab.model import SLM, ModelConfig, MoE, active_params, forward_flops
from slmlab.model.moe import balance_loss, z_loss

BASE = dict(vocab_size=40, n_layer=2, n_head=4, d_model=32, d_ff=48, max_seq_len=64)


def moe_layer(**changes) -> MoE:
    torch.manual_seed(0)
    return MoE(ModelConfig(**{**BASE, "mlp": "moe", **changes}))


def dense_loop(moe: MoE, x: torch.Tensor) -> torch.Tensor:
    """Reference: for every token, the gate-weighted sum of its chosen experts, one at a time."""
    flat = x.reshape(-1, x.shape[-1])
    probs = (flat @ moe.router.weight.t()).softmax(-1)
    out = torch.zeros_like(flat)
    for n in range(flat.shape[0]):
        p, idx = probs[n].topk(moe.top_k)
        for gate, e in zip(p / p.sum(), idx.tolist()):
            out[n] += gate * moe.experts[e](flat[n:n + 1])[0]
    return out.view_as(x)


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_moe_without_dropping_equals_a_dense_loop_over_the_chosen_experts(top_k):
    moe = moe_layer(n_experts=4, top_k=top_k, capacity_factor=100.0).train()
    x = torch.randn(3, 7, 32)
    torch.testing.assert_close(moe(x), dense_loop(moe, x), atol=1e-6, rtol=1e-5)
    assert moe.stats["dropped"] == 0
    assert int(moe.stats["tokens_per_expert"].sum()) == 21 * top_k


def test_capacity_drops_the_overflow_first_choices_first():
    moe = moe_layer(n_experts=2, top_k=1, capacity_factor=0.5).train()
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0, 0] = 10.0  # every token with x[0] > 0 prefers expert 0
    x = torch.randn(1, 16, 32)
    x[0, :, 0] = 1.0  # all 16 tokens choose expert 0
    y = moe(x)
    cap = moe.capacity(16)
    assert cap == 4  # ceil(0.5 * 16 * 1 / 2)
    assert moe.stats["kept_per_expert"].tolist() == [4, 0]
    assert moe.stats["dropped"] == 12
    # The first four tokens (queue order) keep their expert; the rest get nothing from the MLP.
    ref = dense_loop(moe, x)
    torch.testing.assert_close(y[0, :4], ref[0, :4], atol=1e-6, rtol=1e-5)
    assert torch.all(y[0, 4:] == 0)
    # In eval mode nothing is dropped: decoding never depends on the neighbours.
    moe.eval()
    torch.testing.assert_close(moe(x), ref, atol=1e-6, rtol=1e-5)


def test_balance_loss_is_one_when_uniform_and_E_when_collapsed():
    E, N = 4, 64
    uniform = torch.full((N, E), 1 / E)
    spread = torch.arange(N)[:, None] % E  # each expert gets N/E tokens
    assert balance_loss(uniform, spread, E).item() == pytest.approx(1.0)
    collapsed = torch.zeros(N, E)
    collapsed[:, 0] = 1.0
    assert balance_loss(collapsed, torch.zeros(N, 1, dtype=torch.long), E).item() == \
        pytest.approx(E)
    # By hand: f = [3/4, 1/4, 0, 0], P = [0.5, 0.3, 0.1, 0.1] -> 4 * (0.375 + 0.075) = 1.8.
    probs = torch.tensor([[0.5, 0.3, 0.1, 0.1]] * 4)
    top = torch.tensor([[0], [0], [0], [1]])
    assert balance_loss(probs, top, E).item() == pytest.approx(1.8)


def test_z_loss_by_hand_and_aux_losses_reach_the_training_loss_only_in_training():
    logits = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # logsumexp = log 2 and 1 + log 2.
    expected = ((torch.log(torch.tensor(2.0))) ** 2 + (1 + torch.log(torch.tensor(2.0))) ** 2) / 2
    assert z_loss(logits).item() == pytest.approx(expected.item())
    torch.manual_seed(1)
    model = SLM(ModelConfig(**BASE, mlp="moe", capacity_factor=None, moe_aux_loss_weight=0.5,
                            moe_z_loss_weight=0.1))
    x = torch.randint(0, 40, (2, 20))
    model.train()
    _, train_loss = model(x, x)
    aux = model.aux_loss
    stats = [b.mlp.stats for b in model.blocks]
    by_hand = sum(0.5 * s["balance_loss"] + 0.1 * s["z_loss"] for s in stats)
    assert aux.item() == pytest.approx(by_hand, rel=1e-5)
    model.eval()
    _, eval_loss = model(x, x)
    assert train_loss.item() == pytest.approx(eval_loss.item() + aux.item(), rel=1e-5)
    train_loss.backward()
    assert model.blocks[0].mlp.router.weight.grad.abs().sum() > 0  # the router learns


def test_active_and_total_parameters():
    c = ModelConfig(**BASE, mlp="moe", n_experts=4, top_k=1)
    model = SLM(c)
    dense = SLM(ModelConfig(**BASE))
    expert = 3 * 32 * 48
    assert model.num_params() == dense.num_params() + 2 * (3 * expert + 32 * 4)
    assert active_params(model) == dense.num_params() + 2 * 32 * 4  # one expert + router
    assert active_params(dense) == dense.num_params()


@pytest.mark.parametrize("pattern,n_unique,expected", [
    ("all", 1, (0, 0, 0, 0, 0, 0)),
    ("all", 2, (0, 1, 0, 1, 0, 1)),
    ("all", 4, (0, 1, 2, 3, 0, 1)),
    ("repeat", 2, (0, 0, 0, 1, 1, 1)),
    ("repeat", 3, (0, 0, 1, 1, 2, 2)),
    ("repeat", 6, (0, 1, 2, 3, 4, 5)),
])
def test_share_patterns_map_layers_to_blocks(pattern, n_unique, expected):
    c = ModelConfig(**{**BASE, "n_layer": 6}, n_unique_blocks=n_unique, share_pattern=pattern)
    assert c.layer_blocks == expected
    model = SLM(c)
    assert len(model.blocks) == n_unique


def test_sharing_saves_parameters_not_flops_and_shares_weights_not_caches():
    torch.manual_seed(2)
    full = SLM(ModelConfig(**{**BASE, "n_layer": 4}))
    shared = SLM(ModelConfig(**{**BASE, "n_layer": 4}, n_unique_blocks=1))
    per_block = sum(p.numel() for p in full.blocks[0].parameters())
    assert full.num_params() - shared.num_params() == 3 * per_block
    assert forward_flops(full.config, 2, 16) == forward_flops(shared.config, 2, 16)
    # Running the one shared block four times is what the forward does:
    x = torch.randint(0, 40, (1, 9))
    h = shared.tok_emb(x)
    for _ in range(4):
        h = shared.blocks[0](h, shared.rope)
    torch.testing.assert_close(shared(x)[0], shared.head(shared.norm(h)))
    caches = shared.new_caches(1)
    assert len(caches) == 4 and len({id(c) for c in caches}) == 4
    steps = torch.cat([shared(x[:, i:i + 1], caches=caches)[0] for i in range(9)], dim=1)
    torch.testing.assert_close(steps, shared(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("changes,match", [
    (dict(mixer="sliding_window"), "window is required"),
    (dict(mixer="sliding_window", window=0), "window must be an int >= 1"),
    (dict(mixer="block_sparse", block_size=0), "block_size"),
    (dict(n_global=-1), "n_global must be an int >= 0"),
    (dict(mixer="mamba"), "mixer must be one of"),
    (dict(mixer=["ssm"]), "one entry per layer"),
    (dict(mlp="moe", n_experts=4, top_k=5), r"top_k \(5\) must be <= n_experts \(4\)"),
    (dict(mlp="moe", capacity_factor=0), "capacity_factor must be None or a number > 0"),
    (dict(mlp="dense"), "mlp must be one of"),
    (dict(moe_aux_loss_weight=-1), "moe_aux_loss_weight"),
    (dict(ssm_d_state=0), "ssm_d_state"),
    (dict(n_unique_blocks=3), r"n_unique_blocks \(3\) must be <= n_layer \(2\)"),
    (dict(n_layer=4, n_unique_blocks=3, share_pattern="repeat"), "divisible"),
    (dict(share_pattern="cycle"), "share_pattern must be one of"),
    (dict(n_unique_blocks=1, mixer=["ssm", "attention"]), "shared layers need the same mixer"),
])
def test_bad_configurations_get_clear_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{**BASE, **changes})


def test_repr_shows_what_matters_and_rebuilds_the_config():
    plain = ModelConfig(**BASE)
    assert "window" not in repr(plain) and "n_experts" not in repr(plain)
    for config in (plain,
                   ModelConfig(**BASE, mixer=["ssm", "sliding_window"], window=8, mlp="moe"),
                   ModelConfig(**BASE, n_unique_blocks=1, top_k=1, block_size=8)):
        assert eval(repr(config), {"ModelConfig": ModelConfig}) == config
    moe = repr(ModelConfig(**BASE, mlp="moe"))
    assert "n_experts=4" in moe and "top_k=2" in moe  # defaults shown when the MLP uses them
