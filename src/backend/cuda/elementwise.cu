#include "backend/cuda/elementwise.cuh"

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kWarpSize = 32;
constexpr unsigned kFullWarpMask = 0xffffffffu;
// 256 threads per row keep 8 warps busy on a 4096-wide row (16 elements per thread) and are
// few enough that small hidden sizes do not leave most of the block idle.
constexpr int kRmsNormMaxThreads = 256;
constexpr int kSiluMulThreads = 256;
// Enough blocks to fill any current GPU several times over; a grid-stride loop covers the rest.
constexpr int64_t kSiluMulMaxBlocks = 65536;

__device__ float WarpSum(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  }
  return value;
}

// Sum of `value` over the block, returned to every thread.
// REQUIRES: blockDim.x is a multiple of 32 and at most 1024.
__device__ float BlockSum(float value) {
  __shared__ float warp_sums[kWarpSize];
  __shared__ float total;
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  value = WarpSum(value);
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  if (warp == 0) {
    const int num_warps = blockDim.x / kWarpSize;
    value = WarpSum(lane < num_warps ? warp_sums[lane] : 0.0f);
    if (lane == 0) total = value;
  }
  __syncthreads();
  return total;
}

// grid: [num_rows]; block: a multiple of 32 threads striding over the row.
__global__ void RmsNormKernel(const float* x,                     // [num_rows, hidden]
                              const float* __restrict__ weight,  // [hidden]
                              float* out,                        // [num_rows, hidden]
                              int hidden, float eps) {
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden;
  const float* x_row = x + row_offset;
  float* out_row = out + row_offset;
  float sum_squares = 0.0f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) sum_squares += x_row[i] * x_row[i];
  // Every read of this row happens before the barrier inside BlockSum, and each thread then
  // writes only the elements it read itself, so out may alias x.
  const float inv_rms = rsqrtf(BlockSum(sum_squares) / static_cast<float>(hidden) + eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    out_row[i] = x_row[i] * inv_rms * weight[i];
  }
}

// grid-stride over [num_elements].
__global__ void SiluMulKernel(const float* gate, const float* up, float* out,
                              int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

}  // namespace

void LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream) {
  BRISK_CHECK_GT(args.hidden, 0);
  BRISK_CHECK_GE(args.num_rows, 0);
  // One block per row: gridDim.x allows 2^31 - 1 blocks.
  BRISK_CHECK_LE(args.num_rows, int64_t{0x7fffffff});
  if (args.num_rows == 0) return;
  const int rounded_hidden = (args.hidden + kWarpSize - 1) / kWarpSize * kWarpSize;
  const int threads = std::min(kRmsNormMaxThreads, rounded_hidden);
  RmsNormKernel<<<static_cast<unsigned>(args.num_rows), threads, 0, stream>>>(
      args.x, args.weight, args.out, args.hidden, args.eps);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchSiluMul(const float* gate, const float* up, float* out, int64_t num_elements,
                   cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  const int64_t blocks =
      std::min(kSiluMulMaxBlocks, (num_elements + kSiluMulThreads - 1) / kSiluMulThreads);
  SiluMulKernel<<<static_cast<unsigned>(blocks), kSiluMulThreads, 0, stream>>>(gate, up, out,
                                                                              num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
