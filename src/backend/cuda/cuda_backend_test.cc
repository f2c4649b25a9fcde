// End-to-end checks of the CUDA backend through the Backend interface: creation without a
// device, memory and copies, a chain of ops queued without synchronization between them
// against the reference backend, the widened-weight cache, unaligned views, the bf16-activation
// GEMM, the small-m GEMV against cuBLASLt, and attention at the head_dim limits. Per-op shape
// sweeps live in the conformance suite (tests/conformance). Tests that need a GPU skip
// themselves without one.
#include "backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/reference/reference_backend.h"
#include "backend/cuda/device.h"
#include "gtest/gtest.h"

namespace brisk::backend {
namespace {

using tensor::Device;
using tensor::Shape;

constexpr char kNoDeviceMessage[] =
    "no CUDA device (GPU tests run on the device machine; CUDA issue)";

bool HasDevice() { return cuda::QueryDevice(0).ok(); }

Tensor RandomF32(const Shape& shape, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// Uniform values in [-1, 1) stored as bf16 or f16.
Tensor RandomHalf(DType dtype, const Shape& shape, uint32_t seed) {
  Tensor values = RandomF32(shape, -1.0f, 1.0f, seed);
  Tensor t = Tensor::Empty(dtype, shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = values.data<float>()[i];
    t.data<uint16_t>()[i] = dtype == DType::kBF16 ? tensor::F32ToBF16(v) : tensor::F32ToF16(v);
  }
  return t;
}

Tensor I32(const Shape& shape, const std::vector<int32_t>& values) {
  Tensor t = Tensor::Empty(DType::kI32, shape);
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  std::memcpy(t.raw(), values.data(), values.size() * sizeof(int32_t));
  return t;
}

Tensor Clone(const Tensor& t) {
  Tensor copy = Tensor::Empty(t.dtype(), t.shape());
  if (t.size_bytes() > 0) std::memcpy(copy.raw(), t.raw(), static_cast<size_t>(t.size_bytes()));
  return copy;
}

// Every element within tol · max(1, max|expected|); reports the worst element.
testing::AssertionResult Close(const Tensor& actual, const Tensor& expected, double tol) {
  if (actual.shape() != expected.shape()) {
    return testing::AssertionFailure() << "shape " << tensor::ShapeToString(actual.shape())
                                       << " vs " << tensor::ShapeToString(expected.shape());
  }
  double scale = 1.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    scale = std::max(scale, std::fabs(static_cast<double>(expected.data<float>()[i])));
  }
  double worst = 0.0;
  int64_t worst_index = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double error = std::fabs(static_cast<double>(actual.data<float>()[i]) -
                                   static_cast<double>(expected.data<float>()[i]));
    if (!(error <= worst) || std::isnan(error)) {  // NaN counts as the worst
      worst = std::isnan(error) ? INFINITY : error;
      worst_index = i;
    }
  }
  if (worst <= tol * scale) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "max error " << worst << " > " << tol * scale << " at flat index " << worst_index
         << ": actual " << actual.data<float>()[worst_index] << " expected "
         << expected.data<float>()[worst_index];
}

TEST(MakeCudaBackendTest, ReportsMissingDeviceOrBadOrdinal) {
  absl::StatusOr<std::unique_ptr<Backend>> far = MakeCudaBackend({.device_index = 1 << 20});
  ASSERT_FALSE(far.ok());
  if (HasDevice()) {
    EXPECT_EQ(far.status().code(), absl::StatusCode::kOutOfRange) << far.status();
    absl::StatusOr<std::unique_ptr<Backend>> ok = MakeCudaBackend();
    ASSERT_TRUE(ok.ok()) << ok.status();
    EXPECT_EQ((*ok)->device(), Device::kCuda);
    EXPECT_EQ((*ok)->name(), "cuda");
  } else {
    EXPECT_EQ(far.status().code(), absl::StatusCode::kUnavailable) << far.status();
    absl::StatusOr<std::unique_ptr<Backend>> none = MakeCudaBackend();
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable) << none.status();
    EXPECT_NE(none.status().message().find("CUDA"), std::string::npos) << none.status();
  }
}

class CudaBackendTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!HasDevice()) {
      GTEST_SKIP() << kNoDeviceMessage;
    }
    absl::StatusOr<std::unique_ptr<Backend>> b = MakeCudaBackend();
    ASSERT_TRUE(b.ok()) << b.status();
    cuda_ = std::move(*b);
  }

  std::unique_ptr<Backend> cuda_;
  ReferenceBackend reference_;
};

TEST_F(CudaBackendTest, AllocateIsZeroFilledDeviceMemory) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kI32}) {
    Tensor t = cuda_->Allocate(dtype, {3, 37});
    EXPECT_EQ(t.device(), Device::kCuda);
    Tensor host = cuda_->ToHost(t);
    EXPECT_EQ(host.device(), Device::kCpu);
    ASSERT_EQ(host.shape(), (Shape{3, 37}));
    const auto* bytes = static_cast<const uint8_t*>(host.raw());
    for (int64_t i = 0; i < host.size_bytes(); ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
  }
  EXPECT_EQ(cuda_->ToHost(cuda_->Allocate(DType::kF32, {0, 5})).numel(), 0);
}

TEST_F(CudaBackendTest, CopiesRoundTripBitExact) {
  Tensor f = RandomF32({5, 7}, -3.0f, 3.0f, 1);
  f.data<float>()[3] = NAN;
  const std::vector<Tensor> hosts = {f, RandomHalf(DType::kBF16, {129}, 2),
                                     I32({4}, {-1, 0, 7, 1 << 30})};
  for (const Tensor& host : hosts) {
    Tensor device = cuda_->ToDevice(Clone(host));  // the source dies before the copy is awaited
    EXPECT_EQ(device.device(), Device::kCuda);
    Tensor back = cuda_->ToHost(device);
    ASSERT_EQ(back.shape(), host.shape());
    ASSERT_EQ(back.dtype(), host.dtype());
    EXPECT_EQ(std::memcmp(back.raw(), host.raw(), static_cast<size_t>(host.size_bytes())), 0);
  }
}

