// Bidirectional attention of the BERT-family encoders over a flattened batch of sequences,
// with grouped KV heads (MHA, GQA, MQA). Matches Backend::EncoderAttention
// (backend/backend.h): query row t of sequence i attends to every key row of sequence i.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// The largest head_dim the kernel takes: each lane of a warp owns head_dim / 32 features of
// the output (at most 4) and the shared-memory tiles are sized for it.
inline constexpr int kMaxEncoderAttentionHeadDim = 128;

struct EncoderAttentionArgs {
  const float* q = nullptr;             // [num_tokens, num_heads, head_dim] device
  const float* k = nullptr;             // [num_tokens, num_kv_heads, head_dim] device
  const float* v = nullptr;             // same shape as k
  const int32_t* seq_starts = nullptr;  // [num_seqs + 1] device
  float* out = nullptr;                 // [num_tokens, num_heads, head_dim] device
  int64_t num_tokens = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t num_seqs = 0;
  int max_seq_len = 0;  // host bound on the longest sequence (>= the true longest)
  float scale = 1.0f;
};

// Queues the attention: one thread block of 128 threads per (sequence, head, tile of 16 query
// rows), keys and values streamed through shared memory 32 at a time, with an online softmax
// (running max and sum in f32) per query row. seq_starts is checked on the device: a sequence
// that starts below 0 or before the previous one ends, one longer than max_seq_len, or a first
// start other than 0 or last end other than num_tokens traps the kernel with a printed message.
// REQUIRES: 0 < head_dim <= kMaxEncoderAttentionHeadDim; num_kv_heads > 0 divides num_heads;
// num_heads < 65536; 0 <= num_tokens < 2^31 (0 launches nothing); num_seqs > 0 and
// max_seq_len > 0 when num_tokens > 0; num_seqs · ceil(max_seq_len / 16) < 2^31.
void LaunchEncoderAttention(const EncoderAttentionArgs& args, cudaStream_t stream);

}  // namespace brisk::backend::cuda
