// Sampler behaviour: greedy, the processing order, each filter's kept set (checked both on the
// processed logits row and by sampling under many seeds), determinism and empirical frequencies.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace brisk::sampling {
namespace {

// Logits whose softmax is exactly `probs` (up to float rounding).
std::vector<float> LogitsFromProbs(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<float> RandomLogits(size_t vocab_size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(vocab_size);
  for (float& x : logits) x = normal(rng);
  return logits;
}

int32_t SampleOnce(const SamplingParams& params, std::vector<float> logits) {
  Sampler sampler(params);
  return sampler.Sample(logits, {}, {});
}

// The set of tokens drawn over `num_seeds` samplers with seeds 0..num_seeds-1.
std::set<int32_t> TokensOverSeeds(SamplingParams params, const std::vector<float>& logits,
                                  int num_seeds) {
  std::set<int32_t> seen;
  for (int seed = 0; seed < num_seeds; ++seed) {
    params.seed = seed;
    seen.insert(SampleOnce(params, logits));
  }
  return seen;
}

// Token ids whose processed logit is still finite after one Sample call.
std::set<int32_t> KeptAfterSample(const SamplingParams& params, std::vector<float> logits) {
  Sampler sampler(params);
  sampler.Sample(logits, {}, {});
  std::set<int32_t> kept;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isfinite(logits[i])) kept.insert(static_cast<int32_t>(i));
  }
  return kept;
}

TEST(SamplerTest, GreedyPicksArgmax) {
  SamplingParams params{.temperature = 0.0f};
  EXPECT_EQ(SampleOnce(params, {0.1f, 2.5f, -1.0f, 2.4f}), 1);
  EXPECT_EQ(SampleOnce(params, {-5.0f, -3.0f, -4.0f}), 1);
}

TEST(SamplerTest, GreedyTiesGoToLowestIndex) {
  SamplingParams params{.temperature = 0.0f};
  EXPECT_EQ(SampleOnce(params, {1.0f, 3.0f, 3.0f, 2.0f}), 1);
  EXPECT_EQ(SampleOnce(params, {7.0f, 7.0f, 7.0f}), 0);
}

TEST(SamplerTest, GreedyLeavesPenalisedLogits) {
  Sampler sampler({.temperature = 0.0f, .repetition_penalty = 2.0f});
  std::vector<float> logits = {2.0f, 1.5f, -1.0f};
  std::vector<int32_t> prompt = {0, 2};
  // Token 0 drops to 2/2 = 1 below token 1; token 2 goes to -1*2.
  EXPECT_EQ(sampler.Sample(logits, prompt, {}), 1);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], 1.5f);
  EXPECT_FLOAT_EQ(logits[2], -2.0f);
}

TEST(SamplerTest, PresencePenaltyIgnoresPromptIds) {
  Sampler sampler({.temperature = 0.0f, .presence_penalty = 0.5f});
  std::vector<int32_t> token0 = {0};
  std::vector<float> logits = {1.0f, 0.9f};
  EXPECT_EQ(sampler.Sample(logits, token0, {}), 0);  // in the prompt only: no penalty
  logits = {1.0f, 0.9f};
  EXPECT_EQ(sampler.Sample(logits, {}, token0), 1);  // generated: 1 - 0.5 = 0.5 < 0.9
}

TEST(SamplerTest, FrequencyPenaltyScalesWithCount) {
  Sampler sampler({.temperature = 0.0f, .frequency_penalty = 0.2f});
  std::vector<int32_t> twice = {0, 0};
  std::vector<int32_t> thrice = {0, 0, 0};
  // 1.0 - 0.2 * 2 = 0.6 > 0.5, but 1.0 - 0.2 * 3 = 0.4 < 0.5.
  std::vector<float> logits = {1.0f, 0.5f};
  EXPECT_EQ(sampler.Sample(logits, {}, twice), 0);
  logits = {1.0f, 0.5f};
  EXPECT_EQ(sampler.Sample(logits, {}, thrice), 1);
}

TEST(SamplerTest, PenaltiesComeBeforeTopK) {
  // Repetition penalty turns {3, 2.9, 0} into {1.5, 2.9, 0}; top-k = 1 must then keep token 1.
  SamplingParams params{.top_k = 1, .repetition_penalty = 2.0f};
  std::vector<int32_t> prompt = {0};
  for (int seed = 0; seed < 20; ++seed) {
    params.seed = seed;
    Sampler sampler(params);
    std::vector<float> logits = {3.0f, 2.9f, 0.0f};
    EXPECT_EQ(sampler.Sample(logits, prompt, {}), 1);
  }
}

