// A fixed pool of KV-cache block ids [0, num_blocks) with reference counts and a prefix cache.
// Device-free bookkeeping: the tensors that hold the blocks live with the engine; this class only
// decides which ids are free, shared or cached.
//
//   every block is in exactly one state:
//     used        ref_count > 0                 (held by one or more sequences)
//     evictable   ref_count == 0, cached        (in lru_: head = least recently released)
//     free        ref_count == 0, not cached    (in free_ids_: lowest id handed out first)
//
// Allocate() takes a free block first and evicts the LRU head only when none is free, so cached
// blocks survive as long as possible. A cached block is full and immutable; its token ids and
// extra keys are stored with it and compared on every hit, so a hash collision is never a hit.
// Not thread-safe: the engine thread owns it.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "kvcache/block_hash.h"

namespace brisk::kvcache {

class BlockPool {
 public:
  // REQUIRES: num_blocks >= 0.
  explicit BlockPool(int num_blocks);

  // Takes a block with ref_count 0 and sets its ref_count to 1: the lowest free id, else the
  // least recently released cached block, which leaves the prefix cache (an eviction). nullopt
  // when every block is used: a normal condition that the caller answers by waiting or
  // preempting.
  std::optional<int32_t> Allocate();

  // Drops one reference. At 0 a cached block becomes evictable (most recently used end of the
  // LRU), any other block becomes free. REQUIRES: ref_count(block_id) > 0.
  void Free(int32_t block_id);

  // Adds one reference to a block found by FindCached; an evictable block leaves the LRU.
  void Ref(int32_t block_id);

  // The cached block whose hash is `hash` and whose stored key equals `key`, if any. Does not
  // change reference counts or LRU order. `hash` must be HashBlock(key).
  std::optional<int32_t> FindCached(const BlockKeyView& key, const BlockHash& hash) const;

  // Enters a full, computed block into the prefix cache under `hash` (= HashBlock(key)). Returns
  // false, and leaves the block uncached, when another block already holds that hash (two
  // sequences computed the same content at once). REQUIRES: ref_count(block_id) > 0, the block is
  // not cached yet, key.token_ids holds the block's tokens.
  bool Register(int32_t block_id, const BlockKeyView& key, const BlockHash& hash);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  // Blocks that Allocate() can hand out: free plus evictable.
  int num_free() const { return static_cast<int>(free_ids_.size() + lru_.size()); }
  int num_used() const { return num_blocks() - num_free(); }
  int num_evictable() const { return static_cast<int>(lru_.size()); }
  // Blocks holding a hash: used and cached, or evictable.
  int num_cached() const { return static_cast<int>(cache_.size()); }
  int64_t num_evictions() const { return num_evictions_; }

  int ref_count(int32_t block_id) const { return Block(block_id).ref_count; }
  bool is_cached(int32_t block_id) const { return Block(block_id).hash.has_value(); }
  // Evictable block ids, least recently released (next to be evicted) first. For tests and logs.
  std::vector<int32_t> EvictionOrder() const { return {lru_.begin(), lru_.end()}; }

 private:
  struct BlockState {
    int32_t ref_count = 0;
    // Set while the block is in cache_; the key below is valid only then.
    std::optional<BlockHash> hash;
    BlockHash parent_hash;
    std::vector<int32_t> token_ids;    // [block_size]
    std::vector<uint64_t> extra_keys;  // [num_extra_keys]
    std::list<int32_t>::iterator lru_pos;  // valid while evictable
  };

  const BlockState& Block(int32_t block_id) const;
  BlockState& Block(int32_t block_id);
  void Uncache(int32_t block_id);

  std::vector<BlockState> blocks_;  // [num_blocks]
  std::set<int32_t> free_ids_;      // ref_count 0 and uncached, ordered so tests can assert ids
  std::list<int32_t> lru_;          // ref_count 0 and cached; front is evicted first
  std::unordered_map<BlockHash, int32_t, BlockHashHasher> cache_;  // hash -> cached block id
  int64_t num_evictions_ = 0;
};

}  // namespace brisk::kvcache
