// e^x for float32 loops the compiler can vectorise; shared by swiglu_kernel.cpp and
// attention_kernel.cpp (native.py rebuilds a kernel when a header beside it changes).
#pragma once
#include <stdint.h>
#include <string.h>

// e^x with relative error < 3e-7 (torch's own expf: ~1e-7). e^x = 2^n · e^f with n the integer
// nearest x·log2(e) and |f| ≤ ln(2)/2, e^f by its Taylor series to degree 6, 2^n built in the
// exponent bits. f = x − n·ln(2) with ln(2) in two parts (Cody & Waite): n·ln2_hi is exact,
// so f keeps its precision even for |x| near 88. No branch and no call, so the loops that use
// it vectorise (libm's expf would keep them scalar: the reason a plain C++ version was slower
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
