#include "cache/tiered_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/memory_store.h"
#include "cache/redis_store.h"
#include "cache/redis_test_server.h"
#include "cache/rocksdb_store.h"
#include "cache/store_test_util.h"

namespace brisk::cache {
namespace {

using testing_util::FakeClock;
using testing_util::KeyNumber;
using testing_util::MakeResponse;
using testing_util::RandomResponse;
using testing_util::SameResponse;
using testing_util::ScopedTempDir;

// Two clocks moved together: the memory tier's monotonic one and the back store's wall clock,
// which start far apart as real ones do.
struct Clocks {
  FakeClock monotonic{5'000};
  FakeClock wall{1'700'000'000'000};
  void Advance(int64_t ms) {
    monotonic.Advance(ms);
    wall.Advance(ms);
  }
};

std::unique_ptr<MemoryStore> Memory(const Clocks& clocks, int64_t capacity_bytes) {
  return std::make_unique<MemoryStore>(
      MemoryStore::Options{.capacity_bytes = capacity_bytes, .now_ms = clocks.monotonic.fn()});
}

std::unique_ptr<RocksDbStore> Rocks(const Clocks& clocks, const std::string& path,
                                    int64_t capacity_bytes = 1 << 24) {
  absl::StatusOr<std::unique_ptr<RocksDbStore>> store =
      RocksDbStore::Open(path, {.capacity_bytes = capacity_bytes, .now_ms = clocks.wall.fn()});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(TieredStoreTest, MemoryOnlyWhenThereIsNoBackStore) {
  Clocks clocks;
  TieredStore store(Memory(clocks, 1 << 20), nullptr);
  EXPECT_EQ(store.name(), "tiered");
  EXPECT_EQ(store.back(), nullptr);
  const TierLookup miss = store.Lookup(KeyNumber(1));
  EXPECT_EQ(miss.value, nullptr);
  EXPECT_EQ(miss.tier, "");
  ASSERT_TRUE(store.Put(KeyNumber(1), MakeResponse("m", 10, 1), kNoExpiry));
  const TierLookup hit = store.Lookup(KeyNumber(1));
  ASSERT_NE(hit.value, nullptr);
  EXPECT_EQ(hit.tier, "memory");
  EXPECT_TRUE(store.Erase(KeyNumber(1)));
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.inserts, 1);
  EXPECT_EQ(stats.erases, 1);
  EXPECT_EQ(stats.entries, 0);
}

TEST(TieredStoreTest, BackHitIsPromotedWithItsRemainingTtl) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  auto rocks = Rocks(clocks, dir.Sub("db"));
  RocksDbStore* back = rocks.get();
  TieredStore store(Memory(clocks, 1 << 20), std::move(rocks));
  const auto value = MakeResponse("from disk", 100, 2);
  ASSERT_TRUE(back->Put(KeyNumber(1), value, /*ttl_ms=*/1000));  // only in the back tier
  clocks.Advance(600);
  const TierLookup first = store.Lookup(KeyNumber(1));
  ASSERT_NE(first.value, nullptr);
  EXPECT_EQ(first.tier, "rocksdb");
  EXPECT_TRUE(SameResponse(*first.value, *value));
  const TierLookup second = store.Lookup(KeyNumber(1));
  ASSERT_NE(second.value, nullptr);
  EXPECT_EQ(second.tier, "memory");
  const std::vector<MemoryStore::EntryInfo> in_memory = store.front().EntriesByRecency();
  ASSERT_EQ(in_memory.size(), 1u);
  EXPECT_EQ(in_memory[0].expires_at_ms, clocks.monotonic.now->load() + 400);
  clocks.Advance(399);
  EXPECT_EQ(store.Lookup(KeyNumber(1)).tier, "memory");
  clocks.Advance(1);  // both tiers let it go at the same moment
  EXPECT_EQ(store.Lookup(KeyNumber(1)).value, nullptr);
  EXPECT_EQ(back->Get(KeyNumber(1)), nullptr);
}

TEST(TieredStoreTest, PutWritesThroughAndEraseRemovesFromBoth) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  auto rocks = Rocks(clocks, dir.Sub("db"));
  RocksDbStore* back = rocks.get();
  TieredStore store(Memory(clocks, 1 << 20), std::move(rocks));
  ASSERT_TRUE(store.Put(KeyNumber(1), MakeResponse("both", 10, 0), kNoExpiry));
  EXPECT_NE(back->Get(KeyNumber(1)), nullptr);
  EXPECT_EQ(store.front().EntriesByRecency().size(), 1u);
  EXPECT_EQ(store.Lookup(KeyNumber(1)).tier, "memory");
  EXPECT_TRUE(store.Erase(KeyNumber(1)));
  EXPECT_EQ(back->Get(KeyNumber(1)), nullptr);
  EXPECT_TRUE(store.front().EntriesByRecency().empty());
  EXPECT_FALSE(store.Erase(KeyNumber(1)));
}

TEST(TieredStoreTest, AValueTooLargeForMemoryIsServedFromTheBackNeverAStaleCopy) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  TieredStore store(Memory(clocks, 1000), Rocks(clocks, dir.Sub("db")));
  ASSERT_TRUE(store.Put(KeyNumber(1), MakeResponse("small", 10, 0), kNoExpiry));
  const auto large = MakeResponse("large", 5000, 0);
  ASSERT_TRUE(store.Put(KeyNumber(1), large, kNoExpiry));  // memory refuses it, disk takes it
  const TierLookup found = store.Lookup(KeyNumber(1));
  ASSERT_NE(found.value, nullptr);
  EXPECT_EQ(found.tier, "rocksdb");
  EXPECT_TRUE(SameResponse(*found.value, *large));
  // Too large for every tier: refused.
  TieredStore tiny(Memory(clocks, 1000), Rocks(clocks, dir.Sub("db2"), /*capacity_bytes=*/2000));
  EXPECT_FALSE(tiny.Put(KeyNumber(1), large, kNoExpiry));
  EXPECT_EQ(tiny.Stats().rejected, 1);
}

