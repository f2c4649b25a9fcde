// TieredStore: the read path, promotion and write-through over two CacheStores.
#include "cache/tiered_store.h"

#include <utility>

#include "base/check.h"

namespace brisk::cache {

TieredStore::TieredStore(std::unique_ptr<MemoryStore> front, std::unique_ptr<PersistentStore> back)
    : front_(std::move(front)), back_(std::move(back)) {
  BRISK_CHECK(front_ != nullptr) << "TieredStore needs a memory tier";
}

TierLookup TieredStore::Lookup(const CacheKey& key) {
  if (std::shared_ptr<const CachedResponse> value = front_->Get(key)) {
    ++hits_;
    return {.value = std::move(value), .tier = front_->name()};
  }
  if (back_ == nullptr) {
    ++misses_;
    return {};
  }
  ExpiringValue found = back_->Lookup(key);
  if (found.value == nullptr) {
    ++misses_;
    return {};
  }
  // A refusal (the value is larger than the memory budget) just means no promotion.
  front_->Put(key, found.value, found.ttl_remaining_ms);
  ++hits_;
  return {.value = std::move(found.value), .tier = back_->name()};
}

bool TieredStore::Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
                      int64_t ttl_ms) {
  BRISK_CHECK(value != nullptr) << "TieredStore::Put of a null value";
  const bool in_back = back_ != nullptr && back_->Put(key, value, ttl_ms);
  const bool in_front = front_->Put(key, std::move(value), ttl_ms);
  if (!in_front) front_->Erase(key);
  if (in_front || in_back) {
    ++inserts_;
    return true;
  }
  ++rejected_;
  return false;
}

bool TieredStore::Erase(const CacheKey& key) {
  const bool in_front = front_->Erase(key);
  const bool in_back = back_ != nullptr && back_->Erase(key);
  if (in_front || in_back) ++erases_;
  return in_front || in_back;
}

StoreStats TieredStore::Stats() const {
  StoreStats stats = back_ != nullptr ? back_->Stats() : front_->Stats();
  stats.hits = hits_.load();
  stats.misses = misses_.load();
  stats.inserts = inserts_.load();
  stats.rejected = rejected_.load();
  stats.erases = erases_.load();
  return stats;
}

}  // namespace brisk::cache
