// Paged attention kernel, the simple correct version: one thread block per (query row, head).
//
// The block walks the row's visible keys [first, pos] in tiles of kTileTokens. For each tile:
//   1. each warp computes the scores q·k·scale of some of the tile's keys (lanes split the
//      features, a warp shuffle sums them) into shared memory;
//   2. every thread takes the tile's maximum, the new running maximum m' = max(m, tile max)
//      and the rescale factor exp(m - m');
//   3. the first threads turn scores into p = exp(score - m') in shared memory;
//   4. every thread rescales its running sum and its (at most two) output features and adds
//      the tile's p and p·v.
// Running maximum, sum and outputs stay in f32 registers; the row's output is acc / sum.
#include "backend/cuda/attention.cuh"

#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// 4 warps: 128 threads own up to 256 features at two per thread.
constexpr int kThreads = 128;
constexpr int kNumWarps = kThreads / kWarpSize;
constexpr int kFeaturesPerThread = kMaxAttentionHeadDim / kThreads;
// Keys per tile: 8 scores per warp per tile, and one p per thread of the first warp.
constexpr int kTileTokens = 32;

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
  __shared__ float scores[kTileTokens];
  __shared__ float probs[kTileTokens];

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

  float running_max = -INFINITY;
  float running_sum = 0.0f;
  float acc[kFeaturesPerThread] = {};
  for (int64_t tile_start = first; tile_start <= pos; tile_start += kTileTokens) {
    const int tile_len = static_cast<int>(pos - tile_start + 1 < kTileTokens ? pos - tile_start + 1
                                                                             : kTileTokens);
    // 1. Scores.
    for (int j = warp; j < tile_len; j += kNumWarps) {
      const float* k = args.k_cache + cache_offset(tile_start + j);
      float partial = 0.0f;
      for (int64_t i = lane; i < head_dim; i += kWarpSize) partial += q_shared[i] * k[i];
      const float dot = WarpSum(partial);
      if (lane == 0) scores[j] = dot * args.scale;
    }
    __syncthreads();
    // 2. New running maximum (every thread computes the same value).
    float tile_max = -INFINITY;
    for (int j = 0; j < tile_len; ++j) tile_max = fmaxf(tile_max, scores[j]);
    const float new_max = fmaxf(running_max, tile_max);
    // 3. Probabilities of the tile, relative to the new maximum.
    if (threadIdx.x < tile_len) probs[threadIdx.x] = expf(scores[threadIdx.x] - new_max);
    __syncthreads();
    // 4. Rescale and accumulate. exp(-inf - finite) = 0 on the first tile, where acc and sum
    // are still 0.
    const float rescale = expf(running_max - new_max);
    running_sum *= rescale;
    for (int j = 0; j < tile_len; ++j) running_sum += probs[j];
    for (int f = 0; f < kFeaturesPerThread; ++f) {
      const int64_t i = threadIdx.x + static_cast<int64_t>(f) * kThreads;
      if (i >= head_dim) break;
      float value = acc[f] * rescale;
      for (int j = 0; j < tile_len; ++j) {
        value += probs[j] * args.v_cache[cache_offset(tile_start + j) + i];
      }
      acc[f] = value;
    }
    running_max = new_max;
    __syncthreads();  // scores and probs are rewritten by the next tile
  }

  float* out_row = args.out + (row * args.num_heads + head) * head_dim;
  for (int f = 0; f < kFeaturesPerThread; ++f) {
    const int64_t i = threadIdx.x + static_cast<int64_t>(f) * kThreads;
    if (i < head_dim) out_row[i] = acc[f] / running_sum;
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
