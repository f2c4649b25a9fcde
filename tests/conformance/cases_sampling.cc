// Conformance cases for SampleTokens: vocabularies from 1 to 128,256 tokens, 1 to 17 rows, each
// row with its own parameters (greedy with exact ties, temperatures 0.5 / 1 / 2, top-k 1 / 5 /
// 50 / beyond the vocabulary, top-p 0.1 / 0.9 / 1, min-p 0.05, combinations, masked tokens).
//
// The outputs are token ids, compared exactly. That is fair only where no backend can round its
// way to another token, so every case builder checks its sampled rows with the reference math
// in double (KeptTokens) and adjusts them until:
//   - the kept set does not change when top_p or min_p move by kFilterMargin relative, and
//   - u * (kept total) is at least kDrawMargin * total away from every step of the kept CDF
//     (u is redrawn until it is; such a u lies inside the step of a token of some weight).
// A draw then differs only if a backend is wrong, not because it rounds differently.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/cpu/reference/sample_tokens.h"
#include "backend/op_shapes.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

using backend::KeptToken;
using backend::SampleRowParams;

// Relative distances kept from the rounding-sensitive boundaries. A device computes each weight
// in f32 (within a few ulps; the f32 quotient (l - max) / T adds |l - max| / T ulps of the
// exponent, under 1e-6 relative for every token of noticeable weight), so its masses and
// partial sums agree with the double ones to about 1e-6 relative: 10x below the filter margin
// and 100x below the draw margin.
constexpr double kFilterMargin = 1e-5;
constexpr double kDrawMargin = 1e-4;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// {temperature, top_k, top_p, min_p}; u is chosen per row.
struct RowSetting {
  float temperature, top_k, top_p, min_p;
};
// Cycled over the rows of the mixed cases; 17 rows see every setting.
// Setting 7's top_k is beyond every vocabulary here; 14's equals one of them (1000).
constexpr RowSetting kSettings[] = {
    {1.0f, 0, 1.0f, 0.0f},  {0.5f, 0, 1.0f, 0.0f},    {2.0f, 0, 1.0f, 0.0f},
    {0.0f, 0, 1.0f, 0.0f},  {1.0f, 1, 1.0f, 0.0f},    {1.0f, 5, 1.0f, 0.0f},
    {1.0f, 50, 1.0f, 0.0f}, {1.0f, 1e6f, 1.0f, 0.0f}, {1.0f, 0, 0.1f, 0.0f},
    {1.0f, 0, 0.9f, 0.0f},  {1.0f, 0, 1.0f, 0.05f},   {0.7f, 50, 0.9f, 0.05f},
    {2.0f, 5, 0.5f, 0.1f},  {0.5f, 0, 0.9f, 0.05f},   {1.0f, 1000, 0.95f, 0.0f},
};
constexpr int kNumSettings = sizeof(kSettings) / sizeof(kSettings[0]);

// How a case fills its logits.
enum class Logits {
  kNormal,     // N(0, 3): a spread comparable to a language model's
  kLevels,     // integers in [0, 4): exact ties everywhere, at the max and at filter boundaries
  kMasked,     // N(0, 3) with about a third of the tokens at -inf
  kTiedPeaks,  // N(0, 3) with the maximum repeated at a second index
};

struct SamplingCase {
  std::string name;
  int64_t vocab, rows;
  Logits logits;
  int first_setting;  // row r uses kSettings[(first_setting + r) % kNumSettings]
  int num_settings;   // cycle over this many settings from first_setting (<= kNumSettings)
};

Tensor MakeLogits(const SamplingCase& c, std::mt19937* rng) {
  Tensor t = Tensor::Empty(DType::kF32, {c.rows, c.vocab});
  float* x = t.data<float>();
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> level(0, 3);
  std::uniform_real_distribution<float> coin(0.0f, 1.0f);
  for (int64_t r = 0; r < c.rows; ++r) {
    float* row = x + r * c.vocab;
    for (int64_t i = 0; i < c.vocab; ++i) {
      switch (c.logits) {
        case Logits::kNormal:
        case Logits::kTiedPeaks:
          row[i] = normal(*rng);
          break;
        case Logits::kLevels:
          row[i] = static_cast<float>(level(*rng));
          break;
        case Logits::kMasked:
          row[i] = coin(*rng) < 0.35f ? kNegInf : normal(*rng);
          break;
      }
    }
    // Every row keeps one finite logit (the op's precondition).
    if (c.logits == Logits::kMasked) row[c.vocab / 2] = 1.0f;
    if (c.logits == Logits::kTiedPeaks && c.vocab >= 2) {
      const int64_t argmax = std::max_element(row, row + c.vocab) - row;
      row[(argmax + c.vocab / 2) % c.vocab] = row[argmax];
    }
  }
  return t;
}

// The kept token ids, in index order.
std::vector<int32_t> KeptIds(std::span<const float> row, const SampleRowParams& p) {
  std::vector<int32_t> ids;
  for (const KeptToken& t : backend::KeptTokens(row, p)) ids.push_back(t.id);
  return ids;
}

// Whether the kept set is the same for top_p and min_p moved by kFilterMargin either way.
bool FiltersAreRobust(std::span<const float> row, const SampleRowParams& p) {
  if (p.top_p >= 1.0f && p.min_p <= 0.0f) return true;
  const std::vector<int32_t> kept = KeptIds(row, p);
  for (double scale : {1.0 - kFilterMargin, 1.0 + kFilterMargin}) {
    SampleRowParams q = p;
    if (p.top_p < 1.0f) q.top_p = static_cast<float>(std::min(1.0, p.top_p * scale));
    if (p.min_p > 0.0f) q.min_p = static_cast<float>(std::min(1.0, p.min_p * scale));
    if (KeptIds(row, q) != kept) return false;
  }
  return true;
}

