// SwiGLU's gated activation on a CPU, float32: h = SiLU(g)·u forward, both gradients backward,
// one pass over the activations each way.
//
// Why by hand: with torch ops the activation is SiLU, then a product (two passes, two new
// (rows, d_ff) tensors) forward and three ops backward, plus a concatenation of the two halves'
// gradients for the one [W_gate; W_up] matrix. Here the forward reads the matrix product's
// output [g | u] once and writes h; the backward writes the gradient of [g | u] over [g | u]
// itself (mlp.py passes the same buffer), the layout that product's backward wants, no new
// tensor. Loaded by mlp.py, checked against float64 autograd by
// tests/test_swiglu_kernel.py.
//
// Glossary (mlp.py's docstring): rows tokens; F d_ff, the hidden size; gu one row per token,
// [g | u] = [x·W_gateᵀ | x·W_upᵀ] (2F numbers); s = σ(g) = 1 / (1 + e^−g); SiLU(g) = g·s;
// gh, dgu the gradients of the loss at h and at [g | u].
//
//     dL/du = gh · SiLU(g)          dL/dg = gh · u · SiLU'(g),   SiLU'(g) = s + SiLU(g)·(1 − s)
#include <stdint.h>

#include "fast_exp.h"

// Below this many numbers one thread is faster than waking the others.
static const int64_t kParallelFrom = 1 << 14;

// h = SiLU(g)·u for every row.
extern "C" void swiglu_forward(const float* gu, float* h, int64_t rows, int64_t F) {
#pragma omp parallel for schedule(static) if (rows * F >= kParallelFrom)
    for (int64_t i = 0; i < rows; i++) {
        const float *g = gu + i * 2 * F, *u = g + F;
        float* hi = h + i * F;
#pragma omp simd
        for (int64_t j = 0; j < F; j++) hi[j] = g[j] / (1.0f + exp_approx(-g[j])) * u[j];
    }
}

// dgu = [dL/dg | dL/du] for every row (formulas above), s recomputed from g. dgu may be gu:
// element j of the gradient needs only element j of [g | u].
extern "C" void swiglu_backward(const float* gh, const float* gu, float* dgu, int64_t rows,
                                int64_t F) {
#pragma omp parallel for schedule(static) if (rows * F >= kParallelFrom)
    for (int64_t i = 0; i < rows; i++) {
        const float *g = gu + i * 2 * F, *u = g + F, *ghi = gh + i * F;
        float *dg = dgu + i * 2 * F, *du = dg + F;
#pragma omp simd
        for (int64_t j = 0; j < F; j++) {
            const float gj = g[j], uj = u[j];  // both read before either is written
            const float s = 1.0f / (1.0f + exp_approx(-gj));
            const float silu = gj * s;
            du[j] = ghi[j] * silu;
            dg[j] = ghi[j] * uj * (s + silu * (1.0f - s));
        }
    }
}
