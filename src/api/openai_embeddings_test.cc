// Tests of the /v1/embeddings protocol: every input form, each rejection with its param, and the
// response body read back through nlohmann (floats exact, base64 decoded independently).
#include "api/openai_embeddings.h"

#include <cstring>
#include <random>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace brisk::api {
namespace {

using Json = nlohmann::json;

EmbeddingRequest Ok(std::string_view body) {
  EmbeddingParseResult r = ParseEmbeddingRequest(body);
  if (const ApiError* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return {};
  }
  return std::get<EmbeddingRequest>(r);
}

ApiError Error(std::string_view body) {
  EmbeddingParseResult r = ParseEmbeddingRequest(body);
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "expected an error for " << body;
    return {};
  }
  return std::get<ApiError>(r);
}

// Independent decoder: each 4 characters are 24 bits, '=' pads.
std::string DecodeBase64(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i + 4 <= s.size(); i += 4) {
    int pad = 0;
    uint32_t n = 0;
    for (int k = 0; k < 4; ++k) {
      const int v = s[i + k] == '=' ? (++pad, 0) : value(s[i + k]);
      EXPECT_GE(v, 0);
      n = n << 6 | static_cast<uint32_t>(v);
    }
    out += static_cast<char>(n >> 16);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

TEST(EmbeddingProtocolTest, AcceptsEveryInputForm) {
  EmbeddingRequest one = Ok(R"({"model":"e","input":"hello"})");
  EXPECT_EQ(one.model, "e");
  EXPECT_EQ(std::get<std::vector<std::string>>(one.input), std::vector<std::string>{"hello"});
  EXPECT_FALSE(one.base64);
  EXPECT_FALSE(one.dimensions.has_value());

  EmbeddingRequest many = Ok(R"({"model":"e","input":["a","b c"],"user":"u"})");
  EXPECT_EQ(std::get<std::vector<std::string>>(many.input),
            (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(many.user, "u");

  EmbeddingRequest ids = Ok(R"({"model":"e","input":[1,2,3],"encoding_format":"base64"})");
  EXPECT_EQ(std::get<std::vector<std::vector<int32_t>>>(ids.input),
            (std::vector<std::vector<int32_t>>{{1, 2, 3}}));
  EXPECT_TRUE(ids.base64);

  EmbeddingRequest lists = Ok(R"({"model":"e","input":[[1],[2,3]],"dimensions":8})");
  EXPECT_EQ(std::get<std::vector<std::vector<int32_t>>>(lists.input),
            (std::vector<std::vector<int32_t>>{{1}, {2, 3}}));
  EXPECT_EQ(lists.dimensions, 8);

  // Nulls mean absent.
  EXPECT_FALSE(Ok(R"({"model":"e","input":"x","dimensions":null})").dimensions.has_value());
}

TEST(EmbeddingProtocolTest, RejectsBadRequestsNamingTheField) {
  struct Case {
    const char* body;
    const char* param;
    const char* message_part;
  };
  const Case cases[] = {
      {R"({"input":"x"})", "model", "Missing required parameter: 'model'"},
      {R"({"model":"e"})", "input", "Missing required parameter: 'input'"},
      {R"({"model":"e","input":""})", "input", "empty string"},
      {R"({"model":"e","input":[]})", "input", "empty array"},
      {R"({"model":"e","input":["a",""]})", "input", "'input[1]' must not be an empty string"},
      {R"({"model":"e","input":["a",1]})", "input[1]", "expected a string"},
      {R"({"model":"e","input":[[1],[]]})", "input[1]", "must not be empty"},
      {R"({"model":"e","input":[1,-2]})", "input", "non-negative token ids"},
      {R"({"model":"e","input":[1,2.5]})", "input", "non-negative token ids"},
      {R"({"model":"e","input":[[1],"a"]})", "input[1]", "expected an array of token ids"},
      {R"({"model":"e","input":{"a":1}})", "input", "Invalid type for 'input'"},
      {R"({"model":"e","input":[true]})", "input", "Invalid type for 'input'"},
      {R"({"model":"e","input":"x","encoding_format":"int8"})", "encoding_format", "'float' or 'base64'"},
      {R"({"model":"e","input":"x","dimensions":0})", "dimensions", "an integer >= 1"},
      {R"({"model":"e","input":"x","dimensions":"8"})", "dimensions", "expected an integer"},
      {R"({"model":"e","input":"x","temperature":0})", "temperature", "Unrecognized request argument"},
      {R"({"model":3,"input":"x"})", "model", "expected a string"},
  };
  for (const Case& c : cases) {
    ApiError e = Error(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(e.message.find(c.message_part), std::string::npos) << c.body << " -> " << e.message;
  }
  EXPECT_NE(Error("{").message.find("not valid JSON"), std::string::npos);
  EXPECT_NE(Error("[1]").message.find("must be a JSON object"), std::string::npos);
}

TEST(EmbeddingProtocolTest, LimitsTheNumberOfInputs) {
  std::string body = R"({"model":"e","input":[)";
  for (int i = 0; i <= kMaxEmbeddingInputs; ++i) body += i == 0 ? "\"a\"" : ",\"a\"";
  body += "]}";
  ApiError e = Error(body);
  EXPECT_NE(e.message.find("2049 items; at most 2048"), std::string::npos) << e.message;
}

TEST(EmbeddingProtocolTest, FloatBodyReadsBackExactly) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<std::vector<float>> vectors(3, std::vector<float>(17));
  for (auto& v : vectors) {
    for (float& x : v) x = dist(rng);
  }
  vectors[1][0] = 1e-30f;  // tiny and exact values survive too
  vectors[1][1] = -0.0f;
  Json body = Json::parse(EmbeddingsBody("my-embed", vectors, false, 42));
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["model"], "my-embed");
  EXPECT_EQ(body["usage"]["prompt_tokens"], 42);
  EXPECT_EQ(body["usage"]["total_tokens"], 42);
  ASSERT_EQ(body["data"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(body["data"][i]["object"], "embedding");
    EXPECT_EQ(body["data"][i]["index"], i);
    const Json& e = body["data"][i]["embedding"];
    ASSERT_EQ(e.size(), 17u);
    for (size_t k = 0; k < 17; ++k) EXPECT_EQ(e[k].get<float>(), vectors[i][k]) << i << "," << k;
  }
}

TEST(EmbeddingProtocolTest, Base64BodyHoldsLittleEndianFloats) {
  const std::vector<std::vector<float>> vectors = {{1.0f, -2.5f, 3.25e-5f}, {0.5f}};
  Json body = Json::parse(EmbeddingsBody("e", vectors, true, 3));
  for (size_t i = 0; i < vectors.size(); ++i) {
    const std::string bytes = DecodeBase64(body["data"][i]["embedding"].get<std::string>());
    ASSERT_EQ(bytes.size(), vectors[i].size() * 4);
    for (size_t k = 0; k < vectors[i].size(); ++k) {
      float x;
      std::memcpy(&x, bytes.data() + 4 * k, 4);
      EXPECT_EQ(x, vectors[i][k]);
    }
  }
}

TEST(EmbeddingProtocolTest, Base64MatchesTheRfcVectors) {
  // RFC 4648 section 10.
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(EmbeddingProtocolTest, NonFiniteValuesKeepTheBodyValidJson) {
  const std::vector<std::vector<float>> vectors = {{std::nanf(""), 1.0f}};
  Json body = Json::parse(EmbeddingsBody("e", vectors, false, 1));
  EXPECT_TRUE(body["data"][0]["embedding"][0].is_null());
  EXPECT_EQ(body["data"][0]["embedding"][1], 1.0);
}

}  // namespace
}  // namespace brisk::api
