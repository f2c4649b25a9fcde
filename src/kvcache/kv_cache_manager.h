// Per-request KV block tables on top of a BlockPool, with prefix reuse.
// A request's block table maps its token positions to blocks: position p lives in block
// table[p / block_size] at slot p % block_size. Its first full blocks are registered in the prefix
// cache once computed, each keyed by a hash chained over the blocks before it, so a later request
// with the same tokens and extra keys can share them instead of computing them again.
// Invariant: the ref_count of a block equals the number of block tables that hold it.
// Not thread-safe: the engine thread owns it. docs/design/kv_cache.md walks an example.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvcache/block_hash.h"
#include "kvcache/block_pool.h"

namespace brisk::kvcache {

enum class PrefixCaching { kEnabled, kDisabled };

struct KvCacheOptions {
  int num_blocks = 0;
  int block_size = 16;  // tokens per block; DESIGN.md §3 default
  PrefixCaching prefix_caching = PrefixCaching::kEnabled;
};

// The cached prefix of a new sequence, from GetComputedBlocks; consumed by AllocateSlots.
struct PrefixHit {
  std::vector<int32_t> block_ids;       // [num_hit_blocks]
  std::vector<BlockHash> block_hashes;  // [num_hit_blocks]
  int num_tokens = 0;                   // num_hit_blocks * block_size
  int num_queried_tokens = 0;           // length of the sequence looked up
};

enum class AllocateStatus { kOk, kOutOfBlocks };

// Plain counters for metrics (DESIGN.md rule 5: a stats struct, no metrics code here).
struct KvCacheStats {
  int num_blocks = 0;
  int num_used_blocks = 0;       // held by at least one request
  int num_free_blocks = 0;       // allocatable: truly free plus evictable
  int num_cached_blocks = 0;     // in the prefix cache, used or evictable
  int num_evictable_blocks = 0;  // cached and held by nobody
  int64_t num_queried_tokens = 0;  // prompt tokens looked up at admission
  int64_t num_hit_tokens = 0;      // of those, found cached and skipped
  int64_t num_evicted_blocks = 0;
};

class KvCacheManager {
 public:
  // REQUIRES: options.num_blocks >= 0, options.block_size > 0.
  explicit KvCacheManager(const KvCacheOptions& options);

  // The longest run of cached full blocks that starts `token_ids` under `extra_keys`. Never the
  // whole sequence: at least its last token is left to compute, because the step that computes
  // it produces the logits for the next token. Changes nothing (no refcounts, no LRU order).
  PrefixHit GetComputedBlocks(std::span<const int32_t> token_ids,
                              std::span<const uint64_t> extra_keys) const;

  // Gives slots to `num_new_tokens` more tokens of `request_id`, after those given slots before,
  // allocating blocks as needed. A request's first call may pass the hit from GetComputedBlocks
  // (taken just before, with nothing allocated in between): its blocks then start the table and
  // its tokens count as given slots. All or nothing: kOutOfBlocks changes nothing.
  // REQUIRES: num_new_tokens >= 0; `hit` non-empty only on the request's first call.
  [[nodiscard]] AllocateStatus AllocateSlots(int64_t request_id, int num_new_tokens,
                                             const PrefixHit& hit = {});

  // Registers the blocks of `request_id` that the first `num_computed_tokens` of `token_ids`
  // fill completely, and that are not registered yet, in the prefix cache. Call after the step
  // that computed them. No-op when prefix caching is disabled.
  // REQUIRES: the table has room for num_computed_tokens; token_ids and extra_keys are the ones
  // the request was looked up with (plus tokens appended since).
  void CacheComputedBlocks(int64_t request_id, std::span<const int32_t> token_ids,
                           std::span<const uint64_t> extra_keys, int num_computed_tokens);

  // Releases every block of `request_id`, last block first, so that when they become evictable
  // a sequence's tail is evicted before its head (the head is what other requests share).
  // No-op for a request that holds nothing.
  void Free(int64_t request_id);

  // [num_blocks_of_request]; empty for an unknown request. Valid until the next mutating call.
  std::span<const int32_t> block_table(int64_t request_id) const;
  // Blocks needed to hold `num_tokens` tokens.
  int NumBlocksFor(int num_tokens) const;
  int block_size() const { return options_.block_size; }
  const BlockPool& pool() const { return pool_; }
  KvCacheStats stats() const;

 private:
  struct RequestBlocks {
    std::vector<int32_t> block_ids;       // the block table
    std::vector<BlockHash> block_hashes;  // hashes of the first registered-or-hit full blocks
    int num_tokens = 0;                   // tokens given a slot so far
  };

  const KvCacheOptions options_;
  BlockPool pool_;
  std::unordered_map<int64_t, RequestBlocks> requests_;
  int64_t num_queried_tokens_ = 0;
  int64_t num_hit_tokens_ = 0;
};

}  // namespace brisk::kvcache
