// The content key of one full KV block: a 128-bit hash chained from the parent block's hash, the
// block's token ids and the sequence's extra keys (image hashes, a tenant salt, an adapter id).
// Equal chains give equal hashes in every process and on every machine (no random seed), so a
// router can predict cache hits. The hash is strong but not cryptographic: the prefix cache never
// trusts it alone and compares the stored token ids and extra keys on every hit (block_pool.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace brisk::kvcache {

struct BlockHash {
  uint64_t hi = 0;
  uint64_t lo = 0;
  friend bool operator==(const BlockHash&, const BlockHash&) = default;
};

// The parent hash of a sequence's first block.
inline constexpr BlockHash kRootBlockHash{};

// Everything a full block's KV depends on, besides the model: the prefix before it (through
// `parent_hash`), its own tokens, and keys that change the KV without changing the token ids.
struct BlockKeyView {
  BlockHash parent_hash;
  std::span<const int32_t> token_ids;   // [block_size]
  std::span<const uint64_t> extra_keys;  // [num_extra_keys], may be empty
};

// The chained hash of one block. Deterministic; length-prefixed, so distinct (token_ids,
// extra_keys) splits of the same words hash differently.
BlockHash HashBlock(const BlockKeyView& key);

// For std::unordered_map<BlockHash, ...>.
struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const { return static_cast<size_t>(h.lo ^ (h.hi >> 1)); }
};

}  // namespace brisk::kvcache
