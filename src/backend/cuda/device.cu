#include "backend/cuda/device.h"

#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace brisk::backend::cuda {
namespace {

absl::Status CudaError(const char* what, cudaError_t error) {
  return absl::InternalError(
      absl::StrCat(what, " failed: ", cudaGetErrorName(error), ": ", cudaGetErrorString(error)));
}

}  // namespace

absl::StatusOr<DeviceInfo> QueryDevice(int ordinal) {
  int num_devices = 0;
  const cudaError_t count_error = cudaGetDeviceCount(&num_devices);
  if (count_error == cudaErrorNoDevice || count_error == cudaErrorInsufficientDriver ||
      count_error == cudaErrorInitializationError ||
      (count_error == cudaSuccess && num_devices == 0)) {
    cudaGetLastError();  // reset the runtime's last-error state so later calls start clean
    return absl::NotFoundError(absl::StrCat("no CUDA device available: ",
                                            cudaGetErrorString(count_error)));
  }
  if (count_error != cudaSuccess) return CudaError("cudaGetDeviceCount", count_error);
  if (ordinal < 0 || ordinal >= num_devices) {
    return absl::OutOfRangeError(absl::StrCat("CUDA device ordinal ", ordinal,
                                              " out of range: ", num_devices, " device(s)"));
  }

  cudaDeviceProp props{};
  if (cudaError_t e = cudaGetDeviceProperties(&props, ordinal); e != cudaSuccess) {
    return CudaError("cudaGetDeviceProperties", e);
  }
  DeviceInfo info{
      .ordinal = ordinal,
      .name = props.name,
      .compute_capability_major = props.major,
      .compute_capability_minor = props.minor,
      .total_memory_bytes = static_cast<int64_t>(props.totalGlobalMem),
      .free_memory_bytes = 0,
      .num_sms = props.multiProcessorCount,
  };

  int previous = 0;
  if (cudaError_t e = cudaGetDevice(&previous); e != cudaSuccess) {
    return CudaError("cudaGetDevice", e);
  }
  if (cudaError_t e = cudaSetDevice(ordinal); e != cudaSuccess) {
    return CudaError("cudaSetDevice", e);
  }
  size_t free_bytes = 0;
  size_t total_bytes = 0;
  const cudaError_t mem_error = cudaMemGetInfo(&free_bytes, &total_bytes);
  cudaSetDevice(previous);  // restore the caller's current device whatever happened
  if (mem_error != cudaSuccess) return CudaError("cudaMemGetInfo", mem_error);
  info.free_memory_bytes = static_cast<int64_t>(free_bytes);
  return info;
}

std::string DeviceInfoToString(const DeviceInfo& info) {
  constexpr double kBytesPerGiB = 1024.0 * 1024.0 * 1024.0;
  return absl::StrFormat("%s (sm_%d%d, %d SMs, %.1f GiB)", info.name,
                         info.compute_capability_major, info.compute_capability_minor,
                         info.num_sms, static_cast<double>(info.total_memory_bytes) / kBytesPerGiB);
}

}  // namespace brisk::backend::cuda
