// QkvRopeWriteKv kernel: one warp per (token, head). A q or k head is read once into the warp's
// slice of shared memory (normalized on the way when it has a norm weight), then each lane
// writes its features of the rotated head straight to q_out or the cache slot; rotate_half
// pairs feature i with i + rotary_dim/2, which another lane read, hence the staging. A v head
// is a plain copy. Nothing is written in place, so no element is read after it is written.
#include "backend/cuda/qkv_rope.cuh"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "backend/cuda/rope_math.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// Heads per block, one warp each: 4 warps keep the shared staging at 4 KiB and give a decode
// step of a 32 + 8 + 8-head model 12 blocks; prefill has a block row per token anyway.
constexpr int kWarpsPerBlock = 4;

// grid: x = token, y = group of kWarpsPerBlock heads of the token's qkv row;
// block: kWarpsPerBlock warps, warp w handles head blockIdx.y * kWarpsPerBlock + w.
__global__ void __launch_bounds__(kWarpsPerBlock * kWarpSize)
    QkvRopeWriteKvKernel(const QkvRopeWriteKvArgs args) {
  __shared__ float staged[kWarpsPerBlock][kMaxQkvRopeHeadDim];
  WaitForPrerequisites();  // qkv comes from the kernel before
  LetDependentsLaunch();
  const int warp = threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t t = blockIdx.x;
  const int64_t h = static_cast<int64_t>(blockIdx.y) * kWarpsPerBlock + warp;
  const int64_t num_kv_heads = args.num_kv_heads;
  const int64_t num_qkv_heads = args.num_heads + 2 * num_kv_heads;
  // Every branch below is uniform across the warp, and warps never wait for each other.
  if (h >= num_qkv_heads) return;
  const int64_t head_dim = args.head_dim;
  const float* src = args.qkv + (t * num_qkv_heads + h) * head_dim;  // [head_dim]
  const bool is_q = h < args.num_heads;
  const bool is_v = h >= args.num_heads + num_kv_heads;

  float* dst = nullptr;  // [head_dim]
  if (is_q) {
    dst = args.q_out + (t * args.num_heads + h) * head_dim;
  } else {
    const int32_t slot = args.slot_mapping[t];
    BRISK_DEVICE_CHECK(slot >= -1 && slot < args.num_slots,
                       "qkv_rope_write_kv: slot %d at %lld, %lld slots", slot,
                       static_cast<long long>(t), static_cast<long long>(args.num_slots));
    if (slot == -1) return;
    const int64_t g = is_v ? h - args.num_heads - num_kv_heads : h - args.num_heads;
    dst = (is_v ? args.v_cache : args.k_cache) +
          (static_cast<int64_t>(slot) * num_kv_heads + g) * head_dim;
  }
  if (is_v) {
    for (int64_t i = lane; i < head_dim; i += kWarpSize) dst[i] = src[i];
    return;
  }

  const int32_t pos = args.positions[t];
  BRISK_DEVICE_CHECK(pos >= 0 && pos < args.max_positions,
                     "qkv_rope_write_kv: position %d at %lld, max %lld", pos,
                     static_cast<long long>(t), static_cast<long long>(args.max_positions));
  float* head = staged[warp];
  float sum_squares = 0.0f;
  for (int64_t i = lane; i < head_dim; i += kWarpSize) {
    const float x = src[i];
    head[i] = x;
    sum_squares += x * x;
  }
  const float* norm = is_q ? args.q_norm : args.k_norm;  // [head_dim] or nullptr
  if (norm != nullptr) {
    const float inv_rms = InverseRms(WarpSum(sum_squares), head_dim, args.eps);
    // Each lane rescales the features it staged itself.
    for (int64_t i = lane; i < head_dim; i += kWarpSize) head[i] = head[i] * inv_rms * norm[i];
  }
  __syncwarp();

  // Rounded once per output, like the Rope kernel's (rope.cu).
  const float* cs = args.cos_sin + static_cast<int64_t>(pos) * args.rotary_dim;  // [rotary_dim]
  for (int64_t i = lane; i < head_dim; i += kWarpSize) {
    dst[i] = RotatedFeature(head, i, cs, args.rotary_dim);
  }
}

}  // namespace

void LaunchQkvRopeWriteKv(const QkvRopeWriteKvArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.num_tokens >= 0 && args.num_heads >= 0 && args.num_kv_heads >= 0 &&
              args.head_dim >= 0)
      << "qkv_rope_write_kv: tokens " << args.num_tokens << " heads " << args.num_heads << "/"
      << args.num_kv_heads << " head_dim " << args.head_dim;
  BRISK_CHECK(args.rotary_dim % 2 == 0 && args.rotary_dim >= 0 && args.rotary_dim <= args.head_dim)
      << "qkv_rope_write_kv: rotary_dim " << args.rotary_dim << " head_dim " << args.head_dim;
  const int64_t num_qkv_heads = args.num_heads + 2 * args.num_kv_heads;
  if (args.num_tokens == 0 || num_qkv_heads == 0 || args.head_dim == 0) return;
  BRISK_CHECK_LE(args.head_dim, kMaxQkvRopeHeadDim) << "qkv_rope_write_kv head_dim";
  // One block column per token: gridDim.x allows 2^31 - 1, gridDim.y 65535.
  BRISK_CHECK_LE(args.num_tokens, int64_t{0x7fffffff}) << "qkv_rope_write_kv tokens";
  const int64_t head_groups = (num_qkv_heads + kWarpsPerBlock - 1) / kWarpsPerBlock;
  BRISK_CHECK_LE(head_groups, int64_t{65535}) << "qkv_rope_write_kv heads";
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(head_groups));
  LaunchKernel(/*dependent=*/true, QkvRopeWriteKvKernel, grid, dim3(kWarpsPerBlock * kWarpSize),
               0, stream, args);
}

}  // namespace brisk::backend::cuda
