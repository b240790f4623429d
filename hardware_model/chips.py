"""Chip presets built from datasheet numbers: `names()` and `get(name)`.

Each preset's docstring-style comment names its sources. "Estimate" marks a number no datasheet
gives (static and sleep power of most SoCs, cache sizes vendors do not publish); those are our
own round guesses and the README's validation section says how much they matter.
"""

from __future__ import annotations

from hardware_model._check import lookup_preset
from hardware_model.chip import Chip, CIMArray, GiB, MemoryLevel, MiB, OperatingPoint
from hardware_model.energy import dram_pj_per_byte, sram_pj_per_byte


def _mcu_ethos_u55() -> Chip:
    """Microcontroller with a micro-NPU: Arm Cortex-M55 + Ethos-U55 class (Alif Ensemble E3-like).

    Sources: Arm Ethos-U55 product brief (32-256 MACs/cycle, int8 weights); Alif Semiconductor
    Ensemble family (Cortex-M55 at 400 MHz with Ethos-U55). 256 MACs x 2 ops x 400 MHz = 0.2 TOPS.
    Cortex-M55 Helium: ~2 fp32 / 4 fp16 MACs per cycle (estimate). Memory: 4 MiB on-chip SRAM,
    32 MiB external octal-SPI PSRAM/flash at 0.4 GB/s (200 MHz DDR x 8 bits). Power: ~20 mW active
    static, 50 uW asleep with SRAM retention (estimates in the range MCU datasheets give).
    """
    sram = 4 * MiB
    return Chip(
        "mcu-ethos-u55",
        peak_ops={"int8": 0.2048e12, "fp16": 3.2e9, "fp32": 1.6e9},
        memory=(
            MemoryLevel("sram", sram, 6.4e9, sram_pj_per_byte(sram, 22), "scratchpad"),
            MemoryLevel("octal-spi", 32 * MiB, 0.4e9 * 0.7, dram_pj_per_byte("octal-spi"), "main"),
        ),
        kind="mcu",
        utilisation=0.5,
        process_nm=22,
        static_power_w=0.02,
        sleep_power_w=50e-6,
        overhead_s=10e-6,
        dvfs=(
            OperatingPoint("low", 0.6, 100e6),
            OperatingPoint("mid", 0.7, 200e6),
            OperatingPoint("high", 0.8, 400e6),
        ),
        source="Arm Ethos-U55 product brief; Alif Ensemble E3 (class values, rounded)",
    )


def _mythic_m1076() -> Chip:
    """Analog in-memory-compute chip: Mythic M1076 Analog Matrix Processor.

    Sources: Mythic M1076 product brief (25 TOPS int8, up to 80 M weights stored in on-chip flash
    arrays, no DRAM, PCIe Gen2 x4, 3-4 W typical); WikiChip on Mythic's architecture (~0.5 pJ per
    MAC for the whole system including DAC/ADC; 40 nm embedded flash). Activations and any KV
    cache live in host memory across PCIe Gen2 x4 (4 x 500 MB/s). Tile SRAM total (8 MiB), digital
    SIMD throughput and sleep power are estimates.
    """
    sram = 8 * MiB
    return Chip(
        "mythic-m1076",
        peak_ops={"int8": 1e12, "fp16": 0.25e12},
        memory=(
            MemoryLevel("tile-sram", sram, 100e9, sram_pj_per_byte(sram, 40), "scratchpad"),
            MemoryLevel("host-pcie", 4 * GiB, 2e9 * 0.7, 20.0 * 8, "main"),
        ),
        kind="cim",
        process_nm=40,
        static_power_w=1.0,
        sleep_power_w=0.05,
        overhead_s=10e-6,
        cim=CIMArray(capacity_weights=80e6, bits=8, macs_per_s=12.5e12, energy_pj_per_mac=0.5),
        source="Mythic M1076 product brief; WikiChip (Hot Chips 2018) for pJ/MAC",
    )


