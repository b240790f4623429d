"""``python -m slmlab.bench``: the speed figures that matter, at fixed shapes.

    training   tokens/s of forward + backward + AdamW step on random tokens, eager and with
               torch's model.compile() (fused AdamW as in slmlab.train), at
               (a) 4 layers, 4 heads, d_model 128, seq 64, batch 12, vocab 65
               (b) 6 layers, 6 heads, d_model 384, seq 256, batch 8, vocab 65
               plain multi-head attention, no biases, SwiGLU hidden = 8/3·d_model as an
               integer (341, 1024): 3 matrices of d_model × hidden then match a 4·d_model
               GELU MLP's 2 in parameters and FLOPs (the library's default rounds up to a
               multiple of 16: 352 at (a), 3% more)
    decode     greedy tokens/s with the KV cache, eager and through the compiled decode step
               (SLM.compile_decode; its one-off compile time is reported apart), without the
               cache, and with the cache in bfloat16 (float32 otherwise; the eager rows lay
               the weights out by SLM.optimize_for_decode), at three Llama shapes
               (d_model/layers/heads/SwiGLU hidden: 288/6/6/768, 512/8/8/1376,
               768/12/12/2048; vocab 32000; 256 new tokens from a 3-token prompt; batch 1;
               random weights). Each row also gives the rate after the first new token
               (prompt and first token not timed), the figure llama2.c prints
    mixers     per token mixer (one layer, d_model 128, 4 heads; window 256, block 128 + 16
               global tokens): forward time against sequence length 256 -> 4096 with the
               fitted exponent k (time ∝ T^k over T >= 1024), and decode time per token at
               context 256 and 4096 with the cache or state size (one-layer model incl. head)
    hardware   design points per second of hardware_model's sweep, simulate() calls/s, and
               the widgets' update latency (Python side: recompute + write into the figure)
    ceilings   what this machine sustains at best, measured just before and after each row
               they are set against: read bandwidth (a sum over a tensor far larger than the
               caches) and float32 matrix-multiply rate (a large square product); training
               is then shown as FLOP/s against the matmul rate
               (model FLOPs utilisation, MFU: Chowdhery et al. 2022, "PaLM", app. B) and the
               compiled decode as bytes/s read against the read bandwidth (memory bandwidth
               utilisation, MBU: Databricks, "LLM Inference Performance Engineering", 2023).
               A decode step reads every weight once, so batch-1 decode is bound by memory
               (a model small enough to sit partly in the CPU's caches can beat the read
               figure: over 100%); training at shape (b) by the matrix multiplies

Each figure is the median of several timed repetitions after a warm-up; the spread is shown.
``--json PATH`` also writes everything to a file; ``--quick`` shrinks every run (a smoke test).
Speed is measured here, never asserted in tests: it depends on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from . import scaling
from .model import MIXERS, SLM, ModelConfig
from .model.config import swiglu_hidden
from .model.flops import matmul_weights_per_token, training_flops
from .model.huge_pages import use_huge_pages
from .train import _optimizer

TRAIN_SHAPES = {
    "a": dict(n_layer=4, n_head=4, d_model=128, seq_len=64, batch=12),
    "b": dict(n_layer=6, n_head=6, d_model=384, seq_len=256, batch=8),
}
MIXER_LENGTHS = (256, 512, 1024, 2048, 4096)
MIXER_CONTEXTS = (256, 4096)
DECODE_SHAPES = {
    "288/6/6": dict(d_model=288, n_layer=6, n_head=6, d_ff=768),
    "512/8/8": dict(d_model=512, n_layer=8, n_head=8, d_ff=1376),
    "768/12/12": dict(d_model=768, n_layer=12, n_head=12, d_ff=2048),
}


def _train_config(shape: str) -> ModelConfig:
    s = TRAIN_SHAPES[shape]
    return ModelConfig(vocab_size=65, n_layer=s["n_layer"], n_head=s["n_head"],
                       d_model=s["d_model"], d_ff=swiglu_hidden(s["d_model"], multiple_of=1),
                       max_seq_len=s["seq_len"])


def _decode_config(shape: str) -> ModelConfig:
    return ModelConfig(vocab_size=32000, max_seq_len=1024, tie_embeddings=False,
                       **DECODE_SHAPES[shape])


def _timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _summary(work: float, times: list[float]) -> dict:
    rates = sorted(work / t for t in times)
    return {"median": statistics.median(rates), "min": rates[0], "max": rates[-1],
            "repeats": len(rates)}


def bench_training(shape: str, *, steps: int = 10, repeats: int = 3,
                   compiled: bool = False) -> dict:
    """Training tokens/s at one of TRAIN_SHAPES (fwd + bwd + AdamW, random tokens);
    ``compiled`` runs the model through torch's ``model.compile()`` (compile time in
    ``compile_s``)."""
    s = TRAIN_SHAPES[shape]
    torch.manual_seed(0)
    model = SLM(_train_config(shape)).train()
    if compiled:
        # Each shape compiles afresh, as in a session that trains one model: after a first
        # shape, dynamo would recompile the same code for dynamic shapes (measured at (b)
        # after (a): ~1,100 tok/s instead of ~1,900).
        torch.compiler.reset()
        model.compile()
    opt = _optimizer(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95))  # slmlab.train's
    x = torch.randint(0, 65, (s["batch"], s["seq_len"]))
    y = torch.randint(0, 65, (s["batch"], s["seq_len"]))

    def run():
        for _ in range(steps):
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    warm_up = _timed(run, 1)[0]  # (and compile)
    out = _summary(steps * x.numel(), _timed(run, repeats))
    out["params"] = model.num_params()
    if compiled:
        out["compile_s"] = warm_up
    return out


def bench_decode(shape: str, *, new_tokens: int = 256, repeats: int = 3,
                 use_cache: bool = True, dtype: torch.dtype = torch.float32,
                 compiled: bool = False) -> dict:
    """Greedy decode tokens/s at one of DECODE_SHAPES (weights and cache in ``dtype``);
    ``compiled`` decodes through SLM.compile_decode and adds the compile time, ``compile_s``."""
    torch.manual_seed(0)
    model = SLM(_decode_config(shape)).eval().to(dtype)
    # The compiled step reads weights in their own (out, in) rows; eager BLAS prefers them
    # transposed in memory.
    model = model.compile_decode() if compiled else model.optimize_for_decode()
    prompt = torch.randint(0, 32000, (1, 3))

    def run(n: int = new_tokens):
        return model.generate(prompt, n, temperature=0.0, use_cache=use_cache)

    t0 = time.perf_counter()
    run(8)  # warm-up (and compile)
    warm_up = time.perf_counter() - t0
    times = _timed(run, repeats)
    out = _summary(new_tokens, times)
    # llama2.c's own tok/s starts its clock at the first new token: the same figure, prompt
    # and first token taken off (generate with one new token times just those).
    first = statistics.median(_timed(lambda: run(1), repeats))
    out["after_first_token"] = (new_tokens - 1) / (statistics.median(times) - first)
    if compiled:
        out["compile_s"] = warm_up
        out["compiled"] = model.compiled_decoder.compiled  # False: it fell back to eager
        out["step"] = model.compiled_decoder.last_step  # "kernel": hand-written
    return out


def decode_bytes_per_token(config: ModelConfig, context_len: int, value_bytes: int = 4) -> int:
    """Bytes one decode step reads from memory: every weight it multiplies with (LM head
    included), the token's row of the embedding table, and the keys and values of the
    ``context_len`` positions it attends to. Norm gains and activations (a few KiB) are left
    out. Only the weights and the cache are far larger than the CPU's caches, so this is what
    crosses the memory bus per token."""
    from hardware_model.arch import Arch
    from hardware_model.workload import kv_cache_bytes

    weights = matmul_weights_per_token(config) + config.d_model
    kv = kv_cache_bytes(Arch.from_slm(config), context_len, value_bytes)
    return int(weights * value_bytes + kv)


def _positive_ints(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def read_bandwidth(mib: int = 512, repeats: int = 5) -> float:
    """Bytes/s this machine reads memory at: the best of ``repeats`` sums over ``mib`` MiB of
    float32, far more than the caches hold (kept in 2 MB pages, as the compiled decode's
    weights are)."""
    _positive_ints(mib=mib, repeats=repeats)
    x = torch.ones(mib * 2**20 // 4)
    use_huge_pages([x])
    return x.numel() * 4 / min(_timed(x.sum, repeats))


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of torch's float32 matrix multiply here: the best of ``repeats`` (n, n) @ (n, n)
    products."""
    _positive_ints(n=n, repeats=repeats)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / min(_timed(lambda: a @ b, repeats))


