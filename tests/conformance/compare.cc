// Error measures and failure reports of the conformance harness.
#include "tests/conformance/compare.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <sstream>

namespace brisk::conformance {
namespace {

using tensor::Tensor;

// "[i, j, k]" for flat index `flat` of `shape`.
std::string IndexString(const tensor::Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return tensor::ShapeToString(index);
}

std::string Summary(const ErrorStats& s) {
  std::ostringstream out;
  out << "max_abs=" << s.max_abs << " max_rel=" << s.max_rel << " rms=" << s.rms
      << " nmse=" << s.nmse << " nan_or_inf=" << s.num_nan
      << " max|expected|=" << s.max_abs_expected;
  return out.str();
}

bool ShapesMatch(const Tensor& a, const Tensor& e, std::string* why) {
  if (a.dtype() != tensor::DType::kF32 || e.dtype() != tensor::DType::kF32 ||
      a.shape() != e.shape()) {
    *why = "actual " + tensor::ShapeToString(a.shape()) + " " +
           std::string(tensor::DTypeName(a.dtype())) + " vs expected " +
           tensor::ShapeToString(e.shape()) + " " + std::string(tensor::DTypeName(e.dtype()));
    return false;
  }
  return true;
}

// Failure with a summary line and the first elements for which `bad(i)` holds.
testing::AssertionResult Report(const Tensor& actual, const Tensor& expected,
                                const std::string& rule, const std::string& summary,
                                const std::function<bool(int64_t)>& bad) {
  std::ostringstream out;
  out << rule << "\n  " << summary << "\n  first mismatches:";
  int shown = 0;
  int64_t total = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (!bad(i)) continue;
    ++total;
    if (shown < kMaxReportedMismatches) {
      ++shown;
      out << "\n    " << IndexString(actual.shape(), i) << " actual=" << actual.data<float>()[i]
          << " expected=" << expected.data<float>()[i];
    }
  }
  out << "\n  (" << total << " of " << actual.numel() << " elements)";
  return testing::AssertionFailure() << out.str();
}

}  // namespace

ErrorStats MeasureError(const Tensor& actual, const Tensor& expected) {
  ErrorStats s;
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  double sum_sq_err = 0.0;
  double sum_sq_ref = 0.0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    s.max_abs_expected = std::max(s.max_abs_expected, std::fabs(static_cast<double>(e[i])));
    if (!std::isfinite(a[i]) && std::isfinite(e[i])) {
      ++s.num_nan;
      continue;
    }
    double err = std::fabs(static_cast<double>(a[i]) - e[i]);
    if (std::isnan(err)) continue;  // both non-finite; the exactness of those is checked apart
    s.max_abs = std::max(s.max_abs, err);
    if (e[i] != 0.0f) s.max_rel = std::max(s.max_rel, err / std::fabs(static_cast<double>(e[i])));
    sum_sq_err += err * err;
    sum_sq_ref += static_cast<double>(e[i]) * e[i];
  }
  const int64_t n = std::max<int64_t>(1, actual.numel());
  s.rms = std::sqrt(sum_sq_err / static_cast<double>(n));
  s.nmse = sum_sq_ref > 0.0 ? sum_sq_err / sum_sq_ref : sum_sq_err;
  return s;
}

testing::AssertionResult ExpectElementwise(const Tensor& actual, const Tensor& expected,
                                           Tolerance tol) {
  std::string why;
  if (!ShapesMatch(actual, expected, &why)) return testing::AssertionFailure() << why;
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  auto bad = [&](int64_t i) {
    double err = std::fabs(static_cast<double>(a[i]) - e[i]);
    return !(err <= tol.atol + tol.rtol * std::fabs(static_cast<double>(e[i])));  // NaN is bad
  };
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (bad(i)) {
      std::ostringstream rule;
      rule << "elementwise |a - e| <= " << tol.atol << " + " << tol.rtol << "·|e| violated";
      return Report(actual, expected, rule.str(), Summary(MeasureError(actual, expected)), bad);
    }
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult ExpectExact(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() == tensor::DType::kI32 || expected.dtype() == tensor::DType::kI32) {
    return ExpectExactI32(actual, expected);
  }
  std::string why;
  if (!ShapesMatch(actual, expected, &why)) return testing::AssertionFailure() << why;
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  auto bad = [&](int64_t i) {
    return std::memcmp(a + i, e + i, sizeof(float)) != 0 || std::isnan(a[i]);
  };
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (bad(i)) {
      return Report(actual, expected, "exact match violated",
                    Summary(MeasureError(actual, expected)), bad);
    }
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult ExpectExactI32(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != tensor::DType::kI32 || expected.dtype() != tensor::DType::kI32 ||
      actual.shape() != expected.shape()) {
    return testing::AssertionFailure()
           << "actual " << tensor::ShapeToString(actual.shape()) << " "
           << tensor::DTypeName(actual.dtype()) << " vs expected "
           << tensor::ShapeToString(expected.shape()) << " " << tensor::DTypeName(expected.dtype());
  }
  const int32_t* a = actual.data<int32_t>();
  const int32_t* e = expected.data<int32_t>();
  std::ostringstream out;
  int64_t total = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (a[i] == e[i]) continue;
    if (++total <= kMaxReportedMismatches) {
      out << "\n    " << IndexString(actual.shape(), i) << " actual=" << a[i]
          << " expected=" << e[i];
    }
  }
  if (total == 0) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "exact i32 match violated\n  first mismatches:" << out.str()
                                     << "\n  (" << total << " of " << actual.numel()
                                     << " elements)";
}

testing::AssertionResult ExpectReduction(const Tensor& actual, const Tensor& naive,
                                         const Tensor& expected) {
  std::string why;
  if (!ShapesMatch(actual, expected, &why) || !ShapesMatch(naive, expected, &why)) {
    return testing::AssertionFailure() << why;
  }
  const ErrorStats kernel = MeasureError(actual, expected);
  const ErrorStats base = MeasureError(naive, expected);
  const double floor = ReductionFloor(kernel.max_abs_expected);
  const double max_bound = kReductionErrorFactor * base.max_abs + floor;
  const double rms_bound = kReductionErrorFactor * base.rms + floor;
  if (kernel.num_nan == 0 && kernel.max_abs <= max_bound && kernel.rms <= rms_bound) {
    return testing::AssertionSuccess();
  }
  std::ostringstream rule;
  rule << "reduction rule violated: kernel error must be <= " << kReductionErrorFactor
       << "x naive f32 error + " << floor << " (max bound " << max_bound << ", rms bound "
       << rms_bound << ")\n  naive f32: " << Summary(base);
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  auto bad = [&](int64_t i) { return !(std::fabs(static_cast<double>(a[i]) - e[i]) <= max_bound); };
  return Report(actual, expected, rule.str(), "kernel:    " + Summary(kernel), bad);
}

}  // namespace brisk::conformance
