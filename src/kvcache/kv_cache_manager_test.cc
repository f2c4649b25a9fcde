#include "kvcache/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace brisk::kvcache {
namespace {

using Ids = std::vector<int32_t>;

// Tokens first, first + 1, ..., first + n - 1.
Ids Range(int32_t first, int n) {
  Ids v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

Ids Concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Ids Table(const KvCacheManager& kv, int64_t request_id) {
  std::span<const int32_t> t = kv.block_table(request_id);
  return {t.begin(), t.end()};
}

// The worked example of docs/design/kv_cache.md, step by step, with its exact block ids.
TEST(KvCacheManagerTest, WorkedExampleFromTheDesignDoc) {
  KvCacheManager kv({.num_blocks = 6, .block_size = 4});
  const BlockPool& pool = kv.pool();
  const int64_t kA = 1, kB = 2, kC = 3, kD = 4;

  // Step 1: A's prompt, 10 tokens, misses and takes blocks 0 1 2; 0 and 1 fill up and are cached.
  Ids a = Range(100, 10);
  PrefixHit hit = kv.GetComputedBlocks(a, {});
  EXPECT_EQ(hit.num_tokens, 0);
  ASSERT_EQ(kv.AllocateSlots(kA, 10, hit), AllocateStatus::kOk);
  EXPECT_EQ(Table(kv, kA), (Ids{0, 1, 2}));
  kv.CacheComputedBlocks(kA, a, {}, 10);
  EXPECT_TRUE(pool.is_cached(0));
  EXPECT_TRUE(pool.is_cached(1));
  EXPECT_FALSE(pool.is_cached(2));

  // Step 2: A generates 110 and 111; they fit in block 2, which becomes full and is cached.
  a = Concat(a, {110, 111});
  ASSERT_EQ(kv.AllocateSlots(kA, 2), AllocateStatus::kOk);
  EXPECT_EQ(Table(kv, kA), (Ids{0, 1, 2}));
  kv.CacheComputedBlocks(kA, a, {}, 12);
  EXPECT_TRUE(pool.is_cached(2));

  // Step 3: B shares A's first 8 tokens: blocks 0 and 1 are hits, then B gets 3 and 4.
  const Ids b = Concat(Range(100, 8), Range(300, 5));
  hit = kv.GetComputedBlocks(b, {});
  EXPECT_EQ(hit.block_ids, (Ids{0, 1}));
  EXPECT_EQ(hit.num_tokens, 8);
  ASSERT_EQ(kv.AllocateSlots(kB, 5, hit), AllocateStatus::kOk);
  EXPECT_EQ(Table(kv, kB), (Ids{0, 1, 3, 4}));
  EXPECT_EQ(pool.ref_count(0), 2);
  EXPECT_EQ(pool.ref_count(1), 2);
  kv.CacheComputedBlocks(kB, b, {}, 13);
  EXPECT_TRUE(pool.is_cached(3));
  EXPECT_FALSE(pool.is_cached(4));
  // A prompt that is exactly two cached blocks still computes its last block.
  EXPECT_EQ(kv.GetComputedBlocks(Range(100, 8), {}).block_ids, (Ids{0}));
  // Another tenant's salt sees nothing.
  const std::vector<uint64_t> salt = {77};
  EXPECT_EQ(kv.GetComputedBlocks(b, salt).num_tokens, 0);

  // Step 4: A finishes: block 2 is evictable; 0 and 1 are still held by B.
  kv.Free(kA);
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2}));
  EXPECT_EQ(pool.ref_count(0), 1);

  // Step 5: B finishes, last block first: 4 is free, 3 1 0 join the LRU behind 2.
  kv.Free(kB);
  EXPECT_EQ(pool.EvictionOrder(), (Ids{2, 3, 1, 0}));
  EXPECT_EQ(kv.stats().num_free_blocks, 6);
  EXPECT_EQ(kv.stats().num_cached_blocks, 4);

  // Step 6: C misses and needs 4 blocks: the free 4 and 5, then evicts 2 and 3.
  const Ids c = Range(500, 13);
  hit = kv.GetComputedBlocks(c, {});
  EXPECT_EQ(hit.num_tokens, 0);
  ASSERT_EQ(kv.AllocateSlots(kC, 13, hit), AllocateStatus::kOk);
  EXPECT_EQ(Table(kv, kC), (Ids{4, 5, 2, 3}));
  EXPECT_EQ(pool.EvictionOrder(), (Ids{1, 0}));
  EXPECT_EQ(kv.stats().num_evicted_blocks, 2);
  kv.CacheComputedBlocks(kC, c, {}, 13);

  // Step 7: D repeats A's 12 tokens plus one: only 0 and 1 survive, and the 2 blocks D still
  // needs do not exist (the hits themselves were the only evictable ones). Nothing changes.
  const Ids d = Range(100, 13);
  hit = kv.GetComputedBlocks(d, {});
  EXPECT_EQ(hit.block_ids, (Ids{0, 1}));
  EXPECT_EQ(kv.AllocateSlots(kD, 5, hit), AllocateStatus::kOutOfBlocks);
  EXPECT_TRUE(Table(kv, kD).empty());
  EXPECT_EQ(pool.EvictionOrder(), (Ids{1, 0}));

  // Step 8: C finishes: 3 (partial) is free; 2 5 4 join the LRU.
  kv.Free(kC);
  EXPECT_EQ(pool.EvictionOrder(), (Ids{1, 0, 2, 5, 4}));

  // Step 9: D again: takes 0 1, the free 3, and evicts 2.
  hit = kv.GetComputedBlocks(d, {});
  ASSERT_EQ(kv.AllocateSlots(kD, 5, hit), AllocateStatus::kOk);
  EXPECT_EQ(Table(kv, kD), (Ids{0, 1, 3, 2}));
  EXPECT_EQ(pool.EvictionOrder(), (Ids{5, 4}));

  const KvCacheStats s = kv.stats();
  EXPECT_EQ(s.num_queried_tokens, 10 + 13 + 13 + 13);  // D's failed try is not counted
  EXPECT_EQ(s.num_hit_tokens, 8 + 8);
  EXPECT_EQ(s.num_evicted_blocks, 3);
  EXPECT_EQ(s.num_used_blocks, 4);
  EXPECT_EQ(s.num_free_blocks, 2);
}

