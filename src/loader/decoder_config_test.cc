// Tests of ParseDecoderConfig / LoadDecoderConfig over the four supported architectures, both
// rope spellings, every rope type, the sliding-window rules and the refusals.
#include "loader/decoder_config.h"

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
using Json = nlohmann::json;

// A small valid config of `architecture` with no optional fields.
Json BaseConfig(const std::string& architecture) {
  return {{"architectures", {architecture}},
          {"vocab_size", 256},
          {"hidden_size", 64},
          {"intermediate_size", 128},
          {"num_hidden_layers", 4},
          {"num_attention_heads", 4}};
}

DecoderConfig ParseOk(const Json& config) {
  auto parsed = ParseDecoderConfig(config.dump(), "test/config.json");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : DecoderConfig{};
}

// Expects InvalidArgument; returns the message.
std::string ParseError(const Json& config) {
  auto parsed = ParseDecoderConfig(config.dump(), "test/config.json");
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
  EXPECT_THAT(parsed.status().message(), HasSubstr("test/config.json"));
  return std::string(parsed.status().message());
}

// The Llama-3.2-1B config, with its llama3 rope scaling in the older spelling.
Json Llama32Config() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 128256},
          {"hidden_size", 2048},
          {"intermediate_size", 8192},
          {"num_hidden_layers", 16},
          {"num_attention_heads", 32},
          {"num_key_value_heads", 8},
          {"head_dim", 64},
          {"hidden_act", "silu"},
          {"max_position_embeddings", 131072},
          {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", true},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"rope_theta", 500000.0},
          {"rope_scaling",
           {{"factor", 32.0},
            {"high_freq_factor", 4.0},
            {"low_freq_factor", 1.0},
            {"original_max_position_embeddings", 8192},
            {"rope_type", "llama3"}}},
          {"torch_dtype", "bfloat16"},
          {"bos_token_id", 128000},
          {"eos_token_id", {128001, 128008, 128009}}};
}

void ExpectLlama32(const DecoderConfig& c) {
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.hidden_size, 2048);
  EXPECT_EQ(c.intermediate_size, 8192);
  EXPECT_EQ(c.num_hidden_layers, 16);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.attention_bias || c.o_proj_bias || c.mlp_bias || c.qk_norm);
  EXPECT_EQ(c.sliding_window, std::vector<int>(16, 0));
  EXPECT_EQ(c.rope.type, RopeType::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rope.factor, 32.0);
  EXPECT_DOUBLE_EQ(c.rope.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rope.partial_rotary_factor, 1.0);
  EXPECT_EQ(c.torch_dtype, tensor::DType::kBF16);
  EXPECT_THAT(c.bos_token_ids, ElementsAre(128000));
  EXPECT_THAT(c.eos_token_ids, ElementsAre(128001, 128008, 128009));
}

TEST(DecoderConfigTest, LlamaLegacyRopeSpelling) { ExpectLlama32(ParseOk(Llama32Config())); }

TEST(DecoderConfigTest, LlamaRopeParametersSpelling) {
  Json config = Llama32Config();
  config.erase("rope_theta");
  config.erase("rope_scaling");
  config.erase("torch_dtype");
  config["dtype"] = "bfloat16";
  config["rope_parameters"] = {{"rope_type", "llama3"},
                               {"rope_theta", 500000.0},
                               {"factor", 32.0},
                               {"high_freq_factor", 4.0},
                               {"low_freq_factor", 1.0},
                               {"original_max_position_embeddings", 8192}};
  ExpectLlama32(ParseOk(config));
}

TEST(DecoderConfigTest, LlamaAttentionBiasCoversOutputProjection) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["attention_bias"] = true;
  config["mlp_bias"] = true;
  DecoderConfig c = ParseOk(config);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_TRUE(c.o_proj_bias);
  EXPECT_TRUE(c.mlp_bias);
  EXPECT_FALSE(c.qk_norm);
}

TEST(DecoderConfigTest, DefaultsOfAMinimalLlamaConfig) {
  DecoderConfig c = ParseOk(BaseConfig("LlamaForCausalLM"));
  EXPECT_EQ(c.model_type, "llama");  // derived from the architecture
  EXPECT_EQ(c.num_key_value_heads, 4);  // MHA when absent
  EXPECT_EQ(c.head_dim, 16);            // 64 / 4
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope.type, RopeType::kDefault);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_FALSE(c.torch_dtype.has_value());
  EXPECT_TRUE(c.bos_token_ids.empty());
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_EQ(c.sliding_window, std::vector<int>(4, 0));
}

