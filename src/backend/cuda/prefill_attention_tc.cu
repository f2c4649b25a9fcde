// Prefill attention on bf16 tensor cores (mma.sync m16n8k16, f32 accumulation), laid out as
// FlashAttention-2. A block of 8 warps owns 128 (query row, query head) pairs of one sequence:
// 64 rows x 2 query heads of one KV head when the group size is even, else 128 rows x 1 head,
// so every key and value it loads serves 128 rows. Each warp owns 16 rows of one head and keeps
// their queries (bf16 A fragments, read once from global), scores and output in registers.
// The block walks tiles of 64 keys from the first key any of its rows sees (sliding window) to
// the last (causal); a warp skips the tiles none of its rows sees. Slots are taken in reverse
// so the longest tiles (the last rows of a sequence) start first.
//
// Per tile, for one warp:
//   S = Q K^T     8 key groups x head_dim/16 MMAs, S in the accumulator layout;
//   softmax       online, per row: the 4 lanes that share a row reduce with two shuffles;
//                 m' = max(m, max_j s_j), O and l scaled by e^(m−m'), P = e^(s−m') in bf16
//                 (l sums exactly the rounded weights);
//   O += P V      P's accumulator fragments are reused as the A operand, no shared memory.
//
// Key tile pipeline, one __syncthreads per tile; iteration i of the loop:
//   1. threads 0..63 load the block-table entry of their key of tile i+2 (in flight during 2);
//   2. the warps compute tile i from tiles[i % 2];
//   3. threads 0..63 write their key's cache-row offset (-1: no row sees it) to offsets[i % 2];
//   4. each thread waits for its own cp.async copies of tile i+1 and rounds them to bf16 into
//      tiles[(i+1) % 2]; a staging slot is only ever read by the thread that filled it, so no
//      barrier sits between copy and conversion;
//   5. __syncthreads: tiles[(i+1) % 2] and offsets[i % 2] are complete, every warp is done
//      with tiles[i % 2];
//   6. each thread queues the cp.async copies of its chunks of tile i+2 (zero-filled for -1),
//      which stay in flight while tile i+1 is computed.
// Shared memory (16-byte chunk (key j, floats 4q..4q+3) of a tile has index j * head_dim/4 + q;
// thread t owns chunks t, t + 256, ...: a warp reads 512 consecutive bytes of key rows):
//   staging  [K, V][64 * head_dim / 4] f32 chunks, raw copies of one tile
//   tiles    [2 buffers][K, V][64 keys][head_dim + 8] bf16, row-major; the 8-element pad puts
//            the 8 rows of an 8x8 ldmatrix on distinct banks
//   offsets  [2][64] int64 cache-row offsets
// K's B fragments come from ldmatrix, V's from ldmatrix.trans on the same row-major layout.
//
// Key split. A prompt of a few hundred rows gives about one block per SM, one wave in which
// the causal mask makes the last row tile walk many key tiles and the first one: the wave
// lasts as long as its longest block. When the grid is that small (at most two blocks per SM)
// each block of 3 or more key tiles is cut into two parts, the first ceil(n/2) tiles and the
// rest, run by two blocks: each runs the loop above over its tiles and publishes its rows'
// running max m, sum l and unnormalized O to the workspace, and the later of the two (an
// arrival counter per block decides) merges them: m = max(m0, m1), a_p = e^(m_p - m),
// out = (a0 O0 + a1 O1) / (a0 l0 + a1 l1). A row that sees no key of one part has m_p = -inf
// and a_p = 0. Blocks are ordered slot-major, longest slot first, so the long parts start
// first and the short ones fill in behind them.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with bf16): g = lane / 4, c = lane % 4.
//   A (16x16, row-major): regs {A[g][2c..2c+1], A[g+8][2c..], A[g][2c+8..], A[g+8][2c+8..]}
//   B (16x8, k x n):      regs {B[2c..2c+1][g], B[2c+8..2c+9][g]}
//   C (16x8):             {C[g][2c], C[g][2c+1], C[g+8][2c], C[g+8][2c+1]}
//   ldmatrix.x4:          lanes 8i..8i+7 address the rows of matrix i; lane (g, c) gets
//                         M_i[g][2c..2c+1] (.trans: M_i[2c..2c+1][g]) in register i.
#include "backend/cuda/prefill_attention_tc.cuh"

