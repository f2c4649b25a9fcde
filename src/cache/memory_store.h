// MemoryStore: the in-process CacheStore, an LRU map bounded in bytes with a per-entry TTL.
// Invariants, under mu_:
//   - lru_ holds every entry once, most recently used first; index_ maps each key to its node;
//   - bytes_ is the sum of the entries' sizes, size = PayloadBytes + kEntryOverheadBytes, and
//     bytes_ <= capacity_bytes at all times;
//   - an entry past its expiry is still counted until a Get, Put, Erase or eviction removes it.
// Eviction is strictly from the least recently used end; expired entries are not swept, they
// leave on access or age out of the LRU like any other.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cache/cache_key.h"
#include "cache/cache_store.h"

namespace brisk::cache {

class MemoryStore final : public CacheStore {
 public:
  // Bytes charged per entry on top of its payload: an estimate of what the entry costs besides
  // its strings (list and hash nodes, shared_ptr control block, the CachedResponse with its string
  // and vector headers, the key twice), about 250 bytes on a 64-bit build, rounded up. Per-event
  // string headers are not charged, so budgets should leave some slack for long streams.
  static constexpr int64_t kEntryOverheadBytes = 256;

  struct Options {
    int64_t capacity_bytes = 256ll << 20;  // 256 MiB; REQUIRES >= 0
    // Monotonic milliseconds; tests inject a fake. Empty: std::chrono::steady_clock. Called
    // outside the store's lock, so it must be thread-safe itself.
    std::function<int64_t()> now_ms;
  };

  // Where an entry stands, for tests and debugging.
  struct EntryInfo {
    CacheKey key;
    int64_t size_bytes = 0;
    int64_t expires_at_ms = 0;  // INT64_MAX for kNoExpiry
  };

  explicit MemoryStore(Options options);

  std::shared_ptr<const CachedResponse> Get(const CacheKey& key) override;
  bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
           int64_t ttl_ms) override;
  bool Erase(const CacheKey& key) override;
  StoreStats Stats() const override;
  std::string_view name() const override { return "memory"; }

  // The bytes an entry holding `value` is charged.
  static int64_t EntrySize(const CachedResponse& value) {
    return PayloadBytes(value) + kEntryOverheadBytes;
  }

  // Every entry, most recently used first. Does not change recency or drop expired entries.
  std::vector<EntryInfo> EntriesByRecency() const;

 private:
  struct Entry {
    CacheKey key;
    std::shared_ptr<const CachedResponse> value;
    int64_t size_bytes = 0;
    int64_t expires_at_ms = 0;
  };
  using Lru = std::list<Entry>;

  // Unlinks `it` from lru_ and index_ and takes its bytes off bytes_. REQUIRES: mu_ held.
  void RemoveLocked(Lru::iterator it);

  // Constant after construction.
  const int64_t capacity_bytes_;
  const std::function<int64_t()> now_ms_;

  mutable std::mutex mu_;
  // Guarded by mu_.
  Lru lru_;  // front = most recently used
  std::unordered_map<CacheKey, Lru::iterator, CacheKeyHash> index_;
  int64_t bytes_ = 0;
  StoreStats stats_;  // counters only; entries, bytes and capacity are filled in by Stats()
};

}  // namespace brisk::cache
