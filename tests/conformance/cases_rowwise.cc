// Conformance cases for the row-wise f32 ops: RmsNorm, AddRmsNorm, Rope, SiluMul and Add,
// over row counts from 1 to 257 and dims that are not multiples of the vector width, plus the
// aliasing each op's contract allows (out == x, out == a or b). SiluMul reads the fused
// [rows, 2 * dim] gate | up layout.
#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

struct RowsShape {
  int64_t rows, dim;
};

// Shapes shared by the norms: one row and many, tiny and long dims.
constexpr RowsShape kNormShapes[] = {{1, 1},     {1, 7},    {5, 13},  {7, 128},
                                     {13, 2048}, {127, 17}, {257, 5}, {3, 4099}};

std::string RowsName(const RowsShape& s) { return absl::StrCat("r", s.rows, "_d", s.dim); }


// Which tensor Add writes to.
enum class AddTarget { kFresh, kIntoA, kIntoB };

}  // namespace

std::vector<OpCase> RmsNormCases() {
  std::vector<OpCase> cases;
  for (bool in_place : {false, true}) {
    for (const RowsShape& s : kNormShapes) {
      const float eps = s.dim % 2 == 0 ? 1e-5f : 1e-6f;
      const std::string name = RowsName(s) + (in_place ? "_inplace" : "");
      cases.push_back(OpCase{
          .op = OpId::kRmsNorm,
          .name = name,
          .checks = {Check::kReduction},
          .make_inputs =
              [=] {
                std::mt19937 rng = RngFor(name);
                return std::vector<Tensor>{RandomF32({s.rows, s.dim}, -2.0f, 2.0f, &rng),
                                           RandomF32({s.dim}, -1.5f, 1.5f, &rng)};
              },
          .run =
              [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
                Tensor x = io.to_device(in[0]);
                if (in_place) {
                  b.RmsNorm(x, io.to_device(in[1]), eps, &x);
                  return std::vector<Tensor>{io.to_host(x)};
                }
                Tensor out = io.to_device(Poisoned({s.rows, s.dim}));
                b.RmsNorm(x, io.to_device(in[1]), eps, &out);
                return std::vector<Tensor>{io.to_host(out)};
              },
          .naive_f32 =
              [=](const std::vector<Tensor>& in) {
                return std::vector<Tensor>{NaiveRmsNorm(in[0], in[1], eps)};
              },
      });
    }
  }
  return cases;
}

std::vector<OpCase> AddRmsNormCases() {
  std::vector<OpCase> cases;
  for (const RowsShape& s : kNormShapes) {
    const float eps = 1e-6f;
    const std::string name = RowsName(s);
    cases.push_back(OpCase{
        .op = OpId::kAddRmsNorm,
        .name = name,
        // residual + x is one f32 addition per element; the norm is a reduction.
        .checks = {Check::kExact, Check::kReduction},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              return std::vector<Tensor>{RandomF32({s.rows, s.dim}, -2.0f, 2.0f, &rng),
                                         RandomF32({s.rows, s.dim}, -1.0f, 1.0f, &rng),
                                         RandomF32({s.dim}, -1.5f, 1.5f, &rng)};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor residual = io.to_device(in[0]);
              Tensor out = io.to_device(Poisoned({s.rows, s.dim}));
              b.AddRmsNorm(&residual, io.to_device(in[1]), io.to_device(in[2]), eps, &out);
              return std::vector<Tensor>{io.to_host(residual), io.to_host(out)};
            },
        .naive_f32 =
            [=](const std::vector<Tensor>& in) {
              Tensor residual = Clone(in[0]);
              for (int64_t i = 0; i < residual.numel(); ++i) {
                residual.data<float>()[i] += in[1].data<float>()[i];
              }
              return std::vector<Tensor>{residual, NaiveRmsNorm(residual, in[2], eps)};
            },
    });
  }
  return cases;
}

