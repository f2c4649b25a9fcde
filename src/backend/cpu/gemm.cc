// Blocked matrix-matrix kernel for y = x · wᵀ with many rows of x (prefill), f32 accumulation.
//
// The product is computed transposed, yᵀ = w · xᵀ, so that w (the big operand, often bf16)
// only needs widening, never transposing: a micro-kernel multiplies kMr rows of w (broadcast
// one element at a time) by a panel of 32 rows of x stored transposed (two 16-lane vectors per
// k step), accumulating a kMr x 32 tile of yᵀ in registers.
//
//   xt (packed once per call):  panel p = x rows [32p, 32p+32), laid out [k][32]
//   wp (per thread, per block): kNc rows of w, columns [pc, pc+kc), widened to f32, [kNc][kc]
//   ct (per thread):            yᵀ tile for the kNc rows of w: [kNc][m_pad], summed over pc
//
// Loops: threads take blocks of kNc rows of w (dynamic schedule); per block, for each k block
// of kKc the wp block is widened once and reused against every x panel; after the last k
// block ct is transposed into y (plus bias). Sizes keep the x block (m_pad·kKc floats) and ct
// in L2 and one micro-panel of wp plus one x panel slice in L1.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/simd.h"
#include "base/check.h"

namespace brisk::backend::cpu {
namespace {

using tensor::DType;

constexpr int64_t kPanel = 32;  // rows of x per micro-tile (two 16-lane vectors)
#if defined(BRISK_CPU_AVX512)
constexpr int64_t kMr = 12;  // rows of w per micro-tile: 12 x 2 accumulators of 32 registers
#else
constexpr int64_t kMr = 4;  // 4 x 32 floats: 16 AVX2 registers when auto-vectorized
#endif
constexpr int64_t kNc = kMr * 8;  // rows of w per thread block
constexpr int64_t kKc = 256;      // k elements per block

// xt panel p: [k][32] with x rows beyond m as zeros.
void PackXPanel(const float* x, int64_t m, int64_t k, int64_t p, float* xt) {
  const int64_t row0 = p * kPanel;
  const int64_t rows = std::min(kPanel, m - row0);
  for (int64_t kk = 0; kk < k; ++kk) {
    float* dst = xt + kk * kPanel;
    for (int64_t c = 0; c < rows; ++c) dst[c] = x[(row0 + c) * k + kk];
    for (int64_t c = rows; c < kPanel; ++c) dst[c] = 0.0f;
  }
}

// wp: [rows_pad][kc], rows of w [j0, j0 + rows) widened, the rest zero.
void PackW(const MatMulArgs& a, int64_t j0, int64_t rows, int64_t rows_pad, int64_t pc, int64_t kc,
           float* wp) {
  for (int64_t r = 0; r < rows_pad; ++r) {
    float* dst = wp + r * kc;
    if (r >= rows) {
      std::fill(dst, dst + kc, 0.0f);
      continue;
    }
    const int64_t offset = (j0 + r) * a.k + pc;
    switch (a.w_dtype) {
      case DType::kF32:
        std::memcpy(dst, static_cast<const float*>(a.w) + offset, kc * sizeof(float));
        break;
      case DType::kBF16:
        WidenBf16(static_cast<const uint16_t*>(a.w) + offset, kc, dst);
        break;
      case DType::kF16:
        WidenF16(static_cast<const uint16_t*>(a.w) + offset, kc, dst);
        break;
      case DType::kF64:
      case DType::kI32:
      case DType::kI64:
        BRISK_CHECK(false) << "gemm weight dtype";
        break;
    }
  }
}

#if defined(BRISK_CPU_AVX512)

// ct[r, 0..16·NV) (+)= Σ_kk wp[r, kk] · xt[kk, 0..16·NV) for r < kMr.
// wp: [kMr][kc] (row stride kc); xt: [kc][32]; ct: [kMr][ldc]
template <int NV>
void MicroKernel(const float* wp, int64_t kc, const float* xt, float* ct, int64_t ldc,
                 bool accumulate) {
  __m512 acc[kMr][NV];
  for (int r = 0; r < kMr; ++r) {
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = accumulate ? _mm512_load_ps(ct + r * ldc + 16 * v) : _mm512_setzero_ps();
    }
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    __m512 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_load_ps(xt + kk * kPanel + 16 * v);
    for (int r = 0; r < kMr; ++r) {
      __m512 b = _mm512_set1_ps(wp[r * kc + kk]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(b, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kMr; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(ct + r * ldc + 16 * v, acc[r][v]);
  }
}

#else

template <int NV>
void MicroKernel(const float* wp, int64_t kc, const float* xt, float* ct, int64_t ldc,
                 bool accumulate) {
  constexpr int kCols = 16 * NV;
  float acc[kMr][kCols];
  for (int r = 0; r < kMr; ++r) {
    for (int c = 0; c < kCols; ++c) acc[r][c] = accumulate ? ct[r * ldc + c] : 0.0f;
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    const float* xk = xt + kk * kPanel;
    for (int r = 0; r < kMr; ++r) {
      const float b = wp[r * kc + kk];
      for (int c = 0; c < kCols; ++c) acc[r][c] += b * xk[c];
    }
  }
  for (int r = 0; r < kMr; ++r) {
    for (int c = 0; c < kCols; ++c) ct[r * ldc + c] = acc[r][c];
  }
}

#endif  // BRISK_CPU_AVX512

// One block of up to kNc rows of w starting at j0, all of m and k.
void GemmBlock(const MatMulArgs& a, const float* xt, int64_t m_pad, int64_t j0, float* wp,
               float* ct) {
  const int64_t rows = std::min(kNc, a.n - j0);
  const int64_t rows_pad = RoundUp(rows, kMr);
  const int64_t num_panels = m_pad / kPanel;
  // The last panel may hold 16 or fewer real rows of x: then one vector column suffices.
  const bool half_last = a.m - (num_panels - 1) * kPanel <= 16;
  for (int64_t pc = 0; pc < a.k; pc += kKc) {
    const int64_t kc = std::min(kKc, a.k - pc);
    PackW(a, j0, rows, rows_pad, pc, kc, wp);
    for (int64_t p = 0; p < num_panels; ++p) {
      const float* xp = xt + p * a.k * kPanel + pc * kPanel;
      for (int64_t jr = 0; jr < rows_pad; jr += kMr) {
        float* tile = ct + jr * m_pad + p * kPanel;
        if (half_last && p == num_panels - 1) {
          MicroKernel<1>(wp + jr * kc, kc, xp, tile, m_pad, pc > 0);
        } else {
          MicroKernel<2>(wp + jr * kc, kc, xp, tile, m_pad, pc > 0);
        }
      }
    }
  }
  StoreTransposed(ct, m_pad, rows, a, j0);
}

}  // namespace

void StoreTransposed(const float* ct, int64_t ldc, int64_t rows, const MatMulArgs& a, int64_t j0) {
  for (int64_t i = 0; i < a.m; ++i) {
    float* yi = a.y + i * a.n + j0;
    for (int64_t r = 0; r < rows; ++r) {
      yi[r] = ct[r * ldc + i] + (a.bias != nullptr ? a.bias[j0 + r] : 0.0f);
    }
  }
}

void Gemm(const MatMulArgs& a, int num_threads, Workspace* workspace) {
  const int64_t m_pad = RoundUp(a.m, kPanel);
  const int64_t num_panels = m_pad / kPanel;
  const int64_t num_blocks = (a.n + kNc - 1) / kNc;
  const int nt =
      static_cast<int>(std::min<int64_t>(ThreadsFor(a.m * a.n * a.k, num_threads), num_blocks));
  float* xt = workspace->Floats(kSlotPackedX, static_cast<size_t>(m_pad * a.k));
  const size_t wp_size = static_cast<size_t>(kNc * kKc);
  const size_t ct_size = static_cast<size_t>(kNc * m_pad);
  float* wp_all = workspace->Floats(kSlotPackedW, wp_size * nt);
  float* ct_all = workspace->Floats(kSlotTile, ct_size * nt);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    // The implicit barrier after this loop: every panel is packed before any block starts.
#pragma omp for schedule(static)
    for (int64_t p = 0; p < num_panels; ++p) PackXPanel(a.x, a.m, a.k, p, xt + p * a.k * kPanel);
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < num_blocks; ++b) {
      GemmBlock(a, xt, m_pad, b * kNc, wp_all + t * wp_size, ct_all + t * ct_size);
    }
  }
}

}  // namespace brisk::backend::cpu
