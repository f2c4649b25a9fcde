// Speed of the CPU backend's MatMul at the shapes of a 1B-parameter decoder (Llama-3.2-1B:
// hidden 2048, intermediate 8192, vocabulary 128256) with bf16 weights:
// - decode (m = 1..8): GB/s of weights streamed, next to a plain read-bandwidth baseline;
// - prefill (m = 512): GFLOP/s (2·m·n·k flops per product).
// Usage: cpu_matmul_bench [num_threads]   (default: one per core)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <omp.h>

#include "backend/cpu/cpu_backend.h"

namespace {

using brisk::backend::Backend;
using brisk::tensor::DType;
using brisk::tensor::Tensor;

Tensor RandomF32(std::vector<int64_t> shape, std::mt19937* rng) {
  Tensor t = Tensor::Empty(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(*rng);
  return t;
}

Tensor RandomWeight(DType dtype, std::vector<int64_t> shape, std::mt19937* rng) {
  Tensor t = Tensor::Empty(dtype, std::move(shape));
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = u(*rng);
    if (dtype == DType::kF32) {
      t.data<float>()[i] = v;
    } else {
      t.data<uint16_t>()[i] = dtype == DType::kBF16 ? brisk::tensor::F32ToBF16(v)
                                                    : brisk::tensor::F32ToF16(v);
    }
  }
  return t;
}

// Median seconds per call of fn over enough repetitions to run ~1 s (at least 3).
template <class Fn>
double TimeIt(Fn fn) {
  fn();  // warm-up (workspace allocation, page faults)
  std::vector<double> samples;
  auto start = std::chrono::steady_clock::now();
  while (samples.size() < 3 ||
         (std::chrono::steady_clock::now() - start < std::chrono::seconds(1) && samples.size() < 1000)) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// Read bandwidth with `threads` threads summing a buffer much larger than the caches.
double ReadBandwidthGBs(int threads) {
  const int64_t n = int64_t{1} << 27;  // 512 MiB of f32
  std::vector<float> buf(n, 1.0f);
  volatile float sink = 0.0f;
  double seconds = TimeIt([&] {
    float total = 0.0f;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (int64_t i = 0; i < n; ++i) total += buf[i];
    sink = total;
  });
  (void)sink;
  return static_cast<double>(n) * sizeof(float) / seconds / 1e9;
}

void BenchGemv(Backend& backend, DType dtype, int64_t m, int64_t n, int64_t k, std::mt19937* rng) {
  Tensor w = RandomWeight(dtype, {n, k}, rng);
  Tensor x = RandomF32({m, k}, rng);
  Tensor y = Tensor::Empty(DType::kF32, {m, n});
  double seconds = TimeIt([&] { backend.MatMul(x, w, nullptr, &y); });
  std::printf("gemv %-4s m=%-2lld w=[%6lld, %5lld]  %8.3f ms  %6.1f GB/s  %6.1f GFLOP/s\n",
              std::string(brisk::tensor::DTypeName(dtype)).c_str(), static_cast<long long>(m),
              static_cast<long long>(n), static_cast<long long>(k), seconds * 1e3,
              static_cast<double>(w.size_bytes()) / seconds / 1e9,
              2.0 * m * n * k / seconds / 1e9);
}

void BenchGemm(Backend& backend, DType dtype, int64_t m, int64_t n, int64_t k, std::mt19937* rng) {
  Tensor w = RandomWeight(dtype, {n, k}, rng);
  Tensor x = RandomF32({m, k}, rng);
  Tensor y = Tensor::Empty(DType::kF32, {m, n});
  double seconds = TimeIt([&] { backend.MatMul(x, w, nullptr, &y); });
  std::printf("gemm %-4s m=%-4lld n=%-5lld k=%-5lld  %8.3f ms  %6.1f GFLOP/s\n",
              std::string(brisk::tensor::DTypeName(dtype)).c_str(), static_cast<long long>(m),
              static_cast<long long>(n), static_cast<long long>(k), seconds * 1e3,
              2.0 * m * n * k / seconds / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_num_procs();
  std::unique_ptr<Backend> backend = brisk::backend::MakeCpuBackend({.num_threads = threads});
  std::mt19937 rng(1234);
  std::printf("threads=%d  read bandwidth %.1f GB/s\n", threads, ReadBandwidthGBs(threads));

  for (auto [n, k] : {std::pair<int64_t, int64_t>{8192, 2048}, {2048, 8192}, {128256, 2048}}) {
    BenchGemv(*backend, DType::kBF16, 1, n, k, &rng);
  }
  for (int64_t m : {2, 4, 8}) BenchGemv(*backend, DType::kBF16, m, 8192, 2048, &rng);
  BenchGemv(*backend, DType::kF16, 1, 8192, 2048, &rng);
  BenchGemv(*backend, DType::kF32, 1, 8192, 2048, &rng);

  for (auto [n, k] : {std::pair<int64_t, int64_t>{2048, 2048}, {8192, 2048}}) {
    BenchGemm(*backend, DType::kBF16, 512, n, k, &rng);
  }
  BenchGemm(*backend, DType::kBF16, 128, 2048, 2048, &rng);
  BenchGemm(*backend, DType::kBF16, 16, 2048, 2048, &rng);
  BenchGemm(*backend, DType::kF32, 512, 2048, 2048, &rng);
  return 0;
}
