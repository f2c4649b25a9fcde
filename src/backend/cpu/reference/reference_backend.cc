// Naive kernels of the reference backend. Every loop follows the op's definition in
// backend/backend.h literally; reductions run in double.
#include "backend/cpu/reference/reference_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/reference/op_checks.h"
#include "backend/cpu/reference/sample_tokens.h"

namespace brisk::backend {
namespace {

// Element `index` (flat) of a float weight tensor, widened to f32 exactly.
float WeightAt(const Tensor& w, int64_t index) {
  switch (w.dtype()) {
    case DType::kF32:
      return w.data<float>()[index];
    case DType::kBF16:
      return tensor::BF16ToF32(w.data<uint16_t>()[index]);
    case DType::kF16:
      return tensor::F16ToF32(w.data<uint16_t>()[index]);
    case DType::kF64:
    case DType::kI32:
    case DType::kI64:
      break;
  }
  BRISK_CHECK(false) << "not a float weight: " << tensor::DTypeName(w.dtype());
  return 0.0f;
}

// out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) * weight, in double. out may alias x.
// x, out: [rows, dim]; weight: [dim]
void RmsNormRows(const float* x, const float* weight, float eps, int64_t rows, int64_t dim,
                 float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double sum_squares = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(xr[i]) * xr[i];
    double inv_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps);
    float* outr = out + r * dim;
    for (int64_t i = 0; i < dim; ++i) {
      outr[i] = static_cast<float>(static_cast<double>(xr[i]) * inv_rms * weight[i]);
    }
  }
}

}  // namespace

bool ReferenceBackend::Supports(OpId op, DType weight_dtype) const {
  return SupportsFloatWeightOps(op, weight_dtype);
}

void ReferenceBackend::Embedding(const Tensor& table, const Tensor& ids, Tensor* out) {
  RowDims d = CheckEmbedding(table, ids, *out);
  const int32_t* id = ids.data<int32_t>();
  float* o = out->data<float>();
  for (int64_t t = 0; t < d.rows; ++t) {
    for (int64_t i = 0; i < d.dim; ++i) o[t * d.dim + i] = WeightAt(table, id[t] * d.dim + i);
  }
}

void ReferenceBackend::MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) {
  MatMulDims d = CheckMatMulShapes(x, w, bias, *y);
  const float* xp = x.data<float>();
  float* yp = y->data<float>();
  for (int64_t i = 0; i < d.m; ++i) {
    for (int64_t j = 0; j < d.n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < d.k; ++p) {
        acc += static_cast<double>(xp[i * d.k + p]) * WeightAt(w, j * d.k + p);
      }
      if (bias != nullptr) acc += bias->data<float>()[j];
      yp[i * d.n + j] = static_cast<float>(acc);
    }
  }
}

void ReferenceBackend::RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) {
  RowDims d = CheckRmsNormShapes(x, weight, *out);
  RmsNormRows(x.data<float>(), weight.data<float>(), eps, d.rows, d.dim, out->data<float>());
}

void ReferenceBackend::AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight,
                                  float eps, Tensor* out) {
  CheckSameShapeF32(*residual, x, *out);
  RowDims d = CheckRmsNormShapes(*residual, weight, *out);
  float* res = residual->data<float>();
  const float* xp = x.data<float>();
  for (int64_t i = 0; i < d.rows * d.dim; ++i) res[i] = res[i] + xp[i];
  RmsNormRows(res, weight.data<float>(), eps, d.rows, d.dim, out->data<float>());
}

void ReferenceBackend::Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) {
  RopeDims d = CheckRope(*x, positions, cos_sin);
  const int64_t half = d.rotary_dim / 2;
  const int32_t* pos = positions.data<int32_t>();
  for (int64_t t = 0; t < d.num_tokens; ++t) {
    const float* cs = cos_sin.data<float>() + pos[t] * d.rotary_dim;
    for (int64_t h = 0; h < d.num_heads; ++h) {
      float* head = x->data<float>() + (t * d.num_heads + h) * d.head_dim;
      for (int64_t i = 0; i < half; ++i) {
        double a = head[i];
        double b = head[i + half];
        double c = cs[i];
        double s = cs[half + i];
        head[i] = static_cast<float>(a * c - b * s);
        head[i + half] = static_cast<float>(b * c + a * s);
      }
    }
  }
}

