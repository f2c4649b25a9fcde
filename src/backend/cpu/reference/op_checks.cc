// Argument checks of the CPU backends; see op_checks.h.
#include "backend/cpu/reference/op_checks.h"

#include <algorithm>

#include "base/check.h"

namespace brisk::backend {

RowDims CheckEmbedding(const Tensor& table, const Tensor& ids, const Tensor& out) {
  const RowDims d = CheckEmbeddingShapes(table, ids, out);
  const int32_t* id = ids.data<int32_t>();
  for (int64_t t = 0; t < d.rows; ++t) {
    BRISK_CHECK(id[t] >= 0 && id[t] < table.dim(0)) << "token id " << id[t] << " at " << t;
  }
  return d;
}

namespace {

// Every positions[t] in [0, max_positions).
void CheckPositions(const Tensor& positions, int64_t max_positions) {
  const int32_t* pos = positions.data<int32_t>();
  for (int64_t t = 0; t < positions.dim(0); ++t) {
    BRISK_CHECK(pos[t] >= 0 && pos[t] < max_positions) << "rope position " << pos[t] << " at " << t;
  }
}

// Every slot_mapping[t] in [-1, num_blocks * block_size).
void CheckSlots(const Tensor& slot_mapping, const KvCacheDims& c) {
  const int32_t* slots = slot_mapping.data<int32_t>();
  for (int64_t t = 0; t < slot_mapping.dim(0); ++t) {
    BRISK_CHECK(slots[t] >= -1 && slots[t] < c.num_blocks * c.block_size)
        << "slot " << slots[t] << " at " << t;
  }
}

}  // namespace

RopeDims CheckRope(const Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  const RopeDims d = CheckRopeShapes(x, positions, cos_sin);
  CheckPositions(positions, d.max_positions);
  return d;
}

KvCacheDims CheckWriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                              const Tensor& k_cache, const Tensor& v_cache) {
  const KvCacheDims c = CheckWriteKvCacheShapes(k, v, slot_mapping, k_cache, v_cache);
  CheckSlots(slot_mapping, c);
  return c;
}

QkvRopeWriteKvDims CheckQkvRopeWriteKv(const Tensor& qkv, const Tensor& positions,
                                       const Tensor& cos_sin, const Tensor& slot_mapping,
                                       const Tensor* q_norm, const Tensor* k_norm,
                                       const Tensor& q_out, const Tensor& k_cache,
                                       const Tensor& v_cache) {
  const QkvRopeWriteKvDims d = CheckQkvRopeWriteKvShapes(qkv, positions, cos_sin, slot_mapping,
                                                         q_norm, k_norm, q_out, k_cache, v_cache);
  CheckPositions(positions, d.max_positions);
  CheckSlots(slot_mapping, d.cache);
  return d;
}

AttentionDims CheckPagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                  const AttentionMetadata& meta, const AttentionParams& params,
                                  const Tensor& out) {
  const AttentionDims d = CheckPagedAttentionShapes(q, k_cache, v_cache, meta, params, out);
  const int32_t* starts = meta.query_start_loc.data<int32_t>();
  const int32_t* lens = meta.context_lens.data<int32_t>();
  const int32_t* tables = meta.block_tables.data<int32_t>();
  BRISK_CHECK_EQ(starts[0], 0) << "query_start_loc[0]";
  BRISK_CHECK_EQ(starts[d.num_seqs], d.num_tokens) << "query_start_loc[num_seqs]";
  int max_query_len = 0;
  int max_context_len = 0;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int num_queries = starts[s + 1] - starts[s];
    BRISK_CHECK(num_queries >= 0 && lens[s] >= num_queries)
        << "sequence " << s << ": " << num_queries << " queries, context " << lens[s];
    const int64_t num_used_blocks = (lens[s] + d.cache.block_size - 1) / d.cache.block_size;
    BRISK_CHECK_LE(num_used_blocks, d.max_blocks_per_seq) << "sequence " << s << " block table";
    for (int64_t b = 0; b < num_used_blocks; ++b) {
      const int32_t block = tables[s * d.max_blocks_per_seq + b];
      BRISK_CHECK(block >= 0 && block < d.cache.num_blocks)
          << "sequence " << s << " block " << b << " id " << block;
    }
    max_query_len = std::max(max_query_len, num_queries);
    max_context_len = std::max(max_context_len, lens[s]);
  }
  BRISK_CHECK(meta.max_query_len >= max_query_len && meta.max_context_len >= max_context_len)
      << "metadata maxima " << meta.max_query_len << "/" << meta.max_context_len
      << " below the true " << max_query_len << "/" << max_context_len;
  return d;
}

EncoderAttentionDims CheckEncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                           const Tensor& seq_starts, int max_seq_len,
                                           const Tensor& out) {
  const EncoderAttentionDims d = CheckEncoderAttentionShapes(q, k, v, seq_starts, max_seq_len, out);
  const int32_t* starts = seq_starts.data<int32_t>();
  BRISK_CHECK_EQ(starts[0], 0) << "seq_starts[0]";
  BRISK_CHECK_EQ(starts[d.num_seqs], d.num_tokens) << "seq_starts[num_seqs]";
  int64_t longest = 0;
  for (int64_t s = 0; s < d.num_seqs; ++s) {
    const int64_t len = int64_t{starts[s + 1]} - starts[s];
    BRISK_CHECK_GE(len, 0) << "seq_starts decreases at sequence " << s << ": " << starts[s]
                           << " then " << starts[s + 1];
    longest = std::max(longest, len);
  }
  BRISK_CHECK_GE(max_seq_len, longest) << "max_seq_len below the longest sequence";
  return d;
}

}  // namespace brisk::backend
