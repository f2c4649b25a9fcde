// How the prefill attention kernels (attention.cu, prefill_attention_tc.cu) cut a batch's
// query rows into tiles of one sequence each, numbered by "slots": device-side helper.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace brisk::backend::cuda {

// The tile slots of sequence s are [base(s), base(s) + ceil(num_queries_s / tile_rows)) with
// base(s) = query_start_loc[s] / tile_rows + s; base is increasing and
// base(s + 1) >= base(s) + ceil(num_queries_s / tile_rows), so the ranges never overlap and
// num_tokens / tile_rows + num_seqs slots cover every sequence. Returns the last s with
// base(s) <= slot.
__device__ inline int64_t FindTileSequence(const int32_t* query_start_loc, int64_t num_seqs,
                                           int tile_rows, int64_t slot) {
  int64_t lo = 0;
  int64_t hi = num_seqs - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (query_start_loc[mid] / tile_rows + mid <= slot) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

}  // namespace brisk::backend::cuda