// One decoder layer's worth of ops on one stream with no synchronization until the end,
// against the reference backend on the same inputs.
TEST_F(CudaBackendTest, ChainedOpsMatchReference) {
  const int64_t vocab = 50, hidden = 64, num_heads = 4, num_kv_heads = 2, head_dim = 16;
  const int64_t block_size = 4, num_blocks = 6, ffn = 96;
  const float eps = 1e-5f, scale = 0.25f;
  // Two sequences: a 5-token prefill (context 5) and a decode step at context 9.
  const std::vector<int32_t> ids = {3, 17, 49, 0, 8, 21};
  const int64_t num_tokens = static_cast<int64_t>(ids.size());
  const std::vector<int32_t> positions = {0, 1, 2, 3, 4, 8};
  const std::vector<int32_t> slots = {20, 21, 22, 23, 4, 0};  // seq0 blocks 5,1; seq1 blocks 2,3,0
  Tensor table = RandomHalf(DType::kBF16, {vocab, hidden}, 10);
  Tensor norm_w = RandomF32({hidden}, 0.5f, 1.5f, 11);
  Tensor w_qkv = RandomHalf(DType::kBF16, {(num_heads + 2 * num_kv_heads) * head_dim, hidden}, 12);
  Tensor b_qkv = RandomF32({(num_heads + 2 * num_kv_heads) * head_dim}, -0.1f, 0.1f, 13);
  Tensor w_o = RandomHalf(DType::kF16, {hidden, num_heads * head_dim}, 14);
  Tensor w_up = RandomF32({2 * ffn, hidden}, -0.2f, 0.2f, 15);
  Tensor cos_sin = RandomF32({16, head_dim}, -1.0f, 1.0f, 16);
  // Sequence 1's first 8 cached tokens come from earlier steps.
  Tensor k_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1.0f, 1.0f, 17);
  Tensor v_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1.0f, 1.0f, 18);
  const Tensor starts = I32({3}, {0, 5, 6});
  const Tensor lens = I32({2}, {5, 9});
  const Tensor tables = I32({2, 3}, {5, 1, -1, 2, 3, 0});

  auto run = [&](Backend& b, auto to_device, auto to_host) {
    Tensor x = b.Allocate(DType::kF32, {num_tokens, hidden});
    b.Embedding(to_device(table), to_device(I32({num_tokens}, ids)), &x);
    Tensor h = b.Allocate(DType::kF32, {num_tokens, hidden});
    b.RmsNorm(x, to_device(norm_w), eps, &h);
    Tensor qkv = b.Allocate(DType::kF32, {num_tokens, (num_heads + 2 * num_kv_heads) * head_dim});
    Tensor bias = to_device(b_qkv);
    b.MatMul(h, to_device(w_qkv), &bias, &qkv);
    // Split q | k | v with host-side copies of the projection, as a model would with views.
    Tensor qkv_host = to_host(qkv);
    Tensor q = Tensor::Empty(DType::kF32, {num_tokens, num_heads, head_dim});
    Tensor k = Tensor::Empty(DType::kF32, {num_tokens, num_kv_heads, head_dim});
    Tensor v = Tensor::Empty(DType::kF32, {num_tokens, num_kv_heads, head_dim});
    const int64_t row = (num_heads + 2 * num_kv_heads) * head_dim;
    for (int64_t t = 0; t < num_tokens; ++t) {
      const float* src = qkv_host.data<float>() + t * row;
      std::memcpy(q.data<float>() + t * num_heads * head_dim, src, num_heads * head_dim * 4);
      std::memcpy(k.data<float>() + t * num_kv_heads * head_dim, src + num_heads * head_dim,
                  num_kv_heads * head_dim * 4);
      std::memcpy(v.data<float>() + t * num_kv_heads * head_dim,
                  src + (num_heads + num_kv_heads) * head_dim, num_kv_heads * head_dim * 4);
    }
    Tensor qd = to_device(q), kd = to_device(k), vd = to_device(v);
    Tensor pos = to_device(I32({num_tokens}, positions)), cs = to_device(cos_sin);
    b.Rope(&qd, pos, cs);
    b.Rope(&kd, pos, cs);
    Tensor kc = to_device(k_cache), vc = to_device(v_cache);
    b.WriteKvCache(kd, vd, to_device(I32({num_tokens}, slots)), &kc, &vc);
    AttentionMetadata meta{.query_start_loc = to_device(starts),
                           .context_lens = to_device(lens),
                           .block_tables = to_device(tables),
                           .max_query_len = 5,
                           .max_context_len = 9};
    Tensor attn = b.Allocate(DType::kF32, {num_tokens, num_heads, head_dim});
    b.PagedAttention(qd, kc, vc, meta, {.scale = scale, .sliding_window = 6}, &attn);
    Tensor o = b.Allocate(DType::kF32, {num_tokens, hidden});
    b.MatMul(attn.Reshape({num_tokens, num_heads * head_dim}), to_device(w_o), nullptr, &o);
    Tensor normed = b.Allocate(DType::kF32, {num_tokens, hidden});
    b.AddRmsNorm(&x, o, to_device(norm_w), eps, &normed);
    Tensor gate_up = b.Allocate(DType::kF32, {num_tokens, 2 * ffn});
    b.MatMul(normed, to_device(w_up), nullptr, &gate_up);
    Tensor act = b.Allocate(DType::kF32, {num_tokens, ffn});
    b.SiluMul(gate_up, &act);
    // up = gate_up[:, ffn:] through a host copy, as a second operand for Add.
    Tensor gate_up_host = to_host(gate_up);
    Tensor up = Tensor::Empty(DType::kF32, {num_tokens, ffn});
    for (int64_t t = 0; t < num_tokens; ++t) {
      std::memcpy(up.data<float>() + t * ffn, gate_up_host.data<float>() + t * 2 * ffn + ffn,
                  ffn * 4);
    }
    Tensor sum = b.Allocate(DType::kF32, {num_tokens, ffn});
    b.Add(act, to_device(up), &sum);
    return std::vector<Tensor>{to_host(x), to_host(sum), to_host(kc), to_host(attn)};
  };
  std::vector<Tensor> expected =
      run(reference_, [](const Tensor& t) { return Clone(t); }, [](const Tensor& t) { return t; });
  std::vector<Tensor> actual = run(
      *cuda_, [&](const Tensor& t) { return cuda_->ToDevice(t); },
      [&](const Tensor& t) { return cuda_->ToHost(t); });
  // f32 kernels against double-accumulating ones over sums of at most 128 terms of size ~1:
  // errors of a few 1e-7 relative; 1e-5 leaves a wide margin and still catches any wrong index.
  const char* names[] = {"residual", "silu_mul + add", "k_cache", "attention"};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(Close(actual[i], expected[i], 1e-5)) << names[i];
  }
}

