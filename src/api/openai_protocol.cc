// Parsing is table-driven: kFields lists every top-level field each endpoint accepts with the
// function that checks it and stores it into a Draft; Finish() then applies the rules that
// span several fields (required fields, stream_options needs stream, top_logprobs needs
// logprobs, best_of == n). Any field not in the table is rejected, as the OpenAI API does.
// Serialization lives in openai_responses.cc.
#include "api/openai_protocol.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/json_util.h"
#include "base/check.h"

namespace brisk::api {
namespace {

using Json = nlohmann::ordered_json;
using MaybeError = std::optional<ApiError>;
using json::Describe;
using json::MissingError;
using json::TypeError;
using json::ValueError;

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

// ------------------------------------------------------------------------------ errors

ApiError MakeError(int http_status, std::string type, std::string message, std::string param,
                   std::string code) {
  return ApiError{.http_status = http_status,
                  .type = std::move(type),
                  .message = std::move(message),
                  .param = std::move(param),
                  .code = std::move(code)};
}

// ------------------------------------------------------------------------------ readers
// Each reader checks one value (never null: nulls are "absent" and skipped by the caller)
// and stores it on success.

MaybeError ReadBool(const Json& v, absl::string_view param, bool* out) {
  if (!v.is_boolean()) return TypeError(param, "a boolean", v);
  *out = v.get<bool>();
  return std::nullopt;
}

MaybeError ReadString(const Json& v, absl::string_view param, std::string* out) {
  if (!v.is_string()) return TypeError(param, "a string", v);
  *out = v.get<std::string>();
  return std::nullopt;
}

// An integer in [lo, hi]; `expected` words the range for the error ("an integer >= 1").
MaybeError ReadInt(const Json& v, absl::string_view param, int64_t lo, int64_t hi,
                   absl::string_view expected, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    // nlohmann stores every non-negative integer as unsigned, so `lo` matters here too.
    const bool below = lo > 0 && u < static_cast<uint64_t>(lo);
    if (below || hi < 0 || u > static_cast<uint64_t>(hi)) return ValueError(param, expected, v);
    *out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) return ValueError(param, expected, v);
    *out = x;
  } else if (v.is_number_float()) {
    // 1e30 is an integer written in a way nlohmann stores as a double: call it out of range.
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::trunc(d)) return ValueError(param, expected, v);
    return TypeError(param, "an integer", v);
  } else {
    return TypeError(param, "an integer", v);
  }
  return std::nullopt;
}

// ReadInt for an `int` or `std::optional<int>` target. REQUIRES: [lo, hi] within int32.
template <typename Out>
MaybeError ReadInt32(const Json& v, absl::string_view param, int64_t lo, int64_t hi,
                     absl::string_view expected, Out* out) {
  int64_t x = 0;
  if (auto error = ReadInt(v, param, lo, hi, expected, &x)) return error;
  *out = static_cast<int>(x);
  return std::nullopt;
}

// An allowed interval of a float field; `expected` words it for the error.
struct Interval {
  double lo;
  double hi;
  bool lo_open;
  absl::string_view expected;
};

MaybeError ReadFloat(const Json& v, absl::string_view param, const Interval& interval,
                     float* out) {
  if (!v.is_number()) return TypeError(param, "a number", v);
  const double d = v.get<double>();
  const bool above_lo = interval.lo_open ? d > interval.lo : d >= interval.lo;
  if (!std::isfinite(d) || !above_lo || d > interval.hi) {
    return ValueError(param, interval.expected, v);
  }
  *out = static_cast<float>(d);
  return std::nullopt;
}

// ------------------------------------------------------------------------------ draft

// What the field parsers collect before Finish() checks the rules that span fields.
struct Draft {
  ParsedRequest req;
  bool has_model = false;
  bool has_messages = false;
  bool has_prompt = false;
  bool has_stream_options = false;
  bool stream_options_include_usage = false;
  bool chat_logprobs = false;
  std::optional<int> top_logprobs;
  std::optional<int> max_tokens;
  std::optional<int> max_completion_tokens;
  std::optional<int> best_of;
};

bool IsMediaPartType(absl::string_view type) {
  return type == "image_url" || type == "input_audio" || type == "file" || type == "image" ||
         type == "audio" || type == "video" || type == "video_url";
}

