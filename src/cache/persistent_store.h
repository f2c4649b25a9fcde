// PersistentStore: a CacheStore whose lookups also say how long the entry has left to live, so
// that a faster tier in front of it (TieredStore) can hold a promoted copy for exactly that long.
// RocksDbStore and RedisStore implement it; their Get is Lookup().value.
#pragma once

#include <cstdint>
#include <memory>

#include "cache/cache_key.h"
#include "cache/cache_store.h"

namespace brisk::cache {

// One lookup: the value, or nullptr on a miss, and on a hit the time it has left.
struct ExpiringValue {
  std::shared_ptr<const CachedResponse> value;
  int64_t ttl_remaining_ms = kNoExpiry;  // kNoExpiry: never expires; otherwise >= 1
};

class PersistentStore : public CacheStore {
 public:
  // As Get, and on a hit also the remaining time to live measured by the store's own clock.
  virtual ExpiringValue Lookup(const CacheKey& key) = 0;

  std::shared_ptr<const CachedResponse> Get(const CacheKey& key) final { return Lookup(key).value; }
};

}  // namespace brisk::cache
