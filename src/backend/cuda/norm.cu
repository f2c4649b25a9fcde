// RMSNorm and LayerNorm kernels: one thread block per row, each thread striding over the row
// (RMSNorm rows of a multiple of 4 elements: each thread holding its float4s in registers).
// Every element a thread writes is one it read itself, after the block-wide barrier of the
// sum, so outputs may alias inputs.
#include "backend/cuda/norm.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dtype_util.cuh"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

// 256 threads per row keep 8 warps busy on a 4096-wide row (16 elements per thread) and are
// few enough that small hidden sizes do not leave most of the block idle.
constexpr int kMaxThreads = 256;

// Rows of hidden % 4 == 0 up to kVecThreads * 4 * kMaxVecPerThread elements take the
// vectorized kernels below: each thread loads its kVec float4s of the row once, keeps them in
// registers across the block sum, and scales them: a decode step's few rows then cost one
// load and one store per element instead of a loop of dependent loads.
constexpr int kVecThreads = 1024;
constexpr int kMaxVecPerThread = 4;
// From this many rows on a launch fills the GPU with rows alone (see LaunchRmsNormVec).
constexpr int64_t kManyRows = 256;

template <int kVec>
__device__ inline float SumSquares(const float4 (&v)[kVec]) {
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < kVec; ++j) s += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
  return s;
}

__device__ inline float4 Scale(float4 v, float a, float4 w) {
  return make_float4(v.x * a * w.x, v.y * a * w.y, v.z * a * w.z, v.w * a * w.w);
}

// grid: [num_rows]; block: a multiple of 32 threads, thread t owning float4s t + j·blockDim.x.
// With residual == nullptr: out = RmsNorm(x); else residual += x, out = RmsNorm(residual).
// Out: float, or __nv_bfloat16 (the input of a bf16 GEMM).
template <int kVec, typename Out>
__global__ void __launch_bounds__(kVecThreads)
    RmsNormVecKernel(float* residual, const float* x, const float* __restrict__ weight,
                     Out* out, int hidden, float eps) {
  const int num_vec = hidden / 4;
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden;
  const auto* x_row = reinterpret_cast<const float4*>(x + row_offset);
  auto* res_row = residual != nullptr ? reinterpret_cast<float4*>(residual + row_offset) : nullptr;
  float4 v[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    v[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (i < num_vec) {
      v[j] = x_row[i];
      if (res_row != nullptr) {
        const float4 r = res_row[i];
        v[j] = make_float4(r.x + v[j].x, r.y + v[j].y, r.z + v[j].z, r.w + v[j].w);
        res_row[i] = v[j];
      }
    }
  }
  const float inv_rms = InverseRms(BlockSum(SumSquares(v)), hidden, eps);
  const auto* w = reinterpret_cast<const float4*>(weight);
  Out* out_row = out + row_offset;
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < num_vec) Store4(out_row + 4 * i, Scale(v[j], inv_rms, w[i]));
  }
}

// Launches the vectorized kernel when the row fits it; false otherwise.
template <typename Out>
bool LaunchRmsNormVec(float* residual, const float* x, const float* weight, Out* out,
                      int64_t num_rows, int hidden, float eps, cudaStream_t stream) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (hidden % 4 != 0 || hidden > kVecThreads * 4 * kMaxVecPerThread || !aligned(x) ||
      !aligned(weight) || !aligned(out) || (residual != nullptr && !aligned(residual))) {
    return false;
  }
  // Few rows (decode): a row spread over up to kVecThreads threads, one float4 each, for the
  // most loads in flight per row. Many rows (prefill): kMaxVecPerThread float4s per thread, so
  // that blocks are smaller and more rows are resident on each multiprocessor at once.
  const int num_vec = hidden / 4;
  const int vec_per_thread = num_rows >= kManyRows ? kMaxVecPerThread : 1;
  const int wanted = (num_vec + vec_per_thread - 1) / vec_per_thread;
  const int threads = std::min(kVecThreads, (wanted + kWarpSize - 1) / kWarpSize * kWarpSize);
  const int per_thread = (num_vec + threads - 1) / threads;
  const auto grid = static_cast<unsigned>(num_rows);
  switch (per_thread) {
    case 1:
      RmsNormVecKernel<1, Out><<<grid, threads, 0, stream>>>(residual, x, weight, out, hidden, eps);
      break;
    case 2:
      RmsNormVecKernel<2, Out><<<grid, threads, 0, stream>>>(residual, x, weight, out, hidden, eps);
      break;
    default:
      RmsNormVecKernel<kMaxVecPerThread, Out>
          <<<grid, threads, 0, stream>>>(residual, x, weight, out, hidden, eps);
      break;
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
  return true;
}

// grid: [num_rows]; block: a multiple of 32 threads striding over the row.
template <typename Out>
__global__ void RmsNormKernel(const float* x,                     // [num_rows, hidden]
                              const float* __restrict__ weight,  // [hidden]
                              Out* out,                          // [num_rows, hidden]
                              int hidden, float eps) {
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden;
  const float* x_row = x + row_offset;
  Out* out_row = out + row_offset;
  float sum_squares = 0.0f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) sum_squares += x_row[i] * x_row[i];
  const float inv_rms = InverseRms(BlockSum(sum_squares), hidden, eps);
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    StoreValue(out_row + i, x_row[i] * inv_rms * weight[i]);
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

template <typename Out>
void LaunchRmsNormTo(const RmsNormArgs& args, Out* out, cudaStream_t stream) {
  if (LaunchRmsNormVec<Out>(nullptr, args.x, args.weight, out, args.num_rows, args.hidden,
                            args.eps, stream)) {
    return;
  }
  RmsNormKernel<Out><<<static_cast<unsigned>(args.num_rows), ThreadsFor(args.hidden), 0, stream>>>(
      args.x, args.weight, out, args.hidden, args.eps);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void LaunchRmsNorm(const RmsNormArgs& args, cudaStream_t stream) {
  CheckRows(args.num_rows, args.hidden);
  BRISK_CHECK((args.out == nullptr) != (args.out_bf16 == nullptr)) << "rms_norm: one output";
  if (args.num_rows == 0) return;
  if (args.out_bf16 != nullptr) {
    LaunchRmsNormTo(args, static_cast<__nv_bfloat16*>(args.out_bf16), stream);
  } else {
    LaunchRmsNormTo(args, args.out, stream);
  }
}

void LaunchAddRmsNorm(const AddRmsNormArgs& args, cudaStream_t stream) {
  CheckRows(args.num_rows, args.hidden);
  if (args.num_rows == 0) return;
  if (LaunchRmsNormVec<float>(args.residual, args.x, args.weight, args.out, args.num_rows,
                              args.hidden, args.eps, stream)) {
    return;
  }
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
