#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/check.h"

namespace brisk::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Top-p first tries whether the nucleus fits in this many of the most likely tokens: typical
// nucleus sets are far smaller than the vocabulary.
constexpr size_t kTopPFirstSplit = 64;

// Orders token ids by processed logit, highest first; the lower id wins a tie, so every kept
// set is deterministic.
struct HigherLogit {
  std::span<const float> logits;
  bool operator()(int32_t a, int32_t b) const {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  }
};

uint64_t InitialSeed(const SamplingParams& params) {
  if (params.seed.has_value()) return *params.seed;
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

// Lowest index among the maxima; NaN entries never win.
// Two passes (maximum value, then its first position) keep the hot loop free of a dependency
// on the running index.
int32_t Argmax(std::span<const float> logits) {
  float max_logit = kNegInf;
  for (float x : logits) max_logit = x > max_logit ? x : max_logit;  // NaN compares false
  BRISK_CHECK(max_logit > kNegInf) << "every logit is -inf or NaN";
  const auto it = std::find(logits.begin(), logits.end(), max_logit);
  return static_cast<int32_t>(it - logits.begin());
}

}  // namespace

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(InitialSeed(params)) {
  absl::Status status = ValidateSamplingParams(params);
  BRISK_CHECK(status.ok()) << status.message();
}

int32_t Sampler::Sample(std::span<float> logits, std::span<const int32_t> prompt_ids,
                        std::span<const int32_t> output_ids) {
  BRISK_CHECK(!logits.empty());
  ApplyPenalties(logits, prompt_ids, output_ids);
  if (params_.temperature == 0.0f) return Argmax(logits);

  ScaleAndCollect(logits);
  ApplyTopK(logits);
  ApplyTopP(logits);
  ApplyMinP();
  MaskToCandidates(logits);
  return Draw();
}

void Sampler::ApplyPenalties(std::span<float> logits, std::span<const int32_t> prompt_ids,
                             std::span<const int32_t> output_ids) {
  if (params_.repetition_penalty != 1.0f) {
    ApplyRepetitionPenalty(logits, prompt_ids, output_ids, params_.repetition_penalty,
                           penalty_scratch_);
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    ApplyPresenceFrequencyPenalties(logits, output_ids, params_.presence_penalty,
                                    params_.frequency_penalty, penalty_scratch_);
  }
}

void Sampler::ScaleAndCollect(std::span<float> logits) {
  const float max_logit = logits[Argmax(logits)];
  const float inv_temperature = 1.0f / params_.temperature;
  weights_.resize(logits.size());
  candidates_.clear();
  for (size_t i = 0; i < logits.size(); ++i) {
    // (x - max) <= 0, so a tiny temperature can only push it towards -inf, never overflow.
    const float scaled = (logits[i] - max_logit) * inv_temperature;
    logits[i] = std::isnan(scaled) ? kNegInf : scaled;
    if (logits[i] > kNegInf) {
      candidates_.push_back(static_cast<int32_t>(i));
      weights_[i] = std::exp(logits[i]);
    }
  }
  candidate_order_ = CandidateOrder::kIndex;
}

void Sampler::ApplyTopK(std::span<const float> logits) {
  const size_t k = static_cast<size_t>(params_.top_k);
  if (k == 0 || k >= candidates_.size()) return;
  // Heap selection: for small k nearly every token is rejected by one comparison with the
  // heap's minimum, and the kept k come out sorted, which top-p then walks directly.
  std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(),
                    HigherLogit{logits});
  candidates_.resize(k);
  candidate_order_ = CandidateOrder::kDescending;
}

void Sampler::ApplyTopP(std::span<const float> logits) {
  if (params_.top_p >= 1.0f) return;
  double total = 0.0;
  for (int32_t id : candidates_) total += weights_[id];
  double needed = static_cast<double>(params_.top_p) * total;

  // Weighted quickselect. Invariant: candidates_[0, lo) are all kept, the set's boundary lies
  // in [lo, hi), everything in [hi, n) is dropped, and `needed` is the mass still missing.
  // Each round splits [lo, hi) with nth_element and keeps the half that holds the boundary,
  // so the cost is O(vocab) with no full sort. The first split is at kTopPFirstSplit because
  // real nucleus sets are usually that small.
  const HigherLogit higher{logits};
  size_t lo = 0;
  size_t hi = candidates_.size();
  size_t split_width = kTopPFirstSplit;
  while (candidate_order_ != CandidateOrder::kDescending && hi - lo > kTopPFirstSplit) {
    const size_t mid = lo + std::min(split_width, (hi - lo) / 2);
    std::nth_element(candidates_.begin() + lo, candidates_.begin() + mid,
                     candidates_.begin() + hi, higher);
    double mass = 0.0;
    for (size_t i = lo; i < mid; ++i) mass += weights_[candidates_[i]];
    if (mass >= needed) {
      hi = mid;
    } else {
      needed -= mass;
      lo = mid;
    }
    split_width = hi - lo;  // after the first split: halve the remaining range
  }
  if (candidate_order_ != CandidateOrder::kDescending) {
    std::sort(candidates_.begin() + lo, candidates_.begin() + hi, higher);
  }
  size_t num_kept = hi;  // rounding can leave the sum a hair short: then keep up to hi
  double mass = 0.0;
  for (size_t i = lo; i < hi; ++i) {
    mass += weights_[candidates_[i]];
    if (mass >= needed) {
      num_kept = i + 1;
      break;
    }
  }
  candidates_.resize(num_kept);
  if (candidate_order_ == CandidateOrder::kIndex) candidate_order_ = CandidateOrder::kUnordered;
}

void Sampler::ApplyMinP() {
  if (params_.min_p <= 0.0f) return;
  float max_weight = 0.0f;
  for (int32_t id : candidates_) max_weight = std::max(max_weight, weights_[id]);
  // prob_i < min_p * max_prob  <=>  weight_i < min_p * max_weight (same normaliser).
  const float threshold = params_.min_p * max_weight;
  std::erase_if(candidates_, [&](int32_t id) { return weights_[id] < threshold; });
}

void Sampler::MaskToCandidates(std::span<float> logits) {
  if (candidate_order_ != CandidateOrder::kIndex) {
    std::sort(candidates_.begin(), candidates_.end());
    candidate_order_ = CandidateOrder::kIndex;
  }
  // Walk the (sorted) survivors and blank the gaps between them.
  size_t next = 0;
  for (int32_t id : candidates_) {
    std::fill(logits.begin() + next, logits.begin() + id, kNegInf);
    next = static_cast<size_t>(id) + 1;
  }
  std::fill(logits.begin() + next, logits.end(), kNegInf);
}

double Sampler::NextUniform() {
  // The top 53 bits of one engine output, scaled to a double in [0, 1).
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

bool Sampler::PenaltiesActive() const {
  return params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
         params_.frequency_penalty != 0.0f;
}

int32_t Sampler::Draw() {
  BRISK_CHECK(!candidates_.empty());
  double total = 0.0;
  for (int32_t id : candidates_) total += weights_[id];
  const double target = NextUniform() * total;
  double cumulative = 0.0;
  int32_t last_positive = candidates_.front();
  for (int32_t id : candidates_) {
    if (weights_[id] <= 0.0f) continue;
    cumulative += weights_[id];
    last_positive = id;
    if (cumulative > target) return id;
  }
  return last_positive;  // only reachable through rounding at the very top of the CDF
}

}  // namespace brisk::sampling
