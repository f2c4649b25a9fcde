// BlockPool: reference counts, the free set, the LRU of evictable cached blocks and the hash map
// of the prefix cache, kept consistent by every call (see the state table in block_pool.h).
#include "kvcache/block_pool.h"

#include <algorithm>

#include "base/check.h"

namespace brisk::kvcache {

BlockPool::BlockPool(int num_blocks) {
  BRISK_CHECK_GE(num_blocks, 0);
  blocks_.resize(num_blocks);
  for (int32_t id = 0; id < num_blocks; ++id) free_ids_.insert(free_ids_.end(), id);
}

const BlockPool::BlockState& BlockPool::Block(int32_t block_id) const {
  BRISK_CHECK(block_id >= 0 && block_id < num_blocks()) << "block id " << block_id;
  return blocks_[block_id];
}

BlockPool::BlockState& BlockPool::Block(int32_t block_id) {
  BRISK_CHECK(block_id >= 0 && block_id < num_blocks()) << "block id " << block_id;
  return blocks_[block_id];
}

std::optional<int32_t> BlockPool::Allocate() {
  int32_t id;
  if (!free_ids_.empty()) {
    id = *free_ids_.begin();
    free_ids_.erase(free_ids_.begin());
  } else if (!lru_.empty()) {
    id = lru_.front();
    lru_.pop_front();
    Uncache(id);
    ++num_evictions_;
  } else {
    return std::nullopt;
  }
  BlockState& b = blocks_[id];
  BRISK_CHECK_EQ(b.ref_count, 0) << "block " << id;
  b.ref_count = 1;
  return id;
}

void BlockPool::Free(int32_t block_id) {
  BlockState& b = Block(block_id);
  BRISK_CHECK(b.ref_count > 0) << "double free of block " << block_id;
  if (--b.ref_count > 0) return;
  if (b.hash.has_value()) {
    b.lru_pos = lru_.insert(lru_.end(), block_id);
  } else {
    free_ids_.insert(block_id);
  }
}

void BlockPool::Ref(int32_t block_id) {
  BlockState& b = Block(block_id);
  BRISK_CHECK(b.hash.has_value()) << "Ref of uncached block " << block_id;
  if (b.ref_count++ == 0) lru_.erase(b.lru_pos);
}

std::optional<int32_t> BlockPool::FindCached(const BlockKeyView& key,
                                             const BlockHash& hash) const {
  auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  const BlockState& b = blocks_[it->second];
  // A 128-bit collision is astronomically unlikely, but a wrong hit would silently corrupt
  // attention, so the stored key decides.
  const bool same = b.parent_hash == key.parent_hash &&
                    std::ranges::equal(b.token_ids, key.token_ids) &&
                    std::ranges::equal(b.extra_keys, key.extra_keys);
  if (!same) return std::nullopt;
  return it->second;
}

bool BlockPool::Register(int32_t block_id, const BlockKeyView& key, const BlockHash& hash) {
  BlockState& b = Block(block_id);
  BRISK_CHECK(b.ref_count > 0) << "Register of unreferenced block " << block_id;
  BRISK_CHECK(!b.hash.has_value()) << "block " << block_id << " is already cached";
  if (!cache_.emplace(hash, block_id).second) return false;
  b.hash = hash;
  b.parent_hash = key.parent_hash;
  b.token_ids.assign(key.token_ids.begin(), key.token_ids.end());
  b.extra_keys.assign(key.extra_keys.begin(), key.extra_keys.end());
  return true;
}

void BlockPool::Uncache(int32_t block_id) {
  BlockState& b = blocks_[block_id];
  cache_.erase(*b.hash);
  b.hash.reset();
  b.token_ids.clear();
  b.extra_keys.clear();
}

}  // namespace brisk::kvcache
