// Shape and dtype checks of the Backend ops; see op_shapes.h.
#include "backend/op_shapes.h"

#include "base/check.h"

namespace brisk::backend {
namespace {

using tensor::Shape;
using tensor::ShapeToString;

void CheckF32(const Tensor& t, const char* what) {
  BRISK_CHECK(t.dtype() == DType::kF32)
      << what << " must be f32, got " << tensor::DTypeName(t.dtype());
}

void CheckI32Vector(const Tensor& t, const char* what) {
  BRISK_CHECK(t.dtype() == DType::kI32 && t.rank() == 1)
      << what << " must be a 1-D i32 tensor, got " << tensor::DTypeName(t.dtype()) << " "
      << ShapeToString(t.shape());
}

void CheckFloatWeight(const Tensor& t, const char* what) {
  BRISK_CHECK(IsFloatWeightDType(t.dtype())) << what << " dtype " << tensor::DTypeName(t.dtype());
}

// Fails when the storage of `a` and `b` overlaps (empty tensors overlap nothing). Compares
// addresses only, so it holds for device tensors too.
void CheckNoOverlap(const Tensor& a, const Tensor& b, const char* what) {
  if (a.empty() || b.empty()) return;
  const auto* a_begin = static_cast<const char*>(a.raw());
  const auto* b_begin = static_cast<const char*>(b.raw());
  BRISK_CHECK(a_begin + a.size_bytes() <= b_begin || b_begin + b.size_bytes() <= a_begin)
      << what << " overlap";
}

}  // namespace

bool IsFloatWeightDType(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16;
}

bool SupportsFloatWeightOps(OpId op, DType weight_dtype) {
  switch (op) {
    case OpId::kEmbedding:
    case OpId::kMatMul:
    case OpId::kFusedMatMul:
    case OpId::kSwiGluMlp:
      return IsFloatWeightDType(weight_dtype);
    case OpId::kRmsNorm:
    case OpId::kAddRmsNorm:
    case OpId::kRope:
    case OpId::kSiluMul:
    case OpId::kAdd:
    case OpId::kWriteKvCache:
    case OpId::kPagedAttention:
    case OpId::kLayerNorm:
    case OpId::kGelu:
    case OpId::kEncoderAttention:
    case OpId::kQkvRopeWriteKv:
    case OpId::kSampleTokens:
    case OpId::kQkvRopeAttention:
      return weight_dtype == DType::kF32;
  }
  return false;
}

RowDims CheckEmbeddingShapes(const Tensor& table, const Tensor& ids, const Tensor& out) {
  CheckFloatWeight(table, "embedding table");
  BRISK_CHECK_EQ(table.rank(), 2) << "embedding table";
  CheckI32Vector(ids, "embedding ids");
  CheckF32(out, "embedding out");
  RowDims d{.rows = ids.dim(0), .dim = table.dim(1)};
  BRISK_CHECK(out.rank() == 2 && out.dim(0) == d.rows && out.dim(1) == d.dim)
      << "embedding out " << ShapeToString(out.shape());
  return d;
}

MatMulDims CheckMatMulShapes(const Tensor& x, const Tensor& w, const Tensor* bias,
                             const Tensor& y) {
  CheckF32(x, "matmul x");
  CheckF32(y, "matmul y");
  CheckFloatWeight(w, "matmul weight");
  BRISK_CHECK(x.rank() == 2 && w.rank() == 2 && y.rank() == 2)
      << "matmul ranks: x " << ShapeToString(x.shape()) << " w " << ShapeToString(w.shape())
      << " y " << ShapeToString(y.shape());
  MatMulDims d{.m = x.dim(0), .n = w.dim(0), .k = x.dim(1)};
  BRISK_CHECK_EQ(w.dim(1), d.k) << "matmul inner dimension";
  BRISK_CHECK(y.dim(0) == d.m && y.dim(1) == d.n) << "matmul y " << ShapeToString(y.shape());
  if (bias != nullptr) {
    CheckF32(*bias, "matmul bias");
    BRISK_CHECK(bias->rank() == 1 && bias->dim(0) == d.n)
        << "matmul bias " << ShapeToString(bias->shape());
  }
  return d;
}

SwiGluMlpDims CheckSwiGluMlpShapes(const Tensor& residual, const Tensor& norm_weight,
                                   const Tensor& gate_up, const Tensor* gate_up_bias,
                                   const Tensor& down, const Tensor* down_bias) {
  CheckF32(residual, "swiglu_mlp residual");
  CheckF32(norm_weight, "swiglu_mlp norm weight");
  CheckFloatWeight(gate_up, "swiglu_mlp gate_up");
  CheckFloatWeight(down, "swiglu_mlp down");
  BRISK_CHECK(residual.rank() == 2 && gate_up.rank() == 2 && down.rank() == 2)
      << "swiglu_mlp ranks: residual " << ShapeToString(residual.shape()) << " gate_up "
      << ShapeToString(gate_up.shape()) << " down " << ShapeToString(down.shape());
  SwiGluMlpDims d{.rows = residual.dim(0), .hidden = residual.dim(1), .inter = down.dim(1)};
  BRISK_CHECK(norm_weight.rank() == 1 && norm_weight.dim(0) == d.hidden)
      << "swiglu_mlp norm weight " << ShapeToString(norm_weight.shape());
  BRISK_CHECK(gate_up.dim(0) == 2 * d.inter && gate_up.dim(1) == d.hidden &&
              down.dim(0) == d.hidden)
      << "swiglu_mlp gate_up " << ShapeToString(gate_up.shape()) << " down "
      << ShapeToString(down.shape()) << " for residual " << ShapeToString(residual.shape())
      << ": want [2 * inter, hidden] and [hidden, inter]";
  if (gate_up_bias != nullptr) {
    CheckF32(*gate_up_bias, "swiglu_mlp gate_up bias");
    BRISK_CHECK(gate_up_bias->rank() == 1 && gate_up_bias->dim(0) == 2 * d.inter)
        << "swiglu_mlp gate_up bias " << ShapeToString(gate_up_bias->shape());
  }
  if (down_bias != nullptr) {
    CheckF32(*down_bias, "swiglu_mlp down bias");
    BRISK_CHECK(down_bias->rank() == 1 && down_bias->dim(0) == d.hidden)
        << "swiglu_mlp down bias " << ShapeToString(down_bias->shape());
  }
  return d;
}

MatMulDims CheckFusedMatMulShapes(const Tensor& x, const Tensor& w, const Tensor* bias,
                                  const FusedMatMulParams& params, const Tensor& y) {
  CheckF32(x, "fused_matmul x");
  CheckF32(y, "fused_matmul y");
  CheckFloatWeight(w, "fused_matmul weight");
  BRISK_CHECK(x.rank() == 2 && w.rank() == 2 && y.rank() == 2)
      << "fused_matmul ranks: x " << ShapeToString(x.shape()) << " w " << ShapeToString(w.shape())
      << " y " << ShapeToString(y.shape());
  const int64_t input_cols = params.prologue == MatMulPrologue::kSiluMul ? 2 * w.dim(1) : w.dim(1);
  BRISK_CHECK_EQ(x.dim(1), input_cols) << "fused_matmul x " << ShapeToString(x.shape())
                                       << " for weight " << ShapeToString(w.shape());
  MatMulDims d{.m = x.dim(0), .n = w.dim(0), .k = w.dim(1)};
  BRISK_CHECK(y.dim(0) == d.m && y.dim(1) == d.n)
      << "fused_matmul y " << ShapeToString(y.shape());
  if (bias != nullptr) {
    CheckF32(*bias, "fused_matmul bias");
    BRISK_CHECK(bias->rank() == 1 && bias->dim(0) == d.n)
        << "fused_matmul bias " << ShapeToString(bias->shape());
  }
  if (params.prologue == MatMulPrologue::kRmsNorm) {
    BRISK_CHECK(params.norm_weight != nullptr) << "fused_matmul: kRmsNorm without a norm weight";
    CheckF32(*params.norm_weight, "fused_matmul norm weight");
    BRISK_CHECK(params.norm_weight->rank() == 1 && params.norm_weight->dim(0) == d.k)
        << "fused_matmul norm weight " << ShapeToString(params.norm_weight->shape());
  }
  CheckNoOverlap(x, y, "fused_matmul x and y");
  return d;
}

RowDims CheckRmsNormShapes(const Tensor& x, const Tensor& weight, const Tensor& out) {
  CheckF32(x, "rms_norm x");
  CheckF32(weight, "rms_norm weight");
  CheckF32(out, "rms_norm out");
  BRISK_CHECK(x.rank() == 2 && x.shape() == out.shape())
      << "rms_norm x " << ShapeToString(x.shape()) << " out " << ShapeToString(out.shape());
  BRISK_CHECK(weight.rank() == 1 && weight.dim(0) == x.dim(1))
      << "rms_norm weight " << ShapeToString(weight.shape());
  return RowDims{.rows = x.dim(0), .dim = x.dim(1)};
}

RowDims CheckSameShapeF32(const Tensor& a, const Tensor& b, const Tensor& out) {
  CheckF32(a, "a");
  CheckF32(b, "b");
  CheckF32(out, "out");
  BRISK_CHECK(a.rank() >= 1 && a.shape() == b.shape() && a.shape() == out.shape())
      << "shapes " << ShapeToString(a.shape()) << ", " << ShapeToString(b.shape()) << ", "
      << ShapeToString(out.shape());
  const int64_t dim = a.dim(a.rank() - 1);
  return RowDims{.rows = dim == 0 ? 0 : a.numel() / dim, .dim = dim};
}

RowDims CheckSiluMulShapes(const Tensor& gate_up, const Tensor& out) {
  CheckF32(gate_up, "silu_mul gate_up");
  CheckF32(out, "silu_mul out");
  BRISK_CHECK(gate_up.rank() == 2 && out.rank() == 2 && gate_up.dim(0) == out.dim(0) &&
              gate_up.dim(1) == 2 * out.dim(1))
      << "silu_mul gate_up " << ShapeToString(gate_up.shape()) << " out "
      << ShapeToString(out.shape()) << ": want [rows, 2 * dim] and [rows, dim]";
  CheckNoOverlap(gate_up, out, "silu_mul gate_up and out");
  return RowDims{.rows = out.dim(0), .dim = out.dim(1)};
}

RopeDims CheckRopeShapes(const Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  CheckF32(x, "rope x");
  CheckF32(cos_sin, "rope cos_sin");
  CheckI32Vector(positions, "rope positions");
  BRISK_CHECK(x.rank() == 3 && cos_sin.rank() == 2)
      << "rope x " << ShapeToString(x.shape()) << " cos_sin " << ShapeToString(cos_sin.shape());
  RopeDims d{.num_tokens = x.dim(0),
             .num_heads = x.dim(1),
             .head_dim = x.dim(2),
             .rotary_dim = cos_sin.dim(1),
             .max_positions = cos_sin.dim(0)};
  BRISK_CHECK_EQ(positions.dim(0), d.num_tokens) << "rope positions";
  BRISK_CHECK(d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim)
      << "rope rotary_dim " << d.rotary_dim << " head_dim " << d.head_dim;
  return d;
}

KvCacheDims CheckKvCacheShapes(const Tensor& k_cache, const Tensor& v_cache) {
  CheckF32(k_cache, "k_cache");
  CheckF32(v_cache, "v_cache");
  BRISK_CHECK(k_cache.rank() == 4 && k_cache.shape() == v_cache.shape())
      << "kv caches " << ShapeToString(k_cache.shape()) << " and "
      << ShapeToString(v_cache.shape());
  BRISK_CHECK_GT(k_cache.dim(1), 0) << "block_size";
  return KvCacheDims{.num_blocks = k_cache.dim(0),
                     .block_size = k_cache.dim(1),
                     .num_kv_heads = k_cache.dim(2),
                     .head_dim = k_cache.dim(3)};
}

KvCacheDims CheckWriteKvCacheShapes(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                                    const Tensor& k_cache, const Tensor& v_cache) {
  const KvCacheDims c = CheckKvCacheShapes(k_cache, v_cache);
  CheckF32(k, "k");
  CheckF32(v, "v");
  CheckI32Vector(slot_mapping, "slot_mapping");
  const Shape expected = {slot_mapping.dim(0), c.num_kv_heads, c.head_dim};
  BRISK_CHECK(k.shape() == expected && v.shape() == expected)
      << "k " << ShapeToString(k.shape()) << " v " << ShapeToString(v.shape()) << " expected "
      << ShapeToString(expected);
  return c;
}

QkvRopeWriteKvDims CheckQkvRopeWriteKvShapes(const Tensor& qkv, const Tensor& positions,
                                             const Tensor& cos_sin, const Tensor& slot_mapping,
                                             const Tensor* q_norm, const Tensor* k_norm,
                                             const Tensor& q_out, const Tensor& k_cache,
                                             const Tensor& v_cache) {
  QkvRopeWriteKvDims d;
  d.cache = CheckKvCacheShapes(k_cache, v_cache);
  CheckF32(qkv, "qkv");
  CheckF32(q_out, "q_out");
  CheckF32(cos_sin, "qkv_rope cos_sin");
  CheckI32Vector(positions, "qkv_rope positions");
  CheckI32Vector(slot_mapping, "slot_mapping");
  BRISK_CHECK(q_out.rank() == 3 && qkv.rank() == 2 && cos_sin.rank() == 2)
      << "qkv " << ShapeToString(qkv.shape()) << " q_out " << ShapeToString(q_out.shape())
      << " cos_sin " << ShapeToString(cos_sin.shape());
  d.num_tokens = q_out.dim(0);
  d.num_heads = q_out.dim(1);
  d.head_dim = q_out.dim(2);
  d.rotary_dim = cos_sin.dim(1);
  d.max_positions = cos_sin.dim(0);
  BRISK_CHECK_EQ(d.head_dim, d.cache.head_dim) << "q_out head_dim vs the caches'";
  const Shape expected_qkv = {d.num_tokens, (d.num_heads + 2 * d.cache.num_kv_heads) * d.head_dim};
  BRISK_CHECK(qkv.shape() == expected_qkv)
      << "qkv " << ShapeToString(qkv.shape()) << " expected " << ShapeToString(expected_qkv);
  BRISK_CHECK(positions.dim(0) == d.num_tokens && slot_mapping.dim(0) == d.num_tokens)
      << "positions " << positions.dim(0) << " and slot_mapping " << slot_mapping.dim(0)
      << " for " << d.num_tokens << " tokens";
  BRISK_CHECK(d.rotary_dim % 2 == 0 && d.rotary_dim <= d.head_dim)
      << "qkv_rope rotary_dim " << d.rotary_dim << " head_dim " << d.head_dim;
  for (const Tensor* norm : {q_norm, k_norm}) {
    if (norm == nullptr) continue;
    CheckF32(*norm, "qk norm weight");
    BRISK_CHECK(norm->rank() == 1 && norm->dim(0) == d.head_dim)
        << "qk norm weight " << ShapeToString(norm->shape()) << " for head_dim " << d.head_dim;
  }
  CheckNoOverlap(qkv, q_out, "qkv and q_out");
  return d;
}

AttentionDims CheckPagedAttentionShapes(const Tensor& q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& meta,
                                        const AttentionParams& params, const Tensor& out) {
  AttentionDims d;
  d.cache = CheckKvCacheShapes(k_cache, v_cache);
  CheckF32(q, "attention q");
  CheckF32(out, "attention out");
  BRISK_CHECK(q.rank() == 3 && q.shape() == out.shape())
      << "attention q " << ShapeToString(q.shape()) << " out " << ShapeToString(out.shape());
  d.num_tokens = q.dim(0);
  d.num_heads = q.dim(1);
  d.head_dim = q.dim(2);
  BRISK_CHECK_EQ(d.head_dim, d.cache.head_dim) << "attention head_dim";
  BRISK_CHECK(d.cache.num_kv_heads > 0 && d.num_heads % d.cache.num_kv_heads == 0)
      << "num_heads " << d.num_heads << " not a multiple of num_kv_heads " << d.cache.num_kv_heads;
  BRISK_CHECK_GE(params.sliding_window, 0) << "sliding_window";

  CheckI32Vector(meta.query_start_loc, "query_start_loc");
  CheckI32Vector(meta.context_lens, "context_lens");
  d.num_seqs = meta.context_lens.dim(0);
  BRISK_CHECK_EQ(meta.query_start_loc.dim(0), d.num_seqs + 1) << "query_start_loc length";
  BRISK_CHECK(meta.block_tables.dtype() == DType::kI32 && meta.block_tables.rank() == 2 &&
              meta.block_tables.dim(0) == d.num_seqs)
      << "block_tables " << ShapeToString(meta.block_tables.shape());
  d.max_blocks_per_seq = meta.block_tables.dim(1);
  BRISK_CHECK(d.num_tokens == 0 || d.num_seqs > 0) << d.num_tokens << " query rows, no sequence";
  return d;
}

RowDims CheckLayerNormShapes(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& out) {
  CheckF32(x, "layer_norm x");
  CheckF32(weight, "layer_norm weight");
  CheckF32(bias, "layer_norm bias");
  CheckF32(out, "layer_norm out");
  BRISK_CHECK(x.rank() == 2 && x.shape() == out.shape())
      << "layer_norm x " << ShapeToString(x.shape()) << " out " << ShapeToString(out.shape());
  BRISK_CHECK(weight.rank() == 1 && weight.dim(0) == x.dim(1))
      << "layer_norm weight " << ShapeToString(weight.shape());
  BRISK_CHECK(bias.rank() == 1 && bias.dim(0) == x.dim(1))
      << "layer_norm bias " << ShapeToString(bias.shape());
  return RowDims{.rows = x.dim(0), .dim = x.dim(1)};
}

int64_t CheckGeluShapes(const Tensor& x, const Tensor& out) {
  CheckF32(x, "gelu x");
  CheckF32(out, "gelu out");
  BRISK_CHECK(x.shape() == out.shape())
      << "gelu x " << ShapeToString(x.shape()) << " out " << ShapeToString(out.shape());
  return x.numel();
}

EncoderAttentionDims CheckEncoderAttentionShapes(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const Tensor& seq_starts, int max_seq_len,
                                                 const Tensor& out) {
  CheckF32(q, "encoder_attention q");
  CheckF32(k, "encoder_attention k");
  CheckF32(v, "encoder_attention v");
  CheckF32(out, "encoder_attention out");
  BRISK_CHECK(q.rank() == 3 && q.shape() == out.shape())
      << "encoder_attention q " << ShapeToString(q.shape()) << " out "
      << ShapeToString(out.shape());
  BRISK_CHECK(k.rank() == 3 && k.shape() == v.shape())
      << "encoder_attention k " << ShapeToString(k.shape()) << " v " << ShapeToString(v.shape());
  EncoderAttentionDims d{.num_tokens = q.dim(0),
                         .num_heads = q.dim(1),
                         .num_kv_heads = k.dim(1),
                         .head_dim = q.dim(2)};
  BRISK_CHECK(k.dim(0) == d.num_tokens && k.dim(2) == d.head_dim)
      << "encoder_attention k " << ShapeToString(k.shape()) << " for q "
      << ShapeToString(q.shape());
  BRISK_CHECK(d.num_kv_heads > 0 && d.num_heads % d.num_kv_heads == 0)
      << "num_heads " << d.num_heads << " not a multiple of num_kv_heads " << d.num_kv_heads;
  CheckI32Vector(seq_starts, "seq_starts");
  BRISK_CHECK_GE(seq_starts.dim(0), 1) << "seq_starts length";
  d.num_seqs = seq_starts.dim(0) - 1;
  BRISK_CHECK(d.num_tokens == 0 || d.num_seqs > 0) << d.num_tokens << " tokens, no sequence";
  BRISK_CHECK(max_seq_len >= 0 && (d.num_tokens == 0 || max_seq_len > 0))
      << "max_seq_len " << max_seq_len << " for " << d.num_tokens << " tokens";
  return d;
}

SampleTokensDims CheckSampleTokensShapes(const Tensor& logits, const Tensor& params,
                                         const Tensor& ids) {
  CheckF32(logits, "sample_tokens logits");
  CheckF32(params, "sample_tokens params");
  CheckI32Vector(ids, "sample_tokens ids");
  BRISK_CHECK(logits.rank() == 2 && logits.dim(1) >= 1)
      << "sample_tokens logits " << ShapeToString(logits.shape()) << ": want [rows, vocab >= 1]";
  SampleTokensDims d{.rows = logits.dim(0), .vocab = logits.dim(1)};
  BRISK_CHECK(params.rank() == 2 && params.dim(0) == d.rows &&
              params.dim(1) == kSampleParamsWidth)
      << "sample_tokens params " << ShapeToString(params.shape()) << " for " << d.rows
      << " rows: want [rows, " << kSampleParamsWidth << "]";
  BRISK_CHECK_EQ(ids.dim(0), d.rows) << "sample_tokens ids";
  return d;
}

}  // namespace brisk::backend
