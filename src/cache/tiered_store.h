// TieredStore: a MemoryStore in front of an optional persistent store (RocksDbStore or
// RedisStore). Lookups try memory, then the back store; a back hit is promoted into memory for
// the time it has left to live, so both tiers let it go at the same moment. Puts write through to
// both tiers and Erase removes from both. Without a back store it is the memory tier alone.
// Concurrency: each tier is thread-safe; the pair is not one atomic unit, so while a key is Put
// and looked up at once, the tiers may briefly hold different values (each one that was Put under
// that key, which for an exact cache is an equally valid answer).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "cache/cache_key.h"
#include "cache/cache_store.h"
#include "cache/memory_store.h"
#include "cache/persistent_store.h"

namespace brisk::cache {

// One tiered lookup: the value (nullptr on a miss) and the tier that held it: "memory" or the
// back store's name() ("rocksdb", "redis"); empty on a miss. Views of static storage.
struct TierLookup {
  std::shared_ptr<const CachedResponse> value;
  std::string_view tier;
};

class TieredStore final : public CacheStore {
 public:
  // REQUIRES: front != nullptr. `back` may be null (memory only).
  TieredStore(std::unique_ptr<MemoryStore> front, std::unique_ptr<PersistentStore> back);

  // Memory first, then the back store; a back hit is copied into memory with its remaining TTL.
  TierLookup Lookup(const CacheKey& key);
  std::shared_ptr<const CachedResponse> Get(const CacheKey& key) override {
    return Lookup(key).value;
  }
  // Writes both tiers. Returns whether at least one holds the value now; false (changing nothing
  // but dropping any older value from memory) when every tier refused it. When the memory tier
  // refuses (too large for it) it drops its copy of the key, so it never serves an older value.
  bool Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
           int64_t ttl_ms) override;
  // Removes the key from both tiers; returns whether either had it.
  bool Erase(const CacheKey& key) override;
  // hits, misses, inserts, rejected and erases count calls on this store (a hit in either tier
  // is one hit); expired, evictions, overwrites, entries, bytes and capacity_bytes are those of
  // the authoritative tier: the back store when there is one, else memory. Per-tier numbers:
  // front().Stats() and back()->Stats().
  StoreStats Stats() const override;
  std::string_view name() const override { return "tiered"; }

  const MemoryStore& front() const { return *front_; }
  const PersistentStore* back() const { return back_.get(); }

 private:
  // Constant after construction.
  const std::unique_ptr<MemoryStore> front_;
  const std::unique_ptr<PersistentStore> back_;  // may be null

  std::atomic<int64_t> hits_{0}, misses_{0}, inserts_{0}, rejected_{0}, erases_{0};
};

}  // namespace brisk::cache
