// Decode attention kernel. One thread block per (sequence, KV head, chunk of that KV head's
// query heads, split of the visible keys); every key and value row a block loads serves all of
// its query heads (GQA), and the splits spread a batch of few sequences over the GPU.
//
// Inside a warp, G lanes share a key (G = head_dim / 8 rounded up to a power of two, 2..32);
// lane r of a lane group owns the 16-byte slots r and r + G of the rows. For head_dim 128:
//   lanes  0..15  keys t, t+2   K and V slots r, r+16: floats [4r, 4r+4) and [64+4r, 68+4r)
//   lanes 16..31  keys t+1, t+3
// so a step has 4 keys per warp and 16 per block in flight, each lane waiting on 4 independent
// 16-byte loads of K and 4 of V (V is requested with K: both rows have the same address).
//   scores   each lane dots its slots with every query head (queries in shared memory); a
//            butterfly over the G lanes completes the dot products;
//   softmax  every lane group keeps its own online state per head: m, l, and Σ p·v over its
//            slots (rescaled by e^(m−m') when m grows);
// at the end the lane groups of a warp merge by shuffles, the warps in shared memory.
//
// Splits past a short context (the plan sizes them for the longest) exit at once. A row that
// uses one split writes its output directly. Otherwise each split writes (m, l, Σ p·v) to the
// workspace and counts itself on the row's counter; the last to arrive merges the states in
// split order, writes the output and zeroes the counter. Everything is f32, and no result
// depends on the order in which blocks run.
#include "backend/cuda/decode_attention.cuh"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/rope_math.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kMaxGroupBlock = 8;  // query heads per block at most
constexpr int kMaxSplits = 64;
// A split gets at least this many keys: fewer would make the merge dearer than the keys.
constexpr int kMinKeysPerSplit = 32;
// Blocks per multiprocessor the plan aims at over the grid: enough resident blocks to keep
// many loads in flight on every multiprocessor at batch 1 (a block uses ~10 KB of shared
// memory and 128 threads, so four fit easily).
constexpr int64_t kTargetBlocksPerSm = 4;
constexpr int kSlots = 2;         // 16-byte slots of a row per lane
constexpr int kKeysPerGroup = 2;  // keys per lane group and step
constexpr int64_t kMaxCounters =
    static_cast<int64_t>(kDecodeAttentionCounterBytes / sizeof(uint32_t));

// Workspace, from `workspace`:
//   counters  [num_seqs, num_kv_heads * head_chunks] uint32 in a fixed area of
//             kDecodeAttentionCounterBytes: the states after it never overlap the counters of
//             any launch, whatever its batch, so one workspace serves every batch size
//   stats     [num_seqs, num_heads, num_splits] float2 (m, l), padded to 16 bytes
//   sums      [num_seqs, num_heads, num_splits, head_dim] f32, unnormalized Σ p·v
struct WorkspaceLayout {
  size_t counter_bytes = 0;
  size_t stats_offset = 0;
  size_t sums_offset = 0;
  size_t total_bytes = 0;
};

size_t RoundUp(size_t value, size_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

WorkspaceLayout LayoutOf(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan) {
  WorkspaceLayout layout;
  if (plan.num_splits <= 1) return layout;
  const size_t states = static_cast<size_t>(args.num_seqs * args.num_heads) * plan.num_splits;
  layout.counter_bytes = kDecodeAttentionCounterBytes;
  layout.stats_offset = layout.counter_bytes;
  layout.sums_offset = layout.stats_offset + RoundUp(sizeof(float2) * states, 16);
  layout.total_bytes =
      layout.sums_offset + sizeof(float) * states * static_cast<size_t>(args.head_dim);
  return layout;
}

struct DecodeParams {
  PagedAttentionArgs args;
  DecodeRopeArgs rope;  // read only by the kRope kernels
  int group_block = 1;
  int head_chunks = 1;
  int num_splits = 1;
  uint32_t* counters = nullptr;  // [num_seqs, num_kv_heads * head_chunks]
  float2* stats = nullptr;       // [num_seqs, num_heads, num_splits]
  float* sums = nullptr;         // [num_seqs, num_heads, num_splits, head_dim]
};

__device__ inline float WarpMax(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  }
  return value;
}

