"""The hand-written decode kernel: the eager step's logits, caches and tokens; where it is not
used, the generated step takes over."""

import pytest
import torch

from slmlab.model import SLM, ModelConfig, decode_kernel, native
from slmlab.model.compiled_decode import CompiledDecoder, decode_step

pytestmark = pytest.mark.skipif(not native.supported(),
                                reason="the kernel is built on x86-64 Linux only")


def tiny(**kw) -> SLM:
    torch.manual_seed(0)
    args = dict(vocab_size=61, n_layer=2, n_head=4, n_kv_head=2, d_model=32, d_ff=48,
                max_seq_len=48)
    args.update(kw)
    return SLM(ModelConfig(**args)).eval()


def prefilled(decoder, model, prompt, capacity=48):
    caches = decoder.new_caches(prompt.shape[0], capacity)
    model._forward(prompt, caches, last_only=True)
    return caches


# dot() runs 32 floats at a time, then 8, then one: d_model 32 and 40, d_ff 48 and 20 and
# head_dim 8 and 10 take each path.
@pytest.mark.parametrize("kw", [dict(), dict(tie_embeddings=False), dict(n_kv_head=1),
                                dict(n_kv_head=4, d_model=40, d_ff=20)])
def test_kernel_steps_match_the_eager_step(kw):
    model = tiny(**kw)
    kernel, reference = CompiledDecoder(model), CompiledDecoder(model, compile=False)
    prompt = torch.randint(0, 61, (1, 5))
    with torch.inference_mode():
        caches = prefilled(kernel, model, prompt)
        ref_caches = prefilled(reference, model, prompt)
        token = prompt[:, -1]
        for _ in range(30):  # past the RoPE positions and cache lengths of several steps
            logits, greedy = kernel.step(token, caches)
            want, want_greedy = reference.step(token, ref_caches)
            assert kernel._kernel, kernel.kernel_error  # the kernel, not a fallback, ran
            torch.testing.assert_close(logits, want, rtol=1e-4, atol=1e-5)
            assert torch.equal(greedy, logits[:, 0].argmax(-1))
            assert caches[0].length == ref_caches[0].length
            torch.testing.assert_close(kernel.k, reference.k, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(kernel.v, reference.v, rtol=1e-4, atol=1e-5)
            token = want_greedy


def test_generate_runs_the_kernel_and_gives_the_eager_tokens():
    model = tiny()
    prompt = torch.randint(0, 61, (1, 4))
    ref = model.generate(prompt, 40, temperature=0)  # eager, no compiled step
    out = model.compile_decode().generate(prompt, 40, temperature=0)
    decoder = model.compiled_decoder
    assert decoder.last_step == "kernel" and decoder._runner is None  # inductor's step never built
    assert torch.equal(out, ref)
    # Weights changed in place between generations are read by the next one.
    with torch.no_grad():
        model.head.weight.mul_(-1)
    assert torch.equal(model.generate(prompt, 20, temperature=0),
                       model.compile_decode(False).generate(prompt, 20, temperature=0))


def _generated_step_runs_eagerly(monkeypatch, decoder):
    calls = []
    monkeypatch.setattr(decoder, "_run_compiled",
                        lambda *inputs: calls.append(1) or decode_step(decoder.model, *inputs))
    return calls


@pytest.mark.parametrize("case", ["batch of two", "bfloat16", "transposed weights"])
def test_what_the_kernel_does_not_read_goes_to_the_generated_step(monkeypatch, case):
    model = tiny()
    batch = 2 if case == "batch of two" else 1
    if case == "bfloat16":
        model = model.to(torch.bfloat16)
    if case == "transposed weights":
        model.optimize_for_decode()
    decoder = CompiledDecoder(model)
    calls = _generated_step_runs_eagerly(monkeypatch, decoder)
    prompt = torch.randint(0, 61, (batch, 4))
    with torch.inference_mode():
        caches = prefilled(decoder, model, prompt)
        decoder.step(prompt[:, -1], caches)
    assert calls and decoder._kernel is False and decoder.last_step == "compiled"
    assert ("batch 1" if batch == 2 else "float32") in decoder.kernel_error


def test_a_kernel_that_cannot_be_built_leaves_the_generated_step(monkeypatch):
    def broken(source):
        raise RuntimeError("g++ could not build decode_kernel.cpp: no compiler")

    monkeypatch.setattr(native, "_loaded", {})  # as in a fresh process
    monkeypatch.setattr(native, "build", broken)
    model = tiny()
    decoder = CompiledDecoder(model)
    calls = _generated_step_runs_eagerly(monkeypatch, decoder)
    prompt = torch.randint(0, 61, (1, 4))
    with torch.inference_mode():
        caches = prefilled(decoder, model, prompt)
        decoder.step(prompt[:, -1], caches)
        decoder.step(prompt[:, -1], caches)
    assert len(calls) == 2 and "no compiler" in decoder.kernel_error
    assert not decoder._use_kernel  # not tried again at every step
    assert decode_kernel.load() is None and "no compiler" in native.error(decode_kernel.SOURCE)


def test_bad_tokens_and_positions_are_refused_by_name():
    model = tiny()
    decoder = CompiledDecoder(model)
    prompt = torch.randint(0, 61, (1, 3))
    with torch.inference_mode():
        caches = prefilled(decoder, model, prompt)
        full = model.rope.cos
        model.rope.cos = full[:3]  # fewer RoPE positions than the cache holds, before binding
        with pytest.raises(ValueError, match="position 3 is beyond RoPE's 3 positions"):
            decoder.step(torch.tensor([1]), caches)
        model.rope.cos = full
        caches = prefilled(decoder, model, prompt)
        with pytest.raises(IndexError, match="outside the vocabulary 0..60"):
            decoder.step(torch.tensor([61]), caches)
        with pytest.raises(IndexError, match="outside the vocabulary"):
            decoder.step(torch.tensor([-1]), caches)
        assert caches[0].length == 3  # a refused step writes nothing


def test_the_kernel_is_built_with_torchs_openmp(monkeypatch, tmp_path):
    # One OpenMP runtime in the process: the kernel links torch's libgomp, found at run time.
    seen = []
    real_run = native.subprocess.run
    monkeypatch.setattr(native.subprocess, "run",
                        lambda cmd, **kw: seen.append(cmd) or real_run(cmd, **kw))
    monkeypatch.setattr("torch._inductor.runtime.cache_dir_utils.cache_dir",
                        lambda: str(tmp_path))
    path = native.build(decode_kernel.SOURCE)
    assert path.exists() and path.parent.parent == tmp_path
    torch_lib = str(native.Path(torch.__file__).parent / "lib")
    assert f"-L{torch_lib}" in seen[0] and f"-Wl,-rpath,{torch_lib}" in seen[0]
    assert "-fopenmp" in seen[0] and "-lgomp" in seen[0]
    assert native.build(decode_kernel.SOURCE) == path and len(seen) == 1  # once, then found