// Whether u * total stays kDrawMargin * total away from every step of the kept CDF (index
// order).
bool DrawIsRobust(std::span<const KeptToken> kept, float u) {
  double total = 0.0;
  for (const KeptToken& t : kept) total += t.weight;
  const double target = static_cast<double>(u) * total;
  double cumulative = 0.0;
  for (const KeptToken& t : kept) {
    if (t.weight <= 0.0) continue;
    cumulative += t.weight;
    if (std::fabs(cumulative - target) < kDrawMargin * total) return false;
  }
  return true;
}

// Row parameters for `setting`, with top_p / min_p nudged and u drawn until both checks pass.
SampleRowParams RobustParams(std::span<const float> row, const RowSetting& setting,
                             std::mt19937* rng) {
  SampleRowParams p{.temperature = setting.temperature,
                    .top_k = setting.top_k,
                    .top_p = setting.top_p,
                    .min_p = setting.min_p};
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  p.u = uniform(*rng);
  if (p.temperature == 0.0f) return p;
  for (int attempt = 0; !FiltersAreRobust(row, p); ++attempt) {
    BRISK_CHECK_LT(attempt, 100) << "no robust top_p / min_p near the setting";
    if (p.top_p < 1.0f) p.top_p = std::min(1.0f, p.top_p * 1.003f);
    if (p.min_p > 0.0f) p.min_p *= 1.003f;
  }
  const std::vector<KeptToken> kept = backend::KeptTokens(row, p);
  for (int attempt = 0; !DrawIsRobust(kept, p.u); ++attempt) {
    BRISK_CHECK_LT(attempt, 10000) << "no robust u for " << kept.size() << " kept tokens";
    p.u = uniform(*rng);
  }
  return p;
}

Tensor MakeParams(const SamplingCase& c, const Tensor& logits, std::mt19937* rng) {
  Tensor t = Tensor::Empty(DType::kF32, {c.rows, backend::kSampleParamsWidth});
  for (int64_t r = 0; r < c.rows; ++r) {
    const RowSetting& setting = kSettings[(c.first_setting + r % c.num_settings) % kNumSettings];
    const std::span<const float> row(logits.data<float>() + r * c.vocab,
                                     static_cast<size_t>(c.vocab));
    const SampleRowParams p = RobustParams(row, setting, rng);
    float* out = t.data<float>() + r * backend::kSampleParamsWidth;
    out[0] = p.temperature;
    out[1] = p.top_k;
    out[2] = p.top_p;
    out[3] = p.min_p;
    out[4] = p.u;
  }
  return t;
}

std::vector<SamplingCase> AllSamplingCases() {
  std::vector<SamplingCase> cases;
  // Mixed rows: every setting, at every vocabulary and row count.
  struct Size {
    int64_t vocab, rows;
  };
  for (Size s : {Size{1, 1}, Size{1, 3}, Size{7, 3}, Size{7, 17}, Size{127, 17}, Size{1000, 1},
                 Size{1000, 17}, Size{128256, 3}, Size{128256, 17}}) {
    cases.push_back({absl::StrCat("v", s.vocab, "_r", s.rows, "_mixed"), s.vocab, s.rows,
                     Logits::kNormal, static_cast<int>(s.rows) % kNumSettings, kNumSettings});
  }
  // One setting on every row, single and many rows.
  const std::pair<const char*, int> single[] = {{"top_k50", 6},    {"top_p0p9", 9},
                                                {"min_p0p05", 10}, {"combined", 11},
                                                {"top_p0p1", 8},   {"t2", 2}};
  for (const auto& [tag, setting] : single) {
    cases.push_back({absl::StrCat("v128256_r1_", tag), 128256, 1, Logits::kNormal, setting, 1});
    cases.push_back({absl::StrCat("v1000_r17_", tag), 1000, 17, Logits::kNormal, setting, 1});
  }
  // Exact ties: greedy picks the lowest index; top-k / top-p keep every tied token.
  cases.push_back({"v7_r3_greedy_ties", 7, 3, Logits::kLevels, 3, 1});
  cases.push_back({"v128256_r3_greedy_ties", 128256, 3, Logits::kTiedPeaks, 3, 1});
  cases.push_back({"v1000_r17_level_ties", 1000, 17, Logits::kLevels, 0, kNumSettings});
  cases.push_back({"v127_r17_masked", 127, 17, Logits::kMasked, 0, kNumSettings});
  cases.push_back({"v128256_r3_masked_combined", 128256, 3, Logits::kMasked, 11, 3});
  return cases;
}

}  // namespace

std::vector<OpCase> SampleTokensCases() {
  std::vector<OpCase> cases;
  for (const SamplingCase& c : AllSamplingCases()) {
    cases.push_back(OpCase{
        .op = OpId::kSampleTokens,
        .name = c.name,
        .checks = {Check::kExact},
        .make_inputs =
            [=] {
              std::mt19937 rng = RngFor(c.name);
              Tensor logits = MakeLogits(c, &rng);
              Tensor params = MakeParams(c, logits, &rng);
              return std::vector<Tensor>{logits, params};
            },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              // -1 is never a token id: an unwritten row fails the comparison.
              Tensor ids = io.to_device(I32({c.rows}, std::vector<int32_t>(c.rows, -1)));
              b.SampleTokens(io.to_device(in[0]), io.to_device(in[1]), &ids);
              return std::vector<Tensor>{io.to_host(ids)};
            },
        .naive_f32 = nullptr,
    });
  }
  return cases;
}

}  // namespace brisk::conformance