void ReferenceBackend::SiluMul(const Tensor& gate_up, Tensor* out) {
  RowDims d = CheckSiluMulShapes(gate_up, *out);
  for (int64_t r = 0; r < d.rows; ++r) {
    const float* gate = gate_up.data<float>() + r * 2 * d.dim;  // gate_up[r, :dim]
    const float* up = gate + d.dim;                             // gate_up[r, dim:]
    float* o = out->data<float>() + r * d.dim;
    for (int64_t i = 0; i < d.dim; ++i) {
      double g = gate[i];
      o[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
    }
  }
}

void ReferenceBackend::Add(const Tensor& a, const Tensor& b, Tensor* out) {
  CheckSameShapeF32(a, b, *out);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* o = out->data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) o[i] = ap[i] + bp[i];
}

void ReferenceBackend::WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                                    Tensor* k_cache, Tensor* v_cache) {
  KvCacheDims c = CheckWriteKvCache(k, v, slot_mapping, *k_cache, *v_cache);
  const int64_t token_elems = c.num_kv_heads * c.head_dim;
  const int32_t* slots = slot_mapping.data<int32_t>();
  for (int64_t t = 0; t < slot_mapping.dim(0); ++t) {
    if (slots[t] == -1) continue;
    // A slot is block * block_size + offset, and cache rows are laid out in exactly that
    // order, so the slot is also the token's row index in the flattened cache.
    const int64_t block = slots[t] / c.block_size;
    const int64_t offset = slots[t] % c.block_size;
    const int64_t row = block * c.block_size + offset;
    for (int64_t i = 0; i < token_elems; ++i) {
      k_cache->data<float>()[row * token_elems + i] = k.data<float>()[t * token_elems + i];
      v_cache->data<float>()[row * token_elems + i] = v.data<float>()[t * token_elems + i];
    }
  }
}

void ReferenceBackend::PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                      const AttentionMetadata& meta, const AttentionParams& params,
                                      Tensor* out) {
  AttentionDims d = CheckPagedAttention(q, k_cache, v_cache, meta, params, *out);
  const int64_t num_kv_heads = d.cache.num_kv_heads;
  const int64_t group = d.num_heads / num_kv_heads;  // query heads per kv head
  const int32_t* starts = meta.query_start_loc.data<int32_t>();
  const int32_t* lens = meta.context_lens.data<int32_t>();
  const int32_t* tables = meta.block_tables.data<int32_t>();

  // Cache element (token t of sequence s, kv head g, feature i).
  auto cache_at = [&](const Tensor& cache, int64_t s, int64_t t, int64_t g, int64_t i) {
    int64_t block = tables[s * d.max_blocks_per_seq + t / d.cache.block_size];
    int64_t slot = t % d.cache.block_size;
    return static_cast<double>(
        cache.data<float>()[((block * d.cache.block_size + slot) * num_kv_heads + g) * d.head_dim +
                            i]);
  };

  std::vector<double> weights;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t num_queries = starts[s + 1] - starts[s];
    for (int64_t j = 0; j < num_queries; ++j) {
      const int64_t row = starts[s] + j;
      const int64_t pos = lens[s] - num_queries + j;
      const int64_t first =
          params.sliding_window > 0 ? std::max<int64_t>(0, pos - params.sliding_window + 1) : 0;
      for (int64_t h = 0; h < d.num_heads; ++h) {
        const int64_t g = h / group;
        const float* qh = q.data<float>() + (row * d.num_heads + h) * d.head_dim;
        // Softmax over the visible keys [first, pos], shifted by the maximum for range.
        weights.assign(pos - first + 1, 0.0);
        double max_score = -INFINITY;
        for (int64_t t = first; t <= pos; ++t) {
          double dot = 0.0;
          for (int64_t i = 0; i < d.head_dim; ++i) dot += qh[i] * cache_at(k_cache, s, t, g, i);
          weights[t - first] = dot * params.scale;
          max_score = std::max(max_score, weights[t - first]);
        }
        double sum = 0.0;
        for (double& w : weights) {
          w = std::exp(w - max_score);
          sum += w;
        }
        float* oh = out->data<float>() + (row * d.num_heads + h) * d.head_dim;
        for (int64_t i = 0; i < d.head_dim; ++i) {
          double acc = 0.0;
          for (int64_t t = first; t <= pos; ++t)
            acc += weights[t - first] * cache_at(v_cache, s, t, g, i);
          oh[i] = static_cast<float>(acc / sum);
        }
      }
    }
  }
}

