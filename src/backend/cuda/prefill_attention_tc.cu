// Prefill attention on bf16 tensor cores (mma.sync m16n8k16, f32 accumulation), laid out as
// FlashAttention-2: one thread block per (tile of 64 query rows of one sequence, query head);
// each of its 4 warps owns 16 rows and keeps their queries, scores and output in registers.
// Per tile of 64 keys, gathered through the block table and rounded to bf16 in shared memory
// (K row-major, V transposed, so that both MMA operands load as 32-bit pairs):
//   S = Q K^T     8 key groups x head_dim/16 MMAs per warp, S in the accumulator layout;
//   softmax       online, per row: the 4 lanes that share a row reduce with two shuffles;
//                 m' = max(m, max_j s_j), O and l scaled by e^(m−m'), P = e^(s−m') in bf16;
//   O += P V      P's accumulator fragments are reused as the A operand, no shared memory.
// Key tiles run from the first key any row of the block sees (sliding window) to the last
// (causal); a warp skips the tiles beyond its own last row. Slots are taken in reverse so the
// longest tiles (the last rows of a sequence) start first.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with bf16): g = lane / 4, c = lane % 4.
//   A (16x16, row-major): regs {A[g][2c..2c+1], A[g+8][2c..], A[g][2c+8..], A[g+8][2c+8..]}
//   B (16x8, k x n):      regs {B[2c..2c+1][g], B[2c+8..2c+9][g]}
//   C (16x8):             {C[g][2c], C[g][2c+1], C[g+8][2c], C[g+8][2c+1]}
#include "backend/cuda/prefill_attention_tc.cuh"

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/attention_tiles.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kRows = 16 * kWarps;  // query rows per block
constexpr int kKeys = 64;           // keys per tile
constexpr int kPad = 8;             // bf16 padding per shared row: conflict-free pair loads

template <int kD>
struct Layout {
  static constexpr int kQStride = kD + kPad;     // q_s [kRows][kQStride]
  static constexpr int kKStride = kD + kPad;     // k_s [kKeys][kKStride]
  static constexpr int kVStride = kKeys + kPad;  // vt_s [kD][kVStride] (V transposed)
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + sizeof(__nv_bfloat16) * kRows * kQStride;
  static constexpr size_t kV = kK + sizeof(__nv_bfloat16) * kKeys * kKStride;
  static constexpr size_t kBytes = kV + sizeof(__nv_bfloat16) * kD * kVStride;
};