// Weights allocated and dropped one after another may reuse device addresses; the widened-f32
// cache must never hand out a previous weight's copy. m = 9 is past the small-m GEMV, which
// reads half-precision weights without widening them.
TEST_F(CudaBackendTest, WidenedWeightCacheFollowsEachWeight) {
  const int64_t m = 9, n = 17, k = 33;
  Tensor x = RandomF32({m, k}, -1.0f, 1.0f, 20);
  Tensor x_device = cuda_->ToDevice(x);
  Tensor first_result;
  for (uint32_t seed = 0; seed < 4; ++seed) {
    for (DType dtype : {DType::kBF16, DType::kF16}) {
      Tensor w = RandomHalf(dtype, {n, k}, 30 + seed);
      Tensor expected = Tensor::Empty(DType::kF32, {m, n});
      reference_.MatMul(x, w, nullptr, &expected);
      Tensor w_device = cuda_->ToDevice(w);
      for (int repeat = 0; repeat < 2; ++repeat) {
        Tensor y = cuda_->Allocate(DType::kF32, {m, n});
        cuda_->MatMul(x_device, w_device, nullptr, &y);
        EXPECT_TRUE(Close(cuda_->ToHost(y), expected, 1e-5))
            << tensor::DTypeName(dtype) << " seed " << seed << " repeat " << repeat;
      }
    }
  }
}

// Views that start one row in: with odd k and n the pointers are 4-byte aligned only, which
// cuBLASLt must be told about.
TEST_F(CudaBackendTest, MatMulOnUnalignedViews) {
  for (int64_t k : {1, 7, 129}) {
    const int64_t m = 5, n = 13;
    Tensor x_full = RandomF32({m + 1, k}, -1.0f, 1.0f, 40);
    Tensor w_full = RandomF32({n + 1, k}, -1.0f, 1.0f, 41);
    Tensor bias_full = RandomF32({n + 1}, -1.0f, 1.0f, 42);
    Tensor expected = Tensor::Empty(DType::kF32, {m, n});
    Tensor bias_host = bias_full.Slice(1, n + 1);
    reference_.MatMul(x_full.Slice(1, m + 1), w_full.Slice(1, n + 1), &bias_host, &expected);

    Tensor y_full = cuda_->Allocate(DType::kF32, {m * n + 1});
    Tensor y = y_full.Slice(1, m * n + 1).Reshape({m, n});
    Tensor bias = cuda_->ToDevice(bias_full).Slice(1, n + 1);
    cuda_->MatMul(cuda_->ToDevice(x_full).Slice(1, m + 1), cuda_->ToDevice(w_full).Slice(1, n + 1),
                  &bias, &y);
    EXPECT_TRUE(Close(cuda_->ToHost(y), expected, 1e-5)) << "k " << k;
    EXPECT_EQ(cuda_->ToHost(y_full).data<float>()[0], 0.0f) << "wrote before the view, k " << k;
  }
}

// kBf16 activations: y must be the f32-accumulated product of bf16(x) and the bf16 weight.
// Bound: any summation order of k products has error <= k·2^-24·Σ|x_p·w_p| (Higham, "Accuracy
// and Stability of Numerical Algorithms", 2nd ed., eq. 3.5), plus one rounding for the bias.
TEST(CudaBf16ActivationsTest, MatMulRoundsActivationsToBf16) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  absl::StatusOr<std::unique_ptr<Backend>> made =
      MakeCudaBackend({.activations = CudaBackendOptions::Activations::kBf16});
  ASSERT_TRUE(made.ok()) << made.status();
  Backend& cuda = **made;
  EXPECT_EQ(cuda.name(), "cuda_bf16act");
  struct Case {
    int64_t m, n, k;
  };
  for (const Case& c : {Case{1, 1, 8}, Case{5, 7, 256}, Case{33, 64, 512}, Case{3, 13, 7}}) {
    Tensor x = RandomF32({c.m, c.k}, -1.0f, 1.0f, 50);
    Tensor w = RandomHalf(DType::kBF16, {c.n, c.k}, 51);
    Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, 52);
    Tensor y = cuda.Allocate(DType::kF32, {c.m, c.n});
    Tensor bias_device = cuda.ToDevice(bias);
    cuda.MatMul(cuda.ToDevice(x), cuda.ToDevice(w), &bias_device, &y);
    Tensor actual = cuda.ToHost(y);
    int64_t num_differing_from_f32 = 0;
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double rounded = bias.data<float>()[j], exact = rounded, magnitude = std::fabs(rounded);
        for (int64_t p = 0; p < c.k; ++p) {
          const double wv = tensor::BF16ToF32(w.data<uint16_t>()[j * c.k + p]);
          const double xv = x.data<float>()[i * c.k + p];
          rounded += tensor::BF16ToF32(tensor::F32ToBF16(x.data<float>()[i * c.k + p])) * wv;
          exact += xv * wv;
          magnitude += std::fabs(xv * wv);
        }
        const double bound = static_cast<double>(c.k + 2) * std::ldexp(1.0, -24) * magnitude;
        const double got = actual.data<float>()[i * c.n + j];
        // Odd k may have no bf16 cuBLASLt algorithm; the backend then computes in f32.
        const bool is_bf16 = std::fabs(got - rounded) <= bound;
        EXPECT_TRUE(is_bf16 || (c.k % 8 != 0 && std::fabs(got - exact) <= bound))
            << "m" << c.m << " n" << c.n << " k" << c.k << " at (" << i << ", " << j << "): got "
            << got << ", bf16 product " << rounded << ", f32 product " << exact << ", bound "
            << bound;
        num_differing_from_f32 += std::fabs(got - exact) > bound;
      }
    }
    // With k >= 256 random products, rounding x to bf16 visibly moves some outputs.
    if (c.k >= 256) {
      EXPECT_GT(num_differing_from_f32, 0) << "x was not rounded, k " << c.k;
    }
  }
}

// ---- Small-m GEMV (m <= 8, bf16/f16 weights) against cuBLASLt ----

// Host values of a bf16/f16 weight.
double WeightValue(const Tensor& w, int64_t i) {
  const uint16_t bits = w.data<uint16_t>()[i];
  return w.dtype() == DType::kBF16 ? tensor::BF16ToF32(bits) : tensor::F16ToF32(bits);
}

