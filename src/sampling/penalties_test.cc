// Penalty processors against hand-computed values.
#include "sampling/penalties.h"

#include <vector>

#include "gtest/gtest.h"

namespace brisk::sampling {
namespace {

TEST(RepetitionPenaltyTest, DividesPositiveMultipliesNegativeOncePerDistinctId) {
  std::vector<float> logits = {2.0f, -1.0f, 0.0f, 3.0f, 4.0f};
  std::vector<int32_t> prompt = {0, 1, 0, 0};
  std::vector<int32_t> output = {2, 1, 3};
  PenaltyScratch scratch;
  ApplyRepetitionPenalty(logits, prompt, output, 2.0f, scratch);
  // 2/2 = 1 (three occurrences, penalised once); -1*2 = -2 (in prompt and output);
  // 0 stays 0; 3/2 = 1.5; token 4 unseen.
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], -2.0f);
  EXPECT_FLOAT_EQ(logits[2], 0.0f);
  EXPECT_FLOAT_EQ(logits[3], 1.5f);
  EXPECT_FLOAT_EQ(logits[4], 4.0f);
}

TEST(RepetitionPenaltyTest, PenaltyBelowOneEncouragesRepetition) {
  std::vector<float> logits = {1.0f, -4.0f};
  std::vector<int32_t> ids = {0, 1};
  PenaltyScratch scratch;
  ApplyRepetitionPenalty(logits, ids, {}, 0.5f, scratch);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
  EXPECT_FLOAT_EQ(logits[1], -2.0f);
}

TEST(PresenceFrequencyPenaltyTest, SubtractsPresenceOnceAndFrequencyPerCount) {
  std::vector<float> logits = {1.0f, 1.0f, 1.0f, 1.0f};
  std::vector<int32_t> output = {1, 2, 1, 1};
  PenaltyScratch scratch;
  ApplyPresenceFrequencyPenalties(logits, output, 0.5f, 0.25f, scratch);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], 1.0f - 0.5f - 0.25f * 3);  // 3 occurrences
  EXPECT_FLOAT_EQ(logits[2], 1.0f - 0.5f - 0.25f * 1);
  EXPECT_FLOAT_EQ(logits[3], 1.0f);
}

TEST(PresenceFrequencyPenaltyTest, NegativePenaltiesRaiseLogits) {
  std::vector<float> logits = {0.0f, 0.0f};
  std::vector<int32_t> output = {0, 0};
  PenaltyScratch scratch;
  ApplyPresenceFrequencyPenalties(logits, output, -1.0f, -0.5f, scratch);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);  // +1 presence, +0.5 * 2 frequency
  EXPECT_FLOAT_EQ(logits[1], 0.0f);
}

TEST(PenaltyScratchTest, ScratchIsFreshOnEveryCallAndVocabChange) {
  PenaltyScratch scratch;
  std::vector<float> logits = {4.0f, 4.0f, 4.0f};
  std::vector<int32_t> output = {0};
  ApplyRepetitionPenalty(logits, {}, output, 2.0f, scratch);
  // A second call must penalise token 0 again (not remember it from the first call) and must
  // not penalise token 1 that was never seen.
  ApplyRepetitionPenalty(logits, {}, output, 2.0f, scratch);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], 4.0f);

  std::vector<float> bigger(10, 3.0f);
  std::vector<int32_t> ids = {9, 9};
  ApplyPresenceFrequencyPenalties(bigger, ids, 0.0f, 1.0f, scratch);
  EXPECT_FLOAT_EQ(bigger[9], 1.0f);
  ApplyPresenceFrequencyPenalties(bigger, ids, 0.0f, 1.0f, scratch);
  EXPECT_FLOAT_EQ(bigger[9], -1.0f);  // counts restart at zero each call
}

TEST(PenaltyDeathTest, OutOfRangeIdIsABug) {
  std::vector<float> logits = {0.0f, 0.0f};
  std::vector<int32_t> ids = {2};
  PenaltyScratch scratch;
  EXPECT_DEATH(ApplyRepetitionPenalty(logits, ids, {}, 2.0f, scratch), "outside vocabulary");
}

}  // namespace
}  // namespace brisk::sampling
