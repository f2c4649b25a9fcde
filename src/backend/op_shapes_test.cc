// Tests of the shared op shape checks: the dims they return and the fatal messages on
// mismatched shapes or dtypes. Only metadata is read, so uninitialized tensors suffice.
#include "backend/op_shapes.h"

#include <gtest/gtest.h>

namespace brisk::backend {
namespace {

Tensor F32(tensor::Shape shape) { return Tensor::Empty(DType::kF32, std::move(shape)); }
Tensor I32(tensor::Shape shape) { return Tensor::Empty(DType::kI32, std::move(shape)); }

TEST(OpShapesTest, ReturnsTheDimsOfValidArguments) {
  const MatMulDims mm = CheckMatMulShapes(F32({3, 5}), Tensor::Empty(DType::kBF16, {7, 5}),
                                          nullptr, F32({3, 7}));
  EXPECT_EQ(mm.m, 3);
  EXPECT_EQ(mm.n, 7);
  EXPECT_EQ(mm.k, 5);

  const RowDims emb = CheckEmbeddingShapes(Tensor::Empty(DType::kF16, {11, 4}), I32({6}),
                                           F32({6, 4}));
  EXPECT_EQ(emb.rows, 6);
  EXPECT_EQ(emb.dim, 4);

  const RowDims same = CheckSameShapeF32(F32({2, 3, 8}), F32({2, 3, 8}), F32({2, 3, 8}));
  EXPECT_EQ(same.rows, 6);
  EXPECT_EQ(same.dim, 8);

  const RopeDims rope = CheckRopeShapes(F32({4, 2, 16}), I32({4}), F32({32, 8}));
  EXPECT_EQ(rope.num_tokens, 4);
  EXPECT_EQ(rope.num_heads, 2);
  EXPECT_EQ(rope.head_dim, 16);
  EXPECT_EQ(rope.rotary_dim, 8);
  EXPECT_EQ(rope.max_positions, 32);

  AttentionMetadata meta{.query_start_loc = I32({3}),
                         .context_lens = I32({2}),
                         .block_tables = I32({2, 6})};
  const AttentionDims att = CheckPagedAttentionShapes(F32({5, 4, 8}), F32({9, 16, 2, 8}),
                                                      F32({9, 16, 2, 8}), meta, {}, F32({5, 4, 8}));
  EXPECT_EQ(att.num_tokens, 5);
  EXPECT_EQ(att.num_heads, 4);
  EXPECT_EQ(att.num_seqs, 2);
  EXPECT_EQ(att.max_blocks_per_seq, 6);
  EXPECT_EQ(att.cache.num_blocks, 9);
  EXPECT_EQ(att.cache.block_size, 16);
  EXPECT_EQ(att.cache.num_kv_heads, 2);

  const RowDims ln = CheckLayerNormShapes(F32({6, 5}), F32({5}), F32({5}), F32({6, 5}));
  EXPECT_EQ(ln.rows, 6);
  EXPECT_EQ(ln.dim, 5);

  EXPECT_EQ(CheckGeluShapes(F32({2, 3, 7}), F32({2, 3, 7})), 42);
  EXPECT_EQ(CheckGeluShapes(F32({0, 4}), F32({0, 4})), 0);

  const EncoderAttentionDims enc = CheckEncoderAttentionShapes(
      F32({9, 6, 16}), F32({9, 2, 16}), F32({9, 2, 16}), I32({4}), 5, F32({9, 6, 16}));
  EXPECT_EQ(enc.num_tokens, 9);
  EXPECT_EQ(enc.num_heads, 6);
  EXPECT_EQ(enc.num_kv_heads, 2);
  EXPECT_EQ(enc.head_dim, 16);
  EXPECT_EQ(enc.num_seqs, 3);

  // An empty batch needs neither a sequence nor a positive max_seq_len.
  const EncoderAttentionDims empty = CheckEncoderAttentionShapes(
      F32({0, 4, 8}), F32({0, 4, 8}), F32({0, 4, 8}), I32({1}), 0, F32({0, 4, 8}));
  EXPECT_EQ(empty.num_tokens, 0);
  EXPECT_EQ(empty.num_seqs, 0);
}

TEST(OpShapesDeathTest, MismatchesFailWithTheArgumentNamed) {
  EXPECT_DEATH(CheckMatMulShapes(F32({3, 5}), F32({7, 4}), nullptr, F32({3, 7})),
               "matmul inner dimension");
  EXPECT_DEATH(CheckMatMulShapes(F32({3, 5}), I32({7, 5}), nullptr, F32({3, 7})),
               "matmul weight dtype");
  const Tensor norm = F32({5});
  EXPECT_DEATH(CheckFusedMatMulShapes(F32({3, 5}), F32({7, 5}), nullptr,
                                      {.prologue = MatMulPrologue::kSiluMul}, F32({3, 7})),
               "fused_matmul x \\[3, 5\\] for weight \\[7, 5\\]");
  EXPECT_DEATH(CheckFusedMatMulShapes(F32({3, 5}), F32({7, 5}), nullptr,
                                      {.prologue = MatMulPrologue::kRmsNorm}, F32({3, 7})),
               "kRmsNorm without a norm weight");
  EXPECT_DEATH(CheckFusedMatMulShapes(F32({3, 4}), F32({7, 5}), nullptr,
                                      {.prologue = MatMulPrologue::kRmsNorm, .norm_weight = &norm},
                                      F32({3, 7})),
               "fused_matmul x");
  EXPECT_DEATH(CheckSwiGluMlpShapes(F32({3, 8}), F32({8}), F32({12, 8}), nullptr, F32({8, 5}),
                                    nullptr),
               "swiglu_mlp gate_up \\[12, 8\\] down \\[8, 5\\]");
  EXPECT_DEATH(CheckSameShapeF32(F32({2, 3}), I32({2, 3}), F32({2, 3})), "b must be f32");
  EXPECT_DEATH(CheckRopeShapes(F32({4, 2, 16}), I32({4}), F32({32, 7})), "rope rotary_dim 7");
  EXPECT_DEATH(CheckWriteKvCacheShapes(F32({3, 2, 8}), F32({3, 2, 8}), I32({2}),
                                       F32({9, 16, 2, 8}), F32({9, 16, 2, 8})),
               "expected");
  AttentionMetadata meta{.query_start_loc = I32({3}),
                         .context_lens = I32({2}),
                         .block_tables = I32({2, 6})};
  EXPECT_DEATH(CheckPagedAttentionShapes(F32({5, 3, 8}), F32({9, 16, 2, 8}), F32({9, 16, 2, 8}),
                                         meta, {}, F32({5, 3, 8})),
               "not a multiple of num_kv_heads");

  EXPECT_DEATH(CheckLayerNormShapes(F32({6, 5}), F32({5}), F32({4}), F32({6, 5})),
               "layer_norm bias");
  EXPECT_DEATH(CheckLayerNormShapes(F32({6, 5}), F32({5}), F32({5}), F32({5, 6})),
               "layer_norm x");
  EXPECT_DEATH(CheckGeluShapes(F32({2, 3}), F32({3, 2})), "gelu x");
  EXPECT_DEATH(CheckGeluShapes(I32({2, 3}), I32({2, 3})), "gelu x must be f32");

  const Tensor q = F32({9, 6, 16});
  const Tensor kv = F32({9, 2, 16});
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, F32({9, 4, 16}), F32({9, 4, 16}), I32({4}), 5, q),
               "not a multiple of num_kv_heads");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, F32({8, 2, 16}), F32({8, 2, 16}), I32({4}), 5, q),
               "encoder_attention k");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, kv, F32({9, 2, 8}), I32({4}), 5, q),
               "encoder_attention k");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, kv, kv, F32({4}), 5, q),
               "seq_starts must be a 1-D i32");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, kv, kv, I32({1}), 5, q), "9 tokens, no sequence");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, kv, kv, I32({4}), 0, q), "max_seq_len 0");
  EXPECT_DEATH(CheckEncoderAttentionShapes(q, kv, kv, I32({4}), 5, F32({9, 6, 8})),
               "encoder_attention q");
}