// y within the error bound of any f32 summation order of x · wᵀ + bias: k products summed in
// any order are off by at most k·2^-24·Σ|x_p·w_p| (Higham, "Accuracy and Stability of Numerical
// Algorithms", 2nd ed., eq. 3.5), plus two roundings for the bias and the split sums. x is
// rounded to bf16 first when `round_x` (the bf16-activation mode with bf16 weights).
testing::AssertionResult WithinReorderBound(const Tensor& y, const Tensor& x, const Tensor& w,
                                            const Tensor* bias, bool round_x) {
  const int64_t m = x.dim(0), k = x.dim(1), n = w.dim(0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double exact = bias != nullptr ? bias->data<float>()[j] : 0.0;
      double magnitude = std::fabs(exact);
      for (int64_t p = 0; p < k; ++p) {
        float xv = x.data<float>()[i * k + p];
        if (round_x) xv = tensor::BF16ToF32(tensor::F32ToBF16(xv));
        const double product = static_cast<double>(xv) * WeightValue(w, j * k + p);
        exact += product;
        magnitude += std::fabs(product);
      }
      const double bound = static_cast<double>(k + 2) * std::ldexp(1.0, -24) * magnitude;
      const double got = y.data<float>()[i * n + j];
      if (!(std::fabs(got - exact) <= bound)) {
        return testing::AssertionFailure() << "at (" << i << ", " << j << "): got " << got
                                           << ", exact " << exact << ", bound " << bound;
      }
    }
  }
  return testing::AssertionSuccess();
}

struct GemvCase {
  int64_t m, n, k;
  DType dtype;
  bool bias;
};

// The shapes of the GEMV's paths: one k range and one row block; split k (n = 512 leaves most
// multiprocessors idle otherwise); several row blocks per GPU block, split by shared memory at
// m = 8; a short last k range (k = 4104); odd k (the scalar kernel); m of every weight-row
// grouping (1, 2..4, 5..8).
const GemvCase kGemvCases[] = {
    {1, 13, 24, DType::kBF16, true},     {3, 512, 2048, DType::kF16, false},
    {1, 512, 2048, DType::kBF16, false}, {8, 8192, 2048, DType::kBF16, true},
    {4, 1000, 4104, DType::kF16, true},  {6, 2048, 4104, DType::kBF16, false},
    {2, 300, 4099, DType::kBF16, true},  {7, 77, 129, DType::kF16, false},
};

std::unique_ptr<Backend> MakeCuda(CudaBackendOptions::Activations activations, bool gemv) {
  absl::StatusOr<std::unique_ptr<Backend>> b =
      MakeCudaBackend({.activations = activations, .small_m_gemv = gemv});
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(*b) : nullptr;
}

Tensor RunMatMul(Backend& b, const Tensor& x, const Tensor& w, const Tensor* bias) {
  Tensor y = b.ToDevice(Tensor::Empty(DType::kF32, {x.dim(0), w.dim(0)}));
  Tensor bias_device = bias != nullptr ? b.ToDevice(*bias) : Tensor();
  b.MatMul(b.ToDevice(x), b.ToDevice(w), bias != nullptr ? &bias_device : nullptr, &y);
  return b.ToHost(y);
}

// Both paths within the reorder bound of the exact product (so within twice of each other), in
// both activation modes; the GEMV is deterministic (bit-identical on a repeat, split k too).
TEST(CudaGemvTest, MatchesCublasLtWithinReorderBound) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  for (Activations activations : {Activations::kF32, Activations::kBf16}) {
    std::unique_ptr<Backend> gemv = MakeCuda(activations, true);
    std::unique_ptr<Backend> lt = MakeCuda(activations, false);
    ASSERT_NE(gemv, nullptr);
    ASSERT_NE(lt, nullptr);
    uint32_t seed = 70;
    for (const GemvCase& c : kGemvCases) {
      Tensor x = RandomF32({c.m, c.k}, -1.0f, 1.0f, seed++);
      Tensor w = RandomHalf(c.dtype, {c.n, c.k}, seed++);
      Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, seed++);
      const Tensor* b = c.bias ? &bias : nullptr;
      const bool round_x = activations == Activations::kBf16 && c.dtype == DType::kBF16;
      const std::string label = "m" + std::to_string(c.m) + " n" + std::to_string(c.n) + " k" +
                                std::to_string(c.k) + " " +
                                std::string(tensor::DTypeName(c.dtype)) +
                                (round_x ? " bf16 activations" : " f32 activations");
      Tensor from_gemv = RunMatMul(*gemv, x, w, b);
      Tensor from_lt = RunMatMul(*lt, x, w, b);
      EXPECT_TRUE(WithinReorderBound(from_gemv, x, w, b, round_x)) << "gemv " << label;
      // cuBLASLt may lack a bf16 algorithm for odd k and then computes in f32.
      if (!(round_x && c.k % 8 != 0)) {
        EXPECT_TRUE(WithinReorderBound(from_lt, x, w, b, round_x)) << "cublaslt " << label;
      }
      Tensor again = RunMatMul(*gemv, x, w, b);
      EXPECT_EQ(std::memcmp(again.raw(), from_gemv.raw(), static_cast<size_t>(again.size_bytes())),
                0)
          << "gemv not deterministic, " << label;
    }
  }
}

// Rounding x to bf16 moves results by more than the reorder bound: the bf16 mode must not
// silently run in f32 (nor the f32 mode in bf16). At k = 256 the rounding moves an output by
// several 1e-3 (256 random errors of up to 2^-9·|x_p·w_p| each), past the bound
// 258·2^-24·Σ|x_p·w_p| ≈ 1e-3 on many of the 512 outputs.
TEST(CudaGemvTest, Bf16ActivationsAreRounded) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  std::unique_ptr<Backend> f32 = MakeCuda(Activations::kF32, true);
  std::unique_ptr<Backend> bf16 = MakeCuda(Activations::kBf16, true);
  ASSERT_NE(f32, nullptr);
  ASSERT_NE(bf16, nullptr);
  Tensor x = RandomF32({2, 256}, -1.0f, 1.0f, 90);
  Tensor w = RandomHalf(DType::kBF16, {256, 256}, 91);
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*f32, x, w, nullptr), x, w, nullptr, false));
  EXPECT_FALSE(WithinReorderBound(RunMatMul(*f32, x, w, nullptr), x, w, nullptr, true));
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*bf16, x, w, nullptr), x, w, nullptr, true));
  EXPECT_FALSE(WithinReorderBound(RunMatMul(*bf16, x, w, nullptr), x, w, nullptr, false));
  // f16 weights keep f32 activations in the bf16 mode, as on the cuBLASLt path.
  Tensor w16 = RandomHalf(DType::kF16, {256, 256}, 92);
  EXPECT_TRUE(WithinReorderBound(RunMatMul(*bf16, x, w16, nullptr), x, w16, nullptr, false));
}