#include <cuda_bf16.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <utility>

#include "backend/cuda/attention_tiles.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * kWarpSize;
constexpr int kRowHeads = 16 * kWarps;  // (query row, query head) pairs per block
constexpr int kKeys = 64;               // keys per tile
constexpr int kKeyGroups = kKeys / 8;
constexpr int kPad = 8;                 // bf16 padding per tile row: conflict-free ldmatrix
constexpr int kMinSplitTiles = 3;       // key tiles from which a block is split in two
constexpr int64_t kSplitCounters = 4096;  // arrival counters at the workspace's start

template <int kD>
struct Layout {
  static constexpr int kChunks = kD / 4;  // 16-byte chunks per cache row
  static constexpr int kChunksPerThread = kKeys * kChunks / kThreads;
  static constexpr int kStride = kD + kPad;  // bf16 elements per tile row
  static constexpr size_t kStageBytes = sizeof(float) * kKeys * kD;
  static constexpr size_t kTileBytes = sizeof(__nv_bfloat16) * kKeys * kStride;
  static constexpr size_t kStageK = 0;
  static constexpr size_t kStageV = kStageK + kStageBytes;
  static constexpr size_t kTiles = kStageV + kStageBytes;  // tile (buffer b, K/V w): 2b + w
  static constexpr size_t kOffsets = kTiles + 4 * kTileBytes;
  static constexpr size_t kBytes = kOffsets + sizeof(int64_t) * 2 * kKeys;
  static_assert(kKeys * kChunks % kThreads == 0, "whole chunks per thread");
  static_assert(kD % 32 == 0, "ldmatrix.x4 covers two k-steps or two n-groups");
  static_assert(kTiles % 16 == 0 && kTileBytes % 16 == 0 && kStride * 2 % 16 == 0,
                "16-byte aligned ldmatrix rows");
};

// One warp's rows and running state. Rows g and g + 8 of the warp are index h = 0 and 1.
template <int kD>
struct WarpRows {
  uint32_t qa[kD / 16][4];  // Q as A fragments, one per k-step of S = Q K^T
  float o[kD / 8][4];       // O accumulators, one per group of 8 features
  float m[2];               // running max (the row's 4 lanes agree)
  float l[2];               // this lane's partial sum of the row's weights
  int pos[2];               // positions of the rows in the sequence (int32, as context_lens)
  bool valid[2];            // whether the rows exist
};

__device__ inline uint32_t PackPair(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ inline uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// d += a * b for one m16n8k16 bf16 tile with f32 accumulation.
__device__ inline void Mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ inline void LoadMatrices(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}

__device__ inline void LoadMatricesTransposed(uint32_t (&r)[4], uint32_t address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address)
               : "memory");
}

