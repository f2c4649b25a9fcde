// SIMD building blocks shared by the fast CPU kernels. BRISK_CPU_AVX512 is defined when the
// compiler targets AVX-512 F+BW+VL (for example -march=native on Zen 4 or Sapphire Rapids);
// every kernel that uses it has a portable path that the compiler may auto-vectorize, so the
// same sources build for any x86-64 (or other) target.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/dtype.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define BRISK_CPU_AVX512 1
// GCC 12 reports its own AVX-512 headers' _mm*_undefined_* idiom as uninitialized use when
// the intrinsics are inlined (GCC bug 105593); the pragmas silence that false positive only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace brisk::backend::cpu {

inline int64_t RoundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// Widens `count` bf16 or f16 values to f32 (exactly). src and dst must not overlap.
void WidenBf16(const uint16_t* src, int64_t count, float* dst);
void WidenF16(const uint16_t* src, int64_t count, float* dst);

#if defined(BRISK_CPU_AVX512)

// Mask with the low `count` bits set, count in [0, 16].
inline __mmask16 TailMask16(int64_t count) {
  return static_cast<__mmask16>(count >= 16 ? 0xffffu : (1u << count) - 1u);
}

// e^x for 16 lanes; within 2 ulp of the exact value for x in [-87, 88] (cpu_backend_test.cc),
// 0 below that range and +inf above. Range reduction x = n·ln2 + r with |r| <= ln2/2 (ln2
// split in two parts so that n·ln2 stays exact), a degree-7 Taylor polynomial for e^r (its
// truncation error at |r| = 0.347 is 0.347^8/8! ≈ 5e-9 relative, far below one f32 ulp, so
// only rounding in the Horner steps remains), then scaling by 2^n.
inline __m512 Exp512(__m512 x) {
  const __m512 kLog2e = _mm512_set1_ps(1.44269504f);
  const __m512 kLn2Hi = _mm512_set1_ps(0.693359375f);     // exact in f32: few mantissa bits
  const __m512 kLn2Lo = _mm512_set1_ps(-2.12194440e-4f);  // ln2 - kLn2Hi
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));          // e^-104 underflows to 0 anyway
  x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));            // e^89 overflows to inf anyway
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, kLog2e), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, kLn2Hi, x);
  r = _mm512_fnmadd_ps(n, kLn2Lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);  // p · 2^n, handles under- and overflow
}

#endif  // BRISK_CPU_AVX512

// Σ a[i]·b[i] in f32 with several partial sums (vector lanes).
inline float Dot(const float* a, const float* b, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    __mmask16 m = TailMask16(n - i);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
#else
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
#endif
}

// y[i] = y[i]·scale + alpha·x[i]
inline void ScaleAddScaled(float scale, float* y, float alpha, const float* x, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 a = _mm512_set1_ps(alpha);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = TailMask16(n - i);
    __m512 yv = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), s);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m, x + i), yv));
  }
#else
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * scale + alpha * x[i];
#endif
}

}  // namespace brisk::backend::cpu
