// The api side of the response cache: which parts of an OpenAI request make its cache keys, how a
// finished answer is recorded (both as a JSON body and as SSE chunks), and how a recorded answer
// is replayed under the new request's id and time.
//
// Keys. The exact key hashes (tenant, model, the request body without the fields that cannot
// change the answer: stream, stream_options, user, metadata, priority, store, service_tier) plus
// the endpoint. The semantic tier embeds the last user message (chat) or the text prompt
// (completions) and fingerprints everything else the exact key covers, that text left out; a
// request without such a text (token-id prompts, no user message) has no semantic key.
//
// Recording. A recorded answer is serialized with a placeholder id and created time 0; replay
// swaps in the new values. Both fields open every body and chunk our serializers write (see
// openai_protocol.h), so the swap touches the first occurrence only and never user text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_protocol.h"
#include "cache/cache_store.h"
#include "cache/response_cache.h"

namespace brisk::api {

// The cache keys of a validated request. Returns nullopt when the body cannot be keyed (it
// parsed, so only numbers the canonical encoding refuses get here: such requests bypass the
// cache). `semantic` asks for the semantic key as well.
std::optional<cache::CacheRequest> CacheRequestFor(std::string_view body,
                                                   const ParsedRequest& request,
                                                   std::string_view tenant, bool semantic);

// Whether the default policy caches this request: its answer is reproducible (greedy or seeded;
// cache::IsReproducible).
bool IsCacheable(const ParsedRequest& request);

// A finished answer in both replayable forms. sse_events holds, per choice, the opening chunk
// (chat: the assistant role), one chunk with the whole text (and its logprobs), and the closing
// chunk with the finish reason; the last event is the usage chunk, sent on replay only when the
// client asks for usage.
cache::CachedResponse RecordAnswer(const ParsedRequest& request, const std::string& model,
                                   const std::vector<ChoiceResult>& choices, const Usage& usage,
                                   int64_t compute_time_us);

// `recorded` (a body or a chunk of RecordAnswer) with the placeholder id and time replaced.
std::string Rehead(std::string_view recorded, std::string_view id, int64_t created);

}  // namespace brisk::api
