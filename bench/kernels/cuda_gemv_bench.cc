// Speed of the CUDA backend's small-m GEMV (backend/cuda/gemv.cuh) against cuBLASLt at the
// decode shapes (m = 1, 4, 8) of Llama-3.2-1B and Llama-3.1-8B with bf16 (or f16) weights:
// microseconds per call and GB/s of weights streamed, beside the floor set by the 3.0 TB/s
// device copy bandwidth measured on the H100 (../shared/BENCHMARKS.md). Columns:
//   gemv        GEMV, f32 activations (what the backend runs by default)
//   gemv bf16x  GEMV, activations rounded to bf16 (--gpu-activations bf16)
//   lt bf16     cuBLASLt bf16 x bf16 -> f32 on x already rounded (bf16 weights only)
//   lt f32      cuBLASLt f32 on the widened f32 weights (the f32 path before the GEMV)
//   diff        max |gemv - lt f32| / max |lt f32|: a validator of the GEMV
// Each weight is copied until the copies exceed 4x the L2 cache and calls rotate over them, so
// every call streams its weights from device memory as in a real decode step. Time per call:
// CUDA events around batches of calls, median over the batches.
// Usage: cuda_gemv_bench [--model=1b|8b|all] [--dtype=bf16|f16]
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/gemm.h"
#include "backend/cuda/gemm_kernels.cuh"
#include "backend/cuda/gemv.cuh"
#include "tensor/dtype.h"

namespace {

namespace cuda = brisk::backend::cuda;
using brisk::tensor::DType;

// Device copy bandwidth measured on the H100 of the GPU machine (../shared/BENCHMARKS.md).
constexpr double kCopyBandwidthBytesPerS = 3.0e12;
constexpr int kBatches = 25;           // timed batches per measurement (median taken)
constexpr int kMinCallsPerBatch = 10;  // calls per batch: each batch lasts well over 10 us

struct Shape {
  const char* model;
  const char* layer;
  int64_t n, k;
};

constexpr Shape kShapes[] = {
    {"1b", "qkv", 3072, 2048},     {"1b", "o", 2048, 2048},        {"1b", "gate", 8192, 2048},
    {"1b", "gate_up", 16384, 2048}, {"1b", "down", 2048, 8192},    {"1b", "lm_head", 128256, 2048},
    {"8b", "qkv", 6144, 4096},     {"8b", "o", 4096, 4096},        {"8b", "gate", 14336, 4096},
    {"8b", "down", 4096, 14336},   {"8b", "lm_head", 128256, 4096},
};
constexpr int64_t kMs[] = {1, 4, 8};

// Device buffer freed at scope exit.
struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) : bytes(bytes) {
    if (bytes > 0) BRISK_CUDA_CHECK(cudaMalloc(&ptr, bytes));
  }
  ~DeviceBuffer() {
    if (ptr != nullptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* ptr = nullptr;
  size_t bytes = 0;
};

// Fills `bytes` of device memory by repeating a random host block of half-precision values in
// [-0.05, 0.05) (speed does not depend on the values; the repeat keeps setup fast).
void FillHalf(void* device, size_t bytes, DType dtype, uint32_t seed) {
  std::vector<uint16_t> block(size_t{8} << 20);
  uint32_t state = seed * 2654435761u + 1;
  for (uint16_t& v : block) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const float value = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.1f;
    v = dtype == DType::kBF16 ? brisk::tensor::F32ToBF16(value) : brisk::tensor::F32ToF16(value);
  }
  const size_t block_bytes = block.size() * sizeof(uint16_t);
  for (size_t offset = 0; offset < bytes; offset += block_bytes) {
    BRISK_CUDA_CHECK(cudaMemcpy(static_cast<char*>(device) + offset, block.data(),
                                std::min(block_bytes, bytes - offset), cudaMemcpyHostToDevice));
  }
}

// Median microseconds per call of `call(copy_index)` over batches rotating through `copies`.
template <class Call>
double TimeUs(int64_t copies, cudaStream_t stream, Call call) {
  const int64_t per_batch = std::max<int64_t>(copies, kMinCallsPerBatch);
  for (int64_t i = 0; i < copies; ++i) call(i);  // warm-up: plans, first touches
  cudaEvent_t start, stop;
  BRISK_CUDA_CHECK(cudaEventCreate(&start));
  BRISK_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> samples;
  int64_t next = 0;
  for (int b = 0; b < kBatches; ++b) {
    BRISK_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int64_t i = 0; i < per_batch; ++i) call(next++ % copies);
    BRISK_CUDA_CHECK(cudaEventRecord(stop, stream));
    BRISK_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BRISK_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    samples.push_back(1e3 * ms / static_cast<double>(per_batch));
  }
  BRISK_CUDA_CHECK(cudaEventDestroy(start));
  BRISK_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

