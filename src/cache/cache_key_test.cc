#include "cache/cache_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace brisk::cache {
namespace {

using Json = nlohmann::ordered_json;

std::string Encode(const Json& value) {
  absl::StatusOr<std::string> bytes = CanonicalEncoding(value);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

CacheKey Key(std::string_view tenant, std::string_view model, const Json& request) {
  absl::StatusOr<CacheKey> key = MakeCacheKey(tenant, model, request);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : CacheKey{};
}

// The 8-byte little-endian length field of the encoding, written out independently.
std::string Le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

TEST(CacheKeyTest, Sha256MatchesTheFips180Vectors) {
  EXPECT_EQ(Sha256Key("abc").Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Key("").Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CacheKeyTest, HexIsSixtyFourLowercaseDigitsOfTheBytes) {
  CacheKey key;
  for (int i = 0; i < 32; ++i) key.bytes[i] = static_cast<uint8_t>(i * 8 + 7);
  const std::string hex = key.Hex();
  ASSERT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.substr(0, 8), "070f171f");
  EXPECT_EQ(hex.substr(56), "e7eff7ff");
}

TEST(CacheKeyTest, EncodingFollowsTheDocumentedLayout) {
  const Json value = Json::parse(R"({"b": [true, null], "a": 1.0})");
  const std::string expected = std::string("o") + Le64(2) +           //
                               "s" + Le64(1) + "a" + "n" + Le64(1) + "1" +  //
                               "s" + Le64(1) + "b" + "a" + Le64(2) + "t" + "z";
  EXPECT_EQ(Encode(value), expected);
}

TEST(CacheKeyTest, KeyIsTheDigestOfTagTenantModelAndRequest) {
  const Json request = {{"prompt", "hi"}};
  const std::string bytes = std::string("brisk-cache-key-v1") + "s" + Le64(2) + "t1" + "s" +
                            Le64(5) + "llama" + Encode(request);
  EXPECT_EQ(Key("t1", "llama", request), Sha256Key(bytes));
}

TEST(CacheKeyTest, ObjectKeyOrderDoesNotMatterAtAnyDepth) {
  const Json a = Json::parse(
      R"({"model_params": {"temperature": 0, "top_p": 1, "stop": ["x", "y"]},
          "messages": [{"role": "user", "content": "hello"}], "n": 1})");
  const Json b = Json::parse(
      R"({"n": 1, "messages": [{"content": "hello", "role": "user"}],
          "model_params": {"stop": ["x", "y"], "top_p": 1, "temperature": 0}})");
  EXPECT_EQ(Encode(a), Encode(b));
  EXPECT_EQ(Key("t", "m", a), Key("t", "m", b));
}

TEST(CacheKeyTest, ArrayOrderMatters) {
  EXPECT_NE(Key("t", "m", {{"stop", {"x", "y"}}}), Key("t", "m", {{"stop", {"y", "x"}}}));
}

TEST(CacheKeyTest, SameMathematicalNumberEncodesAlike) {
  const std::vector<std::vector<Json>> same = {
      {Json(1), Json(1u), Json(1.0), Json::parse("1e0"), Json::parse("1.000")},
      {Json(0), Json(0.0), Json(-0.0), Json::parse("-0"), Json::parse("0e5")},
      {Json(-7), Json(-7.0), Json::parse("-0.7e1")},
      {Json(100), Json(1e2), Json::parse("1E2")},
      {Json(0.1), Json::parse("0.1"), Json::parse("1e-1"), Json::parse("0.10")},
      // 2^53 as an integer and as a double.
      {Json(int64_t{9007199254740992}), Json(9007199254740992.0)},
      // 2^63: only unsigned as an integer.
      {Json(uint64_t{9223372036854775808u}), Json(9223372036854775808.0)},
      {Json(std::numeric_limits<int64_t>::min()), Json(-9223372036854775808.0)},
  };
  for (const auto& group : same) {
    for (const Json& v : group) EXPECT_EQ(Encode(v), Encode(group[0])) << v.dump();
  }
  EXPECT_EQ(Encode(Json(0.5)), std::string("n") + Le64(3) + "0.5");
  EXPECT_EQ(Encode(Json(-3.0)), std::string("n") + Le64(2) + "-3");
}