// e^(m − new_m), exactly 1 when m == new_m (also when both are −inf: an empty state).
__device__ inline float Rescale(float m, float new_m) {
  return m == new_m ? 1.0f : expf(m - new_m);
}

__device__ inline float4 Fma4(float p, float4 v, float4 acc) {
  return make_float4(fmaf(p, v.x, acc.x), fmaf(p, v.y, acc.y), fmaf(p, v.z, acc.z),
                     fmaf(p, v.w, acc.w));
}

__device__ inline float4 Scale4(float4 a, float w) {
  return make_float4(a.x * w, a.y * w, a.z * w, a.w * w);
}

__device__ inline float Dot4(float4 a, float4 b, float acc) {
  return fmaf(a.x, b.x, fmaf(a.y, b.y, fmaf(a.z, b.z, fmaf(a.w, b.w, acc))));
}

// The 16-byte slot `slot` of a row of head_dim floats, zero past the row's end. kVec: the row
// is 16-byte aligned and head_dim % 4 == 0.
template <bool kVec>
__device__ inline float4 LoadSlot(const float* row, int slot, int head_dim) {
  if constexpr (kVec) {
    return 4 * slot < head_dim ? __ldg(reinterpret_cast<const float4*>(row) + slot)
                               : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  } else {
    const int d = 4 * slot;
    return make_float4(
        d < head_dim ? __ldg(row + d) : 0.0f, d + 1 < head_dim ? __ldg(row + d + 1) : 0.0f,
        d + 2 < head_dim ? __ldg(row + d + 2) : 0.0f, d + 3 < head_dim ? __ldg(row + d + 3) : 0.0f);
  }
}

// The last block of a row to arrive merges the row's split states in split order:
// out = Σ_i sums_i · e^(m_i − M) / Σ_i l_i · e^(m_i − M), M = max_i m_i.
template <int kQ, bool kVec>
__device__ void MergeSplits(const DecodeParams& p, int64_t s, int64_t start, int head0, int num_q,
                            int used_splits) {
  __shared__ float split_w[kQ][kMaxSplits];
  __shared__ float split_total[kQ];
  const PagedAttentionArgs& a = p.args;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  constexpr int kPerLane = kMaxSplits / kWarpSize;
  for (int g = warp; g < num_q; g += kWarps) {
    const float2* stats = p.stats + (s * a.num_heads + head0 + g) * p.num_splits;
    float m[kPerLane], l[kPerLane];
    float max_m = -INFINITY;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      const float2 st = i < used_splits ? __ldcg(stats + i) : make_float2(-INFINITY, 0.0f);
      m[j] = st.x;
      l[j] = st.y;
      max_m = fmaxf(max_m, m[j]);
    }
    max_m = WarpMax(max_m);
    float total = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = lane + j * kWarpSize;
      const float w = i < used_splits ? expf(m[j] - max_m) : 0.0f;
      split_w[g][i] = w;
      total += l[j] * w;
    }
    total = WarpSum(total);
    if (lane == 0) split_total[g] = total;
  }
  __syncthreads();
  const int64_t head_dim = a.head_dim;
  constexpr int kWidth = kVec ? 4 : 1;  // features per item
  const int64_t items_per_head = head_dim / kWidth;
  for (int64_t idx = threadIdx.x; idx < num_q * items_per_head; idx += kThreads) {
    const int g = static_cast<int>(idx / items_per_head);
    const int64_t d = (idx % items_per_head) * kWidth;
    const int64_t head = head0 + g;
    const float* src = p.sums + (s * a.num_heads + head) * p.num_splits * head_dim + d;
    float* dst = a.out + (start * a.num_heads + head) * head_dim + d;
    const float total = split_total[g];
    if constexpr (kVec) {
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll 8
      for (int i = 0; i < used_splits; ++i) {
        acc = Fma4(split_w[g][i], __ldcg(reinterpret_cast<const float4*>(src + i * head_dim)), acc);
      }
      *reinterpret_cast<float4*>(dst) =
          make_float4(acc.x / total, acc.y / total, acc.z / total, acc.w / total);
    } else {
      float acc = 0.0f;
#pragma unroll 8
      for (int i = 0; i < used_splits; ++i) {
        acc = fmaf(split_w[g][i], __ldcg(src + i * head_dim), acc);
      }
      *dst = acc / total;
    }
  }
}

