// Paged attention kernels for the rows of sequences with several query rows (prefill, chunked
// prefill; decode rows are decode_attention.cu's): the tiled kernel (head_dim <=
// kMaxTiledHeadDim), described below, and above that the row kernel: one thread block per
// (query row, head), its 8 warps splitting the row's visible keys [first, pos].
//
// Row kernel. Each warp keeps its own online softmax over its keys (running maximum m, sum l of
// exp(score - m), and acc = sum of exp(score - m) * v over the features its lanes own): per key
// one warp-shuffle dot product and no block-wide barrier, so the keys of a long context are
// walked 8 at a time. At the end the warps' states are merged with the usual rescaling:
//   M = max_w m_w,  out = sum_w acc_w exp(m_w - M) / sum_w l_w exp(m_w - M).
// Everything is f32; the merge order is fixed, so results are deterministic.
#include "backend/cuda/attention.cuh"

#include <algorithm>
#include <cmath>

#include "backend/cuda/attention_tiles.cuh"
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

// grid: [num_tokens, num_heads]; block: kThreads. Blocks whose sequence has one query row leave
// at once (the decode kernel takes those rows).
__global__ void __launch_bounds__(kThreads) PagedAttentionKernel(PagedAttentionArgs args) {
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
  if (num_queries == 1) return;  // the whole block leaves before any barrier
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


// Tiled kernel. One thread block per (query tile of one sequence, KV head, chunk of that KV
// head's query heads). The block's "pairs" are (query row, query head) combinations: kPairs of
// them, tile_rows rows times group_block heads (p = r * group_block + h). Per key tile of
// kKeyTile keys, gathered through the block table into shared memory once for every pair:
//   S = Q K^T   each thread a 4x4 register tile: pairs 4·ty .. 4·ty+3, keys tx + 8·c;
//   softmax     per pair, online: m' = max(m, max_j s_j), l' = l·e^(m−m') + Σ_j e^(s_j−m'),
//               the 8 threads of a pair (lanes differing in their low 3 bits) agree by shuffles;
//   O += P V    each thread owns the same 4 pairs and features 32·c + 4·tx .. +3.
// Key tiles run from the first key any row of the tile sees (sliding window) to the last
// (causal), so the tiles no row can see are never loaded. Scores a pair must not see are -inf;
// an all-masked tile leaves its state unchanged. Everything is f32, sums in a fixed order.
//
// Shared memory (dynamic, row length L = 32·kChunks >= head_dim, zero past head_dim):
//   q_s [kPairs][L]         the pairs' query vectors (zero for pairs outside the sequence)
//   k_s [kKeyTile][L + 4]   key rows; stride = 4 (mod 32) makes the float4 reads of keys
//                           tx + 8·c by 8 lanes hit 8 different 16-byte bank groups
//   v_s [kKeyTile][L]       value rows; lanes read consecutive float4s of one row
//   p_s [kKeyTile][kPairs + 4]  softmax weights, key-major; padded for conflict-free stores
constexpr int kTiledThreads = 128;
constexpr int kPairs = 64;
constexpr int kKeyTile = 32;
constexpr int kPairsPerThread = 4;
constexpr int kKeysPerThread = 4;
constexpr int kKeyLanes = kKeyTile / kKeysPerThread;  // 8 threads share a pair
constexpr int kPStride = kPairs + 4;
constexpr int kMaxGroupBlock = 8;  // at most 8 query heads per block: at least 8 rows
static_assert(kTiledThreads == (kPairs / kPairsPerThread) * kKeyLanes);
static_assert(kMaxTiledHeadDim % kWarpSize == 0 && kMaxTiledHeadDim <= 4 * kWarpSize);

template <int kChunks>
struct TiledLayout {
  static constexpr int kRowLen = kChunks * kWarpSize;
  static constexpr int kKStride = kRowLen + 4;
  static constexpr int kQFloats = kPairs * kRowLen;
  static constexpr int kKFloats = kKeyTile * kKStride;
  static constexpr int kVFloats = kKeyTile * kRowLen;
  static constexpr int kPFloats = kKeyTile * kPStride;
  static constexpr size_t kBytes = sizeof(float) * (kQFloats + kKFloats + kVFloats + kPFloats);
};

// Maximum over the 8 lanes that share a pair (lanes differing in bits 0..2).
__device__ inline float PairGroupMax(float value) {
  for (int offset = kKeyLanes / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  }
  return value;
}

__device__ inline float PairGroupSum(float value) {
  for (int offset = kKeyLanes / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  }
  return value;
}

__device__ inline float Dot4(float acc, float4 a, float4 b) {
  acc = fmaf(a.x, b.x, acc);
  acc = fmaf(a.y, b.y, acc);
  acc = fmaf(a.z, b.z, acc);
  return fmaf(a.w, b.w, acc);
}

// grid: [num_slots · num_y] flattened, num_y = num_kv_heads · head_chunks, slots in reverse
// order (the late, long-context tiles of a sequence start first); block: kTiledThreads;
// dynamic shared memory: TiledLayout<kChunks>::kBytes.
template <int kChunks>
__global__ void __launch_bounds__(kTiledThreads)
    TiledPagedAttentionKernel(PagedAttentionArgs args, int group_block, int tile_rows,
                              int head_chunks, int64_t num_slots) {
  using Layout = TiledLayout<kChunks>;
  constexpr int kRowLen = Layout::kRowLen;
  constexpr int kKStride = Layout::kKStride;
  extern __shared__ float4 tiled_shared[];
  float* q_s = reinterpret_cast<float*>(tiled_shared);
  float* k_s = q_s + Layout::kQFloats;
  float* v_s = k_s + Layout::kKFloats;
  float* p_s = v_s + Layout::kVFloats;
  __shared__ int64_t key_offset[kKeyTile];  // flat cache offset of each key of the tile

  const int64_t num_y = args.num_kv_heads * head_chunks;
  const int64_t slot = num_slots - 1 - static_cast<int64_t>(blockIdx.x) / num_y;
  const int64_t y = static_cast<int64_t>(blockIdx.x) % num_y;
  const int64_t kv_head = y / head_chunks;
  const int64_t group = args.num_heads / args.num_kv_heads;
  const int64_t first_head = kv_head * group + (y % head_chunks) * group_block;
  // Heads of this block: [first_head, first_head + heads_here).
  const int heads_here = static_cast<int>(
      min(static_cast<int64_t>(group_block), (kv_head + 1) * group - first_head));

  const int64_t s = FindTileSequence(args.query_start_loc, args.num_seqs, tile_rows, slot);
  const int64_t start = args.query_start_loc[s];
  const int64_t num_queries = args.query_start_loc[s + 1] - start;
  const int64_t row0 = (slot - (start / tile_rows + s)) * tile_rows;  // first row, in the sequence
  // Single rows belong to the row kernel; slots past the sequence's last tile hold nothing.
  if (num_queries <= 1 || row0 >= num_queries) return;  // before any barrier
  const int64_t context_len = args.context_lens[s];
  BRISK_DEVICE_CHECK(start >= 0 && start + num_queries <= args.num_tokens &&
                         num_queries <= context_len,
                     "paged_attention: sequence %lld has rows [%lld, +%lld) of %lld, context %lld",
                     static_cast<long long>(s), static_cast<long long>(start),
                     static_cast<long long>(num_queries), static_cast<long long>(args.num_tokens),
                     static_cast<long long>(context_len));
  const int rows_here = static_cast<int>(min(static_cast<int64_t>(tile_rows), num_queries - row0));
  const int pos0 = static_cast<int>(context_len - num_queries + row0);  // position of row0
  const int window = args.sliding_window;
  const int key_lo = window > 0 ? max(0, pos0 - window + 1) : 0;  // first key any row sees
  const int key_hi = pos0 + rows_here - 1;                         // last key any row sees

  const int tid = threadIdx.x;
  const int tx = tid % kKeyLanes;  // keys tx + 8·c; features 32·c + 4·tx .. +3
  const int ty = tid / kKeyLanes;  // pairs 4·ty .. 4·ty + 3
  const int head_dim = static_cast<int>(args.head_dim);

  // Query vectors of the pairs; zero for padding pairs and past head_dim.
  for (int idx = tid; idx < kPairs * kRowLen; idx += kTiledThreads) {
    const int p = idx / kRowLen;
    const int i = idx % kRowLen;
    const int r = p / group_block;
    const int h = p % group_block;
    float value = 0.0f;
    if (r < rows_here && h < heads_here && i < head_dim) {
      value = args.q[((start + row0 + r) * args.num_heads + first_head + h) * head_dim + i];
    }
    q_s[idx] = value;
  }

  // Per pair: its position, or -1 (sees no key) for padding pairs.
  int pos[kPairsPerThread];
  float running_max[kPairsPerThread];
  float running_sum[kPairsPerThread];
  float4 acc[kPairsPerThread][kChunks];
#pragma unroll
  for (int a = 0; a < kPairsPerThread; ++a) {
    const int p = ty * kPairsPerThread + a;
    const int r = p / group_block;
    pos[a] = r < rows_here && p % group_block < heads_here ? pos0 + r : -1;
    running_max[a] = -INFINITY;
    running_sum[a] = 0.0f;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) acc[a][c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }

  const int32_t* table = args.block_tables + s * args.max_blocks_per_seq;
  const int64_t kv_token_stride = args.num_kv_heads * head_dim;
  for (int t0 = key_lo; t0 <= key_hi; t0 += kKeyTile) {
    const int keys_here = min(kKeyTile, key_hi - t0 + 1);
    __syncthreads();  // the previous tile is consumed (and q_s written, before the first)
    if (tid < keys_here) {
      const int t = t0 + tid;
      const int32_t block = table[t / args.block_size];
      BRISK_DEVICE_CHECK(block >= 0 && block < args.num_blocks,
                         "paged_attention: sequence %lld token %d in block %d of %lld",
                         static_cast<long long>(s), t, block,
                         static_cast<long long>(args.num_blocks));
      key_offset[tid] = (static_cast<int64_t>(block) * args.block_size + t % args.block_size) *
                            kv_token_stride +
                        kv_head * head_dim;
    }
    __syncthreads();
    for (int idx = tid; idx < kKeyTile * kRowLen; idx += kTiledThreads) {
      const int j = idx / kRowLen;
      const int i = idx % kRowLen;
      float k = 0.0f;
      float v = 0.0f;
      if (j < keys_here && i < head_dim) {
        k = args.k_cache[key_offset[j] + i];
        v = args.v_cache[key_offset[j] + i];
      }
      k_s[j * kKStride + i] = k;
      v_s[idx] = v;
    }
    __syncthreads();

    // Scores of this thread's 4 pairs x 4 keys.
    float score[kPairsPerThread][kKeysPerThread] = {};
    const float* q_rows = q_s + ty * kPairsPerThread * kRowLen;
    const float* k_rows = k_s + tx * kKStride;
    for (int i = 0; i < head_dim; i += 4) {
      float4 q4[kPairsPerThread];
      float4 k4[kKeysPerThread];
#pragma unroll
      for (int a = 0; a < kPairsPerThread; ++a) {
        q4[a] = *reinterpret_cast<const float4*>(q_rows + a * kRowLen + i);
      }
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) {
        k4[c] = *reinterpret_cast<const float4*>(k_rows + c * kKeyLanes * kKStride + i);
      }
#pragma unroll
      for (int a = 0; a < kPairsPerThread; ++a) {
#pragma unroll
        for (int c = 0; c < kKeysPerThread; ++c) score[a][c] = Dot4(score[a][c], q4[a], k4[c]);
      }
    }

    // Online softmax step per pair; the weights go to p_s for the P V product.
    float p[kPairsPerThread][kKeysPerThread];
#pragma unroll
    for (int a = 0; a < kPairsPerThread; ++a) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) {
        const int j = tx + c * kKeyLanes;
        const int t = t0 + j;
        const bool visible = j < keys_here && t <= pos[a] && (window == 0 || t > pos[a] - window);
        score[a][c] = visible ? score[a][c] * args.scale : -INFINITY;
        tile_max = fmaxf(tile_max, score[a][c]);
      }
      const float new_max = fmaxf(running_max[a], PairGroupMax(tile_max));
      // -inf while the pair has seen no key: shift by 0 so every weight is exp(-inf) = 0.
      const float shift = new_max == -INFINITY ? 0.0f : new_max;
      const float rescale = expf(running_max[a] - shift);  // 0 before the pair's first key
      float tile_sum = 0.0f;
#pragma unroll
      for (int c = 0; c < kKeysPerThread; ++c) {
        p[a][c] = expf(score[a][c] - shift);
        tile_sum += p[a][c];
      }
      running_sum[a] = running_sum[a] * rescale + PairGroupSum(tile_sum);
      running_max[a] = new_max;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        acc[a][c].x *= rescale;
        acc[a][c].y *= rescale;
        acc[a][c].z *= rescale;
        acc[a][c].w *= rescale;
      }
    }
