#include "tensor/tensor.h"

#include "gtest/gtest.h"

namespace brisk::tensor {
namespace {

TEST(ToF32Test, WidensEveryFloatDtypeExactly) {
  // Values exact in bf16, f16, f32 and f64 alike.
  const float values[] = {1.5f, -2.25f, 0.0f, 1024.0f, -0.125f, 3.0f};
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16, DType::kF64}) {
    Tensor t = Tensor::Empty(dtype, {2, 3});
    for (int i = 0; i < 6; ++i) {
      switch (dtype) {
        case DType::kF32: t.data<float>()[i] = values[i]; break;
        case DType::kBF16: t.data<uint16_t>()[i] = F32ToBF16(values[i]); break;
        case DType::kF16: t.data<uint16_t>()[i] = F32ToF16(values[i]); break;
        default: t.data<double>()[i] = values[i]; break;
      }
    }
    const Tensor f = ToF32(t);
    EXPECT_EQ(f.dtype(), DType::kF32);
    EXPECT_EQ(f.shape(), (Shape{2, 3}));
    for (int i = 0; i < 6; ++i) EXPECT_EQ(f.data<float>()[i], values[i]) << i;
  }
}

TEST(ToF32DeathTest, RefusesIntegerTensors) {
  EXPECT_DEATH(ToF32(Tensor::Empty(DType::kI32, {2})), "integer");
}

}  // namespace
}  // namespace brisk::tensor
