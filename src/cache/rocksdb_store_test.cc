#include "cache/rocksdb_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/response_codec.h"
#include "cache/store_test_util.h"
#include "rocksdb/db.h"

namespace brisk::cache {
namespace {

using testing_util::FakeClock;
using testing_util::KeyNumber;
using testing_util::MakeResponse;
using testing_util::RandomResponse;
using testing_util::SameResponse;
using testing_util::ScopedTempDir;

std::unique_ptr<RocksDbStore> OpenOrDie(const std::string& path, RocksDbStore::Options options) {
  absl::StatusOr<std::unique_ptr<RocksDbStore>> store = RocksDbStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

TEST(RocksDbStoreTest, EntrySizeIsTheEncodedRecordPlusAFixedOverhead) {
  const auto small = MakeResponse("a", 10, 0);
  const auto larger = MakeResponse("a", 110, 0);
  EXPECT_EQ(RocksDbStore::EntrySize(*larger) - RocksDbStore::EntrySize(*small), 100);
  EXPECT_EQ(RocksDbStore::EntrySize(*small),
            EncodedResponseSize(*small) + RocksDbStore::kEntryOverheadBytes);
}

TEST(RocksDbStoreTest, HitMissAndStats) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 1 << 20, .now_ms = clock.fn()});
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->name(), "rocksdb");
  const auto value = MakeResponse("hello", 50, 3);
  EXPECT_EQ(store->Get(KeyNumber(1)), nullptr);
  ASSERT_TRUE(store->Put(KeyNumber(1), value, kNoExpiry));
  const auto got = store->Get(KeyNumber(1));
  ASSERT_NE(got, nullptr);
  EXPECT_TRUE(SameResponse(*got, *value));
  const ExpiringValue looked = store->Lookup(KeyNumber(1));
  EXPECT_EQ(looked.ttl_remaining_ms, kNoExpiry);
  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.hits, 2);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.inserts, 1);
  EXPECT_EQ(stats.entries, 1);
  EXPECT_EQ(stats.bytes, RocksDbStore::EntrySize(*value));
  EXPECT_EQ(stats.capacity_bytes, 1 << 20);
  EXPECT_EQ(store->errors(), 0);
  EXPECT_TRUE(store->Verify().ok());
}

TEST(RocksDbStoreTest, TtlIsHonouredAndReportedAsRemaining) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 1 << 20, .now_ms = clock.fn()});
  ASSERT_TRUE(store->Put(KeyNumber(1), MakeResponse("x", 10, 0), /*ttl_ms=*/1000));
  clock.Advance(400);
  EXPECT_EQ(store->Lookup(KeyNumber(1)).ttl_remaining_ms, 600);
  clock.Advance(599);
  EXPECT_EQ(store->Lookup(KeyNumber(1)).ttl_remaining_ms, 1);
  clock.Advance(1);
  EXPECT_EQ(store->Get(KeyNumber(1)), nullptr);
  StoreStats stats = store->Stats();
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(stats.entries, 0);  // dropped on the Get that found it expired
  EXPECT_EQ(stats.bytes, 0);
  EXPECT_FALSE(store->Erase(KeyNumber(1)));
  EXPECT_TRUE(store->Verify().ok());
}

