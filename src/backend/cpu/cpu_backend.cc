// CpuBackend: argument checks (shared with the reference backend), then the kernels. MatMul,
// PagedAttention and EncoderAttention live in their own files; the short row-wise kernels (and
// the fused QkvRopeWriteKv, built from the same norm and rope pieces) are here. Row-wise ops
// split rows across threads only when there is enough work (parallel.h).
#include "backend/cpu/cpu_backend.h"

#include "backend/cpu/matmul_internal.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>

#include "backend/cpu/attention.h"
#include "backend/cpu/encoder_attention.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/matmul_internal.h"
#include "backend/cpu/parallel.h"
#include "backend/cpu/reference/op_checks.h"
#include "backend/cpu/reference/sample_tokens.h"
#include "backend/cpu/simd.h"
#include "base/logging.h"

namespace brisk::backend {
namespace {

using cpu::ParallelFor;

// Σ x[i]² in f32 with vector partial sums.
float SumSquares(const float* x, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = _mm512_loadu_ps(x + i);
    __m512 b = _mm512_loadu_ps(x + i + 16);
    acc0 = _mm512_fmadd_ps(a, a, acc0);
    acc1 = _mm512_fmadd_ps(b, b, acc1);
  }
  for (; i < n; i += 16) {
    __m512 a = _mm512_maskz_loadu_ps(cpu::TailMask16(n - i), x + i);
    acc0 = _mm512_fmadd_ps(a, a, acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
#else
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += x[i] * x[i];
  return acc;
#endif
}

// out[i] = x[i] · inv_rms · weight[i]; out may alias x.
void ScaleRow(const float* x, float inv_rms, const float* weight, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv_rms * weight[i];
}

float InvRms(float sum_squares, int64_t dim, float eps) {
  return 1.0f / std::sqrt(sum_squares / static_cast<float>(dim) + eps);
}

// Rotates head[0, 2·half) in place, rotate_half pairing (Backend::Rope):
// head[i], head[i + half] = head[i]·cos[i] − head[i + half]·sin[i], head[i + half]·cos[i] +
// head[i]·sin[i]. cos, sin: [half]; head: [>= 2·half]
inline void RotateHalf(const float* cos, const float* sin, int64_t half, float* head) {
  float* hi = head + half;
  for (int64_t i = 0; i < half; ++i) {
    const float a = head[i];
    const float b = hi[i];
    head[i] = a * cos[i] - b * sin[i];
    hi[i] = b * cos[i] + a * sin[i];
  }
}

// dst = rope(rms_norm(src)) for one head of QkvRopeWriteKv, or rope(src) when weight is null.
// src, dst: [head_dim], not overlapping; weight: [head_dim] or nullptr; cos, sin: [half]
void NormRotateHead(const float* src, const float* weight, float eps, int64_t head_dim,
                    const float* cos, const float* sin, int64_t half, float* dst) {
  if (weight != nullptr) {
    ScaleRow(src, InvRms(SumSquares(src, head_dim), head_dim, eps), weight, head_dim, dst);
  } else {
    std::memcpy(dst, src, static_cast<size_t>(head_dim) * sizeof(float));
  }
  RotateHalf(cos, sin, half, dst);
}

// out[i] = silu(gate[i]) · up[i] = gate[i] · up[i] / (1 + e^-gate[i])
void SiluMulRange(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
#if defined(BRISK_CPU_AVX512)
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i < n; i += 16) {
    __mmask16 m = cpu::TailMask16(n - i);
    __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    __m512 u = _mm512_maskz_loadu_ps(m, up + i);
    __m512 denom = _mm512_add_ps(one, cpu::Exp512(_mm512_sub_ps(_mm512_setzero_ps(), g)));
    _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(_mm512_mul_ps(g, u), denom));
  }
#endif
  for (; i < n; ++i) out[i] = gate[i] * up[i] / (1.0f + std::exp(-gate[i]));
}

// Σ x[i] in f32 with vector partial sums.
float Sum(const float* x, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(cpu::TailMask16(n - i), x + i));
  }
  return _mm512_reduce_add_ps(acc);
#else
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += x[i];
  return acc;
#endif
}

// Σ (x[i] − mean)² in f32 with vector partial sums.
float SumSquaredDeviations(const float* x, float mean, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  const __m512 m = _mm512_set1_ps(mean);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 tail = cpu::TailMask16(n - i);
    // Masked-off lanes load 0 and subtract to 0 as well, adding nothing.
    const __m512 dev = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, x + i), m);
    acc = _mm512_fmadd_ps(dev, dev, acc);
  }
  return _mm512_reduce_add_ps(acc);