// kG: lanes per key (a power of two, 2..32); kQ: query heads per block at most (1, 2, 4, 8);
// kVec: head_dim % 4 == 0 (16-byte loads); kRope: q, k and v of the step come from p.rope.qkv
// (DecodeRopeArgs; needs kVec). REQUIRES: head_dim <= 8 * kG.
// grid: [num_seqs, num_kv_heads * head_chunks, num_splits]; block: kThreads.
template <int kG, int kQ, bool kVec, bool kRope>
__global__ void __launch_bounds__(kThreads) DecodeAttentionKernel(DecodeParams p) {
  static_assert(kVec || !kRope);
  constexpr int kGroups = kWarpSize / kG;                       // keys side by side in a warp
  constexpr int kLen = 4 * kSlots * kG;                         // padded head_dim
  constexpr int kBlockKeys = kWarps * kKeysPerGroup * kGroups;  // keys per step of the block
  __shared__ __align__(16) float q_s[kQ][kLen];
  __shared__ __align__(16) float warp_acc[kWarps][kQ][kLen];
  __shared__ float warp_m[kWarps][kQ];
  __shared__ float warp_l[kWarps][kQ];
  __shared__ float block_w[kWarps][kQ];  // weight of each warp's state in the block's
  __shared__ float block_m[kQ];
  __shared__ float block_l[kQ];
  __shared__ bool is_last;

  WaitForPrerequisites();  // q and the step's K/V come from the kernel before; every block
  LetDependentsLaunch();   // waits, even one that leaves at once (see LaunchKernel)
  const PagedAttentionArgs& a = p.args;
  const int64_t s = blockIdx.x;
  const int64_t start = a.query_start_loc[s];
  if (a.query_start_loc[s + 1] - start != 1) return;  // not a decode row: the block leaves
  const int64_t context_len = a.context_lens[s];
  BRISK_DEVICE_CHECK(context_len >= 1, "paged_attention: sequence %lld has context %lld",
                     static_cast<long long>(s), static_cast<long long>(context_len));
  const int64_t pos = context_len - 1;
  int64_t first = 0;
  if (a.sliding_window > 0 && pos - a.sliding_window + 1 > 0) first = pos - a.sliding_window + 1;
  const int64_t num_keys = pos - first + 1;
  // Every block of the row derives the same cut from the context, so all agree on how many
  // splits hold keys (and thus on the counter's target) without talking to each other.
  const int64_t per_split =
      max(static_cast<int64_t>(kMinKeysPerSplit), (num_keys + p.num_splits - 1) / p.num_splits);
  const int used_splits = static_cast<int>((num_keys + per_split - 1) / per_split);
  const int split = blockIdx.z;
  if (split >= used_splits) return;  // beyond a short context: no keys, not counted
  const int key_begin = static_cast<int>(first + split * per_split);
  const int key_end = static_cast<int>(min(first + (split + 1) * per_split, pos + 1));

  const int kv_head = blockIdx.y / p.head_chunks;
  const int group = static_cast<int>(a.num_heads / a.num_kv_heads);
  const int chunk = blockIdx.y % p.head_chunks;
  const int head0 = kv_head * group + chunk * p.group_block;
  const int num_q = min(p.group_block, group - chunk * p.group_block);
  const int head_dim = static_cast<int>(a.head_dim);
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int key_group = lane / kG;
  const int r = lane % kG;

  // kRope: the row's token in qkv, its position's cos | sin row, and its cache slot.
  const float* qkv_row = nullptr;  // [(num_heads + 2 * num_kv_heads) * head_dim]
  const float* cs = nullptr;       // [rotary_dim]
  int32_t new_slot = -1;
  if constexpr (kRope) {
    const DecodeRopeArgs& rope = p.rope;
    const int32_t position = rope.positions[start];
    BRISK_DEVICE_CHECK(position >= 0 && position < rope.max_positions,
                       "qkv_rope_attention: position %d at %lld, max %lld", position,
                       static_cast<long long>(start), static_cast<long long>(rope.max_positions));
    new_slot = rope.slot_mapping[start];
    BRISK_DEVICE_CHECK(new_slot >= -1 && new_slot < rope.num_slots,
                       "qkv_rope_attention: slot %d at %lld, %lld slots", new_slot,
                       static_cast<long long>(start), static_cast<long long>(rope.num_slots));
    qkv_row = rope.qkv + start * (a.num_heads + 2 * a.num_kv_heads) * head_dim;
    cs = rope.cos_sin + static_cast<int64_t>(position) * rope.rotary_dim;
  }
  for (int i = threadIdx.x; i < kQ * kLen; i += kThreads) {
    const int g = i / kLen;
    const int d = i % kLen;
    float value = 0.0f;
    if (g < num_q && d < head_dim) {
      if constexpr (kRope) {
        value = RotatedFeature(qkv_row + (head0 + g) * head_dim, d, cs, p.rope.rotary_dim);
      } else {
        value = a.q[(start * a.num_heads + head0 + g) * head_dim + d];
      }
    }
    q_s[g][d] = value;
  }
  // kRope: the step's key (rotated) and value of this KV head, [head_dim] each in qkv.
  const float* k_new = nullptr;
  const float* v_new = nullptr;
  if constexpr (kRope) {
    k_new = qkv_row + (a.num_heads + kv_head) * head_dim;
    v_new = k_new + a.num_kv_heads * head_dim;
    // One block per row and KV head writes them to the cache: the first head chunk's block of
    // the split that holds the newest key.
    if (new_slot >= 0 && chunk == 0 && split == used_splits - 1) {
      const int64_t offset = (static_cast<int64_t>(new_slot) * a.num_kv_heads + kv_head) * head_dim;
      for (int i = threadIdx.x; i < head_dim; i += kThreads) {
        p.rope.k_cache[offset + i] = RotatedFeature(k_new, i, cs, p.rope.rotary_dim);
        p.rope.v_cache[offset + i] = v_new[i];
      }
    }
  }

  const int32_t* table = a.block_tables + s * a.max_blocks_per_seq;
  const int block_size = static_cast<int>(a.block_size);
  float4 k_reg[kKeysPerGroup][kSlots], v_reg[kKeysPerGroup][kSlots];
  bool valid[kKeysPerGroup];
  // Key of (warp, u, lane group) in the step at `base`: base + (warp·kKeysPerGroup + u)·kGroups
  // + key_group.
  auto load_step = [&](int base) {
    int t[kKeysPerGroup];
    int32_t block[kKeysPerGroup];
#pragma unroll
    for (int u = 0; u < kKeysPerGroup; ++u) {
      t[u] = base + (warp * kKeysPerGroup + u) * kGroups + key_group;
      valid[u] = t[u] < key_end;
      block[u] = valid[u] ? table[t[u] / block_size] : 0;
    }
    // Checked before any row is requested: one check site, with few live registers.
#pragma unroll
    for (int u = 0; u < kKeysPerGroup; ++u) {
      BRISK_DEVICE_CHECK(!valid[u] || (block[u] >= 0 && block[u] < a.num_blocks),
                         "paged_attention: sequence %lld token %d in block %d of %lld",
                         static_cast<long long>(s), t[u], block[u],
                         static_cast<long long>(a.num_blocks));
    }
#pragma unroll
    for (int u = 0; u < kKeysPerGroup; ++u) {
#pragma unroll
      for (int c = 0; c < kSlots; ++c) {
        k_reg[u][c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        v_reg[u][c] = k_reg[u][c];
      }
      if (valid[u]) {
        const int64_t slot = static_cast<int64_t>(block[u]) * block_size + t[u] % block_size;
        if (kRope && t[u] == pos && slot == new_slot) {
          // The newest key, which this step writes to the slot: taken from qkv, rotated here,
          // the same values a cache read after QkvRopeWriteKv would give.
#pragma unroll
          for (int c = 0; c < kSlots; ++c) {
            const int d = 4 * (r + c * kG);
            if (d < head_dim) {
              k_reg[u][c] = make_float4(RotatedFeature(k_new, d, cs, p.rope.rotary_dim),
                                        RotatedFeature(k_new, d + 1, cs, p.rope.rotary_dim),
                                        RotatedFeature(k_new, d + 2, cs, p.rope.rotary_dim),
                                        RotatedFeature(k_new, d + 3, cs, p.rope.rotary_dim));
              v_reg[u][c] = *reinterpret_cast<const float4*>(v_new + d);
            }
          }
        } else {
          const int64_t row = (slot * a.num_kv_heads + kv_head) * head_dim;
#pragma unroll
          for (int c = 0; c < kSlots; ++c) {
            k_reg[u][c] = LoadSlot<kVec>(a.k_cache + row, r + c * kG, head_dim);
            v_reg[u][c] = LoadSlot<kVec>(a.v_cache + row, r + c * kG, head_dim);
          }
        }
      }
    }
  };

  // Online softmax state of this lane group, per query head; acc[g][c] covers slot r + c·kG.
  float m[kQ], l[kQ];
  float4 acc[kQ][kSlots];
#pragma unroll
  for (int g = 0; g < kQ; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int c = 0; c < kSlots; ++c) acc[g][c] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }

  load_step(key_begin);  // requested before the queries are waited for
  __syncthreads();
  for (int base = key_begin;;) {
    float score[kKeysPerGroup][kQ];
#pragma unroll
    for (int g = 0; g < kQ; ++g) {
#pragma unroll
      for (int u = 0; u < kKeysPerGroup; ++u) score[u][g] = 0.0f;
#pragma unroll
      for (int c = 0; c < kSlots; ++c) {
        const float4 qv = *reinterpret_cast<const float4*>(&q_s[g][4 * (r + c * kG)]);
#pragma unroll
        for (int u = 0; u < kKeysPerGroup; ++u) score[u][g] = Dot4(qv, k_reg[u][c], score[u][g]);
      }
    }
#pragma unroll
    for (int g = 0; g < kQ; ++g) {
#pragma unroll
      for (int u = 0; u < kKeysPerGroup; ++u) {
#pragma unroll
        for (int offset = kG / 2; offset > 0; offset /= 2) {
          score[u][g] += __shfl_xor_sync(kFullWarpMask, score[u][g], offset);
        }
      }
    }
#pragma unroll
    for (int g = 0; g < kQ; ++g) {
      float new_m = m[g];
#pragma unroll
      for (int u = 0; u < kKeysPerGroup; ++u) {
        score[u][g] = valid[u] ? score[u][g] * a.scale : -INFINITY;
        new_m = fmaxf(new_m, score[u][g]);
      }
      const float rescale = Rescale(m[g], new_m);  // 0 on the first keys (m = −inf)
      l[g] *= rescale;
#pragma unroll
      for (int c = 0; c < kSlots; ++c) acc[g][c] = Scale4(acc[g][c], rescale);
#pragma unroll
      for (int u = 0; u < kKeysPerGroup; ++u) {
        const float pu = valid[u] ? expf(score[u][g] - new_m) : 0.0f;
        l[g] += pu;
#pragma unroll
        for (int c = 0; c < kSlots; ++c) acc[g][c] = Fma4(pu, v_reg[u][c], acc[g][c]);
      }
      m[g] = new_m;
    }
    base += kBlockKeys;
    if (base >= key_end) break;
    load_step(base);
  }

  // Merge the lane groups of the warp (a group without keys has m = −inf, l = 0).
#pragma unroll
  for (int offset = kG; offset < kWarpSize; offset *= 2) {
#pragma unroll
    for (int g = 0; g < kQ; ++g) {
      const float other_m = __shfl_xor_sync(kFullWarpMask, m[g], offset);
      const float other_l = __shfl_xor_sync(kFullWarpMask, l[g], offset);
      const float new_m = fmaxf(m[g], other_m);
      const float w_self = Rescale(m[g], new_m);
      const float w_other = Rescale(other_m, new_m);
      l[g] = l[g] * w_self + other_l * w_other;
#pragma unroll
      for (int c = 0; c < kSlots; ++c) {
        float4& x = acc[g][c];
        x.x = x.x * w_self + __shfl_xor_sync(kFullWarpMask, x.x, offset) * w_other;
        x.y = x.y * w_self + __shfl_xor_sync(kFullWarpMask, x.y, offset) * w_other;
        x.z = x.z * w_self + __shfl_xor_sync(kFullWarpMask, x.z, offset) * w_other;
        x.w = x.w * w_self + __shfl_xor_sync(kFullWarpMask, x.w, offset) * w_other;
      }
      m[g] = new_m;
    }
  }
  if (key_group == 0) {
#pragma unroll
    for (int g = 0; g < kQ; ++g) {
      if (r == 0) {
        warp_m[warp][g] = m[g];
        warp_l[warp][g] = l[g];
      }
#pragma unroll
      for (int c = 0; c < kSlots; ++c) {
        *reinterpret_cast<float4*>(&warp_acc[warp][g][4 * (r + c * kG)]) = acc[g][c];
      }
    }
  }
  __syncthreads();
  // Merge the warps, in warp order.
  if (threadIdx.x < kQ) {
    const int g = threadIdx.x;
    float bm = -INFINITY;
    for (int w = 0; w < kWarps; ++w) bm = fmaxf(bm, warp_m[w][g]);
    float bl = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      block_w[w][g] = warp_l[w][g] > 0.0f ? expf(warp_m[w][g] - bm) : 0.0f;
      bl += warp_l[w][g] * block_w[w][g];
    }
    block_m[g] = bm;
    block_l[g] = bl;
  }
  __syncthreads();
  const bool direct = used_splits == 1;
  for (int i = threadIdx.x; i < num_q * head_dim; i += kThreads) {
    const int g = i / head_dim;
    const int d = i % head_dim;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += warp_acc[w][g][d] * block_w[w][g];
    const int64_t head = head0 + g;
    if (direct) {
      a.out[(start * a.num_heads + head) * head_dim + d] = sum / block_l[g];
    } else {
      const int64_t state = (s * a.num_heads + head) * p.num_splits + split;
      if (d == 0) p.stats[state] = make_float2(block_m[g], block_l[g]);
      p.sums[state * head_dim + d] = sum;
    }
  }
  if (direct) return;

  // Count this split in; the last of the row's used splits merges them.
  uint32_t* counter = p.counters + s * gridDim.y + blockIdx.y;
  __threadfence();  // this block's states are visible before the counter moves
  __syncthreads();
  if (threadIdx.x == 0) {
    is_last = atomicAdd(counter, 1u) == static_cast<uint32_t>(used_splits - 1);
  }
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  MergeSplits<kQ, kVec>(p, s, start, head0, num_q, used_splits);
  if (threadIdx.x == 0) *counter = 0;  // every split has counted in: ready for the next launch
}

