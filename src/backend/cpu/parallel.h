// Row-parallel loops for the CPU kernels on OpenMP. Small problems run inline on the calling
// thread: waking the team costs microseconds, more than a short elementwise op.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace brisk::backend::cpu {

// Elements of work below which one thread does everything (a few microseconds of work).
inline constexpr int64_t kMinParallelElements = 32 * 1024;

// Calls fn(begin, end) over disjoint ranges covering [0, count), each range a contiguous run
// of items, on up to num_threads threads. elements_per_item sizes the work for the cutoff.
template <class Fn>
void ParallelFor(int64_t count, int64_t elements_per_item, int num_threads, Fn fn) {
  if (count <= 0) return;
  const int64_t total = count * std::max<int64_t>(1, elements_per_item);
  const int64_t useful = std::max<int64_t>(1, total / kMinParallelElements);
  const int nt = static_cast<int>(std::min<int64_t>({num_threads, useful, count}));
  if (nt <= 1) {
    fn(int64_t{0}, count);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t threads = omp_get_num_threads();
    const int64_t begin = count * t / threads;
    const int64_t end = count * (t + 1) / threads;
    if (begin < end) fn(begin, end);
  }
}

}  // namespace brisk::backend::cpu
