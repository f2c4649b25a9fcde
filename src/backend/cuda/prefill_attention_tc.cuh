// Prefill attention on bf16 tensor cores: the rows of sequences with several query rows, for
// the CUDA backend's bf16-activation mode. Host-side header.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backend/cuda/attention.cuh"

namespace brisk::backend::cuda {

// Whether LaunchPrefillAttentionBf16 takes these arguments: head_dim 32, 64, 96 or 128,
// 16-byte aligned caches (it copies them 16 bytes at a time), and a device that grants a block
// the kernel's shared memory (37 KB at head_dim 32 to 133 KB at 128; sm_80 and sm_90 grant all
// of them, sm_86 and sm_89 stop at head_dim 64). `max_shared_bytes`: the device's
// cudaDevAttrMaxSharedMemoryPerBlockOptin, read once by the caller.
bool PrefillAttentionBf16Supports(const PagedAttentionArgs& args, int max_shared_bytes);

// Bytes of device workspace LaunchPrefillAttentionBf16 needs for `args` on a GPU of `num_sms`
// multiprocessors: 0, or (when a small grid splits its long blocks' keys over two blocks) room
// for the parts' partial results after a fixed area of arrival counters.
size_t PrefillAttentionBf16WorkspaceBytes(const PagedAttentionArgs& args, int num_sms);

// Queues the attention of every row of a sequence with several query rows, as
// LaunchPagedAttention does (decode rows are left untouched), with q, k, v and the softmax
// weights rounded to bf16 and f32 accumulation (mma.sync on tensor cores); the softmax
// statistics are f32. The result differs from the f32 kernels by about bf16's rounding of the
// weights and inputs (and, where keys are split, by the order of the f32 sums). Deterministic.
// Nothing is launched when max_query_len == 1.
// `workspace`: PrefillAttentionBf16WorkspaceBytes(args, num_sms) or more bytes of device
// memory that nothing else uses while the kernel runs; its counter area (the first 16 KiB)
// must be zero when first given, and every launch leaves it zero.
// REQUIRES: PrefillAttentionBf16Supports(args, max_shared_bytes); the REQUIRES of
// LaunchPagedAttention.
void LaunchPrefillAttentionBf16(const PagedAttentionArgs& args, int max_shared_bytes,
                                int num_sms, void* workspace, size_t workspace_bytes,
                                cudaStream_t stream);

}  // namespace brisk::backend::cuda