// Queues a 16-byte global-to-shared copy; when !valid nothing is read and dst gets zeros.
__device__ inline void CopyAsync16(uint32_t dst, const float* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ inline void CommitCopies() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

__device__ inline void WaitCopies() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

// Block-table entry of key t of sequence s, or -1 when t is outside [key_lo, key_hi] (no row
// of the block sees it; the table need not hold it).
__device__ inline int32_t LoadBlockId(const PagedAttentionArgs& args, int s, int t, int key_lo,
                                      int key_hi) {
  if (t < key_lo || t > key_hi) return -1;
  // 32-bit unsigned: an inline division (t >= 0; context_lens is int32).
  const uint32_t index = static_cast<uint32_t>(t) / static_cast<uint32_t>(args.block_size);
  return args.block_tables[s * args.max_blocks_per_seq + index];
}

// Element offset of key t's row (this KV head) in either cache, -1 when t is outside
// [key_lo, key_hi]; `block` is LoadBlockId's answer for t.
template <int kD>
__device__ inline int64_t KeyRowOffset(const PagedAttentionArgs& args, int s, int kv_head,
                                       int t, int key_lo, int key_hi, int32_t block) {
  if (t < key_lo || t > key_hi) return -1;
  BRISK_DEVICE_CHECK(block >= 0 && block < args.num_blocks,
                     "paged_attention: sequence %lld token %lld in block %d of %lld",
                     static_cast<long long>(s), static_cast<long long>(t), block,
                     static_cast<long long>(args.num_blocks));
  const uint32_t in_block = static_cast<uint32_t>(t) % static_cast<uint32_t>(args.block_size);
  return ((static_cast<int64_t>(block) * args.block_size + in_block) *
              args.num_kv_heads +
          kv_head) *
         kD;
}

// Queues this thread's chunks of one tile, K and V, into its staging slots.
// offsets: [kKeys] shared, KeyRowOffset of each key of the tile.
template <int kD>
__device__ inline void CopyTile(const PagedAttentionArgs& args, const int64_t* offsets,
                                uint32_t smem_address, int tid) {
  using L = Layout<kD>;
#pragma unroll
  for (int i = 0; i < L::kChunksPerThread; ++i) {
    const int idx = i * kThreads + tid;
    const int64_t offset = offsets[idx / L::kChunks];
    const bool valid = offset >= 0;
    const int64_t src = valid ? offset + 4 * (idx % L::kChunks) : 0;
    const uint32_t dst = smem_address + 16 * idx;
    CopyAsync16(dst + L::kStageK, args.k_cache + src, valid);
    CopyAsync16(dst + L::kStageV, args.v_cache + src, valid);
  }
}

// Waits for this thread's copies and rounds its chunks to bf16 into tile buffer `buffer`.
template <int kD>
__device__ inline void ConvertTile(unsigned char* smem, int buffer, int tid) {
  using L = Layout<kD>;
  WaitCopies();
  const auto* stage_k = reinterpret_cast<const float4*>(smem + L::kStageK);
  const auto* stage_v = reinterpret_cast<const float4*>(smem + L::kStageV);
  auto* k_tile = reinterpret_cast<__nv_bfloat16*>(smem + L::kTiles + 2 * buffer * L::kTileBytes);
  auto* v_tile = k_tile + kKeys * L::kStride;
#pragma unroll
  for (int i = 0; i < L::kChunksPerThread; ++i) {
    const int idx = i * kThreads + tid;
    const int element = idx / L::kChunks * L::kStride + 4 * (idx % L::kChunks);
    const float4 kv = stage_k[idx];
    const float4 vv = stage_v[idx];
    *reinterpret_cast<uint2*>(k_tile + element) =
        make_uint2(PackPair(kv.x, kv.y), PackPair(kv.z, kv.w));
    *reinterpret_cast<uint2*>(v_tile + element) =
        make_uint2(PackPair(vv.x, vv.y), PackPair(vv.z, vv.w));
  }
}

// The warp's query rows as A fragments (zero for rows that do not exist). q_rows[h]: the f32
// row [kD] of row h of the warp, or nullptr.
template <int kD>
__device__ inline void LoadQueries(const float* const (&q_rows)[2], int c, WarpRows<kD>& w) {
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float2 v = make_float2(0.0f, 0.0f);
        if (q_rows[h] != nullptr) {
          v = *reinterpret_cast<const float2*>(q_rows[h] + kk * 16 + half * 8 + 2 * c);
        }
        w.qa[kk][2 * half + h] = PackPair(v.x, v.y);
      }
    }
  }
}

