// CacheKey construction: a recursive canonical encoder over nlohmann values followed by one
// SHA-256 through OpenSSL's EVP interface. The encoding is specified in cache_key.h; any change to
// it must change the "brisk-cache-key-v1" domain tag so that old and new keys never mix.
#include "cache/cache_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace brisk::cache {
namespace {

using Json = nlohmann::ordered_json;

// Bumped whenever the encoding below changes (see the file comment).
constexpr std::string_view kKeyDomainTag = "brisk-cache-key-v1";

void AppendLength(uint64_t n, std::string& out) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
}

void AppendTaggedBytes(char tag, std::string_view bytes, std::string& out) {
  out.push_back(tag);
  AppendLength(bytes.size(), out);
  out.append(bytes);
}

// 2^63 and 2^64 as doubles (both exact); integral doubles in [-2^63, 2^64) print as integers.
constexpr double kTwoPow63 = 9223372036854775808.0;
constexpr double kTwoPow64 = 18446744073709551616.0;

absl::StatusOr<std::string> NormalizedDouble(double x) {
  if (!std::isfinite(x)) {
    return absl::InvalidArgumentError("cache key: a number is NaN or infinite");
  }
  if (std::trunc(x) == x && x >= -kTwoPow63 && x < kTwoPow64) {
    if (x < kTwoPow63) return std::to_string(static_cast<int64_t>(x));
    return std::to_string(static_cast<uint64_t>(x));
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  BRISK_CHECK(ec == std::errc()) << "to_chars(double) failed";
  return std::string(buf, end);
}

absl::Status Encode(const Json& value, int depth, std::string& out);

absl::Status EncodeObject(const Json& value, int depth, std::string& out) {
  std::vector<std::pair<std::string_view, const Json*>> members;
  members.reserve(value.size());
  for (auto it = value.begin(); it != value.end(); ++it) {
    members.emplace_back(it.key(), &it.value());
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < members.size(); ++i) {
    if (members[i].first == members[i - 1].first) {
      return absl::InvalidArgumentError("cache key: an object has a duplicate key");
    }
  }
  out.push_back('o');
  AppendLength(members.size(), out);
  for (const auto& [key, member] : members) {
    AppendTaggedBytes('s', key, out);
    BRISK_RETURN_IF_ERROR(Encode(*member, depth + 1, out));
  }
  return absl::OkStatus();
}

absl::Status Encode(const Json& value, int depth, std::string& out) {
  if (depth > kMaxCanonicalDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("cache key: JSON nests deeper than ", kMaxCanonicalDepth, " levels"));
  }
  switch (value.type()) {
    case Json::value_t::null:
      out.push_back('z');
      return absl::OkStatus();
    case Json::value_t::boolean:
      out.push_back(value.get<bool>() ? 't' : 'f');
      return absl::OkStatus();
    case Json::value_t::number_integer:
      AppendTaggedBytes('n', std::to_string(value.get<int64_t>()), out);
      return absl::OkStatus();
    case Json::value_t::number_unsigned:
      AppendTaggedBytes('n', std::to_string(value.get<uint64_t>()), out);
      return absl::OkStatus();
    case Json::value_t::number_float: {
      BRISK_ASSIGN_OR_RETURN(const std::string text, NormalizedDouble(value.get<double>()));
      AppendTaggedBytes('n', text, out);
      return absl::OkStatus();
    }
    case Json::value_t::string:
      AppendTaggedBytes('s', value.get_ref<const std::string&>(), out);
      return absl::OkStatus();
    case Json::value_t::array:
      out.push_back('a');
      AppendLength(value.size(), out);
      for (const Json& element : value) BRISK_RETURN_IF_ERROR(Encode(element, depth + 1, out));
      return absl::OkStatus();
    case Json::value_t::object:
      return EncodeObject(value, depth, out);
    case Json::value_t::binary:
      return absl::InvalidArgumentError("cache key: binary JSON values are not supported");
    case Json::value_t::discarded:
      return absl::InvalidArgumentError("cache key: a discarded JSON value");
  }
  return absl::InternalError("cache key: unknown JSON value type");
}

}  // namespace

std::string CacheKey::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (uint8_t b : bytes) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xF]);
  }
  return hex;
}

size_t CacheKeyHash::operator()(const CacheKey& key) const {
  uint64_t h = 0;
  std::memcpy(&h, key.bytes.data(), sizeof(h));
  return static_cast<size_t>(h);
}

CacheKey Sha256Key(std::string_view bytes) {
  CacheKey key;
  unsigned int digest_len = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), key.bytes.data(), &digest_len,
                            EVP_sha256(), nullptr);
  BRISK_CHECK(ok == 1) << "EVP_Digest(SHA-256) failed";
  BRISK_CHECK_EQ(digest_len, key.bytes.size());
  return key;
}

absl::StatusOr<std::string> CanonicalEncoding(const Json& value) {
  std::string out;
  try {
    BRISK_RETURN_IF_ERROR(Encode(value, /*depth=*/0, out));
  } catch (const nlohmann::json::exception& e) {
    return absl::InternalError(absl::StrCat("cache key: JSON access failed: ", e.what()));
  }
  return out;
}

absl::StatusOr<CacheKey> MakeCacheKey(std::string_view tenant, std::string_view model,
                                      const Json& request) {
  if (!request.is_object()) {
    return absl::InvalidArgumentError("cache key: the request must be a JSON object");
  }
  std::string bytes(kKeyDomainTag);
  AppendTaggedBytes('s', tenant, bytes);
  AppendTaggedBytes('s', model, bytes);
  BRISK_ASSIGN_OR_RETURN(const std::string request_bytes, CanonicalEncoding(request));
  bytes.append(request_bytes);
  return Sha256Key(bytes);
}

bool IsReproducible(double temperature, const std::optional<uint64_t>& seed) {
  return seed.has_value() || temperature == 0.0;
}

}  // namespace brisk::cache