template <int kQ, bool kRope>
void LaunchWithHeads(const DecodeParams& params, const dim3& grid, cudaStream_t stream) {
  const PagedAttentionArgs& a = params.args;
  const int64_t head_dim = a.head_dim;
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  // Dependent launches: the kernel waits for the QKV kernel before it reads q and the cache.
  const auto launch = [&](auto kernel) {
    LaunchKernel(/*dependent=*/true, kernel, grid, dim3(kThreads), 0, stream, params);
  };
  if (head_dim % 4 != 0 || !aligned(a.k_cache) || !aligned(a.v_cache) || !aligned(a.out)) {
    // Scalar loads and stores (rows are not 16-byte aligned); slow but general.
    BRISK_CHECK(!kRope) << "decode rope attention needs 16-byte rows";
    if constexpr (!kRope) launch(DecodeAttentionKernel<32, kMaxGroupBlock, false, false>);
    return;
  }
  // The fewest lanes per key whose slots cover the row.
  const int64_t slots = head_dim / 4;
  if (slots <= 2 * kSlots) {
    launch(DecodeAttentionKernel<2, kQ, true, kRope>);
  } else if (slots <= 4 * kSlots) {
    launch(DecodeAttentionKernel<4, kQ, true, kRope>);
  } else if (slots <= 8 * kSlots) {
    launch(DecodeAttentionKernel<8, kQ, true, kRope>);
  } else if (slots <= 16 * kSlots) {
    launch(DecodeAttentionKernel<16, kQ, true, kRope>);
  } else {
    launch(DecodeAttentionKernel<32, kQ, true, kRope>);
  }
}

}  // namespace

