// ResponseCache: the two response-cache tiers in front of the engine (DESIGN.md §4), exact then
// semantic, over one store of answers.
//   - exact: the answer stored under the request's CacheKey (cache_key.h);
//   - semantic: an embedding of the request's last user turn, searched among the entries of its
//     fingerprint (everything else that changes the answer, tenant included) in a SemanticIndex;
//     a match at or above the similarity threshold names the exact key whose answer is served.
// Both tiers read the same CacheStore (memory, or memory in front of RocksDB or Redis), so a
// semantic hit always serves a complete answer that the exact tier recorded; an index entry whose
// answer has left the store is dropped on sight.
// What is cached is the caller's decision (api/ builds CacheRequests; only reproducible requests
// by default); this class only stores, finds and measures. Thread-safe; lookups never fail the
// request path: a store or embedder error is a miss.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cache/cache_key.h"
#include "cache/cache_store.h"
#include "cache/semantic_index.h"
#include "cache/tiered_store.h"
#include "metrics/serving_stats.h"

namespace brisk::cache {

// The request's `x-brisk-cache` header:
//   (absent)  look up, and record the answer on a miss;
//   skip      neither look up nor record;
//   refresh   do not look up; compute and record (replacing a stored answer);
//   only         look up; on a miss answer an error instead of computing;
//   no-semantic  as the default, with the exact tier only (no embedding, no semantic match).
enum class CacheControl { kDefault, kSkip, kRefresh, kOnly, kNoSemantic };

// Parses the header value (case-insensitive, surrounding blanks ignored; "" is kDefault).
// InvalidArgument naming the allowed values otherwise.
absl::StatusOr<CacheControl> ParseCacheControl(std::string_view header);

// Embeds one text for the semantic tier: a vector of the embedder's dimensions.
using EmbedFn = std::function<absl::StatusOr<std::vector<float>>(std::string_view text)>;

struct ResponseCacheOptions {
  bool exact = true;              // look up by exact key (answers are stored regardless)
  int64_t ttl_ms = 3'600'000;     // per entry, both tiers; kNoExpiry: none
  // Semantic tier: on when an index and an embedder are given.
  float semantic_threshold = 0.6f;  // cosine similarity at or above which a neighbour is a hit
};

// What the api layer derives from one request.
struct CacheRequest {
  std::string model;     // for metrics
  CacheKey exact_key;    // tenant + model + answer-determining request fields
  // Semantic tier, when the request has a text to embed and the tier is on.
  std::optional<CacheKey> fingerprint;  // tenant + model + everything but `semantic_text`
  std::string semantic_text;            // the last user turn (chat) or the prompt (completions)
};

struct CacheLookup {
  std::shared_ptr<const CachedResponse> value;  // null on a miss
  std::string_view tier;   // on a hit: "exact" or "semantic"
  std::string_view store;  // on a hit: "memory", "rocksdb" or "redis"
  float similarity = 1.0f; // semantic hits: the cosine similarity; exact hits: 1
  std::vector<float> embedding;  // the query's embedding when one was computed (reused by Insert)
  // One entry per tier consulted, for ServingMetrics::RecordCacheLookup.
  std::vector<metrics::CacheLookupStats> stats;
  double lookup_s = 0;  // total time spent, embedding included (for Server-Timing)
};

class ResponseCache {
 public:
  // `store` is required; `semantic` and `embed` are both given (semantic tier on) or both null.
  ResponseCache(ResponseCacheOptions options, std::unique_ptr<TieredStore> store,
                std::unique_ptr<SemanticIndex> semantic, EmbedFn embed);

  bool semantic_enabled() const { return semantic_ != nullptr; }
  const ResponseCacheOptions& options() const { return options_; }

  // Looks the request up: the exact tier (when options().exact), then the semantic tier (when
  // enabled, `use_semantic` and the request has a fingerprint). The first hit wins.
  CacheLookup Lookup(const CacheRequest& request, bool use_exact, bool use_semantic);

  // Records `answer` under the request's exact key and, when the semantic tier applies, its
  // embedding (from `lookup` when that computed one, else computed now) in the index.
  // Returns one stats entry per tier written.
  std::vector<metrics::CacheInsertStats> Insert(const CacheRequest& request,
                                                const CacheLookup* lookup,
                                                std::shared_ptr<const CachedResponse> answer,
                                                bool use_semantic);

  StoreStats StoreStatsSnapshot() const { return store_->Stats(); }

 private:
  const ResponseCacheOptions options_;
  const std::unique_ptr<TieredStore> store_;
  const std::unique_ptr<SemanticIndex> semantic_;  // null: tier off
  const EmbedFn embed_;
};

}  // namespace brisk::cache
