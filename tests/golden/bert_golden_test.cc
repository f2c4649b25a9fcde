// Golden tests of the BERT embedders against transformers / sentence-transformers on the
// fixtures tools/make_golden_fixtures.py writes (bert-* under tests/fixtures/golden). For every
// fixture and backend:
// - brisk's tokenizer gives the reference token ids for every probe text;
// - the embedder reports the pooling, normalization and length limit the folder describes;
// - every pooled vector, one text at a time and all texts in one batch, is as close to the
//   float64 reference as the reference library's own float32 vector is (STYLE.md's ratio rule
//   for reductions: error <= 2 x the naive f32 error, plus a floor of a few f32 ulps);
// - batching changes a vector by float rounding only; invalid input gets InvalidArgument.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "golden_backends.h"
#include "loader/encoder_config.h"
#include "loader/safetensors.h"
#include "models/registry.h"
#include "tokenizer/tokenizer.h"

namespace brisk {
namespace {

using tensor::Tensor;

const char* const kFixtures[] = {
    "bert-f32-cls",
    "bert-st-f32-mean-normalize-tanh-gelu",
    "bert-st-bf16-mlm-mean-normalize",
};

std::string FixtureDir(const std::string& name) {
  return std::string(BRISK_SOURCE_DIR) + "/tests/fixtures/golden/" + name;
}

constexpr char kRegenerate[] =
    "; make it on the GPU machine with `python3 tools/make_golden_fixtures.py --out "
    "tests/fixtures/golden --only bert` (see tests/fixtures/README.md)";

struct Reference {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<Tensor> embedding_f32, embedding_f64;  // [hidden]
  std::string pooling;  // "cls" or "mean"
  bool normalize = false;
  int max_tokens = 0;
};

// Fails the calling test (rather than aborting) when the file is missing or malformed.
testing::AssertionResult LoadReference(const std::string& dir, Reference* ref) {
  auto file = loader::SafetensorsFile::Open(dir + "/reference.safetensors");
  if (!file.ok()) return testing::AssertionFailure() << file.status() << kRegenerate;
  const auto& meta = file->metadata();
  for (const char* key : {"num_probes", "pooling", "normalize", "max_tokens"}) {
    if (!meta.contains(key)) return testing::AssertionFailure() << "metadata lacks " << key;
  }
  const int num_probes = std::stoi(meta.at("num_probes"));
  ref->pooling = meta.at("pooling");
  ref->normalize = meta.at("normalize") == "true";
  ref->max_tokens = std::stoi(meta.at("max_tokens"));
  for (int i = 0; i < num_probes; ++i) {
    const std::string suffix = "_" + std::to_string(i);
    auto ids = file->Get("ids" + suffix);
    auto f32 = file->Get("embedding" + suffix);
    auto f64 = file->Get("embedding_f64" + suffix);
    if (!ids.ok() || !f32.ok() || !f64.ok() || !meta.contains("text" + suffix)) {
      return testing::AssertionFailure() << "probe " << i << " incomplete in " << dir;
    }
    ref->texts.push_back(meta.at("text" + suffix));
    ref->ids.emplace_back(ids->data<int32_t>(), ids->data<int32_t>() + ids->numel());
    ref->embedding_f32.push_back(*f32);
    ref->embedding_f64.push_back(*f64);
  }
  return testing::AssertionSuccess();
}

using golden::BackendKind;
using golden::BackendSuffix;
using golden::MakeBackend;

double MaxAbsError(const float* a, const double* ref, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(a[i] - ref[i]));
  return worst;
}

class BertGoldenTest : public ::testing::TestWithParam<std::tuple<const char*, BackendKind>> {
 protected:
  void SetUp() override {
    dir_ = FixtureDir(std::get<0>(GetParam()));
    // A missing fixture is a failure, not a skip: the test must not pass vacuously.
    ASSERT_TRUE(std::filesystem::is_directory(dir_)) << "fixture folder " << dir_ << " is missing"
                                                     << kRegenerate;
    backend_ = MakeBackend(std::get<1>(GetParam()));
    if (backend_ == nullptr) {
      GTEST_SKIP() << "no CUDA device here: the CUDA golden tests run on the GPU machine "
                      "(tools/gpu/build.sh; the CUDA engine issue)";
    }
    ASSERT_TRUE(LoadReference(dir_, &ref_));
    auto model = models::LoadEmbedderModel(dir_, backend_.get());
    ASSERT_TRUE(model.ok()) << model.status();
    embedder_ = *std::move(model);
  }