TEST(DecoderConfigTest, Qwen2InBothRopeSpellings) {
  Json legacy = BaseConfig("Qwen2ForCausalLM");
  legacy["model_type"] = "qwen2";
  legacy["num_key_value_heads"] = 2;
  legacy["rope_theta"] = 1000000.0;
  legacy["rope_scaling"] = nullptr;
  legacy["tie_word_embeddings"] = true;
  legacy["use_sliding_window"] = false;
  legacy["sliding_window"] = 4096;
  legacy["max_window_layers"] = 2;
  legacy["attention_bias"] = false;  // ignored: Qwen2 always has q/k/v biases

  Json current = legacy;
  current.erase("rope_theta");
  current.erase("rope_scaling");
  current["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};

  for (const Json& config : {legacy, current}) {
    DecoderConfig c = ParseOk(config);
    EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
    EXPECT_EQ(c.num_key_value_heads, 2);
    EXPECT_TRUE(c.attention_bias);
    EXPECT_FALSE(c.o_proj_bias);
    EXPECT_FALSE(c.qk_norm);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.max_position_embeddings, 32768);
    EXPECT_EQ(c.rope.type, RopeType::kDefault);
    EXPECT_DOUBLE_EQ(c.rope.theta, 1000000.0);
    EXPECT_EQ(c.sliding_window, std::vector<int>(4, 0));  // use_sliding_window is false
  }
}

TEST(DecoderConfigTest, Qwen3InBothRopeSpellingsWithExplicitHeadDim) {
  Json legacy = BaseConfig("Qwen3ForCausalLM");
  legacy["head_dim"] = 32;  // not 64 / 4: the explicit value wins
  legacy["num_key_value_heads"] = 1;
  legacy["rope_theta"] = 1000000.0;

  Json current = legacy;
  current.erase("rope_theta");
  current["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};

  for (const Json& config : {legacy, current}) {
    DecoderConfig c = ParseOk(config);
    EXPECT_EQ(c.model_type, "qwen3");
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.num_key_value_heads, 1);  // MQA
    EXPECT_TRUE(c.qk_norm);
    EXPECT_FALSE(c.attention_bias);
    EXPECT_FALSE(c.o_proj_bias);
    EXPECT_DOUBLE_EQ(c.rope.theta, 1000000.0);
  }
  legacy["attention_bias"] = true;
  DecoderConfig biased = ParseOk(legacy);
  EXPECT_TRUE(biased.attention_bias);
  EXPECT_TRUE(biased.o_proj_bias);  // transformers' Qwen3 o_proj uses attention_bias too
}

