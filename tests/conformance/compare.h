// Comparison of backend outputs against the reference, with failure reports that say how far
// off a kernel is (max abs/rel error, NMSE) and where (the first mismatches with indices).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tensor/tensor.h"
#include "tests/conformance/tolerance.h"

namespace brisk::conformance {

struct ErrorStats {
  double max_abs = 0.0;  // max |a − e|
  double max_rel = 0.0;  // max |a − e| / |e| over e != 0
  double rms = 0.0;      // sqrt(mean (a − e)²)
  double nmse = 0.0;     // Σ(a − e)² / Σ e²
  double max_abs_expected = 0.0;
  int64_t num_nan = 0;  // elements where a is NaN or inf but e is finite
};

// Error of `actual` against `expected`. Both f32 tensors of the same shape.
ErrorStats MeasureError(const tensor::Tensor& actual, const tensor::Tensor& expected);

// Elementwise rule: every element within atol + rtol·|expected|, no NaN.
testing::AssertionResult ExpectElementwise(const tensor::Tensor& actual,
                                           const tensor::Tensor& expected, Tolerance tol);

// Bitwise equality (NaN never matches). i32 tensors (token ids) go to ExpectExactI32.
testing::AssertionResult ExpectExact(const tensor::Tensor& actual, const tensor::Tensor& expected);

// Equality of two i32 tensors of the same shape, reporting the first differing elements.
testing::AssertionResult ExpectExactI32(const tensor::Tensor& actual,
                                        const tensor::Tensor& expected);

// Reduction rule (tolerance.h): error(actual) <= factor · error(naive) + floor, in both max and
// RMS, where errors are against `expected` (the double-precision reference), no NaN.
testing::AssertionResult ExpectReduction(const tensor::Tensor& actual, const tensor::Tensor& naive,
                                         const tensor::Tensor& expected);

}  // namespace brisk::conformance
