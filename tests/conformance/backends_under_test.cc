// The list of backends under conformance test.
#include "tests/conformance/backends_under_test.h"

#include "backend/cpu/cpu_backend.h"

namespace brisk::conformance {

const std::vector<BackendUnderTest>& BackendsUnderTest() {
  static const auto* backends = new std::vector<BackendUnderTest>{
      // One thread per core: the configuration that serves.
      {"cpu", [] { return backend::MakeCpuBackend(); }, HostIo()},
      // More threads than rows in some splits and an odd count: uneven partitions.
      {"cpu_3threads", [] { return backend::MakeCpuBackend({.num_threads = 3}); }, HostIo()},
  };
  return *backends;
}

}  // namespace brisk::conformance
