// Shape and dtype checks of the Backend ops, shared by every backend. Each Check*Shapes function
// validates the arguments of one op with BRISK_CHECK (a mismatch between our own tensors is our
// bug) and returns the op's dimensions, so kernels never re-derive them. They read only tensor
// metadata (dtype, shape), never contents, so they work for host and device tensors alike;
// backends add their own checks on top: the CPU backends validate index contents
// (cpu/reference/op_checks.h), the CUDA backend device placement (cuda/device_op_checks.h).
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace brisk::backend {

// True for the weight dtypes that MatMul and Embedding accept (f32, bf16, f16).
bool IsFloatWeightDType(DType dtype);

// The dtype table every backend implements today: MatMul and Embedding take f32, bf16 or f16
// weights; every other op works on f32 only. A backend's Supports() returns this unless it
// supports more (or less).
bool SupportsFloatWeightOps(OpId op, DType weight_dtype);

struct RowDims {
  int64_t rows = 0;  // product of the outer dimensions
  int64_t dim = 0;   // last dimension
};
struct MatMulDims {
  int64_t m = 0;  // rows of x and y
  int64_t n = 0;  // rows of w, columns of y
  int64_t k = 0;  // shared inner dimension
};
struct RopeDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;
  int64_t max_positions = 0;  // rows of cos_sin
};
struct KvCacheDims {
  int64_t num_blocks = 0;
  int64_t block_size = 0;  // > 0
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
};
struct AttentionDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t num_seqs = 0;
  int64_t max_blocks_per_seq = 0;
  KvCacheDims cache;
};
struct QkvRopeWriteKvDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;  // query heads; qkv holds num_heads + 2 * cache.num_kv_heads heads
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;     // even, <= head_dim
  int64_t max_positions = 0;  // rows of cos_sin
  KvCacheDims cache;
};
struct EncoderAttentionDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // > 0, divides num_heads
  int64_t head_dim = 0;
  int64_t num_seqs = 0;  // seq_starts.dim(0) - 1
};
struct SwiGluMlpDims {
  int64_t rows = 0;    // rows of the residual stream
  int64_t hidden = 0;  // its width
  int64_t inter = 0;   // the MLP's intermediate width (gate_up has 2 * inter rows)
};
struct SampleTokensDims {
  int64_t rows = 0;
  int64_t vocab = 0;  // >= 1
};

// table: [vocab, hidden] f32/bf16/f16; ids: [num_tokens] i32; out: [num_tokens, hidden] f32.
// Returns {num_tokens, hidden}. The ids' values are not checked.
RowDims CheckEmbeddingShapes(const Tensor& table, const Tensor& ids, const Tensor& out);

// x: [m, k] f32; w: [n, k] f32/bf16/f16; bias: [n] f32 or nullptr; y: [m, n] f32
MatMulDims CheckMatMulShapes(const Tensor& x, const Tensor& w, const Tensor* bias,
                             const Tensor& y);

// x, out: [rows, dim] f32; weight: [dim] f32
RowDims CheckRmsNormShapes(const Tensor& x, const Tensor& weight, const Tensor& out);

// residual: [m, hidden] f32; norm_weight: [hidden] f32; gate_up: [2 * inter, hidden] and
// down: [hidden, inter] f32/bf16/f16; gate_up_bias: [2 * inter] f32 or nullptr; down_bias:
// [hidden] f32 or nullptr.
SwiGluMlpDims CheckSwiGluMlpShapes(const Tensor& residual, const Tensor& norm_weight,
                                   const Tensor& gate_up, const Tensor* gate_up_bias,
                                   const Tensor& down, const Tensor* down_bias);

// As CheckMatMulShapes for the product, with x [m, k] ([m, 2k] for the kSiluMul prologue), the
// kRmsNorm prologue's norm_weight [k] f32, and y not overlapping x. Returns {m, n, k}.
MatMulDims CheckFusedMatMulShapes(const Tensor& x, const Tensor& w, const Tensor* bias,
                                  const FusedMatMulParams& params, const Tensor& y);

