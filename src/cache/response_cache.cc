// ResponseCache: exact lookup, then embed + nearest neighbour; inserts write the store first so an
// index entry never names an answer that was not stored.
#include "cache/response_cache.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/logging.h"

namespace brisk::cache {
namespace {

double SecondsSince(int64_t start_us) {
  return static_cast<double>(base::NowMicros() - start_us) * 1e-6;
}

}  // namespace

absl::StatusOr<CacheControl> ParseCacheControl(std::string_view header) {
  const std::string value = absl::AsciiStrToLower(absl::StripAsciiWhitespace(absl::string_view(header.data(), header.size())));
  if (value.empty()) return CacheControl::kDefault;
  if (value == "skip") return CacheControl::kSkip;
  if (value == "refresh") return CacheControl::kRefresh;
  if (value == "only") return CacheControl::kOnly;
  if (value == "no-semantic") return CacheControl::kNoSemantic;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid x-brisk-cache header '", std::string(header),
                   "': expected skip, refresh, only or no-semantic"));
}

ResponseCache::ResponseCache(ResponseCacheOptions options, std::unique_ptr<TieredStore> store,
                             std::unique_ptr<SemanticIndex> semantic, EmbedFn embed)
    : options_(options),
      store_(std::move(store)),
      semantic_(std::move(semantic)),
      embed_(std::move(embed)) {
  BRISK_CHECK(store_ != nullptr);
  BRISK_CHECK_EQ(semantic_ == nullptr, embed_ == nullptr)
      << "the semantic tier needs both an index and an embedder";
}

CacheLookup ResponseCache::Lookup(const CacheRequest& request, bool use_exact,
                                  bool use_semantic) {
  CacheLookup out;
  const int64_t start_us = base::NowMicros();
  if (options_.exact && use_exact) {
    TierLookup found = store_->Lookup(request.exact_key);
    metrics::CacheLookupStats s;
    s.model = request.model;
    s.tier = "exact";
    s.lookup_s = SecondsSince(start_us);
    if (found.value != nullptr) {
      s.hit = true;
      s.store = std::string(found.tier);
      s.tokens_saved = found.value->completion_tokens;
      s.seconds_saved = static_cast<double>(found.value->compute_time_us) * 1e-6;
      out.value = std::move(found.value);
      out.tier = "exact";
      out.store = found.tier;
    }
    out.stats.push_back(std::move(s));
    if (out.value != nullptr) {
      out.lookup_s = SecondsSince(start_us);
      return out;
    }
  }
  if (semantic_ != nullptr && use_semantic && request.fingerprint.has_value()) {
    const int64_t embed_start_us = base::NowMicros();
    absl::StatusOr<std::vector<float>> embedding = embed_(request.semantic_text);
    metrics::CacheLookupStats s;
    s.model = request.model;
    s.tier = "semantic";
    s.embed_s = SecondsSince(embed_start_us);
    if (!embedding.ok()) {
      BRISK_LOG(kWarning) << "semantic cache: cannot embed the query, treated as a miss: "
                         << embedding.status();
    } else {
      out.embedding = *std::move(embedding);
      const int64_t search_start_us = base::NowMicros();
      std::optional<SemanticIndex::Match> match =
          semantic_->Lookup(*request.fingerprint, out.embedding, options_.semantic_threshold);
      if (match.has_value()) {
        TierLookup found = store_->Lookup(match->value);
        if (found.value == nullptr) {
          // The answer left the store (evicted or expired): the index entry is stale.
          semantic_->Erase(*request.fingerprint, match->value);
        } else {
          s.hit = true;
          s.store = std::string(found.tier);
          s.tokens_saved = found.value->completion_tokens;
          s.seconds_saved = static_cast<double>(found.value->compute_time_us) * 1e-6;
          out.value = std::move(found.value);
          out.tier = "semantic";
          out.store = found.tier;
          out.similarity = match->similarity;
        }
      }
      s.lookup_s = SecondsSince(search_start_us);
    }
    out.stats.push_back(std::move(s));
  }
  out.lookup_s = SecondsSince(start_us);
  return out;
}

std::vector<metrics::CacheInsertStats> ResponseCache::Insert(
    const CacheRequest& request, const CacheLookup* lookup,
    std::shared_ptr<const CachedResponse> answer, bool use_semantic) {
  BRISK_CHECK(answer != nullptr);
  std::vector<metrics::CacheInsertStats> stats;
  const bool stored = store_->Put(request.exact_key, std::move(answer), options_.ttl_ms);
  stats.push_back({.model = request.model, .tier = "exact", .stored = stored});
  if (!stored || semantic_ == nullptr || !use_semantic || !request.fingerprint.has_value()) {
    return stats;
  }
  std::vector<float> embedding;
  if (lookup != nullptr && !lookup->embedding.empty()) {
    embedding = lookup->embedding;
  } else {
    absl::StatusOr<std::vector<float>> computed = embed_(request.semantic_text);
    if (!computed.ok()) {
      BRISK_LOG(kWarning) << "semantic cache: cannot embed the answer's query, not indexed: "
                         << computed.status();
      stats.push_back({.model = request.model, .tier = "semantic", .stored = false});
      return stats;
    }
    embedding = *std::move(computed);
  }
  const int64_t ttl_ms =
      options_.ttl_ms == kNoExpiry ? SemanticIndex::kNoExpiry : options_.ttl_ms;
  const bool indexed =
      semantic_->Insert(*request.fingerprint, embedding, request.exact_key, ttl_ms);
  stats.push_back({.model = request.model, .tier = "semantic", .stored = indexed});
  return stats;
}

}  // namespace brisk::cache
