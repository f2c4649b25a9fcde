#include "cache/semantic_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace brisk::cache {
namespace {

CacheKey Key(const std::string& name) { return Sha256Key(name); }
CacheKey ValueKey(int i) { return Sha256Key("value-" + std::to_string(i)); }
CacheKey Namespace(int i) { return Sha256Key("namespace-" + std::to_string(i)); }

// A clock the test moves by hand.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1000);
  std::function<int64_t()> fn() const {
    return [now = now] { return now->load(); };
  }
  void Advance(int64_t ms) { now->fetch_add(ms); }
};

std::vector<float> RandomVector(std::mt19937& rng, int dimensions) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(dimensions);
  for (float& x : v) x = normal(rng);
  return v;
}

// `base` plus Gaussian noise of standard deviation `noise` per coordinate (not normalized: the
// index normalizes, and the model does it on its own).
std::vector<float> Perturb(std::mt19937& rng, const std::vector<float>& base, float noise) {
  std::normal_distribution<float> normal(0.0f, noise);
  std::vector<float> v = base;
  for (float& x : v) x += normal(rng);
  return v;
}

// Exact cosine in double.
double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// The reference: every entry in a std::map, searched by brute force, with a recency list, and
// expired entries dropped when a lookup passes them (those at least as similar as the answer and
// above threshold), as the index's contract says.
class ModelIndex {
 public:
  struct Found {
    CacheKey value;
    double similarity;
  };

  explicit ModelIndex(int64_t max_entries) : max_entries_(max_entries) {}

  void Insert(const CacheKey& ns, const std::vector<float>& v, const CacheKey& value,
              int64_t expires_at_ms, int64_t now_ms) {
    Remove({ns, value});
    entries_[{ns, value}] = {v, expires_at_ms};
    recency_.push_front({ns, value});
    while (static_cast<int64_t>(recency_.size()) > max_entries_) {
      const auto victim = recency_.back();
      if (entries_[victim].expires_at_ms <= now_ms) {
        ++expired;
      } else {
        ++evictions;
      }
      Remove(victim);
    }
  }

  std::optional<Found> Lookup(const CacheKey& ns, const std::vector<float>& q, double threshold,
                              int64_t now_ms) {
    std::optional<Found> best;
    for (const auto& [key, entry] : entries_) {
      if (key.first != ns || entry.expires_at_ms <= now_ms) continue;
      const double similarity = Cosine(q, entry.vector);
      if (similarity >= threshold && (!best || similarity > best->similarity)) {
        best = Found{key.second, similarity};
      }
    }
    std::vector<std::pair<CacheKey, CacheKey>> passed;
    for (const auto& [key, entry] : entries_) {
      if (key.first != ns || entry.expires_at_ms > now_ms) continue;
      const double similarity = Cosine(q, entry.vector);
      if (similarity >= threshold && (!best || similarity > best->similarity)) {
        passed.push_back(key);
      }
    }
    for (const auto& key : passed) {
      Remove(key);
      ++expired;
    }
    if (best) Touch({ns, best->value});
    return best;
  }

  bool Erase(const CacheKey& ns, const CacheKey& value) { return Remove({ns, value}); }

  const std::vector<float>* VectorOf(const CacheKey& ns, const CacheKey& value) const {
    const auto it = entries_.find({ns, value});
    return it == entries_.end() ? nullptr : &it->second.vector;
  }
  int64_t ExpiresAt(const CacheKey& ns, const CacheKey& value) const {
    return entries_.at({ns, value}).expires_at_ms;
  }
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  std::vector<CacheKey> ValuesByRecency(const CacheKey& ns) const {
    std::vector<CacheKey> values;
    for (const auto& [space, value] : recency_) {
      if (space == ns) values.push_back(value);
    }
    return values;
  }

  int64_t evictions = 0;
  int64_t expired = 0;

 private:
  struct Entry {
    std::vector<float> vector;
    int64_t expires_at_ms;
  };
  using Key = std::pair<CacheKey, CacheKey>;

