// A fixed pool of KV-cache block ids [0, num_blocks). Device-free bookkeeping: the tensors that
// hold the blocks live with the engine; this class only decides which ids are free.
// Invariant: every id is either free (in free_list_) or handed out, never both.
// Not thread-safe: the engine thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace brisk::kvcache {

class BlockPool {
 public:
  // REQUIRES: num_blocks >= 0.
  explicit BlockPool(int num_blocks);

  // Takes a free block, lowest id first (so tests can assert exact ids). nullopt when the pool
  // is exhausted: a normal condition that the caller answers by waiting or preempting.
  std::optional<int32_t> Allocate();

  // Returns a block. REQUIRES: `block_id` was handed out by Allocate and not yet freed.
  void Free(int32_t block_id);

  int num_blocks() const { return static_cast<int>(in_use_.size()); }
  int num_free() const { return static_cast<int>(free_list_.size()); }
  int num_used() const { return num_blocks() - num_free(); }

 private:
  std::vector<int32_t> free_list_;  // a stack: the back is the next id handed out
  std::vector<bool> in_use_;        // [num_blocks]
};

}  // namespace brisk::kvcache
