// Attention of decode rows (sequences with one query row) over the paged KV cache, split along
// the sequence: the part of Backend::PagedAttention that bounds a decode step. Host-side header.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backend/cuda/attention.cuh"

namespace brisk::backend::cuda {

// How one launch is cut: the visible keys of every (sequence, KV head) are split into
// num_splits contiguous ranges, one thread block each, whose partial softmax states a second
// kernel merges (none when num_splits == 1).
struct DecodeAttentionPlan {
  int num_splits = 1;
  int group_block = 1;   // query heads of one KV head per block
  int head_chunks = 1;   // blocks per KV head: ceil(group / group_block)
  size_t workspace_bytes = 0;  // partial states, 0 when num_splits == 1
};

// Depends only on the shapes, the device's multiprocessor count and args.max_context_len (an
// upper bound of the keys per row when > 0), never on the metadata's contents, so it is stable
// under graph replay for a fixed shape. REQUIRES: the REQUIRES of LaunchPagedAttention.
DecodeAttentionPlan PlanDecodeAttention(const PagedAttentionArgs& args, int num_sms);

// Queues the attention of every sequence with exactly one query row (rows of other sequences
// are left untouched). `workspace`: plan.workspace_bytes of device memory, 16-byte aligned (may
// be null when that is 0). REQUIRES: as for LaunchPagedAttention; plan from PlanDecodeAttention
// for the same args.
void LaunchDecodeAttention(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan,
                           void* workspace, cudaStream_t stream);

}  // namespace brisk::backend::cuda
