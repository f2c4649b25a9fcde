#include "api/openai_embeddings.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/json_util.h"

namespace brisk::api {
namespace {

using Json = nlohmann::ordered_json;
using MaybeError = std::optional<ApiError>;

MaybeError ParseIds(const Json& v, absl::string_view param, std::vector<int32_t>* out) {
  if (v.empty()) return InvalidRequest(absl::StrCat("'", param, "' must not be empty."),
                                       std::string(param));
  for (const Json& id : v) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return json::ValueError(param, "an array of non-negative token ids", v);
    }
    out->push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return std::nullopt;
}

MaybeError ParseInput(const Json& v, EmbeddingRequest& req) {
  constexpr absl::string_view kExpected =
      "a string, an array of strings, an array of token ids or an array of such arrays";
  if (v.is_string()) {
    if (v.get_ref<const std::string&>().empty()) {
      return InvalidRequest("'input' must not be an empty string.", "input");
    }
    req.input = std::vector<std::string>{v.get<std::string>()};
    return std::nullopt;
  }
  if (!v.is_array()) return json::TypeError("input", kExpected, v);
  if (v.empty()) return InvalidRequest("'input' must not be an empty array.", "input");
  if (static_cast<int>(v.size()) > kMaxEmbeddingInputs) {
    return InvalidRequest(absl::StrCat("'input' has ", v.size(), " items; at most ",
                                       kMaxEmbeddingInputs, " are allowed per request."),
                          "input");
  }
  if (v[0].is_string()) {
    std::vector<std::string> texts;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) return json::TypeError(absl::StrCat("input[", i, "]"), "a string", v[i]);
      if (v[i].get_ref<const std::string&>().empty()) {
        return InvalidRequest(absl::StrCat("'input[", i, "]' must not be an empty string."),
                              "input");
      }
      texts.push_back(v[i].get<std::string>());
    }
    req.input = std::move(texts);
    return std::nullopt;
  }
  if (v[0].is_number()) {
    std::vector<int32_t> ids;
    if (auto e = ParseIds(v, "input", &ids)) return e;
    req.input = std::vector<std::vector<int32_t>>{std::move(ids)};
    return std::nullopt;
  }
  if (v[0].is_array()) {
    std::vector<std::vector<int32_t>> lists;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string param = absl::StrCat("input[", i, "]");
      if (!v[i].is_array()) return json::TypeError(param, "an array of token ids", v[i]);
      std::vector<int32_t> ids;
      if (auto e = ParseIds(v[i], param, &ids)) return e;
      lists.push_back(std::move(ids));
    }
    req.input = std::move(lists);
    return std::nullopt;
  }
  return json::TypeError("input", kExpected, v);
}

// JSON has no NaN or infinity: a non-finite value (a model bug) is sent as null, never as text
// that breaks the body.
void AppendFloat(std::string* out, float value) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, end);
}

}  // namespace

EmbeddingParseResult ParseEmbeddingRequest(std::string_view body) {
  std::variant<Json, ApiError> parsed = json::ParseObject(absl::string_view(body.data(), body.size()));
  if (const ApiError* e = std::get_if<ApiError>(&parsed)) return *e;
  const Json& root = std::get<Json>(parsed);
  EmbeddingRequest req;
  bool has_model = false, has_input = false;
  for (const auto& [name, v] : root.items()) {
    if (v.is_null()) continue;
    if (name == "model") {
      if (!v.is_string()) return json::TypeError("model", "a string", v);
      req.model = v.get<std::string>();
      has_model = !req.model.empty();
    } else if (name == "input") {
      if (auto e = ParseInput(v, req)) return *e;
      has_input = true;
    } else if (name == "encoding_format") {
      if (!v.is_string()) return json::TypeError("encoding_format", "a string", v);
      const std::string& f = v.get_ref<const std::string&>();
      if (f != "float" && f != "base64") {
        return json::ValueError("encoding_format", "'float' or 'base64'", v);
      }
      req.base64 = f == "base64";
    } else if (name == "dimensions") {
      if (!v.is_number_integer()) return json::TypeError("dimensions", "an integer", v);
      if (v.get<int64_t>() < 1 || v.get<int64_t>() > 1 << 20) {
        return json::ValueError("dimensions", "an integer >= 1", v);
      }
      req.dimensions = static_cast<int>(v.get<int64_t>());
    } else if (name == "user") {
      if (!v.is_string()) return json::TypeError("user", "a string", v);
      req.user = v.get<std::string>();
    } else {
      return InvalidRequest(absl::StrCat("Unrecognized request argument supplied: ", name),
                            name);
    }
  }
  if (!has_model) return json::MissingError("model");
  if (!has_input) return json::MissingError("input");
  return req;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(bytes[i + 2])};
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) n |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string EmbeddingsBody(std::string_view model, const std::vector<std::vector<float>>& vectors,
                           bool base64, int prompt_tokens) {
  static_assert(std::endian::native == std::endian::little, "base64 sends little-endian floats");
  std::string out = R"({"object":"list","data":[)";
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, R"({"object":"embedding","index":)", i, R"(,"embedding":)");
    const std::vector<float>& v = vectors[i];
    if (base64) {
      out += '"';
      out += Base64Encode(std::string_view(reinterpret_cast<const char*>(v.data()),
                                           v.size() * sizeof(float)));
      out += '"';
    } else {
      out += '[';
      for (size_t k = 0; k < v.size(); ++k) {
        if (k > 0) out += ',';
        AppendFloat(&out, v[k]);
      }
      out += ']';
    }
    out += '}';
  }
  absl::StrAppend(&out, R"(],"model":)", json::Dump(Json(std::string(model))),
                  R"(,"usage":{"prompt_tokens":)", prompt_tokens, R"(,"total_tokens":)",
                  prompt_tokens, "}}");
  return out;
}

}  // namespace brisk::api