void ReferenceBackend::LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 float eps, Tensor* out) {
  RowDims d = CheckLayerNormShapes(x, weight, bias, *out);
  const float* w = weight.data<float>();
  const float* b = bias.data<float>();
  for (int64_t r = 0; r < d.rows; ++r) {
    const float* xr = x.data<float>() + r * d.dim;
    double sum = 0.0;
    for (int64_t i = 0; i < d.dim; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(d.dim);
    double sum_squares = 0.0;
    for (int64_t i = 0; i < d.dim; ++i) sum_squares += (xr[i] - mean) * (xr[i] - mean);
    const double inv_std = 1.0 / std::sqrt(sum_squares / static_cast<double>(d.dim) + eps);
    float* outr = out->data<float>() + r * d.dim;  // may alias xr: element i is read first
    for (int64_t i = 0; i < d.dim; ++i) {
      outr[i] = static_cast<float>((xr[i] - mean) * inv_std * w[i] + b[i]);
    }
  }
}

void ReferenceBackend::Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) {
  const int64_t n = CheckGeluShapes(x, *out);
  const float* xp = x.data<float>();
  float* o = out->data<float>();
  const double sqrt_2_over_pi = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; ++i) {
    const double xi = xp[i];
    const double gate = tanh_approximation
                            ? 1.0 + std::tanh(sqrt_2_over_pi * (xi + 0.044715 * xi * xi * xi))
                            : 1.0 + std::erf(xi / std::sqrt(2.0));
    o[i] = static_cast<float>(0.5 * xi * gate);
  }
}

void ReferenceBackend::EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const Tensor& seq_starts, int max_seq_len, float scale,
                                        Tensor* out) {
  EncoderAttentionDims d = CheckEncoderAttention(q, k, v, seq_starts, max_seq_len, *out);
  const int64_t group = d.num_heads / d.num_kv_heads;  // query heads per kv head
  const int32_t* starts = seq_starts.data<int32_t>();
  // Row t, kv head g of k or v: [num_tokens, num_kv_heads, head_dim].
  auto kv_row = [&](const Tensor& t, int64_t row, int64_t g) {
    return t.data<float>() + (row * d.num_kv_heads + g) * d.head_dim;
  };
  std::vector<double> weights;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t first = starts[s];
    const int64_t end = starts[s + 1];
    for (int64_t row = first; row < end; ++row) {
      for (int64_t h = 0; h < d.num_heads; ++h) {
        const int64_t g = h / group;
        const float* qh = q.data<float>() + (row * d.num_heads + h) * d.head_dim;
        // Softmax over every key of the sequence, shifted by the maximum for range.
        weights.assign(end - first, 0.0);
        double max_score = -INFINITY;
        for (int64_t t = first; t < end; ++t) {
          double dot = 0.0;
          for (int64_t i = 0; i < d.head_dim; ++i) dot += qh[i] * double{kv_row(k, t, g)[i]};
          weights[t - first] = dot * scale;
          max_score = std::max(max_score, weights[t - first]);
        }
        double sum = 0.0;
        for (double& w : weights) {
          w = std::exp(w - max_score);
          sum += w;
        }
        float* oh = out->data<float>() + (row * d.num_heads + h) * d.head_dim;
        for (int64_t i = 0; i < d.head_dim; ++i) {
          double acc = 0.0;
          for (int64_t t = first; t < end; ++t) acc += weights[t - first] * kv_row(v, t, g)[i];
          oh[i] = static_cast<float>(acc / sum);
        }
      }
    }
  }
}

void ReferenceBackend::SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) {
  ReferenceSampleTokens(logits, params, ids);
}

std::unique_ptr<Backend> MakeReferenceBackend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace brisk::backend
