// Hand-computed checks of the reference backend: it is the oracle of the conformance harness,
// so its own expected values come from arithmetic done on paper, never from the code.
#include "backend/cpu/reference/reference_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace brisk::backend {
namespace {

using tensor::Shape;

Tensor F32(Shape shape, const std::vector<float>& values) {
  Tensor t = Tensor::Empty(DType::kF32, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

Tensor I32(Shape shape, const std::vector<int32_t>& values) {
  Tensor t = Tensor::Empty(DType::kI32, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.numel()), values.size());
  for (size_t i = 0; i < values.size(); ++i) t.data<int32_t>()[i] = values[i];
  return t;
}

// Converts f32 values (exactly representable in the target) to a bf16 or f16 tensor.
Tensor Half(DType dtype, Shape shape, const std::vector<float>& values) {
  Tensor t = Tensor::Empty(dtype, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    t.data<uint16_t>()[i] =
        dtype == DType::kBF16 ? tensor::F32ToBF16(values[i]) : tensor::F32ToF16(values[i]);
  }
  return t;
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

TEST(ReferenceBackendTest, SupportsFloatWeightsOnlyWhereOpsHaveWeights) {
  ReferenceBackend b;
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    EXPECT_TRUE(b.Supports(OpId::kMatMul, dt));
    EXPECT_TRUE(b.Supports(OpId::kEmbedding, dt));
  }
  EXPECT_FALSE(b.Supports(OpId::kMatMul, DType::kI32));
  EXPECT_TRUE(b.Supports(OpId::kRmsNorm, DType::kF32));
  EXPECT_FALSE(b.Supports(OpId::kRmsNorm, DType::kBF16));
  EXPECT_FALSE(b.Supports(OpId::kPagedAttention, DType::kF16));
}

TEST(ReferenceBackendTest, MatMulWithBiasAllWeightDtypes) {
  ReferenceBackend b;
  Tensor x = F32({2, 3}, {1, 2, 3, -1, 0.5, 2});
  // w rows: [1, 0, -1], [0.5, 2, 0.25]
  std::vector<float> w_values = {1, 0, -1, 0.5, 2, 0.25};
  Tensor bias = F32({2}, {10, -1});
  // Row 0: 1 - 3 + 10 = 8;     0.5 + 4 + 0.75 - 1 = 4.25
  // Row 1: -1 - 2 + 10 = 7;   -0.5 + 1 + 0.5 - 1 = 0
  for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
    Tensor w = dt == DType::kF32 ? F32({2, 3}, w_values) : Half(dt, {2, 3}, w_values);
    Tensor y = Tensor::Empty(DType::kF32, {2, 2});
    b.MatMul(x, w, &bias, &y);
    EXPECT_EQ(Values(y), (std::vector<float>{8, 4.25, 7, 0})) << tensor::DTypeName(dt);
    b.MatMul(x, w, nullptr, &y);
    EXPECT_EQ(Values(y), (std::vector<float>{-2, 5.25, -3, 1})) << tensor::DTypeName(dt);
  }
}

TEST(ReferenceBackendTest, EmbeddingGathersAndWidensRows) {
  ReferenceBackend b;
  Tensor table = Half(DType::kBF16, {3, 2}, {1, 2, 3, 4, -5, 0.5});
  Tensor ids = I32({4}, {2, 0, 2, 1});
  Tensor out = Tensor::Empty(DType::kF32, {4, 2});
  b.Embedding(table, ids, &out);
  EXPECT_EQ(Values(out), (std::vector<float>{-5, 0.5, 1, 2, -5, 0.5, 3, 4}));
}

TEST(ReferenceBackendTest, RmsNormMatchesHandComputation) {
  ReferenceBackend b;
  // mean(3², 4²) = 12.5; 1/sqrt(12.5) = 0.28284271
  Tensor x = F32({2, 2}, {3, 4, 0, 2});
  Tensor w = F32({2}, {1, 2});
  Tensor out = Tensor::Empty(DType::kF32, {2, 2});
  b.RmsNorm(x, w, 0.0f, &out);
  EXPECT_NEAR(out.data<float>()[0], 0.84852814f, 1e-6);
  EXPECT_NEAR(out.data<float>()[1], 2.26274170f, 1e-6);
  // Row 1: mean(0, 4) = 2, eps = 2 -> 1/sqrt(4) = 0.5
  b.RmsNorm(x, w, 2.0f, &out);
  EXPECT_NEAR(out.data<float>()[2], 0.0f, 1e-7);
  EXPECT_NEAR(out.data<float>()[3], 2.0f, 1e-6);
  // In place (out aliases x).
  b.RmsNorm(x, w, 0.0f, &x);
  EXPECT_NEAR(x.data<float>()[0], 0.84852814f, 1e-6);
  EXPECT_NEAR(x.data<float>()[3], 2.82842712f, 1e-6);
}

TEST(ReferenceBackendTest, AddRmsNormUpdatesResidualThenNormalizes) {
  ReferenceBackend b;
  Tensor residual = F32({1, 2}, {1, 1});
  Tensor x = F32({1, 2}, {2, 3});
  Tensor w = F32({2}, {1, 1});
  Tensor out = Tensor::Empty(DType::kF32, {1, 2});
  b.AddRmsNorm(&residual, x, w, 0.0f, &out);
  EXPECT_EQ(Values(residual), (std::vector<float>{3, 4}));
  EXPECT_NEAR(out.data<float>()[0], 0.84852814f, 1e-6);
  EXPECT_NEAR(out.data<float>()[1], 1.13137085f, 1e-6);
}

TEST(ReferenceBackendTest, RopeRotatesHalfPairsAndLeavesTheRestAlone) {
  ReferenceBackend b;
  // One token, one head, head_dim 6, rotary_dim 4 (pairs (0,2) and (1,3)); features 4, 5 pass.
  Tensor x = F32({1, 1, 6}, {1, 2, 3, 4, 5, 6});
  Tensor positions = I32({1}, {1});
  // Position 0: identity; position 1: cos = (0, 0.6), sin = (1, 0.8).
  Tensor cos_sin = F32({2, 4}, {1, 1, 0, 0, 0, 0.6f, 1, 0.8f});
  b.Rope(&x, positions, cos_sin);
  // Pair (0,2): x0' = 1·0 − 3·1 = −3, x2' = 3·0 + 1·1 = 1.
  // Pair (1,3): x1' = 2·0.6 − 4·0.8 = −2, x3' = 4·0.6 + 2·0.8 = 4.
  std::vector<float> got = Values(x);
  std::vector<float> want = {-3, -2, 1, 4, 5, 6};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(ReferenceBackendTest, SiluMulReadsGateThenUpFromEachFusedRow) {
  ReferenceBackend b;
  // Row 0: gate (0, 1, -2), up (5, 2, 3); row 1: gate (2, -1, 0), up (1, 4, 7).
  Tensor gate_up = F32({2, 6}, {0, 1, -2, 5, 2, 3, 2, -1, 0, 1, 4, 7});
  Tensor out = Tensor::Empty(DType::kF32, {2, 3});
  b.SiluMul(gate_up, &out);
  // silu(1) = 1/(1+e^-1) = 0.7310586; silu(-2) = -2/(1+e^2) = -0.2384058;
  // silu(2) = 2/(1+e^-2) = 1.7615942; silu(-1) = -1/(1+e) = -0.2689414.
  const std::vector<float> want = {0, 1.4621172f, -0.7152175f, 1.7615942f, -1.0757657f, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out.data<float>()[i], want[i], 1e-6) << i;
}

TEST(ReferenceBackendTest, Add) {
  ReferenceBackend b;
  Tensor gate = F32({1, 3}, {0, 1, -2});
  Tensor up = F32({1, 3}, {5, 2, 3});
  Tensor out = Tensor::Empty(DType::kF32, {1, 3});
  b.Add(gate, up, &out);
  EXPECT_EQ(Values(out), (std::vector<float>{5, 3, 1}));
  b.Add(gate, up, &gate);  // out aliases a
  EXPECT_EQ(Values(gate), (std::vector<float>{5, 3, 1}));
}

TEST(ReferenceBackendTest, WriteKvCacheFillsSlotsAndSkipsMinusOne) {
  ReferenceBackend b;
  // 3 blocks of 2 slots, 1 kv head, head_dim 2.
  Tensor k_cache = Tensor::Empty(DType::kF32, {3, 2, 1, 2});
  Tensor v_cache = Tensor::Empty(DType::kF32, {3, 2, 1, 2});
  Tensor k = F32({3, 1, 2}, {1, 2, 3, 4, 5, 6});
  Tensor v = F32({3, 1, 2}, {-1, -2, -3, -4, -5, -6});
  Tensor slots = I32({3}, {5, -1, 2});  // block 2 slot 1; skipped; block 1 slot 0
  b.WriteKvCache(k, v, slots, &k_cache, &v_cache);
  EXPECT_EQ(Values(k_cache), (std::vector<float>{0, 0, 0, 0, 5, 6, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(Values(v_cache), (std::vector<float>{0, 0, 0, 0, -5, -6, 0, 0, 0, 0, -1, -2}));
}

TEST(ReferenceBackendTest, QkvRopeWriteKvNormsRotatesAndScatters) {
  ReferenceBackend b;
  // 2 tokens, 1 q head, 1 kv head, head_dim 4, rotary_dim 2 (pair (0, 1); features 2, 3 pass).
  Tensor qkv = F32({2, 12}, {2, 2, 2, 2, 1, 0, 5, 6, 7, 8, 9, 10,  // token 0: q | k | v
                             0, 3, 0, 4, 9, 9, 9, 9, 9, 9, 9, 9});
  Tensor positions = I32({2}, {1, 0});
  // Position 0: identity; position 1: cos 0.6, sin 0.8.
  Tensor cos_sin = F32({2, 2}, {1, 0, 0.6f, 0.8f});
  Tensor slots = I32({2}, {3, -1});  // token 0 to block 1 offset 1; token 1 not cached
  Tensor q_norm = F32({4}, {1, 1, 2, -1});
  Tensor q_out = Tensor::Empty(DType::kF32, {2, 1, 4});
  Tensor k_cache = Tensor::Empty(DType::kF32, {2, 2, 1, 4});
  Tensor v_cache = Tensor::Empty(DType::kF32, {2, 2, 1, 4});
  b.QkvRopeWriteKv(qkv, positions, cos_sin, slots, &q_norm, nullptr, 0.0f, &q_out, &k_cache,
                   &v_cache);
  // Token 0, q: rms(2, 2, 2, 2) = 2 -> (1, 1, 1, 1) · w = (1, 1, 2, -1); rotated:
  //   (1·0.6 − 1·0.8, 1·0.6 + 1·0.8) = (−0.2, 1.4).
  // Token 1, q: rms(0, 3, 0, 4) = sqrt(25/4) = 2.5 -> (0, 1.2, 0, 1.6) · w = (0, 1.2, 0, −1.6);
  //   position 0 leaves it.
  const std::vector<float> want_q = {-0.2f, 1.4f, 2, -1, 0, 1.2f, 0, -1.6f};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(q_out.data<float>()[i], want_q[i], 1e-6) << i;
  // Token 0, k (no norm): (1·0.6 − 0·0.8, 0·0.6 + 1·0.8, 5, 6) in slot 3; v copied there.
  std::vector<float> want_k(16, 0.0f);
  std::vector<float> want_v(16, 0.0f);
  const std::vector<float> k3 = {0.6f, 0.8f, 5, 6};
  const std::vector<float> v3 = {7, 8, 9, 10};
  std::copy(k3.begin(), k3.end(), want_k.begin() + 12);
  std::copy(v3.begin(), v3.end(), want_v.begin() + 12);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(k_cache.data<float>()[i], want_k[i], 1e-6) << i;
  EXPECT_EQ(Values(v_cache), want_v);
}

TEST(ReferenceBackendDeathTest, QkvRopeWriteKvRejectsBadPositionsAndSlots) {
  ReferenceBackend b;
  Tensor qkv = Tensor::Empty(DType::kF32, {2, 12});
  Tensor cos_sin = Tensor::Empty(DType::kF32, {2, 2});
  Tensor q_out = Tensor::Empty(DType::kF32, {2, 1, 4});
  Tensor k_cache = Tensor::Empty(DType::kF32, {2, 2, 1, 4});
  Tensor v_cache = Tensor::Empty(DType::kF32, {2, 2, 1, 4});
  auto run = [&](const Tensor& positions, const Tensor& slots) {
    b.QkvRopeWriteKv(qkv, positions, cos_sin, slots, nullptr, nullptr, 1e-6f, &q_out, &k_cache,
                     &v_cache);
  };
  EXPECT_DEATH(run(I32({2}, {0, 2}), I32({2}, {0, 1})), "rope position 2 at 1");
  EXPECT_DEATH(run(I32({2}, {-1, 0}), I32({2}, {0, 1})), "rope position -1 at 0");
  EXPECT_DEATH(run(I32({2}, {0, 1}), I32({2}, {4, 1})), "slot 4 at 0");
  EXPECT_DEATH(run(I32({2}, {0, 1}), I32({2}, {0, -2})), "slot -2 at 1");
}

// Builds metadata for one sequence whose tokens live in the given blocks.
AttentionMetadata OneSequence(int num_queries, int context_len, std::vector<int32_t> blocks) {
  AttentionMetadata meta;
  meta.query_start_loc = I32({2}, {0, num_queries});
  meta.context_lens = I32({1}, {context_len});
  int64_t num_blocks = static_cast<int64_t>(blocks.size());
  meta.block_tables = I32({1, num_blocks}, blocks);
  meta.max_query_len = num_queries;
  meta.max_context_len = context_len;
  return meta;
}

TEST(ReferenceBackendTest, PagedAttentionCausalWindowAndGqa) {
  ReferenceBackend b;
  // Block size 1, head_dim 1, one kv head; token 0 in block 2, token 1 in block 0.
  Tensor k_cache = F32({3, 1, 1, 1}, {std::log(3.0f), 100, 0});
  Tensor v_cache = F32({3, 1, 1, 1}, {10, 100, 2});
  // Two query heads (GQA group of 2) with q = 1 and q = 2.
  Tensor q = F32({2, 2, 1}, {1, 2, 1, 2});
  Tensor out = Tensor::Empty(DType::kF32, {2, 2, 1});
  AttentionMetadata meta = OneSequence(2, 2, {2, 0});
  b.PagedAttention(q, k_cache, v_cache, meta, {.scale = 1.0f}, &out);
  // Row 0 (position 0) sees only token 0: out = v0 = 2 for both heads.
  EXPECT_NEAR(out.data<float>()[0], 2.0f, 1e-6);
  EXPECT_NEAR(out.data<float>()[1], 2.0f, 1e-6);
  // Row 1, head 0: scores (0, ln 3) -> weights (1/4, 3/4): 2/4 + 30/4 = 8.
  EXPECT_NEAR(out.data<float>()[2], 8.0f, 1e-5);
  // Head 1: scores (0, 2 ln 3) -> weights (1/10, 9/10): 0.2 + 9 = 9.2.
  EXPECT_NEAR(out.data<float>()[3], 9.2f, 1e-5);

  // Sliding window 1: each row sees only itself.
  b.PagedAttention(q, k_cache, v_cache, meta, {.scale = 1.0f, .sliding_window = 1}, &out);
  EXPECT_NEAR(out.data<float>()[2], 10.0f, 1e-6);
  EXPECT_NEAR(out.data<float>()[3], 10.0f, 1e-6);

  // Decode: one query at position 1 with scale 0.5 -> scores (0, ln 3 / 2) for head 0:
  // weights (1, sqrt 3) / (1 + sqrt 3).
  Tensor q1 = F32({1, 2, 1}, {1, 2});
  Tensor out1 = Tensor::Empty(DType::kF32, {1, 2, 1});
  b.PagedAttention(q1, k_cache, v_cache, OneSequence(1, 2, {2, 0}), {.scale = 0.5f}, &out1);
  double s3 = std::sqrt(3.0);
  EXPECT_NEAR(out1.data<float>()[0], (2 + 10 * s3) / (1 + s3), 1e-5);
}

TEST(ReferenceBackendTest, LayerNormMatchesHandComputation) {
  ReferenceBackend b;
  // Row 0: mean 3, deviations (-2, -1, 0, 3), biased variance 14/4 = 3.5; with eps 0.5 the
  // inverse std is 1/sqrt(4) = 0.5, so x̂ = (-1, -0.5, 0, 1.5).
  // Row 1 is constant: x̂ = 0 and out = bias.
  Tensor x = F32({2, 4}, {1, 2, 3, 6, 5, 5, 5, 5});
  Tensor w = F32({4}, {1, 2, 1, -2});
  Tensor bias = F32({4}, {0.5, 0, -1, 1});
  Tensor out = Tensor::Empty(DType::kF32, {2, 4});
  b.LayerNorm(x, w, bias, 0.5f, &out);
  std::vector<float> want = {-0.5, -1, -1, -2, 0.5, 0, -1, 1};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(out.data<float>()[i], want[i], 1e-6) << i;
  // In place (out aliases x).
  b.LayerNorm(x, w, bias, 0.5f, &x);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(x.data<float>()[i], want[i], 1e-6) << i;
}

TEST(ReferenceBackendTest, GeluExactAndTanhForms) {
  ReferenceBackend b;
  Tensor x = F32({2, 2}, {0, 1, -1, 2});
  Tensor out = Tensor::Empty(DType::kF32, {2, 2});
  // Exact: gelu(x) = x·Φ(x) with the standard normal CDF Φ(1) = 0.8413447461 and
  // Φ(2) = 0.9772498681 (tables); Φ(-1) = 1 - Φ(1).
  b.Gelu(x, /*tanh_approximation=*/false, &out);
  EXPECT_EQ(out.data<float>()[0], 0.0f);
  EXPECT_NEAR(out.data<float>()[1], 0.8413447461f, 1e-7);
  EXPECT_NEAR(out.data<float>()[2], -0.1586552539f, 1e-7);
  EXPECT_NEAR(out.data<float>()[3], 1.9544997361f, 1e-6);
  // Tanh form: x = 1: √(2/π)·1.044715 = 0.83356197, tanh = 0.68238398, out = 0.84119199.
  // x = -2: √(2/π)·(-2.35772) = -1.88118839, tanh = -0.95459769, out = -0.04540231.
  Tensor y = F32({2}, {1, -2});
  b.Gelu(y, /*tanh_approximation=*/true, &y);  // in place
  EXPECT_NEAR(y.data<float>()[0], 0.84119199f, 1e-7);
  EXPECT_NEAR(y.data<float>()[1], -0.04540231f, 1e-7);
}

TEST(ReferenceBackendTest, EncoderAttentionIsBidirectionalPerSequenceWithGqa) {
  ReferenceBackend b;
  // Sequences: {token 0}, an empty one, {tokens 1, 2}. head_dim 1, two query heads on one kv
  // head.
  Tensor seq_starts = I32({4}, {0, 1, 1, 3});
  Tensor k = F32({3, 1, 1}, {5, 0, std::log(3.0f)});
  Tensor v = F32({3, 1, 1}, {7, 2, 10});
  Tensor q = F32({3, 2, 1}, {1, 2, 1, 2, 0, -1});
  Tensor out = Tensor::Empty(DType::kF32, {3, 2, 1});
  b.EncoderAttention(q, k, v, seq_starts, 2, 1.0f, &out);
  // Token 0 sees only itself: out = 7 for both heads.
  EXPECT_NEAR(out.data<float>()[0], 7.0f, 1e-6);
  EXPECT_NEAR(out.data<float>()[1], 7.0f, 1e-6);
  // Token 1 (first of its sequence) also sees token 2. Head 0, q = 1: scores (0, ln 3) ->
  // weights (1/4, 3/4): 2/4 + 30/4 = 8. Head 1, q = 2: (0, 2 ln 3) -> (1/10, 9/10): 9.2.
  EXPECT_NEAR(out.data<float>()[2], 8.0f, 1e-5);
  EXPECT_NEAR(out.data<float>()[3], 9.2f, 1e-5);
  // Token 2, head 0, q = 0: uniform, (2 + 10)/2 = 6. Head 1, q = -1: (0, -ln 3) -> (3/4, 1/4):
  // 1.5 + 2.5 = 4.
  EXPECT_NEAR(out.data<float>()[4], 6.0f, 1e-5);
  EXPECT_NEAR(out.data<float>()[5], 4.0f, 1e-5);

  // Scale 2 doubles the scores: token 1 head 0 becomes (0, 2 ln 3) -> 9.2.
  b.EncoderAttention(q, k, v, seq_starts, 2, 2.0f, &out);
  EXPECT_NEAR(out.data<float>()[2], 9.2f, 1e-5);
}

TEST(ReferenceBackendDeathTest, EncoderAttentionRejectsBadSeqStarts) {
  ReferenceBackend b;
  Tensor q = Tensor::Empty(DType::kF32, {3, 2, 4});
  Tensor kv = Tensor::Empty(DType::kF32, {3, 1, 4});
  Tensor out = Tensor::Empty(DType::kF32, {3, 2, 4});
  EXPECT_DEATH(b.EncoderAttention(q, kv, kv, I32({3}, {1, 2, 3}), 2, 1.0f, &out),
               "seq_starts\\[0\\]");
  EXPECT_DEATH(b.EncoderAttention(q, kv, kv, I32({3}, {0, 2, 2}), 2, 1.0f, &out),
               "seq_starts\\[num_seqs\\]");
  EXPECT_DEATH(b.EncoderAttention(q, kv, kv, I32({4}, {0, 2, 1, 3}), 2, 1.0f, &out),
               "seq_starts decreases at sequence 1");
  EXPECT_DEATH(b.EncoderAttention(q, kv, kv, I32({3}, {0, 1, 3}), 1, 1.0f, &out),
               "max_seq_len below the longest");
}

}  // namespace
}  // namespace brisk::backend