TEST(OpShapesTest, SiluMulTakesTheFusedGateUpLayout) {
  const RowDims d = CheckSiluMulShapes(F32({3, 10}), F32({3, 5}));
  EXPECT_EQ(d.rows, 3);
  EXPECT_EQ(d.dim, 5);
  EXPECT_EQ(CheckSiluMulShapes(F32({0, 8}), F32({0, 4})).rows, 0);
}

TEST(OpShapesDeathTest, SiluMulRejectsUnfusedShapesAndAliasing) {
  EXPECT_DEATH(CheckSiluMulShapes(F32({3, 5}), F32({3, 5})), "want \\[rows, 2 \\* dim\\]");
  EXPECT_DEATH(CheckSiluMulShapes(F32({3, 10}), F32({2, 5})), "silu_mul gate_up");
  EXPECT_DEATH(CheckSiluMulShapes(F32({3, 10}), I32({3, 5})), "silu_mul out must be f32");
  // out as the first rows of gate_up's own storage.
  const Tensor gate_up = F32({4, 8});
  const Tensor inside = gate_up.Reshape({8, 4}).Slice(0, 4);
  EXPECT_DEATH(CheckSiluMulShapes(gate_up, inside), "overlap");
}

TEST(OpShapesTest, QkvRopeWriteKvReturnsItsDims) {
  // 5 tokens, 4 query heads, 2 kv heads, head_dim 8, rotary_dim 6, 32 positions.
  const Tensor norm = F32({8});
  const QkvRopeWriteKvDims d =
      CheckQkvRopeWriteKvShapes(F32({5, 64}), I32({5}), F32({32, 6}), I32({5}), &norm, nullptr,
                                F32({5, 4, 8}), F32({3, 16, 2, 8}), F32({3, 16, 2, 8}));
  EXPECT_EQ(d.num_tokens, 5);
  EXPECT_EQ(d.num_heads, 4);
  EXPECT_EQ(d.head_dim, 8);
  EXPECT_EQ(d.rotary_dim, 6);
  EXPECT_EQ(d.max_positions, 32);
  EXPECT_EQ(d.cache.num_kv_heads, 2);
  EXPECT_EQ(d.cache.num_blocks, 3);
  EXPECT_EQ(d.cache.block_size, 16);
}

