// Blocked GEMM with bf16 activations for bf16 weights (opt-in, see MatMulArgs::activations):
// x is rounded to bf16 and each AVX512_BF16 `vdpbf16ps` multiplies two (w, x) pairs per f32
// lane, twice the multiply-adds per instruction of an f32 FMA. Accumulation stays f32. This is
// the trade llama.cpp makes for bf16/f16 weights; brisk makes it only when asked.
//
// Same blocking as gemm.cc, with k taken in pairs:
//   xt (packed once per call): panel p = x rows [32p, 32p+32), laid out [k/2][32][2] bf16
//   wp (per thread, per block): kNc rows of w, k pairs [pc/2, (pc+kc)/2), as 32-bit pairs
//   ct (per thread):            yᵀ tile [kNc][m_pad] f32, summed over k blocks
// A 32-bit broadcast of w's pair (w[r, 2i], w[r, 2i+1]) against lanes (x[c, 2i], x[c, 2i+1])
// adds w[r,2i]·x[c,2i] + w[r,2i+1]·x[c,2i+1] to lane c of row r's accumulator.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/simd.h"
#include "base/check.h"

namespace brisk::backend::cpu {

#if defined(BRISK_CPU_AVX512) && defined(__AVX512BF16__)

namespace {

constexpr int64_t kPanel = 32;    // rows of x per micro-tile
constexpr int64_t kMr = 12;       // rows of w per micro-tile (24 accumulators)
constexpr int64_t kNc = kMr * 8;  // rows of w per thread block
constexpr int64_t kKc = 512;      // k elements per block (256 pairs)

// Rounds row `row` of x (k floats) to bf16 pairs: pairs[i] = bf16(x[2i]) | bf16(x[2i+1]) << 16,
// zero-padded to k_pairs.
void RowToPairs(const float* x, int64_t k, int64_t k_pairs, uint32_t* pairs) {
  int64_t kk = 0;
  for (; kk + 32 <= k; kk += 32) {
    // cvtne2ps(hi, lo) puts lo's 16 values in the low half: element order is preserved.
    __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + kk + 16), _mm512_loadu_ps(x + kk));
    _mm512_storeu_si512(pairs + kk / 2, reinterpret_cast<__m512i&>(v));
  }
  auto* out = reinterpret_cast<uint16_t*>(pairs);
  for (; kk < k; ++kk) out[kk] = tensor::F32ToBF16(x[kk]);
  for (; kk < 2 * k_pairs; ++kk) out[kk] = 0;
}

// Panel p of xt: [k_pairs][32] pairs; rows beyond m are zero. `scratch` holds k_pairs pairs.
void PackXPanel(const float* x, int64_t m, int64_t k, int64_t k_pairs, int64_t p, uint32_t* xt,
                uint32_t* scratch) {
  const int64_t row0 = p * kPanel;
  const int64_t rows = std::min(kPanel, m - row0);
  for (int64_t c = 0; c < kPanel; ++c) {
    if (c < rows) {
      RowToPairs(x + (row0 + c) * k, k, k_pairs, scratch);
      for (int64_t i = 0; i < k_pairs; ++i) xt[i * kPanel + c] = scratch[i];
    } else {
      for (int64_t i = 0; i < k_pairs; ++i) xt[i * kPanel + c] = 0;
    }
  }
}

// wp: [rows_pad][kc_pairs] pairs of w rows [j0, j0 + rows), columns [pc, pc + kc); zero padding.
void PackW(const MatMulArgs& a, int64_t j0, int64_t rows, int64_t rows_pad, int64_t pc,
           int64_t kc, int64_t kc_pairs, uint32_t* wp) {
  const auto* w = static_cast<const uint16_t*>(a.w);
  for (int64_t r = 0; r < rows_pad; ++r) {
    uint32_t* dst = wp + r * kc_pairs;
    if (r >= rows) {
      std::fill(dst, dst + kc_pairs, 0u);
      continue;
    }
    auto* dst16 = reinterpret_cast<uint16_t*>(dst);
    std::memcpy(dst16, w + (j0 + r) * a.k + pc, kc * sizeof(uint16_t));
    if (kc % 2 != 0) dst16[kc] = 0;
  }
}