  bool Remove(const Key& key) {
    if (entries_.erase(key) == 0) return false;
    recency_.remove(key);
    return true;
  }
  void Touch(const Key& key) {
    recency_.remove(key);
    recency_.push_front(key);
  }

  const int64_t max_entries_;
  std::map<Key, Entry> entries_;
  std::list<Key> recency_;
};

TEST(SemanticIndexTest, FindsTheNearestEntryAboveThreshold) {
  SemanticIndex index({.dimensions = 3});
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0, 0}, ValueKey(1), 60'000));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{0, 2, 0}, ValueKey(2), 60'000));
  // cos((3, 4, 0), (0, 1, 0)) = 0.8 and cos((3, 4, 0), (1, 0, 0)) = 0.6, worked by hand.
  const auto match = index.Lookup(Namespace(0), std::vector<float>{3, 4, 0}, 0.5f);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->value, ValueKey(2));
  EXPECT_NEAR(match->similarity, 0.8f, 1e-6);
  EXPECT_FALSE(index.Lookup(Namespace(0), std::vector<float>{3, 4, 0}, 0.81f).has_value());
  EXPECT_FALSE(index.Lookup(Namespace(1), std::vector<float>{0, 1, 0}, 0.5f).has_value());
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.entries, 2);
  EXPECT_EQ(stats.namespaces, 1);
  EXPECT_EQ(stats.lookups, 3);
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.working_dimensions, 3);
}

TEST(SemanticIndexTest, ZeroAndNonFiniteVectorsAreNeverStoredOrMatched) {
  SemanticIndex index({.dimensions = 2});
  EXPECT_FALSE(index.Insert(Namespace(0), std::vector<float>{0, 0}, ValueKey(1), 1000));
  EXPECT_FALSE(index.Insert(Namespace(0), std::vector<float>{NAN, 1}, ValueKey(1), 1000));
  EXPECT_FALSE(index.Insert(Namespace(0), std::vector<float>{INFINITY, 1}, ValueKey(1), 1000));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 1}, ValueKey(2), 1000));
  EXPECT_FALSE(index.Lookup(Namespace(0), std::vector<float>{0, 0}, -1.0f).has_value());
  EXPECT_FALSE(index.Lookup(Namespace(0), std::vector<float>{NAN, 0}, -1.0f).has_value());
  EXPECT_EQ(index.GetStats().entries, 1);
}

TEST(SemanticIndexTest, InsertReplacesTheEntryWithTheSameValueKey) {
  SemanticIndex index({.dimensions = 2});
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0}, ValueKey(1), 1000));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{0, 1}, ValueKey(1), 1000));
  EXPECT_EQ(index.GetStats().entries, 1);
  EXPECT_FALSE(index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.5f).has_value());
  const auto match = index.Lookup(Namespace(0), std::vector<float>{0, 1}, 0.5f);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->value, ValueKey(1));
}

// Identical vectors in two tenants' namespaces: each lookup sees only its own, in flat and
// HNSW namespaces alike, and erasing one leaves the other untouched.
TEST(SemanticIndexTest, NamespacesNeverCross) {
  for (const int hnsw_min_entries : {1 << 20, 8}) {
    SCOPED_TRACE(hnsw_min_entries);
    SemanticIndex index({.dimensions = 16, .hnsw_min_entries = hnsw_min_entries});
    const CacheKey tenant_a = Key("tenant-a|model|system");
    const CacheKey tenant_b = Key("tenant-b|model|system");
    std::mt19937 rng(7);
    std::vector<std::vector<float>> vectors;
    for (int i = 0; i < 40; ++i) {
      vectors.push_back(RandomVector(rng, 16));
      ASSERT_TRUE(index.Insert(tenant_a, vectors[i], ValueKey(i), SemanticIndex::kNoExpiry));
      ASSERT_TRUE(index.Insert(tenant_b, vectors[i], ValueKey(1000 + i), SemanticIndex::kNoExpiry));
    }
    EXPECT_EQ(index.GetStats().hnsw_namespaces, hnsw_min_entries == 8 ? 2 : 0);
    for (int i = 0; i < 40; ++i) {
      const auto a = index.Lookup(tenant_a, vectors[i], 0.99f);
      const auto b = index.Lookup(tenant_b, vectors[i], 0.99f);
      ASSERT_TRUE(a.has_value() && b.has_value());
      EXPECT_EQ(a->value, ValueKey(i));
      EXPECT_EQ(b->value, ValueKey(1000 + i));
      EXPECT_FALSE(index.Lookup(Key("tenant-c|model|system"), vectors[i], -1.0f).has_value());
    }
    EXPECT_TRUE(index.Erase(tenant_a, ValueKey(3)));
    EXPECT_FALSE(index.Erase(tenant_a, ValueKey(3)));
    EXPECT_FALSE(index.Erase(tenant_a, ValueKey(1003)));  // b's value key, not in a
    const auto after = index.Lookup(tenant_a, vectors[3], 0.99f);
    EXPECT_FALSE(after.has_value());
    const auto b = index.Lookup(tenant_b, vectors[3], 0.99f);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->value, ValueKey(1003));
  }
}

