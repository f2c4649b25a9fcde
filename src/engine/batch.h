// Turns per-sequence step descriptions into the flattened ForwardInputs a model consumes.
// Device-free arithmetic on host vectors; the tensors it returns live on the host.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/decoder_model.h"

namespace brisk::engine {

enum class LogitsWanted { kNone, kLast, kAll };

// One sequence's share of a forward step: `new_token_ids` follow the `num_computed_tokens`
// tokens already in its KV cache, at positions num_computed_tokens + j.
struct SequenceStep {
  std::span<const int32_t> new_token_ids;
  int num_computed_tokens = 0;
  std::span<const int32_t> block_table;  // must cover num_computed_tokens + new tokens
  LogitsWanted logits = LogitsWanted::kLast;
};

// Flattens `steps` in order. Logit rows come out in the same order: for each sequence its last
// row (kLast) or all its rows (kAll).
// REQUIRES: every step has at least one new token and enough blocks.
models::ForwardInputs BuildForwardInputs(std::span<const SequenceStep> steps, int block_size);

}  // namespace brisk::engine
