// RoPE for training on a CPU, float32: rotate the query and key heads of attention's packed
// [q | k | v] in place forward, and their gradients in place backward.
//
// Why by hand: with torch ops RoPE writes new tensors both ways, and autograd concatenates the
// gradients of q and k, rotates them back, then concatenates them with v's. In place, RoPE
// adds one pass over q and k each way and nothing else (measured: rope.py's _RotateInPlace).
// Loaded and checked against float64 autograd by tests/test_rope_kernel.py.
//
// Glossary (rope.py's docstring): rows B·T tokens; heads per token n_q query, n_kv key/value;
// d features per head, read as d/2 pairs; cos, sin (T, d/2) the rotation of pair i at each
// token's position, cos(m·θ_i) and sin(m·θ_i). Forward a pair turns by +m·θ_i:
//     (x0, x1) -> (x0·cos − x1·sin, x0·sin + x1·cos);
// backward by −m·θ_i (a rotation's transpose is its inverse), the same loop with −sin.
#include <stdint.h>

// Below this many numbers one thread is faster than waking the others.
static const int64_t kParallelFrom = 1 << 14;

// y = x turned pair by pair (y may be x); sign = +1 forward, -1 backward.
static inline void rotate(const float* x, const float* cos, const float* sin, float* y,
                          int64_t half, float sign) {
#pragma omp simd
    for (int64_t i = 0; i < half; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1], c = cos[i], s = sign * sin[i];
        y[2 * i] = x0 * c - x1 * s;
        y[2 * i + 1] = x0 * s + x1 * c;
    }
}

// Turn, in place, the first n_rot heads (the queries and keys) of every token of x
// (B, T, n_all, d), contiguous: sign = +1 rotates q and k forward, -1 turns their gradients back.
extern "C" void rope_rotate(float* x, const float* cos, const float* sin, int64_t B, int64_t T,
                            int64_t n_rot, int64_t n_all, int64_t d, float sign) {
    const int64_t half = d / 2;
#pragma omp parallel for schedule(static) if (B * T * n_rot * d >= kParallelFrom)
    for (int64_t row = 0; row < B * T; row++) {
        const int64_t t = row % T;
        for (int64_t h = 0; h < n_rot; h++) {
            float* head = x + (row * n_all + h) * d;
            rotate(head, cos + t * half, sin + t * half, head, half, sign);
        }
    }
}
