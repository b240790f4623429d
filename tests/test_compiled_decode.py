"""The compiled decode step: same logits as the eager model's cached decoding, same tokens."""

import pytest
import torch
from torch import nn

from slmlab.model import SLM, ModelConfig, compiled_decode
from slmlab.model.compiled_decode import CompiledDecoder

CONFIGS = {
    "mha": dict(n_head=4, n_kv_head=4),
    "gqa": dict(n_head=4, n_kv_head=2),
    "mqa_shared": dict(n_head=4, n_kv_head=1, n_layer=4, n_unique_blocks=2),
}


def tiny(**kw) -> SLM:
    torch.manual_seed(0)
    args = dict(vocab_size=61, n_layer=2, n_head=4, d_model=32, max_seq_len=48)
    args.update(kw)
    return SLM(ModelConfig(**args)).eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_step_matches_the_eager_cached_decode(name):
    model = tiny(**CONFIGS[name])
    decoder = CompiledDecoder(model, compile=False)
    prompt = torch.randint(0, 61, (2, 5))
    with torch.inference_mode():
        ref_caches = model.new_caches(2)
        caches = decoder.new_caches(2, model.config.max_seq_len)
        ref = model._forward(prompt, ref_caches, last_only=True)
        got = model._forward(prompt, caches, last_only=True)
        for _ in range(12):
            token = ref[:, -1].argmax(-1)  # (2,)
            ref = model._forward(token[:, None], ref_caches, last_only=True)
            got, greedy = decoder.step(token, caches)
            assert got.shape == ref.shape == (2, 1, 61)
            torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
            assert torch.equal(greedy, ref[:, 0].argmax(-1))
        assert caches[0].length == ref_caches[0].length == 17
        # The shared buffers hold exactly the keys the eager caches hold.
        for mine, theirs in zip(caches, ref_caches):
            torch.testing.assert_close(mine.k[:, :, :17], theirs.k[:, :, :17])
            torch.testing.assert_close(mine.v[:, :, :17], theirs.v[:, :, :17])


def test_generate_with_the_uncompiled_step_crosses_the_context_limit():
    """Past max_seq_len, generate crops and prefills again: still the eager model's tokens."""
    model = tiny(**CONFIGS["gqa"])
    prompt = torch.randint(0, 61, (1, 3))
    ref = model.generate(prompt, 70, temperature=0)
    model.compiled_decoder = CompiledDecoder(model, compile=False)
    assert torch.equal(model.generate(prompt, 70, temperature=0), ref)
    # Sampling goes through the same step: same seed, same tokens.
    model.compiled_decoder = None
    ref = model.generate(prompt, 30, temperature=0.8, top_k=10, seed=3)
    model.compiled_decoder = CompiledDecoder(model, compile=False)
    assert torch.equal(model.generate(prompt, 30, temperature=0.8, top_k=10, seed=3), ref)


def test_new_rotation_tables_are_seen_by_the_next_generation():
    """The step's inputs are kept per cache length; new RoPE tables (another device, here
    another base) must replace the kept ones, or the step would rotate with the old ones."""
    from slmlab.model.rope import RotaryEmbedding

    model = tiny(**CONFIGS["gqa"])
    model.compiled_decoder = CompiledDecoder(model, compile=False)
    prompt = torch.randint(0, 61, (1, 4))
    _assert_steps_match(model, prompt)
    model.rope = RotaryEmbedding(model.config.head_dim, model.config.max_seq_len, base=50.0)
    _assert_steps_match(model, prompt)


def _assert_steps_match(model, prompt, steps=6):
    """The decoder's logits equal the eager cached decode's, step by step."""
    decoder = model.compiled_decoder
    with torch.inference_mode():
        caches, ref_caches = decoder.new_caches(len(prompt), 48), model.new_caches(len(prompt))
        model._forward(prompt, caches, last_only=True)
        model._forward(prompt, ref_caches, last_only=True)
        ids = torch.randint(0, 61, (len(prompt), steps))
        for s in range(steps):  # a column of ids: with 2 rows, not contiguous
            logits, greedy = decoder.step(ids[:, s], caches)
            ref = model._forward(ids[:, s : s + 1], ref_caches, last_only=True)
            torch.testing.assert_close(logits, ref, rtol=1e-4, atol=1e-5)
            assert torch.equal(greedy, logits[:, 0].argmax(-1))


def test_compiled_step_gives_the_eager_tokens(monkeypatch):
    """The real compiled path (a C++ compiler is part of the course's set-up)."""
    builds = []
    build = torch._inductor.aoti_compile_and_package
    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package",
                        lambda *a, **kw: builds.append(1) or build(*a, **kw))
    paged = []  # what the decoder asked to keep in 2 MB pages
    monkeypatch.setattr(compiled_decode, "use_huge_pages", lambda ts: paged.extend(ts) or 0)
    model = tiny(**CONFIGS["gqa"])
    prompt = torch.randint(0, 61, (2, 4))
    ref = model.generate(prompt, 30, temperature=0)
    assert model.compile_decode() is model
    out = model.generate(prompt, 30, temperature=0)
    assert model.compiled_decoder.compiled  # False if it had fallen back to the uncompiled step
    assert model.compiled_decoder._runner is not None  # the steps ran compiled
    assert torch.equal(out, ref)
    # The tensors the compiled step streams: every bound weight and both KV buffers.
    decoder = model.compiled_decoder
    streamed = [*decoder._weights.values(), decoder.k, decoder.v]
    assert {id(t) for t in streamed} <= {id(t) for t in paged}
    assert decoder._weights and any(t is model.head.weight for t in paged)
    _assert_steps_match(model, prompt)
    # A second model of the same shape loads the compiled step from disk, with its own weights.
    n_builds = len(builds)  # 0 when an earlier run left the file on disk
    torch.manual_seed(1)
    other = SLM(model.config).eval().compile_decode()
    assert not torch.allclose(other(prompt)[0], model(prompt)[0])
    _assert_steps_match(other, prompt)
    assert len(builds) == n_builds
    # The step reads the model's own tensors: changed in place or replaced, it follows them.
    with torch.no_grad():
        other.head.weight.mul_(-1.5)
    down = other.blocks[1].mlp.down
    down.weight = nn.Parameter(torch.randn_like(down.weight))
    _assert_steps_match(other, prompt)
    assert len(builds) == n_builds
    # Weights stored transposed (optimize_for_decode) take the BLAS product in the graph.
    other.optimize_for_decode().compile_decode()
    _assert_steps_match(other, prompt)
    assert model.compile_decode(False).compiled_decoder is None


