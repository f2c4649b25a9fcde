#include "kvcache/block_pool.h"

#include "base/check.h"

namespace brisk::kvcache {

BlockPool::BlockPool(int num_blocks) : in_use_(num_blocks, false) {
  BRISK_CHECK_GE(num_blocks, 0);
  free_list_.reserve(num_blocks);
  for (int id = num_blocks - 1; id >= 0; --id) free_list_.push_back(id);
}

std::optional<int32_t> BlockPool::Allocate() {
  if (free_list_.empty()) return std::nullopt;
  int32_t id = free_list_.back();
  free_list_.pop_back();
  in_use_[id] = true;
  return id;
}

void BlockPool::Free(int32_t block_id) {
  BRISK_CHECK(block_id >= 0 && block_id < num_blocks()) << "block id " << block_id;
  BRISK_CHECK(in_use_[block_id]) << "double free of block " << block_id;
  in_use_[block_id] = false;
  free_list_.push_back(block_id);
}

}  // namespace brisk::kvcache
