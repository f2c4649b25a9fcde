#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/check.h"

namespace brisk::engine {

TokenLogprobs ComputeLogprobs(std::span<const float> logits, int32_t token_id, int num_top,
                              std::vector<int32_t>& scratch) {
  const int vocab = static_cast<int>(logits.size());
  BRISK_CHECK(token_id >= 0 && token_id < vocab) << "token " << token_id << " vocab " << vocab;
  BRISK_CHECK(num_top >= 0 && num_top <= vocab);
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float x : logits) max_logit = std::max(max_logit, x);
  BRISK_CHECK(std::isfinite(max_logit)) << "no finite logit";
  double sum = 0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max_logit);
  const double log_norm = max_logit + std::log(sum);
  auto logprob = [&](int32_t id) { return static_cast<float>(logits[id] - log_norm); };

  TokenLogprobs out{.token_id = token_id, .logprob = logprob(token_id), .top = {}};
  if (num_top == 0) return out;
  scratch.resize(vocab);
  std::iota(scratch.begin(), scratch.end(), 0);
  auto more_likely = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  std::partial_sort(scratch.begin(), scratch.begin() + num_top, scratch.end(), more_likely);
  out.top.reserve(num_top);
  for (int i = 0; i < num_top; ++i) out.top.push_back({scratch[i], logprob(scratch[i])});
  return out;
}

}  // namespace brisk::engine
