// Loading refusals: what a user sees when a checkpoint does not match its config or is not a
// supported architecture. Each case copies a golden fixture and breaks one thing.
#include "models/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/cpu/cpu_backend.h"
#include "nlohmann/json.hpp"

namespace brisk::models {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = backend::MakeCpuBackend({.num_threads = 1});
    dir_ = fs::temp_directory_path() /
           ("brisk_registry_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::copy(fs::path(BRISK_SOURCE_DIR) / "tests/fixtures/golden/llama-mha-f32-tied-legacy-rope", dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void EditConfig(const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(dir_ / "config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    edit(config);
    std::ofstream(dir_ / "config.json") << config.dump();
  }

  absl::Status Load() { return LoadDecoderModel(dir_.string(), backend_.get()).status(); }

  std::unique_ptr<backend::Backend> backend_;
  fs::path dir_;
};

TEST_F(RegistryTest, LoadsTheUnmodifiedFixture) { EXPECT_TRUE(Load().ok()) << Load(); }

TEST_F(RegistryTest, UnknownArchitectureIsRefusedByName) {
  EditConfig([](nlohmann::json& c) { c["architectures"] = {"GPT2LMHeadModel"}; });
  absl::Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("GPT2LMHeadModel"));
}

TEST_F(RegistryTest, WrongShapeNamesTheTensorAndBothShapes) {
  EditConfig([](nlohmann::json& c) { c["intermediate_size"] = 96; });
  absl::Status s = Load();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model.layers.0.mlp.gate_proj.weight"));
  EXPECT_THAT(s.message(), HasSubstr("96"));
  EXPECT_THAT(s.message(), HasSubstr("88"));
}

TEST_F(RegistryTest, UntiedConfigWithoutLmHeadNamesTheMissingTensor) {
  EditConfig([](nlohmann::json& c) { c["tie_word_embeddings"] = false; });
  absl::Status s = Load();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("lm_head.weight"));
}

TEST_F(RegistryTest, TruncatedWeightsFileIsRefusedWithItsPath) {
  fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") / 2);
  absl::Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("model.safetensors"));
}

TEST_F(RegistryTest, MissingConfigIsNotFound) {
  fs::remove(dir_ / "config.json");
  EXPECT_EQ(Load().code(), absl::StatusCode::kNotFound);
}

TEST(RegistryNamesTest, ListsTheFourDecoderFamilies) {
  EXPECT_THAT(RegisteredDecoderArchitectures(),
              ::testing::ElementsAre("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                                     "Qwen3ForCausalLM"));
}

}  // namespace
}  // namespace brisk::models
