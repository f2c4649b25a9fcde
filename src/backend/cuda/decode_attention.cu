// Decode attention kernels. One thread block per (sequence, KV head, chunk of that KV head's
// query heads, split of the visible keys): the block loads each key and value row once for
// all of its query heads (GQA), and the splits spread a batch of few sequences over the GPU.
//
// Within a block, 4 warps take 32 keys at a time, one key per lane:
//   scores   each lane reads its key row and dots it with every query head of the block
//            (queries in shared memory, read as broadcasts);
//   softmax  per head, online over the warp's tiles: m' = max(m, max_j s_j),
//            l' = l·e^(m−m') + Σ_j e^(s_j−m');
//   values   the lanes own features (lane + 32·f); for each key j of the tile the warp reads
//            v_j's row coalesced and adds p_j · v_j, with p_j and the row's address shuffled
//            from lane j.
// The warps' states are merged in shared memory at the end. With one split the block writes
// the normalized output; with several it writes its (m, l, unnormalized sum) and a second
// kernel merges the splits in a fixed order. Everything is f32 and deterministic.
#include "backend/cuda/decode_attention.cuh"

#include <algorithm>
#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kMaxGroupBlock = 8;  // query heads per block at most
constexpr int kMaxSplits = 32;
// A split gets at least this many keys (one tile per warp).
constexpr int kMinKeysPerSplit = kWarps * kWarpSize;

__device__ inline float WarpMax(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  }
  return value;
}

// Partial state of one (sequence, query head, split): m, l, then head_dim sums.
__device__ inline float* PartialState(float* partials, const PagedAttentionArgs& args,
                                      int64_t s, int64_t head, int split, int num_splits) {
  return partials + ((s * args.num_heads + head) * num_splits + split) * (args.head_dim + 2);
}

