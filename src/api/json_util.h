// JSON helpers shared by the OpenAI request parsers and serializers: reading a request body into
// an object (with a nesting limit and the parser's error position), describing values in error
// messages the way the OpenAI API words them, and dumping without ever throwing.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"
#include "api/openai_protocol.h"
#include "nlohmann/json.hpp"

namespace brisk::api::json {

using Json = nlohmann::ordered_json;

// The JSON text of `value`, invalid UTF-8 replaced by U+FFFD (never throws).
std::string Dump(const Json& value);

// "a string", "an integer", ... as the OpenAI API words the type it got.
std::string Describe(const Json& value);

// The value as JSON text, shortened so that an error never echoes a whole document.
std::string Shown(const Json& value);

// "Invalid type for 'x': expected E, but got a string."
ApiError TypeError(absl::string_view param, absl::string_view expected, const Json& got);
// "Invalid value for 'x': expected E, but got <value>."
ApiError ValueError(absl::string_view param, absl::string_view expected, const Json& got);
// "Missing required parameter: 'x'."
ApiError MissingError(absl::string_view param);

// Rejects nesting deeper than kMaxJsonDepth before a parser builds it. Brackets inside strings
// do not count; malformed JSON is left to the parser.
std::optional<ApiError> CheckNestingDepth(absl::string_view body);

// nlohmann's what() without its "[json.exception.parse_error.101] " prefix.
absl::string_view ErrorText(absl::string_view what);

// The body as a JSON object, or the 400 to send: nesting too deep, malformed JSON (with the
// byte offset), or not an object. Never throws.
std::variant<Json, ApiError> ParseObject(absl::string_view body);

}  // namespace brisk::api::json
