// Tests of Checkpoint: single-file and sharded directories, the missing-checkpoint and broken
// index errors, and checked lookups by shape and dtype.
#include "loader/checkpoint.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/safetensors_test_writer.h"
#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using test_writer::BuildSafetensors;
using test_writer::BytesOf;
using test_writer::ScopedTempDir;
using test_writer::WriteFile;
using tensor::DType;

class CheckpointTest : public ::testing::Test {
 protected:
  std::string Dir() const { return dir_.path().string(); }

  // Two shards: shard 1 holds "embed" (f32 [2, 3]) and "norm" (bf16 [3]); shard 2 holds
  // "head" (f32 [3, 2]).
  void WriteShardedCheckpoint() {
    WriteFile(dir_.File("model-00001-of-00002.safetensors"),
              BuildSafetensors({{"embed", "F32", {2, 3}, BytesOf(embed_)},
                                {"norm", "BF16", {3}, BytesOf(std::vector<uint16_t>(3, 0x3f80))}}));
    WriteFile(dir_.File("model-00002-of-00002.safetensors"),
              BuildSafetensors({{"head", "F32", {3, 2}, BytesOf(head_)}}));
    WriteIndex({{"embed", "model-00001-of-00002.safetensors"},
                {"norm", "model-00001-of-00002.safetensors"},
                {"head", "model-00002-of-00002.safetensors"}});
  }

  void WriteIndex(const nlohmann::json& weight_map) {
    nlohmann::json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}};
    WriteFile(dir_.File("model.safetensors.index.json"), index.dump(2));
  }

  ScopedTempDir dir_;
  const std::vector<float> embed_ = {1, 2, 3, 4, 5, 6};
  const std::vector<float> head_ = {-1, -2, -3, -4, -5, -6};
};

TEST_F(CheckpointTest, OpensSingleFile) {
  WriteFile(dir_.File("model.safetensors"),
            BuildSafetensors({{"b", "F32", {2, 3}, BytesOf(embed_)},
                              {"a", "F32", {3, 2}, BytesOf(head_)}}));
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->dir(), Dir());
  EXPECT_THAT(ckpt->TensorNames(), ElementsAre("a", "b"));
  EXPECT_TRUE(ckpt->Has("a"));
  EXPECT_FALSE(ckpt->Has("c"));
  auto a = ckpt->Get("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->shape(), ElementsAre(3, 2));
  EXPECT_EQ(a->data<float>()[5], -6.0f);
}

TEST_F(CheckpointTest, OpensShardedIndex) {
  WriteShardedCheckpoint();
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_THAT(ckpt->TensorNames(), ElementsAre("embed", "head", "norm"));
  auto embed = ckpt->Get("embed");
  auto head = ckpt->Get("head");
  auto norm = ckpt->Get("norm");
  ASSERT_TRUE(embed.ok() && head.ok() && norm.ok());
  EXPECT_EQ(embed->data<float>()[4], 5.0f);
  EXPECT_EQ(head->data<float>()[0], -1.0f);
  EXPECT_EQ(norm->dtype(), DType::kBF16);
  EXPECT_EQ(tensor::BF16ToF32(norm->data<uint16_t>()[2]), 1.0f);  // 0x3f80 is bf16 1.0
}

TEST_F(CheckpointTest, SingleFileWinsOverIndex) {
  WriteShardedCheckpoint();
  WriteFile(dir_.File("model.safetensors"),
            BuildSafetensors({{"only", "F32", {1}, BytesOf(std::vector<float>{7.0f})}}));
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_THAT(ckpt->TensorNames(), ElementsAre("only"));
}

TEST_F(CheckpointTest, EmptyDirectoryIsNotFoundNamingBothFiles) {
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ckpt.status().message(),
              AllOf(HasSubstr(Dir()), HasSubstr("model.safetensors "),
                    HasSubstr("model.safetensors.index.json")));
}

TEST_F(CheckpointTest, TensorMissingFromItsShardIsAnErrorAtOpen) {
  WriteShardedCheckpoint();
  WriteIndex({{"embed", "model-00001-of-00002.safetensors"},
              {"lost", "model-00002-of-00002.safetensors"}});
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ckpt.status().message(),
              AllOf(HasSubstr("'lost'"), HasSubstr("model-00002-of-00002.safetensors")));
}

