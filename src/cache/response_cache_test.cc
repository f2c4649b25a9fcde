// Tests of ResponseCache over a memory-only TieredStore and a flat SemanticIndex, with a fake
// embedder whose vectors are chosen per text, so similarities are known exactly.
#include "cache/response_cache.h"

#include <cmath>
#include <map>

#include "gtest/gtest.h"

namespace brisk::cache {
namespace {

CacheKey Key(std::string_view s) { return Sha256Key(s); }

std::shared_ptr<const CachedResponse> Answer(std::string body, int tokens) {
  auto r = std::make_shared<CachedResponse>();
  r->body_json = std::move(body);
  r->completion_tokens = tokens;
  r->compute_time_us = 250'000;
  return r;
}

class ResponseCacheTest : public ::testing::Test {
 protected:
  // Texts map to 2-D vectors: "a" = (1, 0), "a'" is 0.95 cosine to it, "b" is orthogonal.
  void SetUp() override {
    vectors_["a"] = {1, 0};
    vectors_["a'"] = {0.95f, std::sqrt(1 - 0.95f * 0.95f)};
    vectors_["b"] = {0, 1};
    Make(/*semantic=*/true);
  }

  void Make(bool semantic) {
    MemoryStore::Options memory;
    memory.capacity_bytes = 1 << 20;
    auto store = std::make_unique<TieredStore>(std::make_unique<MemoryStore>(std::move(memory)),
                                               nullptr);
    store_ = store.get();
    std::unique_ptr<SemanticIndex> index;
    EmbedFn embed;
    if (semantic) {
      index = std::make_unique<SemanticIndex>(SemanticIndex::Options{.dimensions = 2});
      index_ = index.get();
      embed = [this](std::string_view text) -> absl::StatusOr<std::vector<float>> {
        ++embed_calls_;
        auto it = vectors_.find(std::string(text));
        if (it == vectors_.end()) return absl::InternalError("no vector for this text");
        return it->second;
      };
    }
    cache_ = std::make_unique<ResponseCache>(
        ResponseCacheOptions{.semantic_threshold = 0.9f}, std::move(store), std::move(index),
        std::move(embed));
  }

  static CacheRequest Request(std::string_view exact, std::string_view fingerprint,
                              std::string text) {
    CacheRequest r;
    r.model = "m";
    r.exact_key = Key(exact);
    r.fingerprint = Key(fingerprint);
    r.semantic_text = std::move(text);
    return r;
  }

