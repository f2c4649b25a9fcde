// Shape, dtype and device checks of the Backend ops for the CUDA backend. Like the CPU
// backends' op_checks.h they validate with BRISK_CHECK (a mismatch between our own tensors is
// our bug) and return the op's dimensions; unlike them they never read tensor contents, which
// live on the device: the kernels check index contents themselves (BRISK_DEVICE_CHECK).
// Every tensor argument must be on Device::kCuda; a host tensor passed by mistake fails here
// with the op and argument named.
#pragma once

#include <cstdint>

#include "backend/backend.h"

namespace brisk::backend::cuda {

// t.device() == kCuda, or a fatal error naming `what`.
void CheckOnDevice(const Tensor& t, const char* what);

struct RowDims {
  int64_t rows = 0;
  int64_t dim = 0;
};
struct MatMulDims {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
};
struct RopeDims {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;
  int64_t max_positions = 0;
};
struct KvCacheDims {
  int64_t num_blocks = 0;
  int64_t block_size = 0;
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

// table: [vocab, hidden] f32/bf16/f16; ids: [num_tokens] i32; out: [num_tokens, hidden] f32.
// Returns {num_tokens, hidden}.
RowDims CheckEmbeddingShapes(const Tensor& table, const Tensor& ids, const Tensor& out);
// x: [m, k] f32; w: [n, k] f32/bf16/f16; bias: [n] f32 or nullptr; y: [m, n] f32
MatMulDims CheckMatMulShapes(const Tensor& x, const Tensor& w, const Tensor* bias,
                             const Tensor& y);
// x, out: [rows, dim] f32; weight: [dim] f32
RowDims CheckRmsNormShapes(const Tensor& x, const Tensor& weight, const Tensor& out);
// a, b, out: the same shape (rank >= 1), f32. Returns {numel / last dim, last dim}.
RowDims CheckSameShapeF32(const Tensor& a, const Tensor& b, const Tensor& out);
// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
// cos_sin: [max_positions, rotary_dim] f32, rotary_dim even and <= head_dim
RopeDims CheckRopeShapes(const Tensor& x, const Tensor& positions, const Tensor& cos_sin);
// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32;
// caches: [num_blocks, block_size, num_kv_heads, head_dim] f32, same shape
KvCacheDims CheckWriteKvCacheShapes(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                                    const Tensor& k_cache, const Tensor& v_cache);
// q, out: [num_tokens, num_heads, head_dim] f32; caches as above; metadata shapes as in
// AttentionMetadata; sliding_window >= 0.
AttentionDims CheckPagedAttentionShapes(const Tensor& q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& meta,
                                        const AttentionParams& params, const Tensor& out);

}  // namespace brisk::backend::cuda