__device__ inline uint32_t LoadPair(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

__device__ inline uint32_t PackPair(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// d += a * b for one m16n8k16 bf16 tile with f32 accumulation.
__device__ inline void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// grid: [num_slots, num_heads]; block: kThreads; dynamic shared memory: Layout<kD>::kBytes.
template <int kD>
__global__ void __launch_bounds__(kThreads)
    PrefillAttentionBf16Kernel(PagedAttentionArgs args, int64_t num_slots) {
  using L = Layout<kD>;
  constexpr int kDSteps = kD / 16;   // k-steps of S = Q K^T
  constexpr int kDGroups = kD / 8;   // n-groups of O
  constexpr int kKeyGroups = kKeys / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  auto* q_s = reinterpret_cast<__nv_bfloat16*>(smem + L::kQ);
  auto* k_s = reinterpret_cast<__nv_bfloat16*>(smem + L::kK);
  auto* vt_s = reinterpret_cast<__nv_bfloat16*>(smem + L::kV);

  const int64_t slot = num_slots - 1 - static_cast<int64_t>(blockIdx.x);
  const int64_t head = blockIdx.y;
  const int64_t kv_head = head / (args.num_heads / args.num_kv_heads);
  const int64_t s = FindTileSequence(args.query_start_loc, args.num_seqs, kRows, slot);
  const int64_t start = args.query_start_loc[s];
  const int64_t num_queries = args.query_start_loc[s + 1] - start;
  const int64_t row0 = (slot - (start / kRows + s)) * kRows;  // first row, in the sequence
  if (num_queries <= 1 || row0 >= num_queries) return;       // before any barrier
  const int64_t context_len = args.context_lens[s];
  BRISK_DEVICE_CHECK(start >= 0 && start + num_queries <= args.num_tokens &&
                         num_queries <= context_len,
                     "paged_attention: sequence %lld has rows [%lld, +%lld) of %lld, context %lld",
                     static_cast<long long>(s), static_cast<long long>(start),
                     static_cast<long long>(num_queries), static_cast<long long>(args.num_tokens),
                     static_cast<long long>(context_len));
  const int rows_here = static_cast<int>(min(static_cast<int64_t>(kRows), num_queries - row0));
  const int64_t pos0 = context_len - num_queries + row0;  // position of the block's row 0
  const int window = args.sliding_window;
  const int64_t key_lo = window > 0 ? max(int64_t{0}, pos0 - window + 1) : 0;
  const int64_t key_hi = pos0 + rows_here - 1;  // last key any row sees
  const int tid = threadIdx.x;
  const int warp = tid / kWarpSize;
  const int lane = tid % kWarpSize;
  const int g = lane / 4;
  const int c = lane % 4;

  // Queries of the block's rows, bf16, zero past the sequence's rows.
  constexpr int kChunks = kD / 4;
  for (int idx = tid; idx < kRows * kChunks; idx += kThreads) {
    const int r = idx / kChunks;
    const int q4 = idx % kChunks;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < rows_here) {
      v = *reinterpret_cast<const float4*>(
          args.q + ((start + row0 + r) * args.num_heads + head) * kD + 4 * q4);
    }
    auto* dst = reinterpret_cast<uint32_t*>(q_s + r * L::kQStride + 4 * q4);
    dst[0] = PackPair(v.x, v.y);
    dst[1] = PackPair(v.z, v.w);
  }
  __syncthreads();
  // This warp's 16 rows as A fragments, one per k-step.
  uint32_t qa[kDSteps][4];
  const __nv_bfloat16* q_w = q_s + warp * 16 * L::kQStride;
#pragma unroll
  for (int kk = 0; kk < kDSteps; ++kk) {
    qa[kk][0] = LoadPair(q_w + g * L::kQStride + kk * 16 + 2 * c);
    qa[kk][1] = LoadPair(q_w + (g + 8) * L::kQStride + kk * 16 + 2 * c);
    qa[kk][2] = LoadPair(q_w + g * L::kQStride + kk * 16 + 2 * c + 8);
    qa[kk][3] = LoadPair(q_w + (g + 8) * L::kQStride + kk * 16 + 2 * c + 8);
  }

  // Rows g and g + 8 of the warp: their positions, and the online-softmax state (each lane
  // holds the partial sum of its own columns; the row's 4 lanes agree on m).
  const int local_row[2] = {warp * 16 + g, warp * 16 + g + 8};
  int64_t pos[2];
  bool valid[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    pos[h] = pos0 + local_row[h];
    valid[h] = local_row[h] < rows_here;
  }
  const int64_t warp_last_pos = pos0 + min(warp * 16 + 15, rows_here - 1);
  float m[2] = {-INFINITY, -INFINITY};
  float l[2] = {0.0f, 0.0f};
  float o[kDGroups][4];
#pragma unroll
  for (int n = 0; n < kDGroups; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;

  const int32_t* table = args.block_tables + s * args.max_blocks_per_seq;
  // Element offset of key t's row (this KV head) in either cache.
  auto CacheOffset = [&](int64_t t) {
    const int32_t block = table[t / args.block_size];
    BRISK_DEVICE_CHECK(block >= 0 && block < args.num_blocks,
                       "paged_attention: sequence %lld token %lld in block %d of %lld",
                       static_cast<long long>(s), static_cast<long long>(t), block,
                       static_cast<long long>(args.num_blocks));
    return ((static_cast<int64_t>(block) * args.block_size + t % args.block_size) *
                args.num_kv_heads +
            kv_head) *
           kD;
  };
  for (int64_t base = key_lo / kKeys * kKeys; base <= key_hi; base += kKeys) {
    __syncthreads();  // every warp is done with the previous tile
    // A warp reads consecutive 16-byte chunks of one key row (coalesced); K is stored along
    // the row, V transposed (its scattered 2-byte stores measured cheaper than reading V with
    // 32 keys per warp, which breaks the coalescing).
    for (int idx = tid; idx < kKeys * kChunks; idx += kThreads) {
      const int j = idx / kChunks;
      const int q4 = idx % kChunks;
      const int64_t t = base + j;
      float4 kv = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      float4 vv = kv;
      if (t <= key_hi) {
        const int64_t offset = CacheOffset(t) + 4 * q4;
        kv = *reinterpret_cast<const float4*>(args.k_cache + offset);
        vv = *reinterpret_cast<const float4*>(args.v_cache + offset);
      }
      auto* kdst = reinterpret_cast<uint32_t*>(k_s + j * L::kKStride + 4 * q4);
      kdst[0] = PackPair(kv.x, kv.y);
      kdst[1] = PackPair(kv.z, kv.w);
      const int d = 4 * q4;
      vt_s[(d + 0) * L::kVStride + j] = __float2bfloat16_rn(vv.x);
      vt_s[(d + 1) * L::kVStride + j] = __float2bfloat16_rn(vv.y);
      vt_s[(d + 2) * L::kVStride + j] = __float2bfloat16_rn(vv.z);
      vt_s[(d + 3) * L::kVStride + j] = __float2bfloat16_rn(vv.w);
    }
    __syncthreads();
    if (base > warp_last_pos) continue;  // no row of this warp sees these keys

    // S = Q K^T: 16 rows x 64 keys.
    float sc[kKeyGroups][4];
#pragma unroll
    for (int n = 0; n < kKeyGroups; ++n) {
      sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
      const __nv_bfloat16* k_row = k_s + (n * 8 + g) * L::kKStride + 2 * c;
#pragma unroll
      for (int kk = 0; kk < kDSteps; ++kk) {
        Mma(sc[n], qa[kk], LoadPair(k_row + kk * 16), LoadPair(k_row + kk * 16 + 8));
      }
    }

    // Online softmax of rows g (h = 0: sc[n][0..1]) and g + 8 (h = 1: sc[n][2..3]).
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeyGroups; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t t = base + n * 8 + 2 * c + e;
          const bool visible =
              valid[h] && t <= pos[h] && (window == 0 || t > pos[h] - window);
          float& v = sc[n][2 * h + e];
          v = visible ? v * args.scale : -INFINITY;
          tile_max = fmaxf(tile_max, v);
        }
      }
      tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarpMask, tile_max, 1));
      tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarpMask, tile_max, 2));
      const float new_m = fmaxf(m[h], tile_max);
      // A row that has seen no visible key keeps m = -inf: weights 0, nothing to rescale.
      alpha[h] = new_m == -INFINITY ? 1.0f : expf(m[h] - new_m);
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < kKeyGroups; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& v = sc[n][2 * h + e];
          // Rounded here so that the normalizer sums exactly the weights the MMA uses.
          v = v == -INFINITY ? 0.0f : __bfloat162float(__float2bfloat16_rn(expf(v - new_m)));
          sum += v;
        }
      }
      l[h] = l[h] * alpha[h] + sum;
      m[h] = new_m;
    }