  std::map<std::string, std::vector<float>> vectors_;
  int embed_calls_ = 0;
  TieredStore* store_ = nullptr;
  SemanticIndex* index_ = nullptr;
  std::unique_ptr<ResponseCache> cache_;
};

TEST_F(ResponseCacheTest, ExactHitServesTheStoredAnswer) {
  const CacheRequest req = Request("req-1", "fp", "a");
  CacheLookup miss = cache_->Lookup(req, true, false);
  EXPECT_EQ(miss.value, nullptr);
  ASSERT_EQ(miss.stats.size(), 1u);
  EXPECT_EQ(miss.stats[0].tier, "exact");
  EXPECT_FALSE(miss.stats[0].hit);

  auto inserted = cache_->Insert(req, &miss, Answer("body-1", 9), /*use_semantic=*/false);
  ASSERT_EQ(inserted.size(), 1u);
  EXPECT_TRUE(inserted[0].stored);

  CacheLookup hit = cache_->Lookup(req, true, true);
  ASSERT_NE(hit.value, nullptr);
  EXPECT_EQ(hit.value->body_json, "body-1");
  EXPECT_EQ(hit.tier, "exact");
  EXPECT_EQ(hit.store, "memory");
  EXPECT_EQ(hit.similarity, 1.0f);
  ASSERT_EQ(hit.stats.size(), 1u);  // the semantic tier is not consulted after an exact hit
  EXPECT_TRUE(hit.stats[0].hit);
  EXPECT_EQ(hit.stats[0].store, "memory");
  EXPECT_EQ(hit.stats[0].tokens_saved, 9);
  EXPECT_DOUBLE_EQ(hit.stats[0].seconds_saved, 0.25);
}

TEST_F(ResponseCacheTest, SemanticHitAboveTheThresholdOnly) {
  const CacheRequest original = Request("req-a", "fp", "a");
  CacheLookup first = cache_->Lookup(original, true, true);
  EXPECT_EQ(first.value, nullptr);
  EXPECT_EQ(first.embedding, vectors_["a"]);  // computed once, reused by Insert
  const int calls = embed_calls_;
  auto inserted = cache_->Insert(original, &first, Answer("answer-a", 5), true);
  EXPECT_EQ(embed_calls_, calls);
  ASSERT_EQ(inserted.size(), 2u);
  EXPECT_TRUE(inserted[1].stored);

  CacheLookup paraphrase = cache_->Lookup(Request("req-a2", "fp", "a'"), true, true);
  ASSERT_NE(paraphrase.value, nullptr);
  EXPECT_EQ(paraphrase.value->body_json, "answer-a");
  EXPECT_EQ(paraphrase.tier, "semantic");
  EXPECT_NEAR(paraphrase.similarity, 0.95f, 1e-5);
  ASSERT_EQ(paraphrase.stats.size(), 2u);
  EXPECT_FALSE(paraphrase.stats[0].hit);
  EXPECT_TRUE(paraphrase.stats[1].hit);
  EXPECT_GE(paraphrase.stats[1].embed_s, 0);

  // Orthogonal text: below the threshold.
  EXPECT_EQ(cache_->Lookup(Request("req-b", "fp", "b"), true, true).value, nullptr);
  // The caller may turn the semantic tier off per request.
  EXPECT_EQ(cache_->Lookup(Request("req-a3", "fp", "a'"), true, false).value, nullptr);
}

TEST_F(ResponseCacheTest, AnotherFingerprintNeverSeesTheAnswer) {
  // The fingerprint includes the tenant: the same text under another tenant is another namespace.
  const CacheRequest tenant_a = Request("tenant-a/req", "tenant-a/fp", "a");
  cache_->Insert(tenant_a, nullptr, Answer("secret of a", 3), true);
  CacheLookup other = cache_->Lookup(Request("tenant-b/req", "tenant-b/fp", "a"), true, true);
  EXPECT_EQ(other.value, nullptr);
  EXPECT_NE(cache_->Lookup(Request("tenant-a/req2", "tenant-a/fp", "a"), true, true).value,
            nullptr);
}

TEST_F(ResponseCacheTest, AnIndexEntryWhoseAnswerLeftTheStoreIsDropped) {
  const CacheRequest original = Request("req-a", "fp", "a");
  cache_->Insert(original, nullptr, Answer("answer-a", 5), true);
  ASSERT_EQ(index_->GetStats().entries, 1);
  ASSERT_TRUE(store_->Erase(original.exact_key));
  EXPECT_EQ(cache_->Lookup(Request("req-a2", "fp", "a'"), true, true).value, nullptr);
  EXPECT_EQ(index_->GetStats().entries, 0);
}

TEST_F(ResponseCacheTest, EmbedderFailureIsAMiss) {
  CacheLookup r = cache_->Lookup(Request("req-x", "fp", "unknown text"), true, true);
  EXPECT_EQ(r.value, nullptr);
  ASSERT_EQ(r.stats.size(), 2u);
  EXPECT_FALSE(r.stats[1].hit);
  auto inserted = cache_->Insert(Request("req-x", "fp", "unknown text"), &r, Answer("x", 1), true);
  ASSERT_EQ(inserted.size(), 2u);
  EXPECT_TRUE(inserted[0].stored);   // the exact tier still has it
  EXPECT_FALSE(inserted[1].stored);  // not indexed
}

TEST_F(ResponseCacheTest, WithoutTheSemanticTierOnlyExactKeysCount) {
  Make(/*semantic=*/false);
  EXPECT_FALSE(cache_->semantic_enabled());
  cache_->Insert(Request("req-a", "fp", "a"), nullptr, Answer("answer-a", 5), true);
  EXPECT_EQ(cache_->Lookup(Request("req-a2", "fp", "a"), true, true).value, nullptr);
  EXPECT_NE(cache_->Lookup(Request("req-a", "fp", "a"), true, true).value, nullptr);
  EXPECT_EQ(embed_calls_, 0);
}

TEST(CacheControlTest, ParsesTheHeader) {
  EXPECT_EQ(*ParseCacheControl(""), CacheControl::kDefault);
  EXPECT_EQ(*ParseCacheControl("skip"), CacheControl::kSkip);
  EXPECT_EQ(*ParseCacheControl(" Refresh "), CacheControl::kRefresh);
  EXPECT_EQ(*ParseCacheControl("ONLY"), CacheControl::kOnly);
  EXPECT_EQ(*ParseCacheControl("no-semantic"), CacheControl::kNoSemantic);
  absl::StatusOr<CacheControl> bad = ParseCacheControl("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("expected skip, refresh, only or no-semantic"), std::string::npos);
}

}  // namespace
}  // namespace brisk::cache
