// Small-m GEMV kernels (gemv.cuh).
//
// Vectorized kernel (w 16-byte aligned, k a multiple of 8). k is cut into `num_splits` ranges
// of `vectors_per_split` 8-element vectors; block (bx, s) stages x[:, range s] in shared memory
// once, then loops over row blocks bx, bx + gridDim.x, ... Each of its 8 warps owns R rows of w
// (R = 1, 2 or 4 by m) and strides its lanes over the range, so a warp reads each row as
// contiguous 512-byte pieces, U = 8 / R 16-byte loads per row in flight per lane:
//
//   w row j:  | v0 lane0 | v1 lane1 | ... | v31 lane31 | v32 lane0 | ...   (v = 8 elements)
//   xs:       | r0 lo: x[0, 8v .. 8v+4) for v = 0..vps-1 | r0 hi: x[0, 8v+4 .. 8v+8) | r1 lo | ...
//
// Splitting each vector's 8 activations into a lo and a hi half keeps a warp's 16-byte shared
// reads contiguous (conflict-free). Lanes keep R x m f32 sums, reduced by a warp-shuffle
// reduce-scatter that leaves each sum on its own lane.
// With one split the warp writes y (+ bias). With several, each block writes its partial sums to
// the workspace and bumps an integer counter per block column; the last block of the column
// adds the partials of all splits in split order (so the result does not depend on which block
// finished last), adds the bias, writes y and resets the counter.
//
// Scalar kernel (any alignment and k): one warp per row of w, x read through the caches.
//
// Fused prologue and epilogue (Backend::FusedMatMul): with kRmsNorm every block first sums the
// squares of its rows of x in full (m x k floats from L2: a few KiB at m = 1, beside the MiBs
// of weights a block streams; at m = 8 a sizeable share of the call's traffic) and scales x as
// it stages it; with kSiluMul it stages silu(gate) · up from the two halves of x; with
// accumulate the final write adds y's old value. Both kernels are dependent launches: they
// wait for the previous kernel before reading x; the vectorized one requests its first weights
// before that wait.
#include "backend/cuda/gemv.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dtype_util.cuh"
#include "backend/cuda/kernel_util.cuh"
#include "base/check.h"

namespace brisk::backend::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kVectorElems = 8;        // 16 bytes of bf16 / f16
constexpr int kLoadsPerThread = 8;     // 16-byte weight loads in flight per lane: 128 bytes
// Dynamic shared memory per block: under the 48 KB a block may use without opt-in, which also
// covers the kernel's few bytes of static shared memory; 4 such blocks fit the 228 KB of an
// H100 multiprocessor.
constexpr size_t kSharedCapBytes = 47 * 1024;
constexpr int64_t kMaxCounters = static_cast<int64_t>(Gemv::kCounterBytes / sizeof(unsigned));

// Rows of w per warp: more rows reuse each shared-memory read of x for more weights, which
// matters once m x 32 bytes of x per 16-byte weight vector would outrun shared memory.
__host__ __device__ constexpr int RowsPerWarp(int m) { return m <= 1 ? 1 : (m <= 4 ? 2 : 4); }