// FusedMatMul's fused prologues and accumulation against the same backend running the ops one
// by one (Backend::FusedMatMul's default: RmsNorm / SiluMul, MatMul, Add), in both activation
// modes: on the GEMV's vectorized (k = 2048, split k) and scalar (k = 129) kernels, and on the
// cuBLASLt path (m = 12, 48: the prologue kernel writes the bf16 input, beta = 1 accumulates;
// a beta that was ignored would be off by y's old value, up to 4). The two differ by
// the order of f32 sums (bound: twice the reorder bound of the product, plus a bf16 ulp of the
// largest term where a 1-ulp difference in the norm flips x's bf16 rounding, plus the rounding
// of the accumulation).
TEST(CudaGemvTest, FusedProloguesMatchTheOpsOneByOne) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  using Activations = CudaBackendOptions::Activations;
  using backend::MatMulPrologue;
  struct Case {
    int64_t m, n, k;
  };
  uint32_t seed = 300;
  for (Activations activations : {Activations::kF32, Activations::kBf16}) {
    std::unique_ptr<Backend> b = MakeCuda(activations, true);
    ASSERT_NE(b, nullptr);
    for (const Case& c : {Case{1, 512, 2048}, Case{2, 300, 2048}, Case{1, 77, 129},
                          Case{12, 300, 2048}, Case{48, 256, 4096}}) {
      for (MatMulPrologue prologue : {MatMulPrologue::kRmsNorm, MatMulPrologue::kSiluMul}) {
        for (bool accumulate : {false, true}) {
          const int64_t x_cols = prologue == MatMulPrologue::kSiluMul ? 2 * c.k : c.k;
          Tensor x = RandomF32({c.m, x_cols}, -2.0f, 2.0f, seed++);
          Tensor w = RandomHalf(DType::kBF16, {c.n, c.k}, seed++);
          Tensor bias = RandomF32({c.n}, -1.0f, 1.0f, seed++);
          Tensor norm = RandomF32({c.k}, -1.5f, 1.5f, seed++);
          Tensor y0 = RandomF32({c.m, c.n}, -4.0f, 4.0f, seed++);
          Tensor x_d = b->ToDevice(x), w_d = b->ToDevice(w), bias_d = b->ToDevice(bias);
          Tensor norm_d = b->ToDevice(norm);
          const FusedMatMulParams params{.prologue = prologue,
                                         .norm_weight = &norm_d,
                                         .eps = 1e-5f,
                                         .accumulate = accumulate};
          Tensor fused = b->ToDevice(y0), one_by_one = b->ToDevice(y0);
          b->FusedMatMul(x_d, w_d, &bias_d, params, &fused);
          b->Backend::FusedMatMul(x_d, w_d, &bias_d, params, &one_by_one);
          Tensor got = b->ToHost(fused), want = b->ToHost(one_by_one);
          // The prologue's output on the host, for the bound.
          std::vector<double> xp(c.m * c.k);
          for (int64_t r = 0; r < c.m; ++r) {
            double sum_squares = 0.0;
            for (int64_t i = 0; i < c.k; ++i) {
              const double v = x.data<float>()[r * x_cols + i];
              sum_squares += v * v;
            }
            const double inv_rms = 1.0 / std::sqrt(sum_squares / c.k + 1e-5);
            for (int64_t i = 0; i < c.k; ++i) {
              const double g = x.data<float>()[r * x_cols + i];
              const double u = x.data<float>()[r * x_cols + c.k + i];  // SiluMul's up half
              xp[r * c.k + i] = prologue == MatMulPrologue::kRmsNorm
                                    ? g * inv_rms * norm.data<float>()[i]
                                    : g / (1.0 + std::exp(-g)) * u;
            }
          }
          const bool round_x = activations == Activations::kBf16;
          for (int64_t r = 0; r < c.m; ++r) {
            for (int64_t j = 0; j < c.n; ++j) {
              double magnitude = std::fabs(bias.data<float>()[j]), largest = 0.0;
              for (int64_t p = 0; p < c.k; ++p) {
                const double term = std::fabs(xp[r * c.k + p] * WeightValue(w, j * c.k + p));
                magnitude += term;
                largest = std::max(largest, term);
              }
              const double old = accumulate ? std::fabs(y0.data<float>()[r * c.n + j]) : 0.0;
              const double bound = 2.0 * (c.k + 2) * std::ldexp(1.0, -24) * magnitude +
                                   (round_x ? std::ldexp(largest, -7) : 0.0) +
                                   std::ldexp(old + magnitude, -22);
              const double diff =
                  std::fabs(got.data<float>()[r * c.n + j] - want.data<float>()[r * c.n + j]);
              ASSERT_LE(diff, bound) << "m" << c.m << " n" << c.n << " k" << c.k << " prologue "
                                     << static_cast<int>(prologue) << " accumulate "
                                     << accumulate << " bf16 " << round_x << " at (" << r
                                     << ", " << j << ")";
            }
          }
        }
      }
    }
  }
}