TEST(RocksDbStoreTest, EvictsOldestInsertedFirstAndRefusesTooLarge) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  const auto value = [](int i) { return MakeResponse("v" + std::to_string(i), 200, 1); };
  const int64_t entry = RocksDbStore::EntrySize(*value(0));
  ASSERT_EQ(entry, RocksDbStore::EntrySize(*value(9)));
  auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 3 * entry, .now_ms = clock.fn()});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Put(KeyNumber(i), value(i), kNoExpiry));
  ASSERT_NE(store->Get(KeyNumber(0)), nullptr);  // a hit does not protect it (FIFO, not LRU)
  ASSERT_TRUE(store->Put(KeyNumber(3), value(3), kNoExpiry));
  EXPECT_EQ(store->Get(KeyNumber(0)), nullptr);
  EXPECT_NE(store->Get(KeyNumber(1)), nullptr);
  // Overwriting key 1 makes it the newest: key 2 goes next.
  ASSERT_TRUE(store->Put(KeyNumber(1), value(8), kNoExpiry));  // same size as value(1)
  ASSERT_TRUE(store->Put(KeyNumber(4), value(4), kNoExpiry));
  EXPECT_EQ(store->Get(KeyNumber(2)), nullptr);
  EXPECT_NE(store->Get(KeyNumber(1)), nullptr);
  EXPECT_NE(store->Get(KeyNumber(3)), nullptr);
  EXPECT_NE(store->Get(KeyNumber(4)), nullptr);
  EXPECT_FALSE(store->Put(KeyNumber(9), MakeResponse("huge", 4 * entry, 0), kNoExpiry));
  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.evictions, 2);
  EXPECT_EQ(stats.overwrites, 1);
  EXPECT_EQ(stats.rejected, 1);
  EXPECT_EQ(stats.entries, 3);
  EXPECT_EQ(stats.bytes, 3 * entry);
  EXPECT_TRUE(store->Verify().ok());
}

TEST(RocksDbStoreTest, ReopenRecoversEntriesBytesAndExpiries) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  const RocksDbStore::Options options = {.capacity_bytes = 1 << 20, .now_ms = clock.fn()};
  StoreStats before;
  {
    auto store = OpenOrDie(dir.Sub("db"), options);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(store->Put(KeyNumber(i), MakeResponse("r" + std::to_string(i), 37 * i, i % 3),
                             i % 2 == 0 ? kNoExpiry : 1000));
    }
    ASSERT_TRUE(store->Erase(KeyNumber(4)));
    before = store->Stats();
  }
  clock.Advance(1000);  // the odd keys expire while the store is closed
  auto store = OpenOrDie(dir.Sub("db"), options);
  const StoreStats after = store->Stats();
  EXPECT_EQ(after.entries, before.entries);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.inserts, 0);  // counters start again at Open
  EXPECT_TRUE(store->Verify().ok());
  for (int i = 0; i < 20; ++i) {
    const auto got = store->Get(KeyNumber(i));
    if (i % 2 == 1 || i == 4) {
      EXPECT_EQ(got, nullptr) << i;
    } else {
      ASSERT_NE(got, nullptr) << i;
      EXPECT_TRUE(SameResponse(*got, *MakeResponse("r" + std::to_string(i), 37 * i, i % 3)));
    }
  }
  EXPECT_EQ(store->Stats().expired, 10);
  // New entries continue the insertion order after the recovered ones.
  ASSERT_TRUE(store->Put(KeyNumber(100), MakeResponse("new", 5, 0), kNoExpiry));
  EXPECT_TRUE(store->Verify().ok());
}

TEST(RocksDbStoreTest, ReopenWithASmallerCapacityEvictsTheOldest) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  const auto value = [](int i) { return MakeResponse("s" + std::to_string(i), 300, 0); };
  const int64_t entry = RocksDbStore::EntrySize(*value(0));
  {
    auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 10 * entry, .now_ms = clock.fn()});
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Put(KeyNumber(i), value(i), kNoExpiry));
  }
  auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 4 * entry, .now_ms = clock.fn()});
  EXPECT_EQ(store->Stats().entries, 4);
  EXPECT_EQ(store->Stats().evictions, 6);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(store->Get(KeyNumber(i)) != nullptr, i >= 6) << i;
  EXPECT_TRUE(store->Verify().ok());
}

TEST(RocksDbStoreTest, SecondOpenOfOneDirectoryIsAnError) {
  ScopedTempDir dir("rocks");
  auto first = OpenOrDie(dir.Sub("db"), {});
  const absl::StatusOr<std::unique_ptr<RocksDbStore>> second =
      RocksDbStore::Open(dir.Sub("db"), {});
  EXPECT_FALSE(second.ok());
}

