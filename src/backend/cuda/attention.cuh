// Paged attention over the KV cache for mixed prefill/decode batches, with causal and
// sliding-window masking and grouped KV heads (MHA, GQA, MQA). Matches Backend::PagedAttention
// and AttentionMetadata (backend/backend.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// The largest head_dim the kernels take (each thread of the row kernel owns at most eight
// features of a row).
inline constexpr int kMaxAttentionHeadDim = 256;
// The largest head_dim of the tiled prefill kernel; above it every row takes the row kernel.
inline constexpr int kMaxTiledHeadDim = 128;

struct PagedAttentionArgs {
  const float* q = nullptr;                // [num_tokens, num_heads, head_dim] device
  const float* k_cache = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim]
  const float* v_cache = nullptr;          // same shape as k_cache
  const int32_t* query_start_loc = nullptr;  // [num_seqs + 1] device
  const int32_t* context_lens = nullptr;   // [num_seqs] device
  const int32_t* block_tables = nullptr;   // [num_seqs, max_blocks_per_seq] device
  float* out = nullptr;                    // [num_tokens, num_heads, head_dim] device
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t num_seqs = 0;
  int64_t max_blocks_per_seq = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
  float scale = 1.0f;
  int sliding_window = 0;  // 0: full causal; W > 0: keys (pos - W, pos]
  // The host copy of the longest sequence's query count; <= 1 (a decode-only batch) skips the
  // tiled kernel's launch. 0 when unknown.
  int max_query_len = 0;
  // The host copy of the longest context (an upper bound is fine); 0 when unknown. Sizes the
  // decode kernel's splits (decode_attention.cuh).
  int max_context_len = 0;
};

// Queues the attention of the rows of sequences with several query rows (prefill, chunked
// prefill), an online softmax (running max and sum in f32) over each row's visible keys; rows
// of single-row (decode) sequences are LaunchDecodeAttention's (decode_attention.cuh) and are
// left untouched. When head_dim <= kMaxTiledHeadDim: one block per (tile of query rows, KV
// head, up to 8 of its query heads), sharing each tile of keys and values it loads; key tiles
// no row of the tile can see are skipped. Above it: one block per (row, head). Nothing is
// launched when max_query_len == 1. Metadata contents are checked on the device: an
// inconsistent sequence (more queries than context) or a block id outside [0, num_blocks)
// traps the kernel with a printed message.
// REQUIRES: 0 < head_dim <= kMaxAttentionHeadDim; num_heads % num_kv_heads == 0;
// num_heads < 65536; num_tokens >= 0 (0 launches nothing).
void LaunchPagedAttention(const PagedAttentionArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
