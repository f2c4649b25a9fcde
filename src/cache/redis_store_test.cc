#include "cache/redis_store.h"

#include <gtest/gtest.h>
#include <hiredis.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "cache/redis_test_server.h"
#include "cache/response_codec.h"
#include "cache/store_test_util.h"

namespace brisk::cache {
namespace {

using testing_util::FakeClock;
using testing_util::FindRedisServer;
using testing_util::KeyNumber;
using testing_util::MakeResponse;
using testing_util::PickFreePort;
using testing_util::RandomResponse;
using testing_util::RedisServer;
using testing_util::SameResponse;
using testing_util::ScopedTempDir;

// A raw hiredis connection for looking at what the store wrote.
class RawClient {
 public:
  explicit RawClient(int port) : context_(redisConnectWithTimeout("127.0.0.1", port, {1, 0})) {}
  ~RawClient() {
    if (context_ != nullptr) redisFree(context_);
  }
  // The reply as (type, string or integer rendered as text).
  std::pair<int, std::string> Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (reply == nullptr) return {-1, ""};
    std::pair<int, std::string> out = {reply->type, ""};
    if (reply->type == REDIS_REPLY_INTEGER) {
      out.second = std::to_string(reply->integer);
    } else if (reply->str != nullptr) {
      out.second.assign(reply->str, reply->len);
    }
    freeReplyObject(reply);
    return out;
  }

 private:
  redisContext* context_;
};

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = FindRedisServer();
    if (binary_.empty()) {
      GTEST_SKIP() << "redis-server is not installed; scripts/install-deps.sh installs it";
    }
    dir_ = std::make_unique<ScopedTempDir>("redis");
    server_ = std::make_unique<RedisServer>(binary_, dir_->path(), PickFreePort());
    ASSERT_TRUE(server_->Start()) << "redis-server did not start on port " << server_->port();
  }

  RedisStore::Options BaseOptions() const {
    return {.port = server_->port(),
            .key_prefix = "test:",
            .pool_size = 2,
            // Generous for the functional tests: a loaded 2-core machine may stall a few ms.
            .command_timeout_ms = 2000,
            .backoff_initial_ms = 10,
            .backoff_max_ms = 50,
            .now_ms = clock_.fn()};
  }

  FakeClock clock_;
  std::string binary_;
  std::unique_ptr<ScopedTempDir> dir_;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisStoreTest, HitMissEraseAndStats) {
  RedisStore store(BaseOptions());
  EXPECT_EQ(store.name(), "redis");
  ASSERT_TRUE(store.Ping().ok());
  const auto value = MakeResponse("redis-hello", 300, 4);
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  ASSERT_TRUE(store.Put(KeyNumber(1), value, kNoExpiry));
  const auto got = store.Get(KeyNumber(1));
  ASSERT_NE(got, nullptr);
  EXPECT_TRUE(SameResponse(*got, *value));
  EXPECT_EQ(store.Lookup(KeyNumber(1)).ttl_remaining_ms, kNoExpiry);
  EXPECT_TRUE(store.Erase(KeyNumber(1)));
  EXPECT_FALSE(store.Erase(KeyNumber(1)));
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.hits, 2);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.inserts, 1);
  EXPECT_EQ(stats.erases, 1);
  EXPECT_EQ(stats.entries, -1);
  EXPECT_EQ(stats.bytes, -1);
  EXPECT_EQ(store.errors(), 0);
}