TEST(DecoderConfigTest, MistralInBothRopeSpellingsWindowsEveryLayer) {
  Json legacy = BaseConfig("MistralForCausalLM");
  legacy["num_key_value_heads"] = 2;
  legacy["sliding_window"] = 4096;
  legacy["rope_theta"] = 1000000.0;
  legacy["attention_bias"] = true;  // ignored: Mistral has no biases

  Json current = legacy;
  current.erase("rope_theta");
  current["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};

  for (const Json& config : {legacy, current}) {
    DecoderConfig c = ParseOk(config);
    EXPECT_EQ(c.model_type, "mistral");
    EXPECT_EQ(c.sliding_window, std::vector<int>(4, 4096));
    EXPECT_FALSE(c.attention_bias || c.o_proj_bias || c.mlp_bias || c.qk_norm);
    EXPECT_EQ(c.max_position_embeddings, 131072);
    EXPECT_DOUBLE_EQ(c.rope.theta, 1000000.0);
  }
  legacy["sliding_window"] = nullptr;
  EXPECT_EQ(ParseOk(legacy).sliding_window, std::vector<int>(4, 0));
  legacy.erase("sliding_window");
  EXPECT_EQ(ParseOk(legacy).sliding_window, std::vector<int>(4, 0));
}

TEST(DecoderConfigTest, QwenSlidingWindowStartsAtMaxWindowLayers) {
  for (const char* arch : {"Qwen2ForCausalLM", "Qwen3ForCausalLM"}) {
    Json config = BaseConfig(arch);
    config["use_sliding_window"] = true;
    config["sliding_window"] = 128;
    config["max_window_layers"] = 2;
    EXPECT_THAT(ParseOk(config).sliding_window, ElementsAre(0, 0, 128, 128)) << arch;
    config.erase("max_window_layers");  // default 28 > 4 layers: all full attention
    EXPECT_THAT(ParseOk(config).sliding_window, ElementsAre(0, 0, 0, 0)) << arch;
    config["max_window_layers"] = 0;
    EXPECT_THAT(ParseOk(config).sliding_window, ElementsAre(128, 128, 128, 128)) << arch;
    config["sliding_window"] = nullptr;
    EXPECT_THAT(ParseOk(config).sliding_window, ElementsAre(0, 0, 0, 0)) << arch;
  }
}

TEST(DecoderConfigTest, LayerTypesDecidePerLayer) {
  Json mistral = BaseConfig("MistralForCausalLM");
  mistral["sliding_window"] = 64;
  mistral["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention",
                            "full_attention"};
  EXPECT_THAT(ParseOk(mistral).sliding_window, ElementsAre(64, 0, 64, 0));

  Json qwen = BaseConfig("Qwen2ForCausalLM");
  qwen["use_sliding_window"] = true;
  qwen["sliding_window"] = 32;
  qwen["max_window_layers"] = 3;  // ignored: layer_types wins
  qwen["layer_types"] = {"full_attention", "sliding_attention", "sliding_attention",
                         "full_attention"};
  EXPECT_THAT(ParseOk(qwen).sliding_window, ElementsAre(0, 32, 32, 0));

  qwen["use_sliding_window"] = false;
  EXPECT_THAT(ParseError(qwen), AllOf(HasSubstr("layer_types"), HasSubstr("entry 1"),
                                      HasSubstr("use_sliding_window")));

  mistral["layer_types"] = {"full_attention", "full_attention"};
  EXPECT_THAT(ParseError(mistral), AllOf(HasSubstr("layer_types"), HasSubstr("list of 4")));
  mistral["layer_types"] = {"full_attention", "chunked_attention", "full_attention",
                            "full_attention"};
  EXPECT_THAT(ParseError(mistral), AllOf(HasSubstr("entry 1"), HasSubstr("chunked_attention")));
}

TEST(DecoderConfigTest, LegacyTypeKeyForLinearAndDynamic) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  DecoderConfig linear = ParseOk(config);
  EXPECT_EQ(linear.rope.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(linear.rope.factor, 2.0);

  config["rope_scaling"] = {{"type", "dynamic"}, {"factor", 4}};
  DecoderConfig dynamic = ParseOk(config);
  EXPECT_EQ(dynamic.rope.type, RopeType::kDynamic);
  EXPECT_DOUBLE_EQ(dynamic.rope.factor, 4.0);

  config["rope_scaling"] = {{"type", "linear"}};
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("rope_scaling.factor"), HasSubstr("missing")));
}

