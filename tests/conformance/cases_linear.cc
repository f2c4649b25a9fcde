// Conformance cases for the ops with weights: Embedding, MatMul and FusedMatMul, over every
// weight dtype. MatMul shapes cover both CPU regimes (m <= 8 and larger), tails of every
// blocking (k not a multiple of 32 or of the k block, n and m not multiples of the tile sizes),
// a long k, and degenerate sizes of 1; decode-sized cases (m <= 8 at model shapes) cover the
// GPU's GEMV. FusedMatMul runs each prologue with and without accumulation on the GEMV's shapes
// and on GEMM-sized m; SwiGluMlp runs the whole MLP block on both regimes.
#include <cmath>
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

// The FusedMatMul prologue of x, naively in f32: RmsNorm with one running sum of squares, or
// silu(gate) · up.
Tensor NaivePrologue(const Tensor& x, backend::MatMulPrologue prologue, const Tensor& norm,
                     float eps) {
  switch (prologue) {
    case backend::MatMulPrologue::kNone:
      return x;
    case backend::MatMulPrologue::kRmsNorm:
      return NaiveRmsNorm(x, norm, eps);
    case backend::MatMulPrologue::kSiluMul: {
      const int64_t m = x.dim(0), k = x.dim(1) / 2;
      Tensor out = Tensor::Empty(DType::kF32, {m, k});
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t i = 0; i < k; ++i) {
          const float g = x.data<float>()[r * 2 * k + i];
          const float u = x.data<float>()[r * 2 * k + k + i];
          out.data<float>()[r * k + i] = g / (1.0f + std::exp(-g)) * u;
        }
      }
      return out;
    }
  }
  return x;
}

struct FusedShape {
  int64_t m, n, k;
  backend::MatMulPrologue prologue;
  bool accumulate, bias;
};

std::string PrologueTag(backend::MatMulPrologue prologue) {
  switch (prologue) {
    case backend::MatMulPrologue::kNone: return "plain";
    case backend::MatMulPrologue::kRmsNorm: return "norm";
    case backend::MatMulPrologue::kSiluMul: return "silu";
  }
  return "?";
}

// One FusedMatMul case. Inputs: x ([m, k], or [m, 2k] for SiluMul), w [n, k] of `dtype`, bias
// [n], the norm weight [k] and y's old value [m, n] (each used only when the case needs it).
OpCase FusedMatMulCase(const FusedShape& s, DType dtype) {
  const std::string name =
      absl::StrCat("m", s.m, "_n", s.n, "_k", s.k, "_", DTypeTag(dtype), "_",
                   PrologueTag(s.prologue), s.accumulate ? "_acc" : "", s.bias ? "_bias" : "");
  const float eps = 1e-5f;
  const int64_t x_cols = s.prologue == backend::MatMulPrologue::kSiluMul ? 2 * s.k : s.k;
  return OpCase{
      .op = OpId::kFusedMatMul,
      .weight_dtype = dtype,
      .name = name,
      .checks = {Check::kReduction},
      .make_inputs =
          [=] {
            std::mt19937 rng = RngFor(name);
            return std::vector<Tensor>{RandomF32({s.m, x_cols}, -2.0f, 2.0f, &rng),
                                       RandomWeight(dtype, {s.n, s.k}, &rng),
                                       RandomF32({s.n}, -1.0f, 1.0f, &rng),
                                       RandomF32({s.k}, -1.5f, 1.5f, &rng),
                                       RandomF32({s.m, s.n}, -4.0f, 4.0f, &rng)};
          },
      .run =
          [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
            Tensor y = io.to_device(s.accumulate ? in[4] : Poisoned({s.m, s.n}));
            Tensor bias = io.to_device(in[2]);
            Tensor norm = io.to_device(in[3]);
            b.FusedMatMul(io.to_device(in[0]), io.to_device(in[1]), s.bias ? &bias : nullptr,
                          {.prologue = s.prologue,
                           .norm_weight = &norm,
                           .eps = eps,
                           .accumulate = s.accumulate},
                          &y);
            return std::vector<Tensor>{io.to_host(y)};
          },
      .naive_f32 =
          [=](const std::vector<Tensor>& in) {
            Tensor y = NaiveMatMul(NaivePrologue(in[0], s.prologue, in[3], eps),
                                   WeightToF32(in[1]), s.bias ? &in[2] : nullptr);
            if (s.accumulate) {
              for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] += in[4].data<float>()[i];
            }
            return std::vector<Tensor>{y};
          },
  };
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