// Online softmax of one tile's scores sc (C layout over 64 keys from `base`), in place: sc
// becomes the bf16-rounded weights; m, l and O are updated.
template <int kD>
__device__ inline void SoftmaxTile(float (&sc)[kKeyGroups][4], int base, int c, int window,
                                   float scale, WarpRows<kD>& w) {
  float alpha[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    // Row h sees the tile's keys j with first <= j <= last (first > last when it sees none),
    // shifted by this lane's first column 2c so that j's offset n * 8 + e is a constant.
    const int last = w.valid[h] ? w.pos[h] - base : -1;
    const int first = window > 0 ? w.pos[h] - window + 1 - base : 0;
    const int lane_last = min(max(last, -1), kKeys) - 2 * c;
    const int lane_first = min(max(first, 0), kKeys) - 2 * c;
    float tile_max = -INFINITY;
#pragma unroll
    for (int n = 0; n < kKeyGroups; ++n) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool visible = n * 8 + e <= lane_last && n * 8 + e >= lane_first;
        float& v = sc[n][2 * h + e];
        v = visible ? v * scale : -INFINITY;
        tile_max = fmaxf(tile_max, v);
      }
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarpMask, tile_max, 1));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullWarpMask, tile_max, 2));
    const float new_m = fmaxf(w.m[h], tile_max);
    // A row that has seen no visible key keeps m = -inf: weights 0, nothing to rescale.
    alpha[h] = new_m == -INFINITY ? 1.0f : expf(w.m[h] - new_m);
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
    w.l[h] = w.l[h] * alpha[h] + sum;
    w.m[h] = new_m;
  }
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) {
    w.o[n][0] *= alpha[0];
    w.o[n][1] *= alpha[0];
    w.o[n][2] *= alpha[1];
    w.o[n][3] *= alpha[1];
  }
}

// One warp's work on one tile: S = Q K^T, the online softmax, O += P V. k_tile, v_tile: shared
// addresses of the bf16 tiles [kKeys][kStride].
template <int kD>
__device__ inline void AttendTile(uint32_t k_tile, uint32_t v_tile, int base, int lane,
                                  int window, float scale, WarpRows<kD>& w) {
  using L = Layout<kD>;
  constexpr int kRowBytes = L::kStride * 2;
  // Lane l addresses row l % 8 of matrix l / 8. For K, matrix i is (8 keys, features +8i) of
  // k-steps kk, kk + 1: registers {b0, b1} of kk, then of kk + 1. For V (.trans), matrix i is
  // (keys +8 (i % 2), features 8 (n + i / 2)): {b0, b1} of feature groups n, then n + 1.
  const uint32_t k_lane = k_tile + (lane % 8) * kRowBytes + (lane / 8) * 16;
  const uint32_t v_lane = v_tile + ((lane / 8) % 2 * 8 + lane % 8) * kRowBytes + (lane / 16) * 16;

  float sc[kKeyGroups][4];
#pragma unroll
  for (int n = 0; n < kKeyGroups; ++n) {
    sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; kk += 2) {
      uint32_t b[4];
      LoadMatrices(b, k_lane + n * 8 * kRowBytes + kk * 32);
      Mma(sc[n], w.qa[kk], b[0], b[1]);
      Mma(sc[n], w.qa[kk + 1], b[2], b[3]);
    }
  }
  SoftmaxTile<kD>(sc, base, lane % 4, window, scale, w);
  // The score fragments of key groups 2kk and 2kk + 1 are P's A fragment for keys 16kk...
#pragma unroll
  for (int kk = 0; kk < kKeys / 16; ++kk) {
    const uint32_t pa[4] = {PackPair(sc[2 * kk][0], sc[2 * kk][1]),
                            PackPair(sc[2 * kk][2], sc[2 * kk][3]),
                            PackPair(sc[2 * kk + 1][0], sc[2 * kk + 1][1]),
                            PackPair(sc[2 * kk + 1][2], sc[2 * kk + 1][3])};
#pragma unroll
    for (int n = 0; n < kD / 8; n += 2) {
      uint32_t b[4];
      LoadMatricesTransposed(b, v_lane + kk * 16 * kRowBytes + n * 16);
      Mma(w.o[n], pa, b[0], b[1]);
      Mma(w.o[n + 1], pa, b[2], b[3]);
    }
  }
}

