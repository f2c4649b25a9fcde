// Golden tests: brisk's decoder against Hugging Face transformers on the fixtures of
// tests/fixtures/golden (see its README). For every fixture and both CPU backends:
// - logits at every position, one prompt at a time and all prompts batched in one step, must
//   be as close to the float64 reference as transformers' own float32 logits are (STYLE.md's
//   ratio rule for reductions: error <= 2 x the naive f32 error, plus a small floor);
// - 16-token greedy continuations must be identical, alone and batched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/generator.h"
#include "golden_backends.h"
#include "loader/safetensors.h"
#include "models/registry.h"

namespace brisk {
namespace {

using tensor::Tensor;

const char* const kFixtures[] = {
    "llama-mha-f32-tied-legacy-rope", "llama-gqa-bf16-llama3-rope",
    "llama-mqa-f32-linear-rope-bias", "qwen2-gqa-f32-tied",
    "qwen3-gqa-bf16-head-dim-yarn",   "mistral-gqa-f32-sliding-window",
};
constexpr int kNumPrompts = 3;

std::string FixtureDir(const std::string& name) {
  return std::string(BRISK_SOURCE_DIR) + "/tests/fixtures/golden/" + name;
}

std::vector<int32_t> ToIds(const Tensor& t) {
  return std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + t.numel());
}

// Max |a - ref| over all elements, a in f32 and ref in f64.
double MaxAbsError(const float* a, const double* ref, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(a[i] - ref[i]));
  return worst;
}

struct Reference {
  std::vector<std::vector<int32_t>> prompts, greedy;
  std::vector<Tensor> logits_f32, logits_f64;  // [len, vocab]
};

Reference LoadReference(const std::string& dir) {
  auto file = loader::SafetensorsFile::Open(dir + "/reference.safetensors");
  BRISK_CHECK(file.ok()) << file.status();
  Reference ref;
  for (int i = 0; i < kNumPrompts; ++i) {
    auto get = [&](const std::string& name) {
      auto t = file->Get(absl::StrCat(name, "_", i));
      BRISK_CHECK(t.ok()) << t.status();
      return *t;
    };
    ref.prompts.push_back(ToIds(get("prompt")));
    ref.greedy.push_back(ToIds(get("greedy")));
    ref.logits_f32.push_back(get("logits"));
    ref.logits_f64.push_back(get("logits_f64"));
  }
  return ref;
}

using golden::BackendKind;
using golden::BackendSuffix;
using golden::MakeBackend;

