#include "sampling/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace brisk::sampling {
namespace {

// Presence and frequency penalties follow the OpenAI API's documented range.
constexpr float kMaxAbsAdditivePenalty = 2.0f;

absl::Status OutOfRange(absl::string_view field, float value, absl::string_view allowed) {
  return absl::InvalidArgumentError(
      absl::StrCat("sampling parameter '", field, "' = ", value, " is out of range: ", allowed));
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params) {
  if (!std::isfinite(params.temperature) || params.temperature < 0.0f) {
    return OutOfRange("temperature", params.temperature, "must be finite and >= 0 (0 = greedy)");
  }
  if (params.top_k < 0) {
    return OutOfRange("top_k", static_cast<float>(params.top_k), "must be >= 0 (0 = off)");
  }
  // Written as negations so that NaN is rejected too.
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) {
    return OutOfRange("top_p", params.top_p, "must be in (0, 1] (1 = off)");
  }
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) {
    return OutOfRange("min_p", params.min_p, "must be in [0, 1] (0 = off)");
  }
  if (!std::isfinite(params.repetition_penalty) || params.repetition_penalty <= 0.0f) {
    return OutOfRange("repetition_penalty", params.repetition_penalty,
                      "must be finite and > 0 (1 = off)");
  }
  if (!(std::fabs(params.presence_penalty) <= kMaxAbsAdditivePenalty)) {
    return OutOfRange("presence_penalty", params.presence_penalty, "must be in [-2, 2]");
  }
  if (!(std::fabs(params.frequency_penalty) <= kMaxAbsAdditivePenalty)) {
    return OutOfRange("frequency_penalty", params.frequency_penalty, "must be in [-2, 2]");
  }
  if (params.max_tokens < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampling parameter 'max_tokens' = ", params.max_tokens, " is out of range: must be >= 1"));
  }
  for (int32_t id : params.stop_token_ids) {
    if (id < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sampling parameter 'stop_token_ids' contains ", id, ": token ids must be >= 0"));
    }
  }
  return absl::OkStatus();
}

}  // namespace brisk::sampling
