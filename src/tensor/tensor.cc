#include "tensor/tensor.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "base/check.h"

namespace brisk::tensor {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

Tensor Tensor::Empty(DType dtype, Shape shape) {
  for (int64_t d : shape) BRISK_CHECK_GE(d, 0) << "negative dimension";
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  size_t bytes = static_cast<size_t>(t.size_bytes());
  // Large buffers (KV caches, logits) come from anonymous mappings: the kernel hands out
  // zero pages on first touch, so they cost nothing until used.
  constexpr size_t kMapThresholdBytes = size_t{1} << 20;
  if (bytes >= kMapThresholdBytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BRISK_CHECK(p != MAP_FAILED) << "out of host memory mapping " << bytes << " bytes";
    t.data_ = p;
    t.owner_ = std::shared_ptr<const void>(p, [bytes](const void* q) { ::munmap(const_cast<void*>(q), bytes); });
  } else if (bytes > 0) {
    size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc needs a multiple of the alignment
    void* p = std::aligned_alloc(64, rounded);
    BRISK_CHECK(p != nullptr) << "out of host memory allocating " << rounded << " bytes";
    std::memset(p, 0, rounded);
    t.data_ = p;
    t.owner_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  }
  return t;
}

Tensor Tensor::View(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner,
                    Device device) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  t.device_ = device;
  return t;
}

Tensor Tensor::Reshape(Shape shape) const {
  BRISK_CHECK_EQ(NumElements(shape), numel()) << "reshape " << ShapeToString(shape_) << " to "
                                              << ShapeToString(shape);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Slice(int64_t begin, int64_t end) const {
  BRISK_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0])
      << "slice [" << begin << ", " << end << ") of " << ShapeToString(shape_);
  Tensor t = *this;
  int64_t row_elems = shape_[0] == 0 ? 0 : numel() / shape_[0];
  t.shape_[0] = end - begin;
  t.data_ = static_cast<uint8_t*>(data_) + begin * row_elems * DTypeSize(dtype_);
  return t;
}

Tensor ToF32(const Tensor& t) {
  Tensor out = Tensor::Empty(DType::kF32, t.shape());
  float* dst = out.data<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype()) {
      case DType::kF32: dst[i] = t.data<const float>()[i]; break;
      case DType::kBF16: dst[i] = BF16ToF32(t.data<const uint16_t>()[i]); break;
      case DType::kF16: dst[i] = F16ToF32(t.data<const uint16_t>()[i]); break;
      case DType::kF64: dst[i] = static_cast<float>(t.data<const double>()[i]); break;
      case DType::kI32:
      case DType::kI64: BRISK_CHECK(false) << "ToF32 of an integer tensor"; break;
    }
  }
  return out;
}

}  // namespace brisk::tensor