#else
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += (x[i] - mean) * (x[i] - mean);
  return acc;
#endif
}

// out = (x − mean) / sqrt(var + eps) · weight + bias for one row, two passes over x (the
// one-pass E[x²] − E[x]² cancels badly when |mean| is large against the spread). out may
// alias x. x, out, weight, bias: [dim]
void LayerNormRow(const float* x, const float* weight, const float* bias, float eps, int64_t dim,
                  float* out) {
  const float mean = Sum(x, dim) / static_cast<float>(dim);
  const float var = SumSquaredDeviations(x, mean, dim) / static_cast<float>(dim);
  const float inv_std = 1.0f / std::sqrt(var + eps);
  for (int64_t i = 0; i < dim; ++i) out[i] = (x[i] - mean) * inv_std * weight[i] + bias[i];
}

// √(2/π) and 1/√2 to f32 precision.
constexpr float kSqrtTwoOverPi = 0.7978845608f;
constexpr float kSqrtHalf = 0.7071067812f;

// Exact GELU: x·Φ(x) = x/2 · erfc(−x/√2). erfc keeps full relative precision where Φ(x) is
// tiny (x << 0); the textbook 1 + erf(x/√2) cancels there.
void GeluErfRange(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * std::erfc(-x[i] * kSqrtHalf);
}

// Tanh GELU: x/2 · (1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), computed as the equal
// x / (1 + e^(−2u)), which does not cancel for x << 0 and saturates cleanly: e^(−2u) = inf
// gives −0, e^(−2u) = 0 gives x.
void GeluTanhRange(const float* x, int64_t n, float* out) {
  int64_t i = 0;
#if defined(BRISK_CPU_AVX512)
  const __m512 c = _mm512_set1_ps(-2.0f * kSqrtTwoOverPi);
  const __m512 cubic = _mm512_set1_ps(0.044715f);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i < n; i += 16) {
    const __mmask16 m = cpu::TailMask16(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(xv, xv), xv);
    const __m512 minus_2u = _mm512_mul_ps(c, _mm512_fmadd_ps(cubic, x3, xv));
    const __m512 denom = _mm512_add_ps(one, cpu::Exp512(minus_2u));
    _mm512_mask_storeu_ps(out + i, m, _mm512_div_ps(xv, denom));
  }
#endif
  for (; i < n; ++i) {
    const float u = kSqrtTwoOverPi * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
    out[i] = x[i] / (1.0f + std::exp(-2.0f * u));
  }
}

}  // namespace

CpuBackend::CpuBackend(const CpuBackendOptions& options)
    : num_threads_(options.num_threads > 0 ? options.num_threads : omp_get_num_procs()),
      prefill_activations_(options.prefill_activations) {}

bool CpuBackend::Supports(OpId op, DType weight_dtype) const {
  return SupportsFloatWeightOps(op, weight_dtype);
}

void CpuBackend::Embedding(const Tensor& table, const Tensor& ids, Tensor* out) {
  RowDims d = CheckEmbedding(table, ids, *out);
  const int32_t* id = ids.data<int32_t>();
  float* o = out->data<float>();
  ParallelFor(d.rows, d.dim, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t src = id[t] * d.dim;
      float* dst = o + t * d.dim;
      switch (table.dtype()) {
        case DType::kF32:
          std::memcpy(dst, table.data<float>() + src, d.dim * sizeof(float));
          break;
        case DType::kBF16:
          cpu::WidenBf16(table.data<uint16_t>() + src, d.dim, dst);
          break;
        case DType::kF16:
          cpu::WidenF16(table.data<uint16_t>() + src, d.dim, dst);
          break;
        case DType::kF64:
        case DType::kI32:
        case DType::kI64:
          BRISK_CHECK(false) << "embedding dtype";
          break;
      }
    }
  });
}

void CpuBackend::MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) {
  MatMulDims d = CheckMatMulShapes(x, w, bias, *y);
  cpu::MatMul({.x = x.data<float>(),
               .w = w.raw(),
               .w_dtype = w.dtype(),
               .bias = bias != nullptr ? bias->data<float>() : nullptr,
               .y = y->data<float>(),
               .m = d.m,
               .n = d.n,
               .k = d.k,
               .activations = prefill_activations_},
              num_threads_, &workspace_);
}

void CpuBackend::RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) {
  RowDims d = CheckRmsNormShapes(x, weight, *out);
  const float* xp = x.data<float>();
  const float* w = weight.data<float>();
  float* o = out->data<float>();
  ParallelFor(d.rows, d.dim, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = xp + r * d.dim;
      ScaleRow(xr, InvRms(SumSquares(xr, d.dim), d.dim, eps), w, d.dim, o + r * d.dim);
    }
  });
}

