// The OpenAI wire protocol, without any I/O: parsing and validating /v1/chat/completions and
// /v1/completions request bodies into a ParsedRequest, serializing responses, stream chunks,
// model lists and errors, and the one table that maps absl status codes to HTTP errors.
// Invariants across the file: no function throws (JSON library exceptions are caught here);
// every error a client sees is an ApiError serialized in the OpenAI error shape; every body
// produced is valid UTF-8 JSON (invalid UTF-8 in given text is replaced by U+FFFD, the raw
// bytes still travel in the logprobs "bytes" fields).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
// SamplingParams comes through the engine interface: api/ may include nothing else of the
// engine's side (tools/check_layering.py).
#include "engine/engine_client.h"
#include "nlohmann/json.hpp"

namespace brisk::api {

// ---------------------------------------------------------------------------------------------
// Errors

// An error as the client sees it. `param` and `code` are serialized as null when empty.
struct ApiError {
  int http_status = 500;
  std::string type;  // "invalid_request_error", "server_error", ...
  std::string message;
  std::string param;
  std::string code;
};

// 400 invalid_request_error; `param` names the offending field ("" for none).
ApiError InvalidRequest(std::string message, std::string param = "");
// 404 invalid_request_error (the OpenAI API answers unknown routes and models this way).
ApiError NotFound(std::string message);
// 404 invalid_request_error, code "model_not_found", param "model".
ApiError ModelNotFound(std::string_view model);
// 401 authentication_error, code "invalid_api_key".
ApiError Unauthorized(std::string message);
// 429 rate_limit_error, code "rate_limit_exceeded".
ApiError RateLimited(std::string message);
// 503 server_error.
ApiError ServiceUnavailable(std::string message);
// 500 server_error.
ApiError InternalError(std::string message);

// The one table from absl codes to HTTP errors:
//   InvalidArgument, FailedPrecondition -> 400 invalid_request_error
//   Unauthenticated -> 401 authentication_error      PermissionDenied -> 403 permission_error
//   NotFound -> 404 invalid_request_error             ResourceExhausted -> 429 rate_limit_error
//   Unavailable -> 503 server_error                   DeadlineExceeded -> 504 timeout_error
//   every other code -> 500 server_error
// The message is the status message. REQUIRES: !status.ok() (an OK status is our bug).
ApiError FromStatus(const absl::Status& status);

// {"error":{"message":..,"type":..,"param":..|null,"code":..|null}}
std::string ErrorBody(const ApiError& error);

// ---------------------------------------------------------------------------------------------
// Requests

enum class Endpoint { kChatCompletions, kCompletions };

// The OpenAI API allows 4 stop strings and vLLM any number; 16 covers every chat template's
// stop list we know of while keeping the stop matcher's per-piece cost small.
inline constexpr int kMaxStopStrings = 16;
// One prompt gives a few choices; more are better served by separate requests.
inline constexpr int kMaxChoices = 16;
// Tool schemas nest a dozen levels at most; the cap keeps recursive consumers of the parsed
// JSON (dump, the chat template) far from the end of the stack.
inline constexpr int kMaxJsonDepth = 128;

// A validated request. Fields that do not apply to the endpoint keep their defaults.
struct ParsedRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string model;  // non-empty

  // Chat only. Each message is an object with string "role" (system, developer, user,
  // assistant, tool) and "content" a string (array content is flattened: its text parts joined
  // with "\n"), or null for an assistant message; other keys (name, tool_calls, tool_call_id)
  // are passed on unchanged for the chat template.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // non-empty array
  nlohmann::ordered_json tools;  // the request's array, unchanged; null when absent
  bool add_generation_prompt = true;

  // Completions only: the prompt text, or its token ids (each >= 0; non-empty).
  std::variant<std::string, std::vector<int32_t>> prompt;

  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage; false unless stream

  // Absent means "up to the context": the caller then sets sampling.max_tokens. When present,
  // sampling.max_tokens equals it. Chat takes max_completion_tokens over max_tokens.
  std::optional<int> max_tokens;
  // temperature, top_k (-1 in the request becomes 0 = off), top_p, min_p, penalties, seed
  // (negative seeds stored by two's complement), stop_token_ids, ignore_eos, max_tokens.
  sampling::SamplingParams sampling;
  std::vector<std::string> stop;  // each non-empty; at most kMaxStopStrings
  // -1: no logprobs; 0..engine::kMaxTopLogprobs: the sampled token's logprob plus this many
  // alternatives (chat: logprobs=true with top_logprobs; completions: logprobs=<int>).
  int num_top_logprobs = -1;
  int n = 1;  // choices, 1..kMaxChoices
  std::string user;
  int priority = 0;
};

// Either the request or the 400 to send back.
using ParseResult = std::variant<ParsedRequest, ApiError>;

