// Conformance cases for the encoder (BERT family) ops: LayerNorm, Gelu and EncoderAttention.
// Norm rows have awkward widths and inputs offset from zero (so a one-pass variance would lose
// digits); GELU covers both forms over [-6, 6] and the saturated tails; attention batches mix
// sequences of very different lengths (1 to 512, including an empty one and an empty batch),
// MHA, GQA and MQA, and head_dim from 8 to 128.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

struct LayerNormShape {
  int64_t rows, dim;
  float offset;  // added to every input: the row mean sits near it
  bool in_place;
};

// out[r, :] = (x − mean) / sqrt(var + eps) · weight + bias with one f32 running sum for the
// mean and one for the variance.
Tensor NaiveLayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const int64_t rows = x.dim(0), dim = x.dim(1);
  Tensor out = Tensor::Empty(DType::kF32, {rows, dim});
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data<float>() + r * dim;
    float sum = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(dim);
    float sum_squares = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum_squares += (xr[i] - mean) * (xr[i] - mean);
    const float inv_std = 1.0f / std::sqrt(sum_squares / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      out.data<float>()[r * dim + i] =
          (xr[i] - mean) * inv_std * weight.data<float>()[i] + bias.data<float>()[i];
    }
  }
  return out;
}

struct EncoderConfig {
  std::string label;
  int64_t num_heads, num_kv_heads, head_dim;
  std::vector<int> seq_lens;
  int max_len_slack = 0;  // max_seq_len passed = longest + slack (a generous host bound)
};

