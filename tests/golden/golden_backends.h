// The backends the golden tests run on, one test variant each: the reference, the fast CPU
// backend and, in builds with CUDA, the CUDA backend (its variants skip without a device).
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <tuple>

#include "gtest/gtest.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/reference/reference_backend.h"
#ifdef BRISK_HAS_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace brisk::golden {

enum class BackendKind { kReference, kCpu, kCuda };

// Null when the backend cannot run here (no CUDA device).
inline std::unique_ptr<backend::Backend> MakeBackend(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return backend::MakeReferenceBackend();
    case BackendKind::kCpu: return backend::MakeCpuBackend();
    case BackendKind::kCuda: {
#ifdef BRISK_HAS_CUDA
      auto cuda = backend::MakeCudaBackend();
      if (cuda.ok()) return *std::move(cuda);
#endif
      return nullptr;
    }
  }
  return nullptr;
}

// The test-name suffix of a backend: "_reference", "_cpu", "_cuda".
inline const char* BackendSuffix(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return "_reference";
    case BackendKind::kCpu: return "_cpu";
    case BackendKind::kCuda: return "_cuda";
  }
  return "";
}

// Every backend kind this build can run, as a gtest parameter generator.
inline auto AllBackendKinds() {
  return ::testing::Values(BackendKind::kReference, BackendKind::kCpu
#ifdef BRISK_HAS_CUDA
                           , BackendKind::kCuda
#endif
  );
}

// The name of a (fixture, backend) test variant: "llama_gqa_f32_cpu".
struct FixtureBackendName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    std::string name = std::get<0>(info.param);
    std::replace(name.begin(), name.end(), '-', '_');
    return name + BackendSuffix(std::get<1>(info.param));
  }
};

}  // namespace brisk::golden
