// Encoder attention with a two-pass softmax, parallel over (sequence, kv head, chunk of query
// rows).
//
// A query row sees every key of its sequence, and BERT-family sequences are short (at most a
// few hundred tokens), so the scores of one row are materialized in full: pass one computes
// s_t = q·k_t·scale for every key t and their maximum m, pass two turns them into
// p_t = e^(s_t − m) with sum l, and out = Σ p_t·v_t / l. The query heads that share a kv head
// (GQA, MQA) are processed together, so each key and value row is read once per query row
// rather than once per head. Everything accumulates in f32.
#include "backend/cpu/encoder_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/simd.h"

namespace brisk::backend::cpu {
namespace {

constexpr int64_t kRowsPerItem = 16;  // query rows per work item

// x[i] = e^(x[i] − shift) over n values; returns their sum (one running f32 sum).
float ExpShiftedInPlace(float* x, int64_t n, float shift) {
#if defined(BRISK_CPU_AVX512)
  const __m512 s = _mm512_set1_ps(shift);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = TailMask16(n - i);
    _mm512_mask_storeu_ps(x + i, m, Exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s)));
  }
#else
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i] - shift);
#endif
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  return sum;
}

struct GroupRow {
  const float* q;  // [num_heads, head_dim] of this row, the heads of one kv head
  float* out;      // same layout
  int64_t num_heads;
};

// One query row against keys [0, len) of k and v (already offset to the sequence's first row
// and the kv head), for the row's group of query heads. scratch: num_heads · len floats.
// k, v: rows `token_stride` floats apart, head_dim features each.
void AttendRow(const GroupRow& r, const float* k, const float* v, int64_t len,
               int64_t token_stride, int64_t head_dim, float scale, float* scratch) {
  for (int64_t t = 0; t < len; ++t) {
    const float* kt = k + t * token_stride;
    for (int64_t h = 0; h < r.num_heads; ++h) {
      scratch[h * len + t] = Dot(r.q + h * head_dim, kt, head_dim) * scale;
    }
  }
  for (int64_t h = 0; h < r.num_heads; ++h) {
    float* scores = scratch + h * len;
    float max_score = -std::numeric_limits<float>::infinity();
    for (int64_t t = 0; t < len; ++t) max_score = std::max(max_score, scores[t]);
    const float inv_sum = 1.0f / ExpShiftedInPlace(scores, len, max_score);
    float* out = r.out + h * head_dim;
    std::fill(out, out + head_dim, 0.0f);
    for (int64_t t = 0; t < len; ++t) {
      ScaleAddScaled(1.0f, out, scores[t], v + t * token_stride, head_dim);
    }
    for (int64_t i = 0; i < head_dim; ++i) out[i] *= inv_sum;
  }
}

}  // namespace

void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& seq_starts,
                      int max_seq_len, float scale, const EncoderAttentionDims& d,
                      int num_threads, Workspace* workspace, Tensor* out) {
  const int32_t* starts = seq_starts.data<int32_t>();
  const int64_t group = d.num_heads / d.num_kv_heads;

  // Work items: (sequence, chunk of up to kRowsPerItem query rows, kv head).
  std::vector<int64_t> item_start(d.num_seqs + 1, 0);  // first item of each sequence
  int64_t total_work = 0;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t len = starts[s + 1] - starts[s];
    item_start[s + 1] =
        item_start[s] + (len + kRowsPerItem - 1) / kRowsPerItem * d.num_kv_heads;
    total_work += 2 * len * len * d.num_heads * d.head_dim;
  }
  const int64_t num_items = item_start[d.num_seqs];
  if (num_items == 0) return;
  const int nt = static_cast<int>(std::min<int64_t>(
      {std::max(1, num_threads), num_items, std::max<int64_t>(1, total_work / 65536)}));
  const int64_t scratch_size = RoundUp(group * std::max(1, max_seq_len), 16);
  // Slot 0 is free here: the matmul scratch is only live during a MatMul call.
  float* scratch = workspace->Floats(0, static_cast<size_t>(scratch_size * nt));
  const int64_t token_stride = d.num_kv_heads * d.head_dim;

#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int64_t item = 0; item < num_items; ++item) {
    const int64_t s =
        std::upper_bound(item_start.begin(), item_start.end(), item) - item_start.begin() - 1;
    const int64_t local = item - item_start[s];
    const int64_t chunk = local / d.num_kv_heads;
    const int64_t g = local % d.num_kv_heads;
    const int64_t first = starts[s];
    const int64_t len = starts[s + 1] - first;
    const float* k_seq = k.data<float>() + first * token_stride + g * d.head_dim;
    const float* v_seq = v.data<float>() + first * token_stride + g * d.head_dim;
    float* thread_scratch = scratch + omp_get_thread_num() * scratch_size;
    const int64_t j_end = std::min(len, (chunk + 1) * kRowsPerItem);
    for (int64_t j = chunk * kRowsPerItem; j < j_end; ++j) {
      const int64_t offset = ((first + j) * d.num_heads + g * group) * d.head_dim;
      AttendRow({.q = q.data<float>() + offset, .out = out->data<float>() + offset,
                 .num_heads = group},
                k_seq, v_seq, len, token_stride, d.head_dim, scale, thread_scratch);
    }
  }
}

}  // namespace brisk::backend::cpu
