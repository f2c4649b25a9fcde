// Tests of ParseEncoderConfig / LoadEncoderConfig (BERT config.json) and of the
// sentence-transformers folder description (modules.json, pooling config, max_seq_length).
#include "loader/encoder_config.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loader/safetensors_test_writer.h"
#include "nlohmann/json.hpp"

namespace brisk::loader {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Json = nlohmann::json;
using test_writer::ScopedTempDir;
using test_writer::WriteFile;

// The bert-base-uncased config, as transformers writes it.
Json BertBaseConfig() {
  return {{"architectures", {"BertForMaskedLM"}},
          {"attention_probs_dropout_prob", 0.1},
          {"hidden_act", "gelu"},
          {"hidden_dropout_prob", 0.1},
          {"hidden_size", 768},
          {"initializer_range", 0.02},
          {"intermediate_size", 3072},
          {"layer_norm_eps", 1e-12},
          {"max_position_embeddings", 512},
          {"model_type", "bert"},
          {"num_attention_heads", 12},
          {"num_hidden_layers", 12},
          {"pad_token_id", 0},
          {"position_embedding_type", "absolute"},
          {"torch_dtype", "float32"},
          {"type_vocab_size", 2},
          {"vocab_size", 30522}};
}

// Only the required fields.
Json MinimalConfig() {
  return {{"vocab_size", 100}, {"hidden_size", 64}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"intermediate_size", 128}};
}

EncoderConfig ParseOk(const Json& config) {
  auto parsed = ParseEncoderConfig(config.dump(), "test/config.json");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : EncoderConfig{};
}

// Expects InvalidArgument naming the source; returns the message.
std::string ParseError(const Json& config) {
  auto parsed = ParseEncoderConfig(config.dump(), "test/config.json");
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
  EXPECT_THAT(parsed.status().message(), HasSubstr("test/config.json"));
  return std::string(parsed.status().message());
}

TEST(EncoderConfigTest, ParsesBertBase) {
  EncoderConfig c = ParseOk(BertBaseConfig());
  EXPECT_EQ(c.architecture, "BertForMaskedLM");
  EXPECT_EQ(c.model_type, "bert");
  EXPECT_EQ(c.vocab_size, 30522);
  EXPECT_EQ(c.hidden_size, 768);
  EXPECT_EQ(c.num_hidden_layers, 12);
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.hidden_act, GeluApproximation::kNone);
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.torch_dtype, tensor::DType::kF32);
}

TEST(EncoderConfigTest, AbsentOptionalFieldsTakeBertConfigDefaults) {
  EncoderConfig c = ParseOk(MinimalConfig());
  EXPECT_EQ(c.architecture, "BertModel");
  EXPECT_EQ(c.max_position_embeddings, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(c.layer_norm_eps, 1e-12);
  EXPECT_EQ(c.hidden_act, GeluApproximation::kNone);
  EXPECT_FALSE(c.torch_dtype.has_value());
  EXPECT_EQ(c.head_dim, 16);
}

TEST(EncoderConfigTest, NullCountsAsAbsent) {
  Json config = MinimalConfig();
  config["pad_token_id"] = nullptr;
  config["position_embedding_type"] = nullptr;
  EXPECT_EQ(ParseOk(config).pad_token_id, 0);
}

TEST(EncoderConfigTest, TanhGeluSpellings) {
  for (const char* name : {"gelu_new", "gelu_pytorch_tanh"}) {
    Json config = MinimalConfig();
    config["hidden_act"] = name;
    EXPECT_EQ(ParseOk(config).hidden_act, GeluApproximation::kTanh) << name;
  }
}

TEST(EncoderConfigTest, OtherActivationsAreRefusedByName) {
  Json config = MinimalConfig();
  config["hidden_act"] = "relu";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("hidden_act"), HasSubstr("'relu'")));
}

TEST(EncoderConfigTest, RelativePositionsAreRefused) {
  Json config = MinimalConfig();
  config["position_embedding_type"] = "relative_key";
  EXPECT_THAT(ParseError(config),
              AllOf(HasSubstr("position_embedding_type"), HasSubstr("relative_key")));
}