DecodeAttentionPlan PlanDecodeAttention(const PagedAttentionArgs& args, int num_sms) {
  DecodeAttentionPlan plan;
  const int64_t group = args.num_heads / args.num_kv_heads;
  plan.head_chunks = static_cast<int>((group + kMaxGroupBlock - 1) / kMaxGroupBlock);
  plan.group_block = static_cast<int>((group + plan.head_chunks - 1) / plan.head_chunks);
  // Enough splits for kTargetBlocksPerSm blocks per multiprocessor over the batch, but none
  // that the longest possible row would leave with fewer than kMinKeysPerSplit keys.
  const int64_t blocks = std::max<int64_t>(args.num_seqs * args.num_kv_heads * plan.head_chunks, 1);
  int64_t splits = (kTargetBlocksPerSm * std::max(num_sms, 1) + blocks - 1) / blocks;
  int64_t max_keys = args.max_context_len > 0 ? args.max_context_len : 0;
  if (args.sliding_window > 0) {
    max_keys =
        max_keys > 0 ? std::min<int64_t>(max_keys, args.sliding_window) : args.sliding_window;
  }
  if (max_keys > 0) {
    splits = std::min<int64_t>(splits, (max_keys + kMinKeysPerSplit - 1) / kMinKeysPerSplit);
  }
  plan.num_splits = static_cast<int>(std::clamp<int64_t>(splits, 1, kMaxSplits));
  // Split rows need one counter each (there are fewer than kTargetBlocksPerSm * num_sms of them
  // whenever the plan splits, far below the area's capacity on any GPU); more: one split.
  if (blocks > kMaxCounters) plan.num_splits = 1;
  const WorkspaceLayout layout = LayoutOf(args, plan);
  plan.counter_bytes = layout.counter_bytes;
  plan.workspace_bytes = layout.total_bytes;
  return plan;
}

