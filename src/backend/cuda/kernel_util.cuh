// Device-side helpers shared by the kernels of this folder: warp and block sums, launch-size
// arithmetic, and BRISK_DEVICE_CHECK, which turns a bad index read from device memory (a token
// id, position, slot or block id the host never saw) into a printed message and a trapped
// kernel, so the next synchronizing call fails with cudaErrorLaunchFailure instead of the op
// silently reading or writing out of bounds.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <utility>

#include "backend/cuda/cuda_check.h"

namespace brisk::backend::cuda {

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullWarpMask = 0xffffffffu;
// Threads per block of the flat (grid-stride) kernels: a common choice that fills an SM with
// 8 warps per block and leaves room for several blocks per SM.
inline constexpr int kFlatThreads = 256;
// Grid cap of the flat kernels: enough blocks to fill any current GPU many times over; the
// grid-stride loop covers the rest.
inline constexpr int64_t kFlatMaxBlocks = 65536;

// Blocks for a grid-stride kernel over `num_elements` with kFlatThreads threads.
// REQUIRES: num_elements > 0.
inline unsigned FlatBlocks(int64_t num_elements) {
  const int64_t blocks = (num_elements + kFlatThreads - 1) / kFlatThreads;
  return static_cast<unsigned>(blocks < kFlatMaxBlocks ? blocks : kFlatMaxBlocks);
}

__device__ inline float WarpSum(float value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  }
  return value;
}

// Sum of `value` over the block, returned to every thread. Its shared memory is static, so a
// kernel that calls it twice needs a __syncthreads() between the calls.
// REQUIRES: blockDim.x is a multiple of 32 and at most 1024; every thread of the block calls it.
__device__ inline float BlockSum(float value) {
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

// 1 / sqrt(sum_squares / dim + eps), computed in double and rounded once to f32: the scale of
// every RMSNorm kernel, so that they agree up to the order of their sums of squares.
__device__ inline float InverseRms(float sum_squares, int64_t dim, float eps) {
  return static_cast<float>(
      1.0 / sqrt(static_cast<double>(sum_squares) / static_cast<double>(dim) +
                 static_cast<double>(eps)));
}

// silu(g) · u = g / (1 + e^-g) · u, the SwiGLU of every kernel that computes it. expf (not the
// fast __expf): within 2 ulp; exp(-g) overflowing to inf gives silu = -0, within an ulp of the
// true value (|g| e^g underflows f32 there).
__device__ inline float SiluTimes(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// Programmatic dependent launch (sm_90 and later; no-ops before): a kernel launched with the
// programmatic-serialization attribute may start before the previous kernel on its stream has
// finished. It must call WaitForPrerequisites, in every thread that goes on to read what earlier
// kernels wrote or to write anything they may still read, before doing so: the call returns once
// those kernels have finished and their writes are visible. LetDependentsLaunch tells the GPU
// that the next such kernel may start launching once every block of this one has called it (or
// exited); it changes when work starts, never what it sees.
__device__ inline void WaitForPrerequisites() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ inline void LetDependentsLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Queues kernel<<<grid, block, shared_bytes, stream>>>(args...), allowed to start before the
// previous kernel on the stream finishes when `dependent` (programmatic dependent launch).
// REQUIRES (when dependent): every block of `kernel` calls WaitForPrerequisites before it reads
// what earlier kernels wrote, writes anything they may read, or exits, so that the kernel
// still completes after its predecessors.
template <typename... Params, typename... Args>
void LaunchKernel(bool dependent, void (*kernel)(Params...), dim3 grid, dim3 block,
                  size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared_bytes;
  config.stream = stream;
  cudaLaunchAttribute attribute = {};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = dependent ? 1 : 0;
  config.attrs = &attribute;
  config.numAttrs = 1;
  BRISK_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace brisk::backend::cuda

// Device-side invariant check: prints one line with the kernel's message (`format` must be a
// string literal, with at least one argument) and traps. For index contents the host cannot
// check without a copy; always on. Device printf writes to stdout.
#define BRISK_DEVICE_CHECK(condition, format, ...)                                            \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      printf("%s:%d: BRISK_DEVICE_CHECK failed: %s: " format "\n", __FILE__, __LINE__,        \
             #condition, __VA_ARGS__);                                                        \
      __trap();                                                                               \
    }                                                                                         \
  } while (false)