TEST(KvCacheManagerTest, DisabledPrefixCachingNeverHits) {
  KvCacheManager kv({.num_blocks = 4, .block_size = 2,
                     .prefix_caching = PrefixCaching::kDisabled});
  const Ids t = Range(1, 5);
  ASSERT_EQ(kv.AllocateSlots(1, 5, kv.GetComputedBlocks(t, {})), AllocateStatus::kOk);
  kv.CacheComputedBlocks(1, t, {}, 5);
  kv.Free(1);
  EXPECT_EQ(kv.GetComputedBlocks(t, {}).num_tokens, 0);
  EXPECT_EQ(kv.stats().num_cached_blocks, 0);
  EXPECT_EQ(kv.stats().num_evictable_blocks, 0);  // all plain free blocks
}

TEST(KvCacheManagerTest, ExhaustionIsAReturnValueAndChangesNothing) {
  KvCacheManager kv({.num_blocks = 2, .block_size = 4});
  ASSERT_EQ(kv.AllocateSlots(1, 5), AllocateStatus::kOk);
  EXPECT_EQ(kv.AllocateSlots(1, 4), AllocateStatus::kOutOfBlocks);
  EXPECT_EQ(Table(kv, 1), (Ids{0, 1}));
  ASSERT_EQ(kv.AllocateSlots(1, 3), AllocateStatus::kOk);  // fills block 1 exactly
  EXPECT_EQ(kv.AllocateSlots(2, 1), AllocateStatus::kOutOfBlocks);
  EXPECT_TRUE(Table(kv, 2).empty());
  kv.Free(2);  // holds nothing: a no-op
  kv.Free(1);
  EXPECT_EQ(kv.stats().num_free_blocks, 2);
}

