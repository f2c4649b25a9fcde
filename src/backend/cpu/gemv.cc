// Matrix-vector kernel for y = x · wᵀ with few rows of x (decode). It is bound by the bandwidth
// at which w streams from memory, so it reads every weight once, splits the rows of w (the
// columns of y) across threads, keeps several rows of w in flight with one accumulator per
// (x row, w row) pair, and prefetches the next block of rows into L2. x is small and repacked
// once per call.
//
// AVX-512 bf16 trick: 32 bf16 weights loaded as 16 32-bit lanes hold element 2i in the low and
// 2i+1 in the high half of lane i. `lane << 16` is element 2i as f32 and `lane & 0xffff0000` is
// element 2i+1, so x is packed per 32-element chunk as [16 even elements | 16 odd elements]:
//   w chunk lanes:  (w0,w1) (w2,w3) ... (w30,w31)
//   x chunk:        x0 x2 ... x30 | x1 x3 ... x31
#include <omp.h>

#include <algorithm>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/simd.h"
#include "base/check.h"

namespace brisk::backend::cpu {
namespace {

using tensor::DType;

#if defined(BRISK_CPU_AVX512)

constexpr int64_t kChunk = 32;  // k elements per step: one 64-byte line of bf16 weights

// Loaders turn 32 weights at p into two f32 vectors in the order PackX uses.
struct Bf16Loader {
  using Elem = uint16_t;
  static constexpr bool kDeinterleaved = true;
  static void Split(__m512i v, __m512* lo, __m512* hi) {
    *lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    *hi =
        _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static void Load(const Elem* p, __m512* lo, __m512* hi) { Split(_mm512_loadu_si512(p), lo, hi); }
  static void LoadTail(const Elem* p, int64_t count, __m512* lo, __m512* hi) {
    __mmask32 mask = static_cast<__mmask32>((uint64_t{1} << count) - 1);
    Split(_mm512_maskz_loadu_epi16(mask, p), lo, hi);
  }
};

struct F16Loader {
  using Elem = uint16_t;
  static constexpr bool kDeinterleaved = false;
  static void Load(const Elem* p, __m512* lo, __m512* hi) {
    *lo = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    *hi = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16)));
  }
  static void LoadTail(const Elem* p, int64_t count, __m512* lo, __m512* hi) {
    *lo = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(TailMask16(count), p));
    *hi = _mm512_cvtph_ps(
        _mm256_maskz_loadu_epi16(TailMask16(std::max<int64_t>(0, count - 16)), p + 16));
  }
};

struct F32Loader {
  using Elem = float;
  static constexpr bool kDeinterleaved = false;
  static void Load(const Elem* p, __m512* lo, __m512* hi) {
    *lo = _mm512_loadu_ps(p);
    *hi = _mm512_loadu_ps(p + 16);
  }
  static void LoadTail(const Elem* p, int64_t count, __m512* lo, __m512* hi) {
    *lo = _mm512_maskz_loadu_ps(TailMask16(count), p);
    *hi = _mm512_maskz_loadu_ps(TailMask16(std::max<int64_t>(0, count - 16)), p + 16);
  }
};

// xp: [m, kp] with kp = RoundUp(k, 32), zero padded, chunks deinterleaved if requested.
void PackX(const float* x, int64_t m, int64_t k, int64_t kp, bool deinterleave, float* xp) {
  for (int64_t i = 0; i < m; ++i) {
    const float* src = x + i * k;
    float* dst = xp + i * kp;
    std::fill(dst, dst + kp, 0.0f);
    for (int64_t p = 0; p < k; ++p) {
      int64_t base = p / kChunk * kChunk;
      int64_t lane = p % kChunk;
      int64_t to = deinterleave ? base + (lane % 2) * 16 + lane / 2 : p;
      dst[to] = src[p];
    }
  }
}

// y[0..M, j..j+R) for R consecutive rows of w starting at row j.
// xp: [M, kp]; w: [n, k]; y: [M, n]
template <int M, int R, class L>
void GemvBlock(const float* xp, int64_t kp, const typename L::Elem* w, int64_t k, const float* bias,
               float* y, int64_t n, int64_t j) {
  __m512 acc[M][R];
  for (int i = 0; i < M; ++i) {
    for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
  }
  const typename L::Elem* rows[R];
  for (int r = 0; r < R; ++r) rows[r] = w + (j + r) * k;
  const int64_t full = k / kChunk * kChunk;
  // Row r's 32 weights (as two f32 vectors) against chunk c of every row of x.
  auto step = [&](int r, __m512 lo, __m512 hi, int64_t c) {
    for (int i = 0; i < M; ++i) {
      acc[i][r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(xp + i * kp + c), acc[i][r]);
      acc[i][r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(xp + i * kp + c + 16), acc[i][r]);
    }
  };
  for (int64_t c = 0; c < full; c += kChunk) {
    for (int r = 0; r < R; ++r) {
      // The next block of R rows follows this one in memory: fetch its chunk c into L2 now.
      const char* next = reinterpret_cast<const char*>(rows[r] + R * k + c);
      for (size_t b = 0; b < kChunk * sizeof(typename L::Elem); b += 64) {
        _mm_prefetch(next + b, _MM_HINT_T1);
      }
      __m512 lo, hi;
      L::Load(rows[r] + c, &lo, &hi);
      step(r, lo, hi, c);
    }
  }
  if (full < k) {
    for (int r = 0; r < R; ++r) {
      __m512 lo, hi;
      L::LoadTail(rows[r] + full, k - full, &lo, &hi);
      step(r, lo, hi, full);
    }
  }
  for (int i = 0; i < M; ++i) {
    for (int r = 0; r < R; ++r) {
      float b = bias != nullptr ? bias[j + r] : 0.0f;
      y[i * n + j + r] = _mm512_reduce_add_ps(acc[i][r]) + b;
    }
  }
}

