#include "api/json_util.h"

#include "absl/strings/str_cat.h"

namespace brisk::api::json {

std::string Dump(const Json& json) {
  // `replace` turns invalid UTF-8 into U+FFFD instead of throwing.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a decimal number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::binary:
    case Json::value_t::discarded: return "an unsupported value";
  }
  return "an unsupported value";
}

std::string Shown(const Json& value) {
  constexpr size_t kMaxShownBytes = 80;
  std::string text = Dump(value);
  if (text.size() > kMaxShownBytes) text = absl::StrCat(text.substr(0, kMaxShownBytes), "...");
  return text;
}

ApiError TypeError(absl::string_view param, absl::string_view expected, const Json& got) {
  return InvalidRequest(absl::StrCat("Invalid type for '", param, "': expected ", expected,
                                     ", but got ", Describe(got), "."),
                        std::string(param));
}

ApiError ValueError(absl::string_view param, absl::string_view expected, const Json& got) {
  return InvalidRequest(absl::StrCat("Invalid value for '", param, "': expected ", expected,
                                     ", but got ", Shown(got), "."),
                        std::string(param));
}

ApiError MissingError(absl::string_view param) {
  return InvalidRequest(absl::StrCat("Missing required parameter: '", param, "'."),
                        std::string(param));
}

std::optional<ApiError> CheckNestingDepth(absl::string_view body) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return InvalidRequest(absl::StrCat("The request body nests JSON deeper than ",
                                           kMaxJsonDepth, " levels (at byte ", i, ")."));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

absl::string_view ErrorText(absl::string_view what) {
  const size_t end = what.find("] ");
  return what.substr(0, 1) == "[" && end != absl::string_view::npos ? what.substr(end + 2) : what;
}

std::variant<Json, ApiError> ParseObject(absl::string_view body) {
  if (auto error = CheckNestingDepth(body)) return *error;
  Json root;
  try {
    root = Json::parse(body.begin(), body.end());
  } catch (const Json::parse_error& e) {
    return InvalidRequest(absl::StrCat("The request body is not valid JSON (byte ", e.byte,
                                       "): ", ErrorText(e.what())));
  } catch (const Json::exception& e) {
    return InvalidRequest(absl::StrCat("The request body could not be read: ",
                                       ErrorText(e.what())));
  }
  if (!root.is_object()) {
    return InvalidRequest(absl::StrCat("The request body must be a JSON object, but got ",
                                       Describe(root), "."));
  }
  return root;
}

}  // namespace brisk::api::json