std::vector<float> ToHost(const float* device, int64_t count) {
  std::vector<float> host(static_cast<size_t>(count));
  BRISK_CUDA_CHECK(cudaMemcpy(host.data(), device, host.size() * sizeof(float),
                              cudaMemcpyDeviceToHost));
  return host;
}

struct Options {
  std::string model = "all";
  DType dtype = DType::kBF16;
};

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--model=1b" || arg == "--model=8b" || arg == "--model=all") {
      options->model = arg.substr(8);
    } else if (arg == "--dtype=bf16") {
      options->dtype = DType::kBF16;
    } else if (arg == "--dtype=f16") {
      options->dtype = DType::kF16;
    } else {
      std::fprintf(stderr, "usage: %s [--model=1b|8b|all] [--dtype=bf16|f16]\n", argv[0]);
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, &options)) return 2;
  int device = 0;
  BRISK_CUDA_CHECK(cudaSetDevice(device));
  cudaDeviceProp prop{};
  BRISK_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  const size_t rotate_bytes = std::max<size_t>(size_t{4} * prop.l2CacheSize, size_t{256} << 20);
  cudaStream_t stream;
  BRISK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  cuda::Gemv gemv;
  if (absl::Status s = gemv.Init(device); !s.ok()) {
    std::fprintf(stderr, "gemv init: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const size_t lt_workspace_bytes = size_t{32} << 20;  // as the backend
  DeviceBuffer lt_workspace(lt_workspace_bytes);
  cuda::LtGemm lt;
  if (absl::Status s = lt.Init(lt_workspace.ptr, lt_workspace_bytes); !s.ok()) {
    std::fprintf(stderr, "cublasLt init: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const bool bf16 = options.dtype == DType::kBF16;
  std::printf("device: %s, %d SMs, L2 %.0f MiB; weights %s; floor = weight bytes / %.1f TB/s\n\n",
              prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1048576.0,
              bf16 ? "bf16" : "f16", kCopyBandwidthBytesPerS / 1e12);
  std::printf("| model | layer | m | n x k | MiB | floor us | gemv us | GB/s | gemv bf16x us | "
              "lt bf16 us | GB/s | lt f32 us | gemv vs best lt | splits | diff |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");

  for (const Shape& shape : kShapes) {
    if (options.model != "all" && options.model != shape.model) continue;
    const int64_t n = shape.n, k = shape.k;
    const size_t w_bytes = static_cast<size_t>(n * k) * 2;
    const int64_t copies = static_cast<int64_t>((rotate_bytes + w_bytes - 1) / w_bytes);
    const int64_t copies_f32 =
        static_cast<int64_t>((rotate_bytes + 2 * w_bytes - 1) / (2 * w_bytes));
    DeviceBuffer w(w_bytes * copies);
    FillHalf(w.ptr, w.bytes, options.dtype, static_cast<uint32_t>(n + k));
    DeviceBuffer w_f32(2 * w_bytes * copies_f32);
    for (int64_t c = 0; c < copies_f32; ++c) {
      cuda::LaunchWidenToF32(static_cast<char*>(w.ptr) + (c % copies) * w_bytes, options.dtype,
                             reinterpret_cast<float*>(static_cast<char*>(w_f32.ptr) +
                                                      c * 2 * w_bytes),
                             n * k, stream);
    }
    auto w_copy = [&](int64_t c) { return static_cast<const char*>(w.ptr) + c * w_bytes; };
    auto w_f32_copy = [&](int64_t c) {
      return reinterpret_cast<const float*>(static_cast<const char*>(w_f32.ptr) + c * 2 * w_bytes);
    };

    for (int64_t m : kMs) {
      DeviceBuffer x(static_cast<size_t>(m * k) * sizeof(float));
      std::vector<float> x_host(static_cast<size_t>(m * k));
      for (size_t i = 0; i < x_host.size(); ++i) x_host[i] = std::sin(0.37f * i);
      BRISK_CUDA_CHECK(cudaMemcpy(x.ptr, x_host.data(), x.bytes, cudaMemcpyHostToDevice));
      DeviceBuffer x_bf16(static_cast<size_t>(m * k) * 2);
      cuda::LaunchRoundToBf16(static_cast<const float*>(x.ptr), x_bf16.ptr, m * k, stream);
      DeviceBuffer y_gemv(static_cast<size_t>(m * n) * sizeof(float));
      DeviceBuffer y_lt(static_cast<size_t>(m * n) * sizeof(float));
      cuda::GemvArgs args{.x = static_cast<const float*>(x.ptr),
                          .w = w.ptr,
                          .y = static_cast<float*>(y_gemv.ptr),
                          .w_dtype = options.dtype,
                          .m = m,
                          .n = n,
                          .k = k};
      const cuda::GemvPlan plan = gemv.Plan(args);
      DeviceBuffer gemv_workspace(plan.workspace_bytes);
      if (plan.workspace_bytes > 0) {
        BRISK_CUDA_CHECK(cudaMemset(gemv_workspace.ptr, 0, plan.workspace_bytes));
      }
      auto run_gemv = [&](cuda::GemvActivations activations, int64_t c) {
        cuda::GemvArgs a = args;
        a.w = w_copy(c);
        a.activations = activations;
        gemv.Run(a, gemv_workspace.ptr, gemv_workspace.bytes, stream);
      };
      auto run_lt = [&](DType input, int64_t c) {
        const bool ran =
            lt.Run({.x = input == DType::kF32 ? x.ptr : x_bf16.ptr,
                    .w = input == DType::kF32 ? static_cast<const void*>(w_f32_copy(c))
                                              : static_cast<const void*>(w_copy(c)),
                    .y = static_cast<float*>(y_lt.ptr),
                    .input_dtype = input,
                    .m = m,
                    .n = n,
                    .k = k},
                   stream);
        if (!ran) std::fprintf(stderr, "cuBLASLt has no algorithm for m %lld\n", (long long)m);
      };

      const double us_gemv =
          TimeUs(copies, stream, [&](int64_t c) { run_gemv(cuda::GemvActivations::kF32, c); });
      const double us_gemv_bf16 =
          TimeUs(copies, stream, [&](int64_t c) { run_gemv(cuda::GemvActivations::kBf16, c); });
      const double us_lt_bf16 =
          bf16 ? TimeUs(copies, stream, [&](int64_t c) { run_lt(DType::kBF16, c); }) : NAN;
      const double us_lt_f32 =
          TimeUs(copies_f32, stream, [&](int64_t c) { run_lt(DType::kF32, c); });

      // Validator: the same copy through both f32 paths.
      run_gemv(cuda::GemvActivations::kF32, 0);
      run_lt(DType::kF32, 0);
      BRISK_CUDA_CHECK(cudaStreamSynchronize(stream));
      const std::vector<float> a = ToHost(static_cast<const float*>(y_gemv.ptr), m * n);
      const std::vector<float> b = ToHost(static_cast<const float*>(y_lt.ptr), m * n);
      double max_diff = 0, max_ref = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        max_diff = std::max(max_diff, static_cast<double>(std::fabs(a[i] - b[i])));
        max_ref = std::max(max_ref, static_cast<double>(std::fabs(b[i])));
      }
      if (std::isnan(a[0]) || std::isnan(b[0])) max_diff = NAN;

      const double floor_us = 1e6 * static_cast<double>(w_bytes) / kCopyBandwidthBytesPerS;
      const double best_lt = bf16 ? std::min(us_lt_bf16, us_lt_f32) : us_lt_f32;
      std::printf(
          "| %s | %s | %lld | %lldx%lld | %.0f | %.1f | %.1f | %.0f | %.1f | %.1f | %.0f | %.1f | "
          "%.2fx | %lld | %.1e |\n",
          shape.model, shape.layer, static_cast<long long>(m), static_cast<long long>(n),
          static_cast<long long>(k), w_bytes / 1048576.0, floor_us, us_gemv,
          w_bytes / us_gemv / 1e3, us_gemv_bf16, us_lt_bf16, w_bytes / us_lt_bf16 / 1e3,
          us_lt_f32, best_lt / us_gemv, static_cast<long long>(plan.num_splits),
          max_diff / std::max(max_ref, 1e-30));
      std::fflush(stdout);
    }
  }
  BRISK_CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}
