// RMSNorm and LayerNorm kernels: one thread block per row, each thread striding over the row.
// Every element a thread writes is one it read itself, after the block-wide barrier of the
// sum, so outputs may alias inputs.
#include "backend/cuda/norm.cuh"

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// 256 threads per row keep 8 warps busy on a 4096-wide row (16 elements per thread) and are
// few enough that small hidden sizes do not leave most of the block idle.
constexpr int kMaxThreads = 256;

// 1 / sqrt(sum_squares / hidden + eps), computed in double and rounded once to f32.
__device__ float InverseRms(float sum_squares, int hidden, float eps) {
  return static_cast<float>(
      1.0 / sqrt(static_cast<double>(sum_squares) / hidden + static_cast<double>(eps)));
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
  const float inv_rms = InverseRms(BlockSum(sum_squares), hidden, eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    out_row[i] = x_row[i] * inv_rms * weight[i];
  }
}

// grid: [num_rows]; block: a multiple of 32 threads striding over the row.
__global__ void AddRmsNormKernel(float* residual,                   // [num_rows, hidden]
                                 const float* x,                    // [num_rows, hidden]
                                 const float* __restrict__ weight,  // [hidden]
                                 float* out,                        // [num_rows, hidden]
                                 int hidden, float eps) {
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden;
  float* res_row = residual + row_offset;
  const float* x_row = x + row_offset;
  float* out_row = out + row_offset;
  float sum_squares = 0.0f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float sum = res_row[i] + x_row[i];
    res_row[i] = sum;
    sum_squares += sum * sum;
  }
  const float inv_rms = InverseRms(BlockSum(sum_squares), hidden, eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    out_row[i] = res_row[i] * inv_rms * weight[i];
  }
}

// grid: [num_rows]; block: a multiple of 32 threads striding over the row. Two passes: the
// one-pass E[x²] - E[x]² cancels badly when |mean| is large against the spread.
__global__ void LayerNormKernel(const float* x,                    // [num_rows, hidden]
                                const float* __restrict__ weight,  // [hidden]
                                const float* __restrict__ bias,    // [hidden]
                                float* out,                        // [num_rows, hidden]
                                int hidden, float eps) {
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden;
  const float* x_row = x + row_offset;
  float* out_row = out + row_offset;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) sum += x_row[i];
  const float mean = BlockSum(sum) / static_cast<float>(hidden);
  __syncthreads();  // BlockSum's shared memory is reused by the second sum
  float sum_squares = 0.0f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float deviation = x_row[i] - mean;
    sum_squares += deviation * deviation;
  }
  // The biased variance plus eps is what RMSNorm's mean of squares plus eps is.
  const float inv_std = InverseRms(BlockSum(sum_squares), hidden, eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    out_row[i] = (x_row[i] - mean) * inv_std * weight[i] + bias[i];
  }
}

int ThreadsFor(int hidden) {
  const int rounded_hidden = (hidden + kWarpSize - 1) / kWarpSize * kWarpSize;
  return std::min(kMaxThreads, rounded_hidden);
}

void CheckRows(int64_t num_rows, int hidden) {
  BRISK_CHECK_GT(hidden, 0);
  BRISK_CHECK_GE(num_rows, 0);
  // One block per row: gridDim.x allows 2^31 - 1 blocks.
  BRISK_CHECK_LE(num_rows, int64_t{0x7fffffff});
}

}  // namespace

void LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream) {
  CheckRows(args.num_rows, args.hidden);
  if (args.num_rows == 0) return;
  RmsNormKernel<<<static_cast<unsigned>(args.num_rows), ThreadsFor(args.hidden), 0, stream>>>(
      args.x, args.weight, args.out, args.hidden, args.eps);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchAddRmsNorm(const AddRmsNormArgs& args, cudaStream_t stream) {
  CheckRows(args.num_rows, args.hidden);
  if (args.num_rows == 0) return;
  AddRmsNormKernel<<<static_cast<unsigned>(args.num_rows), ThreadsFor(args.hidden), 0, stream>>>(
      args.residual, args.x, args.weight, args.out, args.hidden, args.eps);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchLayerNorm(const LayerNormArgs& args, cudaStream_t stream) {
  CheckRows(args.num_rows, args.hidden);
  if (args.num_rows == 0) return;
  LayerNormKernel<<<static_cast<unsigned>(args.num_rows), ThreadsFor(args.hidden), 0, stream>>>(
      args.x, args.weight, args.bias, args.out, args.hidden, args.eps);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
