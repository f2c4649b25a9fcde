// brisk's chat templates against the JavaScript oracle (@huggingface/jinja, as transformers.js
// renders them): the real templates of five models, brisk-tiny's, and two written for these
// tests (an [INST] format, and a config with named templates including a tool-calling one),
// each rendered with every conversation of tests/fixtures/tokenizer/conversations.json.
// Outputs must be byte-identical; a conversation the oracle rejects must be rejected by brisk
// too, with the raise_exception message when the template raised one.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "oracle_runner.h"
#include "tokenizer/chat/chat_template.h"

namespace brisk::oracle {
namespace {

using tokenizer::ChatTemplate;
using tokenizer::ChatTemplateConfig;
using tokenizer::LoadChatTemplateConfig;

// The acceptance criterion: at least this many conversations rendered per template.
constexpr int kMinRendered = 20;
constexpr size_t kMaxShown = 3;

absl::StatusOr<nlohmann::ordered_json> RenderWithOracle() {
  return RunOracle("render.mjs",
                   {"--root", SourceDir(), "--conversations",
                    SourceDir() + "/tests/fixtures/tokenizer/conversations.json"});
}

class ChatTemplateOracleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateOracleTest, RendersLikeOracle) {
  absl::StatusOr<nlohmann::ordered_json> oracle = RenderWithOracle();
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  const nlohmann::ordered_json* entry = nullptr;
  for (const nlohmann::ordered_json& t : (*oracle)["templates"]) {
    if (t["name"] == GetParam()) entry = &t;
  }
  ASSERT_NE(entry, nullptr) << "render.mjs has no template " << GetParam();

  // The loader finds the same template source and special tokens as the oracle.
  absl::StatusOr<ChatTemplateConfig> config = LoadChatTemplateConfig(
      (*entry)["dir"].get<std::string>(), (*entry)["template_name"].get<std::string>());
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string source = (*entry)["source"].get<std::string>();
  EXPECT_EQ(config->template_source, source) << "LoadChatTemplateConfig read another template";
  for (const auto& [key, value] : (*entry)["special_tokens"].items()) {
    EXPECT_TRUE(config->special_tokens.contains(key) &&
                config->special_tokens[key].dump() == value.dump())
        << key << ": oracle " << value.dump() << ", brisk " << config->special_tokens.dump();
  }

  absl::StatusOr<ChatTemplate> parsed = ChatTemplate::Parse(source);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  int num_rendered = 0;
  int num_mismatches = 0;
  std::string shown;
  auto report = [&](const std::string& text) {
    if (num_mismatches++ < static_cast<int>(kMaxShown)) absl::StrAppend(&shown, "\n  ", text);
  };
  for (const nlohmann::ordered_json& r : (*entry)["renders"]) {
    const std::string conversation = r["conversation"].get<std::string>();
    absl::StatusOr<std::string> out = parsed->Render(r["context"]);
    if (r.contains("output")) {
      ++num_rendered;
      const std::string want = r["output"].get<std::string>();
      if (!out.ok()) {
        report(absl::StrCat(conversation, ": brisk failed: ", out.status().ToString()));
      } else if (*out != want) {
        const size_t at = FirstDifference(want, *out);
        const size_t from = at > 60 ? at - 60 : 0;
        report(absl::StrCat(conversation, ": first difference at byte ", at, "\n    oracle: ",
                            Printable(want.substr(from), 160), "\n    brisk:  ",
                            Printable(out->substr(from), 160)));
      }
      continue;
    }
    const std::string oracle_error = r["error"].get<std::string>();
    if (out.ok()) {
      report(absl::StrCat(conversation, ": the oracle rejects it (", oracle_error,
                          ") but brisk rendered ", Printable(*out, 120)));
    } else if (source.find(oracle_error) != std::string::npos &&
               out.status().message().find(oracle_error) == std::string_view::npos) {
      // The oracle's message is a raise_exception argument of the template: brisk must say it.
      report(absl::StrCat(conversation, ": brisk's error lacks the template's message '",
                          oracle_error, "': ", out.status().ToString()));
    } else if (out.status().code() != absl::StatusCode::kInvalidArgument ||
               out.status().message().find("line ") == std::string_view::npos) {
      report(absl::StrCat(conversation, ": a render error must be InvalidArgument \"line N: ...\", "
                          "got ", out.status().ToString()));
    }
  }
  EXPECT_EQ(num_mismatches, 0) << GetParam() << ": " << num_mismatches << " of "
                               << (*entry)["renders"].size() << " conversations differ" << shown;
  EXPECT_GE(num_rendered, kMinRendered) << GetParam() << " renders too few conversations";
}

INSTANTIATE_TEST_SUITE_P(Templates, ChatTemplateOracleTest,
                         ::testing::Values("llama3", "llama3_1", "qwen3", "gemma3", "deepseek_v3",
                                           "brisk_tiny", "mistral_inst", "multi_named_default",
                                           "multi_named_tool_use"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace brisk::oracle
