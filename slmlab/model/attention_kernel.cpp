// Causal self-attention for training on a CPU, float32: forward and backward over attention's
// packed [q | k | v] projections, with grouped-query attention.
//
// Why by hand: torch's CPU kernel for scaled_dot_product_attention ran at ~75 GFLOP/s on the
// bench's shape (b), against ~170 for its plain matrix products, and it wants q, k, v as
// (B, heads, T, d) views, so autograd concatenates their three gradients into the layout of
// the projection. Here each matrix product is one call to torch's own BLAS (sgemm_), reading
// q, k and v where the projection wrote them and writing the gradient in that same layout.
// Loaded by attention.py, checked against float64 autograd by tests/test_attention_kernel.py.
//
// Glossary (attention.py's docstring; FlashAttention-2, Dao 2023, for the backward):
//     qkv   (B, T, W) one row per token: n_q query heads, n_kv key heads, n_kv value heads,
//           d numbers each, W = (n_q + 2·n_kv)·d. Query head h reads key/value head h / group.
//     y     (B, T, n_q·d) the output O, heads side by side (the input of W_O)
//     lse   (B, n_q, T) log Σ_j e^{s_ij} per query row i: the softmax, kept for the backward
//     S, P  one block of at most kBlock query rows × their keys: S = scale·Q Kᵀ, P = softmax(S)
//     gy    dL/dO;  dP, dS = dL/dP, dL/dS;  D_i = Σ_c dO_ic·O_ic = Σ_j P_ij·dP_ij
//
//     forward   P = softmax(scale·Q Kᵀ + causal mask),  O = P V
//     backward  dV = Pᵀ dO,  dP = dO Vᵀ,  dS = P ⊙ (dP − D)·scale,  dQ = dS K,  dK = dSᵀ Q
//
// Query rows go in blocks of kBlock; a block starting at row r0 needs only keys 0 .. r0 +
// rows − 1 (the causal mask), so about half of Q Kᵀ is never computed, as in torch's kernel.
// Each block's whole row of scores fits in a per-thread buffer (kBlock × T floats), so the
// softmax is exact in two passes, not FlashAttention's running rescale; the backward
// recomputes P from lse instead of storing B·n_q·T² probabilities.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fast_exp.h"

// Query rows per block: bigger blocks make bigger (faster) products but compute more of the
// masked upper triangle. 32 and 64 timed alike at the bench's shapes; 128 was slower.
static const int64_t kBlock = 64;

// Fortran BLAS, as torch's library exports it (MKL on x86-64 Linux): column-major.
extern "C" void sgemm_(const char* trans_a, const char* trans_b, const int* m, const int* n,
                       const int* k, const float* alpha, const float* a, const int* lda,
                       const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

// Row-major C (m × n) = alpha·op(A)·op(B) + beta·C, op(A) m × k, op(B) k × n; ld* are row
// strides. A row-major matrix is its transpose in column-major, so this asks BLAS for
// Cᵀ = op(B)ᵀ·op(A)ᵀ.
static inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                        float beta, float* c, int64_t ldc) {
    const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    const int M = (int)m, N = (int)n, K = (int)k, LDA = (int)lda, LDB = (int)ldb,
              LDC = (int)ldc;
    sgemm_(&tb, &ta, &N, &M, &K, &alpha, b, &LDB, a, &LDA, &beta, c, &LDC);
}

// Forward: y and lse from qkv. One task per (sequence, query head). Returns 0, or -1 if a
// thread's score buffer could not be allocated.
extern "C" int causal_attention_forward(const float* qkv, float* y, float* lse, int64_t B,
                                        int64_t T, int64_t n_q, int64_t n_kv, int64_t d,
                                        float scale) {
    const int64_t W = (n_q + 2 * n_kv) * d, Y = n_q * d, group = n_q / n_kv;
    int failed = 0;
#pragma omp parallel
    {
        float* S = (float*)malloc(sizeof(float) * kBlock * (T + 1));
        if (S == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t task = 0; task < B * n_q; task++) {
            if (S == NULL) continue;
            const int64_t b = task / n_q, h = task % n_q, kv = h / group;
            const float* Q = qkv + b * T * W + h * d;
            const float* K = qkv + b * T * W + (n_q + kv) * d;
            const float* V = qkv + b * T * W + (n_q + n_kv + kv) * d;
            float* O = y + b * T * Y + h * d;
            float* L = lse + task * T;
            for (int64_t r0 = 0; r0 < T; r0 += kBlock) {
                const int64_t rows = T - r0 < kBlock ? T - r0 : kBlock, keys = r0 + rows;
                gemm(false, true, rows, keys, d, scale, Q + r0 * W, W, K, W, 0.0f, S, keys);
                for (int64_t r = 0; r < rows; r++) {
                    float* s = S + r * keys;
                    const int64_t seen = r0 + r + 1;  // keys 0 .. r0 + r: the causal mask
                    float top = -INFINITY;
#pragma omp simd reduction(max : top)
                    for (int64_t j = 0; j < seen; j++) top = s[j] > top ? s[j] : top;
                    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                    for (int64_t j = 0; j < seen; j++) {
                        s[j] = exp_approx(s[j] - top);
                        sum += s[j];
                    }
                    const float inv = 1.0f / sum;
#pragma omp simd
                    for (int64_t j = 0; j < seen; j++) s[j] *= inv;
                    for (int64_t j = seen; j < keys; j++) s[j] = 0.0f;
                    L[r0 + r] = top + logf(sum);
                }
                gemm(false, false, rows, d, keys, 1.0f, S, keys, V, W, 0.0f, O + r0 * Y, Y);
            }
        }
        free(S);
    }
    return failed ? -1 : 0;
}