// a, b, out: the same shape of rank >= 1, f32. Returns {numel / last dim, last dim}
// (rows 0 when the last dim is 0).
RowDims CheckSameShapeF32(const Tensor& a, const Tensor& b, const Tensor& out);

// gate_up: [rows, 2 * dim] f32; out: [rows, dim] f32, not overlapping gate_up's storage.
// Returns {rows, dim}.
RowDims CheckSiluMulShapes(const Tensor& gate_up, const Tensor& out);

// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
// cos_sin: [max_positions, rotary_dim] f32 with rotary_dim even and <= head_dim.
// The positions' values are not checked.
RopeDims CheckRopeShapes(const Tensor& x, const Tensor& positions, const Tensor& cos_sin);

// k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32, the same shape,
// block_size > 0
KvCacheDims CheckKvCacheShapes(const Tensor& k_cache, const Tensor& v_cache);

// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32; caches as in
// CheckKvCacheShapes. Returns the cache dims; num_tokens is slot_mapping.dim(0). The slots'
// values are not checked.
KvCacheDims CheckWriteKvCacheShapes(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                                    const Tensor& k_cache, const Tensor& v_cache);

// q_out: [num_tokens, num_heads, head_dim] f32; caches as in CheckKvCacheShapes with the same
// head_dim; qkv: [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim] f32, not overlapping
// q_out's storage; positions, slot_mapping: [num_tokens] i32; cos_sin: [max_positions,
// rotary_dim] f32 with rotary_dim even and <= head_dim; q_norm, k_norm: [head_dim] f32 or
// nullptr. The positions' and slots' values are not checked.
QkvRopeWriteKvDims CheckQkvRopeWriteKvShapes(const Tensor& qkv, const Tensor& positions,
                                             const Tensor& cos_sin, const Tensor& slot_mapping,
                                             const Tensor* q_norm, const Tensor* k_norm,
                                             const Tensor& q_out, const Tensor& k_cache,
                                             const Tensor& v_cache);

// q, out: [num_tokens, num_heads, head_dim] f32 with num_heads a multiple of num_kv_heads;
// caches as in CheckKvCacheShapes with the same head_dim; meta: query_start_loc [num_seqs + 1]
// i32, context_lens [num_seqs] i32, block_tables [num_seqs, max_blocks_per_seq] i32, and
// num_seqs > 0 unless num_tokens == 0; params.sliding_window >= 0. The metadata's values are
// not checked.
AttentionDims CheckPagedAttentionShapes(const Tensor& q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& meta,
                                        const AttentionParams& params, const Tensor& out);

// x, out: [rows, dim] f32; weight, bias: [dim] f32
RowDims CheckLayerNormShapes(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& out);

// x, out: the same shape of any rank, f32. Returns the number of elements.
int64_t CheckGeluShapes(const Tensor& x, const Tensor& out);

// q, out: [num_tokens, num_heads, head_dim] f32; k, v: [num_tokens, num_kv_heads, head_dim] f32
// with num_kv_heads > 0 dividing num_heads; seq_starts: [num_seqs + 1] i32 with num_seqs > 0
// unless num_tokens == 0; max_seq_len >= 0, and > 0 when num_tokens > 0. The values of
// seq_starts are not checked (nor that max_seq_len is the true longest sequence).
EncoderAttentionDims CheckEncoderAttentionShapes(const Tensor& q, const Tensor& k, const Tensor& v,
                                                 const Tensor& seq_starts, int max_seq_len,
                                                 const Tensor& out);

// Columns of SampleTokens' params: {temperature, top_k, top_p, min_p, u} (backend.h).
inline constexpr int64_t kSampleParamsWidth = 5;

// logits: [rows, vocab] f32 with vocab >= 1; params: [rows, kSampleParamsWidth] f32;
// ids: [rows] i32. The params' values are not checked.
SampleTokensDims CheckSampleTokensShapes(const Tensor& logits, const Tensor& params,
                                         const Tensor& ids);

}  // namespace brisk::backend
