// The fused ops of the CPU backends against the op sequences they replace, on the same backend:
// QkvRopeWriteKv must equal splitting the projection, RmsNorm over each head, Rope and
// WriteKvCache bit for bit (both backends build it from the same arithmetic), and SiluMul over
// the fused gate | up layout must treat each row on its own. Agreement between backends lives
// in tests/conformance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference/reference_backend.h"

namespace brisk::backend {
namespace {

using tensor::Shape;

Tensor Random(const Shape& shape, float lo, float hi, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(*rng);
  return t;
}

Tensor I32(const std::vector<int32_t>& values) {
  Tensor t = Tensor::Empty(DType::kI32, {static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

Tensor Clone(const Tensor& t) {
  Tensor copy = Tensor::Empty(t.dtype(), t.shape());
  if (t.size_bytes() > 0) std::memcpy(copy.raw(), t.raw(), static_cast<size_t>(t.size_bytes()));
  return copy;
}

// Bitwise equality of two f32 tensors, reporting the first difference.
testing::AssertionResult SameBits(const Tensor& actual, const Tensor& expected) {
  if (actual.shape() != expected.shape()) {
    return testing::AssertionFailure() << "shapes " << tensor::ShapeToString(actual.shape())
                                       << " vs " << tensor::ShapeToString(expected.shape());
  }
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (std::memcmp(actual.data<float>() + i, expected.data<float>() + i, sizeof(float)) != 0) {
      return testing::AssertionFailure() << "element " << i << ": " << actual.data<float>()[i]
                                         << " vs " << expected.data<float>()[i];
    }
  }
  return testing::AssertionSuccess();
}

struct NamedBackend {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

std::vector<NamedBackend> CpuBackends() {
  return {{"cpu_reference", [] { return MakeReferenceBackend(); }},
          {"cpu", [] { return MakeCpuBackend(); }},
          {"cpu_3threads", [] { return MakeCpuBackend({.num_threads = 3}); }}};
}

struct QkvShape {
  int64_t num_tokens, num_heads, num_kv_heads, head_dim, rotary_dim;
  bool q_norm, k_norm;
};

// Rows [first_head, first_head + num_heads) of every token of qkv, as a copy:
// [num_tokens, num_heads, head_dim]. qkv: [num_tokens, num_qkv_heads * head_dim]
Tensor Heads(const Tensor& qkv, int64_t first_head, int64_t num_heads, int64_t head_dim) {
  const int64_t num_tokens = qkv.dim(0);
  Tensor out = Tensor::Empty(DType::kF32, {num_tokens, num_heads, head_dim});
  for (int64_t t = 0; t < num_tokens; ++t) {
    std::memcpy(out.data<float>() + t * num_heads * head_dim,
                qkv.data<float>() + t * qkv.dim(1) + first_head * head_dim,
                static_cast<size_t>(num_heads * head_dim) * sizeof(float));
  }
  return out;
}

TEST(FusedOpsTest, QkvRopeWriteKvEqualsNormRopeAndWriteKvCache) {
  const QkvShape shapes[] = {
      {1, 4, 4, 64, 64, false, false}, {5, 8, 2, 13, 12, true, true},
      {7, 8, 1, 128, 64, true, false}, {3, 2, 2, 256, 256, false, true},
      {300, 4, 2, 64, 32, true, true},  // enough work for several threads
  };
  const int64_t num_blocks = 80, block_size = 4, max_positions = 64;
  const float eps = 1e-6f;
  for (const QkvShape& s : shapes) {
    std::mt19937 rng(static_cast<uint32_t>(s.num_tokens * 1000 + s.head_dim));
    const int64_t num_qkv_heads = s.num_heads + 2 * s.num_kv_heads;
    Tensor qkv = Random({s.num_tokens, num_qkv_heads * s.head_dim}, -2.0f, 2.0f, &rng);
    Tensor cos_sin = Random({max_positions, s.rotary_dim}, -1.0f, 1.0f, &rng);
    Tensor q_norm = Random({s.head_dim}, 0.5f, 1.5f, &rng);
    Tensor k_norm = Random({s.head_dim}, 0.5f, 1.5f, &rng);
    std::vector<int32_t> pos(s.num_tokens);
    for (int32_t& p : pos) p = static_cast<int32_t>(rng() % max_positions);
    std::vector<int32_t> slot_values(num_blocks * block_size);
    std::iota(slot_values.begin(), slot_values.end(), 0);
    std::shuffle(slot_values.begin(), slot_values.end(), rng);
    slot_values.resize(s.num_tokens);
    slot_values[s.num_tokens / 2] = -1;
    const Tensor positions = I32(pos);
    const Tensor slots = I32(slot_values);
    const Shape cache_shape = {num_blocks, block_size, s.num_kv_heads, s.head_dim};
    const Tensor k_cache0 = Random(cache_shape, -1.0f, 1.0f, &rng);
    const Tensor v_cache0 = Random(cache_shape, -1.0f, 1.0f, &rng);
    const Tensor* q_w = s.q_norm ? &q_norm : nullptr;
    const Tensor* k_w = s.k_norm ? &k_norm : nullptr;

    for (const NamedBackend& nb : CpuBackends()) {
      SCOPED_TRACE(nb.name + " tokens " + std::to_string(s.num_tokens) + " head_dim " +
                   std::to_string(s.head_dim));
      std::unique_ptr<Backend> b = nb.make();
      Tensor q_out = Tensor::Empty(DType::kF32, {s.num_tokens, s.num_heads, s.head_dim});
      Tensor k_cache = Clone(k_cache0), v_cache = Clone(v_cache0);
      b->QkvRopeWriteKv(qkv, positions, cos_sin, slots, q_w, k_w, eps, &q_out, &k_cache, &v_cache);

      Tensor q = Heads(qkv, 0, s.num_heads, s.head_dim);
      Tensor k = Heads(qkv, s.num_heads, s.num_kv_heads, s.head_dim);
      Tensor v = Heads(qkv, s.num_heads + s.num_kv_heads, s.num_kv_heads, s.head_dim);
      if (q_w != nullptr) {
        Tensor rows = q.Reshape({s.num_tokens * s.num_heads, s.head_dim});
        b->RmsNorm(rows, *q_w, eps, &rows);
      }
      if (k_w != nullptr) {
        Tensor rows = k.Reshape({s.num_tokens * s.num_kv_heads, s.head_dim});
        b->RmsNorm(rows, *k_w, eps, &rows);
      }
      b->Rope(&q, positions, cos_sin);
      b->Rope(&k, positions, cos_sin);
      Tensor k_cache_sep = Clone(k_cache0), v_cache_sep = Clone(v_cache0);
      b->WriteKvCache(k, v, slots, &k_cache_sep, &v_cache_sep);

      EXPECT_TRUE(SameBits(q_out, q)) << "q_out";
      EXPECT_TRUE(SameBits(k_cache, k_cache_sep)) << "k_cache";
      EXPECT_TRUE(SameBits(v_cache, v_cache_sep)) << "v_cache";
    }
  }
}

TEST(FusedOpsTest, SiluMulReadsEachRowsOwnGateAndUpHalves) {
  // Each output row must equal a one-row SiluMul of a copy of its fused row alone (no row
  // stride to get wrong there), and silu(gate)·up from that row's halves in double within a
  // few ulps (the vector exponential is within 2 ulps, simd.h).
  std::mt19937 rng(11);
  for (const auto& [rows, dim] : {std::pair<int64_t, int64_t>{1, 1}, {3, 17}, {64, 1030}}) {
    Tensor gate_up = Random({rows, 2 * dim}, -6.0f, 6.0f, &rng);
    for (const NamedBackend& nb : CpuBackends()) {
      SCOPED_TRACE(nb.name + " rows " + std::to_string(rows) + " dim " + std::to_string(dim));
      std::unique_ptr<Backend> b = nb.make();
      Tensor out = Tensor::Empty(DType::kF32, {rows, dim});
      b->SiluMul(gate_up, &out);
      for (int64_t r = 0; r < rows; ++r) {
        Tensor row = Clone(gate_up.Slice(r, r + 1));
        Tensor one = Tensor::Empty(DType::kF32, {1, dim});
        b->SiluMul(row, &one);
        ASSERT_TRUE(SameBits(Clone(out.Slice(r, r + 1)), one)) << "row " << r;
        for (int64_t c = 0; c < dim; ++c) {
          const double g = row.data<float>()[c];
          const double want = g / (1.0 + std::exp(-g)) * row.data<float>()[dim + c];
          ASSERT_NEAR(one.data<float>()[c], want, 1e-6 * (1.0 + std::fabs(want)))
              << "row " << r << " col " << c;
        }
      }
    }
  }
}

}  // namespace
}  // namespace brisk::backend