// Largest split (in vectors) whose activations fit kSharedCapBytes.
constexpr int64_t MaxVectorsPerSplit(int64_t m) {
  return static_cast<int64_t>(kSharedCapBytes) / (m * kVectorElems * sizeof(float));
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct KernelParams {
  const float* x;           // [m, x_stride]
  const void* w;            // [n, k]
  const float* bias;        // [n] or nullptr
  float* y;                 // [m, n]
  const float* norm_weight; // [k] with kRmsNorm
  int64_t x_stride;         // elements per row of x: k, or 2k with kSiluMul
  float eps;
  GemvPrologue prologue;
  bool accumulate;
  float* partials;          // [num_splits, m, n] when num_splits > 1
  unsigned* counters;       // [grid_x] when num_splits > 1
  int64_t n;
  int64_t k;
  int64_t num_row_blocks;
  int vectors_per_split;
  int num_splits;
  bool x_aligned;           // x (and norm_weight) 16-byte aligned: with k % 8 == 0 so is every row
};

// Element e of row r of the prologue's output; inv_rms[r] is the row's scale with kRmsNorm.
__device__ inline float PrologueValue(const KernelParams& p, int64_t r, int64_t e,
                                      const float* inv_rms) {
  const float* row = p.x + r * p.x_stride;
  switch (p.prologue) {
    case GemvPrologue::kNone: break;
    case GemvPrologue::kRmsNorm: return row[e] * inv_rms[r] * p.norm_weight[e];
    case GemvPrologue::kSiluMul: return SiluTimes(row[e], row[p.k + e]);
  }
  return row[e];
}

// The prologue's output at elements [e, e + 4) of row r, from 16-byte loads.
__device__ inline float4 PrologueVector(const KernelParams& p, int64_t r, int64_t e,
                                        const float* inv_rms) {
  const float* row = p.x + r * p.x_stride;
  const float4 v = *reinterpret_cast<const float4*>(row + e);
  switch (p.prologue) {
    case GemvPrologue::kNone: break;
    case GemvPrologue::kRmsNorm: {
      const float a = inv_rms[r];
      const float4 w = *reinterpret_cast<const float4*>(p.norm_weight + e);
      return make_float4(v.x * a * w.x, v.y * a * w.y, v.z * a * w.z, v.w * a * w.w);
    }
    case GemvPrologue::kSiluMul: {
      const float4 u = *reinterpret_cast<const float4*>(row + p.k + e);
      return make_float4(SiluTimes(v.x, u.x), SiluTimes(v.y, u.y), SiluTimes(v.z, u.z),
                         SiluTimes(v.w, u.w));
    }
  }
  return v;
}

// With kRmsNorm: inv_rms[r] = 1 / sqrt(mean(x[r]²) + eps) for the M rows, summed by the whole
// block (inv_rms in shared memory, visible to every thread on return). Otherwise nothing.
// Every thread of the block calls it.
template <int M, int kThreadsPerBlock>
__device__ void ComputeInverseRms(const KernelParams& p, float* inv_rms) {
  if (p.prologue != GemvPrologue::kRmsNorm) return;
  constexpr int kBlockWarps = kThreadsPerBlock / kWarpSize;
  __shared__ float warp_sums[kBlockWarps][M];
  float sums[M];
#pragma unroll
  for (int r = 0; r < M; ++r) sums[r] = 0.0f;
  if (p.x_aligned) {
    for (int64_t i = threadIdx.x; i < p.k / 4; i += kThreadsPerBlock) {
#pragma unroll
      for (int r = 0; r < M; ++r) {
        const float4 v = *reinterpret_cast<const float4*>(p.x + r * p.x_stride + 4 * i);
        sums[r] += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
      }
    }
  } else {
    for (int64_t i = threadIdx.x; i < p.k; i += kThreadsPerBlock) {
#pragma unroll
      for (int r = 0; r < M; ++r) {
        const float v = p.x[r * p.x_stride + i];
        sums[r] += v * v;
      }
    }
  }
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
#pragma unroll
  for (int r = 0; r < M; ++r) {
    const float total = WarpSum(sums[r]);
    if (lane == 0) warp_sums[warp][r] = total;
  }
  __syncthreads();
  if (threadIdx.x < M) {
    float total = 0.0f;
    for (int w = 0; w < kBlockWarps; ++w) total += warp_sums[w][threadIdx.x];
    inv_rms[threadIdx.x] = InverseRms(total, p.k, p.eps);
  }
  __syncthreads();
}

// y[r, row] = sum + bias[row], plus y's old value with accumulate.
__device__ inline void StoreOutput(const KernelParams& p, int64_t r, int64_t row, float sum) {
  float value = sum + (p.bias != nullptr ? p.bias[row] : 0.0f);
  float* out = p.y + r * p.n + row;
  if (p.accumulate) value = *out + value;
  *out = value;
}

template <bool kRoundX>
__device__ inline float ActivationValue(float v) {
  if constexpr (kRoundX) {
    return __bfloat162float(__float2bfloat16_rn(v));
  } else {
    return v;
  }
}

// A 16-byte weight load that skips L1: weights are read once per call.
__device__ inline uint4 LoadWeightVector(const void* address) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(address));
  return v;
}