// kF: features per lane, ceil(head_dim / 32). kVec: head_dim % 4 == 0 (16-byte key loads).
// grid: [num_seqs, num_kv_heads * head_chunks, num_splits]; block: kThreads.
template <int kF, bool kVec>
__global__ void __launch_bounds__(kThreads)
    DecodeAttentionKernel(PagedAttentionArgs args, int group_block, int head_chunks,
                          int num_splits, float* partials) {
  constexpr int kLen = kF * kWarpSize;  // padded head_dim
  __shared__ __align__(16) float q_s[kMaxGroupBlock][kLen];
  __shared__ float warp_m[kWarps][kMaxGroupBlock];
  __shared__ float warp_l[kWarps][kMaxGroupBlock];
  __shared__ float warp_acc[kWarps][kMaxGroupBlock][kLen];

  const int64_t s = blockIdx.x;
  const int64_t start = args.query_start_loc[s];
  if (args.query_start_loc[s + 1] - start != 1) return;  // not a decode row: the block leaves
  const int64_t kv_head = blockIdx.y / head_chunks;
  const int64_t group = args.num_heads / args.num_kv_heads;
  const int64_t first_head = kv_head * group + (blockIdx.y % head_chunks) * group_block;
  const int num_q = static_cast<int>(
      min(static_cast<int64_t>(group_block), kv_head * group + group - first_head));
  const int split = blockIdx.z;
  const int64_t head_dim = args.head_dim;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;

  const int64_t context_len = args.context_lens[s];
  BRISK_DEVICE_CHECK(context_len >= 1, "paged_attention: sequence %lld has context %lld",
                     static_cast<long long>(s), static_cast<long long>(context_len));
  const int64_t pos = context_len - 1;
  int64_t first = 0;
  if (args.sliding_window > 0 && pos - args.sliding_window + 1 > 0) {
    first = pos - args.sliding_window + 1;
  }
  const int64_t num_keys = pos - first + 1;
  // At least kMinKeysPerSplit keys per split: with a short context the later splits are empty
  // (they only record an empty state), which keeps the per-split overhead off short rows when
  // the plan had to size the splits for the longest possible context (graph replay).
  const int64_t per_split = max(static_cast<int64_t>(kMinKeysPerSplit),
                                (num_keys + num_splits - 1) / num_splits);
  const int64_t key_begin = min(first + split * per_split, pos + 1);
  const int64_t key_end = min(key_begin + per_split, pos + 1);

  for (int i = threadIdx.x; i < kMaxGroupBlock * kLen; i += kThreads) {
    const int g = i / kLen;
    const int d = i % kLen;
    q_s[g][d] = g < num_q && d < head_dim
                    ? args.q[(start * args.num_heads + first_head + g) * head_dim + d]
                    : 0.0f;
  }
  __syncthreads();

  const int32_t* table = args.block_tables + s * args.max_blocks_per_seq;
  float m[kMaxGroupBlock], l[kMaxGroupBlock], acc[kMaxGroupBlock][kF];
#pragma unroll
  for (int g = 0; g < kMaxGroupBlock; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int f = 0; f < kF; ++f) acc[g][f] = 0.0f;
  }

  for (int64_t base = key_begin + warp * kWarpSize; base < key_end; base += kWarps * kWarpSize) {
    const int64_t t = base + lane;
    const bool valid = t < key_end;
    int64_t offset = 0;
    float dot[kMaxGroupBlock] = {};
    if (valid) {
      const int32_t block = table[t / args.block_size];
      BRISK_DEVICE_CHECK(block >= 0 && block < args.num_blocks,
                         "paged_attention: sequence %lld token %lld in block %d of %lld",
                         static_cast<long long>(s), static_cast<long long>(t), block,
                         static_cast<long long>(args.num_blocks));
      offset = ((static_cast<int64_t>(block) * args.block_size + t % args.block_size) *
                    args.num_kv_heads +
                kv_head) *
               head_dim;
      const float* k = args.k_cache + offset;
      if constexpr (kVec) {
        for (int64_t d = 0; d < head_dim; d += 4) {
          const float4 kv = *reinterpret_cast<const float4*>(k + d);
#pragma unroll
          for (int g = 0; g < kMaxGroupBlock; ++g) {
            if (g < num_q) {
              const float4 qv = *reinterpret_cast<const float4*>(&q_s[g][d]);
              dot[g] = fmaf(qv.x, kv.x, fmaf(qv.y, kv.y, fmaf(qv.z, kv.z, fmaf(qv.w, kv.w, dot[g]))));
            }
          }
        }
      } else {
        for (int64_t d = 0; d < head_dim; ++d) {
          const float kd = k[d];
#pragma unroll
          for (int g = 0; g < kMaxGroupBlock; ++g) {
            if (g < num_q) dot[g] = fmaf(q_s[g][d], kd, dot[g]);
          }
        }
      }
    }
    // Online softmax per head over this tile of (up to) 32 keys; lane 0's key is always valid.
    float p[kMaxGroupBlock];
#pragma unroll
    for (int g = 0; g < kMaxGroupBlock; ++g) {
      if (g >= num_q) {
        p[g] = 0.0f;
        continue;
      }
      const float score = valid ? dot[g] * args.scale : -INFINITY;
      const float new_m = fmaxf(m[g], WarpMax(score));
      p[g] = valid ? expf(score - new_m) : 0.0f;
      const float rescale = expf(m[g] - new_m);  // 0 on the first tile (m = -inf)
      l[g] = l[g] * rescale + WarpSum(p[g]);
#pragma unroll
      for (int f = 0; f < kF; ++f) acc[g][f] *= rescale;
      m[g] = new_m;
    }
    const int tile_keys = static_cast<int>(min(static_cast<int64_t>(kWarpSize), key_end - base));
#pragma unroll 4
    for (int j = 0; j < tile_keys; ++j) {
      const int64_t row = __shfl_sync(kFullWarpMask, offset, j);
      const float* v = args.v_cache + row;
      float vf[kF];
#pragma unroll
      for (int f = 0; f < kF; ++f) {
        const int64_t d = lane + f * kWarpSize;
        vf[f] = d < head_dim ? v[d] : 0.0f;
      }
#pragma unroll
      for (int g = 0; g < kMaxGroupBlock; ++g) {
        const float pj = __shfl_sync(kFullWarpMask, p[g], j);
        if (g < num_q) {
#pragma unroll
          for (int f = 0; f < kF; ++f) acc[g][f] = fmaf(pj, vf[f], acc[g][f]);
        }
      }
    }
  }

  // Merge the warps (a warp without keys has m = -inf, l = 0 and weighs nothing).
#pragma unroll
  for (int g = 0; g < kMaxGroupBlock; ++g) {
    if (lane == 0) {
      warp_m[warp][g] = m[g];
      warp_l[warp][g] = l[g];
    }
#pragma unroll
    for (int f = 0; f < kF; ++f) warp_acc[warp][g][lane + f * kWarpSize] = acc[g][f];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < num_q * kLen; i += kThreads) {
    const int g = i / kLen;
    const int d = i % kLen;
    if (d >= head_dim) continue;
    float block_m = -INFINITY;
    for (int w = 0; w < kWarps; ++w) block_m = fmaxf(block_m, warp_m[w][g]);
    float block_l = 0.0f;
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      if (warp_l[w][g] == 0.0f) continue;
      const float weight = expf(warp_m[w][g] - block_m);
      block_l += warp_l[w][g] * weight;
      sum += warp_acc[w][g][d] * weight;
    }
    const int64_t head = first_head + g;
    if (num_splits == 1) {
      args.out[(start * args.num_heads + head) * head_dim + d] = sum / block_l;
    } else {
      float* state = PartialState(partials, args, s, head, split, num_splits);
      if (d == 0) {
        state[0] = block_m;
        state[1] = block_l;
      }
      state[2 + d] = sum;
    }
  }
}