// Backward: dqkv (the gradient of the whole packed input) from gy and the forward's qkv, y,
// lse. One task per (sequence, key/value head), so the query heads of a group, which all add
// to the same dK and dV, run in one thread. Returns 0, or -1 as the forward.
extern "C" int causal_attention_backward(const float* qkv, const float* y, const float* gy,
                                         const float* lse, float* dqkv, int64_t B, int64_t T,
                                         int64_t n_q, int64_t n_kv, int64_t d, float scale) {
    const int64_t W = (n_q + 2 * n_kv) * d, Y = n_q * d, group = n_q / n_kv;
    int failed = 0;
#pragma omp parallel
    {
        float* P = (float*)malloc(sizeof(float) * kBlock * (T + 1));
        float* dP = (float*)malloc(sizeof(float) * kBlock * (T + 1));
        float D[kBlock];
        if (P == NULL || dP == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t task = 0; task < B * n_kv; task++) {
            if (P == NULL || dP == NULL) continue;
            const int64_t b = task / n_kv, kv = task % n_kv;
            const float* K = qkv + b * T * W + (n_q + kv) * d;
            const float* V = qkv + b * T * W + (n_q + n_kv + kv) * d;
            float* dK = dqkv + b * T * W + (n_q + kv) * d;
            float* dV = dqkv + b * T * W + (n_q + n_kv + kv) * d;
            for (int64_t t = 0; t < T; t++) {  // dK, dV are sums over the group's blocks
                memset(dK + t * W, 0, sizeof(float) * d);
                memset(dV + t * W, 0, sizeof(float) * d);
            }
            for (int64_t h = kv * group; h < (kv + 1) * group; h++) {
                const float* Q = qkv + b * T * W + h * d;
                const float* O = y + b * T * Y + h * d;
                const float* dO = gy + b * T * Y + h * d;
                float* dQ = dqkv + b * T * W + h * d;
                const float* L = lse + (b * n_q + h) * T;
                for (int64_t r0 = 0; r0 < T; r0 += kBlock) {
                    const int64_t rows = T - r0 < kBlock ? T - r0 : kBlock, keys = r0 + rows;
                    gemm(false, true, rows, keys, d, scale, Q + r0 * W, W, K, W, 0.0f, P, keys);
                    for (int64_t r = 0; r < rows; r++) {
                        float* p = P + r * keys;
                        const int64_t seen = r0 + r + 1;
                        const float l = L[r0 + r];
#pragma omp simd
                        for (int64_t j = 0; j < seen; j++) p[j] = exp_approx(p[j] - l);
                        for (int64_t j = seen; j < keys; j++) p[j] = 0.0f;
                        const float *o = O + (r0 + r) * Y, *g = dO + (r0 + r) * Y;
                        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                        for (int64_t c = 0; c < d; c++) dot += o[c] * g[c];
                        D[r] = dot;
                    }
                    gemm(true, false, keys, d, rows, 1.0f, P, keys, dO + r0 * Y, Y, 1.0f, dV, W);
                    gemm(false, true, rows, keys, d, 1.0f, dO + r0 * Y, Y, V, W, 0.0f, dP, keys);
                    for (int64_t r = 0; r < rows; r++) {  // dS, over dP
                        float *p = P + r * keys, *ds = dP + r * keys;
                        const float Dr = D[r];
#pragma omp simd
                        for (int64_t j = 0; j < keys; j++) ds[j] = p[j] * (ds[j] - Dr) * scale;
                    }
                    gemm(false, false, rows, d, keys, 1.0f, dP, keys, K, W, 0.0f, dQ + r0 * W, W);
                    gemm(true, false, keys, d, rows, 1.0f, dP, keys, Q + r0 * W, W, 1.0f, dK, W);
                }
            }
        }
        free(P);
        free(dP);
    }
    return failed ? -1 : 0;
}
