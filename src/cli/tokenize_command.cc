// `brisk tokenize`, `brisk detokenize` and `brisk chat-template`: thin wrappers that read their
// input, call the tokenizer or the chat-template engine, and print the result. Nothing here
// interprets tokens or templates itself.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/model_setup.h"
#include "cli/tokenize_commands.h"
#include "nlohmann/json.hpp"
#include "tokenizer/chat/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace brisk::cli {
namespace {

constexpr int kFailed = 1;
constexpr int kBadInput = 2;

std::string DirOrDefault(const std::string& dir) { return dir.empty() ? DefaultModelDir() : dir; }

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadTokenizer(const std::string& dir) {
  return tokenizer::Tokenizer::FromFile(DirOrDefault(dir) + "/tokenizer.json");
}

void PrintBytes(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

// The render context from a messages file: a bare array of messages, or an object with
// "messages" and optional "tools" and other template variables.
// Objects keep the key order of the file, which `tojson` in templates reproduces.
absl::StatusOr<nlohmann::ordered_json> ReadMessages(const std::string& path) {
  BRISK_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::ordered_json doc =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  }
  nlohmann::ordered_json context = doc;
  if (doc.is_array()) {
    context = nlohmann::ordered_json::object();
    context["messages"] = doc;
  }
  const auto messages = context.find("messages");
  bool ok = context.is_object() && messages != context.end() && messages->is_array();
  for (size_t i = 0; ok && i < messages->size(); ++i) {
    const nlohmann::ordered_json& m = (*messages)[i];
    ok = m.is_object() && m.contains("role") && m["role"].is_string();
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " must hold a JSON array of {\"role\": ..., \"content\": ...} messages, or an "
              "object with such a \"messages\" array"));
  }
  if (!context.contains("tools")) context["tools"] = nullptr;
  return context;
}

}  // namespace

int RunTokenize(const TokenizeOptions& options) {
  std::string text = options.text;
  if (options.use_text_file) {
    absl::StatusOr<std::string> read = ReadFile(options.text_file);
    if (!read.ok()) return Fail(kBadInput, std::string(read.status().message()));
    text = std::move(*read);
  }
  auto tok = LoadTokenizer(options.tokenizer_dir);
  if (!tok.ok()) return Fail(kFailed, tok.status().ToString());
  const std::vector<int32_t> ids = (*tok)->Encode(
      text, options.add_special_tokens ? tokenizer::AddSpecial::kYes : tokenizer::AddSpecial::kNo);
  const std::string joined = absl::StrJoin(ids, options.json ? ", " : ",");
  std::printf(options.json ? "[%s]\n" : "%s\n", joined.c_str());
  return 0;
}

int RunDetokenize(const DetokenizeOptions& options) {
  absl::StatusOr<std::vector<int32_t>> ids = ParseIdList(options.ids);
  if (!ids.ok()) return Fail(kBadInput, std::string(ids.status().message()));
  auto tok = LoadTokenizer(options.tokenizer_dir);
  if (!tok.ok()) return Fail(kFailed, tok.status().ToString());
  const int32_t vocab_size = (*tok)->vocab_size();
  for (int32_t id : *ids) {
    if (id < 0 || id >= vocab_size || ((*tok)->IdToToken(id).empty())) {
      return Fail(kFailed, absl::StrCat("token id ", id, " is outside the vocabulary (",
                                          vocab_size, " ids)"));
    }
  }
  PrintBytes((*tok)->Decode(*ids, options.skip_special_tokens ? tokenizer::SkipSpecial::kYes
                                                              : tokenizer::SkipSpecial::kNo));
  std::printf("\n");
  return 0;
}

int RunChatTemplate(const ChatTemplateOptions& options) {
  absl::StatusOr<nlohmann::ordered_json> context = ReadMessages(options.messages_file);
  if (!context.ok()) return Fail(kBadInput, std::string(context.status().message()));
  const std::string dir = DirOrDefault(options.tokenizer_dir);
  auto config = tokenizer::LoadChatTemplateConfig(dir, options.template_name);
  if (!config.ok()) return Fail(kFailed, config.status().ToString());
  auto parsed = tokenizer::ChatTemplate::Parse(config->template_source);
  if (!parsed.ok()) return Fail(kFailed, absl::StrCat("chat template of ", dir, ": ",
                                                      parsed.status().message()));
  // Special tokens first, so a messages file may override any of them.
  nlohmann::ordered_json full = nlohmann::ordered_json::object();
  for (const auto& [key, value] : config->special_tokens.items()) {
    full[key] = nlohmann::ordered_json::parse(value.dump());
  }
  for (const auto& [key, value] : context->items()) full[key] = value;
  full["add_generation_prompt"] = options.add_generation_prompt;
  absl::StatusOr<std::string> rendered = parsed->Render(full);
  if (!rendered.ok()) return Fail(kFailed, absl::StrCat("chat template of ", dir, ": ",
                                                        rendered.status().message()));
  PrintBytes(*rendered);
  std::fflush(stdout);
  return 0;
}

}  // namespace brisk::cli
