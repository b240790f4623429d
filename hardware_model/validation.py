"""Predictions against published measurements of real devices: `table()` and `markdown()`.

Each measurement is decode tokens/s of a named model on named hardware, as published; the
prediction is `simulate(...)` with the matching preset, weight format and a short context
(published runs generate from a short prompt). The README's validation section is `markdown()`;
tests/test_hm_validation.py checks the two agree, so the table cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware_model.simulate import simulate


@dataclass(frozen=True)
class Measurement:
    """One published decode speed.

    Attributes:
        chip, dvfs, arch, weight_format: the preset names it maps to.
        tokens_per_s: the published figure.
        runtime: the software that ran it.
        source: where it was published.
    """

    chip: str
    dvfs: str | None
    arch: str
    weight_format: str
    tokens_per_s: float
    runtime: str
    source: str


_TUNNEY = "J. Tunney, 'LLaMA Now Goes Faster on CPUs', justine.lol, 2024-03-31 (RPI5 table)"
_GEERLING = "github.com/geerlingguy/ai-benchmarks issue 7 (Pi 5 16 GB, D0, firmware 8 Jan 2025)"
_DAI = "github.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference issue 1 (M2 Pro Mac mini, GPU)"

MEASUREMENTS = (
    Measurement("raspberry-pi-5", None, "tinyllama-1.1b", "q8_0", 9.0, "llama.cpp", _TUNNEY),
    Measurement("raspberry-pi-5", None, "tinyllama-1.1b", "fp16", 5.0, "llamafile 0.6.2", _TUNNEY),
    Measurement("raspberry-pi-5", None, "llama-3.2-3b", "q4_k_m", 4.88, "Ollama", _GEERLING),
    Measurement("raspberry-pi-5", None, "llama-3.1-8b", "q4_k_m", 2.17, "Ollama", _GEERLING),
    Measurement("apple-m2-pro", None, "llama-2-7b", "q4_0", 1000 / 28.91, "llama.cpp", _DAI),
    Measurement("apple-m2-pro", None, "llama-2-7b", "fp16", 1000 / 92.15, "llama.cpp", _DAI),
    Measurement(
        "apple-m2-ultra",
        None,
        "llama-2-7b",
        "fp16",
        41.35,
        "llama.cpp",
        "github.com/ggml-org/llama.cpp pull 2891 (tg 64)",
    ),
    Measurement(
        "apple-m2-ultra",
        None,
        "llama-2-7b",
        "q8_0",
        61.53,
        "llama.cpp",
        "github.com/ggml-org/llama.cpp pull 2891 (tg 64)",
    ),
    Measurement(
        "apple-m2-ultra",
        None,
        "llama-2-7b",
        "q4_0",
        88.54,
        "llama.cpp",
        "github.com/ggml-org/llama.cpp pull 2917 (tg 128)",
    ),
    Measurement(
        "jetson-orin-nano-super",
        "25w",
        "smollm2-135m",
        "q4_k_m",
        165.0,
        "llama.cpp CUDA",
        "smolhub.com, 'Tiny LLM Benchmark: Jetson Orin Nano Super 8GB' (25 W mode)",
    ),
)

CONTEXT = 128  # published decode runs start from a short prompt


def table() -> list[dict]:
    """Prediction and error of every measurement.

    Returns:
        Rows with chip, arch, weight_format, runtime, measured, predicted (tokens/s), error
        (predicted / measured - 1), bound, source.
    """
    rows = []
    for m in MEASUREMENTS:
        r = simulate(
            m.arch, m.chip, weight_format=m.weight_format, context_len=CONTEXT, dvfs=m.dvfs
        )
        rows.append(
            dict(
                chip=m.chip + (f" @{m.dvfs}" if m.dvfs else ""),
                arch=m.arch,
                weight_format=m.weight_format,
                runtime=m.runtime,
                measured=m.tokens_per_s,
                predicted=r.tokens_per_s,
                error=r.tokens_per_s / m.tokens_per_s - 1,
                bound=r.bound,
                source=m.source,
            )
        )
    return rows


def markdown() -> str:
    """The validation table as Markdown (what the README shows)."""
    lines = [
        "| hardware | model | weights | runtime | measured tok/s | predicted tok/s | error "
        "| bound | source |",
        "|---|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in table():
        lines.append(
            f"| {r['chip']} | {r['arch']} | {r['weight_format']} | {r['runtime']} | "
            f"{r['measured']:.3g} | {r['predicted']:.3g} | {r['error']:+.0%} | {r['bound']} | "
            f"{r['source']} |"
        )
    return "\n".join(lines)
