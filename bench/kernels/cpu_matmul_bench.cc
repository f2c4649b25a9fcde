// Speed of the CPU backend's MatMul at the shapes of a 1B-parameter decoder (Llama-3.2-1B:
// hidden 2048, intermediate 8192, vocabulary 128256) with bf16 weights:
// - decode (m = 1..8): GB/s of weights streamed, next to a plain read-bandwidth baseline;
// - prefill (m = 512): GFLOP/s (2·m·n·k flops per product).
// Usage: cpu_matmul_bench [num_threads [gemv|gemm]]   (default: one per core, both parts)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/simd.h"

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
      t.data<uint16_t>()[i] =
          dtype == DType::kBF16 ? brisk::tensor::F32ToBF16(v) : brisk::tensor::F32ToF16(v);
    }
  }
  return t;
}

struct Timing {
  double best_s;    // fastest call: the kernel's speed on a quiet machine
  double median_s;  // typical call (the build machine may be shared, so both are shown)
};

// Times fn over enough repetitions to run ~1 s (at least 3).
template <class Fn>
Timing TimeIt(Fn fn) {
  fn();  // warm-up (workspace allocation, page faults)
  std::vector<double> samples;
  auto start = std::chrono::steady_clock::now();
  while (samples.size() < 3 ||
         (std::chrono::steady_clock::now() - start < std::chrono::seconds(1) &&
          samples.size() < 1000)) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    samples.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(samples.begin(), samples.end());
  return Timing{samples.front(), samples[samples.size() / 2]};
}

// Enough copies of a weight that cycling through them never hits the 32 MiB L3, as in a real
// forward pass where each weight is read once per step.
int CopiesToBeatCache(int64_t bytes) {
  constexpr int64_t kTarget = int64_t{256} << 20;
  return static_cast<int>(std::max<int64_t>(1, (kTarget + bytes - 1) / bytes));
}

// Read bandwidth with `threads` threads, each summing its half of a buffer much larger than
// the caches through 8 interleaved streams with software prefetch (the access pattern that
// reads fastest here), as the ceiling for the decode matmul.
double ReadBandwidthGBs(int threads) {
  constexpr int64_t kStreams = 8;
  const int64_t n = int64_t{1} << 27;  // 512 MiB of f32
  std::vector<float> buf(n, 1.0f);
  volatile float sink = 0.0f;
  Timing t = TimeIt([&] {
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int64_t per_thread = n / omp_get_num_threads();
      const int64_t stream_len = per_thread / kStreams;
      const float* base = buf.data() + omp_get_thread_num() * per_thread;
#if defined(BRISK_CPU_AVX512)
      __m512 acc[kStreams];
      for (auto& a : acc) a = _mm512_setzero_ps();
      for (int64_t i = 0; i + 16 <= stream_len; i += 16) {
        for (int64_t s = 0; s < kStreams; ++s) {
          const float* p = base + s * stream_len + i;
          _mm_prefetch(reinterpret_cast<const char*>(p + 128), _MM_HINT_T0);
          acc[s] = _mm512_add_ps(acc[s], _mm512_loadu_ps(p));
        }
      }
      for (auto& a : acc) total += _mm512_reduce_add_ps(a);
#else
      float acc[16] = {};
      for (int64_t i = 0; i + 16 <= per_thread; i += 16) {
        for (int l = 0; l < 16; ++l) acc[l] += base[i + l];
      }
      for (float a : acc) total += a;
#endif
    }
    sink = total;
  });
  (void)sink;
  return static_cast<double>(n) * sizeof(float) / t.best_s / 1e9;
}

void BenchGemv(Backend& backend, DType dtype, int64_t m, int64_t n, int64_t k, std::mt19937* rng) {
  std::vector<Tensor> copies;
  copies.push_back(RandomWeight(dtype, {n, k}, rng));
  const int num_copies = CopiesToBeatCache(copies[0].size_bytes());
  for (int c = 1; c < num_copies; ++c) copies.push_back(RandomWeight(dtype, {n, k}, rng));
  Tensor x = RandomF32({m, k}, rng);
  Tensor y = Tensor::Empty(DType::kF32, {m, n});
  size_t next = 0;
  Timing t = TimeIt([&] { backend.MatMul(x, copies[next++ % copies.size()], nullptr, &y); });
  const double bytes = static_cast<double>(copies[0].size_bytes());
  std::printf(
      "gemv %-4s m=%-2lld w=[%6lld, %5lld]  best %7.3f ms %5.1f GB/s %6.1f GFLOP/s"
      "  | median %7.3f ms %5.1f GB/s\n",
      std::string(brisk::tensor::DTypeName(dtype)).c_str(), static_cast<long long>(m),
      static_cast<long long>(n), static_cast<long long>(k), t.best_s * 1e3, bytes / t.best_s / 1e9,
      2.0 * m * n * k / t.best_s / 1e9, t.median_s * 1e3, bytes / t.median_s / 1e9);
}

void BenchGemm(Backend& backend, DType dtype, int64_t m, int64_t n, int64_t k, std::mt19937* rng) {
  Tensor w = RandomWeight(dtype, {n, k}, rng);
  Tensor x = RandomF32({m, k}, rng);
  Tensor y = Tensor::Empty(DType::kF32, {m, n});
  Timing t = TimeIt([&] { backend.MatMul(x, w, nullptr, &y); });
  const double flops = 2.0 * m * n * k;
  std::printf(
      "gemm %-4s m=%-4lld n=%-5lld k=%-5lld  best %8.3f ms %6.1f GFLOP/s"
      "  | median %8.3f ms %6.1f GFLOP/s\n",
      std::string(brisk::tensor::DTypeName(dtype)).c_str(), static_cast<long long>(m),
      static_cast<long long>(n), static_cast<long long>(k), t.best_s * 1e3, flops / t.best_s / 1e9,
      t.median_s * 1e3, flops / t.median_s / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : omp_get_num_procs();
  std::unique_ptr<Backend> backend = brisk::backend::MakeCpuBackend({.num_threads = threads});
  std::mt19937 rng(1234);
  std::printf("threads=%d  read bandwidth (best of ~1 s) %.1f GB/s\n", threads,
              ReadBandwidthGBs(threads));

  const std::string part = argc > 2 ? argv[2] : "";
  if (part.empty() || part == "gemv") {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{8192, 2048}, {2048, 8192}, {128256, 2048}}) {
      BenchGemv(*backend, DType::kBF16, 1, n, k, &rng);
    }
    for (int64_t m : {2, 4, 8}) BenchGemv(*backend, DType::kBF16, m, 8192, 2048, &rng);
    BenchGemv(*backend, DType::kF16, 1, 8192, 2048, &rng);
    BenchGemv(*backend, DType::kF32, 1, 8192, 2048, &rng);
  }
  if (part.empty() || part == "gemm") {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{2048, 2048}, {8192, 2048}}) {
      BenchGemm(*backend, DType::kBF16, 512, n, k, &rng);
    }
    BenchGemm(*backend, DType::kBF16, 128, 2048, 2048, &rng);
    BenchGemm(*backend, DType::kBF16, 16, 2048, 2048, &rng);
    BenchGemm(*backend, DType::kF32, 512, 2048, 2048, &rng);
  }
  return 0;
}