// Where split blocks meet (see "Key split" at the top); unused when parts == 1.
struct KeySplit {
  int parts = 1;                // 2: blocks of kMinSplitTiles or more key tiles split
  unsigned* counters = nullptr;  // [num_slots * head groups], zero between launches
  float* partials = nullptr;     // [num_slots * head groups][2][kRowHeads][kD + 2]: O, m and l
};

// The row state of the warp's lane in the other part of a split block, merged into w with this
// part's: w.o becomes the unnormalized sum, w.l the row's whole sum (over the row's 4 lanes),
// w.m the larger max. Products are rounded before the sum, so the result does not depend on
// which part merges.
template <int kD>
__device__ inline void MergeOtherPart(const float* other, int pair0, int c, WarpRows<kD>& w) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (!w.valid[h]) continue;
    const int pair = pair0 + 8 * h;
    const float2 stats = __ldcg(reinterpret_cast<const float2*>(other + kRowHeads * kD) + pair);
    const float m = fmaxf(w.m[h], stats.x);  // finite: a row sees its own key in some part
    const float a_mine = w.m[h] == -INFINITY ? 0.0f : expf(w.m[h] - m);
    const float a_other = stats.x == -INFINITY ? 0.0f : expf(stats.x - m);
    w.l[h] = __fadd_rn(__fmul_rn(w.l[h], a_mine), __fmul_rn(stats.y, a_other));
    w.m[h] = m;
    const float* o_other = other + pair * kD + 2 * c;
#pragma unroll
    for (int n = 0; n < kD / 8; ++n) {
      const float2 v = __ldcg(reinterpret_cast<const float2*>(o_other + n * 8));
      w.o[n][2 * h] = __fadd_rn(__fmul_rn(w.o[n][2 * h], a_mine), __fmul_rn(v.x, a_other));
      w.o[n][2 * h + 1] =
          __fadd_rn(__fmul_rn(w.o[n][2 * h + 1], a_mine), __fmul_rn(v.y, a_other));
    }
  }
}

