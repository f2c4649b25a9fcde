#include "api/cached_answers.h"

#include <array>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "cache/cache_key.h"

namespace brisk::api {
namespace {

using OrderedJson = nlohmann::ordered_json;

// An id no real response carries: ours are "chatcmpl-" / "cmpl-" + a request id.
constexpr char kPlaceholderId[] = "brisk-recorded-answer";

// Request fields that change nothing in the answer's content.
constexpr std::array<std::string_view, 7> kIgnoredFields = {
    "stream", "stream_options", "user", "metadata", "priority", "store", "service_tier"};

}  // namespace

bool IsCacheable(const ParsedRequest& request) {
  return cache::IsReproducible(request.sampling.temperature, request.sampling.seed);
}

std::optional<cache::CacheRequest> CacheRequestFor(std::string_view body,
                                                   const ParsedRequest& request,
                                                   std::string_view tenant, bool semantic) {
  OrderedJson keyed = OrderedJson::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!keyed.is_object()) return std::nullopt;
  for (std::string_view field : kIgnoredFields) keyed.erase(std::string(field));
  const bool chat = request.endpoint == Endpoint::kChatCompletions;
  keyed["endpoint"] = chat ? "chat.completions" : "completions";
  absl::StatusOr<cache::CacheKey> exact = cache::MakeCacheKey(tenant, request.model, keyed);
  if (!exact.ok()) return std::nullopt;
  cache::CacheRequest out;
  out.model = request.model;
  out.exact_key = *exact;
  if (!semantic) return out;

  // The text to embed leaves the fingerprint; a marker keeps fingerprints and exact keys apart.
  OrderedJson rest = std::move(keyed);
  rest["semantic_fingerprint"] = 1;
  if (chat) {
    int last_user = -1;
    for (size_t i = 0; i < request.messages.size(); ++i) {
      if (request.messages[i].value("role", "") == "user") last_user = static_cast<int>(i);
    }
    if (last_user < 0 || !request.messages[last_user]["content"].is_string()) return out;
    OrderedJson& messages = rest["messages"];
    if (!messages.is_array() || static_cast<int>(messages.size()) <= last_user) return out;
    out.semantic_text = request.messages[last_user]["content"].get<std::string>();
    messages[last_user]["content"] = nullptr;
  } else {
    const auto* text = std::get_if<std::string>(&request.prompt);
    if (text == nullptr) return out;
    out.semantic_text = *text;
    rest.erase("prompt");
  }
  absl::StatusOr<cache::CacheKey> fingerprint = cache::MakeCacheKey(tenant, request.model, rest);
  if (fingerprint.ok()) out.fingerprint = *fingerprint;
  return out;
}

cache::CachedResponse RecordAnswer(const ParsedRequest& request, const std::string& model,
                                   const std::vector<ChoiceResult>& choices, const Usage& usage,
                                   int64_t compute_time_us) {
  const bool chat = request.endpoint == Endpoint::kChatCompletions;
  const ResponseHeader header{.id = kPlaceholderId, .created = 0, .model = model};
  cache::CachedResponse out;
  out.body_json = chat ? ChatCompletionBody(header, choices, usage)
                       : CompletionBody(header, choices, usage);
  for (const ChoiceResult& choice : choices) {
    ChoiceResult opening;
    opening.index = choice.index;
    ChoiceResult content = choice;  // the whole text and its logprobs, still open
    content.finish_reason.clear();
    ChoiceResult closing;
    closing.index = choice.index;
    closing.finish_reason = choice.finish_reason;
    if (chat) {
      out.sse_events.push_back(ChatChunk(header, opening, DeltaRole::kAssistant,
                                         ChunkUsage::kOmit));
      if (!content.text.empty() || !content.logprobs.empty()) {
        out.sse_events.push_back(ChatChunk(header, content, DeltaRole::kNone,
                                           ChunkUsage::kOmit));
      }
      out.sse_events.push_back(ChatChunk(header, closing, DeltaRole::kNone, ChunkUsage::kOmit));
    } else {
      if (!content.text.empty() || !content.logprobs.empty()) {
        out.sse_events.push_back(CompletionChunk(header, content, ChunkUsage::kOmit));
      }
      out.sse_events.push_back(CompletionChunk(header, closing, ChunkUsage::kOmit));
    }
  }
  out.sse_events.push_back(UsageChunk(header, request.endpoint, usage));
  out.prompt_tokens = usage.prompt_tokens;
  out.completion_tokens = usage.completion_tokens;
  out.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  out.compute_time_us = compute_time_us;
  return out;
}

std::string Rehead(std::string_view recorded, std::string_view id, int64_t created) {
  const std::string old_id = absl::StrCat("\"id\":\"", kPlaceholderId, "\"");
  const std::string_view old_created = "\"created\":0";
  std::string out;
  out.reserve(recorded.size() + id.size() + 16);
  size_t pos = recorded.find(old_id);
  if (pos == std::string_view::npos) return std::string(recorded);
  out.append(recorded.substr(0, pos));
  out += "\"id\":\"";
  out += id;
  out += '"';
  recorded.remove_prefix(pos + old_id.size());
  pos = recorded.find(old_created);
  if (pos != std::string_view::npos) {
    out.append(recorded.substr(0, pos));
    absl::StrAppend(&out, "\"created\":", created);
    recorded.remove_prefix(pos + old_created.size());
  }
  out.append(recorded);
  return out;
}

}  // namespace brisk::api
