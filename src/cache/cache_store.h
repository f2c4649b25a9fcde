// CacheStore: the interface of every exact-response-cache store (memory, RocksDB, Redis, and the
// tiered pair of two), and CachedResponse, the value it holds. Contract shared by all stores:
//   - thread-safe: any method may be called from any thread at any time;
//   - values are immutable once stored: a Put hands over a shared_ptr<const CachedResponse> that
//     the store never modifies, and a Get returns a pointer that stays valid (and unchanged)
//     however long the caller holds it, even after the entry is evicted, erased or replaced;
//   - a lookup that cannot be answered (absent, expired, or a remote store that failed) is a
//     miss: the request path never fails because of the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_key.h"

namespace brisk::cache {

// One complete answer, recorded once and replayable in either form a client may ask for:
//   - non-streaming: send `body_json` as the application/json response body;
//   - streaming: send each element of `sse_events` as "data: <event>\n\n" in order, then
//     "data: [DONE]\n\n".
// The api layer fills both forms when it records a response, and may rewrite per-response fields
// (id, created) when replaying. A plain struct: build it, then store it through shared_ptr<const>.
struct CachedResponse {
  std::string body_json;                 // the full JSON response body, as sent
  std::vector<std::string> sse_events;   // chunk JSON payloads, without "data: " or "[DONE]"
  int prompt_tokens = 0;                 // usage of the original run ...
  int completion_tokens = 0;             // ... (completion tokens are the tokens a hit saves)
  int64_t created_ms = 0;                // Unix wall-clock time the answer was produced
  int64_t compute_time_us = 0;           // how long the original run took (the time a hit saves)
};

// Bytes of a value's contents: body_json plus every SSE event. Stores add a fixed per-entry
// overhead on top (see MemoryStore::kEntryOverheadBytes).
int64_t PayloadBytes(const CachedResponse& response);

// Plain counters; how they relate:
//   hits + misses           = Get calls
//   expired                 <= misses (a Get that found an entry past its TTL and dropped it)
//   inserts + rejected      = Put calls (rejected: the entry could never fit)
//   entries = inserts - overwrites - evictions - expired - erases
// where overwrites counts accepted Puts that replaced an entry of the same key (expired or not),
// and erases counts Erase calls that removed an entry.
struct StoreStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t expired = 0;
  int64_t evictions = 0;
  int64_t inserts = 0;
  int64_t overwrites = 0;
  int64_t rejected = 0;
  int64_t erases = 0;
  int64_t entries = 0;         // live entries now (some may be past their TTL, not yet dropped)
  int64_t bytes = 0;           // accounted bytes now
  int64_t capacity_bytes = 0;  // the byte budget; bytes <= capacity_bytes always
};

// A time-to-live of kNoExpiry keeps an entry until it is evicted or erased.
inline constexpr int64_t kNoExpiry = 0;

class CacheStore {
 public:
  virtual ~CacheStore() = default;

  // The value stored under `key`, or nullptr on a miss. A hit makes the entry the most recently
  // used; an entry past its TTL is a miss and is dropped.
  virtual std::shared_ptr<const CachedResponse> Get(const CacheKey& key) = 0;

  // Stores `value` under `key`, replacing any previous value, with a time-to-live of `ttl_ms`
  // milliseconds from now (kNoExpiry: none), as the most recently used entry; evicts least
  // recently used entries as needed to stay within the byte budget. Returns false, and changes
  // nothing, when the entry alone is larger than the whole budget.
  // REQUIRES: value != nullptr, ttl_ms >= 0.
  virtual bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
                   int64_t ttl_ms) = 0;

  // Removes the entry under `key`. Returns whether there was one (expired or not).
  virtual bool Erase(const CacheKey& key) = 0;

  virtual StoreStats Stats() const = 0;

  // A short constant name for logs and metric labels: "memory", "rocksdb", "redis", "tiered".
  // The view points to static storage.
  virtual std::string_view name() const = 0;
};

}  // namespace brisk::cache
