// End-to-end checks of the CUDA backend through the Backend interface: creation without a
// device, memory and copies, a chain of ops queued without synchronization between them
// against the reference backend, the widened-weight cache, unaligned views, graphs, and
// attention (head_dim limits, growing decode batches, the bf16 prefill kernel); the matrix
// products are in cuda_matmul_test.cc. Per-op shape
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
#include "backend/cuda/cuda_test_util.h"
#include "backend/cuda/device.h"
#include "gtest/gtest.h"

namespace brisk::backend {
namespace {

using tensor::Device;
using tensor::Shape;
using cuda_test::HasDevice;
using cuda_test::kNoDeviceMessage;
using cuda_test::MakeCuda;
using cuda_test::RandomF32;
using cuda_test::RandomHalf;
using cuda_test::WeightValue;
using cuda_test::WithinReorderBound;

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

TEST_F(CudaBackendTest, HostReadbackReturnsTheTensorAsItWasWhenQueued) {
  Tensor device = cuda_->ToDevice(I32({4}, {1, 2, 3, 4}));
  std::unique_ptr<HostReadback> readback = cuda_->NewHostReadback(4 * sizeof(int32_t));
  readback->Queue(device.Slice(1, 4));
  // Work queued after the copy does not reach it: the tensor is rewritten before the wait.
  const Tensor later = I32({4}, {50, 60, 70, 80});
  cuda_->CopyToDevice(later, &device);
  Tensor got = readback->Wait();
  ASSERT_EQ(got.shape(), (Shape{3}));
  EXPECT_EQ(std::vector<int32_t>(got.data<int32_t>(), got.data<int32_t>() + 3),
            (std::vector<int32_t>{2, 3, 4}));
  readback->Queue(device);
  got = readback->Wait();
  EXPECT_EQ(std::vector<int32_t>(got.data<int32_t>(), got.data<int32_t>() + 4),
            (std::vector<int32_t>{50, 60, 70, 80}));
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

// One sequence of `queries` new rows ending at `context` tokens, through the bf16 prefill
// attention and the reference: the largest absolute difference. Keys and queries are scaled
// by 4 (still bf16 values) for a peaked softmax.
struct Bf16PrefillCase {
  int64_t queries, context, num_heads, num_kv_heads, head_dim;
  int window = 0;
};
double Bf16PrefillWorstError(Backend* bf16, ReferenceBackend* reference,
                             const Bf16PrefillCase& c) {
  constexpr int64_t kBlockSize = 16;
  const int64_t num_blocks = (c.context + kBlockSize - 1) / kBlockSize;
  Tensor q = tensor::ToF32(RandomHalf(DType::kBF16, {c.queries, c.num_heads, c.head_dim}, 80));
  Tensor k_cache = tensor::ToF32(
      RandomHalf(DType::kBF16, {num_blocks, kBlockSize, c.num_kv_heads, c.head_dim}, 81));
  const Tensor v_cache = tensor::ToF32(
      RandomHalf(DType::kBF16, {num_blocks, kBlockSize, c.num_kv_heads, c.head_dim}, 82));
  for (Tensor* t : {&q, &k_cache}) {
    for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] *= 4.0f;
  }
  std::vector<int32_t> table(static_cast<size_t>(num_blocks));
  for (int64_t b = 0; b < num_blocks; ++b) {
    table[static_cast<size_t>(b)] = static_cast<int32_t>(num_blocks - 1 - b);
  }
  const Tensor starts = I32({2}, {0, static_cast<int32_t>(c.queries)});
  const Tensor lens = I32({1}, {static_cast<int32_t>(c.context)});
  const Tensor tables = I32({1, num_blocks}, table);
  const AttentionParams params{.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                               .sliding_window = c.window};
  const AttentionMetadata host_meta{.query_start_loc = starts, .context_lens = lens,
                                    .block_tables = tables,
                                    .max_query_len = static_cast<int>(c.queries),
                                    .max_context_len = static_cast<int>(c.context)};
  Tensor expected = Tensor::Empty(DType::kF32, q.shape());
  reference->PagedAttention(q, k_cache, v_cache, host_meta, params, &expected);
  const AttentionMetadata meta{.query_start_loc = bf16->ToDevice(starts),
                               .context_lens = bf16->ToDevice(lens),
                               .block_tables = bf16->ToDevice(tables),
                               .max_query_len = static_cast<int>(c.queries),
                               .max_context_len = static_cast<int>(c.context)};
  Tensor out = bf16->Allocate(DType::kF32, q.shape());
  bf16->PagedAttention(bf16->ToDevice(q), bf16->ToDevice(k_cache), bf16->ToDevice(v_cache), meta,
                       params, &out);
  const Tensor got = bf16->ToHost(out);
  double worst = 0.0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double error =
        std::abs(static_cast<double>(got.data<float>()[i]) - expected.data<float>()[i]);
    worst = std::isnan(error) ? INFINITY : std::max(worst, error);
  }
  return worst;
}

// One sequence, its whole context prefilled, at row counts around the kernel's tiles (16 rows
// per warp, 64 per block; from 130 rows a block walks 3 key tiles and its keys are split over
// two blocks); the same bound.
TEST_F(CudaBackendTest, Bf16PrefillAttentionSingleSequences) {
  std::unique_ptr<Backend> bf16 = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(bf16, nullptr);
  for (int64_t n : {2, 5, 8, 16, 17, 64, 65, 130, 300}) {
    EXPECT_LE(Bf16PrefillWorstError(bf16.get(), &reference_, {n, n, 8, 2, 32}), 1.0 / 256)
        << n << " rows";
  }
}

// Split keys where a row sees no key of one part: a chunk of 64 rows at positions 200..263
// with a window of 65 walks key tiles 128..319, split into 128..255 and 256..319, and row 200
// sees only keys 136..200. Then a grid too large to split (18 slots x 16 head groups on an
// H100's 132 SMs), whose blocks run whole.
TEST_F(CudaBackendTest, Bf16PrefillAttentionAcrossKeySplits) {
  std::unique_ptr<Backend> bf16 = MakeCuda(CudaBackendOptions::Activations::kBf16, true);
  ASSERT_NE(bf16, nullptr);
  for (int window : {65, 0, 100}) {
    EXPECT_LE(Bf16PrefillWorstError(bf16.get(), &reference_, {64, 264, 8, 2, 64, window}),
              1.0 / 256)
        << "window " << window;
  }
  EXPECT_LE(Bf16PrefillWorstError(bf16.get(), &reference_, {1100, 1100, 32, 8, 32}), 1.0 / 256);
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