def _syntiant_ndp120() -> Chip:
    """Always-on at-memory-compute chip: Syntiant NDP120 (Syntiant Core 2), milliwatt class.

    Sources: Arduino Nicla Voice datasheet (NDP120 = Syntiant Core 2 NN engine + HiFi 3 DSP +
    Cortex-M0 up to 48 MHz, 48 KB dedicated SRAM; the board's 16 MB SPI flash holds the model
    packages); Syntiant news release on MLPerf Tiny v0.7 (2022) keyword spotting: 49.59 uJ and
    1.8 ms per inference at 1.1 V / 98 MHz, 35.29 uJ and 4.3 ms at 0.9 V / 30 MHz (our two DVFS
    points); Syntiant ("under 280 uW" for always-on "Hey Google"; the NDP101's Core 1 runs a
    570 k-parameter wake-word network, blog "Is that your standby power?"); Core 2 peak 6.4 GOPS
    int8 (quoted for the NDP200, which uses the same core). Syntiant calls the design at-memory
    compute: weights stay beside the MAC arrays, so we model them as a CIMArray.
    Derived: static 0.9 mW awake and 17.8 pJ per MAC (whole chip, at 1.1 V) solve the two MLPerf
    points E = P_static(V) t + e(V) MACs with this model's DVFS rule (P ~ V, e ~ V^2) and
    ~2.7 M MACs per inference (DS-CNN-S of Zhang et al., "Hello Edge", 2017: 5.4 M ops).
    Estimates: weight capacity 1 M 8-bit weights (no figure published; Core 2 is described as
    larger than Core 1's 570 k); 40 nm (the NDP10x's node per Linley MPR 2019; NDP120's is not
    published); SRAM bandwidth one 32-bit word per 98 MHz clock; host SPI at 12 MHz quad
    (6 MB/s peak); sleep 20 uW (SRAM retention in a low-leakage 40 nm process).
    """
    sram = 48 * 1024
    return Chip(
        "syntiant-ndp120",
        peak_ops={"int8": 6.4e9},  # Core 2 peak (see docstring)
        memory=(
            MemoryLevel("sram", sram, 4 * 98e6, sram_pj_per_byte(sram, 40), "scratchpad"),
            # No DRAM: anything off chip crosses the host SPI link from the board's 16 MB flash.
            MemoryLevel("host-spi", 16 * MiB, 6e6 * 0.7, dram_pj_per_byte("octal-spi"), "main"),
        ),
        kind="cim",
        utilisation=0.5,
        process_nm=40,
        static_power_w=0.9e-3,  # fitted to MLPerf Tiny v0.7 (docstring)
        sleep_power_w=20e-6,  # estimate
        overhead_s=10e-6,
        dvfs=(
            OperatingPoint("0.9v-30mhz", 0.9, 30e6),  # MLPerf Tiny v0.7 low-energy point
            OperatingPoint("1.1v-98mhz", 1.1, 98e6),  # MLPerf Tiny v0.7 low-latency point
        ),
        cim=CIMArray(capacity_weights=1e6, bits=8, macs_per_s=3.2e9, energy_pj_per_mac=17.8),
        source="Arduino Nicla Voice datasheet; Syntiant MLPerf Tiny v0.7 release (NDP120 KWS)",
    )