// Joins the text parts of an array content into one string; rejects every other part type.
MaybeError FlattenContent(const Json& parts, const std::string& param, std::string* out) {
  std::string text;
  for (size_t j = 0; j < parts.size(); ++j) {
    const std::string part_param = absl::StrCat(param, "[", j, "]");
    const Json& part = parts[j];
    if (!part.is_object()) return TypeError(part_param, "an object", part);
    const std::string type_param = absl::StrCat(part_param, ".type");
    auto type_it = part.find("type");
    if (type_it == part.end() || type_it->is_null()) return MissingError(type_param);
    std::string type;
    if (auto error = ReadString(*type_it, type_param, &type)) return error;
    if (IsMediaPartType(type)) {
      return InvalidRequest(absl::StrCat("This model takes text only: content part '",
                                         part_param, "' has type '", type,
                                         "', which is not supported."),
                            type_param);
    }
    if (type != "text") return ValueError(type_param, "'text'", *type_it);
    const std::string text_param = absl::StrCat(part_param, ".text");
    auto text_it = part.find("text");
    if (text_it == part.end() || text_it->is_null()) return MissingError(text_param);
    std::string piece;
    if (auto error = ReadString(*text_it, text_param, &piece)) return error;
    // Parts are joined with a newline, as vLLM does, so two paragraphs sent as two parts do
    // not run together.
    if (j > 0) text += '\n';
    text += piece;
  }
  *out = std::move(text);
  return std::nullopt;
}

MaybeError ParseMessage(const Json& message, size_t idx, Json* out) {
  const std::string param = absl::StrCat("messages[", idx, "]");
  if (!message.is_object()) return TypeError(param, "an object", message);
  const std::string role_param = absl::StrCat(param, ".role");
  auto role_it = message.find("role");
  if (role_it == message.end() || role_it->is_null()) return MissingError(role_param);
  std::string role;
  if (auto error = ReadString(*role_it, role_param, &role)) return error;
  if (role != "system" && role != "developer" && role != "user" && role != "assistant" &&
      role != "tool") {
    return ValueError(role_param, "one of 'system', 'developer', 'user', 'assistant', 'tool'",
                      *role_it);
  }
  *out = message;
  const std::string content_param = absl::StrCat(param, ".content");
  auto content_it = message.find("content");
  if (content_it == message.end() || content_it->is_null()) {
    // An assistant turn that only called tools has no content.
    if (role != "assistant") return MissingError(content_param);
    (*out)["content"] = nullptr;
    return std::nullopt;
  }
  if (content_it->is_string()) return std::nullopt;
  if (!content_it->is_array()) {
    return TypeError(content_param, "a string or an array of content parts", *content_it);
  }
  std::string text;
  if (auto error = FlattenContent(*content_it, content_param, &text)) return error;
  (*out)["content"] = std::move(text);
  return std::nullopt;
}

MaybeError ParseMessages(const Json& v, Draft& d) {
  if (!v.is_array()) return TypeError("messages", "an array", v);
  if (v.empty()) {
    return InvalidRequest("'messages' must contain at least one message.", "messages");
  }
  Json messages = Json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    Json message;
    if (auto error = ParseMessage(v[i], i, &message)) return error;
    messages.push_back(std::move(message));
  }
  d.req.messages = std::move(messages);
  d.has_messages = true;
  return std::nullopt;
}

// A list of token ids (each in [0, 2^31)), non-empty.
MaybeError ReadTokenIds(const Json& v, absl::string_view param, std::vector<int32_t>* out) {
  if (v.empty()) return InvalidRequest(absl::StrCat("'", param, "' must not be empty."),
                                       std::string(param));
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int id = 0;
    if (auto error = ReadInt32(v[i], absl::StrCat(param, "[", i, "]"), 0, kInt32Max,
                               "a token id (an integer >= 0)", &id)) {
      return error;
    }
    ids.push_back(id);
  }
  *out = std::move(ids);
  return std::nullopt;
}

