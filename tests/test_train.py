"""The training loop: it learns, it is deterministic, it resumes exactly, it rejects bad input."""

import pytest
import torch

from slmlab.model import SLM, ModelConfig
from slmlab.train import get_batch, lr_at, train


def make_model(seed=0) -> SLM:
    torch.manual_seed(seed)
    return SLM(ModelConfig(vocab_size=12, n_layer=1, n_head=2, d_model=16, max_seq_len=16))


# A periodic sequence: perfectly predictable after one period.
IDS = torch.tensor(([0, 3, 5, 7, 1, 9, 11, 2] * 60), dtype=torch.long)


def test_loss_falls_on_a_learnable_sequence():
    m = make_model()
    h = train(m, IDS, IDS, steps=120, batch_size=8, seq_len=12, lr=1e-2, progress=False)
    assert h.train_loss[0] > 2.0  # ≈ ln 12 at the start
    assert h.final_val_loss < 0.2
    assert len(h.steps) == 120 and h.steps[-1] == 120
    assert h.val_steps[-1] == 120 and h.tokens_per_s > 0
    assert not m.training  # handed back in eval mode


def test_same_seed_same_losses_different_seed_different_losses():
    runs = [train(make_model(), IDS, steps=15, batch_size=4, seq_len=8, seed=s,
                  progress=False).train_loss for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_resume_continues_exactly(tmp_path):
    kw = dict(steps=20, batch_size=4, seq_len=8, lr=3e-3, seed=5, progress=False)
    straight = make_model()
    h_straight = train(straight, IDS, IDS, eval_every=5, **kw)

    path = tmp_path / "run.safetensors"
    first = make_model()
    # Stop after 10 steps by asking for 10 steps with the same schedule length...
    def stop_at_10(step, history):
        if step == 10:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(first, IDS, IDS, eval_every=5, checkpoint_path=path, checkpoint_every=5,
              callback=stop_at_10, **kw)
    resumed = make_model(seed=99)  # different init: everything must come from the checkpoint
    h_resumed = train(resumed, IDS, IDS, eval_every=5, checkpoint_path=path, resume=True, **kw)
    assert h_resumed.train_loss == h_straight.train_loss
    assert h_resumed.val_loss == h_straight.val_loss
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    lrs = [lr_at(s, lr=1.0, warmup=10, steps=100, min_lr_ratio=0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # monotone decay after warm-up
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    assert lrs[55] == pytest.approx(0.55, abs=1e-6)  # cosine midpoint: floor + half the range


def test_get_batch_targets_are_inputs_shifted_by_one():
    g = torch.Generator().manual_seed(0)
    ids = torch.arange(100)
    x, y = get_batch(ids, 5, 7, g)
    assert x.shape == y.shape == (5, 7)
    assert torch.equal(y, x + 1)


@pytest.mark.parametrize("kw, match", [
    (dict(steps=0), "steps"),
    (dict(batch_size=-2), "batch_size"),
    (dict(seq_len=64), "max_seq_len"),
    (dict(lr=0), "lr"),
    (dict(train_ids=[[1, 2], [3, 4]]), "1-D"),
    (dict(train_ids=torch.tensor([1, 2, 3])), "at least"),
    (dict(checkpoint_every=5), "checkpoint_path"),
    (dict(resume=True), "checkpoint_path"),
])
def test_train_rejects_bad_arguments(kw, match):
    args = dict(train_ids=IDS, steps=3, batch_size=2, seq_len=8, progress=False)
    args.update(kw)
    ids = args.pop("train_ids")
    with pytest.raises(ValueError, match=match):
        train(make_model(), ids, **args)


def test_loss_mask_hides_targets_from_the_loss():
    g = torch.Generator().manual_seed(0)
    ids = torch.arange(50)
    mask = ids % 2 == 0  # score only even targets
    x, y = get_batch(ids, 4, 6, g, mask)
    assert torch.equal(y == -1, (x + 1) % 2 == 1)
    # A mask that hides everything but one token still trains, and only that token matters.
    with pytest.raises(ValueError, match="loss_mask"):
        train(make_model(), IDS, steps=1, batch_size=2, seq_len=8, progress=False,
              loss_mask=torch.ones(5, dtype=torch.bool))
