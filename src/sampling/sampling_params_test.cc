// ValidateSamplingParams: defaults and edge values pass; each bad field is named in the error.
#include "sampling/sampling_params.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace brisk::sampling {
namespace {

void ExpectRejected(const SamplingParams& params, const std::string& field) {
  absl::Status status = ValidateSamplingParams(params);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
}

TEST(ValidateSamplingParamsTest, DefaultsAndEdgesAreValid) {
  EXPECT_TRUE(ValidateSamplingParams({}).ok());
  EXPECT_TRUE(ValidateSamplingParams({.temperature = 0.0f,
                                      .top_k = 1,
                                      .top_p = 1e-6f,
                                      .min_p = 1.0f,
                                      .repetition_penalty = 1e-3f,
                                      .presence_penalty = -2.0f,
                                      .frequency_penalty = 2.0f,
                                      .seed = 0,
                                      .stop_token_ids = {0, 5},
                                      .max_tokens = 1})
                  .ok());
}

TEST(ValidateSamplingParamsTest, RejectsEachFieldOutOfRange) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  ExpectRejected({.temperature = -0.1f}, "temperature");
  ExpectRejected({.temperature = nan}, "temperature");
  ExpectRejected({.temperature = inf}, "temperature");
  ExpectRejected({.top_k = -1}, "top_k");
  ExpectRejected({.top_p = 0.0f}, "top_p");
  ExpectRejected({.top_p = 1.01f}, "top_p");
  ExpectRejected({.top_p = nan}, "top_p");
  ExpectRejected({.min_p = -0.01f}, "min_p");
  ExpectRejected({.min_p = 1.5f}, "min_p");
  ExpectRejected({.repetition_penalty = 0.0f}, "repetition_penalty");
  ExpectRejected({.repetition_penalty = -1.0f}, "repetition_penalty");
  ExpectRejected({.presence_penalty = 2.5f}, "presence_penalty");
  ExpectRejected({.presence_penalty = nan}, "presence_penalty");
  ExpectRejected({.frequency_penalty = -2.01f}, "frequency_penalty");
  ExpectRejected({.stop_token_ids = {3, -1}}, "stop_token_ids");
  ExpectRejected({.max_tokens = 0}, "max_tokens");
}

TEST(ValidateSamplingParamsTest, MessageStatesAllowedRange) {
  absl::Status status = ValidateSamplingParams({.top_p = 2.0f});
  EXPECT_NE(status.message().find("(0, 1]"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace brisk::sampling