// grid: [num_slots * split.parts * (num_heads / kHeads)], block b holding head group
// b % groups, part (b / groups) % parts of slot num_slots - 1 - b / (groups * parts): slot-major,
// so the longest slots' blocks start first; block: kThreads; dynamic shared memory:
// Layout<kD>::kBytes. REQUIRES: (num_heads / num_kv_heads) % kHeads == 0.
template <int kD, int kHeads>
__global__ void __launch_bounds__(kThreads, 1)
    PrefillAttentionBf16Kernel(PagedAttentionArgs args, int64_t num_slots, KeySplit split) {
  using L = Layout<kD>;
  constexpr int kRows = kRowHeads / kHeads;  // query rows per block
  constexpr int kRowWarps = kRows / 16;
  extern __shared__ __align__(16) unsigned char smem[];
  auto* offsets = reinterpret_cast<int64_t*>(smem + L::kOffsets);  // [2][kKeys]
  const uint32_t smem_address = SharedAddress(smem);

  const int64_t groups = args.num_heads / kHeads;
  const int64_t group = blockIdx.x % groups;
  const int64_t slot_part = blockIdx.x / groups;
  const int64_t slot = num_slots - 1 - slot_part / split.parts;
  const int part = static_cast<int>(slot_part % split.parts);
  const int64_t head0 = group * kHeads;
  const int kv_head = static_cast<int>(head0 / (args.num_heads / args.num_kv_heads));
  const int s = static_cast<int>(
      FindTileSequence(args.query_start_loc, args.num_seqs, kRows, slot));
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
  // Positions are int32 from here on (context_lens is int32).
  const int pos0 = static_cast<int>(context_len - num_queries + row0);  // block's row 0
  const int window = args.sliding_window;
  const int key_lo = window > 0 ? max(0, pos0 - window + 1) : 0;
  const int key_hi = pos0 + rows_here - 1;  // last key any row sees
  int first_base = key_lo / kKeys * kKeys;
  int num_tiles = (key_hi - first_base) / kKeys + 1;
  const bool is_split = split.parts == 2 && num_tiles >= kMinSplitTiles;
  if (split.parts == 2 && !is_split && part == 1) return;  // before any barrier
  if (is_split) {
    const int first_part = (num_tiles + 1) / 2;
    if (part == 1) first_base += first_part * kKeys;
    num_tiles = part == 0 ? first_part : num_tiles - first_part;
  }
  const int tid = threadIdx.x;
  const int warp = tid / kWarpSize;
  const int lane = tid % kWarpSize;

  // Offsets of tiles 0 and 1, then tile 0's copies (in flight while Q is read).
  if (tid < kKeys) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int t = first_base + i * kKeys + tid;
      if (i < num_tiles) {
        offsets[i * kKeys + tid] = KeyRowOffset<kD>(args, s, kv_head, t, key_lo, key_hi,
                                                    LoadBlockId(args, s, t, key_lo, key_hi));
      }
    }
  }
  __syncthreads();
  CopyTile<kD>(args, offsets, smem_address, tid);
  CommitCopies();

  // This warp: 16 rows of head head0 + warp / kRowWarps.
  const int head = static_cast<int>(head0) + warp / kRowWarps;
  const int first_token = static_cast<int>(start + row0);  // int32, as query_start_loc
  const int warp_row0 = warp % kRowWarps * 16;  // in the block
  WarpRows<kD> w;
  {
    const float* q_rows[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = warp_row0 + lane / 4 + 8 * h;
      w.pos[h] = pos0 + row;
      w.valid[h] = row < rows_here;
      w.m[h] = -INFINITY;
      w.l[h] = 0.0f;
      q_rows[h] = w.valid[h] ? args.q + ((first_token + row) * args.num_heads + head) * kD
                             : nullptr;
    }
    LoadQueries<kD>(q_rows, lane % 4, w);
  }
