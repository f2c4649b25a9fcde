#include "engine/batch.h"

#include <algorithm>

#include "base/check.h"

namespace brisk::engine {
namespace {

using tensor::DType;
using tensor::Tensor;

Tensor I32Tensor(const std::vector<int32_t>& values, tensor::Shape shape) {
  Tensor t = Tensor::Empty(DType::kI32, std::move(shape));
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

}  // namespace

models::ForwardInputs BuildForwardInputs(std::span<const SequenceStep> steps, int block_size) {
  std::vector<int32_t> ids, positions, slots, query_start = {0}, context_lens, logits_rows;
  size_t max_blocks = 1;
  int max_query = 0, max_context = 0;
  for (const SequenceStep& s : steps) max_blocks = std::max(max_blocks, s.block_table.size());
  std::vector<int32_t> block_tables(steps.size() * max_blocks, 0);
  for (size_t i = 0; i < steps.size(); ++i) {
    const SequenceStep& s = steps[i];
    const int num_new = static_cast<int>(s.new_token_ids.size());
    const int context = s.num_computed_tokens + num_new;
    BRISK_CHECK_GT(num_new, 0) << "sequence " << i << " has no new tokens";
    BRISK_CHECK_LE(context, static_cast<int>(s.block_table.size()) * block_size)
        << "sequence " << i << " lacks KV blocks";
    for (int j = 0; j < num_new; ++j) {
      const int pos = s.num_computed_tokens + j;
      ids.push_back(s.new_token_ids[j]);
      positions.push_back(pos);
      slots.push_back(s.block_table[pos / block_size] * block_size + pos % block_size);
    }
    const int first_row = query_start.back();
    if (s.logits == LogitsWanted::kLast) logits_rows.push_back(first_row + num_new - 1);
    if (s.logits == LogitsWanted::kAll) {
      for (int j = 0; j < num_new; ++j) logits_rows.push_back(first_row + j);
    }
    query_start.push_back(first_row + num_new);
    context_lens.push_back(context);
    std::copy(s.block_table.begin(), s.block_table.end(), block_tables.begin() + i * max_blocks);
    max_query = std::max(max_query, num_new);
    max_context = std::max(max_context, context);
  }
  const int64_t num_tokens = static_cast<int64_t>(ids.size());
  const int64_t num_seqs = static_cast<int64_t>(steps.size());
  models::ForwardInputs in;
  in.token_ids = I32Tensor(ids, {num_tokens});
  in.positions = I32Tensor(positions, {num_tokens});
  in.slot_mapping = I32Tensor(slots, {num_tokens});
  in.logits_indices = I32Tensor(logits_rows, {static_cast<int64_t>(logits_rows.size())});
  in.attention.query_start_loc = I32Tensor(query_start, {num_seqs + 1});
  in.attention.context_lens = I32Tensor(context_lens, {num_seqs});
  in.attention.block_tables =
      I32Tensor(block_tables, {num_seqs, static_cast<int64_t>(max_blocks)});
  in.attention.max_query_len = max_query;
  in.attention.max_context_len = max_context;
  return in;
}

}  // namespace brisk::engine