namespace {

template <bool kRope>
void Launch(const PagedAttentionArgs& args, const DecodeRopeArgs& rope,
            const DecodeAttentionPlan& plan, void* workspace, cudaStream_t stream) {
  BRISK_CHECK(args.head_dim > 0 && args.head_dim <= kMaxAttentionHeadDim)
      << "decode attention head_dim " << args.head_dim;
  BRISK_CHECK(args.num_seqs <= int64_t{0x7fffffff} && args.num_kv_heads * plan.head_chunks <= 65535)
      << "decode attention grid: " << args.num_seqs << " sequences, " << args.num_kv_heads
      << " KV heads";
  BRISK_CHECK(plan.group_block >= 1 && plan.group_block <= kMaxGroupBlock && plan.num_splits >= 1 &&
              plan.num_splits <= kMaxSplits)
      << "decode attention plan: " << plan.group_block << " heads, " << plan.num_splits
      << " splits";
  const WorkspaceLayout layout = LayoutOf(args, plan);
  BRISK_CHECK(plan.workspace_bytes >= layout.total_bytes &&
              plan.counter_bytes == layout.counter_bytes)
      << "decode attention plan made for other args";
  BRISK_CHECK(layout.total_bytes == 0 ||
              (workspace != nullptr && reinterpret_cast<uintptr_t>(workspace) % 16 == 0))
      << "decode attention workspace";
  if (args.num_seqs == 0) return;
  DecodeParams params{.args = args,
                      .rope = rope,
                      .group_block = plan.group_block,
                      .head_chunks = plan.head_chunks,
                      .num_splits = plan.num_splits};
  if (layout.total_bytes > 0) {
    char* base = static_cast<char*>(workspace);
    params.counters = reinterpret_cast<uint32_t*>(base);
    params.stats = reinterpret_cast<float2*>(base + layout.stats_offset);
    params.sums = reinterpret_cast<float*>(base + layout.sums_offset);
  }
  const dim3 grid(static_cast<unsigned>(args.num_seqs),
                  static_cast<unsigned>(args.num_kv_heads * plan.head_chunks),
                  static_cast<unsigned>(plan.num_splits));
  if (plan.group_block == 1) {
    LaunchWithHeads<1, kRope>(params, grid, stream);
  } else if (plan.group_block == 2) {
    LaunchWithHeads<2, kRope>(params, grid, stream);
  } else if (plan.group_block <= 4) {
    LaunchWithHeads<4, kRope>(params, grid, stream);
  } else {
    LaunchWithHeads<8, kRope>(params, grid, stream);
  }
}

}  // namespace

