// One decode step of an SLM (attention + SwiGLU layers, float32, batch 1), written by hand.
//
// Why by hand: at batch 1 a step streams every weight once; the arithmetic is cheap and the
// time goes to memory and to the points where the threads wait for each other. Inductor's
// generated step (compiled_decode.py) has ~18 such points per layer: one per generated loop,
// each small op between the matrix-vector products running on one thread while the others
// wait. The data dependencies need only five per layer, the ones below marked [sync]; every
// thread recomputes the residual add and the RMSNorm (d_model numbers) on its own copy of x
// instead of waiting for one thread to do it. Loaded and checked against the generated step
// by decode_kernel.py.
//
// Glossary: D d_model, H query heads, Hkv key/value heads (H/Hkv query heads share one),
// hd head dim, F SwiGLU hidden size, V vocabulary, T cache capacity, pos the new token's
// position (it attends to positions 0..pos).
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

struct Layer {  // a block's weights, rows of (out, in) as nn.Linear stores them
    const float *qkv, *out, *gate_up, *down, *norm1, *norm2;
};

struct Model {
    int64_t d_model, n_layer, n_head, n_kv_head, head_dim, d_ff, vocab, capacity;
    double eps;
    const float *tok_emb, *head, *norm;  // (V, D), (V, D), (D,)
    const float *cos, *sin;              // (max_seq_len, hd/2) RoPE tables
    float *k_cache, *v_cache;            // (n_layer, 1, Hkv, T, hd)
    const struct Layer* layers;
};

// a·b over n floats. Four independent sums of 8 lanes: one sum would make each fused
// multiply-add wait for the previous one (~4 cycles), slower than memory delivers the row.
static inline float dot(const float* a, const float* b, int64_t n) {
    float sum = 0.0f;
    int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    for (; j + 32 <= n; j += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 16), _mm256_loadu_ps(b + j + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 24), _mm256_loadu_ps(b + j + 24), s3);
    }
    for (; j + 8 <= n; j += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), s0);
    const __m256 lanes = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
    half = _mm_hadd_ps(half, half);
    half = _mm_hadd_ps(half, half);
    sum = _mm_cvtss_f32(half);
#endif
    for (; j < n; j++) sum += a[j] * b[j];
    return sum;
}

