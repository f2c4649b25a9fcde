// The OpenAI /v1/embeddings protocol, without I/O: parsing and validating a request body, and
// serializing the list of vectors. Same invariants as openai_protocol.h: nothing throws, every
// rejection is a 400 invalid_request_error naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/openai_protocol.h"

namespace brisk::api {

// The OpenAI API takes at most 2048 inputs per request.
inline constexpr int kMaxEmbeddingInputs = 2048;

struct EmbeddingRequest {
  std::string model;
  // `input` as texts (a string, or an array of strings) or as token ids (an array of integers,
  // or an array of such arrays). Never empty; no text or id list is empty.
  std::variant<std::vector<std::string>, std::vector<std::vector<int32_t>>> input;
  bool base64 = false;            // encoding_format "base64" (else "float")
  std::optional<int> dimensions;  // >= 1 when present
  std::string user;
};

using EmbeddingParseResult = std::variant<EmbeddingRequest, ApiError>;

// Parses a /v1/embeddings body: model (required), input (required), encoding_format, dimensions,
// user; any other field is refused as unrecognized.
EmbeddingParseResult ParseEmbeddingRequest(std::string_view body);

// {"object":"list","data":[{"object":"embedding","index":i,"embedding":[floats] | "base64"}],
//  "model":..,"usage":{"prompt_tokens":n,"total_tokens":n}}
// Floats are written in their shortest round-trip form; base64 holds the little-endian f32 bytes
// (what the OpenAI clients decode).
std::string EmbeddingsBody(std::string_view model, const std::vector<std::vector<float>>& vectors,
                           bool base64, int prompt_tokens);

// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string Base64Encode(std::string_view bytes);

}  // namespace brisk::api
