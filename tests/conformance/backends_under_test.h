// The backends the conformance harness checks against the reference. A new backend (CUDA)
// adds one entry to BackendsUnderTest() with its factory and host/device copies.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {

struct BackendUnderTest {
  std::string name;  // appears in test names: [A-Za-z0-9_]
  std::function<std::unique_ptr<Backend>()> make;
  DeviceIo io;
};

const std::vector<BackendUnderTest>& BackendsUnderTest();

}  // namespace brisk::conformance