#pragma unroll
  for (int n = 0; n < kD / 8; ++n) w.o[n][0] = w.o[n][1] = w.o[n][2] = w.o[n][3] = 0.0f;
  // Keys this warp's rows see: a tile outside them is skipped (its softmax step is a no-op).
  const bool warp_has_rows = warp_row0 < rows_here;
  const int warp_key_hi = pos0 + min(warp_row0 + 15, rows_here - 1);
  const int warp_key_lo = window > 0 ? max(0, pos0 + warp_row0 - window + 1) : 0;

  ConvertTile<kD>(smem, 0, tid);
  __syncthreads();
  if (num_tiles > 1) {
    CopyTile<kD>(args, offsets + kKeys, smem_address, tid);
    CommitCopies();
  }
  for (int i = 0; i < num_tiles; ++i) {
    const int base = first_base + i * kKeys;
    const bool prefetch = i + 2 < num_tiles && tid < kKeys;  // offsets of tile i + 2
    const int t_next = base + 2 * kKeys + tid;
    int32_t next_block = -1;
    if (prefetch) next_block = LoadBlockId(args, s, t_next, key_lo, key_hi);

    if (warp_has_rows && base <= warp_key_hi && base + kKeys - 1 >= warp_key_lo) {
      const uint32_t k_tile = smem_address + L::kTiles + 2 * (i % 2) * L::kTileBytes;
      AttendTile<kD>(k_tile, k_tile + L::kTileBytes, base, lane, window, args.scale, w);
    }
    if (prefetch) {
      offsets[(i % 2) * kKeys + tid] =
          KeyRowOffset<kD>(args, s, kv_head, t_next, key_lo, key_hi, next_block);
    }
    if (i + 1 < num_tiles) {  // block-uniform
      ConvertTile<kD>(smem, (i + 1) % 2, tid);
      __syncthreads();
      if (i + 2 < num_tiles) {
        CopyTile<kD>(args, offsets + (i % 2) * kKeys, smem_address, tid);
        CommitCopies();
      }
    }
  }

  // l summed over the row's 4 lanes.
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    w.l[h] += __shfl_xor_sync(kFullWarpMask, w.l[h], 1);
    w.l[h] += __shfl_xor_sync(kFullWarpMask, w.l[h], 2);
  }
  if (is_split) {
    // Publish this part's rows, count this part in; the later part merges the other's.
    const int64_t item = slot * groups + group;
    const int pair0 = warp * 16 + lane / 4;  // the lane's rows: pair0 and pair0 + 8
    const int c = lane % 4;
    float* mine = split.partials + (item * 2 + part) * kRowHeads * (kD + 2);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      if (!w.valid[h]) continue;
      const int pair = pair0 + 8 * h;
#pragma unroll
      for (int n = 0; n < kD / 8; ++n) {
        *reinterpret_cast<float2*>(mine + pair * kD + n * 8 + 2 * c) =
            make_float2(w.o[n][2 * h], w.o[n][2 * h + 1]);
      }
      if (c == 0) {
        reinterpret_cast<float2*>(mine + kRowHeads * kD)[pair] = make_float2(w.m[h], w.l[h]);
      }
    }
    __shared__ bool is_last;
    __threadfence();  // this thread's partials are visible before the counter moves
    __syncthreads();
    if (tid == 0) is_last = atomicAdd(&split.counters[item], 1u) == 1u;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    if (tid == 0) split.counters[item] = 0;  // ready for the next launch
    MergeOtherPart<kD>(split.partials + (item * 2 + 1 - part) * kRowHeads * (kD + 2), pair0, c,
                       w);
  }

  // out = O / l.
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    if (!w.valid[h]) continue;
    const float inv_l = 1.0f / w.l[h];
    const int row = warp_row0 + lane / 4 + 8 * h;
    float* out_row = args.out + ((first_token + row) * args.num_heads + head) * kD;
#pragma unroll
    for (int n = 0; n < kD / 8; ++n) {
      *reinterpret_cast<float2*>(out_row + n * 8 + 2 * (lane % 4)) =
          make_float2(w.o[n][2 * h] * inv_l, w.o[n][2 * h + 1] * inv_l);
    }
  }
}

// Query heads per block: two when they can share a KV head, else one.
int HeadsPerBlock(const PagedAttentionArgs& args) {
  return (args.num_heads / args.num_kv_heads) % 2 == 0 ? 2 : 1;
}

// The blocks of a launch before any split: (slots, head groups).
std::pair<int64_t, int64_t> BlockGrid(const PagedAttentionArgs& args) {
  const int heads = HeadsPerBlock(args);
  const int64_t rows = kRowHeads / heads;
  return {args.num_tokens / rows + args.num_seqs, args.num_heads / heads};
}

// Whether the launch splits long blocks: only when its blocks fit the GPU about once, where the
// causal imbalance of one wave decides its length (many waves balance themselves).
bool SplitsKeys(const PagedAttentionArgs& args, int num_sms) {
  const auto [slots, groups] = BlockGrid(args);
  return slots * groups <= std::min<int64_t>(2 * int64_t{num_sms}, kSplitCounters);
}