// SwiGluMlp in the bf16 mode at a prefill-sized batch keeps gate_up in bf16 between its GEMMs:
// the result must stay within the error that rounding adds (each act element off by at most
// ~2^-7 relative: gate and up rounded, then act rounded; bound 2^-6 of the magnitude of the
// second product), and must differ from the f32-gate_up default somewhere (the bf16 path ran).
TEST(CudaBf16ActivationsTest, SwiGluMlpKeepsGateUpInBf16) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  std::unique_ptr<Backend> b = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(b, nullptr);
  const int64_t rows = 48, hidden = 512, inter = 1024;
  Tensor residual = RandomF32({rows, hidden}, -2.0f, 2.0f, 400);
  Tensor norm = RandomF32({hidden}, -1.5f, 1.5f, 401);
  Tensor gate_up = RandomHalf(DType::kBF16, {2 * inter, hidden}, 402);
  Tensor down = RandomHalf(DType::kBF16, {hidden, inter}, 403);
  Tensor down_bias = RandomF32({hidden}, -1.0f, 1.0f, 404);
  Tensor norm_d = b->ToDevice(norm), gate_up_d = b->ToDevice(gate_up);
  Tensor down_d = b->ToDevice(down), down_bias_d = b->ToDevice(down_bias);
  Tensor fused = b->ToDevice(residual), one_by_one = b->ToDevice(residual);
  b->SwiGluMlp(&fused, norm_d, 1e-5f, gate_up_d, nullptr, down_d, &down_bias_d);
  b->Backend::SwiGluMlp(&one_by_one, norm_d, 1e-5f, gate_up_d, nullptr, down_d, &down_bias_d);
  Tensor got = b->ToHost(fused), want = b->ToHost(one_by_one);
  int64_t num_differing = 0;
  for (int64_t r = 0; r < rows; ++r) {
    // The block in double on the host, for the magnitudes.
    double sum_squares = 0.0;
    for (int64_t i = 0; i < hidden; ++i) {
      const double v = residual.data<float>()[r * hidden + i];
      sum_squares += v * v;
    }
    const double inv_rms = 1.0 / std::sqrt(sum_squares / hidden + 1e-5);
    std::vector<double> h(hidden), act(inter);
    for (int64_t i = 0; i < hidden; ++i) {
      h[i] = residual.data<float>()[r * hidden + i] * inv_rms * norm.data<float>()[i];
    }
    for (int64_t j = 0; j < inter; ++j) {
      double g = 0.0, u = 0.0;
      for (int64_t i = 0; i < hidden; ++i) {
        g += h[i] * WeightValue(gate_up, j * hidden + i);
        u += h[i] * WeightValue(gate_up, (inter + j) * hidden + i);
      }
      act[j] = g / (1.0 + std::exp(-g)) * u;
    }
    for (int64_t c = 0; c < hidden; ++c) {
      double magnitude = 0.0;
      for (int64_t j = 0; j < inter; ++j) {
        magnitude += std::fabs(act[j] * WeightValue(down, c * inter + j));
      }
      const double diff =
          std::fabs(got.data<float>()[r * hidden + c] - want.data<float>()[r * hidden + c]);
      ASSERT_LE(diff, std::ldexp(magnitude, -6) + 1e-5) << "at (" << r << ", " << c << ")";
      num_differing += diff > 0.0;
    }
  }
  EXPECT_GT(num_differing, 0) << "gate_up was not kept in bf16";
}

// Views at element offsets: x 4-byte aligned only (vectorized weights, activations staged one
// float at a time), w 2-byte aligned only (the scalar kernel), y and bias offset by one.
TEST_F(CudaBackendTest, GemvOnUnalignedViews) {
  const int64_t m = 3, n = 40, k = 2048;
  for (int64_t w_offset : {0, 1}) {
    Tensor x_flat = RandomF32({m * k + 1}, -1.0f, 1.0f, 100);
    Tensor w_flat = RandomHalf(DType::kBF16, {n * k + 1}, 101);
    Tensor bias_full = RandomF32({n + 1}, -1.0f, 1.0f, 102);
    Tensor x_host = x_flat.Slice(1, m * k + 1).Reshape({m, k});
    Tensor w_host = w_flat.Slice(w_offset, w_offset + n * k).Reshape({n, k});
    Tensor bias_host = bias_full.Slice(1, n + 1);

    Tensor y_full = cuda_->Allocate(DType::kF32, {m * n + 1});
    Tensor y = y_full.Slice(1, m * n + 1).Reshape({m, n});
    Tensor bias = cuda_->ToDevice(bias_full).Slice(1, n + 1);
    cuda_->MatMul(cuda_->ToDevice(x_flat).Slice(1, m * k + 1).Reshape({m, k}),
                  cuda_->ToDevice(w_flat).Slice(w_offset, w_offset + n * k).Reshape({n, k}),
                  &bias, &y);
    EXPECT_TRUE(WithinReorderBound(cuda_->ToHost(y), x_host, w_host, &bias_host, false))
        << "w offset " << w_offset;
    EXPECT_EQ(cuda_->ToHost(y_full).data<float>()[0], 0.0f) << "wrote before the view";
  }
}

// A recorded graph replays on whatever its buffers hold at replay time, and survives the
// backend outgrowing the GEMV workspace it recorded (a later, larger GEMV): outgrown buffers
// stay allocated, so memory handed out afterwards (filled with garbage here) is never the one
// the graph's split-k partial sums and counters use.
TEST_F(CudaBackendTest, RecordedGraphReplaysNewInputsAfterWorkspaceGrowth) {
  const int64_t k = 512, n = 64;  // few rows of w: the GEMV splits k and uses its workspace
  const Tensor w_host = RandomHalf(DType::kBF16, {n, k}, 110);
  const Tensor w = cuda_->ToDevice(w_host);
  Tensor x = cuda_->Allocate(DType::kF32, {1, k});
  Tensor y = cuda_->Allocate(DType::kF32, {1, n});
  cuda_->CopyToDevice(RandomF32({1, k}, -1.0f, 1.0f, 111), &x);
  cuda_->MatMul(x, w, nullptr, &y);  // sizes the workspace for this shape
  std::unique_ptr<OpGraph> graph = cuda_->Record([&] { cuda_->MatMul(x, w, nullptr, &y); });
  ASSERT_NE(graph, nullptr);
  ASSERT_TRUE(cuda_->CanRecord());
  {
    // 8 rows of 16384: the staged activations need many k-splits, whose partial sums need
    // more than the first MiB of workspace.
    const Tensor big_w = cuda_->ToDevice(RandomHalf(DType::kBF16, {4096, 16384}, 112));
    const Tensor big_x = cuda_->ToDevice(RandomF32({8, 16384}, -1.0f, 1.0f, 113));
    Tensor big_y = cuda_->Allocate(DType::kF32, {8, 4096});
    cuda_->MatMul(big_x, big_w, nullptr, &big_y);
  }
  Tensor garbage_host = Tensor::Empty(DType::kI32, {int64_t{1} << 18});  // 1 MiB
  std::fill_n(garbage_host.data<int32_t>(), garbage_host.numel(), 0x7f7f7f7f);
  std::vector<Tensor> garbage;
  for (int i = 0; i < 8; ++i) {
    garbage.push_back(cuda_->AllocateScratch(DType::kI32, garbage_host.shape()));
    cuda_->CopyToDevice(garbage_host, &garbage.back());
  }
  const Tensor x_new = RandomF32({1, k}, -1.0f, 1.0f, 114);
  cuda_->CopyToDevice(x_new, &x);
  graph->Replay();
  EXPECT_TRUE(WithinReorderBound(cuda_->ToHost(y), x_new, w_host, nullptr, false));
}

