// The backends the conformance harness checks against the reference. Each entry has its
// factory and host/device copies; device backends are listed only when their device is present
// at run time, so CPU-only machines run the CPU entries alone.
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
  // The copies between the host and `backend`'s device, for one backend made by `make`.
  std::function<DeviceIo(Backend& backend)> io;
};

// DeviceIo through the backend's own ToDevice / ToHost (device backends: ToDevice copies).
// `backend` must outlive the returned functions.
DeviceIo BackendIo(Backend& backend);

const std::vector<BackendUnderTest>& BackendsUnderTest();

}  // namespace brisk::conformance