// The 8 weights of a vector, in element order (the lower half-word of each word comes first).
__device__ inline void Unpack(const uint4& raw, __nv_bfloat16, float (&out)[8]) {
  const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = __uint_as_float(words[i] << 16);
    out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
  }
}
__device__ inline void Unpack(const uint4& raw, __half, float (&out)[8]) {
  const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    __half2 pair;
    static_assert(sizeof(pair) == sizeof(unsigned));
    memcpy(&pair, &words[i], sizeof(pair));
    const float2 f = __half22float2(pair);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

// Copies the prologue's output at x[:, vectors [v_begin, v_begin + nv)] into xs ([M][2][vps]
// float4, see the top).
template <int M, bool kRoundX>
__device__ void StageActivations(const KernelParams& p, int64_t v_begin, int nv, float4* xs,
                                 const float* inv_rms) {
  const int vps = p.vectors_per_split;
  if (p.x_aligned) {
    const int items = M * nv * 2;  // float4 pieces, in global order
    for (int idx = threadIdx.x; idx < items; idx += kThreads) {
      const int r = idx / (2 * nv);
      const int rem = idx - r * 2 * nv;
      const int v = rem >> 1;
      const int half = rem & 1;
      float4 val = PrologueVector(p, r, (v_begin + v) * kVectorElems + half * 4, inv_rms);
      val.x = ActivationValue<kRoundX>(val.x);
      val.y = ActivationValue<kRoundX>(val.y);
      val.z = ActivationValue<kRoundX>(val.z);
      val.w = ActivationValue<kRoundX>(val.w);
      xs[(r * 2 + half) * vps + v] = val;
    }
  } else {
    float* xs_floats = reinterpret_cast<float*>(xs);
    const int per_row = nv * kVectorElems;
    const int items = M * per_row;
    for (int idx = threadIdx.x; idx < items; idx += kThreads) {
      const int r = idx / per_row;
      const int e = idx - r * per_row;
      const int v = e >> 3;
      const int c = e & 7;
      const float val = PrologueValue(p, r, v_begin * kVectorElems + e, inv_rms);
      xs_floats[((r * 2 + (c >> 2)) * vps + v) * 4 + (c & 3)] = ActivationValue<kRoundX>(val);
    }
  }
}

// Loads the weight vectors v0 + 32u (u < U) of rows row0 .. row0 + R - 1 within the split;
// out-of-range ones are zero.
template <int R, int U>
__device__ inline void LoadWeights(const KernelParams& p, int64_t row0, int64_t v_begin, int v0,
                                   int nv, uint4 (&raw)[U][R]) {
  const auto* w = static_cast<const uint16_t*>(p.w);
#pragma unroll
  for (int u = 0; u < U; ++u) {
#pragma unroll
    for (int i = 0; i < R; ++i) {
      const int v = v0 + u * kWarpSize;
      const int64_t row = row0 + i;
      if (v < nv && row < p.n) {
        raw[u][i] = LoadWeightVector(w + row * p.k + (v_begin + v) * kVectorElems);
      } else {
        raw[u][i] = make_uint4(0u, 0u, 0u, 0u);
      }
    }
  }
}

// acc[i][r] += Σ over the loaded vectors of w[row0 + i, e] · xs[r, e].
template <typename W, int M, int R, int U>
__device__ inline void Accumulate(const uint4 (&raw)[U][R], const float4* xs, int vps, int v0,
                                  int nv, float (&acc)[R][M]) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int v = v0 + u * kWarpSize;
    if (v >= nv) break;
    float wf[R][8];
#pragma unroll
    for (int i = 0; i < R; ++i) Unpack(raw[u][i], W{}, wf[i]);
#pragma unroll
    for (int r = 0; r < M; ++r) {
      const float4 lo = xs[(r * 2) * vps + v];
      const float4 hi = xs[(r * 2 + 1) * vps + v];
#pragma unroll
      for (int i = 0; i < R; ++i) {
        float a = acc[i][r];
        a = fmaf(wf[i][0], lo.x, a);
        a = fmaf(wf[i][1], lo.y, a);
        a = fmaf(wf[i][2], lo.z, a);
        a = fmaf(wf[i][3], lo.w, a);
        a = fmaf(wf[i][4], hi.x, a);
        a = fmaf(wf[i][5], hi.y, a);
        a = fmaf(wf[i][6], hi.z, a);
        a = fmaf(wf[i][7], hi.w, a);
        acc[i][r] = a;
      }
    }
  }
}

