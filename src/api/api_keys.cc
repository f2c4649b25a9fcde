// ApiKeys: parses the key file line by line into SHA-256(key) -> tenant, and answers bearer
// lookups by hashing the presented key. Messages built here mention line numbers, lengths and
// positions, never the key characters themselves.
#include "api/api_keys.h"

#include <openssl/evp.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/mapped_file.h"
#include "base/status.h"

namespace brisk::api {
namespace {

// The system Abseil has its own string_view type; convert at the call sites.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsFieldSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Splits a line into fields separated by runs of blanks.
std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && IsFieldSeparator(line[pos])) ++pos;
    const size_t start = pos;
    while (pos < line.size() && !IsFieldSeparator(line[pos])) ++pos;
    if (pos > start) fields.push_back(line.substr(start, pos - start));
  }
  return fields;
}

bool IsTenantChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Checks one key; the message describes the problem without quoting the key.
absl::Status ValidateKey(std::string_view key) {
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x21 || c > 0x7E) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key has a character that is not printable ASCII at position ", i + 1));
    }
  }
  if (key.size() < ApiKeys::kMinKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat("key is ", key.size(),
                                                   " characters long, needs at least ",
                                                   ApiKeys::kMinKeyLength));
  }
  return absl::OkStatus();
}

absl::Status ValidateTenant(std::string_view tenant) {
  for (size_t i = 0; i < tenant.size(); ++i) {
    if (!IsTenantChar(tenant[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tenant name has a character outside [A-Za-z0-9_.-] at position ", i + 1));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Sha256Digest(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  const int ok = EVP_Digest(data.data(), data.size(), digest, &digest_len, EVP_sha256(), nullptr);
  BRISK_CHECK(ok == 1) << "EVP_Digest(SHA-256) failed";
  BRISK_CHECK_EQ(digest_len, 32u);
  return std::string(reinterpret_cast<const char*>(digest), digest_len);
}

absl::StatusOr<ApiKeys> ApiKeys::Load(const std::string& path) {
  BRISK_ASSIGN_OR_RETURN(std::string text, base::ReadFileToString(path));
  return FromLines(text, path);
}

absl::StatusOr<ApiKeys> ApiKeys::FromLines(std::string_view text, std::string_view source_name) {
  ApiKeys keys;
  std::unordered_map<std::string, int> line_by_digest;  // for duplicate messages
  int line_idx = 0;
  for (size_t line_start = 0; line_start <= text.size();) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    ++line_idx;
    const std::vector<std::string_view> fields = SplitFields(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ":", line_idx, ": ", what));
    };
    if (fields.size() == 1) return error("missing tenant (expected '<key> <tenant>')");
    if (fields.size() > 2) {
      return error(absl::StrCat("expected 2 fields '<key> <tenant>', found ", fields.size()));
    }
    if (absl::Status s = ValidateKey(fields[0]); !s.ok()) return error(s.message());
    if (absl::Status s = ValidateTenant(fields[1]); !s.ok()) return error(s.message());
    std::string digest = Sha256Digest(fields[0]);
    auto [it, inserted] = line_by_digest.emplace(digest, line_idx);
    if (!inserted) {
      return error(absl::StrCat("duplicate key (first defined on line ", it->second, ")"));
    }
    keys.tenant_by_digest_.emplace(std::move(digest), std::string(fields[1]));
  }
  if (keys.tenant_by_digest_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(source_name), ": no keys"));
  }
  return keys;
}

std::optional<std::string> ApiKeys::TenantFor(std::string_view authorization_header) const {
  constexpr std::string_view kScheme = "bearer";
  if (authorization_header.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(Sv(authorization_header.substr(0, kScheme.size())), Sv(kScheme)) ||
      authorization_header[kScheme.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view key = authorization_header.substr(kScheme.size());
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  if (key.empty() || key.find(' ') != std::string_view::npos) return std::nullopt;
  // Looking up the digest, not the key, keeps lookup timing unrelated to the key's bytes.
  auto it = tenant_by_digest_.find(Sha256Digest(key));
  if (it == tenant_by_digest_.end()) return std::nullopt;
  return it->second;
}

}  // namespace brisk::api
