#include "engine/batch.h"

#include <gtest/gtest.h>

#include <vector>

namespace brisk::engine {
namespace {

std::vector<int32_t> Ids(const tensor::Tensor& t) {
  return std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + t.numel());
}

TEST(BuildForwardInputsTest, FlattensAPrefillChunkAndADecodeWithExactSlots) {
  // Sequence A: 5 prompt tokens, nothing cached, blocks {7, 2} of 4 tokens.
  // Sequence B: 1 decode token after 6 cached tokens, blocks {0, 5}: position 6 -> block 5, row 2.
  const std::vector<int32_t> a_ids = {10, 11, 12, 13, 14}, a_blocks = {7, 2};
  const std::vector<int32_t> b_ids = {99}, b_blocks = {0, 5};
  const SequenceStep steps[] = {
      {.new_token_ids = a_ids, .num_computed_tokens = 0, .block_table = a_blocks,
       .logits = LogitsWanted::kLast},
      {.new_token_ids = b_ids, .num_computed_tokens = 6, .block_table = b_blocks,
       .logits = LogitsWanted::kLast},
  };
  models::ForwardInputs in = BuildForwardInputs(steps, /*block_size=*/4);
  EXPECT_EQ(Ids(in.token_ids), (std::vector<int32_t>{10, 11, 12, 13, 14, 99}));
  EXPECT_EQ(Ids(in.positions), (std::vector<int32_t>{0, 1, 2, 3, 4, 6}));
  // Block 7 rows 0-3 are slots 28-31; block 2 row 0 is slot 8; block 5 row 2 is slot 22.
  EXPECT_EQ(Ids(in.slot_mapping), (std::vector<int32_t>{28, 29, 30, 31, 8, 22}));
  EXPECT_EQ(Ids(in.attention.query_start_loc), (std::vector<int32_t>{0, 5, 6}));
  EXPECT_EQ(Ids(in.attention.context_lens), (std::vector<int32_t>{5, 7}));
  EXPECT_EQ(Ids(in.attention.block_tables), (std::vector<int32_t>{7, 2, 0, 5}));
  EXPECT_EQ(Ids(in.logits_indices), (std::vector<int32_t>{4, 5}));
  EXPECT_EQ(in.attention.max_query_len, 5);
  EXPECT_EQ(in.attention.max_context_len, 7);
}

TEST(BuildForwardInputsTest, PadsShorterBlockTablesAndHonoursLogitsWanted) {
  const std::vector<int32_t> a_ids = {1, 2, 3}, a_blocks = {3};
  const std::vector<int32_t> b_ids = {4, 5}, b_blocks = {1, 4, 6};
  const SequenceStep steps[] = {
      {.new_token_ids = a_ids, .num_computed_tokens = 0, .block_table = a_blocks,
       .logits = LogitsWanted::kAll},
      {.new_token_ids = b_ids, .num_computed_tokens = 8, .block_table = b_blocks,
       .logits = LogitsWanted::kNone},
  };
  models::ForwardInputs in = BuildForwardInputs(steps, /*block_size=*/4);
  EXPECT_EQ(in.attention.block_tables.shape(), (tensor::Shape{2, 3}));
  EXPECT_EQ(Ids(in.attention.block_tables), (std::vector<int32_t>{3, 0, 0, 1, 4, 6}));
  EXPECT_EQ(Ids(in.logits_indices), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(Ids(in.slot_mapping), (std::vector<int32_t>{12, 13, 14, 24, 25}));
}

TEST(BuildForwardInputsDeathTest, MissingBlocksAreABug) {
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5}, blocks = {0};
  const SequenceStep step{.new_token_ids = ids, .num_computed_tokens = 0, .block_table = blocks};
  EXPECT_DEATH(BuildForwardInputs(std::span(&step, 1), 4), "lacks KV blocks");
}

}  // namespace
}  // namespace brisk::engine