TEST_F(RedisStoreTest, KeysValuesAndTtlAreWhatTheHeaderSays) {
  RedisStore store(BaseOptions());
  const CacheKey key = KeyNumber(7);
  EXPECT_EQ(store.RedisKey(key), "test:brisk:cache:v1:" + key.Hex());
  const auto value = MakeResponse("layout", 50, 2);
  ASSERT_TRUE(store.Put(key, value, /*ttl_ms=*/60'000));
  RawClient raw(server_->port());
  const auto [type, bytes] = raw.Run({"GET", "test:brisk:cache:v1:" + key.Hex()});
  ASSERT_EQ(type, REDIS_REPLY_STRING);
  const absl::StatusOr<DecodedResponse> decoded = DecodeResponse(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(SameResponse(decoded->value, *value));
  EXPECT_EQ(decoded->expires_at_unix_ms, clock_.now->load() + 60'000);
  const auto [ttl_type, pttl] = raw.Run({"PTTL", "test:brisk:cache:v1:" + key.Hex()});
  ASSERT_EQ(ttl_type, REDIS_REPLY_INTEGER);
  EXPECT_GT(std::stoll(pttl), 50'000);  // Redis expires it itself
  EXPECT_LE(std::stoll(pttl), 60'000);
  ASSERT_TRUE(store.Put(KeyNumber(8), value, kNoExpiry));
  EXPECT_EQ(raw.Run({"PTTL", store.RedisKey(KeyNumber(8))}).second, "-1");  // no expiry
}

TEST_F(RedisStoreTest, RecordExpiryIsCheckedAgainstTheStoreClock) {
  RedisStore store(BaseOptions());
  ASSERT_TRUE(store.Put(KeyNumber(1), MakeResponse("short", 10, 0), /*ttl_ms=*/500));
  clock_.Advance(200);
  EXPECT_EQ(store.Lookup(KeyNumber(1)).ttl_remaining_ms, 300);
  clock_.Advance(300);  // the record says expired, though Redis's real-time PX has not fired
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  EXPECT_EQ(store.Stats().expired, 1);
  RawClient raw(server_->port());
  EXPECT_EQ(raw.Run({"EXISTS", store.RedisKey(KeyNumber(1))}).second, "0");  // dropped
}

TEST_F(RedisStoreTest, CorruptedOrForeignValuesAreMisses) {
  RedisStore store(BaseOptions());
  RawClient raw(server_->port());
  raw.Run({"SET", store.RedisKey(KeyNumber(1)), "not a record"});
  raw.Run({"RPUSH", store.RedisKey(KeyNumber(2)), "a list"});
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  EXPECT_EQ(store.Get(KeyNumber(2)), nullptr);  // WRONGTYPE error reply
  EXPECT_EQ(store.errors(), 2);
  EXPECT_EQ(store.Stats().misses, 2);
  ASSERT_TRUE(store.Put(KeyNumber(3), MakeResponse("fine", 1, 0), kNoExpiry));  // still usable
  EXPECT_NE(store.Get(KeyNumber(3)), nullptr);
}

TEST_F(RedisStoreTest, PrefixesSeparateNamespaces) {
  RedisStore::Options a = BaseOptions();
  a.key_prefix = "a:";
  RedisStore::Options b = BaseOptions();
  b.key_prefix = "b:";
  RedisStore store_a(a);
  RedisStore store_b(b);
  ASSERT_TRUE(store_a.Put(KeyNumber(1), MakeResponse("in a", 5, 0), kNoExpiry));
  EXPECT_EQ(store_b.Get(KeyNumber(1)), nullptr);
  EXPECT_NE(store_a.Get(KeyNumber(1)), nullptr);
}

// The model: a map with expiries; Redis has no byte budget of ours, so nothing is evicted.
class RedisStoreModelTest : public RedisStoreTest,
                            public ::testing::WithParamInterface<uint64_t> {};

TEST_P(RedisStoreModelTest, AgreesWithTheModelOnRandomOperations) {
  RedisStore store(BaseOptions());
  struct Entry {
    CachedResponse value;
    int64_t expires_at_ms;
  };
  std::map<CacheKey, Entry> model;
  std::mt19937_64 rng(GetParam());
  for (int step = 0; step < 500; ++step) {
    const CacheKey key = KeyNumber(static_cast<int>(rng() % 10));
    const int op = static_cast<int>(rng() % 100);
    const int64_t now = clock_.now->load();
    SCOPED_TRACE(testing::Message() << "step " << step << " op " << op);
    if (op < 40) {
      const auto value = RandomResponse(rng, "m" + std::to_string(step), 2000);
      // TTLs are long in real time (Redis's PX never fires during the test) and short in the
      // fake time the records are checked against.
      const int64_t ttl = rng() % 3 == 0 ? kNoExpiry : 600'000 + static_cast<int64_t>(rng() % 1000);
      ASSERT_TRUE(store.Put(key, value, ttl));
      model[key] = {*value, ttl == kNoExpiry ? 0 : now + ttl};
    } else if (op < 75) {
      const auto got = store.Get(key);
      auto it = model.find(key);
      if (it != model.end() && it->second.expires_at_ms != 0 && now >= it->second.expires_at_ms) {
        model.erase(it);
        it = model.end();
      }
      ASSERT_EQ(got != nullptr, it != model.end());
      if (got != nullptr) {
        ASSERT_TRUE(SameResponse(*got, it->second.value));
      }
    } else if (op < 85) {
      ASSERT_EQ(store.Erase(key), model.erase(key) == 1);
    } else {
      clock_.Advance(static_cast<int64_t>(rng() % 300'000));
    }
  }
  EXPECT_EQ(store.errors(), 0);
  EXPECT_GT(store.Stats().expired, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RedisStoreModelTest, ::testing::Values(11, 12));

TEST_F(RedisStoreTest, ConcurrentReadersAndWritersSeeOnlyTheirKeysValues) {
  RedisStore store(BaseOptions());  // pool of 2 for 4 threads: callers wait for connections
  constexpr int kThreads = 4;
  std::atomic<int64_t> gets{0}, wrong{0}, failed_puts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(300 + t);
      for (int i = 0; i < 400; ++i) {
        const int k = static_cast<int>(rng() % 16);
        const int op = static_cast<int>(rng() % 10);
        if (op < 4) {
          if (!store.Put(KeyNumber(k),
                         MakeResponse("k" + std::to_string(k) + "/" + std::to_string(t) + "/" +
                                          std::to_string(i),
                                      rng() % 1000, 2),
                         kNoExpiry)) {
            ++failed_puts;
          }
        } else if (op < 9) {
          ++gets;
          const auto got = store.Get(KeyNumber(k));
          if (got != nullptr && got->body_json.rfind("k" + std::to_string(k) + "/", 0) != 0)
            ++wrong;
        } else {
          store.Erase(KeyNumber(k));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed_puts.load(), 0);
  EXPECT_EQ(store.errors(), 0);
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.hits + stats.misses, gets.load());
}

TEST_F(RedisStoreTest, NoServerMeansFastMissesAndFailedPuts) {
  RedisStore::Options options = BaseOptions();
  options.port = PickFreePort();  // nothing listens there
  options.command_timeout_ms = 50;
  RedisStore store(options);
  base::Stopwatch watch;
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  EXPECT_FALSE(store.Put(KeyNumber(1), MakeResponse("x", 1, 0), kNoExpiry));
  EXPECT_FALSE(store.Erase(KeyNumber(1)));
  EXPECT_FALSE(store.Ping().ok());
  EXPECT_LT(watch.ElapsedMillis(), 4 * 50 + 500);  // four calls, each bounded by its timeout
  EXPECT_GE(store.errors(), 1);
}

// Redis frozen (SIGSTOP: connections are accepted, nothing is answered), then killed and started
// again on the same port: calls answer within the timeout while it is away, and the store
// reconnects by itself once it is back.
TEST_F(RedisStoreTest, SlowOrDeadRedisIsAMissWithinTheTimeoutAndTheStoreReconnects) {
  constexpr int64_t kTimeoutMs = 50;
  // Slack for scheduling on a loaded machine; the bound under test is the timeout, which the
  // frozen-server case really waits out (a missing bound would hang the call for good).
  constexpr double kSlackMs = 400;
  RedisStore::Options options = BaseOptions();
  options.connect_timeout_ms = kTimeoutMs;
  options.command_timeout_ms = kTimeoutMs;
  RedisStore store(options);
  const auto value = MakeResponse("before", 100, 1);
  ASSERT_TRUE(store.Put(KeyNumber(1), value, kNoExpiry));
  ASSERT_NE(store.Get(KeyNumber(1)), nullptr);

  server_->Pause();
  base::Stopwatch watch;
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
  const double frozen_get_ms = watch.ElapsedMillis();
  EXPECT_GE(frozen_get_ms, kTimeoutMs - 5);  // it did wait for the answer, up to the timeout
  EXPECT_LT(frozen_get_ms, kTimeoutMs + kSlackMs);
  watch.Reset();
  EXPECT_FALSE(store.Put(KeyNumber(2), value, kNoExpiry));
  EXPECT_LT(watch.ElapsedMillis(), kTimeoutMs + kSlackMs);
  server_->Resume();

  const int64_t errors_before_kill = store.errors();
  server_->Kill();
  // For 300 ms of real time (several backoff periods of at most 50 ms): some calls fail fast on
  // the open circuit, the others try to reconnect and are refused; all are misses or false.
  const auto down_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < down_until) {
    watch.Reset();
    EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);
    EXPECT_FALSE(store.Put(KeyNumber(3), value, kNoExpiry));
    EXPECT_LT(watch.ElapsedMillis(), 2 * kTimeoutMs + kSlackMs);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(store.errors(), errors_before_kill + 2);  // it did try again, more than once

  ASSERT_TRUE(server_->Start()) << "redis-server did not restart on port " << server_->port();
  // The backoff is at most 50 ms here; poll (in real time, against a real server) until a Put
  // goes through.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool reconnected = false;
  while (!reconnected && std::chrono::steady_clock::now() < deadline) {
    reconnected = store.Put(KeyNumber(4), value, kNoExpiry);
    if (!reconnected) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(reconnected);
  const auto got = store.Get(KeyNumber(4));
  ASSERT_NE(got, nullptr);
  EXPECT_TRUE(SameResponse(*got, *value));
  EXPECT_EQ(store.Get(KeyNumber(1)), nullptr);  // the restarted server starts empty
}

}  // namespace
}  // namespace brisk::cache