TEST(TieredStoreTest, EntriesSurviveARestartThroughTheBackTier) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  {
    TieredStore store(Memory(clocks, 1 << 20), Rocks(clocks, dir.Sub("db")));
    ASSERT_TRUE(store.Put(KeyNumber(1), MakeResponse("kept", 30, 1), kNoExpiry));
  }
  TieredStore store(Memory(clocks, 1 << 20), Rocks(clocks, dir.Sub("db")));
  EXPECT_EQ(store.Lookup(KeyNumber(1)).tier, "rocksdb");
  EXPECT_EQ(store.Lookup(KeyNumber(1)).tier, "memory");
}

class TieredStoreModelTest : public ::testing::TestWithParam<uint64_t> {};

// A std::map with expiries is the model: the back tier is large enough never to evict, while the
// memory tier holds only a few entries, so lookups move between the tiers. Restarts rebuild the
// pair with an empty memory tier over the reopened disk tier.
TEST_P(TieredStoreModelTest, AgreesWithTheModelOnRandomOperationsAndRestarts) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  const auto make = [&] {
    return std::make_unique<TieredStore>(Memory(clocks, 3000), Rocks(clocks, dir.Sub("db")));
  };
  auto store = make();
  struct Entry {
    CachedResponse value;
    int64_t expires_at_ms;  // on the wall clock; 0 = never
  };
  std::map<CacheKey, Entry> model;
  std::mt19937_64 rng(GetParam());
  int back_hits = 0;
  int memory_hits = 0;
  for (int step = 0; step < 600; ++step) {
    const CacheKey key = KeyNumber(static_cast<int>(rng() % 12));
    const int op = static_cast<int>(rng() % 100);
    const int64_t now = clocks.wall.now->load();
    SCOPED_TRACE(testing::Message() << "step " << step << " op " << op);
    if (op < 35) {
      const auto value = RandomResponse(rng, "t" + std::to_string(step), 1200);
      const int64_t ttl = rng() % 3 == 0 ? kNoExpiry : 1 + static_cast<int64_t>(rng() % 2000);
      ASSERT_TRUE(store->Put(key, value, ttl));
      model[key] = {*value, ttl == kNoExpiry ? 0 : now + ttl};
    } else if (op < 75) {
      const TierLookup got = store->Lookup(key);
      auto it = model.find(key);
      if (it != model.end() && it->second.expires_at_ms != 0 && now >= it->second.expires_at_ms) {
        model.erase(it);
        it = model.end();
      }
      ASSERT_EQ(got.value != nullptr, it != model.end());
      if (got.value == nullptr) continue;
      ASSERT_TRUE(SameResponse(*got.value, it->second.value));
      if (got.tier == "rocksdb") {
        ++back_hits;
        ASSERT_EQ(store->Lookup(key).tier, "memory");  // promoted
      } else {
        ASSERT_EQ(got.tier, "memory");
        ++memory_hits;
      }
    } else if (op < 85) {
      ASSERT_EQ(store->Erase(key), model.erase(key) == 1);
    } else if (op < 97) {
      clocks.Advance(static_cast<int64_t>(rng() % 400));
    } else {
      store.reset();
      store = make();
    }
  }
  EXPECT_GT(back_hits, 10);
  EXPECT_GT(memory_hits, 10);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TieredStoreModelTest, ::testing::Values(21, 22, 23));