template <int kD, int kHeads>
void Launch(const PagedAttentionArgs& args, const KeySplit& split, cudaStream_t stream) {
  const auto [num_slots, groups] = BlockGrid(args);
  const int64_t blocks = num_slots * split.parts * groups;
  BRISK_CHECK_LE(blocks, int64_t{0x7fffffff}) << "prefill attention blocks";
  constexpr size_t kBytes = Layout<kD>::kBytes;
  BRISK_CUDA_CHECK(cudaFuncSetAttribute(PrefillAttentionBf16Kernel<kD, kHeads>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(kBytes)));
  PrefillAttentionBf16Kernel<kD, kHeads><<<static_cast<unsigned>(blocks), kThreads, kBytes,
                                           stream>>>(args, num_slots, split);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

template <int kD>
void LaunchForHeadDim(const PagedAttentionArgs& args, const KeySplit& split,
                      cudaStream_t stream) {
  if (HeadsPerBlock(args) == 2) {
    Launch<kD, 2>(args, split, stream);
  } else {
    Launch<kD, 1>(args, split, stream);
  }
}

size_t SharedBytes(int64_t head_dim) {
  switch (head_dim) {
    case 32: return Layout<32>::kBytes;
    case 64: return Layout<64>::kBytes;
    case 96: return Layout<96>::kBytes;
    case 128: return Layout<128>::kBytes;
    default: return 0;
  }
}

}  // namespace

bool PrefillAttentionBf16Supports(const PagedAttentionArgs& args, int max_shared_bytes) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const size_t shared_bytes = SharedBytes(args.head_dim);
  if (shared_bytes == 0 || !aligned(args.k_cache) || !aligned(args.v_cache) ||
      !aligned(args.q) || reinterpret_cast<uintptr_t>(args.out) % 8 != 0) {
    return false;
  }
  // The device must grant the block its shared memory (up to 133 KB at head_dim 128: sm_80 and
  // sm_90 do, sm_86 and sm_89 grant at most 99 KB).
  return shared_bytes <= static_cast<size_t>(max_shared_bytes);
}

size_t PrefillAttentionBf16WorkspaceBytes(const PagedAttentionArgs& args, int num_sms) {
  if (args.num_tokens == 0 || args.max_query_len == 1 || args.num_kv_heads <= 0 ||
      !SplitsKeys(args, num_sms)) {
    return 0;
  }
  const auto [slots, groups] = BlockGrid(args);
  return kSplitCounters * sizeof(unsigned) +
         static_cast<size_t>(slots * groups * 2 * kRowHeads * (args.head_dim + 2)) *
             sizeof(float);
}

void LaunchPrefillAttentionBf16(const PagedAttentionArgs& args, int max_shared_bytes,
                                int num_sms, void* workspace, size_t workspace_bytes,
                                cudaStream_t stream) {
  BRISK_CHECK(PrefillAttentionBf16Supports(args, max_shared_bytes))
      << "bf16 prefill attention: head_dim " << args.head_dim
      << ", unaligned tensors or too little shared memory";
  BRISK_CHECK(args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0 &&
              args.num_heads < 65536)
      << "num_heads " << args.num_heads << " num_kv_heads " << args.num_kv_heads;
  if (args.num_tokens == 0 || args.max_query_len == 1) return;
  BRISK_CHECK_GT(args.num_seqs, 0);
  const size_t needed = PrefillAttentionBf16WorkspaceBytes(args, num_sms);
  BRISK_CHECK(workspace_bytes >= needed && (needed == 0 || workspace != nullptr))
      << "bf16 prefill attention workspace of " << workspace_bytes << " bytes, needs " << needed;
  KeySplit split;
  if (needed > 0) {
    split.parts = 2;
    split.counters = static_cast<unsigned*>(workspace);
    split.partials =
        reinterpret_cast<float*>(static_cast<char*>(workspace) + kSplitCounters * sizeof(unsigned));
  }
  switch (args.head_dim) {
    case 32: LaunchForHeadDim<32>(args, split, stream); break;
    case 64: LaunchForHeadDim<64>(args, split, stream); break;
    case 96: LaunchForHeadDim<96>(args, split, stream); break;
    default: LaunchForHeadDim<128>(args, split, stream); break;
  }
}

}  // namespace brisk::backend::cuda
