#include "cache/memory_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <ostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace brisk::cache {
namespace {

constexpr int64_t kOverhead = MemoryStore::kEntryOverheadBytes;

CacheKey KeyNumber(int i) { return Sha256Key("key-" + std::to_string(i)); }

std::shared_ptr<const CachedResponse> Response(std::string body,
                                               std::vector<std::string> events = {}) {
  auto response = std::make_shared<CachedResponse>();
  response->body_json = std::move(body);
  response->sse_events = std::move(events);
  return response;
}

// A clock the test moves by hand.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1000);
  std::function<int64_t()> fn() const {
    return [now = now] { return now->load(); };
  }
  void Advance(int64_t ms) { now->fetch_add(ms); }
};

TEST(MemoryStoreTest, PayloadCountsBodyAndEveryEvent) {
  EXPECT_EQ(PayloadBytes(*Response("")), 0);
  EXPECT_EQ(PayloadBytes(*Response("12345", {"ab", "", "cde"})), 10);
  EXPECT_EQ(MemoryStore::EntrySize(*Response("12345", {"ab"})), 7 + kOverhead);
}

TEST(MemoryStoreTest, HitReturnsTheStoredValueAndMissReturnsNull) {
  FakeClock clock;
  MemoryStore store({.capacity_bytes = 10000, .now_ms = clock.fn()});
  CacheStore& as_interface = store;
  const auto value = Response(R"({"id":"x"})", {R"({"delta":"a"})", R"({"delta":"b"})"});
  EXPECT_EQ(as_interface.Get(KeyNumber(1)), nullptr);
  EXPECT_TRUE(as_interface.Put(KeyNumber(1), value, kNoExpiry));
  EXPECT_EQ(as_interface.Get(KeyNumber(1)), value);  // the same immutable object
  EXPECT_EQ(as_interface.Get(KeyNumber(2)), nullptr);
  const StoreStats stats = as_interface.Stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.inserts, 1);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.bytes, 10 + 13 + 13 + kOverhead);
  EXPECT_EQ(stats.capacity_bytes, 10000);
}

TEST(MemoryStoreTest, EntriesExpireAtTheirTtlAndAreDroppedOnAccess) {
  FakeClock clock;
  MemoryStore store({.capacity_bytes = 10000, .now_ms = clock.fn()});
  ASSERT_TRUE(store.Put(KeyNumber(1), Response("short"), /*ttl_ms=*/100));
  ASSERT_TRUE(store.Put(KeyNumber(2), Response("forever"), kNoExpiry));
  clock.Advance(99);
  EXPECT_NE(store.Get(KeyNumber(1)), nullptr);
  clock.Advance(1);  // now == insert time + ttl: expired
  EXPECT_EQ(store.Stats().entries, 2);  // not swept until touched
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  StoreStats stats = store.Stats();
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.bytes, 7 + kOverhead);
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);  // gone now: a plain miss
  EXPECT_EQ(store.Stats().expired, 1);
  clock.Advance(int64_t{1} << 50);
  EXPECT_NE(store.Get(KeyNumber(2)), nullptr);
}

TEST(MemoryStoreTest, HugeTtlSaturatesInsteadOfOverflowing) {
  FakeClock clock;
  MemoryStore store({.capacity_bytes = 10000, .now_ms = clock.fn()});
  ASSERT_TRUE(store.Put(KeyNumber(1), Response("x"), std::numeric_limits<int64_t>::max()));
  clock.Advance(int64_t{1} << 60);
  EXPECT_NE(store.Get(KeyNumber(1)), nullptr);
}

TEST(MemoryStoreTest, RefusesAnEntryLargerThanTheWholeBudgetAndChangesNothing) {
  FakeClock clock;
  MemoryStore store({.capacity_bytes = kOverhead + 10, .now_ms = clock.fn()});
  const auto fits = Response("0123456789");  // exactly the budget
  ASSERT_TRUE(store.Put(KeyNumber(1), fits, kNoExpiry));
  EXPECT_FALSE(store.Put(KeyNumber(1), Response("0123456789", {"x"}), kNoExpiry));
  EXPECT_FALSE(store.Put(KeyNumber(2), Response("01234567890"), kNoExpiry));
  EXPECT_EQ(store.Get(KeyNumber(1)), fits);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.rejected, 2);
  EXPECT_EQ(stats.evictions, 0);
  EXPECT_EQ(stats.bytes, kOverhead + 10);

  MemoryStore empty({.capacity_bytes = 0, .now_ms = clock.fn()});
  EXPECT_FALSE(empty.Put(KeyNumber(1), Response(""), kNoExpiry));
}

