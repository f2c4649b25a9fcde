// KvCacheManager: block tables per request on a BlockPool; prefix lookups walk the hash chain
// block by block and stop at the first miss. docs/design/kv_cache.md explains the policy.
#include "kvcache/kv_cache_manager.h"

#include <algorithm>

#include "base/check.h"

namespace brisk::kvcache {

KvCacheManager::KvCacheManager(const KvCacheOptions& options)
    : options_(options), pool_(options.num_blocks) {
  BRISK_CHECK_GT(options.block_size, 0);
}

int KvCacheManager::NumBlocksFor(int num_tokens) const {
  return (num_tokens + options_.block_size - 1) / options_.block_size;
}

PrefixHit KvCacheManager::GetComputedBlocks(std::span<const int32_t> token_ids,
                                            std::span<const uint64_t> extra_keys) const {
  PrefixHit hit;
  hit.num_queried_tokens = static_cast<int>(token_ids.size());
  if (options_.prefix_caching == PrefixCaching::kDisabled || token_ids.empty()) return hit;
  const int bs = options_.block_size;
  // (n - 1) / bs full blocks leave at least the last token to compute.
  const int max_blocks = static_cast<int>(token_ids.size() - 1) / bs;
  BlockHash parent = kRootBlockHash;
  for (int i = 0; i < max_blocks; ++i) {
    const BlockKeyView key{parent, token_ids.subspan(i * bs, bs), extra_keys};
    const BlockHash hash = HashBlock(key);
    const std::optional<int32_t> block = pool_.FindCached(key, hash);
    if (!block) break;
    hit.block_ids.push_back(*block);
    hit.block_hashes.push_back(hash);
    parent = hash;
  }
  hit.num_tokens = static_cast<int>(hit.block_ids.size()) * bs;
  return hit;
}

AllocateStatus KvCacheManager::AllocateSlots(int64_t request_id, int num_new_tokens,
                                             const PrefixHit& hit) {
  BRISK_CHECK_GE(num_new_tokens, 0);
  auto it = requests_.find(request_id);
  const bool first_call = it == requests_.end();
  BRISK_CHECK(first_call || hit.block_ids.empty())
      << "request " << request_id << " passed a prefix hit after its first allocation";
  const int num_held = first_call ? 0 : static_cast<int>(it->second.block_ids.size());
  const int num_hit = static_cast<int>(hit.block_ids.size());
  const int num_tokens_before = first_call ? hit.num_tokens : it->second.num_tokens;
  const int num_needed = NumBlocksFor(num_tokens_before + num_new_tokens) - num_held - num_hit;
  // Hit blocks that are evictable now stop being allocatable once this request holds them.
  const int num_hit_evictable = static_cast<int>(
      std::ranges::count_if(hit.block_ids, [&](int32_t b) { return pool_.ref_count(b) == 0; }));
  if (num_needed > pool_.num_free() - num_hit_evictable) return AllocateStatus::kOutOfBlocks;

  RequestBlocks& r = requests_[request_id];
  if (first_call) {
    for (int32_t b : hit.block_ids) pool_.Ref(b);
    r.block_ids = hit.block_ids;
    r.block_hashes = hit.block_hashes;
    num_queried_tokens_ += hit.num_queried_tokens;
    num_hit_tokens_ += hit.num_tokens;
  }
  for (int i = 0; i < num_needed; ++i) {
    const std::optional<int32_t> b = pool_.Allocate();
    BRISK_CHECK(b.has_value()) << "pool ran out after the free-block check";
    r.block_ids.push_back(*b);
  }
  r.num_tokens = num_tokens_before + num_new_tokens;
  return AllocateStatus::kOk;
}

void KvCacheManager::CacheComputedBlocks(int64_t request_id, std::span<const int32_t> token_ids,
                                         std::span<const uint64_t> extra_keys,
                                         int num_computed_tokens) {
  if (options_.prefix_caching == PrefixCaching::kDisabled) return;
  auto it = requests_.find(request_id);
  BRISK_CHECK(it != requests_.end()) << "unknown request " << request_id;
  RequestBlocks& r = it->second;
  BRISK_CHECK_LE(num_computed_tokens, static_cast<int>(token_ids.size()));
  const int bs = options_.block_size;
  const int num_full = num_computed_tokens / bs;
  BRISK_CHECK_LE(num_computed_tokens, r.num_tokens) << "request " << request_id;
  for (int i = static_cast<int>(r.block_hashes.size()); i < num_full; ++i) {
    const BlockHash parent = i == 0 ? kRootBlockHash : r.block_hashes[i - 1];
    const BlockKeyView key{parent, token_ids.subspan(i * bs, bs), extra_keys};
    const BlockHash hash = HashBlock(key);
    // When another block already holds this content, ours stays uncached; the chain goes on
    // with the same hash, so the blocks after it are still found.
    (void)pool_.Register(r.block_ids[i], key, hash);
    r.block_hashes.push_back(hash);
  }
}

void KvCacheManager::Free(int64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return;
  const std::vector<int32_t>& ids = it->second.block_ids;
  for (auto b = ids.rbegin(); b != ids.rend(); ++b) pool_.Free(*b);
  requests_.erase(it);
}

std::span<const int32_t> KvCacheManager::block_table(int64_t request_id) const {
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return {};
  return it->second.block_ids;
}

KvCacheStats KvCacheManager::stats() const {
  return {
      .num_blocks = pool_.num_blocks(),
      .num_used_blocks = pool_.num_used(),
      .num_free_blocks = pool_.num_free(),
      .num_cached_blocks = pool_.num_cached(),
      .num_evictable_blocks = pool_.num_evictable(),
      .num_queried_tokens = num_queried_tokens_,
      .num_hit_tokens = num_hit_tokens_,
      .num_evicted_blocks = pool_.num_evictions(),
  };
}

}  // namespace brisk::kvcache