MaybeError ParsePrompt(const Json& v, Draft& d) {
  d.has_prompt = true;
  if (v.is_string()) {
    d.req.prompt = v.get<std::string>();
    return std::nullopt;
  }
  constexpr absl::string_view kExpected =
      "a string, an array of token ids, or an array holding one of these";
  if (!v.is_array()) return TypeError("prompt", kExpected, v);
  if (v.empty()) return InvalidRequest("'prompt' must not be empty.", "prompt");
  std::vector<int32_t> ids;
  const Json& first = v[0];
  if (first.is_string() || first.is_array()) {
    if (v.size() > 1) {
      return InvalidRequest("batched prompts are not supported; send one request per prompt",
                            "prompt");
    }
    if (first.is_string()) {
      d.req.prompt = first.get<std::string>();
      return std::nullopt;
    }
    if (auto error = ReadTokenIds(first, "prompt[0]", &ids)) return error;
  } else if (first.is_number()) {
    if (auto error = ReadTokenIds(v, "prompt", &ids)) return error;
  } else {
    return TypeError("prompt[0]", "a string, a token id or an array of token ids", first);
  }
  d.req.prompt = std::move(ids);
  return std::nullopt;
}

MaybeError ParseStop(const Json& v, Draft& d) {
  std::vector<std::string> stop;
  auto add = [&stop](const Json& s, absl::string_view param) -> MaybeError {
    std::string text;
    if (auto error = ReadString(s, param, &text)) return error;
    if (text.empty()) return ValueError(param, "a non-empty string", s);
    stop.push_back(std::move(text));
    return std::nullopt;
  };
  if (v.is_string()) {
    if (auto error = add(v, "stop")) return error;
  } else if (v.is_array()) {
    if (v.size() > static_cast<size_t>(kMaxStopStrings)) {
      return InvalidRequest(absl::StrCat("Invalid value for 'stop': at most ", kMaxStopStrings,
                                         " stop strings are allowed, but got ", v.size(), "."),
                            "stop");
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (auto error = add(v[i], absl::StrCat("stop[", i, "]"))) return error;
    }
  } else {
    return TypeError("stop", "a string or an array of strings", v);
  }
  d.req.stop = std::move(stop);
  return std::nullopt;
}

MaybeError ParseStopTokenIds(const Json& v, Draft& d) {
  if (!v.is_array()) return TypeError("stop_token_ids", "an array of integers", v);
  std::vector<int32_t> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    int id = 0;
    if (auto error = ReadInt32(v[i], absl::StrCat("stop_token_ids[", i, "]"), 0, kInt32Max,
                               "a token id (an integer >= 0)", &id)) {
      return error;
    }
    ids.push_back(id);
  }
  d.req.sampling.stop_token_ids = std::move(ids);
  return std::nullopt;
}

// Any 64-bit integer, signed or not: negative seeds keep their two's-complement bits.
MaybeError ParseSeed(const Json& v, Draft& d) {
  if (v.is_number_unsigned()) {
    d.req.sampling.seed = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    d.req.sampling.seed = static_cast<uint64_t>(v.get<int64_t>());
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
             v.get<double>() == std::trunc(v.get<double>())) {
    return ValueError("seed", "an integer in [-2^63, 2^64)", v);
  } else {
    return TypeError("seed", "an integer", v);
  }
  return std::nullopt;
}

MaybeError ParseStreamOptions(const Json& v, Draft& d) {
  if (!v.is_object()) return TypeError("stream_options", "an object", v);
  d.has_stream_options = true;
  // Other keys (include_obfuscation, vLLM's continuous_usage_stats) change nothing here.
  auto it = v.find("include_usage");
  if (it == v.end() || it->is_null()) return std::nullopt;
  return ReadBool(*it, "stream_options.include_usage", &d.stream_options_include_usage);
}

MaybeError ParseLogprobs(const Json& v, Draft& d) {
  if (d.req.endpoint == Endpoint::kChatCompletions) {
    return ReadBool(v, "logprobs", &d.chat_logprobs);
  }
  return ReadInt32(v, "logprobs", 0, engine::kMaxTopLogprobs,
                   absl::StrCat("an integer in [0, ", engine::kMaxTopLogprobs, "]"),
                   &d.req.num_top_logprobs);
}

