// The conformance suite: every case of every op (op_cases.h) on every backend under test
// (backends_under_test.h) that claims the case's weight dtype, compared with the reference
// backend under the rules of tolerance.h. Plus tests that keep the harness honest: every op
// has cases, and the comparisons do fail on a wrong or incomplete kernel.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <ostream>
#include <set>
#include <string>

#include "backend/cpu/reference/reference_backend.h"
#include "tests/conformance/backends_under_test.h"
#include "tests/conformance/compare.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

struct Param {
  size_t backend_index;
  size_t case_index;
};

// Every (backend, case) pair the backend supports. Unsupported weight dtypes are left out
// rather than skipped: a backend states them once in Supports(), and EveryOpRunsOnEveryBackend
// makes sure no op is left out entirely.
std::vector<Param> SupportedParams() {
  std::vector<Param> params;
  for (size_t b = 0; b < BackendsUnderTest().size(); ++b) {
    std::unique_ptr<Backend> backend = BackendsUnderTest()[b].make();
    for (size_t c = 0; c < AllCases().size(); ++c) {
      const OpCase& op_case = AllCases()[c];
      if (backend->Supports(op_case.op, op_case.weight_dtype)) params.push_back({b, c});
    }
  }
  return params;
}

// Shown by gtest (and ctest) instead of the bytes of the struct.
void PrintTo(const Param& p, std::ostream* os) {
  const OpCase& c = AllCases()[p.case_index];
  *os << BackendsUnderTest()[p.backend_index].name << "/" << backend::OpName(c.op) << "/" << c.name;
}

