// Discovery of CUDA devices: what the engine logs at start and checks before choosing kernels
// (compute capability gates fp8 and other per-architecture paths).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace brisk::backend::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;                 // e.g. "NVIDIA H100 80GB HBM3"
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  int64_t total_memory_bytes = 0;
  int64_t free_memory_bytes = 0;    // at the time of the query
  int num_sms = 0;                  // streaming multiprocessors
};

// Describes device `ordinal`.
// Errors: NotFound when there is no CUDA device or no usable driver, OutOfRange when
// `ordinal` is not in [0, device count), Internal for any other CUDA runtime failure.
// Thread-safe. Creates the device's primary context as a side effect (the free-memory query
// needs one).
absl::StatusOr<DeviceInfo> QueryDevice(int ordinal);

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)": one line for start-up logs.
std::string DeviceInfoToString(const DeviceInfo& info);

}  // namespace brisk::backend::cuda