TEST(RocksDbStoreTest, ACorruptedRecordIsAMissAndCounted) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  {
    auto store = OpenOrDie(dir.Sub("db"), {.now_ms = clock.fn()});
    ASSERT_TRUE(store->Put(KeyNumber(1), MakeResponse("fine", 100, 2), kNoExpiry));
  }
  {  // Flip one byte inside the stored record, behind the store's back.
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.Sub("db"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const CacheKey key = KeyNumber(1);
    const std::string entry_key =
        "e" + std::string(reinterpret_cast<const char*>(key.bytes.data()), key.bytes.size());
    std::string stored;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), entry_key, &stored).ok());
    stored[stored.size() / 2] ^= 0x20;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), entry_key, stored).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto store = OpenOrDie(dir.Sub("db"), {.now_ms = clock.fn()});
  EXPECT_EQ(store->Get(KeyNumber(1)), nullptr);
  EXPECT_EQ(store->errors(), 1);
  EXPECT_EQ(store->Stats().misses, 1);
  EXPECT_FALSE(store->Verify().ok());
  EXPECT_TRUE(store->Erase(KeyNumber(1)));  // the damaged entry can still be removed
  EXPECT_TRUE(store->Verify().ok());
}

// The trivially correct model: a map with expiries and an insertion order, evicting the oldest.
class FifoModel {
 public:
  explicit FifoModel(int64_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  std::optional<CachedResponse> Get(const CacheKey& key, int64_t now_ms) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires_at_ms != 0 && now_ms >= it->second.expires_at_ms) {
      Remove(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  bool Put(const CacheKey& key, const CachedResponse& value, int64_t ttl_ms, int64_t now_ms) {
    const int64_t size = RocksDbStore::EntrySize(value);
    if (size > capacity_bytes_) return false;
    if (const auto it = entries_.find(key); it != entries_.end()) Remove(it);
    while (bytes_ + size > capacity_bytes_) Remove(entries_.find(order_.begin()->second));
    const uint64_t seq = next_seq_++;
    entries_[key] = {value, ttl_ms == 0 ? 0 : now_ms + ttl_ms, seq, size};
    order_[seq] = key;
    bytes_ += size;
    return true;
  }

  bool Erase(const CacheKey& key) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    Remove(it);
    return true;
  }

  int64_t bytes() const { return bytes_; }
  int64_t entries() const { return static_cast<int64_t>(entries_.size()); }

 private:
  struct Entry {
    CachedResponse value;
    int64_t expires_at_ms = 0;
    uint64_t seq = 0;
    int64_t size = 0;
  };
  void Remove(std::map<CacheKey, Entry>::iterator it) {
    bytes_ -= it->second.size;
    order_.erase(it->second.seq);
    entries_.erase(it);
  }

  const int64_t capacity_bytes_;
  std::map<CacheKey, Entry> entries_;
  std::map<uint64_t, CacheKey> order_;
  int64_t bytes_ = 0;
  uint64_t next_seq_ = 0;
};

class RocksDbStoreModelTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RocksDbStoreModelTest, AgreesWithTheModelAcrossRandomOperationsAndReopens) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  std::mt19937_64 rng(GetParam());
  constexpr int64_t kCapacity = 4000;  // a handful of entries, so eviction happens often
  const RocksDbStore::Options options = {.capacity_bytes = kCapacity, .now_ms = clock.fn()};
  auto store = OpenOrDie(dir.Sub("db"), options);
  FifoModel model(kCapacity);
  int num_reopens = 0;
  for (int step = 0; step < 600; ++step) {
    const CacheKey key = KeyNumber(static_cast<int>(rng() % 12));
    const int op = static_cast<int>(rng() % 100);
    SCOPED_TRACE(testing::Message() << "step " << step << " op " << op);
    if (op < 40) {
      const auto value = RandomResponse(rng, "s" + std::to_string(step), 900);
      const int64_t ttl = rng() % 3 == 0 ? kNoExpiry : 1 + static_cast<int64_t>(rng() % 1000);
      ASSERT_EQ(store->Put(key, value, ttl), model.Put(key, *value, ttl, clock.now->load()));
    } else if (op < 75) {
      const auto got = store->Get(key);
      const std::optional<CachedResponse> want = model.Get(key, clock.now->load());
      ASSERT_EQ(got != nullptr, want.has_value());
      if (got != nullptr) {
        ASSERT_TRUE(SameResponse(*got, *want));
      }
    } else if (op < 85) {
      ASSERT_EQ(store->Erase(key), model.Erase(key));
    } else if (op < 96) {
      clock.Advance(static_cast<int64_t>(rng() % 300));
    } else {
      store.reset();
      store = OpenOrDie(dir.Sub("db"), options);
      ASSERT_NE(store, nullptr);
      ++num_reopens;
    }
    const StoreStats stats = store->Stats();
    ASSERT_EQ(stats.entries, model.entries());
    ASSERT_EQ(stats.bytes, model.bytes());
    ASSERT_LE(stats.bytes, kCapacity);
  }
  EXPECT_GT(num_reopens, 5);
  EXPECT_EQ(store->errors(), 0);
  EXPECT_TRUE(store->Verify().ok()) << store->Verify();
}

