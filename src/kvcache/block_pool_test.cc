#include "kvcache/block_pool.h"

#include <gtest/gtest.h>

namespace brisk::kvcache {
namespace {

TEST(BlockPoolTest, HandsOutLowestIdsFirstAndReusesFreedOnes) {
  BlockPool pool(4);
  EXPECT_EQ(pool.Allocate(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_EQ(pool.num_used(), 3);
  pool.Free(1);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_EQ(pool.Allocate(), 1);  // most recently freed comes back first
  EXPECT_EQ(pool.Allocate(), 3);
  EXPECT_EQ(pool.Allocate(), std::nullopt);
  EXPECT_EQ(pool.num_free(), 0);
}

TEST(BlockPoolTest, EmptyPoolIsExhaustedImmediately) {
  BlockPool pool(0);
  EXPECT_EQ(pool.Allocate(), std::nullopt);
}

TEST(BlockPoolDeathTest, DoubleFreeIsABug) {
  BlockPool pool(2);
  int32_t id = *pool.Allocate();
  pool.Free(id);
  EXPECT_DEATH(pool.Free(id), "double free of block 0");
}

}  // namespace
}  // namespace brisk::kvcache