TEST(EncoderConfigTest, OtherModelTypesAreRefused) {
  Json config = MinimalConfig();
  config["model_type"] = "roberta";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("model_type"), HasSubstr("roberta")));
}

TEST(EncoderConfigTest, MissingRequiredFieldIsNamed) {
  for (const char* key : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                          "intermediate_size"}) {
    Json config = MinimalConfig();
    config.erase(key);
    EXPECT_THAT(ParseError(config), AllOf(HasSubstr(key), HasSubstr("missing"))) << key;
  }
}

TEST(EncoderConfigTest, BadValuesAreRefused) {
  Json config = MinimalConfig();
  config["hidden_size"] = 66;  // not divisible by 4 heads
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("hidden_size"), HasSubstr("66")));
  config = MinimalConfig();
  config["type_vocab_size"] = 0;
  EXPECT_THAT(ParseError(config), HasSubstr("type_vocab_size"));
  config = MinimalConfig();
  config["layer_norm_eps"] = -1;
  EXPECT_THAT(ParseError(config), HasSubstr("layer_norm_eps"));
  config = MinimalConfig();
  config["vocab_size"] = "100";
  EXPECT_THAT(ParseError(config), HasSubstr("vocab_size"));
  config = MinimalConfig();
  config["architectures"] = "BertModel";
  EXPECT_THAT(ParseError(config), HasSubstr("architectures"));
  config = MinimalConfig();
  config["dtype"] = "int8";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("dtype"), HasSubstr("int8")));
}

TEST(EncoderConfigTest, NewDtypeFieldWinsOverTorchDtype) {
  Json config = MinimalConfig();
  config["torch_dtype"] = "float32";
  config["dtype"] = "bfloat16";
  EXPECT_EQ(ParseOk(config).torch_dtype, tensor::DType::kBF16);
}

TEST(EncoderConfigTest, NotJsonIsRefused) {
  auto parsed = ParseEncoderConfig("{oops", "test/config.json");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  parsed = ParseEncoderConfig("[1, 2]", "test/config.json");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EncoderConfigTest, LoadMissingFileIsNotFound) {
  ScopedTempDir dir;
  EXPECT_EQ(LoadEncoderConfig(dir.path().string()).status().code(), absl::StatusCode::kNotFound);
  WriteFile(dir.path() / "config.json", MinimalConfig().dump());
  EXPECT_TRUE(LoadEncoderConfig(dir.path().string()).ok());
}

// --- sentence-transformers layout ---

Json Module(const std::string& kind, const std::string& path) {
  return {{"idx", 0}, {"name", kind}, {"path", path},
          {"type", "sentence_transformers.models." + kind}};
}

Json PoolingConfig(const std::string& mode) {
  Json config = {{"word_embedding_dimension", 64},
                 {"pooling_mode_cls_token", false},
                 {"pooling_mode_mean_tokens", false},
                 {"pooling_mode_max_tokens", false},
                 {"pooling_mode_mean_sqrt_len_tokens", false},
                 {"pooling_mode_weightedmean_tokens", false},
                 {"pooling_mode_lasttoken", false},
                 {"include_prompt", true}};
  if (!mode.empty()) config[mode] = true;
  return config;
}

TEST(EmbedderLayoutTest, PlainFolderDefaultsToClsWithoutNormalization) {
  ScopedTempDir dir;
  auto layout = LoadEmbedderLayout(dir.path().string());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->pooling, EmbedderPooling::kCls);
  EXPECT_FALSE(layout->normalize);
  EXPECT_FALSE(layout->from_modules_json);
  EXPECT_FALSE(layout->max_seq_length.has_value());
  EXPECT_EQ(layout->transformer_dir, dir.path().string());
}

