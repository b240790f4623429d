"""Generation: cached == uncached, the context rule past max_seq_len, sampling filters."""

import pytest
import torch

from slmlab.model import SLM, ModelConfig, sample_next


def model(**kw) -> SLM:
    torch.manual_seed(1)
    cfg = dict(vocab_size=29, n_layer=2, n_head=2, d_model=16, max_seq_len=16)
    cfg.update(kw)
    return SLM(ModelConfig(**cfg)).eval()


def naive_greedy(m: SLM, prompt: list[int], n: int) -> list[int]:
    """Reference: re-run the full forward each step on the context the rule prescribes."""
    L = m.config.max_seq_len
    keep = max(1, 3 * L // 4)
    tokens, start = list(prompt), 0
    for _ in range(n):
        if len(tokens) - start > L:
            start = len(tokens) - keep
        logits, _ = m(torch.tensor([tokens[start:]]))
        tokens.append(int(logits[0, -1].argmax()))
    return tokens


@pytest.mark.parametrize("prompt_len", [1, 5, 16, 21])
def test_greedy_cached_equals_uncached_and_reference_past_max_seq_len(prompt_len):
    m = model()
    prompt = torch.randint(0, 29, (prompt_len,))
    n = 40  # runs past max_seq_len = 16: exercises the context rule
    cached = m.generate(prompt, n, temperature=0, use_cache=True)
    uncached = m.generate(prompt, n, temperature=0, use_cache=False)
    assert cached.shape == (prompt_len + n,)
    assert torch.equal(cached, uncached)
    assert cached.tolist() == naive_greedy(m, prompt.tolist(), n)


def test_batched_generation_matches_rows_alone():
    m = model(n_kv_head=1)
    prompts = torch.randint(0, 29, (3, 4))
    batched = m.generate(prompts, 10, temperature=0)
    for i in range(3):
        assert torch.equal(batched[i], m.generate(prompts[i], 10, temperature=0))


def test_sampling_is_seeded_and_top_k_one_is_greedy():
    m = model()
    p = torch.tensor([[1, 2, 3]])
    a = m.generate(p, 20, temperature=1.0, seed=7)
    b = m.generate(p, 20, temperature=1.0, seed=7)
    c = m.generate(p, 20, temperature=1.0, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    greedy = m.generate(p, 20, temperature=0)
    assert torch.equal(m.generate(p, 20, temperature=1.5, top_k=1, seed=3), greedy)
    assert torch.equal(m.generate(p, 20, temperature=1.0, top_p=1e-6, seed=3), greedy)


def test_top_k_and_top_p_keep_the_right_tokens():
    probs = torch.tensor([[0.5, 0.25, 0.15, 0.10]])
    logits = probs.log()
    g = torch.Generator().manual_seed(0)
    draws = lambda **kw: {int(sample_next(logits, generator=g, **kw)) for _ in range(400)}
    assert draws(top_k=2) == {0, 1}
    # Nucleus p=0.7: 0.5 < 0.7, 0.5+0.25 >= 0.7 -> keep tokens 0 and 1 only.
    assert draws(top_p=0.7) == {0, 1}
    assert draws(top_p=0.8) == {0, 1, 2}
    assert draws() == {0, 1, 2, 3}
    assert int(sample_next(logits, temperature=0)) == 0


def test_stop_token_ends_generation_early():
    m = model()
    p = torch.tensor([3, 4])
    full = m.generate(p, 30, temperature=0)
    stop = int(full[5])
    out = m.generate(p, 30, temperature=0, stop_token=stop)
    first = full[2:].tolist().index(stop) + 2
    assert out.tolist() == full[: first + 1].tolist()


def test_generate_does_not_leave_training_mode_changed():
    m = model()
    m.train()
    m.generate(torch.tensor([1]), 3)
    assert m.training


@pytest.mark.parametrize("kw, match", [
    (dict(idx=torch.tensor([1.0])), "int64"),
    (dict(idx=torch.tensor([], dtype=torch.long)), "at least one token"),
    (dict(idx=torch.tensor([29])), r"\[0, 29\)"),
    (dict(max_new_tokens=-1), "max_new_tokens"),
    (dict(temperature=-0.5), "temperature"),
    (dict(top_k=0), "top_k"),
    (dict(top_p=1.5), "top_p"),
    (dict(stop_token=99), "stop_token"),
])
def test_generate_rejects_bad_arguments(kw, match):
    args = dict(idx=torch.tensor([1, 2]), max_new_tokens=3)
    args.update(kw)
    idx, n = args.pop("idx"), args.pop("max_new_tokens")
    with pytest.raises(ValueError, match=match):
        model().generate(idx, n, **args)


def test_optimize_for_decode_changes_strides_only(tmp_path):
    from slmlab import checkpoint

    torch.manual_seed(0)
    for tie in (True, False):
        config = ModelConfig(vocab_size=50, n_layer=2, n_head=4, d_model=32, max_seq_len=64,
                             tie_embeddings=tie)
        model = SLM(config).eval()
        prompt = torch.randint(0, 50, (2, 5))
        before = model.generate(prompt, 20, temperature=0)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        assert model.optimize_for_decode() is model
        assert model.blocks[0].mixer.qkv.weight.stride() == (1, 96)  # (in, out) in memory
        assert (model.head.weight is model.tok_emb.weight) == tie
        assert torch.equal(model.generate(prompt, 20, temperature=0), before)
        for k, v in model.state_dict().items():
            assert torch.equal(v, state[k])
        path = checkpoint.save(tmp_path / f"m{tie}", model)
        loaded, _ = checkpoint.load(path)
        assert torch.equal(loaded.generate(prompt, 20, temperature=0), before)
        # It still trains (gradients flow to the re-laid-out weights).
        model.train()
        _, loss = model(prompt, prompt)
        loss.backward()
        assert model.blocks[0].mlp.down.weight.grad is not None
