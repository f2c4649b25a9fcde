// Encoder attention kernel: one thread block per (sequence, head, tile of kQueryTile query
// rows). Its 4 warps own 4 query rows each; the block walks the sequence's keys kKeyTile at a
// time, loading each key tile (and its value rows) into shared memory once for all 16 rows.
//
// Per key tile, lane j of a warp scores key j against each of the warp's rows (a dot product
// over head_dim read from shared memory), then each row takes the usual online-softmax step:
//   m' = max(m, max_j s_j),  l' = l·e^(m − m') + Σ_j e^(s_j − m'),
//   acc' = acc·e^(m − m') + Σ_j e^(s_j − m')·v_j,
// where the lanes split acc's features (lane, lane + 32, ...) and take each e^(s_j − m') from
// lane j by a shuffle. At the end out = acc / l. Everything is f32; the order of every sum is
// fixed, so results are deterministic.
//
// Shared memory (static, 41,088 bytes at kMaxEncoderAttentionHeadDim = 128):
//   q_tile [kQueryTile][128]        this block's query rows (zero past the sequence's end)
//   k_tile [kKeyTile][head_dim | 1] key rows; the odd row stride puts lane j's reads of
//                                   feature i (j·stride + i) in 32 different banks
//   v_tile [kKeyTile][128]          value rows; lanes read consecutive features of one row
// Key rows past the sequence's end are loaded as zeros and masked to a score of -inf, so their
// weight is exactly 0 and no value row outside the sequence is ever read.
#include "backend/cuda/encoder_attention.cuh"

#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kNumWarps = kThreads / kWarpSize;
constexpr int kRowsPerWarp = 4;
constexpr int kQueryTile = kNumWarps * kRowsPerWarp;  // 16 query rows per block
constexpr int kKeyTile = kWarpSize;                   // one key per lane
constexpr int kFeaturesPerLane = kMaxEncoderAttentionHeadDim / kWarpSize;
constexpr int kMaxKeyStride = kMaxEncoderAttentionHeadDim + 1;

__device__ float WarpMax(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  }
  return value;
}

// grid: [num_seqs · tiles_per_seq, num_heads]; block: kThreads.
__global__ void __launch_bounds__(kThreads)
    EncoderAttentionKernel(EncoderAttentionArgs args, int64_t tiles_per_seq) {
  __shared__ float q_tile[kQueryTile][kMaxEncoderAttentionHeadDim];
  __shared__ float k_tile[kKeyTile * kMaxKeyStride];
  __shared__ float v_tile[kKeyTile][kMaxEncoderAttentionHeadDim];

  const int64_t s = blockIdx.x / tiles_per_seq;
  const int64_t row0 = blockIdx.x % tiles_per_seq * kQueryTile;  // first row, in the sequence
  const int64_t head = blockIdx.y;
  const int head_dim = static_cast<int>(args.head_dim);
  const int64_t kv_head = head / (args.num_heads / args.num_kv_heads);
  const int64_t seq_start = args.seq_starts[s];
  const int64_t seq_end = args.seq_starts[s + 1];
  BRISK_DEVICE_CHECK(0 <= seq_start && seq_start <= seq_end && seq_end <= args.num_tokens &&
                         seq_end - seq_start <= args.max_seq_len &&
                         (s != 0 || seq_start == 0) &&
                         (s != args.num_seqs - 1 || seq_end == args.num_tokens),
                     "encoder_attention: sequence %lld of %lld spans [%lld, %lld) of %lld tokens, "
                     "max_seq_len %d",
                     static_cast<long long>(s), static_cast<long long>(args.num_seqs),
                     static_cast<long long>(seq_start), static_cast<long long>(seq_end),
                     static_cast<long long>(args.num_tokens), args.max_seq_len);
  const int64_t len = seq_end - seq_start;
  if (row0 >= len) return;  // the whole block leaves before any barrier

  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int key_stride = head_dim | 1;  // odd: conflict-free column reads of k_tile
  const int64_t kv_token_stride = args.num_kv_heads * head_dim;
  const float* k_seq = args.k + seq_start * kv_token_stride + kv_head * head_dim;
  const float* v_seq = args.v + seq_start * kv_token_stride + kv_head * head_dim;

  const int64_t rows_here = min(static_cast<int64_t>(kQueryTile), len - row0);
  for (int idx = threadIdx.x; idx < kQueryTile * head_dim; idx += kThreads) {
    const int r = idx / head_dim;
    const int i = idx % head_dim;
    q_tile[r][i] =
        r < rows_here
            ? args.q[((seq_start + row0 + r) * args.num_heads + head) * head_dim + i]
            : 0.0f;
  }

  // Online-softmax state of this warp's rows; acc holds features lane + 32·f.
  float running_max[kRowsPerWarp];
  float running_sum[kRowsPerWarp];
  float acc[kRowsPerWarp][kFeaturesPerLane];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    running_max[r] = -INFINITY;
    running_sum[r] = 0.0f;
#pragma unroll
    for (int f = 0; f < kFeaturesPerLane; ++f) acc[r][f] = 0.0f;
  }
  const float* q_rows = &q_tile[warp * kRowsPerWarp][0];

  for (int64_t t0 = 0; t0 < len; t0 += kKeyTile) {
    const int keys_here = static_cast<int>(min(static_cast<int64_t>(kKeyTile), len - t0));
    __syncthreads();  // the previous tile is consumed (and q_tile written, before the first)
    for (int idx = threadIdx.x; idx < kKeyTile * head_dim; idx += kThreads) {
      const int j = idx / head_dim;
      const int i = idx % head_dim;
      const bool valid = j < keys_here;
      const int64_t offset = (t0 + j) * kv_token_stride + i;
      k_tile[j * key_stride + i] = valid ? k_seq[offset] : 0.0f;
      v_tile[j][i] = valid ? v_seq[offset] : 0.0f;
    }
    __syncthreads();

    // Lane j: the score of key t0 + j for each of the warp's rows.
    float score[kRowsPerWarp] = {};
    const float* k_row = k_tile + lane * key_stride;
#pragma unroll 4
    for (int i = 0; i < head_dim; ++i) {
      const float k = k_row[i];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        score[r] += q_rows[r * kMaxEncoderAttentionHeadDim + i] * k;
      }
    }
    float p[kRowsPerWarp];
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const float sc = lane < keys_here ? score[r] * args.scale : -INFINITY;
      // Finite: every tile has at least one key in the sequence.
      const float new_max = fmaxf(running_max[r], WarpMax(sc));
      const float rescale = expf(running_max[r] - new_max);  // 0 on the first tile
      p[r] = expf(sc - new_max);                              // 0 for masked keys
      running_sum[r] = running_sum[r] * rescale + WarpSum(p[r]);
      running_max[r] = new_max;
