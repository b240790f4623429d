"""Checks for the exercises of lab 02 (build an SLM).

Each check runs the learner's function on seeded random inputs and compares it with the
library (``slmlab.model``). When the answer is off, the check recomputes the usual slips (a
missing scale, a mask that lets a token see the future, the RMS over the wrong axis, ...) and,
if one of them matches, says which; otherwise it reports how far off the answer is.

The checks live in model_layers (RMSNorm, RoPE, attention, SwiGLU, forward) and
model_accounting (parameters, FLOPs, KV-cache bytes); this module gathers them so
``from slmlab.checks import model as checks`` gives every one.
"""

from slmlab.checks._model_compare import ATOL, RTOL
from slmlab.checks.model_accounting import (
    COUNT_CONFIGS,
    check_decode_flops,
    check_kv_cache_bytes,
    check_param_count,
)
from slmlab.checks.model_layers import (
    check_attention,
    check_forward,
    check_rmsnorm,
    check_rope,
    check_swiglu,
)

__all__ = [
    "ATOL",
    "RTOL",
    "COUNT_CONFIGS",
    "check_attention",
    "check_decode_flops",
    "check_forward",
    "check_kv_cache_bytes",
    "check_param_count",
    "check_rmsnorm",
    "check_rope",
    "check_swiglu",
]
