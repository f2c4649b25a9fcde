// The case-generator registry and the helpers that case generators share.
#include "tests/conformance/op_cases.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace brisk::conformance {

DeviceIo HostIo() {
  return DeviceIo{.to_device = [](const Tensor& t) { return Clone(t); },
                  .to_host = [](const Tensor& t) { return t; }};
}

const std::vector<CaseGenerator>& CaseGenerators() {
  static const auto* generators = new std::vector<CaseGenerator>{
      {OpId::kEmbedding, EmbeddingCases},
      {OpId::kMatMul, MatMulCases},
      {OpId::kRmsNorm, RmsNormCases},
      {OpId::kAddRmsNorm, AddRmsNormCases},
      {OpId::kRope, RopeCases},
      {OpId::kSiluMul, SiluMulCases},
      {OpId::kAdd, AddCases},
      {OpId::kWriteKvCache, WriteKvCacheCases},
      {OpId::kPagedAttention, PagedAttentionCases},
      {OpId::kLayerNorm, LayerNormCases},
      {OpId::kGelu, GeluCases},
      {OpId::kEncoderAttention, EncoderAttentionCases},
      {OpId::kQkvRopeWriteKv, QkvRopeWriteKvCases},
      {OpId::kSampleTokens, SampleTokensCases},
      {OpId::kFusedMatMul, FusedMatMulCases},
      {OpId::kSwiGluMlp, SwiGluMlpCases},
      {OpId::kQkvRopeAttention, QkvRopeAttentionCases},
  };
  return *generators;
}

const std::vector<OpCase>& AllCases() {
  static const auto* cases = [] {
    auto* all = new std::vector<OpCase>;
    for (const CaseGenerator& g : CaseGenerators()) {
      for (OpCase& c : g.make_cases()) all->push_back(std::move(c));
    }
    return all;
  }();
  return *cases;
}

Tensor NaiveRmsNorm(const Tensor& x, const Tensor& weight, float eps) {
  const int64_t rows = x.dim(0), dim = x.dim(1);
  Tensor out = Tensor::Empty(DType::kF32, {rows, dim});
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data<float>() + r * dim;
    float sum_squares = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum_squares += xr[i] * xr[i];
    const float inv_rms = 1.0f / std::sqrt(sum_squares / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      out.data<float>()[r * dim + i] = xr[i] * inv_rms * weight.data<float>()[i];
    }
  }
  return out;
}

void NaiveHead(const float* src, const float* weight, float eps, int64_t head_dim,
               const float* cos_sin_row, int64_t rotary_dim, float* dst) {
  std::vector<float> x(src, src + head_dim);
  if (weight != nullptr) {
    float sum_squares = 0.0f;
    for (float v : x) sum_squares += v * v;
    const float inv_rms = 1.0f / std::sqrt(sum_squares / static_cast<float>(head_dim) + eps);
    for (int64_t i = 0; i < head_dim; ++i) x[i] = x[i] * inv_rms * weight[i];
  }
  const int64_t half = rotary_dim / 2;
  for (int64_t i = 0; i < head_dim; ++i) dst[i] = x[i];
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin_row[i];
    const float s = cos_sin_row[half + i];
    dst[i] = x[i] * c - x[i + half] * s;
    dst[i + half] = x[i + half] * c + x[i] * s;
  }
}

Tensor RopeTable(int64_t max_positions, int64_t rotary_dim) {
  Tensor cos_sin = Tensor::Empty(DType::kF32, {max_positions, rotary_dim});
  const int64_t half = rotary_dim / 2;
  for (int64_t p = 0; p < max_positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = p * std::pow(10000.0, -2.0 * i / rotary_dim);
      cos_sin.data<float>()[p * rotary_dim + i] = static_cast<float>(std::cos(angle));
      cos_sin.data<float>()[p * rotary_dim + half + i] = static_cast<float>(std::sin(angle));
    }
  }
  return cos_sin;
}

std::mt19937 RngFor(const std::string& case_name) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (char c : case_name) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return std::mt19937(hash);
}

Tensor RandomF32(const tensor::Shape& shape, float lo, float hi, std::mt19937* rng) {
  Tensor t = Tensor::Empty(DType::kF32, shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(*rng);
  return t;
}

Tensor RandomWeight(DType dtype, const tensor::Shape& shape, std::mt19937* rng) {
  Tensor values = RandomF32(shape, -1.0f, 1.0f, rng);
  if (dtype == DType::kF32) return values;
  Tensor t = Tensor::Empty(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = values.data<float>()[i];
    t.data<uint16_t>()[i] = dtype == DType::kBF16 ? tensor::F32ToBF16(v) : tensor::F32ToF16(v);
  }
  return t;
}

Tensor I32(const tensor::Shape& shape, const std::vector<int32_t>& values) {
  Tensor t = Tensor::Empty(DType::kI32, shape);
  BRISK_CHECK_EQ(static_cast<size_t>(t.numel()), values.size());
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

Tensor Clone(const Tensor& t) {
  Tensor copy = Tensor::Empty(t.dtype(), t.shape());
  if (t.size_bytes() > 0) std::memcpy(copy.raw(), t.raw(), static_cast<size_t>(t.size_bytes()));
  return copy;
}

Tensor Poisoned(const tensor::Shape& shape) {
  Tensor t = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = std::numeric_limits<float>::quiet_NaN();
  return t;
}

std::vector<int32_t> ScatteredSlots(int64_t num_slots, int64_t num_tokens, int64_t num_skipped,
                                    int64_t skip_stride, std::mt19937* rng) {
  std::vector<int32_t> slots(static_cast<size_t>(num_slots));
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), *rng);
  slots.resize(static_cast<size_t>(num_tokens));
  for (int64_t t = 0; t < num_skipped; ++t) slots[(t * skip_stride) % num_tokens] = -1;
  return slots;
}

void PoisonSlots(const std::vector<int32_t>& slots, int64_t row_elems, Tensor* cache) {
  for (int32_t slot : slots) {
    if (slot < 0) continue;
    std::fill_n(cache->data<float>() + slot * row_elems, row_elems,
                std::numeric_limits<float>::quiet_NaN());
  }
}

Tensor WeightToF32(const Tensor& w) {
  if (w.dtype() == DType::kF32) return Clone(w);
  Tensor t = Tensor::Empty(DType::kF32, w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) {
    uint16_t bits = w.data<uint16_t>()[i];
    t.data<float>()[i] =
        w.dtype() == DType::kBF16 ? tensor::BF16ToF32(bits) : tensor::F16ToF32(bits);
  }
  return t;
}

std::string DTypeTag(DType dtype) { return std::string(tensor::DTypeName(dtype)); }

}  // namespace brisk::conformance
