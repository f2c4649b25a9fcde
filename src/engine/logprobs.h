// Log-probabilities of a sampled token and its most likely alternatives, from one raw logits row
// (the OpenAI `logprobs` / `top_logprobs` fields). Pure arithmetic, no allocation beyond the result.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/engine_client.h"

namespace brisk::engine {

// log softmax(logits)[token_id] and the `num_top` largest entries of log softmax(logits), most
// likely first, ties by lower token id. The normaliser is accumulated in double.
// logits: [vocab_size]. REQUIRES: 0 <= token_id < vocab_size, 0 <= num_top <= vocab_size,
// at least one finite logit. `scratch` is reused between calls to avoid allocation.
TokenLogprobs ComputeLogprobs(std::span<const float> logits, int32_t token_id, int num_top,
                              std::vector<int32_t>& scratch);

}  // namespace brisk::engine