TEST(TieredStoreConcurrencyTest, ReadersAndWritersOverMemoryAndRocksDb) {
  ScopedTempDir dir("tiered");
  Clocks clocks;
  auto rocks = Rocks(clocks, dir.Sub("db"), /*capacity_bytes=*/30000);
  RocksDbStore* back = rocks.get();
  TieredStore store(Memory(clocks, 8000), std::move(rocks));
  std::atomic<int64_t> gets{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(500 + t);
      for (int i = 0; i < 1200; ++i) {
        const int k = static_cast<int>(rng() % 24);
        const int op = static_cast<int>(rng() % 10);
        if (op < 3) {
          store.Put(KeyNumber(k),
                    MakeResponse("k" + std::to_string(k) + "/" + std::to_string(t * 10000 + i),
                                 rng() % 900, 1),
                    rng() % 2 == 0 ? kNoExpiry : 40);
        } else if (op < 9) {
          ++gets;
          const TierLookup got = store.Lookup(KeyNumber(k));
          if (got.value != nullptr &&
              (got.value->body_json.rfind("k" + std::to_string(k) + "/", 0) != 0 ||
               (got.tier != "memory" && got.tier != "rocksdb"))) {
            ++wrong;
          }
        } else {
          store.Erase(KeyNumber(k));
        }
        if (t == 0 && i % 50 == 0) clocks.Advance(10);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.hits + stats.misses, gets.load());
  EXPECT_LE(store.front().Stats().bytes, 8000);
  EXPECT_TRUE(back->Verify().ok()) << back->Verify();
}

TEST(TieredStoreTest, OverRedisTheBackTierIsNamedRedisAndAnOutageKeepsMemoryServing) {
  const std::string binary = testing_util::FindRedisServer();
  if (binary.empty()) {
    GTEST_SKIP() << "redis-server is not installed; scripts/install-deps.sh installs it";
  }
  ScopedTempDir dir("tiered");
  testing_util::RedisServer server(binary, dir.path(), testing_util::PickFreePort());
  ASSERT_TRUE(server.Start());
  Clocks clocks;
  auto redis = std::make_unique<RedisStore>(RedisStore::Options{.port = server.port(),
                                                                .key_prefix = "tiered:",
                                                                .command_timeout_ms = 2000,
                                                                .now_ms = clocks.wall.fn()});
  RedisStore* back = redis.get();
  TieredStore store(Memory(clocks, 1 << 20), std::move(redis));
  const auto value = MakeResponse("shared", 200, 3);
  ASSERT_TRUE(back->Put(KeyNumber(1), value, 10'000));  // as another replica would
  clocks.Advance(2'500);
  const TierLookup first = store.Lookup(KeyNumber(1));
  ASSERT_NE(first.value, nullptr);
  EXPECT_EQ(first.tier, "redis");
  EXPECT_EQ(store.front().EntriesByRecency().at(0).expires_at_ms,
            clocks.monotonic.now->load() + 7'500);
  server.Kill();
  EXPECT_EQ(store.Lookup(KeyNumber(1)).tier, "memory");
  // The back tier fails; the memory tier still takes the value.
  EXPECT_TRUE(store.Put(KeyNumber(2), value, kNoExpiry));
  EXPECT_EQ(store.Lookup(KeyNumber(2)).tier, "memory");
  EXPECT_EQ(store.Lookup(KeyNumber(3)).value, nullptr);
}

}  // namespace
}  // namespace brisk::cache