TEST(EmbedderLayoutTest, MeanPoolingWithNormalize) {
  ScopedTempDir dir;
  WriteFile(dir.path() / "modules.json",
            Json::array({Module("Transformer", ""), Module("Pooling", "1_Pooling"),
                         Module("Normalize", "2_Normalize")})
                .dump());
  std::filesystem::create_directories(dir.path() / "1_Pooling");
  WriteFile(dir.path() / "1_Pooling/config.json", PoolingConfig("pooling_mode_mean_tokens").dump());
  WriteFile(dir.path() / "sentence_bert_config.json",
            Json{{"max_seq_length", 48}, {"do_lower_case", false}}.dump());
  auto layout = LoadEmbedderLayout(dir.path().string());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->pooling, EmbedderPooling::kMean);
  EXPECT_TRUE(layout->normalize);
  EXPECT_TRUE(layout->from_modules_json);
  EXPECT_EQ(layout->max_seq_length, 48);
  EXPECT_EQ(layout->pooling_dimension, 64);
  EXPECT_EQ(layout->transformer_dir, dir.path().string());
}

TEST(EmbedderLayoutTest, TransformerInSubfolderAndClsWithoutNormalize) {
  ScopedTempDir dir;
  WriteFile(dir.path() / "modules.json",
            Json::array({Module("Transformer", "0_Transformer"), Module("Pooling", "1_Pooling")})
                .dump());
  std::filesystem::create_directories(dir.path() / "0_Transformer");
  std::filesystem::create_directories(dir.path() / "1_Pooling");
  WriteFile(dir.path() / "1_Pooling/config.json", PoolingConfig("pooling_mode_cls_token").dump());
  WriteFile(dir.path() / "0_Transformer/sentence_bert_config.json",
            Json{{"max_seq_length", 128}}.dump());
  auto layout = LoadEmbedderLayout(dir.path().string());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->pooling, EmbedderPooling::kCls);
  EXPECT_FALSE(layout->normalize);
  EXPECT_EQ(layout->max_seq_length, 128);
  EXPECT_EQ(layout->transformer_dir, (dir.path() / "0_Transformer").string());
}

TEST(EmbedderLayoutTest, MissingPoolingConfigIsNotFoundWithPath) {
  ScopedTempDir dir;
  WriteFile(dir.path() / "modules.json",
            Json::array({Module("Transformer", ""), Module("Pooling", "1_Pooling")}).dump());
  auto layout = LoadEmbedderLayout(dir.path().string());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(layout.status().message(), HasSubstr("1_Pooling"));
}

std::string ModulesError(const Json& modules) {
  std::string pooling_dir;
  auto layout = ParseModulesJson(modules.dump(), "m/modules.json", "m", &pooling_dir);
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument) << modules.dump();
  return std::string(layout.status().message());
}

TEST(EmbedderLayoutTest, UnsupportedModulesAreRefusedByType) {
  Json dense = {{"path", "2_Dense"}, {"type", "sentence_transformers.models.Dense"}};
  EXPECT_THAT(ModulesError(Json::array({Module("Transformer", ""), Module("Pooling", "1_Pooling"),
                                        dense})),
              AllOf(HasSubstr("m/modules.json"), HasSubstr("sentence_transformers.models.Dense")));
  Json custom = {{"path", ""}, {"type", "my_package.CustomEncoder"}};
  EXPECT_THAT(ModulesError(Json::array({custom})), HasSubstr("my_package.CustomEncoder"));
}

TEST(EmbedderLayoutTest, MalformedModuleListsAreRefused) {
  EXPECT_THAT(ModulesError(Json::array({Module("Pooling", "1_Pooling"), Module("Transformer", "")})),
              HasSubstr("order"));
  EXPECT_THAT(ModulesError(Json::array({Module("Transformer", "")})), HasSubstr("Pooling"));
  EXPECT_THAT(ModulesError(Json::array({Module("Transformer", ""), Module("Pooling", "../x")})),
              HasSubstr("../x"));
  EXPECT_THAT(ModulesError(Json::array({Module("Transformer", "/abs"), Module("Pooling", "p")})),
              HasSubstr("/abs"));
  EXPECT_THAT(ModulesError(Json{{"type", "x"}}), HasSubstr("list"));
  EXPECT_THAT(ModulesError(Json::array({Json{{"path", ""}}})), HasSubstr("module 0"));
}