def utilisation(results: dict) -> dict:
    """Training FLOP/s and compiled-decode bytes/s of ``results`` (``run()``'s), each against
    the ceiling measured next to it (``results["ceilings"]``, keyed by shape)."""
    ceil, out = results["ceilings"], {"training": {}, "decode": {}}
    matmul, read = ceil["matmul_flops_per_s"], ceil["read_bytes_per_s"]
    for name, s in TRAIN_SHAPES.items():
        tokens = s["batch"] * s["seq_len"]
        per_token = training_flops(_train_config(name), s["batch"], s["seq_len"]) / tokens
        row = {"flops_per_token": per_token}
        for key in (name, f"{name}_compiled"):
            flops = per_token * results["training_tokens_per_s"][key]["median"]
            row[key] = {"flops_per_s": flops, "of_matmul": flops / matmul[name]}
        out["training"][name] = row
    for name, row in results["decode_tokens_per_s"].items():
        config = _decode_config(name)
        # The step for new token j attends to 3 + j positions (prompt, earlier tokens, itself).
        per_token = statistics.mean(decode_bytes_per_token(config, 3 + j)
                                    for j in range(row["new_tokens"]))
        rate = per_token * row["kv_cache_compiled"]["after_first_token"]
        out["decode"][name] = {"bytes_per_token": per_token, "bytes_per_s": rate,
                               "of_read": rate / read[name]}
    return out


