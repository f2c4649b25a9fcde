// Two 64-bit lanes, each folding one input word at a time through a multiply-xorshift bijection
// (the finalizer constants of the splitmix64 generator, chosen for full avalanche). The lanes use
// different seeds and take each word in a different form, so a collision must hit both at once.
#include "kvcache/block_hash.h"

namespace brisk::kvcache {
namespace {

uint64_t Avalanche(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

uint64_t RotateLeft(uint64_t x, int bits) { return (x << bits) | (x >> (64 - bits)); }

class Hasher128 {
 public:
  void Add(uint64_t word) {
    a_ = Avalanche(a_ ^ word);
    b_ = Avalanche(b_ + RotateLeft(word, 29) * 0x9e3779b97f4a7c15ULL);
  }
  BlockHash Finish() const { return {Avalanche(a_ ^ RotateLeft(b_, 17)), Avalanche(b_ ^ a_)}; }

 private:
  // Arbitrary distinct odd seeds; changing them changes every hash (and nothing else).
  uint64_t a_ = 0x6a09e667f3bcc909ULL;
  uint64_t b_ = 0xbb67ae8584caa73bULL;
};

}  // namespace

BlockHash HashBlock(const BlockKeyView& key) {
  Hasher128 h;
  h.Add(key.parent_hash.hi);
  h.Add(key.parent_hash.lo);
  h.Add(key.token_ids.size());
  for (int32_t t : key.token_ids) h.Add(static_cast<uint32_t>(t));
  h.Add(key.extra_keys.size());
  for (uint64_t k : key.extra_keys) h.Add(k);
  return h.Finish();
}

}  // namespace brisk::kvcache
