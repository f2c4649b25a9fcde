// Paged attention with an online softmax, parallel over (sequence, head, chunk of query rows).
//
// For one query row the visible keys [first, pos] are visited one cache block at a time
// (block b holds tokens [b·block_size, (b+1)·block_size) of the sequence). Per block: scores
// s_t = q·k_t·scale, new running max m' = max(m, max s_t), then the running sum l and the
// output accumulator are rescaled by e^(m − m') before adding e^(s_t − m') and e^(s_t − m')·v_t.
// At the end out = acc / l. Nothing is materialized beyond one block of scores.
#include "backend/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "backend/cpu/simd.h"

namespace brisk::backend::cpu {
namespace {

constexpr int64_t kRowsPerItem = 16;  // query rows per work item (prefill)

// e^x in place over n values.
void ExpInPlace(float* x, int64_t n) {
#if defined(BRISK_CPU_AVX512)
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = TailMask16(n - i);
    _mm512_mask_storeu_ps(x + i, m, Exp512(_mm512_maskz_loadu_ps(m, x + i)));
  }
#else
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
#endif
}

struct SequenceView {
  const float* k_cache;   // [num_blocks, block_size, num_kv_heads, head_dim]
  const float* v_cache;   // same
  const int32_t* blocks;  // this sequence's block table row
  int64_t block_size;
  int64_t token_stride;   // num_kv_heads · head_dim
  int64_t head_dim;
};

// One query row and head: out[0..head_dim) over keys [first, pos] of kv head g.
// scores: block_size floats of scratch
void AttendRow(const SequenceView& s, const float* q, int64_t g, int64_t first, int64_t pos,
               float scale, float* scores, float* out) {
  float running_max = -std::numeric_limits<float>::infinity();
  float running_sum = 0.0f;
  std::fill(out, out + s.head_dim, 0.0f);
  for (int64_t t0 = first; t0 <= pos;) {
    const int64_t block = s.blocks[t0 / s.block_size];
    const int64_t t1 = std::min(pos + 1, (t0 / s.block_size + 1) * s.block_size);  // exclusive
    const int64_t count = t1 - t0;
    const int64_t base = (block * s.block_size + t0 % s.block_size) * s.token_stride + g * s.head_dim;
    float block_max = running_max;
    for (int64_t i = 0; i < count; ++i) {
      scores[i] = Dot(q, s.k_cache + base + i * s.token_stride, s.head_dim) * scale;
      block_max = std::max(block_max, scores[i]);
    }
    const float correction = std::exp(running_max - block_max);  // 0 on the first block
    for (int64_t i = 0; i < count; ++i) scores[i] -= block_max;
    ExpInPlace(scores, count);
    running_sum *= correction;
    for (int64_t i = 0; i < count; ++i) {
      running_sum += scores[i];
      // The first value folds the rescaling of out into its update.
      ScaleAddScaled(i == 0 ? correction : 1.0f, out, scores[i],
                     s.v_cache + base + i * s.token_stride, s.head_dim);
    }
    running_max = block_max;
    t0 = t1;
  }
  const float inv = 1.0f / running_sum;
  for (int64_t i = 0; i < s.head_dim; ++i) out[i] *= inv;
}

}  // namespace

void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                    const AttentionMetadata& meta, const AttentionParams& params,
                    const AttentionDims& d, int num_threads, Workspace* workspace, Tensor* out) {
  const int32_t* starts = meta.query_start_loc.data<int32_t>();
  const int32_t* lens = meta.context_lens.data<int32_t>();
  const int64_t group = d.num_heads / d.cache.num_kv_heads;

  // Work items: (sequence, head, chunk of up to kRowsPerItem query rows).
  std::vector<int64_t> item_start(d.num_seqs + 1, 0);  // first item of each sequence
  int64_t total_work = 0;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t rows = starts[s + 1] - starts[s];
    const int64_t chunks = (rows + kRowsPerItem - 1) / kRowsPerItem;
    item_start[s + 1] = item_start[s] + chunks * d.num_heads;
    total_work += rows * lens[s] * d.num_heads * d.head_dim;
  }
  const int64_t num_items = item_start[d.num_seqs];
  const int nt = static_cast<int>(std::min<int64_t>(
      {std::max(1, num_threads), num_items, std::max<int64_t>(1, total_work / 65536)}));
  const int64_t scratch_size = RoundUp(d.cache.block_size, 16);
  // Slot 0 is free here: the matmul scratch is only live during a MatMul call.
  float* scratch = workspace->Floats(0, static_cast<size_t>(scratch_size * std::max(nt, 1)));

#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(nt, 1))
  for (int64_t item = 0; item < num_items; ++item) {
    const int64_t s = std::upper_bound(item_start.begin(), item_start.end(), item) - item_start.begin() - 1;
    const int64_t local = item - item_start[s];
    const int64_t h = local % d.num_heads;
    const int64_t chunk = local / d.num_heads;
    const int64_t num_queries = starts[s + 1] - starts[s];
    const SequenceView view{.k_cache = k_cache.data<float>(),
                            .v_cache = v_cache.data<float>(),
                            .blocks = meta.block_tables.data<int32_t>() + s * d.max_blocks_per_seq,
                            .block_size = d.cache.block_size,
                            .token_stride = d.cache.num_kv_heads * d.head_dim,
                            .head_dim = d.head_dim};
    float* scores = scratch + omp_get_thread_num() * scratch_size;
    const int64_t j_end = std::min(num_queries, (chunk + 1) * kRowsPerItem);
    for (int64_t j = chunk * kRowsPerItem; j < j_end; ++j) {
      const int64_t row = starts[s] + j;
      const int64_t pos = lens[s] - num_queries + j;
      const int64_t first =
          params.sliding_window > 0 ? std::max<int64_t>(0, pos - params.sliding_window + 1) : 0;
      const int64_t offset = (row * d.num_heads + h) * d.head_dim;
      AttendRow(view, q.data<float>() + offset, h / group, first, pos, params.scale, scores,
                out->data<float>() + offset);
    }
  }
}

}  // namespace brisk::backend::cpu