def bench_mixers(*, lengths=MIXER_LENGTHS, contexts=MIXER_CONTEXTS, repeats: int = 3,
                 fit_from: int = 1024) -> dict:
    """Forward time against length (+ fitted exponent) and decode cost, for every mixer."""
    out = {}
    for mixer in MIXERS:
        config = scaling.mixer_config(mixer)
        times = [scaling.forward_time(config, n, repeats=repeats) for n in lengths]
        row = {"forward_s": dict(zip(map(str, lengths), times)),
               "exponent": scaling.fit_exponent(lengths, times, fit_from)}
        for ctx in contexts:
            seconds, nbytes = scaling.decode_time_per_token(config, ctx, repeats=repeats)
            row[f"decode_ms_at_{ctx}"] = 1000 * seconds
            row[f"cache_bytes_at_{ctx}"] = nbytes
        out[mixer] = row
    return out


def bench_hardware(quick: bool) -> dict:
    from hardware_model import bench as hm_bench
    from hardware_model import widgets

    return {**hm_bench.run(quick=quick), **widgets.bench_widgets(quick=quick)}


def run(quick: bool = False) -> dict:
    """Every figure, as a dict (what ``--json`` writes)."""
    results: dict = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "processor": platform.processor()},
        "training_tokens_per_s": {},
        "decode_tokens_per_s": {},
        "quick": quick,
    }
    steps, repeats = (2, 1) if quick else (10, 3)
    # The ceilings are measured just before and after the rows they are set against, the
    # higher kept: a machine's speed drifts (shared virtual machines most).
    read_mib, matmul_n = (32, 256) if quick else (512, 2048)
    ceilings = results["ceilings"] = {"read_mib": read_mib, "matmul_n": matmul_n,
                                      "read_bytes_per_s": {}, "matmul_flops_per_s": {}}
    for name in TRAIN_SHAPES:
        before = matmul_rate(matmul_n)
        results["training_tokens_per_s"][name] = bench_training(name, steps=steps,
                                                                repeats=repeats)
        results["training_tokens_per_s"][f"{name}_compiled"] = bench_training(
            name, steps=steps, repeats=repeats, compiled=True)
        ceilings["matmul_flops_per_s"][name] = max(before, matmul_rate(matmul_n))
    new_tokens = 16 if quick else 256
    for name in DECODE_SHAPES:
        before = read_bandwidth(read_mib)
        row = {"kv_cache_compiled": bench_decode(name, new_tokens=new_tokens, repeats=repeats,
                                                 compiled=True)}
        ceilings["read_bytes_per_s"][name] = max(before, read_bandwidth(read_mib))
        row["kv_cache"] = bench_decode(name, new_tokens=new_tokens, repeats=repeats)
        row["no_cache"] = bench_decode(name, new_tokens=new_tokens, repeats=1, use_cache=False)
        # Decode reads every weight once per token: half the bytes, (up to) twice the speed.
        row["kv_cache_bf16"] = bench_decode(name, new_tokens=new_tokens, repeats=repeats,
                                            dtype=torch.bfloat16)
        row["new_tokens"] = new_tokens
        results["decode_tokens_per_s"][name] = row
    if quick:
        results["mixers"] = bench_mixers(lengths=(64, 128), contexts=(32, 64), repeats=1,
                                         fit_from=64)
    else:
        results["mixers"] = bench_mixers()
    results["hardware_model"] = bench_hardware(quick)
    results["utilisation"] = utilisation(results)
    return results