__host__ __device__ constexpr int NextPowerOfTwo(int v) {
  int p = 1;
  while (p < v) p *= 2;
  return p;
}

// Reduce-scatter across the warp: on return v[0] of lane l holds the warp's sum of value
// l / (32 / kWidth0), where kWidth0 is the starting kWidth. Each step halves the values a lane
// keeps (the lower half where the lane's kOffset bit is clear, the upper half where it is set)
// and adds its partner's copy of them, so kWidth values cost kWidth - 1 shuffles in all
// (plus one per step left once a single value remains) instead of 5 per value.
template <int kWidth, int kOffset, int kSize>
__device__ __forceinline__ void ReduceScatter(float (&v)[kSize], int lane) {
  if constexpr (kOffset > 0) {
    if constexpr (kWidth > 1) {
      constexpr int kHalf = kWidth / 2;
      const bool upper = (lane & kOffset) != 0;
#pragma unroll
      for (int j = 0; j < kHalf; ++j) {
        const float send = upper ? v[j] : v[j + kHalf];
        const float keep = upper ? v[j + kHalf] : v[j];
        v[j] = keep + __shfl_xor_sync(kFullWarpMask, send, kOffset);
      }
      ReduceScatter<kHalf, kOffset / 2>(v, lane);
    } else {
      v[0] += __shfl_xor_sync(kFullWarpMask, v[0], kOffset);
      ReduceScatter<1, kOffset / 2>(v, lane);
    }
  }
}

// The last block of a column adds every split's partial sums, in split order, plus the bias.
template <int M>
__device__ void ReduceSplits(const KernelParams& p, int64_t rows_per_block) {
  __shared__ bool is_last;
  __threadfence();  // this thread's partials are visible before the counter moves
  __syncthreads();
  if (threadIdx.x == 0) {
    is_last = atomicAdd(&p.counters[blockIdx.x], 1u) == static_cast<unsigned>(p.num_splits - 1);
  }
  __syncthreads();
  if (!is_last) return;
  __threadfence();
  const int64_t items = M * rows_per_block;
  for (int64_t rb = blockIdx.x; rb < p.num_row_blocks; rb += gridDim.x) {
    for (int64_t idx = threadIdx.x; idx < items; idx += kThreads) {
      const int64_t r = idx / rows_per_block;
      const int64_t row = rb * rows_per_block + (idx - r * rows_per_block);
      if (row >= p.n) continue;
      float sum = 0.0f;
      for (int s = 0; s < p.num_splits; ++s) sum += __ldcg(p.partials + (s * M + r) * p.n + row);
      StoreOutput(p, r, row, sum);
    }
  }
  if (threadIdx.x == 0) p.counters[blockIdx.x] = 0;
}

