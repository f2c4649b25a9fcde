#include "kvcache/block_pool.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

namespace brisk::kvcache {
namespace {

// A one-block key: parent = root, the given tokens, no extra keys.
struct Key {
  std::vector<int32_t> tokens;
  BlockKeyView view() const { return {kRootBlockHash, tokens, {}}; }
  BlockHash hash() const { return HashBlock(view()); }
};

TEST(BlockPoolTest, HandsOutLowestIdsFirstAndReusesFreedOnes) {
  BlockPool pool(4);
  EXPECT_EQ(pool.Allocate(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_EQ(pool.num_used(), 3);
  pool.Free(1);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_EQ(pool.Allocate(), 1);  // the lowest free id, not the one freed last
  EXPECT_EQ(pool.Allocate(), 3);
  EXPECT_EQ(pool.Allocate(), std::nullopt);
  EXPECT_EQ(pool.num_free(), 0);
}

TEST(BlockPoolTest, EmptyPoolIsExhaustedImmediately) {
  BlockPool pool(0);
  EXPECT_EQ(pool.Allocate(), std::nullopt);
}

TEST(BlockPoolTest, CachedBlocksWaitInLruOrderAndAreEvictedOnlyWhenNothingIsFree) {
  BlockPool pool(4);
  const Key k0{{1, 2}}, k1{{3, 4}};
  ASSERT_EQ(pool.Allocate(), 0);
  ASSERT_EQ(pool.Allocate(), 1);
  ASSERT_EQ(pool.Allocate(), 2);
  EXPECT_TRUE(pool.Register(0, k0.view(), k0.hash()));
  EXPECT_TRUE(pool.Register(1, k1.view(), k1.hash()));
  pool.Free(1);
  pool.Free(0);
  pool.Free(2);  // uncached: straight to the free set
  EXPECT_EQ(pool.EvictionOrder(), (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_EQ(pool.num_evictable(), 2);
  EXPECT_EQ(pool.num_cached(), 2);

  EXPECT_EQ(pool.Allocate(), 2);  // free ids first, lowest first
  EXPECT_EQ(pool.Allocate(), 3);
  EXPECT_EQ(pool.FindCached(k1.view(), k1.hash()), 1);
  EXPECT_EQ(pool.Allocate(), 1);  // then the least recently released cached block
  EXPECT_EQ(pool.num_evictions(), 1);
  EXPECT_EQ(pool.FindCached(k1.view(), k1.hash()), std::nullopt);  // evicted
  EXPECT_FALSE(pool.is_cached(1));
  EXPECT_EQ(pool.FindCached(k0.view(), k0.hash()), 0);
}

TEST(BlockPoolTest, RefTakesAnEvictableBlockOutOfTheLru) {
  BlockPool pool(2);
  const Key k{{7, 7}};
  ASSERT_EQ(pool.Allocate(), 0);
  ASSERT_TRUE(pool.Register(0, k.view(), k.hash()));
  pool.Free(0);
  EXPECT_EQ(pool.num_evictable(), 1);
  pool.Ref(0);
  pool.Ref(0);
  EXPECT_EQ(pool.ref_count(0), 2);
  EXPECT_EQ(pool.num_evictable(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), std::nullopt);  // block 0 is held, not evictable
  pool.Free(0);
  EXPECT_EQ(pool.num_evictable(), 0);
  pool.Free(0);
  EXPECT_EQ(pool.EvictionOrder(), (std::vector<int32_t>{0}));
}

TEST(BlockPoolTest, SecondBlockWithTheSameContentStaysUncached) {
  BlockPool pool(2);
  const Key k{{5, 6}};
  ASSERT_EQ(pool.Allocate(), 0);
  ASSERT_EQ(pool.Allocate(), 1);
  EXPECT_TRUE(pool.Register(0, k.view(), k.hash()));
  EXPECT_FALSE(pool.Register(1, k.view(), k.hash()));
  EXPECT_FALSE(pool.is_cached(1));
  pool.Free(1);
  EXPECT_EQ(pool.num_evictable(), 0);  // block 1 went to the free set
}

TEST(BlockPoolTest, AHashCollisionIsNeverAHit) {
  BlockPool pool(1);
  const Key stored{{1, 2}}, other{{1, 3}};
  ASSERT_EQ(pool.Allocate(), 0);
  ASSERT_TRUE(pool.Register(0, stored.view(), stored.hash()));
  // Pretend `other` hashed to the same value: the stored tokens decide.
  EXPECT_EQ(pool.FindCached(other.view(), stored.hash()), std::nullopt);
  const uint64_t salt = 42;
  const BlockKeyView salted{kRootBlockHash, stored.tokens, std::span<const uint64_t>(&salt, 1)};
  EXPECT_EQ(pool.FindCached(salted, stored.hash()), std::nullopt);
  EXPECT_EQ(pool.FindCached(stored.view(), stored.hash()), 0);
}

TEST(BlockHashTest, DependsOnParentTokensAndExtraKeysAndIsStable) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  const std::vector<int32_t> swapped = {2, 1, 3, 4};
  const std::vector<uint64_t> salt = {9};
  const BlockHash base = HashBlock({kRootBlockHash, tokens, {}});
  EXPECT_EQ(base, HashBlock({kRootBlockHash, tokens, {}}));
  EXPECT_NE(base, HashBlock({kRootBlockHash, swapped, {}}));
  EXPECT_NE(base, HashBlock({kRootBlockHash, tokens, salt}));
  EXPECT_NE(base, HashBlock({base, tokens, {}}));
  // Moving a word from the tokens into the extra keys changes the hash (length prefixes).
  const std::vector<int32_t> three = {1, 2, 3};
  const std::vector<uint64_t> four = {4};
  EXPECT_NE(base, HashBlock({kRootBlockHash, three, four}));
  // No two of 100k distinct single-block keys share either half of the hash.
  std::set<uint64_t> his, los;
  for (int32_t a = 0; a < 100000; ++a) {
    const std::vector<int32_t> t = {a, a / 7};
    const BlockHash h = HashBlock({kRootBlockHash, t, {}});
    his.insert(h.hi);
    los.insert(h.lo);
  }
  EXPECT_EQ(his.size(), 100000u);
  EXPECT_EQ(los.size(), 100000u);
}

TEST(BlockPoolDeathTest, DoubleFreeIsABug) {
  BlockPool pool(2);
  int32_t id = *pool.Allocate();
  pool.Free(id);
  EXPECT_DEATH(pool.Free(id), "double free of block 0");
}

// The obviously correct model: maps and sets, LRU as "smallest release time".
struct ModelPool {
  std::map<int32_t, int> ref_count;
  std::set<int32_t> free_ids;
  std::map<int64_t, int32_t> lru;         // release time -> block
  std::map<int32_t, int64_t> released_at;  // inverse of lru
  std::map<std::pair<uint64_t, uint64_t>, int32_t> cache;
  std::map<int32_t, std::pair<uint64_t, uint64_t>> hash_of;
  int64_t clock = 0;
};

TEST(BlockPoolTest, RandomOperationsMatchAMapModel) {
  constexpr int kNumBlocks = 8;
  std::mt19937 rng(20240611);
  BlockPool pool(kNumBlocks);
  ModelPool m;
  for (int b = 0; b < kNumBlocks; ++b) {
    m.ref_count[b] = 0;
    m.free_ids.insert(b);
  }
  std::vector<Key> keys;
  for (int32_t k = 0; k < 12; ++k) keys.push_back({{k, k + 1}});
  std::vector<int32_t> held;  // one entry per reference we hold
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };

  for (int step = 0; step < 20000; ++step) {
    const int op = pick(4);
    if (op == 0) {  // allocate
      std::optional<int32_t> want;
      if (!m.free_ids.empty()) {
        want = *m.free_ids.begin();
        m.free_ids.erase(m.free_ids.begin());
      } else if (!m.lru.empty()) {
        want = m.lru.begin()->second;
        m.lru.erase(m.lru.begin());
        m.released_at.erase(*want);
        m.cache.erase(m.hash_of[*want]);
        m.hash_of.erase(*want);
      }
      ASSERT_EQ(pool.Allocate(), want) << "step " << step;
      if (want) {
        m.ref_count[*want] = 1;
        held.push_back(*want);
      }
    } else if (op == 1 && !held.empty()) {  // free one reference
      const int i = pick(static_cast<int>(held.size()));
      const int32_t b = held[i];
      held.erase(held.begin() + i);
      pool.Free(b);
      if (--m.ref_count[b] == 0) {
        if (m.hash_of.count(b)) {
          m.lru[++m.clock] = b;
          m.released_at[b] = m.clock;
        } else {
          m.free_ids.insert(b);
        }
      }
    } else if (op == 2 && !held.empty()) {  // register a held block under a random key
      const int32_t b = held[pick(static_cast<int>(held.size()))];
      if (m.hash_of.count(b)) continue;
      const Key& k = keys[pick(static_cast<int>(keys.size()))];
      const BlockHash h = k.hash();
      const bool want = !m.cache.count({h.hi, h.lo});
      ASSERT_EQ(pool.Register(b, k.view(), h), want) << "step " << step;
      if (want) {
        m.cache[{h.hi, h.lo}] = b;
        m.hash_of[b] = {h.hi, h.lo};
      }
    } else if (op == 3) {  // look up a random key, and take a reference on a hit
      const Key& k = keys[pick(static_cast<int>(keys.size()))];
      const BlockHash h = k.hash();
      auto it = m.cache.find({h.hi, h.lo});
      const std::optional<int32_t> want =
          it == m.cache.end() ? std::nullopt : std::optional<int32_t>(it->second);
      ASSERT_EQ(pool.FindCached(k.view(), h), want) << "step " << step;
      if (want && pick(2) == 0) {
        pool.Ref(*want);
        if (m.ref_count[*want]++ == 0) {
          m.lru.erase(m.released_at[*want]);
          m.released_at.erase(*want);
        }
        held.push_back(*want);
      }
    }
    // Invariants: every block in exactly one state, and the same state as the model's.
    std::vector<int32_t> model_order;
    for (const auto& [t, b] : m.lru) model_order.push_back(b);
    ASSERT_EQ(pool.EvictionOrder(), model_order) << "step " << step;
    int num_used = 0;
    for (int b = 0; b < kNumBlocks; ++b) {
      ASSERT_EQ(pool.ref_count(b), m.ref_count[b]) << "block " << b << " step " << step;
      ASSERT_EQ(pool.is_cached(b), m.hash_of.count(b) == 1) << "block " << b;
      const int states = (m.ref_count[b] > 0) + static_cast<int>(m.free_ids.count(b)) +
                         static_cast<int>(m.released_at.count(b));
      ASSERT_EQ(states, 1) << "block " << b << " step " << step;
      num_used += m.ref_count[b] > 0;
    }
    ASSERT_EQ(pool.num_used(), num_used);
    ASSERT_EQ(pool.num_cached(), static_cast<int>(m.cache.size()));
    ASSERT_EQ(pool.num_evictable(), static_cast<int>(m.lru.size()));
  }
}

}  // namespace
}  // namespace brisk::kvcache
