// Serialization of OpenAI responses, stream chunks and model lists (see openai_protocol.h).
// Bodies are built as nlohmann::ordered_json so keys keep the order the OpenAI API uses, and
// dumped with invalid UTF-8 replaced by U+FFFD, so every body is valid JSON.
#include <charconv>
#include <cmath>
#include <system_error>

#include "api/json_util.h"
#include "api/openai_protocol.h"
#include "base/check.h"

namespace brisk::api {
namespace {

using Json = nlohmann::ordered_json;
using json::Dump;

// The double nearest to the shortest decimal that reads back as `value`: written by
// nlohmann (shortest round trip for doubles) it is that short decimal, so a client parsing
// it as a float gets `value` back exactly.
double FloatForJson(float value) {
  char buffer[32];
  const auto written = std::to_chars(buffer, buffer + sizeof(buffer), value);
  BRISK_CHECK(written.ec == std::errc());
  double out = 0;
  std::from_chars(buffer, written.ptr, out);
  return out;
}

// JSON has no infinity; -9999.0 stands for a token without probability mass, as in vLLM and
// the OpenAI API.
double LogprobForJson(float logprob) {
  constexpr double kNoMass = -9999.0;
  return std::isfinite(logprob) ? FloatForJson(logprob) : kNoMass;
}

Json BytesJson(const std::vector<uint8_t>& bytes) {
  Json out = Json::array();
  for (uint8_t b : bytes) out.push_back(b);
  return out;
}

Json ChatLogprobsJson(const ChoiceResult& choice) {
  if (!choice.has_logprobs) return nullptr;
  Json content = Json::array();
  for (const LogprobEntry& entry : choice.logprobs) {
    Json top = Json::array();
    for (const TopLogprobEntry& alt : entry.top) {
      top.push_back({{"token", alt.token},
                     {"logprob", LogprobForJson(alt.logprob)},
                     {"bytes", BytesJson(alt.bytes)}});
    }
    content.push_back({{"token", entry.token},
                       {"logprob", LogprobForJson(entry.logprob)},
                       {"bytes", BytesJson(entry.bytes)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

// UTF-8 code points in `text`: bytes that are not continuation bytes (10xxxxxx).
int CountCodePoints(absl::string_view text) {
  int count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

Json LegacyLogprobsJson(const ChoiceResult& choice) {
  if (!choice.has_logprobs) return nullptr;
  Json tokens = Json::array();
  Json token_logprobs = Json::array();
  Json top_logprobs = Json::array();
  Json text_offset = Json::array();
  int offset = choice.text_offset;
  for (const LogprobEntry& entry : choice.logprobs) {
    tokens.push_back(entry.token);
    token_logprobs.push_back(LogprobForJson(entry.logprob));
    Json top = Json::object();
    for (const TopLogprobEntry& alt : entry.top) {
      // Two ids may decode to the same text; the more likely one (listed first) keeps the key.
      if (!top.contains(alt.token)) top[alt.token] = LogprobForJson(alt.logprob);
    }
    top_logprobs.push_back(std::move(top));
    text_offset.push_back(offset);
    offset += CountCodePoints(entry.token);
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(top_logprobs)},
          {"text_offset", std::move(text_offset)}};
}

Json FinishReasonJson(const ChoiceResult& choice) {
  if (choice.finish_reason.empty()) return nullptr;
  return choice.finish_reason;
}

Json UsageJson(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}}};
}

Json Envelope(const ResponseHeader& header, absl::string_view object) {
  return {{"id", header.id},
          {"object", object},
          {"created", header.created},
          {"model", header.model}};
}

Json CompletionChoiceJson(const ChoiceResult& choice) {
  return {{"text", choice.text},
          {"index", choice.index},
          {"logprobs", LegacyLogprobsJson(choice)},
          {"finish_reason", FinishReasonJson(choice)}};
}

Json ModelCardJson(const ModelCard& model) {
  return {{"id", model.id},
          {"object", "model"},
          {"created", model.created},
          {"owned_by", model.owned_by},
          {"max_model_len", model.max_model_len},
          {"vocab_size", model.vocab_size}};
}

}  // namespace

std::string ChatCompletionBody(const ResponseHeader& header,
                               const std::vector<ChoiceResult>& choices, const Usage& usage) {
  Json body = Envelope(header, "chat.completion");
  Json out_choices = Json::array();
  for (const ChoiceResult& choice : choices) {
    out_choices.push_back({{"index", choice.index},
                           {"message", {{"role", "assistant"}, {"content", choice.text}}},
                           {"logprobs", ChatLogprobsJson(choice)},
                           {"finish_reason", FinishReasonJson(choice)}});
  }
  body["choices"] = std::move(out_choices);
  body["usage"] = UsageJson(usage);
  return Dump(body);
}

std::string CompletionBody(const ResponseHeader& header, const std::vector<ChoiceResult>& choices,
                           const Usage& usage) {
  Json body = Envelope(header, "text_completion");
  Json out_choices = Json::array();
  for (const ChoiceResult& choice : choices) out_choices.push_back(CompletionChoiceJson(choice));
  body["choices"] = std::move(out_choices);
  body["usage"] = UsageJson(usage);
  return Dump(body);
}

std::string ChatChunk(const ResponseHeader& header, const ChoiceResult& delta, DeltaRole role,
                      ChunkUsage usage) {
  Json delta_json = Json::object();
  if (role == DeltaRole::kAssistant) delta_json["role"] = "assistant";
  if (role == DeltaRole::kAssistant || !delta.text.empty()) delta_json["content"] = delta.text;
  Json body = Envelope(header, "chat.completion.chunk");
  body["choices"] = Json::array({Json{{"index", delta.index},
                                      {"delta", std::move(delta_json)},
                                      {"logprobs", ChatLogprobsJson(delta)},
                                      {"finish_reason", FinishReasonJson(delta)}}});
  if (usage == ChunkUsage::kNull) body["usage"] = nullptr;
  return Dump(body);
}

std::string CompletionChunk(const ResponseHeader& header, const ChoiceResult& delta,
                            ChunkUsage usage) {
  Json body = Envelope(header, "text_completion");
  body["choices"] = Json::array({CompletionChoiceJson(delta)});
  if (usage == ChunkUsage::kNull) body["usage"] = nullptr;
  return Dump(body);
}

std::string UsageChunk(const ResponseHeader& header, Endpoint endpoint, const Usage& usage) {
  Json body = Envelope(header, endpoint == Endpoint::kChatCompletions ? "chat.completion.chunk"
                                                                      : "text_completion");
  body["choices"] = Json::array();
  body["usage"] = UsageJson(usage);
  return Dump(body);
}

std::string SseEvent(std::string_view json) {
  std::string event = "data: ";
  event.append(json);
  event.append("\n\n");
  return event;
}

std::string ModelsBody(const std::vector<ModelCard>& models) {
  Json data = Json::array();
  for (const ModelCard& model : models) data.push_back(ModelCardJson(model));
  return Dump(Json{{"object", "list"}, {"data", std::move(data)}});
}

std::string ModelBody(const ModelCard& model) { return Dump(ModelCardJson(model)); }

}  // namespace brisk::api