static void rms_norm(float* out, const float* x, const float* gain, int64_t n, double eps) {
    float squares = 0.0f;
    for (int64_t i = 0; i < n; i++) squares += x[i] * x[i];
    const float r = 1.0f / sqrtf(squares / (float)n + (float)eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * r * gain[i];
}

// RoPE on consecutive pairs: (x0, x1) -> (x0·cos − x1·sin, x0·sin + x1·cos).
static void rotate(float* x, const float* cos, const float* sin, int64_t hd) {
    for (int64_t i = 0; i < hd / 2; i++) {
        const float x0 = x[2 * i], x1 = x[2 * i + 1];
        x[2 * i] = x0 * cos[i] - x1 * sin[i];
        x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
    }
}

// y = softmax(q·Kᵀ/√hd)·V over the n cached positions of one key/value head.
static void attend(float* y, const float* q, const float* keys, const float* values,
                   int64_t n, int64_t hd, float* scores) {
    const float scale = 1.0f / sqrtf((float)hd);
    float top = -INFINITY;
    for (int64_t p = 0; p < n; p++) {
        scores[p] = dot(q, keys + p * hd, hd) * scale;
        if (scores[p] > top) top = scores[p];
    }
    float total = 0.0f;
    for (int64_t p = 0; p < n; p++) total += scores[p] = expf(scores[p] - top);
    for (int64_t i = 0; i < hd; i++) y[i] = 0.0f;
    for (int64_t p = 0; p < n; p++) {
        const float w = scores[p] / total;
        for (int64_t i = 0; i < hd; i++) y[i] += w * values[p * hd + i];
    }
}

// Runs the step for `token` at position `pos`: writes its keys/values into the caches and the
// logits (V,) into `logits`; returns their argmax (the first of equal maxima). `shared` holds
// (H + 2·Hkv)·hd + H·hd + D + F floats; returns -1 if a thread could not allocate its buffers.
extern "C" int64_t slm_decode_step(const struct Model* m, int64_t token, int64_t pos,
                                   float* logits, float* shared) {
    const int64_t D = m->d_model, H = m->n_head, Hkv = m->n_kv_head, hd = m->head_dim;
    const int64_t F = m->d_ff, V = m->vocab, T = m->capacity, group = H / Hkv;
    const int64_t qkv_rows = (H + 2 * Hkv) * hd;
    float *qkv = shared, *y = qkv + qkv_rows, *t = y + H * hd, *hidden = t + D;
    const float *cos = m->cos + pos * (hd / 2), *sin = m->sin + pos * (hd / 2);
    int64_t best = -1;
    float best_value = 0.0f;
    int failed = 0;

#pragma omp parallel
    {
        // Each thread's own residual stream x, its normalised copy, and attention scores.
        float* x = (float*)malloc(sizeof(float) * (2 * D + pos + 1));
        int ok = x != NULL;
#pragma omp atomic update
        failed += !ok;
#pragma omp barrier
        if (!failed) {
            float *xn = x + D, *scores = xn + D;
            memcpy(x, m->tok_emb + token * D, sizeof(float) * D);
            for (int64_t l = 0; l < m->n_layer; l++) {
                const struct Layer* w = m->layers + l;
                rms_norm(xn, x, w->norm1, D, m->eps);
#pragma omp for schedule(static)  // [sync] q, k, v
                for (int64_t i = 0; i < qkv_rows; i++) qkv[i] = dot(w->qkv + i * D, xn, D);
#pragma omp for schedule(static)  // [sync] attention, one key/value head per iteration
                for (int64_t h = 0; h < Hkv; h++) {
                    float* k = qkv + (H + h) * hd;
                    const float* v = qkv + (H + Hkv + h) * hd;
                    rotate(k, cos, sin, hd);
                    float* keys = m->k_cache + (l * Hkv + h) * T * hd;
                    float* values = m->v_cache + (l * Hkv + h) * T * hd;
                    memcpy(keys + pos * hd, k, sizeof(float) * hd);
                    memcpy(values + pos * hd, v, sizeof(float) * hd);
                    for (int64_t g = h * group; g < (h + 1) * group; g++) {
                        rotate(qkv + g * hd, cos, sin, hd);
                        attend(y + g * hd, qkv + g * hd, keys, values, pos + 1, hd, scores);
                    }
                }
#pragma omp for schedule(static)  // [sync] attention output projection
                for (int64_t i = 0; i < D; i++) t[i] = dot(w->out + i * H * hd, y, H * hd);
                for (int64_t i = 0; i < D; i++) x[i] += t[i];
                rms_norm(xn, x, w->norm2, D, m->eps);
#pragma omp for schedule(static)  // [sync] SwiGLU: row i of the gate and row i of the up half
                for (int64_t i = 0; i < F; i++) {
                    const float gate = dot(w->gate_up + i * D, xn, D);
                    const float up = dot(w->gate_up + (F + i) * D, xn, D);
                    hidden[i] = gate / (1.0f + expf(-gate)) * up;
                }
#pragma omp for schedule(static)  // [sync] down projection
                for (int64_t i = 0; i < D; i++) t[i] = dot(w->down + i * F, hidden, F);
                for (int64_t i = 0; i < D; i++) x[i] += t[i];
            }
            rms_norm(xn, x, m->norm, D, m->eps);
            int64_t mine = -1;
            float mine_value = 0.0f;
#pragma omp for schedule(static) nowait
            for (int64_t i = 0; i < V; i++) {
                const float z = logits[i] = dot(m->head + i * D, xn, D);
                if (mine < 0 || z > mine_value) mine = i, mine_value = z;
            }
#pragma omp critical
            if (mine >= 0 && (best < 0 || mine_value > best_value
                              || (mine_value == best_value && mine < best)))
                best = mine, best_value = mine_value;
        }
        free(x);
    }
    return failed ? -1 : best;
}