#pragma unroll
      for (int f = 0; f < kFeaturesPerLane; ++f) acc[r][f] *= rescale;
    }
    for (int j = 0; j < keys_here; ++j) {
      float v[kFeaturesPerLane];
#pragma unroll
      for (int f = 0; f < kFeaturesPerLane; ++f) {
        const int i = lane + f * kWarpSize;
        v[f] = i < head_dim ? v_tile[j][i] : 0.0f;
      }
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        const float weight = __shfl_sync(kFullWarpMask, p[r], j);
#pragma unroll
        for (int f = 0; f < kFeaturesPerLane; ++f) acc[r][f] += weight * v[f];
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t row = row0 + warp * kRowsPerWarp + r;
    if (row >= len) continue;
    float* out_row = args.out + ((seq_start + row) * args.num_heads + head) * head_dim;
    const float inv_sum = 1.0f / running_sum[r];
#pragma unroll
    for (int f = 0; f < kFeaturesPerLane; ++f) {
      const int i = lane + f * kWarpSize;
      if (i < head_dim) out_row[i] = acc[r][f] * inv_sum;
    }
  }
}

}  // namespace

void LaunchEncoderAttention(const EncoderAttentionArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.head_dim > 0 && args.head_dim <= kMaxEncoderAttentionHeadDim)
      << "encoder_attention head_dim " << args.head_dim << " (at most "
      << kMaxEncoderAttentionHeadDim << ")";
  BRISK_CHECK(args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0)
      << "num_heads " << args.num_heads << " num_kv_heads " << args.num_kv_heads;
  BRISK_CHECK(args.num_heads > 0 && args.num_heads < 65536) << "num_heads " << args.num_heads;
  BRISK_CHECK(args.num_tokens >= 0 && args.num_tokens <= int64_t{0x7fffffff})
      << "num_tokens " << args.num_tokens;
  if (args.num_tokens == 0) return;
  BRISK_CHECK(args.num_seqs > 0 && args.max_seq_len > 0)
      << "num_seqs " << args.num_seqs << " max_seq_len " << args.max_seq_len;
  const int64_t tiles_per_seq = (int64_t{args.max_seq_len} + kQueryTile - 1) / kQueryTile;
  const int64_t num_blocks = args.num_seqs * tiles_per_seq;
  BRISK_CHECK_LE(num_blocks, int64_t{0x7fffffff}) << "encoder_attention blocks";
  const dim3 grid(static_cast<unsigned>(num_blocks), static_cast<unsigned>(args.num_heads));
  EncoderAttentionKernel<<<grid, kThreads, 0, stream>>>(args, tiles_per_seq);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