#pragma unroll
    for (int c = 0; c < kKeysPerThread; ++c) {
      *reinterpret_cast<float4*>(p_s + (tx + c * kKeyLanes) * kPStride + ty * kPairsPerThread) =
          make_float4(p[0][c], p[1][c], p[2][c], p[3][c]);
    }
    __syncthreads();

    // acc += P V over the tile's keys (rows past keys_here of v_s are never read).
    for (int j = 0; j < keys_here; ++j) {
      const float4 w = *reinterpret_cast<const float4*>(p_s + j * kPStride + ty * kPairsPerThread);
      const float weight[kPairsPerThread] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const float4 v4 =
            *reinterpret_cast<const float4*>(v_s + j * kRowLen + c * kWarpSize + 4 * tx);
#pragma unroll
        for (int a = 0; a < kPairsPerThread; ++a) {
          acc[a][c].x = fmaf(weight[a], v4.x, acc[a][c].x);
          acc[a][c].y = fmaf(weight[a], v4.y, acc[a][c].y);
          acc[a][c].z = fmaf(weight[a], v4.z, acc[a][c].z);
          acc[a][c].w = fmaf(weight[a], v4.w, acc[a][c].w);
        }
      }
    }
  }

#pragma unroll
  for (int a = 0; a < kPairsPerThread; ++a) {
    if (pos[a] < 0) continue;  // padding pair
    const int p = ty * kPairsPerThread + a;
    const int64_t row = start + row0 + p / group_block;
    float* out_row = args.out + (row * args.num_heads + first_head + p % group_block) * head_dim;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const float values[4] = {acc[a][c].x, acc[a][c].y, acc[a][c].z, acc[a][c].w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = c * kWarpSize + 4 * tx + e;
        if (i < head_dim) out_row[i] = values[e] / running_sum[a];
      }
    }
  }
}