// Attention at the head_dim limits (1 and 256), GQA, a window, and contexts longer than one
// kernel tile, against the reference.
TEST_F(CudaBackendTest, PagedAttentionAtHeadDimLimits) {
  for (int64_t head_dim : {1, 256}) {
    const int64_t num_heads = 6, num_kv_heads = 3, block_size = 16, num_blocks = 12;
    for (int window : {0, 40}) {
      // Sequence 0: decode at context 100; sequence 1: 9 queries ending at context 70.
      Tensor q = RandomF32({10, num_heads, head_dim}, -3.0f, 3.0f, 60);
      Tensor k_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1, 1, 61);
      Tensor v_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1, 1, 62);
      const Tensor starts = I32({3}, {0, 1, 10});
      const Tensor lens = I32({2}, {100, 70});
      const Tensor tables =
          I32({2, 7}, {11, 0, 9, 2, 7, 4, 6, 1, 3, 5, 8, 10, -1, -1});
      const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      AttentionMetadata host_meta{.query_start_loc = starts,
                                  .context_lens = lens,
                                  .block_tables = tables,
                                  .max_query_len = 9,
                                  .max_context_len = 100};
      Tensor expected = Tensor::Empty(DType::kF32, q.shape());
      reference_.PagedAttention(q, k_cache, v_cache, host_meta,
                                {.scale = scale, .sliding_window = window}, &expected);
      AttentionMetadata meta{.query_start_loc = cuda_->ToDevice(starts),
                             .context_lens = cuda_->ToDevice(lens),
                             .block_tables = cuda_->ToDevice(tables),
                             .max_query_len = 9,
                             .max_context_len = 100};
      Tensor out = cuda_->Allocate(DType::kF32, q.shape());
      cuda_->PagedAttention(cuda_->ToDevice(q), cuda_->ToDevice(k_cache),
                            cuda_->ToDevice(v_cache), meta,
                            {.scale = scale, .sliding_window = window}, &out);
      EXPECT_TRUE(Close(cuda_->ToHost(out), expected, 1e-5))
          << "head_dim " << head_dim << " window " << window;
    }
  }
}

// One backend runs decode batches of changing sizes over one split workspace: a batch's split
// states must never land on the arrival counters of a later, larger batch (every row of every
// batch matches the reference).
TEST_F(CudaBackendTest, DecodeAttentionAcrossGrowingBatches) {
  const int64_t num_heads = 8, num_kv_heads = 2, head_dim = 64, block_size = 16;
  const int64_t context = 200, blocks_per_seq = (context + block_size - 1) / block_size;
  const int64_t max_seqs = 40, num_blocks = max_seqs * blocks_per_seq;
  Tensor k_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1, 1, 70);
  Tensor v_cache = RandomF32({num_blocks, block_size, num_kv_heads, head_dim}, -1, 1, 71);
  const Tensor k_device = cuda_->ToDevice(k_cache), v_device = cuda_->ToDevice(v_cache);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  uint32_t seed = 72;
  for (int64_t num_seqs : {1, 16, 2, 40, 9}) {
    std::vector<int32_t> starts(num_seqs + 1), lens(num_seqs), tables(num_seqs * blocks_per_seq);
    for (int64_t s = 0; s <= num_seqs; ++s) starts[s] = static_cast<int32_t>(s);
    for (int64_t s = 0; s < num_seqs; ++s) {
      lens[s] = static_cast<int32_t>(context - 7 * s % 50);  // 150..200 keys, several splits
      for (int64_t b = 0; b < blocks_per_seq; ++b) {
        // Blocks of later sequences first, so that no two batches read the same layout.
        tables[s * blocks_per_seq + b] =
            static_cast<int32_t>((max_seqs - 1 - s) * blocks_per_seq + b);
      }
    }
    Tensor q = RandomF32({num_seqs, num_heads, head_dim}, -3.0f, 3.0f, seed++);
    AttentionMetadata host_meta{.query_start_loc = I32({num_seqs + 1}, starts),
                                .context_lens = I32({num_seqs}, lens),
                                .block_tables = I32({num_seqs, blocks_per_seq}, tables),
                                .max_query_len = 1,
                                .max_context_len = static_cast<int>(context)};
    Tensor expected = Tensor::Empty(DType::kF32, q.shape());
    reference_.PagedAttention(q, k_cache, v_cache, host_meta, {.scale = scale}, &expected);
    AttentionMetadata meta{.query_start_loc = cuda_->ToDevice(host_meta.query_start_loc),
                           .context_lens = cuda_->ToDevice(host_meta.context_lens),
                           .block_tables = cuda_->ToDevice(host_meta.block_tables),
                           .max_query_len = 1,
                           .max_context_len = static_cast<int>(context)};
    Tensor out = cuda_->Allocate(DType::kF32, q.shape());
    cuda_->PagedAttention(cuda_->ToDevice(q), k_device, v_device, meta, {.scale = scale}, &out);
    EXPECT_TRUE(Close(cuda_->ToHost(out), expected, 1e-5)) << num_seqs << " sequences";
  }
}

