// Conformance cases for the ops with weights: Embedding and MatMul, over every weight dtype.
// MatMul shapes cover both CPU regimes (m <= 8 and larger), tails of every blocking (k not a
// multiple of 32 or of the k block, n and m not multiples of the tile sizes), a long k, and
// degenerate sizes of 1; decode-sized cases (m <= 8 at model shapes) cover the GPU's GEMV.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

constexpr DType kWeightDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

struct EmbeddingShape {
  int64_t vocab, hidden, num_tokens;
};

struct MatMulShape {
  int64_t m, n, k;
  bool bias;
};

// y[i, j] = Σ_p x[i, p]·w[j, p] (+ bias[j]) with one f32 running sum.
Tensor NaiveMatMul(const Tensor& x, const Tensor& w_f32, const Tensor* bias) {
  const int64_t m = x.dim(0), k = x.dim(1), n = w_f32.dim(0);
  Tensor y = Tensor::Empty(DType::kF32, {m, n});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < k; ++p)
        acc += x.data<float>()[i * k + p] * w_f32.data<float>()[j * k + p];
      if (bias != nullptr) acc += bias->data<float>()[j];
      y.data<float>()[i * n + j] = acc;
    }
  }
  return y;
}

// One MatMul case: y = x · wᵀ (+ bias) with x [m, k] f32, w [n, k] of `dtype`.
OpCase MatMulCase(const MatMulShape& s, DType dtype) {
  const std::string name =
      absl::StrCat("m", s.m, "_n", s.n, "_k", s.k, "_", DTypeTag(dtype), s.bias ? "_bias" : "");
  return OpCase{
      .op = OpId::kMatMul,
      .weight_dtype = dtype,
      .name = name,
      .checks = {Check::kReduction},
      .make_inputs =
          [=] {
            std::mt19937 rng = RngFor(name);
            std::vector<Tensor> in = {RandomF32({s.m, s.k}, -1.0f, 1.0f, &rng),
                                      RandomWeight(dtype, {s.n, s.k}, &rng)};
            if (s.bias) in.push_back(RandomF32({s.n}, -1.0f, 1.0f, &rng));
            return in;
          },
      .run =
          [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
            Tensor y = io.to_device(Poisoned({s.m, s.n}));
            Tensor bias = s.bias ? io.to_device(in[2]) : Tensor();
            b.MatMul(io.to_device(in[0]), io.to_device(in[1]), s.bias ? &bias : nullptr, &y);
            return std::vector<Tensor>{io.to_host(y)};
          },
      .naive_f32 =
          [=](const std::vector<Tensor>& in) {
            return std::vector<Tensor>{
                NaiveMatMul(in[0], WeightToF32(in[1]), s.bias ? &in[2] : nullptr)};
          },
  };
}

}  // namespace

std::vector<OpCase> EmbeddingCases() {
  const EmbeddingShape shapes[] = {
      {1, 1, 1}, {7, 5, 3}, {50, 13, 127}, {1000, 2048, 9}, {300, 33, 257}, {64, 17, 128},
  };
  std::vector<OpCase> cases;
  for (DType dtype : kWeightDTypes) {
    for (const EmbeddingShape& s : shapes) {
      const std::string name =
          absl::StrCat("v", s.vocab, "_h", s.hidden, "_t", s.num_tokens, "_", DTypeTag(dtype));
      cases.push_back(OpCase{
          .op = OpId::kEmbedding,
          .weight_dtype = dtype,
          .name = name,
          .checks = {Check::kExact},
          .make_inputs =
              [=] {
                std::mt19937 rng = RngFor(name);
                std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(s.vocab - 1));
                std::vector<int32_t> ids(s.num_tokens);
                for (int32_t& v : ids) v = id(rng);
                ids.back() = static_cast<int32_t>(s.vocab - 1);  // the last row is reachable
                return std::vector<Tensor>{RandomWeight(dtype, {s.vocab, s.hidden}, &rng),
                                           I32({s.num_tokens}, ids)};
              },
          .run =
              [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
                Tensor out = io.to_device(Poisoned({s.num_tokens, s.hidden}));
                b.Embedding(io.to_device(in[0]), io.to_device(in[1]), &out);
                return std::vector<Tensor>{io.to_host(out)};
              },
          .naive_f32 = nullptr,
      });
    }
  }
  return cases;
}

std::vector<OpCase> MatMulCases() {
  const MatMulShape shapes[] = {
      {1, 1, 1, false},       {1, 5, 7, true},       {1, 13, 127, false},  {1, 33, 300, true},
      {2, 17, 64, false},     {3, 7, 5, true},       {5, 31, 129, false},  {7, 16, 32, true},
      {8, 40, 257, false},    {9, 13, 127, true},    {13, 97, 300, false}, {16, 64, 64, true},
      {17, 100, 513, false},  {31, 25, 40, true},    {33, 7, 257, false},  {127, 129, 130, true},
      {128, 128, 128, false}, {257, 101, 260, true}, {1, 96, 4100, false}, {40, 200, 600, true},
  };
  std::vector<OpCase> cases;
  for (DType dtype : kWeightDTypes) {
    for (const MatMulShape& s : shapes) cases.push_back(MatMulCase(s, dtype));
  }
  // Decode-sized products (m <= 8) with half-precision weights, the regime of the GPU's GEMV:
  // a tiny shape, Llama-3.2-1B's square and K/V-sized (n much smaller than the GPU's
  // parallelism: split k) and MLP-sized (several row blocks per GPU block, with split k at
  // m = 8) projections, k a multiple of 8 but not of 256 (a short last k range), and an odd k
  // (the scalar kernel). Shapes run m of {1, 2, 3, 5, 8} (8 needs more than one k range in
  // shared memory), alternating dtype and bias so that each shape sees both of each; the
  // largest take fewer m to keep the naive CPU checks of Debug builds within seconds.
  struct GemvShape {
    int64_t n, k;
    std::vector<int64_t> ms;
  };
  const GemvShape gemv_shapes[] = {
      {13, 24, {1, 2, 3, 5, 8}},    {2048, 2048, {1, 2, 3, 5, 8}}, {512, 2048, {1, 2, 3, 5, 8}},
      {8192, 2048, {1, 8}},         {1024, 4104, {1, 2, 5, 8}},    {1000, 4099, {1, 2, 5}},
  };
  int index = 0;
  for (const GemvShape& g : gemv_shapes) {
    for (int64_t m : g.ms) {
      const DType dtype = index % 2 == 0 ? DType::kBF16 : DType::kF16;
      const bool bias = (index / 2) % 2 == 0;
      cases.push_back(MatMulCase({m, g.n, g.k, bias}, dtype));
      ++index;
    }
  }
  return cases;
}

}  // namespace brisk::conformance