def _raspberry_pi_5() -> Chip:
    """Raspberry Pi 5 (Broadcom BCM2712), CPU inference as llama.cpp runs it.

    Sources: Raspberry Pi 5 product brief (4x Cortex-A76 at 2.4 GHz, 16 nm, LPDDR4X-4267 on a 32-bit
    bus: 4267e6 x 4 B = 17.1 GB/s, 4/8/16 GB); Arm Cortex-A76 TRM (two 128-bit NEON pipes:
    8 fp32, 16 fp16 FMA lanes and SDOT 2 x 16 int8 MACs per cycle per core) -> fp32 154 GFLOPS,
    fp16 307, int8 614 GOPS for four cores; caches 4 x 512 KiB L2 + 2 MiB L3. Power: ~2.7 W idle
    for the board (estimate from published reviews); no deep sleep while the OS runs, so sleep
    power = idle. DVFS voltages are estimates.
    """
    cache = 4 * MiB
    return Chip(
        "raspberry-pi-5",
        peak_ops={"fp32": 153.6e9, "fp16": 307.2e9, "int8": 614.4e9},
        memory=(
            MemoryLevel("l2+l3", cache, 100e9, sram_pj_per_byte(cache, 16), "cache"),
            MemoryLevel("lpddr4x", 8 * GiB, 17.07e9 * 0.7, dram_pj_per_byte("lpddr4x"), "main"),
        ),
        kind="cpu",
        utilisation=0.6,
        process_nm=16,
        compute_overhead=10.0,
        static_power_w=2.7,
        sleep_power_w=2.7,
        overhead_s=1e-6,
        dvfs=(
            OperatingPoint("1.5GHz", 0.72, 1.5e9),
            OperatingPoint("2.0GHz", 0.80, 2.0e9),
            OperatingPoint("2.4GHz", 0.88, 2.4e9),
        ),
        source="Raspberry Pi 5 product brief; Arm Cortex-A76 TRM",
    )


def _jetson(super_mode: bool) -> Chip:
    """NVIDIA Jetson Orin Nano 8 GB developer kit (original, or with the 2024 "Super" firmware).

    Sources: NVIDIA Jetson Orin Nano datasheet / developer-kit pages: 1024-core Ampere GPU with
    32 tensor cores at 625 MHz, 40 TOPS sparse int8 (20 dense), 8 GB 128-bit LPDDR5 at 68 GB/s,
    7-15 W; Super: GPU at 1020 MHz, 67 TOPS sparse int8, 102 GB/s, up to 25 W. Dense fp16 tensor
    throughput is half of dense int8; fp32 on CUDA cores = 1024 x 2 x f. Samsung 8 nm. L2/system
    cache 4 MiB. Power modes (smolhub.com Orin Nano Super benchmark: 25 W mode runs the GPU at
    820 MHz, MAXN at 1020 MHz); voltages, the 15 W clock and static power (3 W) are estimates.
    """
    f = 1.02e9 if super_mode else 0.625e9
    int8 = 32 * 512 * 2 * f  # 32 tensor cores x 512 dense int8 MACs/clock x 2 ops
    bw = 102.4e9 if super_mode else 68.3e9
    if super_mode:
        points = (
            OperatingPoint("7w", 0.60, 0.306e9),
            OperatingPoint("15w", 0.70, 0.612e9),
            OperatingPoint("25w", 0.78, 0.82e9),
            OperatingPoint("maxn", 0.85, 1.02e9),
        )
    else:
        points = (OperatingPoint("7w", 0.60, 0.408e9), OperatingPoint("15w", 0.75, 0.625e9))
    return Chip(
        "jetson-orin-nano-super" if super_mode else "jetson-orin-nano",
        peak_ops={"int8": int8, "fp16": int8 / 2, "bf16": int8 / 2, "fp32": 1024 * 2 * f},
        memory=(
            MemoryLevel("l2", 4 * MiB, 400e9, sram_pj_per_byte(4 * MiB, 8), "cache"),
            MemoryLevel("lpddr5", 8 * GiB, bw * 0.7, dram_pj_per_byte("lpddr5"), "main"),
        ),
        kind="gpu",
        utilisation=0.6,
        process_nm=8,
        compute_overhead=4.0,
        static_power_w=3.0,
        sleep_power_w=0.5,
        overhead_s=5e-6,
        dvfs=points,
        source="NVIDIA Jetson Orin Nano datasheet and Super developer-kit announcement",
    )


