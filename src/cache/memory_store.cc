// MemoryStore: one mutex over an LRU list and a hash index. The clock is read before taking the
// lock so a slow injected clock never lengthens the critical section.
#include "cache/memory_store.h"

#include <chrono>
#include <iterator>
#include <limits>
#include <utility>

#include "base/check.h"

namespace brisk::cache {
namespace {

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// now + ttl, saturating; kNoExpiry maps to kNever.
int64_t ExpiryTime(int64_t now_ms, int64_t ttl_ms) {
  if (ttl_ms == kNoExpiry || now_ms > kNever - ttl_ms) return kNever;
  return now_ms + ttl_ms;
}

}  // namespace

MemoryStore::MemoryStore(Options options)
    : capacity_bytes_(options.capacity_bytes),
      now_ms_(options.now_ms ? std::move(options.now_ms) : std::function<int64_t()>(SteadyNowMs)) {
  BRISK_CHECK_GE(capacity_bytes_, 0) << "MemoryStore capacity_bytes must not be negative";
}

void MemoryStore::RemoveLocked(Lru::iterator it) {
  bytes_ -= it->size_bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

std::shared_ptr<const CachedResponse> MemoryStore::Get(const CacheKey& key) {
  const int64_t now_ms = now_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  const auto found = index_.find(key);
  if (found == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  const Lru::iterator it = found->second;
  if (now_ms >= it->expires_at_ms) {
    RemoveLocked(it);
    ++stats_.misses;
    ++stats_.expired;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it);
  ++stats_.hits;
  return it->value;
}

bool MemoryStore::Put(const CacheKey& key, std::shared_ptr<const CachedResponse> value,
                      int64_t ttl_ms) {
  BRISK_CHECK(value != nullptr) << "MemoryStore::Put of a null value";
  BRISK_CHECK_GE(ttl_ms, 0) << "MemoryStore::Put with a negative TTL";
  const int64_t size_bytes = EntrySize(*value);
  const int64_t now_ms = now_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  if (size_bytes > capacity_bytes_) {
    ++stats_.rejected;
    return false;
  }
  if (const auto found = index_.find(key); found != index_.end()) {
    RemoveLocked(found->second);
    ++stats_.overwrites;
  }
  while (bytes_ + size_bytes > capacity_bytes_) {
    BRISK_CHECK(!lru_.empty()) << "bytes_ accounting is off: " << bytes_ << " with no entries";
    RemoveLocked(std::prev(lru_.end()));
    ++stats_.evictions;
  }
  lru_.push_front(Entry{.key = key,
                        .value = std::move(value),
                        .size_bytes = size_bytes,
                        .expires_at_ms = ExpiryTime(now_ms, ttl_ms)});
  index_.emplace(key, lru_.begin());
  bytes_ += size_bytes;
  ++stats_.inserts;
  return true;
}

bool MemoryStore::Erase(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto found = index_.find(key);
  if (found == index_.end()) return false;
  RemoveLocked(found->second);
  ++stats_.erases;
  return true;
}

StoreStats MemoryStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStats stats = stats_;
  stats.entries = static_cast<int64_t>(lru_.size());
  stats.bytes = bytes_;
  stats.capacity_bytes = capacity_bytes_;
  return stats;
}

std::vector<MemoryStore::EntryInfo> MemoryStore::EntriesByRecency() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<EntryInfo> entries;
  entries.reserve(lru_.size());
  for (const Entry& entry : lru_) {
    entries.push_back({.key = entry.key,
                       .size_bytes = entry.size_bytes,
                       .expires_at_ms = entry.expires_at_ms});
  }
  return entries;
}

}  // namespace brisk::cache