// Random admissions (with shared prefixes), decode steps and frees against a fake KV store that
// records which token each slot was computed for. A prefix hit must point at slots that hold
// exactly the tokens of the hit; block refcounts must equal the number of tables holding them.
TEST(KvCacheManagerTest, RandomRequestsShareOnlyCorrectBlocksAndReturnAllOfThem) {
  constexpr int kBlockSize = 4, kNumBlocks = 24;
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  KvCacheManager kv({.num_blocks = kNumBlocks, .block_size = kBlockSize});
  std::vector<Ids> slots(kNumBlocks, Ids(kBlockSize, -1));  // the fake KV: token per slot
  struct Live {
    Ids tokens;
    std::vector<uint64_t> salt;
  };
  std::map<int64_t, Live> live;
  const std::vector<Ids> stems = {Range(0, 9), Range(0, 5), Range(50, 12)};
  int64_t next_id = 0;
  int64_t expected_hit_tokens = 0;

  // Computes tokens [from, to) of `id` into the fake KV, then caches full blocks.
  auto compute = [&](int64_t id, int from, int to) {
    const Ids table = Table(kv, id);
    for (int p = from; p < to; ++p) slots[table[p / kBlockSize]][p % kBlockSize] = live[id].tokens[p];
    kv.CacheComputedBlocks(id, live[id].tokens, live[id].salt, to);
  };

  for (int step = 0; step < 5000; ++step) {
    const int op = pick(3);
    if (op == 0) {  // admit
      Live r;
      r.tokens = stems[pick(3)];
      const int tail = pick(8);
      for (int i = 0; i < tail; ++i) r.tokens.push_back(pick(3));
      if (pick(4) == 0) r.salt = {static_cast<uint64_t>(pick(2))};
      const PrefixHit hit = kv.GetComputedBlocks(r.tokens, r.salt);
      ASSERT_LT(hit.num_tokens, static_cast<int>(r.tokens.size()));
      for (int p = 0; p < hit.num_tokens; ++p) {
        ASSERT_EQ(slots[hit.block_ids[p / kBlockSize]][p % kBlockSize], r.tokens[p])
            << "stale hit at step " << step;
      }
      const int64_t id = next_id++;
      const int n = static_cast<int>(r.tokens.size()) - hit.num_tokens;
      if (kv.AllocateSlots(id, n, hit) == AllocateStatus::kOk) {
        expected_hit_tokens += hit.num_tokens;
        live[id] = r;
        compute(id, hit.num_tokens, static_cast<int>(r.tokens.size()));
      } else {
        ASSERT_TRUE(Table(kv, id).empty());
      }
    } else if (op == 1 && !live.empty()) {  // one decode token
      auto it = std::next(live.begin(), pick(static_cast<int>(live.size())));
      it->second.tokens.push_back(pick(3));
      if (kv.AllocateSlots(it->first, 1) == AllocateStatus::kOk) {
        const int n = static_cast<int>(it->second.tokens.size());
        compute(it->first, n - 1, n);
      } else {
        it->second.tokens.pop_back();
      }
    } else if (op == 2 && !live.empty()) {  // finish
      auto it = std::next(live.begin(), pick(static_cast<int>(live.size())));
      kv.Free(it->first);
      live.erase(it);
    }
    std::map<int32_t, int> holders;
    for (const auto& [id, r] : live) {
      const Ids table = Table(kv, id);
      ASSERT_EQ(static_cast<int>(table.size()), kv.NumBlocksFor(r.tokens.size()));
      for (int32_t b : table) ++holders[b];
    }
    for (int32_t b = 0; b < kNumBlocks; ++b) {
      ASSERT_EQ(kv.pool().ref_count(b), holders[b]) << "block " << b << " step " << step;
      // A shared block is full and immutable, hence cached.
      if (holders[b] > 1) {
        ASSERT_TRUE(kv.pool().is_cached(b)) << "block " << b;
      }
    }
    ASSERT_EQ(kv.stats().num_used_blocks, static_cast<int>(holders.size() -
        std::count_if(holders.begin(), holders.end(), [](auto& h) { return h.second == 0; })));
  }
  EXPECT_EQ(kv.stats().num_hit_tokens, expected_hit_tokens);
  EXPECT_GT(expected_hit_tokens, 0);
  for (const auto& [id, r] : live) kv.Free(id);
  EXPECT_EQ(kv.stats().num_used_blocks, 0);
  EXPECT_EQ(kv.stats().num_free_blocks, kNumBlocks);
}

}  // namespace
}  // namespace brisk::kvcache