INSTANTIATE_TEST_SUITE_P(Seeds, RocksDbStoreModelTest, ::testing::Values(1, 2, 3));

TEST(RocksDbStoreConcurrencyTest, ReadersAndWritersKeepTheStoreConsistent) {
  ScopedTempDir dir("rocks");
  FakeClock clock;
  auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 20000, .now_ms = clock.fn()});
  constexpr int kThreads = 4;
  constexpr int kOpsPerThread = 1500;
  std::atomic<int64_t> gets{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(100 + t);
      for (int i = 0; i < kOpsPerThread; ++i) {
        const int k = static_cast<int>(rng() % 16);
        const int op = static_cast<int>(rng() % 10);
        if (op < 4) {
          // Every value of key k starts with "k<k>/", so a reader can tell a crossed key.
          store->Put(KeyNumber(k),
                     MakeResponse("k" + std::to_string(k) + "/" + std::to_string(t * 100000 + i),
                                  rng() % 800, static_cast<int>(rng() % 3)),
                     rng() % 2 == 0 ? kNoExpiry : 50);
        } else if (op < 9) {
          ++gets;
          const auto got = store->Get(KeyNumber(k));
          if (got != nullptr && got->body_json.rfind("k" + std::to_string(k) + "/", 0) != 0)
            ++wrong;
        } else {
          store->Erase(KeyNumber(k));
        }
        if (t == 0 && i % 100 == 0) clock.Advance(20);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.hits + stats.misses, gets.load());
  EXPECT_LE(stats.bytes, stats.capacity_bytes);
  EXPECT_EQ(store->errors(), 0);
  EXPECT_TRUE(store->Verify().ok()) << store->Verify();
  // What is on disk is what a reopen sees.
  store.reset();
  store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 20000, .now_ms = clock.fn()});
  EXPECT_EQ(store->Stats().entries, stats.entries);
  EXPECT_EQ(store->Stats().bytes, stats.bytes);
}

// The value the crash helper writes under key i: deterministic, of varied size.
std::shared_ptr<const CachedResponse> CrashValue(int i) {
  return MakeResponse("crash" + std::to_string(i), 64 + (i * 7919) % 6000, i % 5);
}

constexpr char kCrashDirEnv[] = "BRISK_ROCKSDB_CRASH_HELPER_DIR";
constexpr char kCrashFdEnv[] = "BRISK_ROCKSDB_CRASH_HELPER_FD";
constexpr char kCrashFirstEnv[] = "BRISK_ROCKSDB_CRASH_HELPER_FIRST";