void CpuBackend::AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight, float eps,
                            Tensor* out) {
  CheckSameShapeF32(*residual, x, *out);
  RowDims d = CheckRmsNormShapes(*residual, weight, *out);
  float* res = residual->data<float>();
  const float* xp = x.data<float>();
  const float* w = weight.data<float>();
  float* o = out->data<float>();
  ParallelFor(d.rows, d.dim, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* rr = res + r * d.dim;
      const float* xr = xp + r * d.dim;
      for (int64_t i = 0; i < d.dim; ++i) rr[i] += xr[i];
      ScaleRow(rr, InvRms(SumSquares(rr, d.dim), d.dim, eps), w, d.dim, o + r * d.dim);
    }
  });
}

void CpuBackend::Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) {
  RopeDims d = CheckRope(*x, positions, cos_sin);
  const int64_t half = d.rotary_dim / 2;
  const int32_t* pos = positions.data<int32_t>();
  float* xp = x->data<float>();
  ParallelFor(d.num_tokens, d.num_heads * d.rotary_dim, num_threads_,
              [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) {
                  const float* cos = cos_sin.data<float>() + pos[t] * d.rotary_dim;
                  const float* sin = cos + half;
                  for (int64_t h = 0; h < d.num_heads; ++h) {
                    RotateHalf(cos, sin, half, xp + (t * d.num_heads + h) * d.head_dim);
                  }
                }
              });
}

void CpuBackend::SiluMul(const Tensor& gate_up, Tensor* out) {
  RowDims d = CheckSiluMulShapes(gate_up, *out);
  const float* gu = gate_up.data<float>();
  float* o = out->data<float>();
  // Split the flat range of out: rows may be few and long (decode) or many and short. A range
  // is walked in row pieces; out element (r, c) reads gate_up[r, c] and gate_up[r, dim + c].
  ParallelFor(d.rows * d.dim, 4, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end;) {
      const int64_t r = i / d.dim;
      const int64_t c = i % d.dim;
      const int64_t n = std::min(end - i, d.dim - c);
      const float* gate = gu + r * 2 * d.dim + c;
      SiluMulRange(gate, gate + d.dim, n, o + i);
      i += n;
    }
  });
}

void CpuBackend::Add(const Tensor& a, const Tensor& b, Tensor* out) {
  RowDims d = CheckSameShapeF32(a, b, *out);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* o = out->data<float>();
  ParallelFor(d.rows * d.dim, 1, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) o[i] = ap[i] + bp[i];
  });
}

void CpuBackend::WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                              Tensor* k_cache, Tensor* v_cache) {
  KvCacheDims c = CheckWriteKvCache(k, v, slot_mapping, *k_cache, *v_cache);
  // Cache rows are ordered (block, offset in block), so slot s is row s of the flattened
  // cache [num_blocks · block_size, num_kv_heads · head_dim].
  const int64_t row_elems = c.num_kv_heads * c.head_dim;
  const int32_t* slots = slot_mapping.data<int32_t>();
  ParallelFor(slot_mapping.dim(0), 2 * row_elems, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      if (slots[t] < 0) continue;  // -1: token not cached (padding)
      const size_t bytes = static_cast<size_t>(row_elems) * sizeof(float);
      std::memcpy(k_cache->data<float>() + slots[t] * row_elems, k.data<float>() + t * row_elems,
                  bytes);
      std::memcpy(v_cache->data<float>() + slots[t] * row_elems, v.data<float>() + t * row_elems,
                  bytes);
    }
  });
}