// grid: [grid_x, num_splits]; block: kThreads; dynamic shared memory: M * 32 * vps bytes.
template <typename W, int M, bool kRoundX>
__global__ void __launch_bounds__(kThreads, 2) GemvVectorKernel(KernelParams p) {
  constexpr int R = RowsPerWarp(M);
  constexpr int U = kLoadsPerThread / R;
  constexpr int64_t kRowsPerBlock = kWarps * R;
  constexpr int kValues = NextPowerOfTwo(R * M);  // sums per lane, padded for ReduceScatter
  constexpr int kLanesPerValue = kWarpSize / kValues;
  static_assert(R * M <= kWarpSize);
  extern __shared__ float4 xs[];  // [M][2][vectors_per_split]
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  const int vps = p.vectors_per_split;
  const int64_t v_begin = static_cast<int64_t>(blockIdx.y) * vps;
  const int64_t remaining = p.k / kVectorElems - v_begin;
  const int nv = static_cast<int>(remaining < vps ? remaining : vps);

  // The first weights are requested before waiting for the kernel that writes x, so they stream
  // in while it finishes (weights are never written by kernels).
  uint4 raw[U][R];
  LoadWeights<R, U>(p, (blockIdx.x * kWarps + warp) * int64_t{R}, v_begin, lane, nv, raw);
  WaitForPrerequisites();
  LetDependentsLaunch();
  __shared__ float inv_rms[M];
  ComputeInverseRms<M, kThreads>(p, inv_rms);
  StageActivations<M, kRoundX>(p, v_begin, nv, xs, inv_rms);
  __syncthreads();

  for (int64_t rb = blockIdx.x; rb < p.num_row_blocks; rb += gridDim.x) {
    const int64_t row0 = (rb * kWarps + warp) * R;
    float acc[R][M];
#pragma unroll
    for (int i = 0; i < R; ++i) {
#pragma unroll
      for (int r = 0; r < M; ++r) acc[i][r] = 0.0f;
    }
    for (int v0 = lane; v0 < nv; v0 += kWarpSize * U) {
      if (v0 != lane || rb != blockIdx.x) LoadWeights<R, U>(p, row0, v_begin, v0, nv, raw);
      Accumulate<W, M, R, U>(raw, xs, vps, v0, nv, acc);
    }
    // Value j = i * M + r is the sum for (r, row0 + i); after the reduce-scatter the first lane
    // of every group of kLanesPerValue holds value lane / kLanesPerValue.
    float sums[kValues];
#pragma unroll
    for (int j = 0; j < kValues; ++j) sums[j] = j < R * M ? acc[j / M][j % M] : 0.0f;
    ReduceScatter<kValues, kWarpSize / 2>(sums, lane);
    const int j = lane / kLanesPerValue;
    const int64_t row = row0 + j / M;
    if (lane % kLanesPerValue == 0 && j < R * M && row < p.n) {
      const int64_t r = j % M;
      if (p.num_splits == 1) {
        StoreOutput(p, r, row, sums[0]);
      } else {
        p.partials[(blockIdx.y * M + r) * p.n + row] = sums[0];
      }
    }
  }
  if (p.num_splits > 1) ReduceSplits<M>(p, kRowsPerBlock);
}

// grid: [ceil(n / kWarps)]; block: kThreads. One warp per row of w.
template <typename W, int M, bool kRoundX>
__global__ void __launch_bounds__(kThreads) GemvScalarKernel(KernelParams p) {
  WaitForPrerequisites();
  LetDependentsLaunch();
  __shared__ float inv_rms[M];
  ComputeInverseRms<M, kThreads>(p, inv_rms);  // before any thread leaves: it synchronizes
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / kWarpSize;
  if (row >= p.n) return;
  const W* w_row = static_cast<const W*>(p.w) + row * p.k;
  float acc[M];
#pragma unroll
  for (int r = 0; r < M; ++r) acc[r] = 0.0f;
#pragma unroll 4
  for (int64_t e = lane; e < p.k; e += kWarpSize) {
    const float weight = ToF32(w_row[e]);
#pragma unroll
    for (int r = 0; r < M; ++r) {
      acc[r] = fmaf(weight, ActivationValue<kRoundX>(PrologueValue(p, r, e, inv_rms)), acc[r]);
    }
  }
#pragma unroll
  for (int r = 0; r < M; ++r) {
    acc[r] = WarpSum(acc[r]);
    if (lane == r) StoreOutput(p, r, row, acc[r]);
  }
}

using KernelFn = void (*)(KernelParams);

// Kernel pointers by m, for one weight type and activation precision.
template <typename W, bool kRoundX>
KernelFn VectorKernelFor(int64_t m) {
  switch (m) {
    case 1: return GemvVectorKernel<W, 1, kRoundX>;
    case 2: return GemvVectorKernel<W, 2, kRoundX>;
    case 3: return GemvVectorKernel<W, 3, kRoundX>;
    case 4: return GemvVectorKernel<W, 4, kRoundX>;
    case 5: return GemvVectorKernel<W, 5, kRoundX>;
    case 6: return GemvVectorKernel<W, 6, kRoundX>;
    case 7: return GemvVectorKernel<W, 7, kRoundX>;
    case 8: return GemvVectorKernel<W, 8, kRoundX>;
  }
  BRISK_CHECK(false) << "gemv m " << m;
  return nullptr;
}

