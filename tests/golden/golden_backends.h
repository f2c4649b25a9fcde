// The backends the golden tests run on, one test variant each: the reference, the fast CPU
// backend and, in builds with CUDA, the CUDA backend (its variants skip without a device).
#pragma once

#include <memory>

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

}  // namespace brisk::golden
