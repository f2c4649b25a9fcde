// Vectorized dtype widening for the fast CPU kernels.
#include "backend/cpu/simd.h"

#if !defined(BRISK_CPU_AVX512) && defined(__F16C__)
#include <immintrin.h>
#endif

namespace brisk::backend::cpu {

void WidenBf16(const uint16_t* src, int64_t count, float* dst) {
  int64_t i = 0;
#if defined(BRISK_CPU_AVX512)
  for (; i + 16 <= count; i += 16) {
    __m512i v =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
  }
#endif
  for (; i < count; ++i) {
    uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(dst + i, &bits, sizeof(float));
  }
}

void WidenF16(const uint16_t* src, int64_t count, float* dst) {
  int64_t i = 0;
#if defined(BRISK_CPU_AVX512)
  for (; i + 16 <= count; i += 16) {
    _mm512_storeu_ps(
        dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  }
#elif defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
#endif
  for (; i < count; ++i) dst[i] = tensor::F16ToF32(src[i]);
}

}  // namespace brisk::backend::cpu