TEST(SamplerTest, TemperatureDividesShiftedLogits) {
  Sampler sampler({.temperature = 2.0f, .seed = 1});
  std::vector<float> logits = {1.0f, 2.0f, 4.0f};
  sampler.Sample(logits, {}, {});
  // (x - 4) / 2
  EXPECT_FLOAT_EQ(logits[0], -1.5f);
  EXPECT_FLOAT_EQ(logits[1], -1.0f);
  EXPECT_FLOAT_EQ(logits[2], 0.0f);
}

TEST(SamplerTest, TinyTemperatureBehavesLikeGreedy) {
  std::vector<float> logits = RandomLogits(1000, 5);
  const int32_t greedy = SampleOnce({.temperature = 0.0f}, logits);
  EXPECT_EQ(TokensOverSeeds({.temperature = 1e-30f}, logits, 20), std::set<int32_t>{greedy});
}

TEST(SamplerTest, TopKOneEqualsGreedy) {
  for (uint64_t trial = 0; trial < 10; ++trial) {
    std::vector<float> logits = RandomLogits(5000, trial);
    const int32_t greedy = SampleOnce({.temperature = 0.0f}, logits);
    SamplingParams params{.temperature = 1.5f, .top_k = 1, .seed = trial};
    EXPECT_EQ(SampleOnce(params, logits), greedy) << "trial " << trial;
  }
}

TEST(SamplerTest, TopKKeepsTheKLargest) {
  const std::vector<float> logits = RandomLogits(4096, 11);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const std::set<int32_t> expected(order.begin(), order.begin() + 10);
  EXPECT_EQ(KeptAfterSample({.top_k = 10, .seed = 3}, logits), expected);
  // Sampling under many seeds stays inside the top 10.
  for (int32_t token : TokensOverSeeds({.top_k = 10}, logits, 300)) {
    EXPECT_TRUE(expected.contains(token)) << token;
  }
}

TEST(SamplerTest, TopKTieAtTheBoundaryKeepsLowestIds) {
  const std::vector<float> logits = {1.0f, 5.0f, 3.0f, 3.0f, 3.0f};
  EXPECT_EQ(KeptAfterSample({.top_k = 3, .seed = 0}, logits), (std::set<int32_t>{1, 2, 3}));
}

TEST(SamplerTest, TopPKeepsSmallestSetReachingMass) {
  // Sorted: 0.4 (id 1), 0.3 (id 3), 0.15 (id 4), 0.1 (id 2), 0.05 (id 0).
  // Cumulative 0.4, 0.7, 0.85: top_p = 0.75 needs ids {1, 3, 4}.
  const std::vector<float> logits = LogitsFromProbs({0.05, 0.4, 0.1, 0.3, 0.15});
  const std::set<int32_t> expected = {1, 3, 4};
  EXPECT_EQ(KeptAfterSample({.top_p = 0.75f, .seed = 0}, logits), expected);
  // Over many seeds: nothing outside the set, and everything inside it shows up.
  EXPECT_EQ(TokensOverSeeds({.top_p = 0.75f}, logits, 1000), expected);
}

TEST(SamplerTest, TopPAlwaysKeepsAtLeastOneToken) {
  const std::vector<float> logits = LogitsFromProbs({0.05, 0.4, 0.1, 0.3, 0.15});
  EXPECT_EQ(TokensOverSeeds({.top_p = 0.01f}, logits, 200), std::set<int32_t>{1});
}

TEST(SamplerTest, TopPAfterTopKUsesRenormalisedMass) {
  // top_k = 2 keeps {0.4, 0.3} -> renormalised {4/7, 3/7}. top_p = 0.5 is reached by 4/7 alone,
  // whereas over the full distribution 0.4 < 0.5 would have needed two tokens.
  const std::vector<float> logits = LogitsFromProbs({0.05, 0.4, 0.1, 0.3, 0.15});
  EXPECT_EQ(KeptAfterSample({.top_k = 2, .top_p = 0.5f, .seed = 0}, logits),
            std::set<int32_t>{1});
}