TEST(DecoderConfigTest, YarnParameters) {
  Json config = BaseConfig("Qwen2ForCausalLM");
  config["rope_theta"] = 1000000.0;
  config["rope_scaling"] = {
      {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
  DecoderConfig c = ParseOk(config);
  EXPECT_EQ(c.rope.type, RopeType::kYarn);
  EXPECT_DOUBLE_EQ(c.rope.factor, 4.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 32768);
  EXPECT_DOUBLE_EQ(c.rope.beta_fast, 32.0);
  EXPECT_DOUBLE_EQ(c.rope.beta_slow, 1.0);
  EXPECT_DOUBLE_EQ(c.rope.mscale, 0.0);
  EXPECT_DOUBLE_EQ(c.rope.attention_factor, 0.0);

  config.erase("rope_theta");
  config.erase("rope_scaling");
  config["rope_parameters"] = {{"rope_type", "yarn"},  {"rope_theta", 50000.0},
                               {"factor", 8},          {"beta_fast", 16},
                               {"beta_slow", 2},       {"mscale", 0.707},
                               {"mscale_all_dim", 1.0}, {"attention_factor", 1.25}};
  DecoderConfig d = ParseOk(config);
  EXPECT_EQ(d.rope.type, RopeType::kYarn);
  EXPECT_DOUBLE_EQ(d.rope.theta, 50000.0);
  EXPECT_DOUBLE_EQ(d.rope.factor, 8.0);
  EXPECT_EQ(d.rope.original_max_position_embeddings, 0);  // unset
  EXPECT_DOUBLE_EQ(d.rope.beta_fast, 16.0);
  EXPECT_DOUBLE_EQ(d.rope.beta_slow, 2.0);
  EXPECT_DOUBLE_EQ(d.rope.mscale, 0.707);
  EXPECT_DOUBLE_EQ(d.rope.mscale_all_dim, 1.0);
  EXPECT_DOUBLE_EQ(d.rope.attention_factor, 1.25);
}

TEST(DecoderConfigTest, Llama3ScalingNeedsAllItsKeys) {
  Json config = Llama32Config();
  config["rope_scaling"].erase("low_freq_factor");
  EXPECT_THAT(ParseError(config), HasSubstr("rope_scaling.low_freq_factor"));
  config = Llama32Config();
  config["rope_scaling"]["high_freq_factor"] = 0.5;
  EXPECT_THAT(ParseError(config), HasSubstr("high_freq_factor"));
}

TEST(DecoderConfigTest, RopeParametersThetaFallsBackToTopLevel) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["rope_theta"] = 250000.0;
  config["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  DecoderConfig c = ParseOk(config);
  EXPECT_EQ(c.rope.type, RopeType::kLinear);
  EXPECT_DOUBLE_EQ(c.rope.theta, 250000.0);
}

TEST(DecoderConfigTest, PartialRotaryFactorAtTopLevelOrInRopeParameters) {
  Json config = BaseConfig("LlamaForCausalLM");  // head_dim 16
  config["partial_rotary_factor"] = 0.5;
  EXPECT_DOUBLE_EQ(ParseOk(config).rope.partial_rotary_factor, 0.5);
  config.erase("partial_rotary_factor");
  config["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.25}};
  EXPECT_DOUBLE_EQ(ParseOk(config).rope.partial_rotary_factor, 0.25);
  config["rope_parameters"]["partial_rotary_factor"] = 0.125;  // rotary dim 2: fine
  EXPECT_DOUBLE_EQ(ParseOk(config).rope.partial_rotary_factor, 0.125);
  config["rope_parameters"]["partial_rotary_factor"] = 0.1875;  // rotary dim 3: odd
  EXPECT_THAT(ParseError(config), HasSubstr("rope_parameters.partial_rotary_factor"));
  config["rope_parameters"]["partial_rotary_factor"] = 1.5;
  EXPECT_THAT(ParseError(config), HasSubstr("(0, 1]"));
}

TEST(DecoderConfigTest, GqaAndMqaHeadCounts) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["num_attention_heads"] = 8;
  config["num_key_value_heads"] = 2;
  DecoderConfig gqa = ParseOk(config);
  EXPECT_EQ(gqa.num_key_value_heads, 2);
  EXPECT_EQ(gqa.head_dim, 8);
  config["num_key_value_heads"] = 1;
  EXPECT_EQ(ParseOk(config).num_key_value_heads, 1);
  config["num_key_value_heads"] = nullptr;  // null means "same as num_attention_heads"
  EXPECT_EQ(ParseOk(config).num_key_value_heads, 8);
  config["head_dim"] = nullptr;  // null head_dim means "derive"
  EXPECT_EQ(ParseOk(config).head_dim, 8);
}

TEST(DecoderConfigTest, RefusesUnknownArchitectureListingSupported) {
  std::string message = ParseError(BaseConfig("GPT2LMHeadModel"));
  EXPECT_THAT(message, AllOf(HasSubstr("GPT2LMHeadModel"), HasSubstr("LlamaForCausalLM"),
                             HasSubstr("Qwen2ForCausalLM"), HasSubstr("Qwen3ForCausalLM"),
                             HasSubstr("MistralForCausalLM")));
  Json config = BaseConfig("LlamaForCausalLM");
  config["architectures"] = Json::array();
  EXPECT_THAT(ParseError(config), HasSubstr("architectures"));
  config.erase("architectures");
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("architectures"), HasSubstr("missing")));
}

TEST(DecoderConfigTest, RefusesActivationOtherThanSilu) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["hidden_act"] = "gelu";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("hidden_act"), HasSubstr("gelu")));
}

TEST(DecoderConfigTest, RefusesUnsupportedRopeTypesByName) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 2.0}};
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("rope_scaling.rope_type"),
                                        HasSubstr("longrope")));
  config["rope_scaling"] = {{"type", "su"}};
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("rope_scaling.type"), HasSubstr("'su'")));
  config.erase("rope_scaling");
  config["rope_parameters"] = {{"rope_type", "mrope"}};
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("rope_parameters"), HasSubstr("mrope")));
  config["rope_parameters"] = "default";
  EXPECT_THAT(ParseError(config), HasSubstr("rope_parameters"));
}

TEST(DecoderConfigTest, RefusesBadHeadCounts) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["num_attention_heads"] = 4;
  config["num_key_value_heads"] = 3;
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("num_key_value_heads"), HasSubstr("(3)"),
                                        HasSubstr("(4)")));
  config["num_key_value_heads"] = 0;
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("num_key_value_heads"), HasSubstr("got 0")));
  config.erase("num_key_value_heads");
  config["num_attention_heads"] = 6;  // 64 % 6 != 0 and no head_dim
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("hidden_size"), HasSubstr("(64)"),
                                        HasSubstr("(6)")));
  config["head_dim"] = 10;  // explicit head_dim makes the division irrelevant
  EXPECT_EQ(ParseOk(config).head_dim, 10);
  config["head_dim"] = 7;
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("head_dim"), HasSubstr("even"),
                                        HasSubstr("7")));
}