std::vector<OpCase> SwiGluMlpCases() {
  struct MlpShape {
    int64_t rows, hidden, inter;
    bool bias;
  };
  const MlpShape shapes[] = {{1, 8, 12, false},    {1, 64, 96, true},    {3, 64, 96, false},
                             {1, 2048, 512, false}, {9, 128, 256, true},  {33, 64, 200, false},
                             {2, 256, 1024, false}};
  std::vector<OpCase> cases;
  for (const MlpShape& s : shapes) {
    for (DType dtype : kWeightDTypes) {
      if (dtype == DType::kF32 && s.rows * s.hidden * s.inter > 200000) continue;
      const std::string name = absl::StrCat("r", s.rows, "_h", s.hidden, "_i", s.inter, "_",
                                            DTypeTag(dtype), s.bias ? "_bias" : "");
      const float eps = 1e-5f;
      cases.push_back(OpCase{
          .op = OpId::kSwiGluMlp,
          .weight_dtype = dtype,
          .name = name,
          .checks = {Check::kReduction},
          .make_inputs =
              [=] {
                std::mt19937 rng = RngFor(name);
                return std::vector<Tensor>{RandomF32({s.rows, s.hidden}, -2.0f, 2.0f, &rng),
                                           RandomF32({s.hidden}, -1.5f, 1.5f, &rng),
                                           RandomWeight(dtype, {2 * s.inter, s.hidden}, &rng),
                                           RandomF32({2 * s.inter}, -1.0f, 1.0f, &rng),
                                           RandomWeight(dtype, {s.hidden, s.inter}, &rng),
                                           RandomF32({s.hidden}, -1.0f, 1.0f, &rng)};
              },
          .run =
              [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
                Tensor residual = io.to_device(in[0]);
                Tensor gate_up_bias = io.to_device(in[3]);
                Tensor down_bias = io.to_device(in[5]);
                b.SwiGluMlp(&residual, io.to_device(in[1]), eps, io.to_device(in[2]),
                            s.bias ? &gate_up_bias : nullptr, io.to_device(in[4]),
                            s.bias ? &down_bias : nullptr);
                return std::vector<Tensor>{io.to_host(residual)};
              },
          .naive_f32 =
              [=](const std::vector<Tensor>& in) {
                const Tensor gate_up =
                    NaiveMatMul(NaivePrologue(in[0], backend::MatMulPrologue::kRmsNorm, in[1], eps),
                                WeightToF32(in[2]), s.bias ? &in[3] : nullptr);
                Tensor y = NaiveMatMul(
                    NaivePrologue(gate_up, backend::MatMulPrologue::kSiluMul, in[1], eps),
                    WeightToF32(in[4]), s.bias ? &in[5] : nullptr);
                for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] += in[0].data<float>()[i];
                return std::vector<Tensor>{y};
              },
      });
    }
  }
  return cases;
}

std::vector<OpCase> FusedMatMulCases() {
  using backend::MatMulPrologue;
  constexpr MatMulPrologue kNorm = MatMulPrologue::kRmsNorm;
  constexpr MatMulPrologue kSilu = MatMulPrologue::kSiluMul;
  constexpr MatMulPrologue kPlain = MatMulPrologue::kNone;
  // GEMV shapes (m <= 8: one k range, split k, several row blocks per GPU block, a short last k
  // range, odd k for the scalar kernel), then GEMM-sized m; every prologue with and without
  // accumulation, bias on about half.
  const FusedShape shapes[] = {
      {1, 13, 24, kNorm, false, true},      {1, 13, 24, kSilu, true, false},
      {1, 13, 24, kPlain, true, true},      {2, 512, 2048, kNorm, false, false},
      {1, 512, 2048, kSilu, true, true},    {1, 2048, 2048, kPlain, true, false},
      {3, 2048, 2048, kNorm, false, true},  {8, 1024, 4104, kSilu, true, false},
      {5, 1000, 4104, kNorm, true, true},   {1, 300, 4099, kNorm, false, false},
      {2, 77, 129, kSilu, true, true},      {7, 77, 129, kNorm, true, false},
      {1, 8192, 2048, kNorm, false, false}, {9, 64, 128, kNorm, false, true},
      {9, 64, 128, kSilu, true, false},     {33, 100, 260, kPlain, true, true},
      {17, 40, 257, kNorm, true, false},    {33, 100, 260, kSilu, false, true},
  };
  std::vector<OpCase> cases;
  int index = 0;
  for (const FusedShape& s : shapes) {
    cases.push_back(FusedMatMulCase(s, index % 2 == 0 ? DType::kBF16 : DType::kF16));
    if (s.m * s.n * s.k <= 100000) cases.push_back(FusedMatMulCase(s, DType::kF32));
    ++index;
  }
  return cases;
}

}  // namespace brisk::conformance