// Rows of w handled together: four concurrent streams per thread already read as fast as
// eight here (bench/kernels/cpu_matmul_bench.cc), and for m up to 8 two rows let each load of
// x feed two FMAs while the M·R accumulators stay within the 32 vector registers.
template <int M>
constexpr int RowsPerBlock() {
  return M <= 4 ? 4 : 2;
}

template <int M, class L>
void GemvRange(const float* xp, int64_t kp, const void* w, int64_t k, const float* bias, float* y,
               int64_t n, int64_t j_begin, int64_t j_end) {
  constexpr int R = RowsPerBlock<M>();
  const auto* wt = static_cast<const typename L::Elem*>(w);
  int64_t j = j_begin;
  for (; j + R <= j_end; j += R) GemvBlock<M, R, L>(xp, kp, wt, k, bias, y, n, j);
  for (; j < j_end; ++j) GemvBlock<M, 1, L>(xp, kp, wt, k, bias, y, n, j);
}

template <class L>
void GemvTyped(const MatMulArgs& a, int num_threads, Workspace* workspace) {
  const int64_t kp = RoundUp(a.k, kChunk);
  float* xp = workspace->Floats(kSlotPackedX, static_cast<size_t>(a.m * kp));
  PackX(a.x, a.m, a.k, kp, L::kDeinterleaved, xp);
  // Each thread takes a contiguous range of w rows, a multiple of 16 rows long.
  auto run = [&](int64_t j_begin, int64_t j_end) {
    switch (a.m) {
      case 1:
        return GemvRange<1, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 2:
        return GemvRange<2, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 3:
        return GemvRange<3, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 4:
        return GemvRange<4, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 5:
        return GemvRange<5, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 6:
        return GemvRange<6, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 7:
        return GemvRange<7, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
      case 8:
        return GemvRange<8, L>(xp, kp, a.w, a.k, a.bias, a.y, a.n, j_begin, j_end);
    }
    BRISK_CHECK(false) << "gemv with m = " << a.m;
  };
  const int nt = ThreadsFor(a.m * a.n * a.k, num_threads);
  if (nt == 1) {
    run(0, a.n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t per_thread = RoundUp((a.n + count - 1) / count, 16);
    const int64_t j_begin = std::min(a.n, t * per_thread);
    const int64_t j_end = std::min(a.n, j_begin + per_thread);
    run(j_begin, j_end);
  }
}

#else  // portable path

struct WidenF32 {
  float operator()(float v) const { return v; }
};
struct WidenBf16Bits {
  float operator()(uint16_t bits) const { return tensor::BF16ToF32(bits); }
};
struct WidenF16Bits {
  float operator()(uint16_t bits) const { return tensor::F16ToF32(bits); }
};

// One output y[i, j]; the simd reduction lets the compiler vectorize with several partial sums.
template <class Widener, class Elem>
void GemvPortable(const MatMulArgs& a, int64_t j_begin, int64_t j_end, Widener widen) {
  const auto* w = static_cast<const Elem*>(a.w);
  for (int64_t j = j_begin; j < j_end; ++j) {
    for (int64_t i = 0; i < a.m; ++i) {
      const float* x = a.x + i * a.k;
      const Elem* row = w + j * a.k;
      float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
      for (int64_t p = 0; p < a.k; ++p) acc += x[p] * widen(row[p]);
      a.y[i * a.n + j] = acc + (a.bias != nullptr ? a.bias[j] : 0.0f);
    }
  }
}

#endif  // BRISK_CPU_AVX512

}  // namespace

void Gemv(const MatMulArgs& args, int num_threads, Workspace* workspace) {
#if defined(BRISK_CPU_AVX512)
  if (args.m > kGemvMaxRows) {  // the kernels are unrolled over m; split larger m
    for (int64_t i = 0; i < args.m; i += kGemvMaxRows) {
      MatMulArgs part = args;
      part.m = std::min(kGemvMaxRows, args.m - i);
      part.x = args.x + i * args.k;
      part.y = args.y + i * args.n;
      Gemv(part, num_threads, workspace);
    }
    return;
  }
  switch (args.w_dtype) {
    case DType::kF32:
      return GemvTyped<F32Loader>(args, num_threads, workspace);
    case DType::kBF16:
      return GemvTyped<Bf16Loader>(args, num_threads, workspace);
    case DType::kF16:
      return GemvTyped<F16Loader>(args, num_threads, workspace);
    case DType::kF64:
    case DType::kI32:
    case DType::kI64:
      break;
  }
  BRISK_CHECK(false) << "gemv weight dtype " << tensor::DTypeName(args.w_dtype);
#else
  (void)workspace;
  const int nt = ThreadsFor(args.m * args.n * args.k, num_threads);
  auto run = [&](int64_t j_begin, int64_t j_end) {
    switch (args.w_dtype) {
      case DType::kF32:
        return GemvPortable<WidenF32, float>(args, j_begin, j_end, {});
      case DType::kBF16:
        return GemvPortable<WidenBf16Bits, uint16_t>(args, j_begin, j_end, {});
      case DType::kF16:
        return GemvPortable<WidenF16Bits, uint16_t>(args, j_begin, j_end, {});
      case DType::kF64:
      case DType::kI32:
      case DType::kI64:
        break;
    }
    BRISK_CHECK(false) << "gemv weight dtype " << tensor::DTypeName(args.w_dtype);
  };
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t per_thread = (args.n + count - 1) / count;
    run(std::min(args.n, t * per_thread), std::min(args.n, (t + 1) * per_thread));
  }
#endif
}

}  // namespace brisk::backend::cpu