void LaunchDecodeAttention(const PagedAttentionArgs& args, const DecodeAttentionPlan& plan,
                           void* workspace, cudaStream_t stream) {
  Launch<false>(args, DecodeRopeArgs{}, plan, workspace, stream);
}

bool DecodeRopeAttentionSupports(const PagedAttentionArgs& args, const DecodeRopeArgs& rope) {
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  return args.head_dim % 4 == 0 && aligned(rope.qkv) && aligned(args.k_cache) &&
         aligned(args.v_cache) && aligned(args.out);
}

void LaunchDecodeRopeAttention(const PagedAttentionArgs& args, const DecodeRopeArgs& rope,
                               const DecodeAttentionPlan& plan, void* workspace,
                               cudaStream_t stream) {
  BRISK_CHECK(DecodeRopeAttentionSupports(args, rope) && args.max_query_len == 1)
      << "decode rope attention: head_dim " << args.head_dim << ", max_query_len "
      << args.max_query_len;
  BRISK_CHECK(rope.rotary_dim % 2 == 0 && rope.rotary_dim >= 0 && rope.rotary_dim <= args.head_dim)
      << "decode rope attention: rotary_dim " << rope.rotary_dim;
  BRISK_CHECK(rope.k_cache == args.k_cache && rope.v_cache == args.v_cache)
      << "decode rope attention: the caches it writes are the ones it reads";
  Launch<true>(args, rope, plan, workspace, stream);
}

}  // namespace brisk::backend::cuda