TEST(MemoryStoreTest, EvictsTheLeastRecentlyUsedFirst) {
  FakeClock clock;
  // Room for three entries with a 10-byte payload.
  MemoryStore store({.capacity_bytes = 3 * (kOverhead + 10), .now_ms = clock.fn()});
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(store.Put(KeyNumber(i), Response("aaaaaaaaaa"), 0));
  const auto held = store.Get(KeyNumber(2));
  ASSERT_NE(store.Get(KeyNumber(1)), nullptr);  // order now (MRU first): 1, 2, 3
  ASSERT_TRUE(store.Put(KeyNumber(4), Response("bbbbbbbbbb"), 0));
  EXPECT_EQ(store.Get(KeyNumber(3)), nullptr);
  // A 20-byte payload needs two slots' worth: evicts 2, then 1 (4 was just used).
  ASSERT_TRUE(store.Put(KeyNumber(5), Response(std::string(20 + kOverhead, 'c')), 0));
  EXPECT_EQ(store.Get(KeyNumber(2)), nullptr);
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  EXPECT_NE(store.Get(KeyNumber(4)), nullptr);
  EXPECT_EQ(store.Stats().evictions, 3);
  // An evicted value stays valid for whoever holds it.
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->body_json, "aaaaaaaaaa");
}

TEST(MemoryStoreTest, PutReplacesAndEraseRemoves) {
  FakeClock clock;
  MemoryStore store({.capacity_bytes = 10000, .now_ms = clock.fn()});
  ASSERT_TRUE(store.Put(KeyNumber(1), Response("old"), 0));
  const auto fresh = Response("newer");
  ASSERT_TRUE(store.Put(KeyNumber(1), fresh, 0));
  EXPECT_EQ(store.Get(KeyNumber(1)), fresh);
  EXPECT_EQ(store.Stats().bytes, 5 + kOverhead);
  EXPECT_EQ(store.Stats().overwrites, 1);
  EXPECT_TRUE(store.Erase(KeyNumber(1)));
  EXPECT_FALSE(store.Erase(KeyNumber(1)));
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.erases, 1);
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.bytes, 0);
}

TEST(MemoryStoreTest, DefaultClockIsUsable) {
  MemoryStore store({.capacity_bytes = 10000, .now_ms = {}});
  ASSERT_TRUE(store.Put(KeyNumber(1), Response("x"), /*ttl_ms=*/3'600'000));
  EXPECT_NE(store.Get(KeyNumber(1)), nullptr);
}

// The reference: a std::map plus a recency list, following the CacheStore contract literally.
class ModelStore {
 public:
  explicit ModelStore(int64_t capacity) { stats_.capacity_bytes = capacity; }