  // Checks brisk's vector for probe i against the f64 reference by the ratio rule.
  void ExpectEmbeddingClose(int i, const float* brisk, const std::string& how) {
    const int64_t n = ref_.embedding_f64[i].numel();
    const double* f64 = ref_.embedding_f64[i].data<double>();
    const double library_error = MaxAbsError(ref_.embedding_f32[i].data<float>(), f64, n);
    const double brisk_error = MaxAbsError(brisk, f64, n);
    double scale = 0;
    for (int64_t k = 0; k < n; ++k) scale = std::max(scale, std::abs(f64[k]));
    // Floor: a few f32 ulps of the largest component, for references whose own error is ~0.
    const double floor = 8 * scale * std::numeric_limits<float>::epsilon();
    EXPECT_LE(brisk_error, 2 * library_error + floor)
        << how << " probe " << i << " (" << ref_.ids[i].size() << " tokens): max |brisk - f64| = "
        << brisk_error << ", max |reference f32 - f64| = " << library_error
        << ", max |component| = " << scale;
  }

  int64_t dims() const { return ref_.embedding_f64[0].numel(); }

  std::string dir_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<models::Embedder> embedder_;
  Reference ref_;
};

TEST_P(BertGoldenTest, TokenizerGivesTheReferenceIds) {
  auto tokenizer = tokenizer::Tokenizer::FromFile(dir_ + "/tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (size_t i = 0; i < ref_.texts.size(); ++i) {
    EXPECT_EQ((*tokenizer)->Encode(ref_.texts[i], tokenizer::AddSpecial::kYes), ref_.ids[i])
        << "probe " << i << ": \"" << ref_.texts[i] << "\"";
  }
}

TEST_P(BertGoldenTest, InfoMatchesTheFolderDescription) {
  const models::EmbedderInfo& info = embedder_->info();
  EXPECT_EQ(info.dimensions, dims());
  EXPECT_EQ(info.max_tokens, ref_.max_tokens);
  EXPECT_EQ(info.pooling, ref_.pooling == "mean" ? models::Pooling::kMean : models::Pooling::kCls);
  EXPECT_EQ(info.normalized, ref_.normalize);
  EXPECT_EQ(info.pad_token_id, 0);
}

TEST_P(BertGoldenTest, EmbeddingsOneTextAtATime) {
  for (size_t i = 0; i < ref_.ids.size(); ++i) {
    auto out = embedder_->Embed({ref_.ids[i]});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->shape(), (tensor::Shape{1, dims()}));
    ExpectEmbeddingClose(static_cast<int>(i), out->data<float>(), "alone");
  }
}

TEST_P(BertGoldenTest, EmbeddingsBatchedEqualAloneUpToRounding) {
  auto batched = embedder_->Embed(ref_.ids);
  ASSERT_TRUE(batched.ok()) << batched.status();
  ASSERT_EQ(batched->shape(), (tensor::Shape{static_cast<int64_t>(ref_.ids.size()), dims()}));
  for (size_t i = 0; i < ref_.ids.size(); ++i) {
    const float* row = batched->data<float>() + i * dims();
    ExpectEmbeddingClose(static_cast<int>(i), row, "batched");
    auto alone = embedder_->Embed({ref_.ids[i]});
    ASSERT_TRUE(alone.ok()) << alone.status();
    double diff = 0, scale = 0;
    for (int64_t d = 0; d < dims(); ++d) {
      diff = std::max(diff, double{std::abs(alone->data<float>()[d] - row[d])});
      scale = std::max(scale, double{std::abs(row[d])});
    }
    // Only the GEMM blocking may differ with the row count: a few ulps after two layers.
    EXPECT_LE(diff, 32 * scale * std::numeric_limits<float>::epsilon())
        << "probe " << i << ": max |alone - batched| = " << diff;
  }
}

TEST_P(BertGoldenTest, InvalidInputIsRefused) {
  const int vocab = static_cast<int>(
      loader::LoadEncoderConfig(dir_).value_or(loader::EncoderConfig{}).vocab_size);
  ASSERT_GT(vocab, 0);
  const std::vector<std::vector<std::vector<int32_t>>> bad = {
      {ref_.ids[0], {}},
      {std::vector<int32_t>(ref_.max_tokens + 1, 5)},
      {{2, vocab, 3}},
      {{2, -7, 3}},
  };
  for (const auto& batch : bad) {
    auto out = embedder_->Embed(batch);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << out.status();
  }
  auto at_limit = embedder_->Embed({std::vector<int32_t>(ref_.max_tokens, 5)});
  EXPECT_TRUE(at_limit.ok()) << at_limit.status();
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BertGoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kFixtures),
                                            golden::AllBackendKinds()),
                         golden::FixtureBackendName());

TEST(BertGoldenRegistryTest, EveryRegisteredEmbedderArchitectureHasAFixture) {
  for (std::string_view arch : models::RegisteredEmbedderArchitectures()) {
    bool found = false;
    for (const char* name : kFixtures) {
      auto layout = loader::LoadEmbedderLayout(FixtureDir(name));
      ASSERT_TRUE(layout.ok()) << layout.status();
      auto config = loader::LoadEncoderConfig(layout->transformer_dir);
      ASSERT_TRUE(config.ok()) << config.status() << kRegenerate;
      found |= config->architecture == arch;
    }
    EXPECT_TRUE(found) << arch << " has no golden fixture";
  }
}

}  // namespace
}  // namespace brisk
