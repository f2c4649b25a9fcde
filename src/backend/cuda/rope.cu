// Rope kernel: one grid-stride thread per rotated pair (token, head, i), so each element of x
// is read and written by exactly one thread and the rotation is in place without races.
#include "backend/cuda/rope.cuh"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

__global__ void RopeKernel(float* x,                            // [num_tokens, num_heads, head_dim]
                           const int32_t* __restrict__ positions,  // [num_tokens]
                           const float* __restrict__ cos_sin,   // [max_positions, rotary_dim]
                           int64_t num_heads, int64_t head_dim, int64_t rotary_dim,
                           int64_t max_positions, int64_t num_pairs) {
  const int64_t half = rotary_dim / 2;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < num_pairs;
       p += stride) {
    const int64_t i = p % half;
    const int64_t head = p / half;  // flat (token, head) index
    const int64_t t = head / num_heads;
    const int32_t pos = positions[t];
    BRISK_DEVICE_CHECK(pos >= 0 && pos < max_positions, "rope: position %d at %lld, max %lld",
                       pos, static_cast<long long>(t), static_cast<long long>(max_positions));
    const float* cs = cos_sin + static_cast<int64_t>(pos) * rotary_dim;
    float* xh = x + head * head_dim;
    // Products of two f32 values are exact in double: the result is rounded once, like the
    // reference backend's.
    const double a = xh[i];
    const double b = xh[i + half];
    const double c = cs[i];
    const double s = cs[half + i];
    xh[i] = static_cast<float>(a * c - b * s);
    xh[i + half] = static_cast<float>(b * c + a * s);
  }
}

}  // namespace

void LaunchRope(const RopeArgs& args, cudaStream_t stream) {
  BRISK_CHECK(args.rotary_dim % 2 == 0 && args.rotary_dim <= args.head_dim)
      << "rotary_dim " << args.rotary_dim << " head_dim " << args.head_dim;
  BRISK_CHECK(args.num_tokens >= 0 && args.num_heads >= 0);
  const int64_t num_pairs = args.num_tokens * args.num_heads * (args.rotary_dim / 2);
  if (num_pairs == 0) return;
  RopeKernel<<<FlatBlocks(num_pairs), kFlatThreads, 0, stream>>>(
      args.x, args.positions, args.cos_sin, args.num_heads, args.head_dim, args.rotary_dim,
      args.max_positions, num_pairs);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
