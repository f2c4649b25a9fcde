// ApiKeys: the table of bearer keys from `--api-keys FILE`, mapping each key to a tenant.
// Invariant: key text never stays in memory after loading (only its SHA-256 digest is kept)
// and never appears in an error message; errors name the file and line instead.
//
// File format, one entry per line:  <key> <tenant>   (separated by spaces or tabs)
//   - blank lines and lines whose first non-blank character is '#' are ignored;
//   - key: at least 8 printable ASCII characters, no whitespace (so it cannot start with '#');
//   - tenant: [A-Za-z0-9_.-]+.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace brisk::api {

// SHA-256 of `data` as 32 raw bytes (OpenSSL EVP). Thread-safe.
std::string Sha256Digest(std::string_view data);

class ApiKeys {
 public:
  // Keys shorter than this are rejected: they would be guessable.
  static constexpr size_t kMinKeyLength = 8;

  // Reads and parses the key file at `path`.
  // Errors: NotFound / PermissionDenied when the file cannot be read, InvalidArgument
  // "<path>:<line>: <what is wrong>" for a bad entry (missing tenant, extra fields, short key,
  // bad characters, duplicate key), InvalidArgument "<path>: no keys" when no entry is found.
  [[nodiscard]] static absl::StatusOr<ApiKeys> Load(const std::string& path);

  // Same as Load on an in-memory file; `source_name` stands in for the path in errors.
  [[nodiscard]] static absl::StatusOr<ApiKeys> FromLines(std::string_view text,
                                                         std::string_view source_name);

  // Returns the tenant for an `Authorization` header value of exactly "Bearer <key>": the
  // scheme is case-insensitive and followed by one or more spaces; nothing may follow the key
  // (trailing spaces make it no match; the HTTP layer strips surrounding whitespace from header
  // values before this call, per RFC 9110 §5.5). Returns nullopt for a missing or empty header,
  // another scheme, or an unknown key. Thread-safe (const).
  std::optional<std::string> TenantFor(std::string_view authorization_header) const;

  // Number of keys loaded.
  int size() const { return static_cast<int>(tenant_by_digest_.size()); }

 private:
  ApiKeys() = default;

  // Constant after loading: SHA-256(key) -> tenant.
  std::unordered_map<std::string, std::string> tenant_by_digest_;
};

}  // namespace brisk::api
