// The reference token sampler: every step of Backend::SampleTokens written out literally, with
// logits widened to double and a full sort where a filter needs the descending order.
#include "backend/cpu/reference/sample_tokens.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/op_shapes.h"
#include "base/check.h"

namespace brisk::backend {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// The largest finite logit, widened to double. REQUIRES: one exists (checked).
double MaxFiniteLogit(std::span<const float> logits) {
  double max_logit = kNegInf;
  for (float x : logits) {
    if (std::isfinite(x)) max_logit = std::max(max_logit, static_cast<double>(x));
  }
  BRISK_CHECK(max_logit > kNegInf) << "sample_tokens: a logits row without a finite value";
  return max_logit;
}

// The smallest logit value still kept by top-k and then top-p, or -inf when neither filters.
// by_logit: the candidates ordered by logit, highest first.
double TopKTopPThreshold(std::span<const float> logits, std::span<const int32_t> by_logit,
                         const SampleRowParams& p, double max_logit) {
  auto logit = [&](size_t i) { return static_cast<double>(logits[by_logit[i]]); };
  double threshold = kNegInf;
  const size_t k = static_cast<size_t>(p.top_k);
  if (k > 0 && k < by_logit.size()) threshold = logit(k - 1);  // ties with the k-th stay
  if (p.top_p >= 1.0f) return threshold;

  auto weight = [&](size_t i) { return std::exp((logit(i) - max_logit) / p.temperature); };
  double total = 0.0;
  for (size_t i = 0; i < by_logit.size() && logit(i) >= threshold; ++i) total += weight(i);
  const double needed = static_cast<double>(p.top_p) * total;
  // Walk down group by group (equal logits form one group) until the mass reaches `needed`.
  double mass = 0.0;
  for (size_t i = 0; i < by_logit.size() && logit(i) >= threshold; ++i) {
    mass += weight(i);
    const bool group_ends = i + 1 == by_logit.size() || logit(i + 1) != logit(i);
    if (group_ends && mass >= needed) return logit(i);
  }
  return threshold;  // rounding left the mass a hair short: keep everything top-k kept
}

}  // namespace

SampleRowParams SampleParamsRow(const Tensor& params, int64_t row) {
  const float* p = params.data<float>() + row * kSampleParamsWidth;
  return SampleRowParams{
      .temperature = p[0], .top_k = p[1], .top_p = p[2], .min_p = p[3], .u = p[4]};
}

void CheckSampleRowParams(const SampleRowParams& p) {
  BRISK_CHECK(std::isfinite(p.temperature) && p.temperature >= 0.0f)
      << "sample_tokens: temperature " << p.temperature << " must be finite and >= 0";
  BRISK_CHECK(std::isfinite(p.top_k) && p.top_k >= 0.0f && std::floor(p.top_k) == p.top_k)
      << "sample_tokens: top_k " << p.top_k << " must be an integer >= 0";
  BRISK_CHECK(p.top_p > 0.0f && p.top_p <= 1.0f)
      << "sample_tokens: top_p " << p.top_p << " must be in (0, 1]";
  BRISK_CHECK(p.min_p >= 0.0f && p.min_p <= 1.0f)
      << "sample_tokens: min_p " << p.min_p << " must be in [0, 1]";
  BRISK_CHECK(p.u >= 0.0f && p.u < 1.0f) << "sample_tokens: u " << p.u << " must be in [0, 1)";
}

std::vector<KeptToken> KeptTokens(std::span<const float> logits, const SampleRowParams& p) {
  BRISK_CHECK_GT(p.temperature, 0.0f) << "KeptTokens of a greedy row";
  const double max_logit = MaxFiniteLogit(logits);
  std::vector<int32_t> candidates;  // finite logits, index order
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i])) candidates.push_back(static_cast<int32_t>(i));
  }

  double threshold = kNegInf;
  if (p.top_k > 0.0f || p.top_p < 1.0f) {
    std::vector<int32_t> by_logit = candidates;
    std::sort(by_logit.begin(), by_logit.end(), [&](int32_t a, int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    threshold = TopKTopPThreshold(logits, by_logit, p, max_logit);
  }

  std::vector<KeptToken> kept;
  for (int32_t id : candidates) {
    if (logits[id] < threshold) continue;
    kept.push_back({id, std::exp((logits[id] - max_logit) / p.temperature)});
  }
  if (p.min_p > 0.0f) {
    double max_weight = 0.0;
    for (const KeptToken& t : kept) max_weight = std::max(max_weight, t.weight);
    const double min_weight = static_cast<double>(p.min_p) * max_weight;
    std::erase_if(kept, [&](const KeptToken& t) { return t.weight < min_weight; });
  }
  return kept;
}

int32_t DrawKept(std::span<const KeptToken> kept, double u) {
  double total = 0.0;
  for (const KeptToken& t : kept) total += t.weight;
  BRISK_CHECK(total > 0.0) << "sample_tokens: nothing of positive weight kept";
  const double target = u * total;
  double cumulative = 0.0;
  int32_t last_positive = -1;
  for (const KeptToken& t : kept) {
    if (t.weight <= 0.0) continue;
    cumulative += t.weight;
    last_positive = t.id;
    if (cumulative > target) return t.id;
  }
  return last_positive;  // only where rounding puts the target at the very top of the CDF
}

int32_t SampleTokenRow(std::span<const float> logits, const SampleRowParams& p) {
  if (p.temperature > 0.0f) return DrawKept(KeptTokens(logits, p), p.u);
  // Greedy: the first maximum; NaN never compares greater.
  int32_t best = -1;
  float best_logit = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > best_logit) {
      best_logit = logits[i];
      best = static_cast<int32_t>(i);
    }
  }
  BRISK_CHECK_GE(best, 0) << "sample_tokens: a logits row without a finite value";
  return best;
}

void ReferenceSampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) {
  const SampleTokensDims d = CheckSampleTokensShapes(logits, params, *ids);
  for (int64_t r = 0; r < d.rows; ++r) {
    const SampleRowParams p = SampleParamsRow(params, r);
    CheckSampleRowParams(p);
    const std::span<const float> row(logits.data<float>() + r * d.vocab,
                                     static_cast<size_t>(d.vocab));
    ids->data<int32_t>()[r] = SampleTokenRow(row, p);
  }
}

}  // namespace brisk::backend