// Parses and validates a request body. Never throws. Every rejection is a 400
// invalid_request_error naming the field in `param` where there is one: malformed JSON (with
// the byte offset), JSON nested deeper than kMaxJsonDepth levels, a body that is not an object, an
// unknown top-level field ("Unrecognized request argument supplied: <name>"), a wrong type
// ("Invalid type for 'x': expected ..., but got ..."), a value out of range ("Invalid value
// for 'x': expected ..., but got <value>."), a missing required field (model, messages,
// prompt), non-text content parts, batched prompts, and unsupported options (echo, suffix,
// best_of != n, logit_bias, response_format other than text). JSON nulls mean "absent".
// Thread-safe.
ParseResult ParseChatCompletionRequest(std::string_view body);
ParseResult ParseCompletionRequest(std::string_view body);

// ---------------------------------------------------------------------------------------------
// Responses

struct TopLogprobEntry {
  std::string token;           // may be invalid UTF-8 (part of a character); see `bytes`
  std::vector<uint8_t> bytes;  // the token's raw bytes
  float logprob = 0;           // -inf is sent as -9999.0
};

struct LogprobEntry {
  std::string token;
  std::vector<uint8_t> bytes;
  float logprob = 0;                  // -inf is sent as -9999.0
  std::vector<TopLogprobEntry> top;  // most likely first
};

// One choice of a response, or the piece of it that a stream chunk carries.
struct ChoiceResult {
  int index = 0;
  std::string text;           // the whole text, or the delta in a chunk
  std::string finish_reason;  // "stop", "length", or empty while streaming (sent as null)
  std::vector<LogprobEntry> logprobs;  // one per token of `text` when has_logprobs
  bool has_logprobs = false;           // false: "logprobs": null
  // Completions only: code points of this choice's text before `text` (a chunk's position),
  // the start of the legacy logprobs "text_offset" list.
  int text_offset = 0;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens served from the prefix cache
};

struct ResponseHeader {
  std::string id;       // "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// Whether a stream chunk opens its choice with "role":"assistant" (chat only).
enum class DeltaRole { kNone, kAssistant };
// With stream_options.include_usage the OpenAI API puts "usage": null on every chunk but the
// final usage chunk; kNull does that.
enum class ChunkUsage { kOmit, kNull };

// Floats are written so that they parse back to the same float; non-finite logprobs (-inf for
// a token the model gives no mass) are written as -9999.0, as vLLM and the OpenAI API do,
// because JSON has no infinity. Choices are written in the given order. Never throws.

// {"id","object":"chat.completion","created","model","choices":[{"index","message":{"role":
// "assistant","content"},"logprobs":{"content":[{"token","logprob","bytes","top_logprobs":
// [{"token","logprob","bytes"}]}]}|null,"finish_reason"}],"usage":{"prompt_tokens",
// "completion_tokens","total_tokens","prompt_tokens_details":{"cached_tokens"}}}
std::string ChatCompletionBody(const ResponseHeader& header,
                               const std::vector<ChoiceResult>& choices, const Usage& usage);

// {"id","object":"text_completion","created","model","choices":[{"text","index","logprobs":
// {"tokens","token_logprobs","top_logprobs":[{token:logprob}],"text_offset"}|null,
// "finish_reason"}],"usage":{...as above}}
std::string CompletionBody(const ResponseHeader& header, const std::vector<ChoiceResult>& choices,
                           const Usage& usage);

// One "chat.completion.chunk" with one choice. The delta holds "role":"assistant" when `role`
// is kAssistant, "content" when `role` is kAssistant or the text is non-empty, and is {}
// otherwise (the closing chunk that only carries finish_reason).
std::string ChatChunk(const ResponseHeader& header, const ChoiceResult& delta, DeltaRole role,
                      ChunkUsage usage);

// One streamed "text_completion" object with one choice (the OpenAI API reuses the object name).
std::string CompletionChunk(const ResponseHeader& header, const ChoiceResult& delta,
                            ChunkUsage usage);

// The final usage chunk of a stream with include_usage: "choices": [] and the usage.
std::string UsageChunk(const ResponseHeader& header, Endpoint endpoint, const Usage& usage);

// "data: <json>\n\n", one Server-Sent Event. REQUIRES: `json` holds no newline (our
// serializers never write one).
std::string SseEvent(std::string_view json);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

struct ModelCard {
  std::string id;
  int64_t created = 0;  // Unix seconds
  std::string owned_by = "brisk";
  int max_model_len = 0;
  int vocab_size = 0;
};

// {"object":"list","data":[{"id","object":"model","created","owned_by","max_model_len",
// "vocab_size"}]}
std::string ModelsBody(const std::vector<ModelCard>& models);
// One card alone, for GET /v1/models/{id}.
std::string ModelBody(const ModelCard& model);

}  // namespace brisk::api
