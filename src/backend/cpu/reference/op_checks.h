// Shape, dtype and index checks shared by the CPU backends. Each Check* function validates the
// arguments of one Backend op with BRISK_CHECK (a mismatch between our own tensors is our bug)
// and returns the op's dimensions, so kernels never re-derive them. Index contents (token ids,
// positions, slots, block tables) are validated too: they are cheap next to the op itself.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace brisk::backend {

// True for the weight dtypes that MatMul and Embedding accept (f32, bf16, f16).
bool IsFloatWeightDType(DType dtype);

// The op/dtype table both CPU backends support: MatMul and Embedding with f32, bf16 or f16
// weights, every other op in f32.
bool CpuSupports(OpId op, DType weight_dtype);

struct MatMulDims {
  int64_t m = 0;  // rows of x and y
  int64_t n = 0;  // rows of w, columns of y
  int64_t k = 0;  // shared inner dimension
};
// x: [m, k] f32; w: [n, k] f32/bf16/f16; bias: [n] f32 or nullptr; y: [m, n] f32
MatMulDims CheckMatMul(const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y);

struct RowDims {
  int64_t rows = 0;
  int64_t dim = 0;
};
// table: [vocab, hidden]; ids: [num_tokens] i32 in [0, vocab); out: [num_tokens, hidden] f32.
// Returns {num_tokens, hidden}.
RowDims CheckEmbedding(const Tensor& table, const Tensor& ids, const Tensor& out);
// x, out: [rows, dim] f32; weight: [dim] f32
RowDims CheckRmsNorm(const Tensor& x, const Tensor& weight, const Tensor& out);
// a, b, out: [rows, dim] f32 (any rank >= 1; rows = product of the outer dimensions)
RowDims CheckSameShapeF32(const Tensor& a, const Tensor& b, const Tensor& out);

struct RopeDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;
};
// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32 in [0, max_positions);
// cos_sin: [max_positions, rotary_dim] f32 with rotary_dim even and <= head_dim
RopeDims CheckRope(const Tensor& x, const Tensor& positions, const Tensor& cos_sin);

struct KvCacheDims {
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
};
// k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32, same shape
KvCacheDims CheckKvCaches(const Tensor& k_cache, const Tensor& v_cache);

// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32 in
// [-1, num_blocks * block_size). Returns the cache dims; num_tokens is slot_mapping.dim(0).
KvCacheDims CheckWriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                              const Tensor& k_cache, const Tensor& v_cache);

struct AttentionDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t num_seqs = 0;
  int64_t max_blocks_per_seq = 0;
  KvCacheDims cache;
};
// q, out: [num_tokens, num_heads, head_dim] f32; caches as in CheckKvCaches; meta as described
// in AttentionMetadata. Also checks the metadata contents: query_start_loc starts at 0, ends at
// num_tokens and never decreases; each sequence has at least as many cached tokens as queries;
// every block-table entry a sequence uses is a valid block id; the host maxima are not smaller
// than the true ones.
AttentionDims CheckPagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                  const AttentionMetadata& meta, const AttentionParams& params,
                                  const Tensor& out);

}  // namespace brisk::backend