absl::Status PoolingStatus(const Json& config) {
  EmbedderLayout layout;
  return ParsePoolingConfig(config.dump(), "p/config.json", &layout);
}

TEST(EmbedderLayoutTest, PoolingModesOtherThanClsAndMeanAreRefused) {
  for (const char* mode : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                           "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    absl::Status s = PoolingStatus(PoolingConfig(mode));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << mode;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("p/config.json"), HasSubstr(mode)));
  }
  EXPECT_THAT(PoolingStatus(PoolingConfig("")).message(), HasSubstr("none"));
  Json both = PoolingConfig("pooling_mode_cls_token");
  both["pooling_mode_mean_tokens"] = true;
  EXPECT_THAT(PoolingStatus(both).message(),
              AllOf(HasSubstr("pooling_mode_cls_token"), HasSubstr("pooling_mode_mean_tokens")));
  Json not_bool = PoolingConfig("pooling_mode_cls_token");
  not_bool["pooling_mode_mean_tokens"] = 1;
  EXPECT_THAT(PoolingStatus(not_bool).message(), HasSubstr("pooling_mode_mean_tokens"));
}

TEST(EmbedderLayoutTest, PoolingModeStringOfSentenceTransformers6) {
  EmbedderLayout layout;
  ASSERT_TRUE(ParsePoolingConfig(
                  R"({"embedding_dimension": 32, "pooling_mode": "mean", "include_prompt": true})",
                  "p/config.json", &layout)
                  .ok());
  EXPECT_EQ(layout.pooling, EmbedderPooling::kMean);
  EXPECT_EQ(layout.pooling_dimension, 32);
  ASSERT_TRUE(ParsePoolingConfig(R"({"pooling_mode": "cls"})", "p/config.json", &layout).ok());
  EXPECT_EQ(layout.pooling, EmbedderPooling::kCls);
  for (const char* mode : {R"("max")", R"("lasttoken")", R"(["mean","max"])", "3"}) {
    absl::Status s = ParsePoolingConfig(absl::StrCat(R"({"pooling_mode": )", mode, "}"),
                                        "p/config.json", &layout);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << mode;
    EXPECT_THAT(s.message(), AllOf(HasSubstr("pooling_mode"), HasSubstr(mode)));
  }
}

TEST(EmbedderLayoutTest, ModuleTypesOfSentenceTransformers6AreAccepted) {
  const Json modules = Json::array(
      {{{"path", ""}, {"type", "sentence_transformers.base.modules.transformer.Transformer"}},
       {{"path", "1_Pooling"},
        {"type", "sentence_transformers.sentence_transformer.modules.pooling.Pooling"}},
       {{"path", "2_Normalize"}, {"type", "sentence_transformers.base.modules.normalize.Normalize"}}});
  std::string pooling_dir;
  auto layout = ParseModulesJson(modules.dump(), "m/modules.json", "m", &pooling_dir);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_TRUE(layout->normalize);
  EXPECT_EQ(layout->transformer_dir, "m");
  EXPECT_EQ(pooling_dir, "m/1_Pooling");
}

TEST(EmbedderLayoutTest, BadMaxSeqLengthIsRefused) {
  ScopedTempDir dir;
  WriteFile(dir.path() / "modules.json",
            Json::array({Module("Transformer", ""), Module("Pooling", "1_Pooling")}).dump());
  std::filesystem::create_directories(dir.path() / "1_Pooling");
  WriteFile(dir.path() / "1_Pooling/config.json", PoolingConfig("pooling_mode_cls_token").dump());
  WriteFile(dir.path() / "sentence_bert_config.json", Json{{"max_seq_length", -3}}.dump());
  auto layout = LoadEmbedderLayout(dir.path().string());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(layout.status().message(), HasSubstr("max_seq_length"));
}

}  // namespace
}  // namespace brisk::loader
