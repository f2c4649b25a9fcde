// Element types of tensors, their sizes and names, and scalar conversions between the 16-bit
// float formats and f32. Conversions round to nearest even, like PyTorch's.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace brisk::tensor {

enum class DType { kF32, kBF16, kF16, kF64, kI32, kI64 };

// Bytes per element.
constexpr int64_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kBF16: return 2;
    case DType::kF16: return 2;
    case DType::kF64: return 8;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
  }
  return 0;
}

// Lower-case name as used in logs and errors: "f32", "bf16", ...
std::string_view DTypeName(DType dtype);

// Parses the dtype spelling of safetensors headers ("F32", "BF16", "F16", "F64", "I32", "I64").
// Returns nullopt for anything else (the caller reports the name).
std::optional<DType> ParseSafetensorsDType(std::string_view name);

inline float BF16ToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

inline uint16_t F32ToBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float F16ToF32(uint16_t bits);
uint16_t F32ToF16(float f);

}  // namespace brisk::tensor
