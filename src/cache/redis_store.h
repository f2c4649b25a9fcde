// RedisStore: a CacheStore in a Redis server, shared by every brisk replica that points at it.
// Values are response_codec records under "<key_prefix>brisk:cache:v1:<64 hex>", written with
// SET ... PX <ttl> so Redis itself drops them when they expire (and evicts under its own
// maxmemory policy). Synchronous hiredis over a small pool of connections.
//
// Latency bound: a call never waits more than about command_timeout_ms in total (waiting for a
// free connection, connecting, and the command all share one deadline; a reply that arrives in
// several pieces may take up to that again per piece). A failure (refused, reset, timed out)
// opens a circuit: for a backoff that doubles from backoff_initial_ms up to backoff_max_ms, every
// call answers at once without touching the network (Get: miss, Put/Erase: false); the first call
// after the backoff tries again and a success closes the circuit. Redis down or slow is a miss.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "cache/cache_key.h"
#include "cache/cache_store.h"
#include "cache/persistent_store.h"

struct redisContext;

namespace brisk::cache {

// Stats: hits, misses, expired, inserts, rejected and erases are counted by this process since
// construction. Unknown to the client, hence reported as -1: entries, bytes and capacity_bytes
// (Redis owns its memory and maxmemory). overwrites and evictions stay 0: SET does not say
// whether it replaced a value, and Redis evicts silently.
class RedisStore final : public PersistentStore {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string key_prefix;  // optional namespace in front of "brisk:cache:v1:", e.g. "prod:"
    int pool_size = 4;       // connections at most; REQUIRES >= 1
    int64_t connect_timeout_ms = 50;   // REQUIRES >= 1
    int64_t command_timeout_ms = 50;   // the whole call, see above; REQUIRES >= 1
    int64_t backoff_initial_ms = 100;  // REQUIRES >= 0
    int64_t backoff_max_ms = 5000;     // REQUIRES >= backoff_initial_ms
    // Records larger than this (encoded) are refused by Put, as they would take a long time to
    // move; 64 MiB is far above any response.
    int64_t max_record_bytes = 64ll << 20;
    // Wall-clock Unix milliseconds for the expiry written into each record, which a Get checks
    // too (Redis's own PX expiry normally removes the entry first). Empty: system_clock.
    std::function<int64_t()> now_ms;
  };

  // Connects lazily: constructing never touches the network. Sets SIGPIPE to ignored when it has
  // its default action, since hiredis writes to sockets with write(2) and a server that closed
  // the connection must not kill the process.
  explicit RedisStore(Options options);
  // REQUIRES: no call in progress on another thread.
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  ExpiringValue Lookup(const CacheKey& key) override;
  // As CacheStore::Put; also false when Redis is unreachable, slow or answers an error, or the
  // circuit is open.
  bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
           int64_t ttl_ms) override;
  // As CacheStore::Erase; false also when Redis cannot be reached.
  bool Erase(const CacheKey& key) override;
  StoreStats Stats() const override;
  std::string_view name() const override { return "redis"; }

  // Sends PING, bypassing the circuit (for start-up checks and readiness probes). Errors:
  // Unavailable naming the address and the failure.
  absl::Status Ping();

  // The Redis key of `key`: key_prefix + "brisk:cache:v1:" + key.Hex().
  std::string RedisKey(const CacheKey& key) const;

  // Failed calls (connect, I/O, timeouts, error replies, undecodable records) since construction.
  int64_t errors() const { return errors_.load(); }

 private:
  struct Reply;
  enum class CircuitCheck { kRespect, kBypass };

  // Runs one command (binary-safe arguments) before `deadline_ms` (steady clock). Returns the
  // reply, or nullptr when the circuit is open (not counted), or after counting and logging a
  // failure (an error reply leaves the connection in the pool; an I/O failure opens the circuit).
  std::unique_ptr<Reply> Command(const std::vector<std::string_view>& args, int64_t deadline_ms,
                                 CircuitCheck circuit = CircuitCheck::kRespect);
  // The deadline of a call starting now, on the steady clock.
  int64_t CallDeadline() const;
  // A connected context, or nullptr when none can be had before `deadline_ms` (steady clock).
  redisContext* Acquire(int64_t deadline_ms);
  // Returns a healthy context to the pool and closes the circuit.
  void Release(redisContext* context);
  // Gives up the pool slot of a failed call: frees `context` (may be null when connecting
  // failed), opens the circuit, and drops the idle connections (they most likely point at the
  // same dead server).
  void Discard(redisContext* context, std::string_view what);
  void CountError(std::string_view what, std::string_view detail);

  // Constant after construction.
  const Options options_;
  const std::function<int64_t()> now_ms_;
  const std::string key_namespace_;  // key_prefix + "brisk:cache:v1:"

  std::mutex mu_;
  std::condition_variable released_;
  // Guarded by mu_.
  std::vector<redisContext*> idle_;
  int num_connections_ = 0;  // idle, in use, or being connected
  int consecutive_failures_ = 0;
  int64_t retry_after_ms_ = 0;  // steady clock; calls before it fail fast

  std::atomic<int64_t> hits_{0}, misses_{0}, expired_{0}, inserts_{0}, rejected_{0}, erases_{0},
      errors_{0};
};

}  // namespace brisk::cache
