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
#include <string.h>

// Below this many numbers one thread is faster than waking the others.
static const int64_t kParallelFrom = 1 << 14;

// e^x with relative error < 3e-7 (torch's own expf: ~1e-7). e^x = 2^n · e^f with n the integer
// nearest x·log2(e) and |f| ≤ ln(2)/2, e^f by its Taylor series to degree 6, 2^n built in the
// exponent bits. f = x − n·ln(2) with ln(2) in two parts (Cody & Waite): n·ln2_hi is exact,
// so f keeps its precision even for |x| near 88. No branch and no call, so the loops below
// vectorise (libm's expf would keep them scalar: the reason a plain C++ version was slower
// than torch's ops). x is clamped to [-87, 88], where e^x is a normal float; NaN passes.
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float t = x * 1.44269504088896341f;         // x·log2(e)
    const float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest: adding 1.5·2^23
                                                      // leaves no fraction bits
    const float f = (x - n * 0.693359375f) - n * -2.12194440e-4f;  // ln2_hi + ln2_lo = ln(2)
    float p = 1.0f / 720.0f;
    p = p * f + 1.0f / 120.0f;
    p = p * f + 1.0f / 24.0f;
    p = p * f + 1.0f / 6.0f;
    p = p * f + 0.5f;
    p = p * f + 1.0f;
    p = p * f + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;  // 2^n as a float's bit pattern
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

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