def format_table(results: dict) -> str:
    def rate(r):
        return f"{r['median']:>10,.0f}  [{r['min']:,.0f} – {r['max']:,.0f}]"

    lines = [f"slmlab bench — torch {results['machine']['torch']}, "
             f"{results['machine']['threads']} threads", "",
             "training tokens/s (fwd + bwd + AdamW)"]
    for name in TRAIN_SHAPES:
        s, r = TRAIN_SHAPES[name], results["training_tokens_per_s"]
        lines.append(f"  ({name}) L{s['n_layer']} H{s['n_head']} C{s['d_model']} "
                     f"T{s['seq_len']} B{s['batch']:<3} eager {rate(r[name])}   "
                     f"model.compile() {rate(r[f'{name}_compiled'])}")
    lines += ["", "greedy decode tokens/s (256 new tokens, batch 1)"]
    for name, row in results["decode_tokens_per_s"].items():
        comp = row["kv_cache_compiled"]
        note = {"kernel": "  (hand-written kernel)", "compiled": "  (inductor's step)",
                "eager": "  (compile failed: ran eagerly)", None: ""}[comp["step"]]
        lines.append(f"  {name:<10} KV cache, compiled step {rate(comp)}  "
                     f"(after the first token {comp['after_first_token']:,.0f}; "
                     f"compiled in {comp['compile_s']:.0f} s){note}")
        lines.append(f"  {'':<10} KV cache, eager         {rate(row['kv_cache'])}   "
                     f"no cache {row['no_cache']['median']:,.0f}   "
                     f"bf16 + cache {row['kv_cache_bf16']['median']:,.0f}")
    lines += _utilisation_lines(results)
    mixers = results.get("mixers", {})
    if mixers:
        first = next(iter(mixers.values()))
        lengths = list(first["forward_s"])
        contexts = [k.rsplit("_", 1)[1] for k in first if k.startswith("decode_ms_at_")]
        lines += ["", "mixers: forward ms at T = " + " / ".join(lengths) + ";  exponent k;  "
                  "decode ms/token and cache KiB at context " + " / ".join(contexts)]
        for name, row in mixers.items():
            fwd = " / ".join(f"{1000 * t:.1f}" for t in row["forward_s"].values())
            dec = " / ".join(f"{row[f'decode_ms_at_{c}']:.2f} ms "
                             f"{row[f'cache_bytes_at_{c}'] / 1024:,.0f} KiB" for c in contexts)
            lines.append(f"  {name:<17} {fwd:<36} k={row['exponent']:.2f}   {dec}")
    lines += ["", "hardware_model"]
    for key, value in results.get("hardware_model", {}).items():
        shown = f"{value:,.1f}" if isinstance(value, (int, float)) else value
        lines.append(f"  {key:<34} {shown}")
    return "\n".join(lines)


def _utilisation_lines(results: dict) -> list[str]:
    ceil, use = results["ceilings"], results["utilisation"]

    def span(rates, unit):
        low, high = min(rates.values()) / 1e9, max(rates.values()) / 1e9
        return f"{low:.{unit}f}–{high:.{unit}f}" if f"{low:.{unit}f}" != f"{high:.{unit}f}" \
            else f"{low:.{unit}f}"

    lines = ["", "against this machine's ceilings, measured next to each row: read "
             f"{span(ceil['read_bytes_per_s'], 1)} GB/s (sum over {ceil['read_mib']} MiB), matmul "
             f"{span(ceil['matmul_flops_per_s'], 0)} GFLOP/s (float32, {ceil['matmul_n']}²)"]
    if results.get("quick"):
        lines.append("  (--quick: the runs and the ceilings are too small to mean much here)")
    for name, row in use["training"].items():
        eager, comp = row[name], row[f"{name}_compiled"]
        lines.append(f"  training ({name}) {row['flops_per_token'] / 1e6:6.1f} MFLOP/token   eager "
                     f"{eager['flops_per_s'] / 1e9:5.1f} GFLOP/s ({eager['of_matmul']:.0%} of "
                     f"matmul)   model.compile() {comp['flops_per_s'] / 1e9:5.1f} GFLOP/s "
                     f"({comp['of_matmul']:.0%})")
    for name, row in use["decode"].items():
        lines.append(f"  decode {name:<10} {row['bytes_per_token'] / 1e6:6.1f} MB/token     "
                     f"compiled step, after the first token {row['bytes_per_s'] / 1e9:5.1f} GB/s "
                     f"({row['of_read']:.0%} of read)")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m slmlab.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny runs: a smoke test")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    print(format_table(results))
    if args.json:
        from .files import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(results, indent=2).encode())
    return results


if __name__ == "__main__":
    main()