MaybeError ParseResponseFormat(const Json& v, Draft& d) {
  if (!v.is_object()) return TypeError("response_format", "an object", v);
  auto it = v.find("type");
  if (it == v.end() || it->is_null()) return MissingError("response_format.type");
  std::string type;
  if (auto error = ReadString(*it, "response_format.type", &type)) return error;
  if (type == "text") return std::nullopt;
  return InvalidRequest(absl::StrCat("response_format of type '", type,
                                     "' is not supported; only 'text' is."),
                        "response_format");
}

MaybeError ParseLogitBias(const Json& v, Draft& d) {
  if (!v.is_object()) return TypeError("logit_bias", "an object", v);
  if (v.empty()) return std::nullopt;
  return InvalidRequest("logit_bias is not supported; send null or {}.", "logit_bias");
}

MaybeError ParseEcho(const Json& v, Draft& d) {
  bool echo = false;
  if (auto error = ReadBool(v, "echo", &echo)) return error;
  if (!echo) return std::nullopt;
  return InvalidRequest("echo=true is not supported; send false or leave it out.", "echo");
}

MaybeError ParseSuffix(const Json& v, Draft& d) {
  if (!v.is_string()) return TypeError("suffix", "a string", v);
  // An empty suffix asks for nothing, so it is accepted like null.
  if (v.get_ref<const std::string&>().empty()) return std::nullopt;
  return InvalidRequest("suffix is not supported; send null or leave it out.", "suffix");
}

MaybeError Ignore(const Json& v, Draft& d) { return std::nullopt; }

// ------------------------------------------------------------------------------ field table

enum EndpointMask : unsigned { kChatOnly = 1, kCompletionsOnly = 2, kBoth = 3 };

struct FieldRule {
  absl::string_view name;
  unsigned endpoints;
  MaybeError (*parse)(const Json& value, Draft& d);  // never given null
};

constexpr Interval kTemperature{0, 2, false, "a number in [0, 2]"};
constexpr Interval kTopP{0, 1, true, "a number in (0, 1]"};
constexpr Interval kMinP{0, 1, false, "a number in [0, 1]"};
constexpr Interval kAdditivePenalty{-2, 2, false, "a number in [-2, 2]"};
constexpr Interval kRepetitionPenalty{0, std::numeric_limits<double>::max(), true,
                                      "a number > 0"};