// grid: [num_seqs, num_heads]; block: kThreads. Merges the splits of one decode row and head.
__global__ void __launch_bounds__(kThreads)
    MergeSplitsKernel(PagedAttentionArgs args, int num_splits, const float* partials) {
  const int64_t s = blockIdx.x;
  const int64_t start = args.query_start_loc[s];
  if (args.query_start_loc[s + 1] - start != 1) return;
  const int64_t head = blockIdx.y;
  const float* states = partials + (s * args.num_heads + head) * num_splits * (args.head_dim + 2);
  const int64_t stride = args.head_dim + 2;
  float max_m = -INFINITY;
  for (int i = 0; i < num_splits; ++i) max_m = fmaxf(max_m, states[i * stride]);
  float total = 0.0f;
  for (int i = 0; i < num_splits; ++i) {
    if (states[i * stride + 1] > 0.0f) total += states[i * stride + 1] * expf(states[i * stride] - max_m);
  }
  float* out = args.out + (start * args.num_heads + head) * args.head_dim;
  for (int64_t d = threadIdx.x; d < args.head_dim; d += kThreads) {
    float sum = 0.0f;
    for (int i = 0; i < num_splits; ++i) {
      if (states[i * stride + 1] > 0.0f) sum += states[i * stride + 2 + d] * expf(states[i * stride] - max_m);
    }
    out[d] = sum / total;
  }
}

template <int kF>
void LaunchWithFeatures(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan,
                        float* partials, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(args.num_seqs),
                  static_cast<unsigned>(args.num_kv_heads * plan.head_chunks),
                  static_cast<unsigned>(plan.num_splits));
  if (args.head_dim % 4 == 0) {
    DecodeAttentionKernel<kF, true><<<grid, kThreads, 0, stream>>>(
        args, plan.group_block, plan.head_chunks, plan.num_splits, partials);
  } else {
    DecodeAttentionKernel<kF, false><<<grid, kThreads, 0, stream>>>(
        args, plan.group_block, plan.head_chunks, plan.num_splits, partials);
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

DecodeAttentionPlan PlanDecodeAttention(const PagedAttentionArgs& args, int num_sms) {
  DecodeAttentionPlan plan;
  const int64_t group = args.num_heads / args.num_kv_heads;
  plan.group_block = static_cast<int>(std::min<int64_t>(group, kMaxGroupBlock));
  plan.head_chunks = static_cast<int>((group + plan.group_block - 1) / plan.group_block);
  // About two blocks per multiprocessor over the whole batch.
  const int64_t blocks = std::max<int64_t>(args.num_seqs * args.num_kv_heads * plan.head_chunks, 1);
  int64_t splits = (2 * static_cast<int64_t>(num_sms) + blocks - 1) / blocks;
  if (args.max_context_len > 0) {
    splits = std::min<int64_t>(splits, (args.max_context_len + kMinKeysPerSplit - 1) /
                                           kMinKeysPerSplit);
  }
  plan.num_splits = static_cast<int>(std::clamp<int64_t>(splits, 1, kMaxSplits));
  if (plan.num_splits > 1) {
    plan.workspace_bytes = sizeof(float) * static_cast<size_t>(args.num_seqs * args.num_heads) *
                           plan.num_splits * static_cast<size_t>(args.head_dim + 2);
  }
  return plan;
}

void LaunchDecodeAttention(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan,
                           void* workspace, cudaStream_t stream) {
  BRISK_CHECK(args.head_dim > 0 && args.head_dim <= kMaxAttentionHeadDim)
      << "decode attention head_dim " << args.head_dim;
  BRISK_CHECK(args.num_seqs <= int64_t{0x7fffffff} &&
              args.num_kv_heads * plan.head_chunks <= 65535)
      << "decode attention grid: " << args.num_seqs << " sequences, " << args.num_kv_heads
      << " KV heads";
  BRISK_CHECK(plan.num_splits == 1 || workspace != nullptr) << "decode attention workspace";
  if (args.num_seqs == 0) return;
  auto* partials = static_cast<float*>(workspace);
  switch ((args.head_dim + kWarpSize - 1) / kWarpSize) {
    case 1: LaunchWithFeatures<1>(args, plan, partials, stream); break;
    case 2: LaunchWithFeatures<2>(args, plan, partials, stream); break;
    case 3: LaunchWithFeatures<3>(args, plan, partials, stream); break;
    case 4: LaunchWithFeatures<4>(args, plan, partials, stream); break;
    case 5: LaunchWithFeatures<5>(args, plan, partials, stream); break;
    case 6: LaunchWithFeatures<6>(args, plan, partials, stream); break;
    case 7: LaunchWithFeatures<7>(args, plan, partials, stream); break;
    default: LaunchWithFeatures<8>(args, plan, partials, stream); break;
  }
  if (plan.num_splits > 1) {
    const dim3 grid(static_cast<unsigned>(args.num_seqs), static_cast<unsigned>(args.num_heads));
    MergeSplitsKernel<<<grid, kThreads, 0, stream>>>(args, plan.num_splits, partials);
    BRISK_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace brisk::backend::cuda