TEST(OpShapesDeathTest, QkvRopeWriteKvMismatchesFailWithTheArgumentNamed) {
  const Tensor cache = F32({3, 16, 2, 8});
  const Tensor q_out = F32({5, 4, 8});
  auto check = [&](const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                   const Tensor& slots, const Tensor* q_norm, const Tensor& q) {
    CheckQkvRopeWriteKvShapes(qkv, positions, cos_sin, slots, q_norm, nullptr, q, cache, cache);
  };
  // qkv one head short (3 kv-sized heads instead of 4 + 2 + 2 = 8).
  EXPECT_DEATH(check(F32({5, 56}), I32({5}), F32({32, 6}), I32({5}), nullptr, q_out),
               "qkv \\[5, 56\\] expected \\[5, 64\\]");
  EXPECT_DEATH(check(F32({5, 64}), I32({4}), F32({32, 6}), I32({5}), nullptr, q_out),
               "positions 4 and slot_mapping 5");
  EXPECT_DEATH(check(F32({5, 64}), I32({5}), F32({32, 6}), F32({5}), nullptr, q_out),
               "slot_mapping must be a 1-D i32");
  EXPECT_DEATH(check(F32({5, 64}), I32({5}), F32({32, 10}), I32({5}), nullptr, q_out),
               "rotary_dim 10 head_dim 8");
  EXPECT_DEATH(check(F32({5, 64}), I32({5}), F32({32, 5}), I32({5}), nullptr, q_out),
               "rotary_dim 5");
  const Tensor short_norm = F32({7});
  EXPECT_DEATH(check(F32({5, 64}), I32({5}), F32({32, 6}), I32({5}), &short_norm, q_out),
               "qk norm weight");
  EXPECT_DEATH(check(F32({5, 80}), I32({5}), F32({32, 6}), I32({5}), nullptr, F32({5, 4, 10})),
               "q_out head_dim");
  // q_out written over the projection it reads.
  const Tensor qkv = F32({5, 64});
  EXPECT_DEATH(check(qkv, I32({5}), F32({32, 6}), I32({5}), nullptr,
                     qkv.Reshape({10, 4, 8}).Slice(5, 10)),
               "qkv and q_out overlap");
}

TEST(OpShapesTest, SampleTokensReturnsRowsAndVocab) {
  const SampleTokensDims d = CheckSampleTokensShapes(F32({3, 1000}), F32({3, 5}), I32({3}));
  EXPECT_EQ(d.rows, 3);
  EXPECT_EQ(d.vocab, 1000);
  EXPECT_EQ(CheckSampleTokensShapes(F32({0, 7}), F32({0, 5}), I32({0})).rows, 0);
}

TEST(OpShapesDeathTest, SampleTokensMismatchesFailWithTheArgumentNamed) {
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3, 0}), F32({3, 5}), I32({3})), "vocab >= 1");
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3}), F32({3, 5}), I32({3})), "sample_tokens logits");
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3, 8}), F32({3, 4}), I32({3})),
               "sample_tokens params \\[3, 4\\]");
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3, 8}), F32({2, 5}), I32({3})),
               "sample_tokens params");
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3, 8}), F32({3, 5}), I32({2})), "sample_tokens ids");
  EXPECT_DEATH(CheckSampleTokensShapes(F32({3, 8}), F32({3, 5}), F32({3})),
               "sample_tokens ids must be a 1-D i32");
  EXPECT_DEATH(CheckSampleTokensShapes(I32({3, 8}), F32({3, 5}), I32({3})),
               "sample_tokens logits must be f32");
}

}  // namespace
}  // namespace brisk::backend

namespace brisk::backend {
namespace {

TEST(SupportsFloatWeightOpsTest, MatMulsAndEmbeddingTakeFloatWeightsTheRestF32) {
  for (OpId op : kAllOps) {
    const bool weighted =
        op == OpId::kMatMul || op == OpId::kFusedMatMul || op == OpId::kSwiGluMlp ||
        op == OpId::kEmbedding;
    EXPECT_TRUE(SupportsFloatWeightOps(op, DType::kF32)) << OpName(op);
    EXPECT_EQ(SupportsFloatWeightOps(op, DType::kBF16), weighted) << OpName(op);
    EXPECT_EQ(SupportsFloatWeightOps(op, DType::kF16), weighted) << OpName(op);
    EXPECT_FALSE(SupportsFloatWeightOps(op, DType::kI32)) << OpName(op);
  }
}

}  // namespace
}  // namespace brisk::backend
