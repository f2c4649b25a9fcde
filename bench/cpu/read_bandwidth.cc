// Measures the memory read bandwidth that decode is bound by: threads sum a buffer much larger
// than the caches (1 GiB by default), best of several passes, counting bytes read.
// Usage: brisk_read_bandwidth [GiB]   prints "read_gbps <value>"
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  const size_t gib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1;
  const size_t n = gib * (size_t{1} << 30) / sizeof(uint64_t);
  // XOR of 64-bit words: an integer reduction the compiler may vectorise and reorder freely.
  std::vector<uint64_t> data(n, 0x0123456789abcdefull);
  double best = 0;
  uint64_t sink = 0;
  for (int pass = 0; pass < 7; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    uint64_t total = 0;
#pragma omp parallel for reduction(^ : total) schedule(static)
    for (size_t i = 0; i < n; ++i) total ^= data[i];
    auto t1 = std::chrono::steady_clock::now();
    sink ^= total;
    double gbps = n * sizeof(uint64_t) / std::chrono::duration<double>(t1 - t0).count() / 1e9;
    if (gbps > best) best = gbps;
  }
  std::printf("read_gbps %.1f threads %d (checksum %llx)\n", best, omp_get_max_threads(), static_cast<unsigned long long>(sink));
  return 0;
}
