// The device and stream a CudaBackend queues its work on, the helpers that wait for that work,
// a HostReadback over page-locked memory and the replay of captured graphs. Host-side header
// (no kernel syntax).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>

#include "backend/backend.h"

namespace brisk::backend::cuda {

// Makes `device_index` the calling thread's current device for the scope, then restores the
// previous one. Errors are ignored: deleters run this during process teardown too, when the
// runtime may already be gone (the CUDA call that follows reports any real problem).
class ScopedDevice {
 public:
  explicit ScopedDevice(int device_index);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = -1;
  int device_index_ = 0;
};

// The device and stream of one backend, shared with the deleters of its tensors.
struct StreamContext {
  explicit StreamContext(int index);
  ~StreamContext();
  StreamContext(const StreamContext&) = delete;
  StreamContext& operator=(const StreamContext&) = delete;

  const int device_index;
  cudaStream_t stream = nullptr;
};

// Fails with a hint when a call that waits for (or follows) queued work reports an error: that
// is almost always an earlier kernel that trapped (BRISK_DEVICE_CHECK) or faulted.
void CheckQueuedWork(cudaError_t error, const char* where, const char* statement);

// Waits for the stream, failing through CheckQueuedWork.
void SynchronizeOrDie(cudaStream_t stream, const char* where);

// A HostReadback on `context`'s stream: the copy lands in page-locked memory of
// `capacity_bytes` and an event marks its end.
std::unique_ptr<HostReadback> NewPinnedReadback(std::shared_ptr<StreamContext> context,
                                                int64_t capacity_bytes);

// An OpGraph that replays `graph` (a capture of `context`'s stream, now owned by the result) on
// that stream; destroying it waits for replays still queued.
std::unique_ptr<OpGraph> InstantiateGraph(std::shared_ptr<StreamContext> context,
                                          cudaGraph_t graph);

}  // namespace brisk::backend::cuda
