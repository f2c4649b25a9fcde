// Element-wise f32 kernels: each thread of a grid-stride loop reads element i of its inputs and
// writes element i of the output, so outputs may alias inputs (SiluMul reads two elements of
// its fused input per output element; its output must not alias that input).
#include "backend/cuda/activation.cuh"

#include <cuda_bf16.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dtype_util.cuh"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

__device__ inline float LoadValue(const float* p) { return *p; }
__device__ inline float LoadValue(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ inline float4 Load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ inline float4 Load4(const __nv_bfloat16* p) {
  const uint2 raw = *reinterpret_cast<const uint2*>(p);
  return make_float4(__uint_as_float(raw.x << 16), __uint_as_float(raw.x & 0xffff0000u),
                     __uint_as_float(raw.y << 16), __uint_as_float(raw.y & 0xffff0000u));
}

// grid: x strides over the columns of a row, y over the rows (no per-element division).
// In: float or __nv_bfloat16; Out likewise.
template <typename In, typename Out>
__global__ void SiluMulKernel(const In* __restrict__ gate_up,  // [rows, 2 * dim]
                              Out* __restrict__ out,           // [rows, dim]
                              int64_t rows, int64_t dim) {
  const int64_t col_stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const In* gate = gate_up + r * 2 * dim;
    const In* up = gate + dim;
    Out* out_row = out + r * dim;
    for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < dim;
         c += col_stride) {
      StoreValue(out_row + c, SiluTimes(LoadValue(gate + c), LoadValue(up + c)));
    }
  }
}

// SiluMulKernel with 16-byte loads (dim % 4 == 0, 16-byte aligned rows): prefill rows are
// bound by moving the bytes, and four elements per load cut the instructions per byte by four.
// grid: x strides over the 4-element vectors of a row, y over the rows.
template <typename In, typename Out>
__global__ void SiluMulVecKernel(const In* __restrict__ gate_up,  // [rows, 2 * dim]
                                 Out* __restrict__ out,           // [rows, dim]
                                 int64_t rows, int64_t dim) {
  const int64_t num_vec = dim / 4;
  const int64_t vec_stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const In* gate = gate_up + r * 2 * dim;
    const In* up = gate + dim;
    Out* out_row = out + r * dim;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_vec;
         i += vec_stride) {
      const float4 g = Load4(gate + 4 * i);
      const float4 u = Load4(up + 4 * i);
      Store4(out_row + 4 * i,
             make_float4(SiluTimes(g.x, u.x), SiluTimes(g.y, u.y), SiluTimes(g.z, u.z),
                         SiluTimes(g.w, u.w)));
    }
  }
}

// grid-stride over [num_elements].
__global__ void AddKernel(const float* a, const float* b, float* out, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    out[i] = a[i] + b[i];
  }
}

// √(2/π) and 1/√2 to f32 precision.
constexpr float kSqrtTwoOverPi = 0.7978845608f;
constexpr float kSqrtHalf = 0.7071067812f;

// grid-stride over [num_elements].
//   kErf:  x/2 · erfc(-x/√2), equal to x/2 · (1 + erf(x/√2)) but without its cancellation where
//          Φ(x) is tiny (x << 0); erfcf is within 4 ulp (CUDA Math API, "Single Precision").
//   kTanh: x/2 · (1 + tanh(u)), u = √(2/π)(x + 0.044715x³), computed as the equal
//          x / (1 + e^(-2u)), which does not cancel for x << 0 either; e^(-2u) = inf gives -0
//          and e^(-2u) = 0 gives x.
template <GeluForm kForm>
__global__ void GeluKernel(const float* x, float* out, int64_t num_elements) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < num_elements;
       i += stride) {
    const float v = x[i];
    if constexpr (kForm == GeluForm::kErf) {
      out[i] = 0.5f * v * erfcf(-v * kSqrtHalf);
    } else {
      const float u = kSqrtTwoOverPi * (v + 0.044715f * v * v * v);
      out[i] = v / (1.0f + expf(-2.0f * u));
    }
  }
}

template <typename In, typename Out>
void LaunchSiluMulTo(const In* gate_up, Out* out, int64_t rows, int64_t dim,
                     cudaStream_t stream) {
  BRISK_CHECK(rows >= 0 && dim >= 0) << "silu_mul rows " << rows << " dim " << dim;
  if (rows == 0 || dim == 0) return;
  // One thread per column of a row up to FlatBlocks' cap; rows beyond gridDim.y's limit of
  // 65535 are walked by the row loop.
  const auto grid_rows = static_cast<unsigned>(std::min<int64_t>(rows, 65535));
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (dim % 4 == 0 && aligned(gate_up) && aligned(out)) {
    const dim3 grid(FlatBlocks(dim / 4), grid_rows);
    SiluMulVecKernel<In, Out><<<grid, kFlatThreads, 0, stream>>>(gate_up, out, rows, dim);
  } else {
    const dim3 grid(FlatBlocks(dim), grid_rows);
    SiluMulKernel<In, Out><<<grid, kFlatThreads, 0, stream>>>(gate_up, out, rows, dim);
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void LaunchGelu(const float* x, float* out, int64_t num_elements, GeluForm form,
                cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  switch (form) {
    case GeluForm::kErf:
      GeluKernel<GeluForm::kErf>
          <<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(x, out, num_elements);
      break;
    case GeluForm::kTanh:
      GeluKernel<GeluForm::kTanh>
          <<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(x, out, num_elements);
      break;
  }
  BRISK_CUDA_CHECK(cudaGetLastError());
}

void LaunchSiluMul(const float* gate_up, float* out, int64_t rows, int64_t dim,
                   cudaStream_t stream) {
  LaunchSiluMulTo(gate_up, out, rows, dim, stream);
}

void LaunchSiluMulToBf16(const float* gate_up, void* out_bf16, int64_t rows, int64_t dim,
                         cudaStream_t stream) {
  LaunchSiluMulTo(gate_up, static_cast<__nv_bfloat16*>(out_bf16), rows, dim, stream);
}

void LaunchSiluMulBf16(const void* gate_up_bf16, void* out_bf16, int64_t rows, int64_t dim,
                       cudaStream_t stream) {
  LaunchSiluMulTo(static_cast<const __nv_bfloat16*>(gate_up_bf16),
                  static_cast<__nv_bfloat16*>(out_bf16), rows, dim, stream);
}

void LaunchAdd(const float* a, const float* b, float* out, int64_t num_elements,
               cudaStream_t stream) {
  BRISK_CHECK_GE(num_elements, 0);
  if (num_elements == 0) return;
  AddKernel<<<FlatBlocks(num_elements), kFlatThreads, 0, stream>>>(a, b, out, num_elements);
  BRISK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace brisk::backend::cuda