// Not a test of its own: the child process of SurvivesKill9. It opens the store, Puts entries
// first, first + 1, ... and reports each acknowledged index over the pipe until it is killed.
// Disabled so that it runs only when SurvivesKill9 starts it explicitly.
TEST(RocksDbStoreCrashHelper, DISABLED_WriteUntilKilled) {
  const char* dir = std::getenv(kCrashDirEnv);
  const char* fd_text = std::getenv(kCrashFdEnv);
  const char* first_text = std::getenv(kCrashFirstEnv);
  if (dir == nullptr || fd_text == nullptr || first_text == nullptr) GTEST_SKIP();
  const int fd = std::atoi(fd_text);
  auto store = OpenOrDie(dir, {.capacity_bytes = 1ll << 30, .now_ms = {}});
  ASSERT_NE(store, nullptr);
  for (int i = std::atoi(first_text); i < 1'000'000; ++i) {
    ASSERT_TRUE(store->Put(KeyNumber(i), CrashValue(i), kNoExpiry));
    const int32_t acked = i;
    ASSERT_EQ(write(fd, &acked, sizeof(acked)), static_cast<ssize_t>(sizeof(acked)));
  }
}

// Runs the helper in a child process, kills it with SIGKILL after `acks_before_kill` acks, and
// returns every index it acknowledged.
std::vector<int> RunCrashHelper(const std::string& dir, int first, int acks_before_kill) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    setenv(kCrashDirEnv, dir.c_str(), 1);
    setenv(kCrashFdEnv, std::to_string(fds[1]).c_str(), 1);
    setenv(kCrashFirstEnv, std::to_string(first).c_str(), 1);
    const char* argv[] = {"brisk_cache_test",
                          "--gtest_filter=RocksDbStoreCrashHelper.DISABLED_WriteUntilKilled",
                          "--gtest_also_run_disabled_tests", nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(argv));
    _exit(127);
  }
  close(fds[1]);
  std::vector<int> acked;
  bool killed = false;
  int32_t index = 0;
  while (read(fds[0], &index, sizeof(index)) == static_cast<ssize_t>(sizeof(index))) {
    acked.push_back(index);
    if (!killed && static_cast<int>(acked.size()) == acks_before_kill) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);  // EOF: the child is gone; acks written before it died were all read
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the helper ended on its own (status " << status << ")";
  return acked;
}

TEST(RocksDbStoreTest, EveryAcknowledgedPutSurvivesKill9) {
  ScopedTempDir dir("rocks");
  std::mt19937_64 rng(99);
  std::vector<int> all_acked;
  int first = 0;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(testing::Message() << "round " << round);
    const int acks_before_kill = 20 + static_cast<int>(rng() % 400);
    const std::vector<int> acked = RunCrashHelper(dir.Sub("db"), first, acks_before_kill);
    ASSERT_GE(static_cast<int>(acked.size()), acks_before_kill);
    all_acked.insert(all_acked.end(), acked.begin(), acked.end());
    auto store = OpenOrDie(dir.Sub("db"), {.capacity_bytes = 1ll << 30, .now_ms = {}});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Verify().ok()) << store->Verify();  // every stored entry decodes
    for (const int i : all_acked) {
      const auto got = store->Get(KeyNumber(i));
      ASSERT_NE(got, nullptr) << "acknowledged entry " << i << " lost";
      ASSERT_TRUE(SameResponse(*got, *CrashValue(i))) << "entry " << i << " differs";
    }
    // The Put in flight at the kill may or may not have landed, but never half.
    const int in_flight = acked.back() + 1;
    if (const auto got = store->Get(KeyNumber(in_flight))) {
      EXPECT_TRUE(SameResponse(*got, *CrashValue(in_flight)));
    }
    const StoreStats stats = store->Stats();
    EXPECT_GE(stats.entries, static_cast<int64_t>(all_acked.size()));
    EXPECT_LE(stats.entries, static_cast<int64_t>(all_acked.size()) + round + 1);
    first = in_flight + 1;
  }
}

}  // namespace
}  // namespace brisk::cache