void CpuBackend::QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                                const Tensor& slot_mapping, const Tensor* q_norm,
                                const Tensor* k_norm, float eps, Tensor* q_out, Tensor* k_cache,
                                Tensor* v_cache) {
  const QkvRopeWriteKvDims d = CheckQkvRopeWriteKv(qkv, positions, cos_sin, slot_mapping, q_norm,
                                                   k_norm, *q_out, *k_cache, *v_cache);
  const int64_t num_kv_heads = d.cache.num_kv_heads;
  const int64_t row_elems = (d.num_heads + 2 * num_kv_heads) * d.head_dim;  // one qkv row
  const int64_t kv_elems = num_kv_heads * d.head_dim;  // one token's k (or v) in the cache
  const int64_t half = d.rotary_dim / 2;
  const float* q_w = q_norm != nullptr ? q_norm->data<float>() : nullptr;
  const float* k_w = k_norm != nullptr ? k_norm->data<float>() : nullptr;
  const int32_t* pos = positions.data<int32_t>();
  const int32_t* slots = slot_mapping.data<int32_t>();
  ParallelFor(d.num_tokens, 2 * row_elems, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float* cos = cos_sin.data<float>() + pos[t] * d.rotary_dim;
      const float* sin = cos + half;
      const float* q = qkv.data<float>() + t * row_elems;  // then k at q + num_heads heads
      float* q_dst = q_out->data<float>() + t * d.num_heads * d.head_dim;
      for (int64_t h = 0; h < d.num_heads; ++h) {
        NormRotateHead(q + h * d.head_dim, q_w, eps, d.head_dim, cos, sin, half,
                       q_dst + h * d.head_dim);
      }
      if (slots[t] < 0) continue;  // -1: token not cached (padding)
      // Slot s is row s of the cache viewed as [num_blocks · block_size, kv_elems].
      const float* k = q + d.num_heads * d.head_dim;
      float* k_dst = k_cache->data<float>() + slots[t] * kv_elems;
      for (int64_t g = 0; g < num_kv_heads; ++g) {
        NormRotateHead(k + g * d.head_dim, k_w, eps, d.head_dim, cos, sin, half,
                       k_dst + g * d.head_dim);
      }
      std::memcpy(v_cache->data<float>() + slots[t] * kv_elems, k + kv_elems,
                  static_cast<size_t>(kv_elems) * sizeof(float));
    }
  });
}

void CpuBackend::PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                const AttentionMetadata& meta, const AttentionParams& params,
                                Tensor* out) {
  AttentionDims d = CheckPagedAttention(q, k_cache, v_cache, meta, params, *out);
  cpu::PagedAttention(q, k_cache, v_cache, meta, params, d, num_threads_, &workspace_, out);
}

void CpuBackend::LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                           Tensor* out) {
  RowDims d = CheckLayerNormShapes(x, weight, bias, *out);
  const float* xp = x.data<float>();
  const float* w = weight.data<float>();
  const float* b = bias.data<float>();
  float* o = out->data<float>();
  ParallelFor(d.rows, 3 * d.dim, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      LayerNormRow(xp + r * d.dim, w, b, eps, d.dim, o + r * d.dim);
    }
  });
}

void CpuBackend::Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) {
  const int64_t n = CheckGeluShapes(x, *out);
  const float* xp = x.data<float>();
  float* o = out->data<float>();
  // erfc and the exponential cost tens of cycles each: count each element as several.
  ParallelFor(n, 8, num_threads_, [&](int64_t begin, int64_t end) {
    if (tanh_approximation) {
      GeluTanhRange(xp + begin, end - begin, o + begin);
    } else {
      GeluErfRange(xp + begin, end - begin, o + begin);
    }
  });
}

void CpuBackend::EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& seq_starts, int max_seq_len, float scale,
                                  Tensor* out) {
  EncoderAttentionDims d = CheckEncoderAttention(q, k, v, seq_starts, max_seq_len, *out);
  cpu::EncoderAttention(q, k, v, seq_starts, max_seq_len, scale, d, num_threads_, &workspace_,
                        out);
}

void CpuBackend::SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) {
  const SampleTokensDims d = CheckSampleTokensShapes(logits, params, *ids);
  for (int64_t r = 0; r < d.rows; ++r) CheckSampleRowParams(SampleParamsRow(params, r));
  // Rows are independent; each one sorts at most its own row, so they parallelize cleanly.
  ParallelFor(d.rows, d.vocab, num_threads_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const std::span<const float> row(logits.data<float>() + r * d.vocab,
                                       static_cast<size_t>(d.vocab));
      ids->data<int32_t>()[r] = SampleTokenRow(row, SampleParamsRow(params, r));
    }
  });
}

std::unique_ptr<Backend> MakeCpuBackend(const CpuBackendOptions& options) {
  auto backend = std::make_unique<CpuBackend>(options);
  const bool bf16 = options.prefill_activations == cpu::ActivationPrecision::kBf16;
  BRISK_LOG(kInfo) << "cpu backend: num_threads=" << backend->num_threads()
#if defined(BRISK_CPU_AVX512)
                   << " simd=avx512"
#else
                   << " simd=portable"
#endif
                   << " prefill_activations=" << (bf16 ? "bf16" : "f32");
  if (bf16 && !cpu::HasBf16Gemm()) {
    BRISK_LOG(kWarning) << "bf16 prefill activations need AVX512_BF16, which this build or CPU "
                           "lacks; prefill computes in f32";
  }
  return backend;
}

}  // namespace brisk::backend