template <typename W, bool kRoundX>
KernelFn ScalarKernelFor(int64_t m) {
  switch (m) {
    case 1: return GemvScalarKernel<W, 1, kRoundX>;
    case 2: return GemvScalarKernel<W, 2, kRoundX>;
    case 3: return GemvScalarKernel<W, 3, kRoundX>;
    case 4: return GemvScalarKernel<W, 4, kRoundX>;
    case 5: return GemvScalarKernel<W, 5, kRoundX>;
    case 6: return GemvScalarKernel<W, 6, kRoundX>;
    case 7: return GemvScalarKernel<W, 7, kRoundX>;
    case 8: return GemvScalarKernel<W, 8, kRoundX>;
  }
  BRISK_CHECK(false) << "gemv m " << m;
  return nullptr;
}

int DTypeIndex(tensor::DType dtype) {
  BRISK_CHECK(dtype == tensor::DType::kBF16 || dtype == tensor::DType::kF16)
      << "gemv weight dtype " << tensor::DTypeName(dtype);
  return dtype == tensor::DType::kBF16 ? 0 : 1;
}

int ActivationsIndex(GemvActivations activations) {
  switch (activations) {
    case GemvActivations::kF32: return 0;
    case GemvActivations::kBf16: return 1;
  }
  return 0;
}

KernelFn SelectKernel(tensor::DType dtype, GemvActivations activations, int64_t m,
                      bool vectorized) {
  const bool round = activations == GemvActivations::kBf16;
  if (dtype == tensor::DType::kBF16) {
    if (vectorized) {
      return round ? VectorKernelFor<__nv_bfloat16, true>(m)
                   : VectorKernelFor<__nv_bfloat16, false>(m);
    }
    return round ? ScalarKernelFor<__nv_bfloat16, true>(m)
                 : ScalarKernelFor<__nv_bfloat16, false>(m);
  }
  if (vectorized) {
    return round ? VectorKernelFor<__half, true>(m) : VectorKernelFor<__half, false>(m);
  }
  return round ? ScalarKernelFor<__half, true>(m) : ScalarKernelFor<__half, false>(m);
}

}  // namespace

absl::Status Gemv::Init(int device_index) {
  cudaError_t error =
      cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, device_index);
  if (error != cudaSuccess || num_sms_ <= 0) {
    return absl::InternalError(absl::StrCat("gemv: cannot read the multiprocessor count: ",
                                            cudaGetErrorString(error)));
  }
  for (tensor::DType dtype : {tensor::DType::kBF16, tensor::DType::kF16}) {
    for (GemvActivations activations : {GemvActivations::kF32, GemvActivations::kBf16}) {
      for (int64_t m = 1; m <= kMaxGemvRows; ++m) {
        const size_t shared = static_cast<size_t>(m * MaxVectorsPerSplit(m)) * 32;
        int blocks = 0;
        error = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
            &blocks, SelectKernel(dtype, activations, m, /*vectorized=*/true), kThreads, shared);
        if (error != cudaSuccess || blocks <= 0) {
          return absl::InternalError(absl::StrCat("gemv: kernel for m ", m,
                                                  " cannot be resident: ",
                                                  cudaGetErrorString(error)));
        }
        blocks_per_sm_[DTypeIndex(dtype)][ActivationsIndex(activations)][m - 1] = blocks;
      }
    }
  }
  return absl::OkStatus();
}