TEST(SemanticIndexTest, EntriesExpireAtTheirTtlAndAreDroppedOnLookup) {
  FakeClock clock;
  SemanticIndex index({.dimensions = 2, .now_ms = clock.fn()});
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0}, ValueKey(1), 100));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0.1f}, ValueKey(2), 500));
  clock.Advance(99);
  auto match = index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.9f);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->value, ValueKey(1));
  clock.Advance(1);  // value 1 expires exactly now; value 2 is the next best and still fresh
  match = index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.9f);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->value, ValueKey(2));
  EXPECT_EQ(index.GetStats().expired, 1);
  EXPECT_EQ(index.GetStats().entries, 1);
  clock.Advance(400);
  EXPECT_FALSE(index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.9f).has_value());
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.expired, 2);
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.namespaces, 0);
}

TEST(SemanticIndexTest, HugeTtlNeverExpires) {
  FakeClock clock;
  SemanticIndex index({.dimensions = 2, .now_ms = clock.fn()});
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0}, ValueKey(1),
                           SemanticIndex::kNoExpiry - 10));
  clock.Advance(int64_t{1} << 50);
  EXPECT_TRUE(index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.9f).has_value());
}

TEST(SemanticIndexTest, EvictsTheLeastRecentlyUsedAcrossNamespaces) {
  SemanticIndex index({.dimensions = 2, .max_entries = 3});
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 0}, ValueKey(1), 1000));
  ASSERT_TRUE(index.Insert(Namespace(1), std::vector<float>{0, 1}, ValueKey(2), 1000));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{-1, 0}, ValueKey(3), 1000));
  // A hit makes value 1 the most recently used, so value 2 is the oldest now.
  ASSERT_TRUE(index.Lookup(Namespace(0), std::vector<float>{1, 0}, 0.9f).has_value());
  EXPECT_EQ(index.ValuesByRecency(Namespace(0)), (std::vector<CacheKey>{ValueKey(1), ValueKey(3)}));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{0, -1}, ValueKey(4), 1000));
  EXPECT_FALSE(index.Lookup(Namespace(1), std::vector<float>{0, 1}, 0.9f).has_value());
  EXPECT_EQ(index.ValuesByRecency(Namespace(0)),
            (std::vector<CacheKey>{ValueKey(4), ValueKey(1), ValueKey(3)}));
  ASSERT_TRUE(index.Insert(Namespace(0), std::vector<float>{1, 1}, ValueKey(5), 1000));
  EXPECT_EQ(index.ValuesByRecency(Namespace(0)),
            (std::vector<CacheKey>{ValueKey(5), ValueKey(4), ValueKey(1)}));
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.evictions, 2);
  EXPECT_EQ(stats.entries, 3);
  EXPECT_EQ(stats.namespaces, 1);  // namespace 1 lost its only entry
}

