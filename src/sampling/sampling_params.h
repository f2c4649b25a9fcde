// Per-request sampling settings (the OpenAI / vLLM knobs) and their validation. The defaults
// are "plain sampling at temperature 1 with nothing filtered or penalised". A SamplingParams
// that passed ValidateSamplingParams is safe to hand to a Sampler; the Sampler does not
// re-validate on its hot path.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"

namespace brisk::sampling {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy (argmax); otherwise logits are divided by it
  int top_k = 0;             // keep the k most likely tokens; 0 = off
  float top_p = 1.0f;        // keep the smallest set with probability mass >= top_p; 1 = off
  float min_p = 0.0f;        // drop tokens with prob < min_p * (max prob); 0 = off
  // Hugging Face semantics, over every distinct id in prompt + generated tokens:
  // logit > 0 ? logit / p : logit * p. 1 = off.
  float repetition_penalty = 1.0f;
  // OpenAI semantics, over generated tokens only: logit -= presence if count > 0, and
  // logit -= frequency * count. 0 = off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;         // same seed (and same logits) => same tokens
  std::vector<int32_t> stop_token_ids;  // generation stops after producing one of these
  int max_tokens = 16;                  // maximum number of generated tokens
  bool ignore_eos = false;              // keep generating past the model's end-of-sequence id
};

// Checks every field against its allowed range:
//   temperature finite and >= 0; top_k >= 0; top_p in (0, 1]; min_p in [0, 1];
//   repetition_penalty finite and > 0; presence_penalty and frequency_penalty in [-2, 2];
//   max_tokens >= 1; stop_token_ids >= 0.
// Returns InvalidArgument naming the first offending field, its value and the allowed range.
[[nodiscard]] absl::Status ValidateSamplingParams(const SamplingParams& params);

}  // namespace brisk::sampling