GemvPlan Gemv::Plan(const GemvArgs& args) const {
  BRISK_CHECK(num_sms_ > 0) << "Gemv used before Init";
  BRISK_CHECK(args.m >= 1 && args.m <= kMaxGemvRows) << "gemv m " << args.m;
  BRISK_CHECK(args.n >= 1 && args.k >= 1) << "gemv n " << args.n << " k " << args.k;
  GemvPlan plan;
  plan.vectorized = reinterpret_cast<uintptr_t>(args.w) % 16 == 0 && args.k % kVectorElems == 0;
  if (!plan.vectorized) {
    plan.rows_per_warp = 1;
    plan.rows_per_block = kWarps;
    plan.num_row_blocks = CeilDiv(args.n, kWarps);
    plan.grid_x = plan.num_row_blocks;
    BRISK_CHECK_LE(plan.grid_x, int64_t{0x7fffffff}) << "gemv n " << args.n;
    return plan;
  }
  const int64_t m = args.m;
  plan.rows_per_warp = RowsPerWarp(static_cast<int>(m));
  plan.rows_per_block = kWarps * plan.rows_per_warp;
  plan.num_row_blocks = CeilDiv(args.n, plan.rows_per_block);
  const int64_t loads_per_row = kLoadsPerThread / plan.rows_per_warp;
  const int64_t num_vectors = args.k / kVectorElems;
  const int64_t resident_blocks =
      int64_t{num_sms_} *
      blocks_per_sm_[DTypeIndex(args.w_dtype)][ActivationsIndex(args.activations)][m - 1];
  // Splits: at least enough for x to fit shared memory; more when the row blocks alone would
  // leave resident block slots idle (as many as still fit at once), as long as every lane
  // still gets a full batch of loads.
  const int64_t min_splits = CeilDiv(num_vectors, MaxVectorsPerSplit(m));
  const int64_t fill_splits = std::max<int64_t>(1, resident_blocks / plan.num_row_blocks);
  const int64_t work_splits = std::max<int64_t>(1, num_vectors / (kWarpSize * loads_per_row));
  int64_t splits = std::max(min_splits, std::min(fill_splits, work_splits));
  plan.vectors_per_split = CeilDiv(num_vectors, splits);
  plan.num_splits = CeilDiv(num_vectors, plan.vectors_per_split);
  BRISK_CHECK_LE(plan.num_splits, 65535) << "gemv k " << args.k;
  // Blocks per split: at most what is resident at once, with every block looping over the
  // same number of row blocks (give or take one).
  const int64_t max_grid_x =
      std::clamp<int64_t>(resident_blocks / plan.num_splits, 1, kMaxCounters);
  const int64_t rounds = CeilDiv(plan.num_row_blocks, max_grid_x);
  plan.grid_x = CeilDiv(plan.num_row_blocks, rounds);
  plan.shared_bytes = static_cast<size_t>(m * plan.vectors_per_split) * 32;
  if (plan.num_splits > 1) {
    plan.workspace_bytes =
        kCounterBytes + static_cast<size_t>(plan.num_splits * m * args.n) * sizeof(float);
  }
  return plan;
}

void Gemv::Run(const GemvArgs& args, void* workspace, size_t workspace_bytes,
               cudaStream_t stream) const {
  const GemvPlan plan = Plan(args);
  BRISK_CHECK(plan.workspace_bytes == 0 ||
              (workspace != nullptr && workspace_bytes >= plan.workspace_bytes))
      << "gemv workspace of " << workspace_bytes << " bytes, needs " << plan.workspace_bytes;
  BRISK_CHECK(reinterpret_cast<uintptr_t>(workspace) % 16 == 0) << "gemv workspace alignment";
  const int64_t x_stride = args.prologue == GemvPrologue::kSiluMul ? 2 * args.k : args.k;
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  KernelParams params{
      .x = args.x,
      .w = args.w,
      .bias = args.bias,
      .y = args.y,
      .norm_weight = args.norm_weight,
      .x_stride = x_stride,
      .eps = args.eps,
      .prologue = args.prologue,
      .accumulate = args.accumulate,
      .partials = plan.num_splits > 1
                      ? reinterpret_cast<float*>(static_cast<char*>(workspace) + kCounterBytes)
                      : nullptr,
      .counters = plan.num_splits > 1 ? static_cast<unsigned*>(workspace) : nullptr,
      .n = args.n,
      .k = args.k,
      .num_row_blocks = plan.num_row_blocks,
      .vectors_per_split = static_cast<int>(plan.vectors_per_split),
      .num_splits = static_cast<int>(plan.num_splits),
      .x_aligned = aligned(args.x) && x_stride % 4 == 0 &&
                   (args.prologue != GemvPrologue::kRmsNorm || aligned(args.norm_weight)),
  };
  BRISK_CHECK(args.prologue != GemvPrologue::kRmsNorm || args.norm_weight != nullptr)
      << "gemv: kRmsNorm without a norm weight";
  const KernelFn kernel = SelectKernel(args.w_dtype, args.activations, args.m, plan.vectorized);
  LaunchKernel(/*dependent=*/true, kernel,
               dim3(static_cast<unsigned>(plan.grid_x), static_cast<unsigned>(plan.num_splits)),
               dim3(kThreads), plan.shared_bytes, stream, params);
}

}  // namespace brisk::backend::cuda
