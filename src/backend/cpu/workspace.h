// Grow-only scratch memory for the CPU kernels, so that hot ops do not allocate (and fault in
// fresh pages) on every call. Buffers are 64-byte aligned and their contents are undefined.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <vector>

#include "base/check.h"

namespace brisk::backend::cpu {

class Workspace {
 public:
  // Returns a buffer of at least `count` floats for `slot` (a small caller-chosen index). The
  // pointer stays valid until the next call with the same slot.
  // Thread-compatible: call from one thread (before entering a parallel region).
  float* Floats(size_t slot, size_t count) {
    if (slot >= buffers_.size()) buffers_.resize(slot + 1);
    Buffer& b = buffers_[slot];
    if (b.capacity < count) {
      size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, bytes);
      BRISK_CHECK(p != nullptr) << "out of memory for a " << bytes << "-byte workspace";
      b.data.reset(static_cast<float*>(p));
      b.capacity = count;
    }
    return b.data.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<float, Free> data;
    size_t capacity = 0;
  };
  std::vector<Buffer> buffers_;
};

}  // namespace brisk::backend::cpu
