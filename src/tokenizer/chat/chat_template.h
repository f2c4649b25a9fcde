// Chat templates: the Jinja `chat_template` of a Hugging Face tokenizer_config.json, parsed once
// and rendered per request with `messages`, `tools`, `add_generation_prompt` and the special
// tokens. Output is byte-identical to @huggingface/jinja (which renders with trim_blocks and
// lstrip_blocks, as transformers does) for every template it accepts; a few Jinja features it
// lacks are accepted too. Errors, syntax or runtime (including raise_exception("...")), are
// InvalidArgument with the template line: "line N: ...".
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace brisk::tokenizer {

// Bounds on one render, so that no template can hang the caller.
struct ChatTemplateRenderOptions {
  // Units of work allowed: one per syntax node evaluated, per loop iteration (8), per list
  // element or per 256 bytes of string produced. Real chat templates need a few thousand per
  // message; past the budget the render fails with InvalidArgument.
  int64_t max_steps = 10'000'000;
};

class ChatTemplate {
 public:
  // Parses a Jinja template. InvalidArgument "line N: ..." on a syntax error.
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  // Renders with the variables of `context` (a JSON object, or null for none): messages,
  // tools, add_generation_prompt, bos_token, ... The hidden key "__brisk_now__" (seconds since
  // the epoch, UTC) fixes the clock of strftime_now; without it the local system time is used.
  // Object keys reach the template in the order of `context`, reordered as a JavaScript object
  // would be (integer-like keys first); pass an nlohmann::ordered_json to keep document order
  // (which `tojson` output depends on), since nlohmann::json sorts its keys.
  // InvalidArgument "line N: ..." on a runtime error; InvalidArgument when `context` is not an
  // object or redefines a built-in name (range, namespace, true, ...).
  // Thread-safe: many renders of one template may run at once.
  absl::StatusOr<std::string> Render(const nlohmann::json& context,
                                     const ChatTemplateRenderOptions& options = {}) const;
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& context,
                                     const ChatTemplateRenderOptions& options = {}) const;

 private:
  struct Program;
  explicit ChatTemplate(std::shared_ptr<const Program> program);
  template <typename Json>
  absl::StatusOr<std::string> RenderImpl(const Json& context,
                                         const ChatTemplateRenderOptions& options) const;

  std::shared_ptr<const Program> program_;  // immutable after Parse
};

// The chat template and special tokens of a tokenizer directory.
struct ChatTemplateConfig {
  std::string template_source;
  // String-valued special tokens (bos_token, eos_token, unk_token, sep_token, pad_token,
  // cls_token, mask_token; additional_special_tokens as a list), ready to merge into the
  // render context. Tokens that are null or absent are left out.
  nlohmann::json special_tokens = nlohmann::json::object();
};

// Reads `tokenizer_dir`/tokenizer_config.json and the template files transformers writes beside
// it. The template is, in order of preference: chat_template.jinja, chat_template.json
// ({"chat_template": ...}), then the config's "chat_template"; a named template (`name`) may
// also come from additional_chat_templates/<name>.jinja. A "chat_template" that is a list of
// {"name", "template"} objects is searched for `name` ("default" when `name` is empty).
// Special tokens may be strings or {"content": ...} objects.
// Errors: NotFound when no template (or no template of that name) exists; InvalidArgument for
// malformed JSON or fields of the wrong type.
absl::StatusOr<ChatTemplateConfig> LoadChatTemplateConfig(const std::string& tokenizer_dir,
                                                          std::string_view name = "");

}  // namespace brisk::tokenizer
