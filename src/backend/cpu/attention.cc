// Paged attention with an online softmax, parallel over (sequence, chunk of query rows, kv head).
//
// For one query row the visible keys [first, pos] are visited one cache block at a time
// (block b holds tokens [b·block_size, (b+1)·block_size) of the sequence). Per block: scores
// s_t = q·k_t·scale, new running max m' = max(m, max s_t), then the running sum l and the
// output accumulator are rescaled by e^(m − m') before adding e^(s_t − m') and
// e^(s_t − m')·v_t. At the end out = acc / l. Nothing is materialized beyond one block of
// scores.
// The query heads that share a kv head (GQA, MQA) are processed together, so each cached key
// and value row is read once per query row rather than once per head.
#include "backend/cpu/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  int64_t token_stride;  // num_kv_heads · head_dim
  int64_t head_dim;
};

// Scratch per head of a row group: block_size scores plus running max, sum and correction.
int64_t ScratchPerHead(int64_t block_size) { return RoundUp(block_size + 3, 16); }

// One query row, heads [0, num_heads) of q and out that all read kv head g: each key and
// value row is loaded once for all of them. scratch: num_heads · ScratchPerHead floats.
// q, out: [num_heads, head_dim]
void AttendRow(const SequenceView& s, const float* q, int64_t num_heads, int64_t g, int64_t first,
               int64_t pos, float scale, float* scratch, float* out) {
  const int64_t stride = ScratchPerHead(s.block_size);
  const int64_t d = s.head_dim;
  for (int64_t h = 0; h < num_heads; ++h) {
    float* state = scratch + h * stride + s.block_size;  // running max, sum, correction
    state[0] = -std::numeric_limits<float>::infinity();
    state[1] = 0.0f;
  }
  std::fill(out, out + num_heads * d, 0.0f);
  for (int64_t t0 = first; t0 <= pos;) {
    const int64_t block = s.blocks[t0 / s.block_size];
    const int64_t t1 = std::min(pos + 1, (t0 / s.block_size + 1) * s.block_size);  // exclusive
    const int64_t count = t1 - t0;
    const int64_t base = (block * s.block_size + t0 % s.block_size) * s.token_stride + g * d;
    for (int64_t i = 0; i < count; ++i) {
      const float* k = s.k_cache + base + i * s.token_stride;
      for (int64_t h = 0; h < num_heads; ++h)
        scratch[h * stride + i] = Dot(q + h * d, k, d) * scale;
    }
    for (int64_t h = 0; h < num_heads; ++h) {
      float* scores = scratch + h * stride;
      float* state = scores + s.block_size;
      float block_max = state[0];
      for (int64_t i = 0; i < count; ++i) block_max = std::max(block_max, scores[i]);
      for (int64_t i = 0; i < count; ++i) scores[i] -= block_max;
      ExpInPlace(scores, count);
      state[2] = std::exp(state[0] - block_max);  // 0 on the first block
      state[1] *= state[2];
      for (int64_t i = 0; i < count; ++i) state[1] += scores[i];
      state[0] = block_max;
    }
    for (int64_t i = 0; i < count; ++i) {
      const float* v = s.v_cache + base + i * s.token_stride;
      for (int64_t h = 0; h < num_heads; ++h) {
        const float* scores = scratch + h * stride;
        // The first value folds the rescaling of out by the correction into its update.
        ScaleAddScaled(i == 0 ? scores[s.block_size + 2] : 1.0f, out + h * d, scores[i], v, d);
      }
    }
    t0 = t1;
  }
  for (int64_t h = 0; h < num_heads; ++h) {
    const float inv = 1.0f / scratch[h * stride + s.block_size + 1];
    for (int64_t i = 0; i < d; ++i) out[h * d + i] *= inv;
  }
}

}  // namespace

void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                    const AttentionMetadata& meta, const AttentionParams& params,
                    const AttentionDims& d, int num_threads, Workspace* workspace, Tensor* out) {
  const int32_t* starts = meta.query_start_loc.data<int32_t>();
  const int32_t* lens = meta.context_lens.data<int32_t>();
  const int64_t group = d.num_heads / d.cache.num_kv_heads;

  // Work items: (sequence, chunk of up to kRowsPerItem query rows, kv head, slice of that kv
  // head's query heads). A slice is the whole group unless that leaves threads idle (decode of
  // few sequences with few kv heads).
  int64_t base_items = 0;
  int64_t total_work = 0;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t rows = starts[s + 1] - starts[s];
    base_items += (rows + kRowsPerItem - 1) / kRowsPerItem * d.cache.num_kv_heads;
    total_work += rows * lens[s] * d.num_heads * d.head_dim;
  }
  const int64_t slices_wanted =
      (2 * num_threads + base_items - 1) / std::max<int64_t>(1, base_items);
  const int64_t heads_per_slice = (group + std::clamp<int64_t>(slices_wanted, 1, group) - 1) /
                                  std::clamp<int64_t>(slices_wanted, 1, group);
  const int64_t slices = (group + heads_per_slice - 1) / heads_per_slice;
  const int64_t items_per_chunk = d.cache.num_kv_heads * slices;
  std::vector<int64_t> item_start(d.num_seqs + 1, 0);  // first item of each sequence
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t rows = starts[s + 1] - starts[s];
    item_start[s + 1] = item_start[s] + (rows + kRowsPerItem - 1) / kRowsPerItem * items_per_chunk;
  }
  const int64_t num_items = item_start[d.num_seqs];
  const int nt =
      static_cast<int>(std::min<int64_t>({std::max(1, num_threads), std::max<int64_t>(1, num_items),
                                          std::max<int64_t>(1, total_work / 65536)}));
  const int64_t scratch_size = heads_per_slice * ScratchPerHead(d.cache.block_size);
  // Slot 0 is free here: the matmul scratch is only live during a MatMul call.
  float* scratch = workspace->Floats(0, static_cast<size_t>(scratch_size * nt));

#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t item = 0; item < num_items; ++item) {
    const int64_t s =
        std::upper_bound(item_start.begin(), item_start.end(), item) - item_start.begin() - 1;
    const int64_t local = item - item_start[s];
    const int64_t chunk = local / items_per_chunk;
    const int64_t g = local % items_per_chunk / slices;
    const int64_t slice = local % slices;
    const int64_t h0 = g * group + slice * heads_per_slice;
    const int64_t num_slice_heads = std::min(heads_per_slice, group - slice * heads_per_slice);
    const int64_t num_queries = starts[s + 1] - starts[s];
    const SequenceView view{.k_cache = k_cache.data<float>(),
                            .v_cache = v_cache.data<float>(),
                            .blocks = meta.block_tables.data<int32_t>() + s * d.max_blocks_per_seq,
                            .block_size = d.cache.block_size,
                            .token_stride = d.cache.num_kv_heads * d.head_dim,
                            .head_dim = d.head_dim};
    float* thread_scratch = scratch + omp_get_thread_num() * scratch_size;
    const int64_t j_end = std::min(num_queries, (chunk + 1) * kRowsPerItem);
    for (int64_t j = chunk * kRowsPerItem; j < j_end; ++j) {
      const int64_t row = starts[s] + j;
      const int64_t pos = lens[s] - num_queries + j;
      const int64_t first =
          params.sliding_window > 0 ? std::max<int64_t>(0, pos - params.sliding_window + 1) : 0;
      const int64_t offset = (row * d.num_heads + h0) * d.head_dim;
      AttendRow(view, q.data<float>() + offset, num_slice_heads, g, first, pos, params.scale,
                thread_scratch, out->data<float>() + offset);
    }
  }
}

}  // namespace brisk::backend::cpu