// ct[r, 0..16·NV) (+)= Σ_i pair(wp[r, i]) · pair(xt[i, 0..16·NV)) for r < kMr.
template <int NV>
void MicroKernel(const uint32_t* wp, int64_t kc_pairs, const uint32_t* xt, float* ct, int64_t ldc,
                 bool accumulate) {
  __m512 acc[kMr][NV];
  for (int r = 0; r < kMr; ++r) {
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = accumulate ? _mm512_load_ps(ct + r * ldc + 16 * v) : _mm512_setzero_ps();
    }
  }
  for (int64_t i = 0; i < kc_pairs; ++i) {
    __m512bh xv[NV];
    for (int v = 0; v < NV; ++v) {
      __m512i raw = _mm512_load_si512(xt + i * kPanel + 16 * v);
      xv[v] = reinterpret_cast<__m512bh&>(raw);
    }
    for (int r = 0; r < kMr; ++r) {
      __m512i raw = _mm512_set1_epi32(static_cast<int>(wp[r * kc_pairs + i]));
      __m512bh b = reinterpret_cast<__m512bh&>(raw);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], b, xv[v]);
    }
  }
  for (int r = 0; r < kMr; ++r) {
    for (int v = 0; v < NV; ++v) _mm512_store_ps(ct + r * ldc + 16 * v, acc[r][v]);
  }
}

void GemmBlock(const MatMulArgs& a, const uint32_t* xt, int64_t k_pairs, int64_t m_pad,
               int64_t j0, uint32_t* wp, float* ct) {
  const int64_t rows = std::min(kNc, a.n - j0);
  const int64_t rows_pad = RoundUp(rows, kMr);
  const int64_t num_panels = m_pad / kPanel;
  const bool half_last = a.m - (num_panels - 1) * kPanel <= 16;
  for (int64_t pc = 0; pc < a.k; pc += kKc) {
    const int64_t kc = std::min(kKc, a.k - pc);
    const int64_t kc_pairs = (kc + 1) / 2;
    PackW(a, j0, rows, rows_pad, pc, kc, kc_pairs, wp);
    for (int64_t p = 0; p < num_panels; ++p) {
      const uint32_t* xp = xt + p * k_pairs * kPanel + (pc / 2) * kPanel;
      for (int64_t jr = 0; jr < rows_pad; jr += kMr) {
        float* tile = ct + jr * m_pad + p * kPanel;
        if (half_last && p == num_panels - 1) {
          MicroKernel<1>(wp + jr * kc_pairs, kc_pairs, xp, tile, m_pad, pc > 0);
        } else {
          MicroKernel<2>(wp + jr * kc_pairs, kc_pairs, xp, tile, m_pad, pc > 0);
        }
      }
    }
  }
  StoreTransposed(ct, m_pad, rows, a, j0);
}

}  // namespace

bool HasBf16Gemm() { return true; }

void GemmBf16Activations(const MatMulArgs& a, int num_threads, Workspace* workspace) {
  BRISK_CHECK(a.w_dtype == tensor::DType::kBF16) << "bf16-activation GEMM needs bf16 weights";
  const int64_t m_pad = RoundUp(a.m, kPanel);
  const int64_t num_panels = m_pad / kPanel;
  const int64_t num_blocks = (a.n + kNc - 1) / kNc;
  // kKc is even, so every k block starts on a pair boundary of the packed x.
  const int64_t k_pairs = (a.k + 1) / 2;
  const int nt =
      static_cast<int>(std::min<int64_t>(ThreadsFor(a.m * a.n * a.k / 2, num_threads), num_blocks));
  // Floats() buffers hold 32-bit pairs just as well.
  auto* xt = reinterpret_cast<uint32_t*>(
      workspace->Floats(kSlotPackedX, static_cast<size_t>(m_pad * k_pairs)));
  const size_t wp_size = static_cast<size_t>(kNc * (kKc / 2));
  const size_t ct_size = static_cast<size_t>(kNc * m_pad);
  const size_t scratch_size = static_cast<size_t>(RoundUp(k_pairs, 16));
  auto* wp_all = reinterpret_cast<uint32_t*>(
      workspace->Floats(kSlotPackedW, (wp_size + scratch_size) * nt));
  float* ct_all = workspace->Floats(kSlotTile, ct_size * nt);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    uint32_t* wp = wp_all + t * (wp_size + scratch_size);
    // The implicit barrier after this loop: every panel is packed before any block starts.
#pragma omp for schedule(static)
    for (int64_t p = 0; p < num_panels; ++p) {
      PackXPanel(a.x, a.m, a.k, k_pairs, p, xt + p * k_pairs * kPanel, wp + wp_size);
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < num_blocks; ++b) {
      GemmBlock(a, xt, k_pairs, m_pad, b * kNc, wp, ct_all + t * ct_size);
    }
  }
}

#else  // no AVX512_BF16: the caller falls back to the f32 GEMM

bool HasBf16Gemm() { return false; }

void GemmBf16Activations(const MatMulArgs& a, int num_threads, Workspace* workspace) {
  Gemm(a, num_threads, workspace);
}

#endif

}  // namespace brisk::backend::cpu