  std::shared_ptr<const CachedResponse> Get(const CacheKey& key, int64_t now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      ++stats_.misses;
      return nullptr;
    }
    if (it->second.expires_at != kForever && now >= it->second.expires_at) {
      Remove(key);
      ++stats_.misses;
      ++stats_.expired;
      return nullptr;
    }
    recency_.remove(key);
    recency_.push_front(key);
    ++stats_.hits;
    return it->second.value;
  }

  bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value, int64_t ttl,
           int64_t now) {
    int64_t size = kOverhead + static_cast<int64_t>(value->body_json.size());
    for (const std::string& e : value->sse_events) size += static_cast<int64_t>(e.size());
    if (size > stats_.capacity_bytes) {
      ++stats_.rejected;
      return false;
    }
    if (entries_.count(key) != 0) {
      Remove(key);
      ++stats_.overwrites;
    }
    while (Bytes() + size > stats_.capacity_bytes) {
      Remove(recency_.back());
      ++stats_.evictions;
    }
    entries_[key] = {value, size, ttl == 0 ? kForever : now + ttl};
    recency_.push_front(key);
    ++stats_.inserts;
    return true;
  }

  bool Erase(const CacheKey& key) {
    if (entries_.count(key) == 0) return false;
    Remove(key);
    ++stats_.erases;
    return true;
  }

  // Compares everything observable about `store` with this model.
  void ExpectMatches(const MemoryStore& store, int step) const {
    StoreStats want = stats_;
    want.entries = static_cast<int64_t>(entries_.size());
    want.bytes = Bytes();
    const StoreStats got = store.Stats();
    EXPECT_EQ(got.hits, want.hits) << "step " << step;
    EXPECT_EQ(got.misses, want.misses) << "step " << step;
    EXPECT_EQ(got.expired, want.expired) << "step " << step;
    EXPECT_EQ(got.evictions, want.evictions) << "step " << step;
    EXPECT_EQ(got.inserts, want.inserts) << "step " << step;
    EXPECT_EQ(got.overwrites, want.overwrites) << "step " << step;
    EXPECT_EQ(got.rejected, want.rejected) << "step " << step;
    EXPECT_EQ(got.erases, want.erases) << "step " << step;
    EXPECT_EQ(got.entries, want.entries) << "step " << step;
    EXPECT_EQ(got.bytes, want.bytes) << "step " << step;
    EXPECT_LE(got.bytes, got.capacity_bytes) << "step " << step;
    const std::vector<MemoryStore::EntryInfo> infos = store.EntriesByRecency();
    ASSERT_EQ(infos.size(), recency_.size()) << "step " << step;
    auto key_it = recency_.begin();
    for (size_t i = 0; i < infos.size(); ++i, ++key_it) {
      ASSERT_EQ(infos[i].key, *key_it) << "step " << step << " position " << i;
      const Entry& e = entries_.at(*key_it);
      EXPECT_EQ(infos[i].size_bytes, e.size) << "step " << step;
      EXPECT_EQ(infos[i].expires_at_ms, e.expires_at) << "step " << step;
    }
  }

 private:
  static constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
  struct Entry {
    std::shared_ptr<const CachedResponse> value;
    int64_t size = 0;
    int64_t expires_at = 0;
  };

  int64_t Bytes() const {
    int64_t sum = 0;
    for (const auto& [key, e] : entries_) sum += e.size;
    return sum;
  }
  void Remove(const CacheKey& key) {
    entries_.erase(key);
    recency_.remove(key);
  }

  std::map<CacheKey, Entry> entries_;
  std::list<CacheKey> recency_;  // most recently used first
  StoreStats stats_;
};

struct RandomRun {
  uint32_t seed;
  int64_t capacity_bytes;
  int num_keys;
};

void PrintTo(const RandomRun& run, std::ostream* os) {
  *os << "seed " << run.seed << ", capacity " << run.capacity_bytes << ", keys " << run.num_keys;
}

class MemoryStoreModelTest : public testing::TestWithParam<RandomRun> {};