TEST(SemanticIndexTest, RebuildsWhenTombstonesOutnumberLiveEntries) {
  SemanticIndex index({.dimensions = 8});
  std::mt19937 rng(3);
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 10; ++i) {
    vectors.push_back(RandomVector(rng, 8));
    ASSERT_TRUE(index.Insert(Namespace(0), vectors[i], ValueKey(i), SemanticIndex::kNoExpiry));
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(index.Erase(Namespace(0), ValueKey(i)));
  EXPECT_EQ(index.GetStats().tombstones, 5);  // 5 dead of 10: not more than the live ones
  EXPECT_EQ(index.GetStats().rebuilds, 0);
  ASSERT_TRUE(index.Erase(Namespace(0), ValueKey(5)));
  EXPECT_EQ(index.GetStats().tombstones, 0);
  EXPECT_EQ(index.GetStats().rebuilds, 1);
  for (int i = 0; i < 10; ++i) {
    const auto match = index.Lookup(Namespace(0), vectors[i], 0.999f);
    EXPECT_EQ(match.has_value(), i >= 6) << i;
    if (match) {
      EXPECT_EQ(match->value, ValueKey(i));
    }
  }
}

// A namespace moves to HNSW past hnsw_min_entries; enough erasures rebuild it flat again, and
// every survivor is still found, with tombstones stepped over in between.
TEST(SemanticIndexTest, SwitchesToHnswAndBackThroughRebuilds) {
  SemanticIndex index({.dimensions = 16, .hnsw_min_entries = 32, .hnsw_m = 8});
  std::mt19937 rng(5);
  std::vector<std::vector<float>> vectors;
  for (int i = 0; i < 80; ++i) {
    vectors.push_back(RandomVector(rng, 16));
    ASSERT_TRUE(index.Insert(Namespace(0), vectors[i], ValueKey(i), SemanticIndex::kNoExpiry));
  }
  EXPECT_EQ(index.GetStats().hnsw_namespaces, 1);
  EXPECT_EQ(index.GetStats().rebuilds, 1);
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(index.Erase(Namespace(0), ValueKey(i)));
  EXPECT_EQ(index.GetStats().tombstones, 40);
  for (int i = 0; i < 80; ++i) {
    // Querying an erased vector must not return it; it may return a far live one only below
    // 0.999, which random vectors in 16 dimensions never reach.
    const auto match = index.Lookup(Namespace(0), vectors[i], 0.999f);
    EXPECT_EQ(match.has_value(), i >= 40) << i;
    if (match) {
      EXPECT_EQ(match->value, ValueKey(i));
    }
  }
  // Erasing 40 leaves 41 dead of 80: rebuilt with 39 live, still HNSW. Erasing 41..60 leaves
  // 20 dead of 39: rebuilt with 19 live, flat again.
  ASSERT_TRUE(index.Erase(Namespace(0), ValueKey(40)));
  EXPECT_EQ(index.GetStats().rebuilds, 2);
  EXPECT_EQ(index.GetStats().hnsw_namespaces, 1);
  EXPECT_EQ(index.GetStats().tombstones, 0);
  for (int i = 41; i <= 60; ++i) ASSERT_TRUE(index.Erase(Namespace(0), ValueKey(i)));
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.hnsw_namespaces, 0);
  EXPECT_EQ(stats.tombstones, 0);
  EXPECT_EQ(stats.rebuilds, 3);
  EXPECT_EQ(stats.entries, 19);
  for (int i = 61; i < 80; ++i) {
    const auto match = index.Lookup(Namespace(0), vectors[i], 0.999f);
    ASSERT_TRUE(match.has_value()) << i;
    EXPECT_EQ(match->value, ValueKey(i));
  }
}

