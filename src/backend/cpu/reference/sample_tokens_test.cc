// Hand-computed checks of the reference SampleTokens (ReferenceBackend::SampleTokens and the
// row helpers of sample_tokens.h). Logits are logs of small weights, so every kept distribution
// and CDF below is worked out on paper; each u sits well inside one CDF step.
#include "backend/cpu/reference/sample_tokens.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/reference/reference_backend.h"
#include "backend/op_shapes.h"

namespace brisk::backend {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Row {
  std::vector<float> logits;
  SampleRowParams params;
};

// Runs ReferenceBackend::SampleTokens over `rows` (all of one vocabulary) and returns the ids.
std::vector<int32_t> Sample(const std::vector<Row>& rows) {
  const int64_t num_rows = static_cast<int64_t>(rows.size());
  const int64_t vocab = static_cast<int64_t>(rows[0].logits.size());
  Tensor logits = Tensor::Empty(DType::kF32, {num_rows, vocab});
  Tensor params = Tensor::Empty(DType::kF32, {num_rows, kSampleParamsWidth});
  for (int64_t r = 0; r < num_rows; ++r) {
    for (int64_t i = 0; i < vocab; ++i) logits.data<float>()[r * vocab + i] = rows[r].logits[i];
    const SampleRowParams& p = rows[r].params;
    float* out = params.data<float>() + r * kSampleParamsWidth;
    out[0] = p.temperature;
    out[1] = p.top_k;
    out[2] = p.top_p;
    out[3] = p.min_p;
    out[4] = p.u;
  }
  Tensor ids = Tensor::Empty(DType::kI32, {num_rows});
  ReferenceBackend().SampleTokens(logits, params, &ids);
  return std::vector<int32_t>(ids.data<int32_t>(), ids.data<int32_t>() + num_rows);
}

// Logits with weights proportional to `weights`.
std::vector<float> LogWeights(const std::vector<double>& weights) {
  std::vector<float> logits;
  for (double w : weights) logits.push_back(static_cast<float>(std::log(w)));
  return logits;
}

SampleRowParams Sampled(float u) { return SampleRowParams{.temperature = 1.0f, .u = u}; }

TEST(ReferenceSampleTokensTest, GreedyTakesTheFirstMaximum) {
  const SampleRowParams greedy{.temperature = 0.0f, .u = 0.7f};
  EXPECT_EQ(Sample({{{0.5f, 2.0f, -1.0f, 2.0f}, greedy},
                    {{3.0f, 3.0f, 3.0f, 3.0f}, greedy},
                    {{kNegInf, -5.0f, kNegInf, -6.0f}, greedy}}),
            (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(Sample({{{4.0f}, greedy}}), std::vector<int32_t>{0});
}

TEST(ReferenceSampleTokensTest, DrawWalksTheCdfInIndexOrder) {
  // Weights 1:2:3:4, CDF 0.1, 0.3, 0.6, 1.0.
  const std::vector<float> logits = LogWeights({1, 2, 3, 4});
  EXPECT_EQ(Sample({{logits, Sampled(0.0f)},
                    {logits, Sampled(0.05f)},
                    {logits, Sampled(0.2f)},
                    {logits, Sampled(0.45f)},
                    {logits, Sampled(0.65f)},
                    {logits, Sampled(0.999f)}}),
            (std::vector<int32_t>{0, 0, 1, 2, 3, 3}));
}

TEST(ReferenceSampleTokensTest, TemperatureSharpensAndFlattens) {
  // Weights 1:3. T = 1: CDF 0.25; T = 0.5: weights 1:9, CDF 0.1; T = 2: weights 1:√3, CDF 0.366.
  const std::vector<float> logits = LogWeights({1, 3});
  SampleRowParams p = Sampled(0.2f);
  std::vector<Row> rows = {{logits, p}};
  p.temperature = 0.5f;
  rows.push_back({logits, p});
  p.temperature = 2.0f;
  p.u = 0.3f;
  rows.push_back({logits, p});
  p.temperature = 1.0f;
  rows.push_back({logits, p});
  EXPECT_EQ(Sample(rows), (std::vector<int32_t>{0, 1, 0, 1}));
}

TEST(ReferenceSampleTokensTest, TopKKeepsTheLargestAndEveryTieWithTheKth) {
  // Weights 1:2:3:4, top-2 keeps {2, 3} (3:4, CDF 3/7 = 0.4286).
  SampleRowParams p = Sampled(0.4f);
  p.top_k = 2;
  EXPECT_EQ(Sample({{LogWeights({1, 2, 3, 4}), p}}), std::vector<int32_t>{2});
  p.u = 0.45f;
  EXPECT_EQ(Sample({{LogWeights({1, 2, 3, 4}), p}}), std::vector<int32_t>{3});
  // Logits (1, 3, 3, 2) with top_k 1: both 3s tie with the first, so both stay (1:1).
  p.top_k = 1;
  p.u = 0.75f;
  EXPECT_EQ(Sample({{{1.0f, 3.0f, 3.0f, 2.0f}, p}}), std::vector<int32_t>{2});
  // top_k at or beyond the vocabulary filters nothing: u = 0.05 lands on token 0 (CDF 0.1).
  p.top_k = 4;
  p.u = 0.05f;
  EXPECT_EQ(Sample({{LogWeights({1, 2, 3, 4}), p}}), std::vector<int32_t>{0});
  p.top_k = 100;
  EXPECT_EQ(Sample({{LogWeights({1, 2, 3, 4}), p}}), std::vector<int32_t>{0});
}

TEST(ReferenceSampleTokensTest, TopPKeepsTheSmallestSetReachingTheMass) {
  // Probabilities 0.1, 0.2, 0.3, 0.4. top_p 0.5: 0.4 < 0.5, 0.4 + 0.3 >= 0.5, keeps {2, 3}
  // (3:4, CDF 0.4286).
  SampleRowParams p = Sampled(0.4f);
  p.top_p = 0.5f;
  const std::vector<float> logits = LogWeights({1, 2, 3, 4});
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{2});
  // top_p 0.3 keeps {3} alone.
  p.top_p = 0.3f;
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{3});
  // After top-k 3 the weights are 2/9, 3/9, 4/9: top_p 0.7 needs 4/9 + 3/9 = 0.78, keeping
  // {2, 3}, and u = 0.1 takes token 2; top_p 0.95 needs all three (CDF 2/9 = 0.22), and the
  // same u takes token 1.
  p.top_k = 3;
  p.top_p = 0.7f;
  p.u = 0.1f;
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{2});
  p.top_p = 0.95f;
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{1});
  // A tie at the boundary: logits (0, 1, 1), top_p 0.1 reaches its mass within the first 1,
  // and keeps its tie too (CDF 0.5 between ids 1 and 2).
  p = Sampled(0.75f);
  p.top_p = 0.1f;
  EXPECT_EQ(Sample({{{0.0f, 1.0f, 1.0f}, p}}), std::vector<int32_t>{2});
}