TEST(CacheKeyTest, DifferentNumbersEncodeDifferently) {
  const std::vector<Json> values = {
      Json(1), Json(2), Json(-1), Json(0.1), Json(0.10000000000000002), Json(1e300),
      Json(-1e300), Json(1.5), Json(9007199254740993), Json(9007199254740992.0),
      Json(std::numeric_limits<uint64_t>::max()), Json(1.8446744073709552e19),
      Json(std::numeric_limits<double>::denorm_min())};
  std::set<std::string> seen;
  for (const Json& v : values) EXPECT_TRUE(seen.insert(Encode(v)).second) << v.dump();
}

TEST(CacheKeyTest, TypesAreDistinguished) {
  const std::vector<Json> values = {Json(nullptr), Json(false), Json(true),      Json(0),
                                    Json("0"),     Json(""),    Json::array(),   Json::object(),
                                    Json("true"),  Json("null"), Json::array({nullptr})};
  std::set<std::string> seen;
  for (const Json& v : values) EXPECT_TRUE(seen.insert(Encode(v)).second) << v.dump();
}

TEST(CacheKeyTest, TenantsAndModelsAreIsolated) {
  const Json request = {{"messages", {{{"role", "user"}, {"content", "2+2?"}}}}, {"seed", 7}};
  EXPECT_NE(Key("acme", "llama", request), Key("globex", "llama", request));
  EXPECT_NE(Key("acme", "llama", request), Key("acme", "qwen", request));
  EXPECT_NE(Key("", "llama", request), Key("acme", "llama", request));
  EXPECT_EQ(Key("acme", "llama", request), Key("acme", "llama", request));
}

TEST(CacheKeyTest, PartBoundariesCannotBeShifted) {
  const Json request = {{"p", "x"}};
  EXPECT_NE(Key("ab", "c", request), Key("a", "bc", request));
  EXPECT_NE(Key("abc", "", request), Key("", "abc", request));
  const std::vector<Json> values = {
      Json({"ab", "c"}), Json({"a", "bc"}), Json({"abc"}), Json::parse(R"([["a"], "b"])"),
      Json::parse(R"([["a", "b"]])"), Json::parse(R"({"ab": "c"})"), Json::parse(R"({"a": "bc"})"),
      Json::parse(R"({"a": {"b": 1}, "c": 2})"), Json::parse(R"({"a": {"b": 1, "c": 2}})")};
  std::set<std::string> seen;
  for (const Json& v : values) EXPECT_TRUE(seen.insert(Encode(v)).second) << v.dump();
}