def _apple(name: str, bw_gbs: float, mem_gb: int, fp32_tflops: float, slc_mb: int, note: str):
    """Apple silicon as llama.cpp uses it: the GPU through Metal (the Neural Engine is idle).

    Apple GPUs run fp16 at the fp32 rate; int8 dot products run at that rate too (no int8 tensor
    units), so all formats share one peak.
    """
    slc = slc_mb * MiB
    return Chip.from_datasheet(
        name,
        memory_bandwidth_gbs=bw_gbs,
        memory_gb=mem_gb,
        peak_tops=fp32_tflops,
        peak_format="fp32",
        peak_tops_by_format={"fp16": fp32_tflops, "bf16": fp32_tflops, "int8": fp32_tflops},
        sram_mb=slc_mb,
        sram_bandwidth_gbs=4 * bw_gbs,
        process_nm=5 if "m2" in name else 3,
        memory_type="lpddr5",
        kind="gpu",
        static_power_w=max(0.5, 0.01 * bw_gbs),  # estimate: bigger chips idle higher
        sleep_power_w=0.01,
        source=note + f" (system-level cache {slc / MiB:.0f} MiB: estimate)",
    )


def _h100() -> Chip:
    """NVIDIA H100 SXM5 80 GB: the data-centre contrast.

    Sources: NVIDIA H100 datasheet: HBM3 80 GB at 3.35 TB/s; dense fp16/bf16 tensor 989 TFLOPS,
    int8 1979 TOPS, fp32 67 TFLOPS; 50 MB L2; TSMC 4N; up to 700 W. Static power (70 W, about
    the idle draw of an SXM board) is an estimate.
    """
    return Chip.from_datasheet(
        "nvidia-h100-sxm",
        memory_bandwidth_gbs=3350,
        memory_gb=80,
        peak_tops=1979,
        peak_format="int8",
        peak_tops_by_format={"fp16": 989, "bf16": 989, "fp32": 67},
        sram_mb=50,
        sram_bandwidth_gbs=12000,
        process_nm=4,
        memory_type="hbm3",
        kind="gpu",
        static_power_w=70.0,
        sleep_power_w=70.0,
        source="NVIDIA H100 Tensor Core GPU datasheet",
    )


_BUILDERS = {
    "mcu-ethos-u55": _mcu_ethos_u55,
    "mythic-m1076": _mythic_m1076,
    "syntiant-ndp120": _syntiant_ndp120,
    "raspberry-pi-5": _raspberry_pi_5,
    "jetson-orin-nano": lambda: _jetson(False),
    "jetson-orin-nano-super": lambda: _jetson(True),
    "apple-a17-pro": lambda: _apple(
        "apple-a17-pro",
        51.2,
        8,
        2.15,
        24,
        "Apple A17 Pro (iPhone 15 Pro): 3 nm, 6-core GPU ~2.15 TFLOPS fp32 (reported), LPDDR5-6400 "
        "on 64 bits = 51.2 GB/s, 8 GB; Neural Engine 35 TOPS (Apple)",
    ),
    "apple-m2-pro": lambda: _apple(
        "apple-m2-pro",
        200,
        32,
        6.8,
        24,
        "Apple M2 Pro (MacBook Pro 2023): 200 GB/s unified LPDDR5, up to 32 GB, 19-core GPU "
        "6.8 TFLOPS fp32; Neural Engine 15.8 TOPS (Apple)",
    ),
    "apple-m2-ultra": lambda: _apple(
        "apple-m2-ultra",
        800,
        192,
        27.2,
        96,
        "Apple M2 Ultra (Mac Studio 2023): 800 GB/s unified LPDDR5, up to 192 GB, 76-core GPU "
        "27.2 TFLOPS fp32; Neural Engine 31.6 TOPS (Apple)",
    ),
    "nvidia-h100-sxm": _h100,
}
PRESETS: dict[str, Chip] = {n: build() for n, build in _BUILDERS.items()}


def names() -> list[str]:
    """Preset names, smallest main memory first."""
    return sorted(PRESETS, key=lambda n: PRESETS[n].main_memory.capacity_bytes)


def get(name: str | Chip) -> Chip:
    """The preset Chip with this name (a Chip passed in is returned as is).

    Args:
        name: a preset name such as "raspberry-pi-5" (see names()).

    Returns:
        The Chip.
    """
    return lookup_preset(PRESETS, name, Chip, "chip", names())