TEST_P(MemoryStoreModelTest, AgreesWithTheModelOnRandomOperations) {
  const RandomRun run = GetParam();
  std::mt19937 rng(run.seed);
  FakeClock clock;
  MemoryStore store({.capacity_bytes = run.capacity_bytes, .now_ms = clock.fn()});
  ModelStore model(run.capacity_bytes);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  constexpr int kSteps = 5000;
  for (int step = 0; step < kSteps; ++step) {
    const CacheKey key = KeyNumber(uniform(0, run.num_keys - 1));
    const int op = uniform(0, 99);
    if (op < 45) {
      EXPECT_EQ(store.Get(key), model.Get(key, clock.now->load())) << "step " << step;
    } else if (op < 80) {
      std::vector<std::string> events(uniform(0, 6));
      for (std::string& e : events) e.assign(uniform(0, 80), 'e');
      // One Put in 50 is far larger than any budget used here.
      const int body_bytes = uniform(0, 49) == 0 ? 100000 : uniform(0, 500);
      const auto value = Response(std::string(body_bytes, 'b'), std::move(events));
      const int64_t ttl = uniform(0, 3) == 0 ? kNoExpiry : uniform(1, 1500);
      EXPECT_EQ(store.Put(key, value, ttl), model.Put(key, value, ttl, clock.now->load()))
          << "step " << step;
    } else if (op < 90) {
      EXPECT_EQ(store.Erase(key), model.Erase(key)) << "step " << step;
    } else {
      clock.Advance(uniform(0, 400));
    }
    model.ExpectMatches(store, step);
    if (testing::Test::HasFailure()) return;  // the first divergence is the useful one
  }
  if (run.capacity_bytes >= 2000) {
    EXPECT_GT(store.Stats().hits, 0);
    EXPECT_GT(store.Stats().expired, 0);
  }
  if (run.capacity_bytes == 0) {
    EXPECT_EQ(store.Stats().inserts, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, MemoryStoreModelTest,
    testing::Values(RandomRun{1, 4000, 16}, RandomRun{2, 4000, 16}, RandomRun{3, 1500, 8},
                    RandomRun{4, 20000, 40}, RandomRun{5, 300, 4},  // fits only tiny entries
                    RandomRun{6, 0, 4},                               // refuses everything
                    RandomRun{7, 100000, 64}));                       // rarely evicts

TEST(MemoryStoreConcurrencyTest, RandomOperationsFromSeveralThreadsKeepTheInvariants) {
  FakeClock clock;
  constexpr int64_t kCapacity = 6000;
  constexpr int kNumKeys = 48;
  MemoryStore store({.capacity_bytes = kCapacity, .now_ms = clock.fn()});
  struct Counts {
    int64_t gets = 0, puts = 0, accepted = 0, erased = 0, wrong_value = 0;
  };
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 20000;
  std::vector<Counts> counts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      auto uniform = [&](int lo, int hi) {
        return std::uniform_int_distribution<int>(lo, hi)(rng);
      };
      Counts& c = counts[t];
      for (int i = 0; i < kOpsPerThread; ++i) {
        const int k = uniform(0, kNumKeys - 1);
        const std::string tag = "k" + std::to_string(k) + ":";
        const int op = uniform(0, 99);
        if (op < 50) {
          ++c.gets;
          const auto value = store.Get(KeyNumber(k));
          if (value != nullptr && value->body_json.rfind(tag, 0) != 0) ++c.wrong_value;
        } else if (op < 85) {
          ++c.puts;
          const int body = uniform(0, 49) == 0 ? 2 * kCapacity : uniform(0, 600);
          const auto value = Response(tag + std::string(body, 'x'), {tag, tag});
          c.accepted += store.Put(KeyNumber(k), value, uniform(0, 2) == 0 ? 0 : uniform(1, 50));
        } else if (op < 95) {
          c.erased += store.Erase(KeyNumber(k));
        } else {
          clock.Advance(uniform(0, 5));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  Counts total;
  for (const Counts& c : counts) {
    total.gets += c.gets;
    total.puts += c.puts;
    total.accepted += c.accepted;
    total.erased += c.erased;
    total.wrong_value += c.wrong_value;
  }
  const StoreStats stats = store.Stats();
  EXPECT_EQ(total.wrong_value, 0);
  EXPECT_EQ(stats.hits + stats.misses, total.gets);
  EXPECT_LE(stats.expired, stats.misses);
  EXPECT_EQ(stats.inserts, total.accepted);
  EXPECT_EQ(stats.rejected, total.puts - total.accepted);
  EXPECT_EQ(stats.erases, total.erased);
  EXPECT_EQ(stats.entries,
            stats.inserts - stats.overwrites - stats.evictions - stats.expired - stats.erases);
  EXPECT_LE(stats.bytes, kCapacity);
  EXPECT_GT(stats.hits, 0);
  EXPECT_GT(stats.evictions, 0);
  EXPECT_GT(stats.expired, 0);
  int64_t bytes = 0;
  const std::vector<MemoryStore::EntryInfo> infos = store.EntriesByRecency();
  for (const MemoryStore::EntryInfo& info : infos) bytes += info.size_bytes;
  EXPECT_EQ(static_cast<int64_t>(infos.size()), stats.entries);
  EXPECT_EQ(bytes, stats.bytes);
}

}  // namespace
}  // namespace brisk::cache