constexpr FieldRule kFields[] = {
    {"model", kBoth,
     [](const Json& v, Draft& d) -> MaybeError {
       if (auto error = ReadString(v, "model", &d.req.model)) return error;
       if (d.req.model.empty()) return ValueError("model", "a non-empty string", v);
       d.has_model = true;
       return std::nullopt;
     }},
    {"messages", kChatOnly, ParseMessages},
    {"prompt", kCompletionsOnly, ParsePrompt},
    {"tools", kChatOnly,
     [](const Json& v, Draft& d) -> MaybeError {
       if (!v.is_array()) return TypeError("tools", "an array", v);
       d.req.tools = v;
       return std::nullopt;
     }},
    {"add_generation_prompt", kChatOnly,
     [](const Json& v, Draft& d) {
       return ReadBool(v, "add_generation_prompt", &d.req.add_generation_prompt);
     }},
    {"stream", kBoth, [](const Json& v, Draft& d) { return ReadBool(v, "stream", &d.req.stream); }},
    {"stream_options", kBoth, ParseStreamOptions},
    {"max_tokens", kBoth,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "max_tokens", 1, kInt32Max, "an integer >= 1", &d.max_tokens);
     }},
    {"max_completion_tokens", kChatOnly,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "max_completion_tokens", 1, kInt32Max, "an integer >= 1",
                        &d.max_completion_tokens);
     }},
    {"temperature", kBoth,
     [](const Json& v, Draft& d) {
       return ReadFloat(v, "temperature", kTemperature, &d.req.sampling.temperature);
     }},
    {"top_p", kBoth,
     [](const Json& v, Draft& d) { return ReadFloat(v, "top_p", kTopP, &d.req.sampling.top_p); }},
    {"top_k", kBoth,
     [](const Json& v, Draft& d) {  // -1 becomes 0 (off) in Finish()
       return ReadInt32(v, "top_k", -1, kInt32Max, "an integer >= 1, or -1 or 0 to disable top-k",
                        &d.req.sampling.top_k);
     }},
    {"min_p", kBoth,
     [](const Json& v, Draft& d) { return ReadFloat(v, "min_p", kMinP, &d.req.sampling.min_p); }},
    {"seed", kBoth, ParseSeed},
    {"stop", kBoth, ParseStop},
    {"stop_token_ids", kBoth, ParseStopTokenIds},
    {"presence_penalty", kBoth,
     [](const Json& v, Draft& d) {
       return ReadFloat(v, "presence_penalty", kAdditivePenalty,
                        &d.req.sampling.presence_penalty);
     }},
    {"frequency_penalty", kBoth,
     [](const Json& v, Draft& d) {
       return ReadFloat(v, "frequency_penalty", kAdditivePenalty,
                        &d.req.sampling.frequency_penalty);
     }},
    {"repetition_penalty", kBoth,
     [](const Json& v, Draft& d) {
       return ReadFloat(v, "repetition_penalty", kRepetitionPenalty,
                        &d.req.sampling.repetition_penalty);
     }},
    {"logprobs", kBoth, ParseLogprobs},
    {"top_logprobs", kChatOnly,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "top_logprobs", 0, engine::kMaxTopLogprobs,
                        absl::StrCat("an integer in [0, ", engine::kMaxTopLogprobs, "]"),
                        &d.top_logprobs);
     }},
    {"n", kBoth,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "n", 1, kMaxChoices, "an integer in [1, 16]", &d.req.n);
     }},
    {"best_of", kCompletionsOnly,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "best_of", 1, kMaxChoices, "an integer in [1, 16]", &d.best_of);
     }},
    {"user", kBoth, [](const Json& v, Draft& d) { return ReadString(v, "user", &d.req.user); }},
    {"priority", kBoth,
     [](const Json& v, Draft& d) {
       return ReadInt32(v, "priority", kInt32Min, kInt32Max, "a 32-bit integer",
                        &d.req.priority);
     }},
    {"ignore_eos", kBoth,
     [](const Json& v, Draft& d) {
       return ReadBool(v, "ignore_eos", &d.req.sampling.ignore_eos);
     }},
    {"echo", kCompletionsOnly, ParseEcho},
    {"suffix", kCompletionsOnly, ParseSuffix},
    {"response_format", kChatOnly, ParseResponseFormat},
    {"logit_bias", kBoth, ParseLogitBias},
    // Accepted and ignored: they change nothing a single local engine does.
    {"tool_choice", kChatOnly, Ignore},
    {"parallel_tool_calls", kChatOnly, Ignore},
    {"store", kBoth, Ignore},
    {"metadata", kBoth, Ignore},
    {"service_tier", kBoth, Ignore},
};

const FieldRule* FindField(absl::string_view name, Endpoint endpoint) {
  const unsigned bit = endpoint == Endpoint::kChatCompletions ? kChatOnly : kCompletionsOnly;
  for (const FieldRule& rule : kFields) {
    if (rule.name == name) return (rule.endpoints & bit) != 0 ? &rule : nullptr;
  }
  return nullptr;
}

