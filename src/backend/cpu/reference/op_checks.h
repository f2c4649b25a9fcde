// Argument checks of the CPU backends. The shapes and dtypes are checked by the shared
// backend/op_shapes.h (included here, with the Dims structs and the ops that have no index
// arguments: CheckMatMulShapes, CheckRmsNormShapes, CheckSameShapeF32, CheckSiluMulShapes,
// CheckLayerNormShapes, CheckGeluShapes); the Check* functions
// below add what only a host backend can check cheaply: the contents of index tensors (token
// ids, positions, slots, attention metadata). All fail with BRISK_CHECK (our bug).
#pragma once

#include "backend/backend.h"
#include "backend/op_shapes.h"

namespace brisk::backend {

// CheckEmbeddingShapes, and every id in [0, vocab).
// table: [vocab, hidden]; ids: [num_tokens] i32; out: [num_tokens, hidden] f32.
// Returns {num_tokens, hidden}.
RowDims CheckEmbedding(const Tensor& table, const Tensor& ids, const Tensor& out);

// CheckRopeShapes, and every position in [0, max_positions).
// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
// cos_sin: [max_positions, rotary_dim] f32
RopeDims CheckRope(const Tensor& x, const Tensor& positions, const Tensor& cos_sin);

// CheckWriteKvCacheShapes, and every slot in [-1, num_blocks * block_size).
// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32.
// Returns the cache dims; num_tokens is slot_mapping.dim(0).
KvCacheDims CheckWriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                              const Tensor& k_cache, const Tensor& v_cache);

// CheckQkvRopeWriteKvShapes, and every position in [0, max_positions) and every slot in
// [-1, num_blocks * block_size). Arguments as in Backend::QkvRopeWriteKv.
QkvRopeWriteKvDims CheckQkvRopeWriteKv(const Tensor& qkv, const Tensor& positions,
                                       const Tensor& cos_sin, const Tensor& slot_mapping,
                                       const Tensor* q_norm, const Tensor* k_norm,
                                       const Tensor& q_out, const Tensor& k_cache,
                                       const Tensor& v_cache);

// CheckPagedAttentionShapes, and the metadata contents: query_start_loc starts at 0, ends at
// num_tokens and never decreases; each sequence has at least as many cached tokens as queries;
// every block-table entry a sequence uses is a valid block id; the host maxima are not smaller
// than the true ones.
AttentionDims CheckPagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                  const AttentionMetadata& meta, const AttentionParams& params,
                                  const Tensor& out);

// CheckEncoderAttentionShapes, and the contents of seq_starts: starts at 0, never decreases,
// ends at num_tokens; max_seq_len is not smaller than the longest sequence.
// q, out: [num_tokens, num_heads, head_dim] f32; k, v: [num_tokens, num_kv_heads, head_dim] f32;
// seq_starts: [num_seqs + 1] i32
EncoderAttentionDims CheckEncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const Tensor& seq_starts, int max_seq_len,
                                           const Tensor& out);

}  // namespace brisk::backend
