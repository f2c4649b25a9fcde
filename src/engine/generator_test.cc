// Generator behaviour on a real (tiny) checkpoint: stop tokens, length limits, seeds, block
// accounting and refusals. Numerical agreement with transformers is tests/golden's job.
#include "engine/generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "models/registry.h"

namespace brisk::engine {
namespace {

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = backend::MakeCpuBackend({.num_threads = 1});
    auto model = models::LoadDecoderModel(
        std::string(BRISK_SOURCE_DIR) + "/tests/fixtures/golden/llama-gqa-bf16-llama3-rope",
        backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    auto gen = Generator::Create(model_.get(), {.block_size = 4, .kv_cache_bytes = 1 << 20,
                                                .max_tokens_per_step = 8});
    ASSERT_TRUE(gen.ok()) << gen.status();
    gen_ = *std::move(gen);
  }

  GenerationRequest Request(std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r;
    r.prompt_ids = std::move(prompt);
    r.params.max_tokens = max_tokens;
    r.params.temperature = 0;
    r.params.ignore_eos = true;
    return r;
  }

  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<models::DecoderModel> model_;
  std::unique_ptr<Generator> gen_;
};

TEST_F(GeneratorTest, StopsAtAStopTokenAndIncludesIt) {
  GenerationRequest r = Request({5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 12);
  auto free_run = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  ASSERT_TRUE(free_run.ok());
  const std::vector<int32_t>& ids = (*free_run)[0].output_ids;
  ASSERT_EQ(ids.size(), 12u);
  // Stop at the token the free run produced third.
  r.params.stop_token_ids = {ids[2]};
  auto stopped = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  ASSERT_TRUE(stopped.ok());
  const auto& out = (*stopped)[0];
  auto first = std::find(ids.begin(), ids.end(), ids[2]) - ids.begin();
  EXPECT_EQ(out.output_ids, std::vector<int32_t>(ids.begin(), ids.begin() + first + 1));
  EXPECT_EQ(out.finish_reason, FinishReason::kStop);
  EXPECT_EQ(gen_->num_free_kv_blocks(), gen_->num_kv_blocks());
}

TEST_F(GeneratorTest, LengthLimitAndAStopOnTheFirstToken) {
  GenerationRequest r = Request({5, 6, 7}, 30);
  auto free_run = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  ASSERT_TRUE(free_run.ok());
  EXPECT_EQ((*free_run)[0].output_ids.size(), 30u);
  EXPECT_EQ((*free_run)[0].finish_reason, FinishReason::kLength);
  r.params.stop_token_ids = {(*free_run)[0].output_ids[0]};
  auto stopped = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ((*stopped)[0].output_ids.size(), 1u);
  EXPECT_EQ((*stopped)[0].finish_reason, FinishReason::kStop);
}

TEST_F(GeneratorTest, SameSeedSameOutputDifferentSeedDifferentOutput) {
  GenerationRequest r = Request({5, 6, 7, 8}, 24);
  r.params.temperature = 1.5f;
  r.params.seed = 7;
  auto a = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  auto b = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  r.params.seed = 8;
  auto c = gen_->Generate(std::span(&r, 1), nullptr, nullptr);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ((*a)[0].output_ids, (*b)[0].output_ids);
  EXPECT_NE((*a)[0].output_ids, (*c)[0].output_ids);
}

TEST_F(GeneratorTest, ChunkedPrefillMatchesOneShotScoring) {
  // max_tokens_per_step is 8, so a 21-token prompt is prefilled in three chunks.
  std::vector<int32_t> prompt;
  for (int i = 0; i < 21; ++i) prompt.push_back(3 + (i * 37) % 200);
  auto logits = gen_->ScoreTokens(prompt);
  ASSERT_TRUE(logits.ok());
  auto big = Generator::Create(model_.get(), {.block_size = 16, .kv_cache_bytes = 1 << 20,
                                              .max_tokens_per_step = 64});
  ASSERT_TRUE(big.ok());
  auto one_shot = (*big)->ScoreTokens(prompt);
  ASSERT_TRUE(one_shot.ok());
  for (int64_t i = 0; i < logits->numel(); ++i) {
    ASSERT_NEAR(logits->data<float>()[i], one_shot->data<float>()[i], 1e-4) << "element " << i;
  }
}

TEST_F(GeneratorTest, RefusesBadRequestsWithTheNumbers) {
  GenerationRequest empty = Request({}, 4);
  EXPECT_THAT(gen_->Generate(std::span(&empty, 1), nullptr, nullptr).status().message(),
              ::testing::HasSubstr("prompt is empty"));
  GenerationRequest bad_id = Request({5, 251}, 4);
  EXPECT_THAT(gen_->Generate(std::span(&bad_id, 1), nullptr, nullptr).status().message(),
              ::testing::HasSubstr("token id 251 is outside the vocabulary [0, 251)"));
  GenerationRequest too_long = Request(std::vector<int32_t>(120, 5), 20);
  auto status = gen_->Generate(std::span(&too_long, 1), nullptr, nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("is 140 tokens, beyond the model's context of 128"));
  GenerationRequest bad_params = Request({5}, 4);
  bad_params.params.top_p = 0;
  EXPECT_EQ(gen_->Generate(std::span(&bad_params, 1), nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(gen_->num_free_kv_blocks(), gen_->num_kv_blocks());
}

TEST_F(GeneratorTest, ExhaustedKvPoolIsReportedAndLeaksNothing) {
  // 1 MiB / (2 layers * 2 kv heads * 16 dims * 2 * 4 bytes * 4 tokens) = 512 blocks.
  std::vector<GenerationRequest> many(20, Request(std::vector<int32_t>(100, 5), 28));
  auto status = gen_->Generate(many, nullptr, nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), ::testing::HasSubstr("raise the KV cache memory"));
  EXPECT_EQ(gen_->num_free_kv_blocks(), gen_->num_kv_blocks());
}

}  // namespace
}  // namespace brisk::engine