// Random operations against the brute-force model with an injected clock, in flat mode, where
// the index is exact: the same answers, the same similarities, the same evictions.
TEST(SemanticIndexTest, FlatModeMatchesTheBruteForceModel) {
  constexpr int kDimensions = 24;
  constexpr int64_t kMaxEntries = 80;
  FakeClock clock;
  SemanticIndex index({.dimensions = kDimensions, .hnsw_min_entries = 1 << 20,
                       .max_entries = kMaxEntries, .now_ms = clock.fn()});
  ModelIndex model(kMaxEntries);
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> pick_op(0, 99);
  std::uniform_int_distribution<int> pick_ns(0, 2);
  std::uniform_int_distribution<int> pick_value(0, 99);
  const int64_t ttls[] = {50, 400, SemanticIndex::kNoExpiry};
  const float thresholds[] = {0.3f, 0.6f, 0.9f};
  int num_hits = 0;
  for (int step = 0; step < 4000; ++step) {
    const int op = pick_op(rng);
    const CacheKey ns = Namespace(pick_ns(rng));
    const CacheKey value = ValueKey(pick_value(rng));
    const std::vector<float>* stored = model.VectorOf(ns, value);
    if (op < 40) {
      const std::vector<float> v = stored != nullptr && op < 10
                                       ? Perturb(rng, *stored, 0.3f)
                                       : RandomVector(rng, kDimensions);
      const int64_t ttl = ttls[step % 3];
      ASSERT_TRUE(index.Insert(ns, v, value, ttl));
      const int64_t now = clock.now->load();
      model.Insert(ns, v, value, ttl == SemanticIndex::kNoExpiry ? ttl : now + ttl, now);
    } else if (op < 85) {
      const std::vector<float> q = stored != nullptr ? Perturb(rng, *stored, 0.15f)
                                                     : RandomVector(rng, kDimensions);
      const float threshold = thresholds[step % 3];
      const auto got = index.Lookup(ns, q, threshold);
      const auto want = model.Lookup(ns, q, threshold, clock.now->load());
      ASSERT_EQ(got.has_value(), want.has_value()) << "step " << step;
      if (got) {
        ++num_hits;
        EXPECT_EQ(got->value, want->value) << "step " << step;
        EXPECT_NEAR(got->similarity, want->similarity, 1e-5) << "step " << step;
      }
    } else if (op < 93) {
      ASSERT_EQ(index.Erase(ns, value), model.Erase(ns, value)) << "step " << step;
    } else {
      clock.Advance(op * 2);
    }
    ASSERT_EQ(index.GetStats().entries, model.size()) << "step " << step;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(index.ValuesByRecency(Namespace(i)), model.ValuesByRecency(Namespace(i)));
  }
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.evictions, model.evictions);
  EXPECT_EQ(stats.expired, model.expired);
  EXPECT_EQ(stats.hits, num_hits);
  // The sequence must have exercised what it claims to.
  EXPECT_GT(num_hits, 200);
  EXPECT_GT(stats.evictions, 10);
  EXPECT_GT(stats.expired, 10);
  EXPECT_GT(stats.rebuilds, 0);
}

// Clustered unit vectors: `num_clusters` random centres, each point a centre plus noise.
std::vector<std::vector<float>> Clustered(std::mt19937& rng, int count, int num_clusters,
                                          int dimensions, float noise) {
  std::vector<std::vector<float>> centres;
  for (int c = 0; c < num_clusters; ++c) centres.push_back(RandomVector(rng, dimensions));
  std::vector<std::vector<float>> points;
  for (int i = 0; i < count; ++i) points.push_back(Perturb(rng, centres[i % num_clusters], noise));
  return points;
}

