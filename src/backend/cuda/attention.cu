// Paged attention kernel: one thread block per (query row, head), its 8 warps splitting the
// row's visible keys [first, pos] between them.
//
// Each warp keeps its own online softmax over its keys (running maximum m, sum l of
// exp(score - m), and acc = sum of exp(score - m) * v over the features its lanes own): per key
// one warp-shuffle dot product and no block-wide barrier, so the keys of a long context are
// walked 8 at a time. At the end the warps' states are merged with the usual rescaling:
//   M = max_w m_w,  out = sum_w acc_w exp(m_w - M) / sum_w l_w exp(m_w - M).
// Everything is f32; the merge order is fixed, so results are deterministic.
#include "backend/cuda/attention.cuh"

#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// 8 warps. Each warp walks its own keys (t = first + warp, first + warp + 8, ...) with its own
// online-softmax state; the lanes split the head's features, kFeaturesPerLane each.
constexpr int kThreads = 256;
constexpr int kNumWarps = kThreads / kWarpSize;
constexpr int kFeaturesPerLane = kMaxAttentionHeadDim / kWarpSize;

// The sequence that owns query row `row`: the last s with query_start_loc[s] <= row (sequences
// with no query rows share their start with the next one and are skipped this way).
__device__ int64_t FindSequence(const int32_t* query_start_loc, int64_t num_seqs, int64_t row) {
  int64_t lo = 0;
  int64_t hi = num_seqs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (query_start_loc[mid] <= row) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

// grid: [num_tokens, num_heads]; block: kThreads.
__global__ void __launch_bounds__(kThreads)
    PagedAttentionKernel(PagedAttentionArgs args) {
  __shared__ float q_shared[kMaxAttentionHeadDim];
  __shared__ float warp_max[kNumWarps];
  __shared__ float warp_sum[kNumWarps];
  __shared__ float warp_acc[kNumWarps][kMaxAttentionHeadDim];

  const int64_t row = blockIdx.x;
  const int64_t head = blockIdx.y;
  const int64_t head_dim = args.head_dim;
  const int64_t kv_head = head / (args.num_heads / args.num_kv_heads);
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;

  const int64_t s = FindSequence(args.query_start_loc, args.num_seqs, row);
  const int64_t start = args.query_start_loc[s];
  const int64_t num_queries = args.query_start_loc[s + 1] - start;
  const int64_t context_len = args.context_lens[s];
  BRISK_DEVICE_CHECK(row >= start && row < start + num_queries && num_queries <= context_len,
                     "paged_attention: row %lld in sequence %lld with %lld queries, context %lld",
                     static_cast<long long>(row), static_cast<long long>(s),
                     static_cast<long long>(num_queries), static_cast<long long>(context_len));
  const int64_t pos = context_len - num_queries + (row - start);
  int64_t first = 0;
  if (args.sliding_window > 0 && pos - args.sliding_window + 1 > 0) {
    first = pos - args.sliding_window + 1;
  }
  const int32_t* table = args.block_tables + s * args.max_blocks_per_seq;
  // Row of token t's (kv_head) vector in a cache, as a flat element offset.
  auto cache_offset = [&](int64_t t) {
    const int32_t block = table[t / args.block_size];
    BRISK_DEVICE_CHECK(block >= 0 && block < args.num_blocks,
                       "paged_attention: sequence %lld token %lld in block %d of %lld",
                       static_cast<long long>(s), static_cast<long long>(t), block,
                       static_cast<long long>(args.num_blocks));
    return ((static_cast<int64_t>(block) * args.block_size + t % args.block_size) *
                args.num_kv_heads +
            kv_head) *
           head_dim;
  };

  const float* q_row = args.q + (row * args.num_heads + head) * head_dim;
  for (int64_t i = threadIdx.x; i < head_dim; i += kThreads) q_shared[i] = q_row[i];
  __syncthreads();
  float q[kFeaturesPerLane];
#pragma unroll
  for (int f = 0; f < kFeaturesPerLane; ++f) {
    const int64_t i = lane + f * kWarpSize;
    q[f] = i < head_dim ? q_shared[i] : 0.0f;
  }

  // This warp's keys: an online softmax without any block-wide barrier.
  float running_max = -INFINITY;
  float running_sum = 0.0f;
  float acc[kFeaturesPerLane] = {};
  for (int64_t t = first + warp; t <= pos; t += kNumWarps) {
    const int64_t offset = cache_offset(t);
    const float* k = args.k_cache + offset;
    const float* v = args.v_cache + offset;
    float partial = 0.0f;
#pragma unroll
    for (int f = 0; f < kFeaturesPerLane; ++f) {
      const int64_t i = lane + f * kWarpSize;
      if (i < head_dim) partial += q[f] * k[i];
    }
    const float score = WarpSum(partial) * args.scale;  // the same in every lane
    const float new_max = fmaxf(running_max, score);
    const float rescale = expf(running_max - new_max);  // 0 on the warp's first key
    const float p = expf(score - new_max);
    running_sum = running_sum * rescale + p;
#pragma unroll
    for (int f = 0; f < kFeaturesPerLane; ++f) {
      const int64_t i = lane + f * kWarpSize;
      if (i < head_dim) acc[f] = acc[f] * rescale + p * v[i];
    }
    running_max = new_max;
  }

  // Merge the warps: each state is (max m_w, sum l_w, acc_w) relative to its own maximum.
  if (lane == 0) {
    warp_max[warp] = running_max;
    warp_sum[warp] = running_sum;
  }
#pragma unroll
  for (int f = 0; f < kFeaturesPerLane; ++f) {
    const int64_t i = lane + f * kWarpSize;
    if (i < head_dim) warp_acc[warp][i] = acc[f];
  }
  __syncthreads();
  float block_max = -INFINITY;
  for (int w = 0; w < kNumWarps; ++w) block_max = fmaxf(block_max, warp_max[w]);
  float total = 0.0f;
  for (int w = 0; w < kNumWarps; ++w) {
    // A warp without keys has max -inf and sum 0: its weight exp(-inf - finite) is 0.
    total += warp_sum[w] * expf(warp_max[w] - block_max);
  }
  float* out_row = args.out + (row * args.num_heads + head) * head_dim;
  for (int64_t i = threadIdx.x; i < head_dim; i += kThreads) {
    float value = 0.0f;
    for (int w = 0; w < kNumWarps; ++w) {
      if (warp_sum[w] > 0.0f) value += warp_acc[w][i] * expf(warp_max[w] - block_max);
    }
    out_row[i] = value / total;
  }
}

}  // namespace

void LaunchPagedAttention(const PagedAttentionArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.head_dim > 0 && args.head_dim <= kMaxAttentionHeadDim)
      << "paged_attention head_dim " << args.head_dim << " (at most " << kMaxAttentionHeadDim
      << ")";
  BRISK_CHECK(args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0)
      << "num_heads " << args.num_heads << " num_kv_heads " << args.num_kv_heads;
  BRISK_CHECK(args.num_heads > 0 && args.num_heads < 65536) << "num_heads " << args.num_heads;
  BRISK_CHECK(args.num_tokens >= 0 && args.num_tokens <= int64_t{0x7fffffff})
      << "num_tokens " << args.num_tokens;
  BRISK_CHECK(args.block_size > 0 && args.sliding_window >= 0);
  if (args.num_tokens == 0) return;
  BRISK_CHECK_GT(args.num_seqs, 0);
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_heads));
  PagedAttentionKernel<<<grid, kThreads, 0, stream>>>(args);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