class GoldenTest : public ::testing::TestWithParam<std::tuple<const char*, BackendKind>> {
 protected:
  void SetUp() override {
    dir_ = FixtureDir(std::get<0>(GetParam()));
    backend_ = MakeBackend(std::get<1>(GetParam()));
    if (backend_ == nullptr) {
      GTEST_SKIP() << "no CUDA device here: the CUDA golden tests run on the GPU machine "
                      "(tools/gpu/build.sh; the CUDA engine issue)";
    }
    auto model = models::LoadDecoderModel(dir_, backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    auto gen = engine::Generator::Create(model_.get(), {.block_size = 4, .kv_cache_bytes = 8 << 20,
                                                        .max_tokens_per_step = 64});
    ASSERT_TRUE(gen.ok()) << gen.status();
    generator_ = *std::move(gen);
    ref_ = LoadReference(dir_);
  }

  // Checks brisk's logits for prompt i against the f64 reference by the ratio rule.
  void ExpectLogitsClose(int i, const float* logits, const std::string& how) {
    const int64_t n = ref_.logits_f64[i].numel();
    const double* f64 = ref_.logits_f64[i].data<double>();
    const double hf_error = MaxAbsError(ref_.logits_f32[i].data<float>(), f64, n);
    const double brisk_error = MaxAbsError(logits, f64, n);
    double scale = 0;
    for (int64_t k = 0; k < n; ++k) scale = std::max(scale, std::abs(f64[k]));
    // Floor: a few f32 ulps of the largest logit, for references whose own error is ~0.
    const double floor = 8 * scale * std::numeric_limits<float>::epsilon();
    EXPECT_LE(brisk_error, 2 * hf_error + floor)
        << how << " prompt " << i << ": max |brisk - f64| = " << brisk_error
        << ", max |transformers f32 - f64| = " << hf_error << ", max |logit| = " << scale;
  }

  std::string dir_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<models::DecoderModel> model_;
  std::unique_ptr<engine::Generator> generator_;
  Reference ref_;
};

TEST_P(GoldenTest, LogitsOnePromptAtATime) {
  for (int i = 0; i < kNumPrompts; ++i) {
    auto logits = generator_->ScoreTokens(ref_.prompts[i]);
    ASSERT_TRUE(logits.ok()) << logits.status();
    ASSERT_EQ(logits->numel(), ref_.logits_f64[i].numel());
    ExpectLogitsClose(i, logits->data<float>(), "alone");
  }
}

TEST_P(GoldenTest, LogitsWithPromptsBatched) {
  // All prompts in one forward step, each in its own blocks.
  const int block_size = 4;
  models::KvCache kv = model_->AllocateKvCache(64, block_size);
  std::vector<std::vector<int32_t>> tables(kNumPrompts);
  std::vector<engine::SequenceStep> steps;
  int next_block = 0;
  for (int i = 0; i < kNumPrompts; ++i) {
    const int blocks = (static_cast<int>(ref_.prompts[i].size()) + block_size - 1) / block_size;
    // Give the sequences interleaved, non-contiguous blocks, in reverse order.
    for (int b = 0; b < blocks; ++b) tables[i].push_back(63 - (next_block++) * 2 % 63);
    steps.push_back({.new_token_ids = ref_.prompts[i], .num_computed_tokens = 0,
                     .block_table = tables[i], .logits = engine::LogitsWanted::kAll});
  }
  Tensor logits = model_->Forward(engine::BuildForwardInputs(steps, block_size), kv);
  const int64_t vocab = model_->config().vocab_size;
  int64_t row = 0;
  for (int i = 0; i < kNumPrompts; ++i) {
    ExpectLogitsClose(i, logits.data<float>() + row * vocab, "batched");
    row += static_cast<int64_t>(ref_.prompts[i].size());
  }
}

std::vector<engine::GenerationRequest> GreedyRequests(const Reference& ref) {
  std::vector<engine::GenerationRequest> requests;
  for (int i = 0; i < kNumPrompts; ++i) {
    engine::GenerationRequest r;
    r.prompt_ids = ref.prompts[i];
    r.params.temperature = 0;
    r.params.max_tokens = static_cast<int>(ref.greedy[i].size());
    r.params.ignore_eos = true;  // the reference was generated without an end token
    requests.push_back(r);
  }
  return requests;
}

TEST_P(GoldenTest, GreedyContinuationsOneAtATime) {
  auto requests = GreedyRequests(ref_);
  for (int i = 0; i < kNumPrompts; ++i) {
    auto out = generator_->Generate(std::span(&requests[i], 1), nullptr, nullptr);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].output_ids, ref_.greedy[i]) << "prompt " << i;
  }
  EXPECT_EQ(generator_->num_free_kv_blocks(), generator_->num_kv_blocks());
}

TEST_P(GoldenTest, GreedyContinuationsBatched) {
  auto requests = GreedyRequests(ref_);
  std::vector<int> tokens_seen(kNumPrompts, 0);
  auto out = generator_->Generate(requests, [&](int idx, int32_t) { ++tokens_seen[idx]; }, nullptr);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int i = 0; i < kNumPrompts; ++i) {
    EXPECT_EQ((*out)[i].output_ids, ref_.greedy[i]) << "prompt " << i;
    EXPECT_EQ(tokens_seen[i], static_cast<int>(ref_.greedy[i].size()));
    EXPECT_EQ((*out)[i].finish_reason, engine::FinishReason::kLength);
  }
  EXPECT_EQ(generator_->num_free_kv_blocks(), generator_->num_kv_blocks());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kFixtures),
                                            golden::AllBackendKinds()),
                         golden::FixtureBackendName());

TEST(GoldenRegistryTest, EveryRegisteredArchitectureHasAFixture) {
  for (std::string_view arch : models::RegisteredDecoderArchitectures()) {
    bool found = false;
    for (const char* name : kFixtures) {
      auto config = loader::LoadDecoderConfig(FixtureDir(name));
      ASSERT_TRUE(config.ok()) << config.status();
      found |= config->architecture == arch;
    }
    EXPECT_TRUE(found) << arch << " has no golden fixture";
  }
}

}  // namespace
}  // namespace brisk