// With bf16 activations, prefill rows take the tensor-core kernel. Inputs are bf16 values, so
// its only rounding is that of the softmax weights (2^-9 relative each, and the normalizer sums
// the same rounded weights): every output is within 2^-8 of max|v| (<= 1) of the f32
// reference. Decode rows (the f32 kernel) match to f32 accuracy. Shapes: head_dim 64, 128 and
// 32, GQA, a window, and a 150-row prefill spanning three row tiles and three key tiles next to
// a 9-row chunk after a prefix and a decode row.
TEST_F(CudaBackendTest, Bf16PrefillAttentionOnTensorCores) {
  std::unique_ptr<Backend> bf16 = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(bf16, nullptr);
  for (int64_t head_dim : {64, 128, 32}) {
    const int64_t num_heads = 8, num_kv_heads = 2, block_size = 16, num_blocks = 24;
    for (int window : {0, 50}) {
      const int64_t num_tokens = 1 + 9 + 150;
      const Tensor q =
          tensor::ToF32(RandomHalf(DType::kBF16, {num_tokens, num_heads, head_dim}, 70));
      const Tensor k_cache = tensor::ToF32(
          RandomHalf(DType::kBF16, {num_blocks, block_size, num_kv_heads, head_dim}, 71));
      const Tensor v_cache = tensor::ToF32(
          RandomHalf(DType::kBF16, {num_blocks, block_size, num_kv_heads, head_dim}, 72));
      // Sequence 0: decode at context 100; 1: 9 queries ending at context 70; 2: 150 queries,
      // its whole context. Block tables: distinct, shuffled blocks.
      const Tensor starts = I32({4}, {0, 1, 10, 160});
      const Tensor lens = I32({3}, {100, 70, 150});
      const Tensor tables = I32({3, 10}, {23, 0, 9, 2, 7, 4, 6, -1, -1, -1,     //
                                          1, 3, 5, 8, 10, -1, -1, -1, -1, -1,   //
                                          11, 12, 22, 14, 15, 16, 21, 18, 19, 20});
      const AttentionParams params{.scale = 1.0f / std::sqrt(static_cast<float>(head_dim)),
                                   .sliding_window = window};
      const AttentionMetadata host_meta{.query_start_loc = starts,
                                        .context_lens = lens,
                                        .block_tables = tables,
                                        .max_query_len = 150,
                                        .max_context_len = 150};
      Tensor expected = Tensor::Empty(DType::kF32, q.shape());
      reference_.PagedAttention(q, k_cache, v_cache, host_meta, params, &expected);
      const AttentionMetadata meta{.query_start_loc = bf16->ToDevice(starts),
                                   .context_lens = bf16->ToDevice(lens),
                                   .block_tables = bf16->ToDevice(tables),
                                   .max_query_len = 150,
                                   .max_context_len = 150};
      Tensor out = bf16->Allocate(DType::kF32, q.shape());
      bf16->PagedAttention(bf16->ToDevice(q), bf16->ToDevice(k_cache), bf16->ToDevice(v_cache),
                           meta, params, &out);
      const Tensor got = bf16->ToHost(out);
      EXPECT_TRUE(Close(got.Slice(0, 1), expected.Slice(0, 1), 1e-5))
          << "decode row, head_dim " << head_dim << " window " << window;
      double worst = 0.0;
      for (int64_t i = num_heads * head_dim; i < got.numel(); ++i) {
        worst = std::max(worst, std::abs(static_cast<double>(got.data<float>()[i]) -
                                         expected.data<float>()[i]));
      }
      EXPECT_LE(worst, 1.0 / 256) << "head_dim " << head_dim << " window " << window;
      EXPECT_GT(worst, 0.0) << "the bf16 weights should differ somewhere from f32";
    }
  }
}

// One sequence, its whole context prefilled, at row counts around the kernel's tiles (16 rows
// per warp, 64 per block), with larger queries and keys (peaked softmax); the same bound.
TEST_F(CudaBackendTest, Bf16PrefillAttentionSingleSequences) {
  std::unique_ptr<Backend> bf16 = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(bf16, nullptr);
  const int64_t num_heads = 8, num_kv_heads = 2, head_dim = 32, block_size = 16;
  for (int64_t n : {2, 5, 8, 16, 17, 64, 65, 130}) {
    const int64_t num_blocks = (n + block_size - 1) / block_size;
    Tensor q = tensor::ToF32(RandomHalf(DType::kBF16, {n, num_heads, head_dim}, 80));
    Tensor k_cache = tensor::ToF32(
        RandomHalf(DType::kBF16, {num_blocks, block_size, num_kv_heads, head_dim}, 81));
    const Tensor v_cache = tensor::ToF32(
        RandomHalf(DType::kBF16, {num_blocks, block_size, num_kv_heads, head_dim}, 82));
    for (Tensor* t : {&q, &k_cache}) {  // x4 keeps the values bf16
      for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] *= 4.0f;
    }
    std::vector<int32_t> table(static_cast<size_t>(num_blocks));
    for (int64_t b = 0; b < num_blocks; ++b) table[static_cast<size_t>(b)] = static_cast<int32_t>(num_blocks - 1 - b);
    const Tensor starts = I32({2}, {0, static_cast<int32_t>(n)});
    const Tensor lens = I32({1}, {static_cast<int32_t>(n)});
    const Tensor tables = I32({1, num_blocks}, table);
    const AttentionParams params{.scale = 1.0f / std::sqrt(static_cast<float>(head_dim))};
    const AttentionMetadata host_meta{.query_start_loc = starts, .context_lens = lens,
                                      .block_tables = tables,
                                      .max_query_len = static_cast<int>(n),
                                      .max_context_len = static_cast<int>(n)};
    Tensor expected = Tensor::Empty(DType::kF32, q.shape());
    reference_.PagedAttention(q, k_cache, v_cache, host_meta, params, &expected);
    const AttentionMetadata meta{.query_start_loc = bf16->ToDevice(starts),
                                 .context_lens = bf16->ToDevice(lens),
                                 .block_tables = bf16->ToDevice(tables),
                                 .max_query_len = static_cast<int>(n),
                                 .max_context_len = static_cast<int>(n)};
    Tensor out = bf16->Allocate(DType::kF32, q.shape());
    bf16->PagedAttention(bf16->ToDevice(q), bf16->ToDevice(k_cache), bf16->ToDevice(v_cache),
                         meta, params, &out);
    const Tensor got = bf16->ToHost(out);
    double worst = 0.0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(got.data<float>()[i]) -
                                       expected.data<float>()[i]));
    }
    EXPECT_LE(worst, 1.0 / 256) << n << " rows";
  }
}

// Mistakes fail loudly: a host tensor passed to an op is named on the host; a bad index found
// on the device traps the kernel and the next synchronizing call says so (the kernel's own
// message goes to stdout, where device printf writes).
TEST(CudaBackendDeathTest, MisuseFailsWithAClearMessage) {
  if (!HasDevice()) {
    GTEST_SKIP() << kNoDeviceMessage;
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child starts CUDA afresh
  EXPECT_DEATH(
      {
        std::unique_ptr<Backend> cuda = *MakeCudaBackend();
        Tensor out = cuda->Allocate(DType::kF32, {2, 3});
        cuda->Add(RandomF32({2, 3}, -1, 1, 1), out, &out);
      },
      "a is a host tensor");
  EXPECT_DEATH(
      {
        std::unique_ptr<Backend> cuda = *MakeCudaBackend();
        Tensor out = cuda->Allocate(DType::kF32, {1, 3});
        cuda->Embedding(cuda->ToDevice(RandomF32({5, 3}, -1, 1, 2)),
                        cuda->ToDevice(I32({1}, {99})), &out);
        cuda->ToHost(out);
      },
      "ToHost: an op queued earlier failed on the device");
}

}  // namespace
}  // namespace brisk::backend