// HNSW is approximate: against the model, recall of the exact best stays >= 0.95 and every
// answer is an entry of the right namespace, fresh, above threshold, with its true similarity.
TEST(SemanticIndexTest, HnswModeHasHighRecallAndNeverAWrongAnswer) {
  constexpr int kDimensions = 32;
  FakeClock clock;
  SemanticIndex index({.dimensions = kDimensions, .hnsw_min_entries = 64, .hnsw_m = 16,
                       .hnsw_ef_construction = 64, .hnsw_ef_search = 48, .now_ms = clock.fn()});
  ModelIndex model(1 << 30);
  std::mt19937 rng(99);
  const auto points = Clustered(rng, 3000, 30, kDimensions, 0.35f);
  std::uniform_int_distribution<int> pick(0, 2999);
  for (int i = 0; i < 3000; ++i) {
    const CacheKey ns = Namespace(i % 2);
    const int64_t ttl = i % 10 == 0 ? 1000 : SemanticIndex::kNoExpiry;
    ASSERT_TRUE(index.Insert(ns, points[i], ValueKey(i), ttl));
    const int64_t now = clock.now->load();
    model.Insert(ns, points[i], ValueKey(i), ttl == 1000 ? now + ttl : ttl, now);
  }
  for (int i = 0; i < 3000; i += 7) {  // tombstones spread through both graphs
    ASSERT_TRUE(index.Erase(Namespace(i % 2), ValueKey(i)));
    model.Erase(Namespace(i % 2), ValueKey(i));
  }
  EXPECT_EQ(index.GetStats().hnsw_namespaces, 2);
  clock.Advance(1000);  // every tenth entry is expired now
  int num_queries = 0, num_agree = 0;
  for (int q = 0; q < 1500; ++q) {
    const int base = pick(rng);
    const CacheKey ns = Namespace(q % 2);
    const std::vector<float> query = Perturb(rng, points[base], 0.1f);
    const float threshold = 0.8f;
    const auto got = index.Lookup(ns, query, threshold);
    const auto want = model.Lookup(ns, query, threshold, clock.now->load());
    if (got) {
      const std::vector<float>* stored = model.VectorOf(ns, got->value);
      ASSERT_NE(stored, nullptr) << "an answer from another namespace or a removed entry";
      EXPECT_GT(model.ExpiresAt(ns, got->value), clock.now->load()) << "an expired answer";
      EXPECT_GE(got->similarity, threshold);
      EXPECT_NEAR(got->similarity, Cosine(query, *stored), 1e-5);
    }
    if (want) {
      ++num_queries;
      if (got && got->value == want->value) ++num_agree;
    }
  }
  ASSERT_GT(num_queries, 500);
  const double recall = static_cast<double>(num_agree) / num_queries;
  EXPECT_GE(recall, 0.95) << num_agree << " of " << num_queries;
}

// Data near an 8-dimensional subspace of 64: after training, vectors are stored in 8 dimensions
// and reduced similarities stay close to the raw cosines, so threshold semantics hold.
TEST(SemanticIndexTest, PcaReducesDimensionsAndKeepsThresholdSemantics) {
  constexpr int kDimensions = 64;
  constexpr int kReduced = 8;
  SemanticIndex index({.dimensions = kDimensions, .hnsw_min_entries = 1 << 20,
                       .pca_dimensions = kReduced, .pca_train_entries = 300});
  ModelIndex model(1 << 30);
  std::mt19937 rng(11);
  std::vector<std::vector<float>> basis;
  for (int b = 0; b < kReduced; ++b) basis.push_back(RandomVector(rng, kDimensions));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // A shared offset like the common direction of real embeddings, plus a subspace mixture and
  // a little noise off the subspace.
  const std::vector<float> common = RandomVector(rng, kDimensions);
  auto make_point = [&] {
    std::vector<float> v(kDimensions);
    for (int d = 0; d < kDimensions; ++d) v[d] = 1.5f * common[d] + 0.02f * normal(rng);
    for (int b = 0; b < kReduced - 1; ++b) {
      const float c = normal(rng);
      for (int d = 0; d < kDimensions; ++d) v[d] += c * basis[b][d];
    }
    return v;
  };
  std::vector<std::vector<float>> points;
  for (int i = 0; i < 500; ++i) {
    points.push_back(make_point());
    ASSERT_TRUE(index.Insert(Namespace(0), points[i], ValueKey(i), SemanticIndex::kNoExpiry));
    model.Insert(Namespace(0), points[i], ValueKey(i), SemanticIndex::kNoExpiry, 0);
    if (i == 298) {
      EXPECT_EQ(index.GetStats().working_dimensions, kDimensions);
      const auto match = index.Lookup(Namespace(0), points[7], 0.999f);
      ASSERT_TRUE(match.has_value());
      EXPECT_EQ(match->value, ValueKey(7));
    }
  }
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_EQ(stats.working_dimensions, kReduced);
  EXPECT_EQ(stats.rebuilds, 1);
  EXPECT_EQ(stats.entries, 500);
  int num_agree = 0, num_hits = 0;
  constexpr float kThreshold = 0.9f;
  for (int q = 0; q < 400; ++q) {
    const int base = q % 500;  // entries from before and after training
    const std::vector<float> query = Perturb(rng, points[base], 0.2f);
    const auto got = index.Lookup(Namespace(0), query, kThreshold);
    const auto want = model.Lookup(Namespace(0), query, kThreshold, 0);
    if (!got) continue;
    ++num_hits;
    EXPECT_GE(got->similarity, kThreshold);
    // The reduction drops only the 0.02 noise, so the similarity it reports stays within 0.01
    // of the raw cosine (noise energy 64 * 0.02^2 = 0.026 against a norm of several units).
    EXPECT_NEAR(got->similarity, Cosine(query, *model.VectorOf(Namespace(0), got->value)), 0.01);
    if (want && want->value == got->value) ++num_agree;
  }
  EXPECT_GT(num_hits, 380);
  EXPECT_GE(num_agree, num_hits * 9 / 10);
  // Fresh points are far from every entry (raw cosines well below 1, lifted by the common
  // offset): the reduced similarity must still track the raw cosine, which a centred PCA, one
  // that subtracts the mean before projecting, would not do.
  for (int q = 0; q < 100; ++q) {
    const std::vector<float> query = make_point();
    const auto got = index.Lookup(Namespace(0), query, -1.0f);
    ASSERT_TRUE(got.has_value());
    const double raw = Cosine(query, *model.VectorOf(Namespace(0), got->value));
    EXPECT_LT(raw, 0.999);
    EXPECT_NEAR(got->similarity, raw, 0.01);
  }
}

