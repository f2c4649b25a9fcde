// ChatTemplate and the tokenizer-directory loader; see chat_template.h.
#include "tokenizer/chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "tokenizer/chat/ast.h"
#include "tokenizer/chat/builtins.h"
#include "tokenizer/chat/interpreter.h"
#include "tokenizer/chat/lexer.h"
#include "tokenizer/chat/parser.h"
#include "tokenizer/chat/value.h"

namespace brisk::tokenizer {

struct ChatTemplate::Program {
  jinja::NodeList statements;
};

ChatTemplate::ChatTemplate(std::shared_ptr<const Program> program)
    : program_(std::move(program)) {}

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  BRISK_ASSIGN_OR_RETURN(std::vector<jinja::Token> tokens, jinja::Tokenize(source));
  auto program = std::make_shared<Program>();
  BRISK_ASSIGN_OR_RETURN(program->statements, jinja::Parse(std::move(tokens)));
  return ChatTemplate(std::move(program));
}

template <typename Json>
absl::StatusOr<std::string> ChatTemplate::RenderImpl(
    const Json& context, const ChatTemplateRenderOptions& options) const {
  if (!context.is_object() && !context.is_null()) {
    return absl::InvalidArgumentError("chat template context must be a JSON object");
  }
  std::optional<double> now_seconds;
  auto globals = std::make_shared<jinja::Env>();
  jinja::InstallGlobals(*globals, std::nullopt);
  if (context.is_object()) {
    for (auto it = context.begin(); it != context.end(); ++it) {
      if (it.key() == "__brisk_now__") {
        if (!it.value().is_number()) {
          return absl::InvalidArgumentError("__brisk_now__ must be a number of seconds");
        }
        now_seconds = it.value().template get<double>();
        continue;
      }
      if (globals->vars.count(it.key()) > 0 && it.key() != "dict") {
        return absl::InvalidArgumentError(
            absl::StrCat("Variable already declared: ", it.key()));
      }
      absl::StatusOr<jinja::Value> value = jinja::FromJson(it.value());
      if (!value.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("context key '", it.key(), "': ", value.status().message()));
      }
      globals->Set(it.key(), *std::move(value));
    }
  }
  if (now_seconds) jinja::InstallGlobals(*globals, now_seconds);  // re-binds strftime_now
  jinja::Interpreter interpreter(now_seconds, options.max_steps);
  return interpreter.Run(program_->statements, globals);
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::json& context,
                                                 const ChatTemplateRenderOptions& options) const {
  return RenderImpl(context, options);
}

absl::StatusOr<std::string> ChatTemplate::Render(const nlohmann::ordered_json& context,
                                                 const ChatTemplateRenderOptions& options) const {
  return RenderImpl(context, options);
}

namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadFileIfPresent(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<nlohmann::json> ParseJsonFile(const fs::path& path, const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": malformed JSON"));
  }
  return json;
}

// Picks the template named `name` from a "chat_template" value (a string or a list of
// {"name", "template"} objects).
absl::StatusOr<std::string> SelectTemplate(const nlohmann::json& value, std::string_view name,
                                           const std::string& where) {
  const std::string wanted = name.empty() ? "default" : std::string(name);
  if (value.is_string()) {
    if (wanted != "default") {
      return absl::NotFoundError(absl::StrCat(where, ": no chat template named '", wanted, "'"));
    }
    return value.get<std::string>();
  }
  if (!value.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": chat_template must be a string or a list of named templates"));
  }
  std::string names;
  for (const nlohmann::json& entry : value) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": each named chat template needs string 'name' and 'template'"));
    }
    const std::string entry_name = entry["name"].get<std::string>();
    if (entry_name == wanted) return entry["template"].get<std::string>();
    absl::StrAppend(&names, names.empty() ? "" : ", ", entry_name);
  }
  return absl::NotFoundError(absl::StrCat(where, ": no chat template named '", wanted,
                                          "' (available: ", names, ")"));
}

absl::StatusOr<nlohmann::json> SpecialTokens(const nlohmann::json& config,
                                             const std::string& where) {
  static constexpr const char* kKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                          "pad_token", "cls_token", "mask_token"};
  const auto token_text = [&](const nlohmann::json& v,
                              const std::string& key) -> absl::StatusOr<std::optional<std::string>> {
    if (v.is_null()) return std::optional<std::string>();
    if (v.is_string()) return std::optional<std::string>(v.get<std::string>());
    if (v.is_object() && v.contains("content") && v["content"].is_string()) {
      return std::optional<std::string>(v["content"].get<std::string>());
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", key, " must be a string or an object with a string 'content'"));
  };
  nlohmann::json tokens = nlohmann::json::object();
  for (const char* key : kKeys) {
    if (!config.contains(key)) continue;
    BRISK_ASSIGN_OR_RETURN(std::optional<std::string> text, token_text(config[key], key));
    if (text) tokens[key] = *text;
  }
  if (config.contains("additional_special_tokens") &&
      config["additional_special_tokens"].is_array()) {
    nlohmann::json list = nlohmann::json::array();
    for (const nlohmann::json& v : config["additional_special_tokens"]) {
      BRISK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             token_text(v, "additional_special_tokens"));
      if (text) list.push_back(*text);
    }
    tokens["additional_special_tokens"] = std::move(list);
  }
  return tokens;
}

}  // namespace

absl::StatusOr<ChatTemplateConfig> LoadChatTemplateConfig(const std::string& tokenizer_dir,
                                                          std::string_view name) {
  const fs::path dir(tokenizer_dir);
  ChatTemplateConfig result;
  nlohmann::json config = nlohmann::json::object();
  const fs::path config_path = dir / "tokenizer_config.json";
  if (std::optional<std::string> text = ReadFileIfPresent(config_path)) {
    BRISK_ASSIGN_OR_RETURN(config, ParseJsonFile(config_path, *text));
    if (!config.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path.string(), ": must be a JSON object"));
    }
    BRISK_ASSIGN_OR_RETURN(result.special_tokens, SpecialTokens(config, config_path.string()));
  }
  const bool is_default = name.empty() || name == "default";
  if (!is_default) {
    const fs::path named = dir / "additional_chat_templates" / (std::string(name) + ".jinja");
    if (std::optional<std::string> text = ReadFileIfPresent(named)) {
      result.template_source = *std::move(text);
      return result;
    }
  }
  if (is_default) {
    if (std::optional<std::string> text = ReadFileIfPresent(dir / "chat_template.jinja")) {
      result.template_source = *std::move(text);
      return result;
    }
  }
  const fs::path json_path = dir / "chat_template.json";
  if (std::optional<std::string> text = ReadFileIfPresent(json_path)) {
    BRISK_ASSIGN_OR_RETURN(nlohmann::json json, ParseJsonFile(json_path, *text));
    if (json.is_object() && json.contains("chat_template")) {
      BRISK_ASSIGN_OR_RETURN(result.template_source,
                             SelectTemplate(json["chat_template"], name, json_path.string()));
      return result;
    }
  }
  if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    BRISK_ASSIGN_OR_RETURN(result.template_source,
                           SelectTemplate(config["chat_template"], name, config_path.string()));
    return result;
  }
  return absl::NotFoundError(absl::StrCat("no chat template found in ", tokenizer_dir));
}

}  // namespace brisk::tokenizer