TEST(DecoderConfigTest, RefusesMissingAndNonPositiveSizes) {
  for (const char* field : {"vocab_size", "hidden_size", "intermediate_size",
                            "num_hidden_layers", "num_attention_heads"}) {
    Json config = BaseConfig("LlamaForCausalLM");
    config.erase(field);
    EXPECT_THAT(ParseError(config), AllOf(HasSubstr(field), HasSubstr("missing"))) << field;
    config[field] = -2;
    EXPECT_THAT(ParseError(config), AllOf(HasSubstr(field), HasSubstr("-2"))) << field;
  }
  Json config = BaseConfig("LlamaForCausalLM");
  config["rms_norm_eps"] = 0;
  EXPECT_THAT(ParseError(config), HasSubstr("rms_norm_eps"));
}

TEST(DecoderConfigTest, RefusesWrongJsonTypes) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["hidden_size"] = "64";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("'hidden_size'"), HasSubstr("\"64\"")));
  config["hidden_size"] = 64.5;
  EXPECT_THAT(ParseError(config), HasSubstr("'hidden_size'"));
  config["hidden_size"] = 64.0;  // an integral float is an integer
  EXPECT_EQ(ParseOk(config).hidden_size, 64);

  config["tie_word_embeddings"] = "yes";
  EXPECT_THAT(ParseError(config), HasSubstr("tie_word_embeddings"));
  config.erase("tie_word_embeddings");
  config["rope_theta"] = "big";
  EXPECT_THAT(ParseError(config), HasSubstr("rope_theta"));
  config.erase("rope_theta");
  config["eos_token_id"] = {1, "two"};
  EXPECT_THAT(ParseError(config), HasSubstr("eos_token_id"));
  config["eos_token_id"] = 2;
  EXPECT_THAT(ParseOk(config).eos_token_ids, ElementsAre(2));

  auto not_json = ParseDecoderConfig("{\"architectures\": [", "x/config.json");
  ASSERT_FALSE(not_json.ok());
  EXPECT_THAT(not_json.status().message(), AllOf(HasSubstr("x/config.json"), HasSubstr("JSON")));
  auto not_object = ParseDecoderConfig("[1]", "x/config.json");
  EXPECT_FALSE(not_object.ok());
}

TEST(DecoderConfigTest, DTypeSpellings) {
  Json config = BaseConfig("LlamaForCausalLM");
  config["torch_dtype"] = "float32";
  EXPECT_EQ(ParseOk(config).torch_dtype, tensor::DType::kF32);
  config["torch_dtype"] = "float16";
  EXPECT_EQ(ParseOk(config).torch_dtype, tensor::DType::kF16);
  config["dtype"] = "bfloat16";  // the newer field wins
  EXPECT_EQ(ParseOk(config).torch_dtype, tensor::DType::kBF16);
  config["dtype"] = "float64";
  EXPECT_THAT(ParseError(config), AllOf(HasSubstr("'dtype'"), HasSubstr("float64")));
}

TEST(DecoderConfigTest, LoadReadsConfigJsonFromDirectory) {
  test_writer::ScopedTempDir dir;
  auto missing = LoadDecoderConfig(dir.path().string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("config.json"));

  test_writer::WriteFile(dir.path() / "config.json", Llama32Config().dump(2));
  auto loaded = LoadDecoderConfig(dir.path().string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectLlama32(*loaded);

  Json bad = Llama32Config();
  bad["hidden_act"] = "relu";
  test_writer::WriteFile(dir.path() / "config.json", bad.dump());
  auto refused = LoadDecoderConfig(dir.path().string());
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(),
              AllOf(HasSubstr(dir.File("config.json")), HasSubstr("relu")));
}

TEST(DecoderConfigTest, RopeTypeNames) {
  EXPECT_EQ(RopeTypeName(RopeType::kDefault), "default");
  EXPECT_EQ(RopeTypeName(RopeType::kLinear), "linear");
  EXPECT_EQ(RopeTypeName(RopeType::kDynamic), "dynamic");
  EXPECT_EQ(RopeTypeName(RopeType::kLlama3), "llama3");
  EXPECT_EQ(RopeTypeName(RopeType::kYarn), "yarn");
}

}  // namespace
}  // namespace brisk::loader