TEST(ReferenceSampleTokensTest, MinPDropsWeightsBelowAFractionOfTheMax) {
  // Weights relative to the max: 0.25, 0.5, 0.75, 1. min_p 0.45 keeps {1, 2, 3} (2:3:4, CDF
  // 0.222, 0.556): u = 0.05 takes token 1, where without min-p it would take token 0; min_p
  // 0.55 also drops token 1 (3:4, CDF 0.429) and u = 0.05 takes token 2.
  SampleRowParams p = Sampled(0.05f);
  p.min_p = 0.45f;
  const std::vector<float> logits = LogWeights({1, 2, 3, 4});
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{1});
  p.min_p = 0.55f;
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{2});
  p.min_p = 1.0f;  // only the max survives
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{3});
  // min-p sees the temperature: at T = 0.5 the relative weights are 1/16, 1/4, 9/16, 1, so
  // min_p 0.2 keeps {1, 2, 3} and u = 0.1 (CDF 4/29 = 0.138) takes token 1.
  p = Sampled(0.1f);
  p.temperature = 0.5f;
  p.min_p = 0.2f;
  EXPECT_EQ(Sample({{logits, p}}), std::vector<int32_t>{1});
}

TEST(ReferenceSampleTokensTest, MaskedTokensAreNeverDrawn) {
  const std::vector<float> logits = {kNegInf, 0.0f, kNegInf, 0.0f, kNegInf};
  EXPECT_EQ(Sample({{logits, Sampled(0.0f)},
                    {logits, Sampled(0.49f)},
                    {logits, Sampled(0.51f)},
                    {logits, Sampled(0.999f)}}),
            (std::vector<int32_t>{1, 1, 3, 3}));
}

TEST(ReferenceSampleTokensTest, KeptTokensListsTheFilteredDistribution) {
  SampleRowParams p = Sampled(0.5f);
  p.top_k = 3;
  p.min_p = 0.6f;
  // Relative weights 0.25, 0.5, 0.75, 1: top-k 3 drops id 0, min-p 0.6 drops id 1.
  const std::vector<KeptToken> kept = KeptTokens(LogWeights({1, 2, 3, 4}), p);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].id, 2);
  EXPECT_NEAR(kept[0].weight, 0.75, 1e-6);  // f32 logs of 3 and 4
  EXPECT_EQ(kept[1].id, 3);
  EXPECT_NEAR(kept[1].weight, 1.0, 1e-12);
  // DrawKept falls back to the last positive weight when u * total reaches the top (u = 1
  // stands in for a product that rounds up to the total).
  const std::vector<KeptToken> two = {{4, 0.5}, {9, 0.5}, {11, 0.0}};
  EXPECT_EQ(DrawKept(two, 0.0), 4);
  EXPECT_EQ(DrawKept(two, 0.5), 9);
  EXPECT_EQ(DrawKept(two, 1.0), 9);
}

TEST(ReferenceSampleTokensDeathTest, InvalidParamsAndRowsAreBugs) {
  const std::vector<float> logits = {0.0f, 1.0f};
  SampleRowParams p = Sampled(0.5f);
  p.temperature = -1.0f;
  EXPECT_DEATH(Sample({{logits, p}}), "temperature");
  p = Sampled(0.5f);
  p.temperature = std::numeric_limits<float>::infinity();
  EXPECT_DEATH(Sample({{logits, p}}), "temperature");
  p = Sampled(0.5f);
  p.top_k = 1.5f;
  EXPECT_DEATH(Sample({{logits, p}}), "top_k");
  p = Sampled(0.5f);
  p.top_p = 0.0f;
  EXPECT_DEATH(Sample({{logits, p}}), "top_p");
  p = Sampled(0.5f);
  p.min_p = 1.5f;
  EXPECT_DEATH(Sample({{logits, p}}), "min_p");
  EXPECT_DEATH(Sample({{logits, Sampled(1.0f)}}), "u 1");
  EXPECT_DEATH(Sample({{{kNegInf, kNegInf}, Sampled(0.5f)}}), "without a finite value");
  EXPECT_DEATH(Sample({{{kNegInf, kNegInf}, SampleRowParams{.temperature = 0.0f}}}),
               "without a finite value");
}

}  // namespace
}  // namespace brisk::backend