// Lookups run beside inserts, erasures, rebuilds and the flat-to-HNSW switch; the fixed entries
// they query are always found with their own value.
TEST(SemanticIndexTest, ConcurrentLookupsAndInserts) {
  constexpr int kDimensions = 32;
  SemanticIndex index({.dimensions = kDimensions, .hnsw_min_entries = 200, .hnsw_m = 8});
  std::mt19937 rng(1);
  std::vector<std::vector<float>> fixed;
  for (int i = 0; i < 50; ++i) {
    fixed.push_back(RandomVector(rng, kDimensions));
    ASSERT_TRUE(index.Insert(Namespace(0), fixed[i], ValueKey(i), SemanticIndex::kNoExpiry));
  }
  std::atomic<int> failures{0};
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 local(100 + w);
      for (int i = 0; i < 1500; ++i) {
        // Namespace 0 gets few enough to stay flat (exact, so every fixed lookup must hit);
        // namespace 1 grows into HNSW.
        auto ns_of = [](int n) { return Namespace(n % 50 == 0 ? 0 : 1); };
        const int id = 10000 * (w + 1) + i;
        if (!index.Insert(ns_of(i), RandomVector(local, kDimensions), ValueKey(id), 60'000)) {
          ++failures;
        }
        if (i % 4 == 3 && !index.Erase(ns_of(i - 2), ValueKey(id - 2))) ++failures;
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 local(200 + r);
      int i = 0;
      do {
        const int k = (i++ * 7 + r) % 50;
        const auto match = index.Lookup(Namespace(0), fixed[k], 0.999f);
        if (!match || match->value != ValueKey(k)) ++failures;
        index.Lookup(Namespace(1), RandomVector(local, kDimensions), 0.5f);
      } while (!writers_done.load() || i < 200);
    });
  }
  threads[0].join();
  threads[1].join();
  writers_done = true;
  for (size_t t = 2; t < threads.size(); ++t) threads[t].join();
  EXPECT_EQ(failures.load(), 0);
  const SemanticIndex::Stats stats = index.GetStats();
  EXPECT_GE(stats.hnsw_namespaces, 1);
  EXPECT_GT(stats.rebuilds, 0);
  // 50 fixed + 2 * 1500 inserted - 2 * 375 erased.
  EXPECT_EQ(stats.entries, 50 + 3000 - 750);
}

}  // namespace
}  // namespace brisk::cache