// The rules that span several fields, then the sampling library's own check.
ParseResult Finish(Draft d) {
  ParsedRequest& req = d.req;
  const bool chat = req.endpoint == Endpoint::kChatCompletions;
  if (!d.has_model) return MissingError("model");
  if (chat && !d.has_messages) return MissingError("messages");
  if (!chat && !d.has_prompt) return MissingError("prompt");
  if (d.has_stream_options && !req.stream) {
    return InvalidRequest(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options");
  }
  req.include_usage = req.stream && d.stream_options_include_usage;
  if (req.sampling.top_k < 0) req.sampling.top_k = 0;
  if (chat) {
    if (d.top_logprobs.has_value() && !d.chat_logprobs) {
      return InvalidRequest("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
    }
    req.num_top_logprobs = d.chat_logprobs ? d.top_logprobs.value_or(0) : -1;
  }
  if (d.best_of.has_value() && *d.best_of != req.n) {
    return InvalidRequest(absl::StrCat("best_of (", *d.best_of, ") must equal n (", req.n,
                                       "): choosing the best of several samples is not "
                                       "supported."),
                          "best_of");
  }
  req.max_tokens = chat && d.max_completion_tokens.has_value() ? d.max_completion_tokens
                                                               : d.max_tokens;
  if (req.max_tokens.has_value()) req.sampling.max_tokens = *req.max_tokens;
  if (absl::Status status = sampling::ValidateSamplingParams(req.sampling); !status.ok()) {
    return InvalidRequest(std::string(status.message()));
  }
  return std::move(req);
}

ParseResult Parse(absl::string_view body, Endpoint endpoint) {
  std::variant<Json, ApiError> parsed = json::ParseObject(body);
  if (const ApiError* e = std::get_if<ApiError>(&parsed)) return *e;
  try {
    const Json& root = std::get<Json>(parsed);
    Draft d;
    d.req.endpoint = endpoint;
    for (const auto& [name, value] : root.items()) {
      const FieldRule* rule = FindField(name, endpoint);
      if (rule == nullptr) {
        return InvalidRequest(absl::StrCat("Unrecognized request argument supplied: ", name),
                              name);
      }
      if (value.is_null()) continue;
      if (auto error = rule->parse(value, d)) return *error;
    }
    return Finish(std::move(d));
  } catch (const Json::exception& e) {
    // Every value is type-checked before it is read, so this is a missed case: still the
    // client's request that triggered it, and still no exception may leave this file.
    return InvalidRequest(absl::StrCat("The request body could not be read: ",
                                       json::ErrorText(e.what())));
  }
}

}  // namespace

// ------------------------------------------------------------------------------ public

ApiError InvalidRequest(std::string message, std::string param) {
  return MakeError(400, "invalid_request_error", std::move(message), std::move(param), "");
}
ApiError NotFound(std::string message) {
  return MakeError(404, "invalid_request_error", std::move(message), "", "");
}
ApiError ModelNotFound(std::string_view model) {
  return MakeError(404, "invalid_request_error",
                   absl::StrCat("The model '", absl::string_view(model.data(), model.size()),
                                "' does not exist."),
                   "model",
                   "model_not_found");
}
ApiError Unauthorized(std::string message) {
  return MakeError(401, "authentication_error", std::move(message), "", "invalid_api_key");
}
ApiError RateLimited(std::string message) {
  return MakeError(429, "rate_limit_error", std::move(message), "", "rate_limit_exceeded");
}
ApiError ServiceUnavailable(std::string message) {
  return MakeError(503, "server_error", std::move(message), "", "");
}
ApiError InternalError(std::string message) {
  return MakeError(500, "server_error", std::move(message), "", "");
}

ApiError FromStatus(const absl::Status& status) {
  BRISK_CHECK(!status.ok()) << "FromStatus given an OK status";
  struct Row {
    absl::StatusCode code;
    int http_status;
    absl::string_view type;
  };
  static constexpr Row kTable[] = {
      {absl::StatusCode::kInvalidArgument, 400, "invalid_request_error"},
      {absl::StatusCode::kFailedPrecondition, 400, "invalid_request_error"},
      {absl::StatusCode::kUnauthenticated, 401, "authentication_error"},
      {absl::StatusCode::kPermissionDenied, 403, "permission_error"},
      {absl::StatusCode::kNotFound, 404, "invalid_request_error"},
      {absl::StatusCode::kResourceExhausted, 429, "rate_limit_error"},
      {absl::StatusCode::kUnavailable, 503, "server_error"},
      {absl::StatusCode::kDeadlineExceeded, 504, "timeout_error"},
  };
  std::string message(status.message());
  for (const Row& row : kTable) {
    if (row.code == status.code()) {
      return MakeError(row.http_status, std::string(row.type), std::move(message), "", "");
    }
  }
  return MakeError(500, "server_error", std::move(message), "", "");
}

std::string ErrorBody(const ApiError& error) {
  auto or_null = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  Json body = {{"error",
                {{"message", error.message},
                 {"type", error.type},
                 {"param", or_null(error.param)},
                 {"code", or_null(error.code)}}}};
  return json::Dump(body);
}

ParseResult ParseChatCompletionRequest(std::string_view body) {
  return Parse(absl::string_view(body.data(), body.size()), Endpoint::kChatCompletions);
}

ParseResult ParseCompletionRequest(std::string_view body) {
  return Parse(absl::string_view(body.data(), body.size()), Endpoint::kCompletions);
}


}  // namespace brisk::api