// Naive f32 attention within each sequence: scores with one running sum, softmax shifted by
// the max, weighted sum of values with one running sum per feature.
// in: q [num_tokens, num_heads, head_dim], k, v [num_tokens, num_kv_heads, head_dim], seq_starts
Tensor NaiveEncoderAttention(const std::vector<Tensor>& in, const EncoderConfig& c, float scale) {
  const Tensor& q = in[0];
  const int32_t* starts = in[3].data<int32_t>();
  const int64_t d = c.head_dim;
  const int64_t group = c.num_heads / c.num_kv_heads;
  Tensor out = Tensor::Empty(DType::kF32, q.shape());
  auto kv_row = [&](const Tensor& t, int64_t row, int64_t g) {
    return t.data<float>() + (row * c.num_kv_heads + g) * d;
  };
  for (size_t s = 0; s < c.seq_lens.size(); ++s) {
    const int64_t first = starts[s], end = starts[s + 1];
    for (int64_t row = first; row < end; ++row) {
      for (int64_t h = 0; h < c.num_heads; ++h) {
        const float* qh = q.data<float>() + (row * c.num_heads + h) * d;
        std::vector<float> p(end - first);
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t t = first; t < end; ++t) {
          const float* k = kv_row(in[1], t, h / group);
          float dot = 0.0f;
          for (int64_t i = 0; i < d; ++i) dot += qh[i] * k[i];
          p[t - first] = dot * scale;
          max_score = std::max(max_score, p[t - first]);
        }
        float sum = 0.0f;
        for (float& w : p) {
          w = std::exp(w - max_score);
          sum += w;
        }
        float* oh = out.data<float>() + (row * c.num_heads + h) * d;
        for (int64_t i = 0; i < d; ++i) {
          float acc = 0.0f;
          for (int64_t t = first; t < end; ++t) {
            acc += p[t - first] * kv_row(in[2], t, h / group)[i];
          }
          oh[i] = acc / sum;
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<OpCase> LayerNormCases() {
  const LayerNormShape shapes[] = {
      {4, 1, 0.0f, false},   {1, 5, 0.0f, false},    {3, 7, 3.0f, false},
      {5, 13, -2.0f, true},  {17, 127, 0.0f, false}, {9, 384, 4.0f, false},
      {33, 768, 0.5f, true}, {257, 5, 0.0f, false},  {2, 4099, -8.0f, false},
  };
  std::vector<OpCase> cases;
  for (const LayerNormShape& s : shapes) {
    // BERT checkpoints use eps 1e-12, most others 1e-5.
    const float eps = s.dim % 2 == 0 ? 1e-12f : 1e-5f;
    const std::string name =
        absl::StrCat("r", s.rows, "_d", s.dim, "_off", static_cast<int>(s.offset * 10),
                     s.in_place ? "_inplace" : "");
    cases.push_back(OpCase{
        .op = OpId::kLayerNorm,
        .name = name,
        .checks = {Check::kReduction},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              Tensor x = RandomF32({s.rows, s.dim}, -2.0f, 2.0f, &rng);
              for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += s.offset;
              return std::vector<Tensor>{x, RandomF32({s.dim}, -1.5f, 1.5f, &rng),
                                         RandomF32({s.dim}, -1.0f, 1.0f, &rng)};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor x = io.to_device(in[0]);
              Tensor out = s.in_place ? x : io.to_device(Poisoned({s.rows, s.dim}));
              b.LayerNorm(x, io.to_device(in[1]), io.to_device(in[2]), eps, &out);
              return std::vector<Tensor>{io.to_host(out)};
            },
        .naive_f32 =
            [=](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{NaiveLayerNorm(in[0], in[1], in[2], eps)};
            },
    });
  }
  return cases;
}

std::vector<OpCase> GeluCases() {
  struct GeluShape {
    tensor::Shape shape;
    float range;  // x uniform in [-range, range)
    bool in_place;
  };
  const GeluShape shapes[] = {
      {{1}, 6.0f, false},       {{5, 7}, 6.0f, false},        {{13, 127}, 6.0f, true},
      {{2, 3, 5}, 6.0f, false}, {{64, 3072}, 6.0f, false},    {{7, 13}, 40.0f, false},
      {{257, 17}, 1.0f, true},
  };
  std::vector<OpCase> cases;
  for (bool tanh_form : {false, true}) {
    for (const GeluShape& s : shapes) {
      std::string name = tanh_form ? "tanh_s" : "erf_s";
      for (int64_t d : s.shape) absl::StrAppend(&name, "_", d);
      absl::StrAppend(&name, "_x", static_cast<int>(s.range), s.in_place ? "_inplace" : "");
      cases.push_back(OpCase{
          .op = OpId::kGelu,
          .name = name,
          .checks = {Check::kElementwise},
          .make_inputs =
              [=] {
                std::mt19937 rng = RngFor(name);
                return std::vector<Tensor>{RandomF32(s.shape, -s.range, s.range, &rng)};
              },
          .run =
              [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
                Tensor x = io.to_device(in[0]);
                Tensor out = s.in_place ? x : io.to_device(Poisoned(s.shape));
                b.Gelu(x, tanh_form, &out);
                return std::vector<Tensor>{io.to_host(out)};
              },
          .naive_f32 = nullptr,
      });
    }
  }
  return cases;
}

std::vector<OpCase> EncoderAttentionCases() {
  const EncoderConfig configs[] = {
      {"one_token", 4, 4, 32, {1}},
      {"mixed_mha", 4, 4, 64, {1, 5, 17, 130}},
      {"mixed_gqa", 8, 2, 32, {17, 1, 5, 130}, 3},
      {"mqa_d8", 6, 1, 8, {5, 33, 2}},
      {"empty_seq", 3, 3, 13, {4, 0, 7}},
      {"bert_base", 12, 12, 64, {128, 9}},
      {"long512", 2, 1, 64, {512}},
      {"d128", 2, 2, 128, {3, 40, 1}},
      {"singles", 2, 1, 16, {1, 1, 1, 1, 1}},
      {"empty_batch", 4, 2, 16, {}},
  };
  std::vector<OpCase> cases;
  for (const EncoderConfig& c : configs) {
    const std::string name = absl::StrCat(c.label, "_h", c.num_heads, "_kv", c.num_kv_heads, "_d",
                                          c.head_dim);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    std::vector<int32_t> starts = {0};
    int longest = 0;
    for (int len : c.seq_lens) {
      starts.push_back(starts.back() + len);
      longest = std::max(longest, len);
    }
    const int64_t num_tokens = starts.back();
    const int max_seq_len = longest + c.max_len_slack;
    cases.push_back(OpCase{
        .op = OpId::kEncoderAttention,
        .name = name,
        .checks = {Check::kReduction},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              const tensor::Shape kv_shape = {num_tokens, c.num_kv_heads, c.head_dim};
              // q spans [-3, 3) so that scores spread over a few units and softmax is far
              // from uniform.
              Tensor q = RandomF32({num_tokens, c.num_heads, c.head_dim}, -3.0f, 3.0f, &rng);
              Tensor k = RandomF32(kv_shape, -1.0f, 1.0f, &rng);
              Tensor v = RandomF32(kv_shape, -1.0f, 1.0f, &rng);
              return std::vector<Tensor>{q, k, v,
                                         I32({static_cast<int64_t>(starts.size())}, starts)};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor out = io.to_device(Poisoned(in[0].shape()));
              b.EncoderAttention(io.to_device(in[0]), io.to_device(in[1]), io.to_device(in[2]),
                                 io.to_device(in[3]), max_seq_len, scale, &out);
              return std::vector<Tensor>{io.to_host(out)};
            },
        .naive_f32 =
            [=](const std::vector<Tensor>& in) {
              return std::vector<Tensor>{NaiveEncoderAttention(in, c, scale)};
            },
    });
  }
  return cases;
}

}  // namespace brisk::conformance