TEST_F(CheckpointTest, MissingShardFileIsNotFound) {
  WriteShardedCheckpoint();
  WriteIndex({{"embed", "model-00001-of-00002.safetensors"}, {"x", "absent.safetensors"}});
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ckpt.status().message(), HasSubstr("absent.safetensors"));
}

TEST_F(CheckpointTest, MalformedIndexIsRefused) {
  WriteFile(dir_.File("model.safetensors.index.json"), "{\"weight_map\": ");
  auto bad_json = Checkpoint::Open(Dir());
  ASSERT_FALSE(bad_json.ok());
  EXPECT_THAT(bad_json.status().message(),
              AllOf(HasSubstr("model.safetensors.index.json"), HasSubstr("not valid JSON")));

  WriteFile(dir_.File("model.safetensors.index.json"), R"({"metadata": {}})");
  auto no_map = Checkpoint::Open(Dir());
  ASSERT_FALSE(no_map.ok());
  EXPECT_THAT(no_map.status().message(), HasSubstr("weight_map"));

  WriteIndex({{"w", 3}});
  auto not_string = Checkpoint::Open(Dir());
  ASSERT_FALSE(not_string.ok());
  EXPECT_THAT(not_string.status().message(), HasSubstr("'w'"));

  WriteIndex({{"w", "../elsewhere.safetensors"}});
  auto escaping = Checkpoint::Open(Dir());
  ASSERT_FALSE(escaping.ok());
  EXPECT_THAT(escaping.status().message(), HasSubstr("../elsewhere.safetensors"));

  WriteIndex(nlohmann::json::object());
  auto empty = Checkpoint::Open(Dir());
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("empty"));
}

TEST_F(CheckpointTest, CorruptShardErrorNamesShardAndTensor) {
  WriteShardedCheckpoint();
  std::string bad =
      R"({"head": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 20]}})";
  WriteFile(dir_.File("model-00002-of-00002.safetensors"),
            test_writer::RawSafetensors(bad.size(), bad, std::string(24, '\0')));
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(ckpt.status().message(),
              AllOf(HasSubstr("model-00002-of-00002.safetensors"), HasSubstr("'head'")));
}

TEST_F(CheckpointTest, GetOfAbsentTensorIsNotFoundNamingDirAndTensor) {
  WriteShardedCheckpoint();
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto t = ckpt->Get("model.layers.0.mlp.up_proj.weight");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(t.status().message(),
              AllOf(HasSubstr(Dir()), HasSubstr("model.layers.0.mlp.up_proj.weight")));
  auto checked = ckpt->Get("absent", {1}, {DType::kF32});
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, CheckedGetAcceptsMatchingShapeAndDType) {
  WriteShardedCheckpoint();
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto embed = ckpt->Get("embed", {2, 3}, {DType::kF32});
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ(embed->data<float>()[0], 1.0f);
  auto norm = ckpt->Get("norm", {3}, {DType::kF32, DType::kBF16, DType::kF16});
  EXPECT_TRUE(norm.ok()) << norm.status();
}

TEST_F(CheckpointTest, CheckedGetRefusesWrongShape) {
  WriteShardedCheckpoint();
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto head = ckpt->Get("head", {2, 3}, {DType::kF32});
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(head.status().message(),
              AllOf(HasSubstr("'head'"), HasSubstr("model-00002-of-00002.safetensors"),
                    HasSubstr("shape [3, 2]"), HasSubstr("expected [2, 3]")));
}

TEST_F(CheckpointTest, CheckedGetRefusesWrongDType) {
  WriteShardedCheckpoint();
  auto ckpt = Checkpoint::Open(Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto norm = ckpt->Get("norm", {3}, {DType::kF32, DType::kF16});
  ASSERT_FALSE(norm.ok());
  EXPECT_EQ(norm.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(norm.status().message(),
              AllOf(HasSubstr("'norm'"), HasSubstr("model-00001-of-00002.safetensors"),
                    HasSubstr("dtype bf16"), HasSubstr("f32, f16")));
}

}  // namespace
}  // namespace brisk::loader