template <int kChunks>
void LaunchTiled(const PagedAttentionArgs& args, cudaStream_t stream) {
  const int64_t group = args.num_heads / args.num_kv_heads;
  const int group_block = static_cast<int>(std::min<int64_t>(group, kMaxGroupBlock));
  const int tile_rows = kPairs / group_block;
  const int head_chunks = static_cast<int>((group + group_block - 1) / group_block);
  const int64_t num_slots = args.num_tokens / tile_rows + args.num_seqs;
  const int64_t num_blocks = num_slots * args.num_kv_heads * head_chunks;
  BRISK_CHECK_LE(num_blocks, int64_t{0x7fffffff}) << "paged_attention tiled blocks";
  constexpr size_t kBytes = TiledLayout<kChunks>::kBytes;
  // Above the 48 KiB default: set per launch, since the attribute belongs to the current device.
  BRISK_CUDA_CHECK(cudaFuncSetAttribute(TiledPagedAttentionKernel<kChunks>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(kBytes)));
  TiledPagedAttentionKernel<kChunks><<<static_cast<unsigned>(num_blocks), kTiledThreads, kBytes,
                                       stream>>>(args, group_block, tile_rows, head_chunks,
                                                 num_slots);
  BRISK_CUDA_CHECK(cudaGetLastError());
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
  if (args.num_tokens == 0 || args.max_query_len == 1) return;
  BRISK_CHECK_GT(args.num_seqs, 0);
  if (args.head_dim > kMaxTiledHeadDim) {
    const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_heads));
    PagedAttentionKernel<<<grid, kThreads, 0, stream>>>(args);
    BRISK_CUDA_CHECK(cudaGetLastError());
    return;
  }
  switch ((args.head_dim + kWarpSize - 1) / kWarpSize) {
    case 1:
      LaunchTiled<1>(args, stream);
      break;
    case 2:
      LaunchTiled<2>(args, stream);
      break;
    case 3:
      LaunchTiled<3>(args, stream);
      break;
    default:
      LaunchTiled<4>(args, stream);
      break;
  }
}

}  // namespace brisk::backend::cuda