TEST(SamplerTest, TopPOnLargeVocabularyNeedingManyTokens) {
  // 200 "high" tokens with logit 5, scattered, the rest 0, over a Llama-3-sized vocabulary.
  // The nucleus needs ~109 of the equal high tokens, more than one sorting chunk.
  constexpr size_t kVocab = 128256;
  constexpr int kNumHigh = 200;
  std::vector<float> logits(kVocab, 0.0f);
  std::vector<int32_t> high_ids;
  for (int i = 0; i < kNumHigh; ++i) {
    high_ids.push_back(static_cast<int32_t>(7 + 613 * i));
    logits[high_ids.back()] = 5.0f;
  }
  const float top_p = 0.1f;
  const double high_weight = std::exp(5.0);
  const double total = kNumHigh * high_weight + static_cast<double>(kVocab - kNumHigh);
  const int num_needed = static_cast<int>(std::ceil(top_p * total / high_weight));
  ASSERT_GT(num_needed, 64);
  ASSERT_LT(num_needed, kNumHigh);
  // Equal logits: ties go to the lowest ids.
  const std::set<int32_t> expected(high_ids.begin(), high_ids.begin() + num_needed);
  EXPECT_EQ(KeptAfterSample({.top_p = top_p, .seed = 0}, logits), expected);
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfMax) {
  // max prob 0.5, min_p 0.25 -> threshold 0.125: id 3 (0.1) is dropped.
  const std::vector<float> logits = LogitsFromProbs({0.5, 0.25, 0.15, 0.1});
  const std::set<int32_t> expected = {0, 1, 2};
  EXPECT_EQ(KeptAfterSample({.min_p = 0.25f, .seed = 0}, logits), expected);
  EXPECT_EQ(TokensOverSeeds({.min_p = 0.25f}, logits, 1000), expected);
}

TEST(SamplerTest, MinPSeesTemperatureScaledProbabilities) {
  // At temperature 2, probabilities are proportional to sqrt(p): ratios to the max are
  // 1, 0.707, 0.548, 0.447. min_p = 0.5 keeps ids {0, 1, 2}; at temperature 1 the ratios
  // 1, 0.5, 0.3, 0.2 would keep only {0, 1}.
  const std::vector<float> logits = LogitsFromProbs({0.5, 0.25, 0.15, 0.1});
  EXPECT_EQ(KeptAfterSample({.temperature = 2.0f, .min_p = 0.5f, .seed = 0}, logits),
            (std::set<int32_t>{0, 1, 2}));
  EXPECT_EQ(KeptAfterSample({.temperature = 1.0f, .min_p = 0.45f, .seed = 0}, logits),
            (std::set<int32_t>{0, 1}));
}

TEST(SamplerTest, MaskedTokensAreNeverSampled) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {kNegInf, 0.0f, kNegInf, 0.0f};
  EXPECT_EQ(TokensOverSeeds({}, logits, 200), (std::set<int32_t>{1, 3}));
}

std::vector<int32_t> Generate(uint64_t seed, int num_steps) {
  Sampler sampler({.top_k = 50, .top_p = 0.95f, .seed = seed});
  std::vector<int32_t> tokens;
  for (int step = 0; step < num_steps; ++step) {
    std::vector<float> logits = RandomLogits(2000, 100 + step);
    tokens.push_back(sampler.Sample(logits, {}, tokens));
  }
  return tokens;
}

TEST(SamplerTest, SameSeedSameSequenceDifferentSeedDifferentSequence) {
  EXPECT_EQ(Generate(7, 64), Generate(7, 64));
  EXPECT_NE(Generate(7, 64), Generate(8, 64));
}

TEST(SamplerTest, DrawsFollowDocumentedMappingFromSeed) {
  // The documented contract: one mt19937_64 output per step, top 53 bits scaled to [0, 1),
  // then the first token (in id order) whose cumulative probability exceeds it.
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const std::vector<float> logits = LogitsFromProbs(probs);
  Sampler sampler({.seed = 42});
  std::mt19937_64 engine(42);
  for (int step = 0; step < 200; ++step) {
    const double u = static_cast<double>(engine() >> 11) / 9007199254740992.0;  // 2^53
    int32_t expected = 0;
    for (double cdf = probs[0]; cdf <= u && expected < 3; cdf += probs[++expected]) {
    }
    std::vector<float> row = logits;
    ASSERT_EQ(sampler.Sample(row, {}, {}), expected) << "step " << step << " u=" << u;
  }
}