std::vector<OpCase> RopeCases() {
  struct RopeShape {
    int64_t num_tokens, num_heads, head_dim, rotary_dim, max_positions;
  };
  const RopeShape shapes[] = {
      {1, 1, 2, 2, 4},         {5, 3, 16, 16, 64},  {7, 4, 13, 8, 32},   {13, 8, 64, 64, 128},
      {127, 2, 128, 64, 4096}, {257, 1, 6, 4, 300}, {3, 32, 80, 80, 10}, {9, 5, 34, 34, 9},
  };
  std::vector<OpCase> cases;
  for (const RopeShape& s : shapes) {
    const std::string name =
        absl::StrCat("t", s.num_tokens, "_h", s.num_heads, "_d", s.head_dim, "_rot", s.rotary_dim);
    cases.push_back(OpCase{
        .op = OpId::kRope,
        .name = name,
        .checks = {Check::kElementwise},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              std::uniform_int_distribution<int32_t> pos(0,
                                                         static_cast<int32_t>(s.max_positions - 1));
              std::vector<int32_t> positions(s.num_tokens);
              for (int32_t& p : positions) p = pos(rng);
              // A real table holds cos and sin of position·frequency.
              Tensor cos_sin = Tensor::Empty(DType::kF32, {s.max_positions, s.rotary_dim});
              const int64_t half = s.rotary_dim / 2;
              for (int64_t p = 0; p < s.max_positions; ++p) {
                for (int64_t i = 0; i < half; ++i) {
                  double angle = p * std::pow(10000.0, -2.0 * i / s.rotary_dim);
                  cos_sin.data<float>()[p * s.rotary_dim + i] = static_cast<float>(std::cos(angle));
                  cos_sin.data<float>()[p * s.rotary_dim + half + i] =
                      static_cast<float>(std::sin(angle));
                }
              }
              return std::vector<Tensor>{
                  RandomF32({s.num_tokens, s.num_heads, s.head_dim}, -1.0f, 1.0f, &rng),
                  I32({s.num_tokens}, positions), cos_sin};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor x = io.to_device(in[0]);  // in place: every element is an input
              b.Rope(&x, io.to_device(in[1]), io.to_device(in[2]));
              return std::vector<Tensor>{io.to_host(x)};
            },
        .naive_f32 = nullptr,
    });
  }
  return cases;
}

std::vector<OpCase> SiluMulCases() {
  struct SiluShape {
    int64_t rows, dim;
    float gate_range;  // gate uniform in [-range, range): up to e^±100, beyond f32's exp range
  };
  const SiluShape shapes[] = {{1, 1, 4.0f},     {5, 7, 8.0f},      {13, 8192, 8.0f},
                              {127, 33, 20.0f}, {257, 130, 100.0f}, {2, 15, 1.0f},
                              {1, 4099, 8.0f},  {3, 17, 8.0f}};
  std::vector<OpCase> cases;
  for (const SiluShape& s : shapes) {
    const std::string name =
        absl::StrCat(RowsName({s.rows, s.dim}), "_g", static_cast<int>(s.gate_range));
    cases.push_back(OpCase{
        .op = OpId::kSiluMul,
        .name = name,
        .checks = {Check::kElementwise},
        .make_inputs =
            [=] {
              // gate_up[r] = gate[r] | up[r]: the two halves drawn from their own ranges.
              std::mt19937 rng = RngFor(name);
              Tensor gate = RandomF32({s.rows, s.dim}, -s.gate_range, s.gate_range, &rng);
              Tensor up = RandomF32({s.rows, s.dim}, -2.0f, 2.0f, &rng);
              Tensor gate_up = Tensor::Empty(DType::kF32, {s.rows, 2 * s.dim});
              for (int64_t r = 0; r < s.rows; ++r) {
                float* row = gate_up.data<float>() + r * 2 * s.dim;
                std::copy_n(gate.data<float>() + r * s.dim, s.dim, row);
                std::copy_n(up.data<float>() + r * s.dim, s.dim, row + s.dim);
              }
              return std::vector<Tensor>{gate_up};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor out = io.to_device(Poisoned({s.rows, s.dim}));
              b.SiluMul(io.to_device(in[0]), &out);
              return std::vector<Tensor>{io.to_host(out)};
            },
        .naive_f32 = nullptr,
    });
  }
  return cases;
}

std::vector<OpCase> AddCases() {
  struct AddShape {
    tensor::Shape shape;
    AddTarget target;
  };
  const AddShape shapes[] = {{{1, 1}, AddTarget::kFresh},     {{5, 7}, AddTarget::kFresh},
                             {{127, 129}, AddTarget::kIntoA}, {{257, 2048}, AddTarget::kFresh},
                             {{2, 3, 5}, AddTarget::kIntoB},  {{13}, AddTarget::kFresh},
                             {{64, 4096}, AddTarget::kIntoA}};
  std::vector<OpCase> cases;
  for (const AddShape& s : shapes) {
    std::string name = "s";
    for (int64_t d : s.shape) absl::StrAppend(&name, "_", d);
    name += s.target == AddTarget::kFresh   ? ""
            : s.target == AddTarget::kIntoA ? "_into_a"
                                            : "_into_b";
    cases.push_back(OpCase{
        .op = OpId::kAdd,
        .name = name,
        .checks = {Check::kExact},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(name);
              return std::vector<Tensor>{RandomF32(s.shape, -1.0f, 1.0f, &rng),
                                         RandomF32(s.shape, -1.0f, 1.0f, &rng)};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor a = io.to_device(in[0]);
              Tensor bt = io.to_device(in[1]);
              Tensor out = s.target == AddTarget::kIntoA   ? a
                           : s.target == AddTarget::kIntoB ? bt
                                                           : io.to_device(Poisoned(s.shape));
              b.Add(a, bt, &out);
              return std::vector<Tensor>{io.to_host(out)};
            },
        .naive_f32 = nullptr,
    });
  }
  return cases;
}

}  // namespace brisk::conformance
