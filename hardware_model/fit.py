"""Does it fit, and if not, what is the smallest change that would make it fit?

Tried in order of how little they change: a narrower weight format, a shorter context, the
largest preset model that fits, and finally a preset chip with enough memory.
"""

from __future__ import annotations

from hardware_model import chips as chip_presets
from hardware_model import formats
from hardware_model import models as model_presets
from hardware_model.inputs import capacity_bytes, footprint
from hardware_model.report import size


def smallest_change(arch, chip, fmt, phase, ctx, prompt, batch, kv_fmt, act_fmt, cim) -> str:
    """Plain words for the smallest change that makes a design point fit (arguments as in
    inputs.footprint)."""

    def need(a=arch, ch=chip, f=fmt, c=ctx):
        return sum(footprint(a, ch, f, phase, c, prompt, batch, kv_fmt, act_fmt, cim).values())

    def fits(a=arch, ch=chip, f=fmt, c=ctx):
        return need(a, ch, f, c) <= capacity_bytes(ch)

    for name in formats.names("weight"):  # widest first: the first that fits is the mildest
        f = formats.get(name)
        if f.bits < fmt.bits and fits(f=f):
            return f"use {name} weights ({f.bits:g} bits each instead of {fmt.bits:g})"
    if phase == "decode" and ctx > 0 and fits(c=0):
        lo, hi = 0, ctx  # the largest context that fits, by bisection
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(c=mid) else (lo, mid - 1)
        return f"shorten the context to {lo} tokens or fewer (from {ctx})"
    smaller = [
        n
        for n in model_presets.names()
        if model_presets.get(n).num_params() < arch.num_params() and fits(a=model_presets.get(n))
    ]
    if smaller:
        return f"pick a smaller model: {smaller[-1]} is the largest preset that fits at {fmt.name}"
    smallest = model_presets.get(model_presets.names()[0])
    bigger = [n for n in chip_presets.names() if fits(ch=chip_presets.get(n))]
    where = ""
    if bigger:
        mem = size(chip_presets.get(bigger[0]).main_memory.capacity_bytes)
        where = f"; {bigger[0]} ({mem}) would hold it as it is"
    return (
        f"no preset model fits in {size(capacity_bytes(chip))}: even {smallest.name} at q4_0 "
        f"needs {size(need(a=smallest, f=formats.get('q4_0')))}; use a much smaller model "
        f"(a few MiB, like the course's own) or a chip with more memory{where}"
    )