TEST(SamplerTest, NextUniformFollowsTheEngineAndConsumesOneOutput) {
  Sampler sampler({.seed = 77});
  std::mt19937_64 engine(77);
  for (int i = 0; i < 100; ++i) {
    const double expected = static_cast<double>(engine() >> 11) / 9007199254740992.0;  // 2^53
    const double u = sampler.NextUniform();
    ASSERT_EQ(u, expected) << "draw " << i;
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

TEST(SamplerTest, NextUniformIsTheDrawOfTheNextSampledStep) {
  // Interleaving NextUniform and Sample on one sampler: each sampled step uses the output right
  // after the ones NextUniform took, and greedy steps take none.
  const std::vector<double> probs = {0.25, 0.25, 0.25, 0.25};
  const std::vector<float> logits = LogitsFromProbs(probs);
  Sampler sampler({.seed = 5});
  Sampler greedy({.temperature = 0.0f, .seed = 5});
  std::mt19937_64 engine(5);
  for (int step = 0; step < 50; ++step) {
    engine();  // taken by NextUniform below
    const double u = static_cast<double>(engine() >> 11) / 9007199254740992.0;
    sampler.NextUniform();
    std::vector<float> row = logits;
    // Four equal logits all weigh exactly 1 after the shift, so the cumulative sums are exact
    // and the drawn token is floor(4u).
    ASSERT_EQ(sampler.Sample(row, {}, {}), static_cast<int32_t>(u * 4.0)) << "step " << step;
    std::vector<float> greedy_row = logits;
    greedy.Sample(greedy_row, {}, {});
  }
  std::mt19937_64 fresh(5);
  EXPECT_EQ(greedy.NextUniform(), static_cast<double>(fresh() >> 11) / 9007199254740992.0);
}

TEST(SamplerTest, PenaltiesActiveWhenAnyPenaltyIsNotNeutral) {
  EXPECT_FALSE(Sampler({}).PenaltiesActive());
  EXPECT_FALSE(Sampler({.temperature = 0.0f, .top_k = 3, .top_p = 0.5f, .min_p = 0.1f})
                   .PenaltiesActive());
  EXPECT_TRUE(Sampler({.repetition_penalty = 1.1f}).PenaltiesActive());
  EXPECT_TRUE(Sampler({.repetition_penalty = 0.9f}).PenaltiesActive());
  EXPECT_TRUE(Sampler({.presence_penalty = 0.5f}).PenaltiesActive());
  EXPECT_TRUE(Sampler({.frequency_penalty = -0.5f}).PenaltiesActive());
}

TEST(SamplerTest, EmpiricalFrequenciesMatchWithinThreeSigma) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  const std::vector<float> logits = LogitsFromProbs(probs);
  constexpr int kDraws = 20000;
  Sampler sampler({.seed = 2024});
  std::vector<int> counts(probs.size(), 0);
  for (int i = 0; i < kDraws; ++i) {
    std::vector<float> row = logits;
    ++counts[sampler.Sample(row, {}, {})];
  }
  for (size_t t = 0; t < probs.size(); ++t) {
    const double mean = kDraws * probs[t];
    const double sigma = std::sqrt(kDraws * probs[t] * (1.0 - probs[t]));
    EXPECT_NEAR(counts[t], mean, 3.0 * sigma) << "token " << t;
  }
}

TEST(SamplerTest, HigherTemperatureFlattensFrequencies) {
  const std::vector<float> logits = LogitsFromProbs({0.9, 0.1});
  auto count_token1 = [&](float temperature) {
    Sampler sampler({.temperature = temperature, .seed = 9});
    int count = 0;
    for (int i = 0; i < 4000; ++i) {
      std::vector<float> row = logits;
      count += sampler.Sample(row, {}, {}) == 1;
    }
    return count;
  };
  // At T = 4 token 1 has probability 0.1^0.25 / (0.9^0.25 + 0.1^0.25) ~ 0.366 vs 0.1 at T = 1.
  EXPECT_GT(count_token1(4.0f), 1200);
  EXPECT_LT(count_token1(1.0f), 500);
}

TEST(SamplerDeathTest, InvalidParamsAreABug) {
  EXPECT_DEATH(Sampler({.top_p = 0.0f}), "top_p");
}

TEST(SamplerDeathTest, AllMaskedIsABug) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  Sampler sampler({.seed = 1});
  std::vector<float> logits = {kNegInf, kNegInf};
  EXPECT_DEATH(sampler.Sample(logits, {}, {}), "-inf");
}

}  // namespace
}  // namespace brisk::sampling