std::string ParamName(const testing::TestParamInfo<Param>& info) {
  const OpCase& c = AllCases()[info.param.case_index];
  std::string name = BackendsUnderTest()[info.param.backend_index].name + "_" +
                     std::string(backend::OpName(c.op)) + "_" + c.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// Compares one output; `naive` is only used by reductions.
testing::AssertionResult CheckOutput(Check check, const Tensor& actual, const Tensor& expected,
                                     const Tensor* naive) {
  switch (check) {
    case Check::kExact:
      return ExpectExact(actual, expected);
    case Check::kElementwise:
      return ExpectElementwise(actual, expected, ElementwiseTolerance(DType::kF32));
    case Check::kReduction:
      return ExpectReduction(actual, *naive, expected);
  }
  return testing::AssertionFailure() << "unknown check";
}

class ConformanceTest : public testing::TestWithParam<Param> {};

TEST_P(ConformanceTest, MatchesReference) {
  const BackendUnderTest& under_test = BackendsUnderTest()[GetParam().backend_index];
  const OpCase& c = AllCases()[GetParam().case_index];
  std::vector<Tensor> inputs = c.make_inputs();

  std::unique_ptr<Backend> reference = backend::MakeReferenceBackend();
  std::vector<Tensor> expected = c.run(*reference, HostIo(), inputs);
  std::unique_ptr<Backend> backend = under_test.make();
  std::vector<Tensor> actual = c.run(*backend, under_test.io(*backend), inputs);
  ASSERT_EQ(expected.size(), c.checks.size());
  ASSERT_EQ(actual.size(), c.checks.size());

  bool any_reduction = false;
  for (Check check : c.checks) any_reduction |= check == Check::kReduction;
  std::vector<Tensor> naive = any_reduction ? c.naive_f32(inputs) : std::vector<Tensor>{};
  for (size_t i = 0; i < c.checks.size(); ++i) {
    EXPECT_TRUE(
        CheckOutput(c.checks[i], actual[i], expected[i], any_reduction ? &naive[i] : nullptr))
        << backend->name() << " " << backend::OpName(c.op) << " " << c.name << " output " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, ConformanceTest, testing::ValuesIn(SupportedParams()), ParamName);

TEST(ConformanceHarnessTest, EveryOpHasACaseGenerator) {
  ASSERT_EQ(CaseGenerators().size(), backend::kAllOps.size());
  for (size_t i = 0; i < backend::kAllOps.size(); ++i) {
    const OpId op = backend::kAllOps[i];
    EXPECT_EQ(CaseGenerators()[i].op, op) << "generator order for " << backend::OpName(op);
    std::vector<OpCase> cases = CaseGenerators()[i].make_cases();
    EXPECT_GE(cases.size(), 5u) << backend::OpName(op) << " needs awkward shapes";
    for (const OpCase& c : cases) EXPECT_EQ(c.op, op) << c.name;
  }
}

TEST(ConformanceHarnessTest, CaseNamesAreUniquePerOp) {
  std::set<std::string> names;
  for (const OpCase& c : AllCases()) {
    EXPECT_TRUE(names.insert(std::string(backend::OpName(c.op)) + "/" + c.name).second) << c.name;
  }
}

TEST(ConformanceHarnessTest, EveryOpRunsOnEveryBackend) {
  for (const BackendUnderTest& under_test : BackendsUnderTest()) {
    std::unique_ptr<Backend> backend = under_test.make();
    for (OpId op : backend::kAllOps) {
      bool any = false;
      for (const OpCase& c : AllCases()) any |= c.op == op && backend->Supports(op, c.weight_dtype);
      EXPECT_TRUE(any) << under_test.name << " runs no case of " << backend::OpName(op);
    }
  }
}

TEST(ConformanceHarnessTest, WeightOpsCoverEveryClaimedDtype) {
  for (const BackendUnderTest& under_test : BackendsUnderTest()) {
    std::unique_ptr<Backend> backend = under_test.make();
    for (OpId op : {OpId::kMatMul, OpId::kFusedMatMul, OpId::kSwiGluMlp, OpId::kEmbedding}) {
      for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
        if (!backend->Supports(op, dtype)) continue;
        bool any = false;
        for (const OpCase& c : AllCases()) any |= c.op == op && c.weight_dtype == dtype;
        EXPECT_TRUE(any) << backend::OpName(op) << " claims " << tensor::DTypeName(dtype);
      }
    }
  }
}

// ---- The comparisons must catch broken kernels ----

Tensor F32(const std::vector<float>& values) {
  Tensor t = Tensor::Empty(DType::kF32, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) t.data<float>()[i] = values[i];
  return t;
}

TEST(ConformanceHarnessTest, ElementwiseCatchesNaNAndOffByAFewUlps) {
  Tensor expected = F32({1.0f, 2.0f, -3.0f});
  EXPECT_TRUE(
      ExpectElementwise(F32({1.0f, 2.0f, -3.0f}), expected, ElementwiseTolerance(DType::kF32)));
  EXPECT_FALSE(
      ExpectElementwise(F32({1.0f, NAN, -3.0f}), expected, ElementwiseTolerance(DType::kF32)));
  EXPECT_FALSE(
      ExpectElementwise(F32({1.0f, 2.0f, -3.0001f}), expected, ElementwiseTolerance(DType::kF32)));
  EXPECT_FALSE(ExpectExact(F32({1.0f, std::nextafter(2.0f, 3.0f), -3.0f}), expected));
}

TEST(ConformanceHarnessTest, ReductionRuleComparesWithNaiveError) {
  Tensor expected = F32({10.0f, -20.0f, 30.0f});
  // The naive computation is 1e-4 off on one element: a kernel 1.5e-4 off passes, 3e-4 fails.
  Tensor naive = F32({10.0f, -20.0f + 1e-4f, 30.0f});
  EXPECT_TRUE(ExpectReduction(F32({10.0f, -20.0f, 30.0f + 1.5e-4f}), naive, expected));
  EXPECT_FALSE(ExpectReduction(F32({10.0f, -20.0f, 30.0f + 3e-4f}), naive, expected));
  EXPECT_FALSE(ExpectReduction(F32({10.0f, NAN, 30.0f}), naive, expected));
  // The floor lets an exact-but-for-rounding result through even when naive is exact.
  EXPECT_TRUE(
      ExpectReduction(F32({10.0f, -20.0f, std::nextafter(30.0f, 31.0f)}), expected, expected));
}

// A backend that forgets the last element of every MatMul output.
class ForgetfulBackend : public backend::ReferenceBackend {
 public:
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) override {
    Tensor full = Tensor::Empty(DType::kF32, y->shape());
    backend::ReferenceBackend::MatMul(x, w, bias, &full);
    for (int64_t i = 0; i + 1 < y->numel(); ++i) y->data<float>()[i] = full.data<float>()[i];
  }
};

TEST(ConformanceHarnessTest, PoisonedOutputsCatchUnwrittenElements) {
  const OpCase* matmul = nullptr;
  for (const OpCase& c : AllCases()) {
    if (c.op == OpId::kMatMul && c.name == "m5_n31_k129_f32") matmul = &c;
  }
  ASSERT_NE(matmul, nullptr);
  std::vector<Tensor> inputs = matmul->make_inputs();
  backend::ReferenceBackend reference;
  ForgetfulBackend forgetful;
  Tensor expected = matmul->run(reference, HostIo(), inputs)[0];
  Tensor actual = matmul->run(forgetful, HostIo(), inputs)[0];
  EXPECT_FALSE(ExpectReduction(actual, matmul->naive_f32(inputs)[0], expected));
}

}  // namespace
}  // namespace brisk::conformance
