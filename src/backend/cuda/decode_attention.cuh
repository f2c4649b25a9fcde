// Attention of decode rows (sequences with one query row) over the paged KV cache, split along
// the sequence: the part of Backend::PagedAttention that bounds a decode step. One kernel: the
// block that finishes a row's splits last also merges them. Host-side header.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backend/cuda/attention.cuh"

namespace brisk::backend::cuda {

// Bytes at the start of every split workspace holding the arrival counters (4,096 of them).
inline constexpr size_t kDecodeAttentionCounterBytes = 16 * 1024;

// How one launch is cut: the visible keys of every (sequence, KV head, chunk of its query
// heads) are split into up to num_splits contiguous ranges, one thread block each. A row whose
// context needs fewer splits than planned leaves the rest empty (those blocks exit at once).
struct DecodeAttentionPlan {
  int num_splits = 1;
  int group_block = 1;   // query heads of one KV head per block
  int head_chunks = 1;   // blocks per KV head: ceil(group / group_block)
  // The workspace is [counters | split states]; both sizes are 0 when num_splits == 1.
  size_t counter_bytes = 0;    // kDecodeAttentionCounterBytes when split, else 0
  size_t workspace_bytes = 0;  // counter_bytes + partial softmax states of the splits
};

// Depends only on the shapes, the sliding window, the device's multiprocessor count and
// args.max_context_len (an upper bound of the keys per row when > 0), never on the metadata's
// contents, so it is stable under graph replay for a fixed shape: aims at a few blocks per
// multiprocessor over the whole grid, at least 32 keys per split.
// REQUIRES: the REQUIRES of LaunchPagedAttention.
DecodeAttentionPlan PlanDecodeAttention(const PagedAttentionArgs& args, int num_sms);

// Queues the attention of every sequence with exactly one query row (rows of other sequences
// are left untouched); results are f32 and do not depend on the order blocks run in.
// `workspace`: plan.workspace_bytes of device memory, 16-byte aligned (may be null when that is
// 0), whose first plan.counter_bytes must be zero the first time it is passed: every launch
// leaves them zero again, so one zero-filled workspace can be reused by later launches and
// graph replays (launches that share a workspace must not overlap in time).
// REQUIRES: as for LaunchPagedAttention; plan from PlanDecodeAttention for the same args.
void LaunchDecodeAttention(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan,
                           void* workspace, cudaStream_t stream);

// The fused prologue of Backend::QkvRopeAttention on decode rows: q, k and v arrive unrotated
// in the layer's QKV projection instead of q and the cache's newest rows. Every block rotates
// its query heads as it stages them; the block whose split holds a row's newest key rotates
// that key and uses it (and its value) from qkv, and the row's first block of that KV head
// writes both to the row's cache slot.
struct DecodeRopeArgs {
  const float* qkv = nullptr;             // [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim]
  const int32_t* positions = nullptr;     // [num_tokens], each in [0, max_positions)
  const float* cos_sin = nullptr;         // [max_positions, rotary_dim]: cos | sin halves
  const int32_t* slot_mapping = nullptr;  // [num_tokens], each in [-1, num_slots); -1 = no write
  float* k_cache = nullptr;               // the PagedAttentionArgs' caches, written here
  float* v_cache = nullptr;
  int64_t rotary_dim = 0;  // even, <= head_dim
  int64_t max_positions = 0;
  int64_t num_slots = 0;   // num_blocks * block_size
};

// Whether LaunchDecodeRopeAttention takes these args: head_dim a multiple of 4 and 16-byte
// aligned qkv, caches and output.
bool DecodeRopeAttentionSupports(const PagedAttentionArgs& args, const DecodeRopeArgs& rope);

// QkvRopeWriteKv followed by LaunchDecodeAttention, for a batch whose rows are all decode rows
// (args.max_query_len == 1; args.q is not read): the caches end up as QkvRopeWriteKv leaves
// them and the output is the same, bit for bit. Positions and slots out of range trap the kernel
// with a printed message.
// REQUIRES: as for LaunchDecodeAttention; DecodeRopeAttentionSupports(args, rope); every token
// is the one query row of its sequence.
void LaunchDecodeRopeAttention(const PagedAttentionArgs& args, const DecodeRopeArgs& rope,
                               const DecodeAttentionPlan& plan, void* workspace,
                               cudaStream_t stream);

}  // namespace brisk::backend::cuda
