// CacheKey: the identity of a response in the exact response cache. It is the SHA-256 digest of
// a canonical byte encoding of (tenant, model, request), so two requests share a key exactly
// when they have the same tenant, the same model and the same answer-determining content up to
// JSON object key order and number spelling (1, 1.0 and 1e0 are one number). Which request
// fields determine the answer is the caller's decision: it passes only those. Pure functions,
// thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "nlohmann/json.hpp"

namespace brisk::cache {

// A 32-byte SHA-256 digest. Compared and hashed bytewise.
struct CacheKey {
  std::array<uint8_t, 32> bytes{};

  // The 64 lowercase hex characters of `bytes`, for logs and store keys.
  std::string Hex() const;

  friend bool operator==(const CacheKey&, const CacheKey&) = default;
  friend auto operator<=>(const CacheKey&, const CacheKey&) = default;
};

// Hash functor for unordered containers: the digest is uniform, so its first 8 bytes suffice.
struct CacheKeyHash {
  size_t operator()(const CacheKey& key) const;
};

// The SHA-256 digest of `bytes` as a CacheKey.
CacheKey Sha256Key(std::string_view bytes);

// Nesting deeper than this (arrays and objects inside each other) is refused rather than risking
// the stack; real OpenAI requests nest a handful of levels (tools schemas a few more).
inline constexpr int kMaxCanonicalDepth = 128;

// The canonical encoding of one JSON value. Every item starts with a one-byte tag; lengths and
// counts are 8-byte little-endian unsigned integers (written L below):
//   null 'z'    true 't'    false 'f'
//   number  'n' L text    text is the normalized decimal form (below)
//   string  's' L bytes   the UTF-8 bytes as given, no unescaping or Unicode normalization
//   array   'a' L item... L = element count, elements in their order
//   object  'o' L (key value)...   L = member count; key encoded as a string; members sorted by
//                                  key bytes (unsigned), recursively, so insertion order is lost
// Numbers: an integer, or a double with an integral value in [-2^63, 2^64), is written as its
// exact decimal integer ("-0.0" and "0" both become "0", 1.0 becomes "1"); any other finite double
// is written in the shortest form that reads back to the same double (std::to_chars), e.g. "0.1"
// or "1e+300". So two numbers encode alike exactly when they are the same mathematical value.
// Errors: InvalidArgument for NaN or infinite numbers, binary values, discarded values and
// nesting deeper than kMaxCanonicalDepth.
absl::StatusOr<std::string> CanonicalEncoding(const nlohmann::ordered_json& value);

// The key of one request:
//   SHA-256( "brisk-cache-key-v1" 's' L tenant 's' L model CanonicalEncoding(request) )
// `tenant` is the namespace that isolates cached answers (an API key's tenant, or "" for a
// single-tenant server); `model` is the served model name; `request` holds the fields that
// determine the answer (messages or prompt, sampling parameters, tools, response format, n,
// logprobs settings, media hashes ...), with fields that do not (user, stream, metadata) left out
// by the caller. Strings are length-prefixed, so no two different (tenant, model, request) triples
// share an encoding. Errors: InvalidArgument when `request` is not an object, and those of
// CanonicalEncoding.
absl::StatusOr<CacheKey> MakeCacheKey(std::string_view tenant, std::string_view model,
                                      const nlohmann::ordered_json& request);

// The default caching policy: a response may be cached and replayed only when running the request
// again would give the same answer, that is when decoding is greedy (temperature == 0) or the
// request carries a seed (the engine's sampler is deterministic per seed). Sampled requests
// without a seed must get fresh samples, so they bypass the cache. A NaN temperature counts as
// sampled.
bool IsReproducible(double temperature, const std::optional<uint64_t>& seed);

}  // namespace brisk::cache