TEST(CacheKeyTest, RejectsWhatHasNoCanonicalForm) {
  EXPECT_EQ(MakeCacheKey("t", "m", Json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeCacheKey("t", "m", Json("text")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeCacheKey("t", "m", {{"x", std::nan("")}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeCacheKey("t", "m", {{"x", std::numeric_limits<double>::infinity()}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CanonicalEncoding(Json::binary({1, 2, 3})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CacheKeyTest, NestingIsBoundedByMaxDepth) {
  Json ok = 1;
  for (int i = 0; i < kMaxCanonicalDepth; ++i) ok = Json::array({ok});
  EXPECT_TRUE(CanonicalEncoding(ok).ok());
  const Json too_deep = Json::array({ok});
  EXPECT_EQ(CanonicalEncoding(too_deep).status().code(), absl::StatusCode::kInvalidArgument);
}

// A random JSON value; integral numbers sometimes as integers, sometimes as doubles.
Json RandomJson(std::mt19937& rng, int depth) {
  const int kind = std::uniform_int_distribution<int>(0, depth >= 3 ? 4 : 6)(rng);
  switch (kind) {
    case 0: return nullptr;
    case 1: return std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    case 2: return std::uniform_int_distribution<int>(-1000, 1000)(rng);
    case 3: return std::uniform_int_distribution<int>(-1000, 1000)(rng) / 8.0;
    case 4: return std::string(std::uniform_int_distribution<int>(0, 3)(rng), 'a' + kind);
    case 5: {
      Json array = Json::array();
      const int n = std::uniform_int_distribution<int>(0, 4)(rng);
      for (int i = 0; i < n; ++i) array.push_back(RandomJson(rng, depth + 1));
      return array;
    }
    default: {
      Json object = Json::object();
      const int n = std::uniform_int_distribution<int>(0, 5)(rng);
      for (int i = 0; i < n; ++i) {
        object["k" + std::to_string(std::uniform_int_distribution<int>(0, 9)(rng))] =
            RandomJson(rng, depth + 1);
      }
      return object;
    }
  }
}

// The same value with every object's members inserted in a shuffled order and every integer
// turned into a double (and every integral double into an integer).
Json Respell(const Json& value, std::mt19937& rng) {
  if (value.is_object()) {
    std::vector<std::string> keys;
    for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
    std::shuffle(keys.begin(), keys.end(), rng);
    Json out = Json::object();
    for (const std::string& k : keys) out[k] = Respell(value.at(k), rng);
    return out;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const Json& element : value) out.push_back(Respell(element, rng));
    return out;
  }
  if (value.is_number_integer()) return static_cast<double>(value.get<int64_t>());
  if (value.is_number_float() && std::trunc(value.get<double>()) == value.get<double>()) {
    return static_cast<int64_t>(value.get<double>());
  }
  return value;
}

// An independent canonical text of a value: nlohmann::json sorts object keys, and every number
// becomes a double (all numbers RandomJson makes are exact doubles).
std::string SortedDoubleDump(const Json& value) {
  std::function<nlohmann::json(const Json&)> convert = [&](const Json& v) -> nlohmann::json {
    if (v.is_object()) {
      nlohmann::json out = nlohmann::json::object();
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = convert(it.value());
      return out;
    }
    if (v.is_array()) {
      nlohmann::json out = nlohmann::json::array();
      for (const Json& element : v) out.push_back(convert(element));
      return out;
    }
    if (v.is_number()) return v.get<double>();
    return nlohmann::json::parse(v.dump());
  };
  return convert(value).dump();
}

TEST(CacheKeyTest, RandomValuesShareAKeyExactlyWhenTheyAreEqual) {
  std::mt19937 rng(20261125);
  std::map<std::string, CacheKey> key_of_dump;
  std::map<CacheKey, std::string> dump_of_key;
  for (int i = 0; i < 2000; ++i) {
    const Json request = {{"body", RandomJson(rng, 0)}};
    const CacheKey key = Key("t", "m", request);
    EXPECT_EQ(Key("t", "m", Respell(request, rng)), key) << request.dump();
    const std::string dump = SortedDoubleDump(request);
    const auto [k, new_dump] = key_of_dump.emplace(dump, key);
    if (!new_dump) {
      EXPECT_EQ(k->second, key) << dump;
    }
    const auto [d, new_key] = dump_of_key.emplace(key, dump);
    if (!new_key) {
      EXPECT_EQ(d->second, dump) << "two different values share a key";
    }
  }
  EXPECT_GT(key_of_dump.size(), 500u);  // the generator is varied enough to mean something
}

TEST(CacheKeyTest, OnlyGreedyOrSeededRequestsAreReproducible) {
  EXPECT_TRUE(IsReproducible(0.0, std::nullopt));
  EXPECT_TRUE(IsReproducible(-0.0, std::nullopt));
  EXPECT_TRUE(IsReproducible(0.7, uint64_t{42}));
  EXPECT_TRUE(IsReproducible(0.0, uint64_t{42}));
  EXPECT_FALSE(IsReproducible(0.7, std::nullopt));
  EXPECT_FALSE(IsReproducible(1e-9, std::nullopt));
  EXPECT_FALSE(IsReproducible(std::nan(""), std::nullopt));
}

}  // namespace
}  // namespace brisk::cache