def test_a_failed_compile_falls_back_with_a_warning(monkeypatch):
    model = tiny()
    decoder = CompiledDecoder(model, kernel=False)  # batch 1 would take the hand-written kernel
    reference = CompiledDecoder(model, compile=False)

    def broken(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compiled_decode, "_build_runner", broken)
    prompt = torch.randint(0, 61, (1, 4))
    with torch.inference_mode():
        caches, ref_caches = decoder.new_caches(1, 48), reference.new_caches(1, 48)
        model._forward(prompt, caches, last_only=True)
        model._forward(prompt, ref_caches, last_only=True)
        token = torch.tensor([7])
        with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
            got = decoder.step(token, caches)
        assert not decoder.compiled
        want = reference.step(token, ref_caches)
        torch.testing.assert_close(got[0], want[0])
        assert torch.equal(got[1], want[1])


@pytest.mark.parametrize("kw", [dict(mixer="ssm"), dict(mixer="sliding_window", window=8),
                                dict(mlp="moe")])
def test_other_layers_are_refused_by_name(kw):
    with pytest.raises(ValueError, match="mixer 'attention' and mlp 'swiglu'"):
        tiny(**kw).compile_decode()


def test_a_full_cache_is_refused():
    model = tiny()
    decoder = CompiledDecoder(model, compile=False)
    with torch.inference_mode():
        caches = decoder.new_caches(1, 6)
        model._forward(torch.randint(0, 61, (1, 6)), caches, last_only=True)
        with pytest.raises(ValueError, match="KV cache full: 7 tokens > capacity 6"):
            decoder.step(torch.tensor([1]), caches)


def test_rope_real_pairs_equal_the_complex_rotation():
    """The compile-time RoPE (real cos/sin pairs) is the eager complex rotation."""
    from slmlab.model.rope import RotaryEmbedding, rotate_pairs

    rope = RotaryEmbedding(16, 40)
    x = torch.randn(2, 9, 3, 16, dtype=torch.float64).float()
    want = rope(x, start=5)
    got = rotate_pairs(x, rope.cos[5:14].view(1, 9, 1, 8), rope.sin[5:14].view(1, 9, 1, 8))
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(rotate_pairs(x, rope.cos[:9].view(1, 9, 1, 8),
                                           rope.sin[:9].view(1, 9, 1, 8)), want)


def test_compiled_training_forward_matches_eager():
    """model.compile() (torch's own) takes the real-pair RoPE path: same loss and gradients."""
    model = tiny(**CONFIGS["gqa"]).train()
    x, y = torch.randint(0, 61, (3, 12)), torch.randint(0, 61, (3, 12))
    _, ref = model(x, y)
    ref.backward()
    ref_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.compile()
    _, loss = model(x, y)
    loss.backward()
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-5)
    for p, g in zip(model.parameters(), ref_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="token ids must be in"):  # the input check still runs
        model(torch.full((1, 4), 99))


def test_a_compiled_step_is_rebuilt_for_what_it_was_specialised_to():
    """Batch size, weight layout and thread count each change the compiled step's key."""
    model = tiny()
    decoder = CompiledDecoder(model, compile=False)
    decoder.new_caches(1, 48)
    base = decoder._current_layout()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert decoder._current_layout() != base
    finally:
        torch.set_num_threads(threads)
    assert decoder._current_layout() == base
    decoder.new_caches(2, 48)
    assert decoder._current_layout() != base
    decoder.new_caches(1, 48)
    model.optimize_for_decode()
    assert decoder._current_layout() != base


def test_the_extra_flags_reach_the_compiler_command_on_x86_64_linux():
    """The compile options put the extra flags into those inductor builds its C++ command
    from (on x86-64 Linux; elsewhere the options leave the architecture flags alone)."""
    import platform
    import sys

    from torch._inductor import config, cpp_builder

    options = compiled_decode._compile_options()
    with config.patch(options):
        flags = cpp_builder._get_cpu_arch_cflags(cpp_builder.get_cpp_compiler())
    if sys.platform == "linux" and platform.machine() == "x86_64":
        extra = compiled_decode._EXTRA_CFLAGS.split()
        assert "-funroll-loops" in extra
        assert " ".join(flags).split() == ["march=native", *extra]
        # A march the user chose (TORCHINDUCTOR_CPP_MARCH) is kept, the flags added to it.
        with config.patch({"cpp.march": "znver3"}):  # (monkeypatch's undo deletes the entry)
            march = compiled_decode._compile_options()["cpp.march"]
        assert march.split() == ["znver3", *extra]
    else:
        assert "cpp.march" not in options
