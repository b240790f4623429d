// RoPE for training on a CPU, float32: rotate the query and key heads of attention's packed
// [q | k | v] forward; backward, write the gradient of [q | k | v] in one pass.
//
// Why by hand: with torch ops the backward is two complex products written into slices of the
// gradient, one small inner loop per head (d/2 complex numbers), plus a copy for v: at the
// bench's shape (a) that took 3–4× the time of the memory it moves. Here each (token, head)
// row is one vectorised loop. Loaded and checked against float64 autograd by rope.py's tests.
//
// Glossary (rope.py's docstring): rows B·T tokens; heads per token n_q query, n_kv key/value;
// d features per head, read as d/2 pairs; cos, sin (T, d/2) the rotation of pair i at each
// token's position, cos(m·θ_i) and sin(m·θ_i). Forward a pair turns by +m·θ_i:
//     (x0, x1) -> (x0·cos − x1·sin, x0·sin + x1·cos);
// backward by −m·θ_i (a rotation's transpose is its inverse), the same loop with −sin.
#include <stdint.h>

// Below this many numbers one thread is faster than waking the others.
static const int64_t kParallelFrom = 1 << 14;

// y = x turned pair by pair; sign = +1 forward, -1 backward.
static inline void rotate(const float* x, const float* cos, const float* sin, float* y,
                          int64_t half, float sign) {
#pragma omp simd
    for (int64_t i = 0; i < half; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1], c = cos[i], s = sign * sin[i];
        y[2 * i] = x0 * c - x1 * s;
        y[2 * i + 1] = x0 * s + x1 * c;
    }
}

// out (B, T, n_q + n_kv, d) = q and k of qkv (B, T, n_q + 2·n_kv, d), both contiguous, rotated.
extern "C" void rope_forward(const float* qkv, const float* cos, const float* sin, float* out,
                             int64_t B, int64_t T, int64_t n_q, int64_t n_kv, int64_t d) {
    const int64_t n_rot = n_q + n_kv, n_all = n_q + 2 * n_kv, half = d / 2;
#pragma omp parallel for schedule(static) if (B * T * n_rot * d >= kParallelFrom)
    for (int64_t row = 0; row < B * T; row++) {
        const int64_t t = row % T;
        for (int64_t h = 0; h < n_rot; h++)
            rotate(qkv + (row * n_all + h) * d, cos + t * half, sin + t * half,
                   out + (row * n_rot + h) * d, half, 1.0f);
    }
}

// One incoming gradient, (B, T, heads, d) with any strides but 1 along d.
struct Grad {
    const float* data;
    int64_t heads, stride_b, stride_t, stride_h;
};

// g (B, T, n_q + 2·n_kv, d), contiguous = [gq, gk turned back | gv]; parts = {gq, gk, gv}.
extern "C" void rope_backward(const Grad* parts, const float* cos, const float* sin, float* g,
                              int64_t B, int64_t T, int64_t d) {
    const Grad& gv = parts[2];
    const int64_t n_all = parts[0].heads + parts[1].heads + gv.heads, half = d / 2;
#pragma omp parallel for schedule(static) if (B * T * n_all * d >= kParallelFrom)
    for (int64_t row = 0; row < B * T; row++) {
        const int64_t b = row / T, t = row % T;
        float* out = g + row * n_all * d;
        for (int p = 0; p < 2; p++) {  // gq, gk
            const Grad& part = parts[p];
            for (int64_t h = 0; h < part.heads; h++, out += d)
                rotate(part.data + b * part.stride_b + t * part.stride_t + h * part.stride_h,
                       cos + t * half, sin + t * half, out, half, -1.0f);
        }
        for (int64_t h = 0; h < gv.heads; h++, out += d) {
            const float* v = gv.data + b * gv.stride_b + t * gv.stride_t + h * gv.stride_h;
#pragma omp simd
            for (int64_t j = 0; j < d; j++) out[j] = v[j];
        }
    }
}
