// Tensor: a dtype, a shape (outermost first, last dimension contiguous) and a pointer to
// row-major data that is either owned (host allocation) or a view that keeps its backing
// storage (for example a memory-mapped checkpoint) alive through a shared_ptr.
// Invariant: data() points to at least numel() * DTypeSize(dtype()) bytes, or is null for an
// empty tensor. Tensors are cheap to copy: copies share storage.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "base/check.h"
#include "tensor/dtype.h"

namespace brisk::tensor {

enum class Device { kCpu, kCuda };

using Shape = std::vector<int64_t>;

int64_t NumElements(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "[2, 3, 4]"

class Tensor {
 public:
  Tensor() = default;

  // Allocates a host tensor, 64-byte aligned, zero-filled.
  static Tensor Empty(DType dtype, Shape shape);

  // Wraps memory owned by `owner` (which must keep `data` valid) without copying.
  static Tensor View(DType dtype, Shape shape, void* data, std::shared_ptr<const void> owner,
                     Device device = Device::kCpu);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  Device device() const { return device_; }
  int64_t dim(int i) const {
    BRISK_CHECK(i >= 0 && i < static_cast<int>(shape_.size())) << "dim " << i;
    return shape_[i];
  }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return NumElements(shape_); }
  int64_t size_bytes() const { return numel() * DTypeSize(dtype_); }
  bool empty() const { return numel() == 0; }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(data_);
  }

  // Same storage, new shape with the same number of elements.
  Tensor Reshape(Shape shape) const;
  // Rows [begin, end) of the outermost dimension, sharing storage.
  Tensor Slice(int64_t begin, int64_t end) const;

 private:
  DType dtype_ = DType::kF32;
  Shape shape_;
  Device device_ = Device::kCpu;
  void* data_ = nullptr;
  std::shared_ptr<const void> owner_;
};

// An owned host f32 copy of a floating-point tensor (f32, bf16, f16 or f64), same shape: the
// load-time conversion of small weights (norm scales, biases) that kernels read as f32.
// REQUIRES: t is a host tensor of a floating-point dtype.
Tensor ToF32(const Tensor& t);

}  // namespace brisk::tensor