#pragma unroll
    for (int n = 0; n < kDGroups; ++n) {
      o[n][0] *= alpha[0];
      o[n][1] *= alpha[0];
      o[n][2] *= alpha[1];
      o[n][3] *= alpha[1];
    }

    // O += P V: the score fragments of key groups 2kk and 2kk+1 are P's A fragment.
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      const uint32_t pa[4] = {PackPair(sc[2 * kk][0], sc[2 * kk][1]),
                              PackPair(sc[2 * kk][2], sc[2 * kk][3]),
                              PackPair(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                              PackPair(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
      for (int n = 0; n < kDGroups; ++n) {
        const __nv_bfloat16* v_row = vt_s + (n * 8 + g) * L::kVStride + kk * 16 + 2 * c;
        Mma(o[n], pa, LoadPair(v_row), LoadPair(v_row + 8));
      }
    }
  }

  // out = O / l, l summed over the row's 4 lanes.
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    l[h] += __shfl_xor_sync(kFullWarpMask, l[h], 1);
    l[h] += __shfl_xor_sync(kFullWarpMask, l[h], 2);
    if (!valid[h]) continue;
    const float inv_l = 1.0f / l[h];
    float* out_row =
        args.out + ((start + row0 + local_row[h]) * args.num_heads + head) * kD;
#pragma unroll
    for (int n = 0; n < kDGroups; ++n) {
      *reinterpret_cast<float2*>(out_row + n * 8 + 2 * c) =
          make_float2(o[n][2 * h] * inv_l, o[n][2 * h + 1] * inv_l);
    }
  }
}

template <int kD>
void Launch(const PagedAttentionArgs& args, cudaStream_t stream) {
  const int64_t num_slots = args.num_tokens / kRows + args.num_seqs;
  BRISK_CHECK_LE(num_slots, int64_t{0x7fffffff}) << "prefill attention slots";
  constexpr size_t kBytes = Layout<kD>::kBytes;
  BRISK_CUDA_CHECK(cudaFuncSetAttribute(PrefillAttentionBf16Kernel<kD>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(kBytes)));
  const dim3 grid(static_cast<unsigned>(num_slots), static_cast<unsigned>(args.num_heads));
  PrefillAttentionBf16Kernel<kD><<<grid, kThreads, kBytes, stream>>>(args, num_slots);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

bool PrefillAttentionBf16Supports(const PagedAttentionArgs& args) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const bool head_dim_ok = args.head_dim == 32 || args.head_dim == 64 || args.head_dim == 96 ||
                           args.head_dim == 128;
  return head_dim_ok && aligned(args.k_cache) && aligned(args.v_cache) && aligned(args.q) &&
         reinterpret_cast<uintptr_t>(args.out) % 8 == 0;
}

void LaunchPrefillAttentionBf16(const PagedAttentionArgs& args, cudaStream_t stream) {
  BRISK_CHECK(PrefillAttentionBf16Supports(args))
      << "bf16 prefill attention: head_dim " << args.head_dim << " or unaligned tensors";
  BRISK_CHECK(args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0 &&
              args.num_heads < 65536)
      << "num_heads " << args.num_heads << " num_kv_heads " << args.num_kv_heads;
  if (args.num_tokens == 0 || args.max_query_len == 1) return;
  BRISK_CHECK_GT(args.num_seqs, 0);
  switch (args.head_dim) {
    case 32: Launch<32>(args, stream); break;
    case 64: Launch<64>(args, stream); break;
    case 96: Launch<96>(args, stream); break;
    default: Launch<128>(args, stream); break;
  }
}

}  // namespace brisk::backend::cuda
