#include "backend/cuda/stream_context.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "backend/cuda/cuda_check.h"
#include "base/check.h"

namespace brisk::backend::cuda {

ScopedDevice::ScopedDevice(int device_index) {
  if (cudaGetDevice(&previous_) != cudaSuccess) {
    previous_ = -1;
  } else if (previous_ != device_index) {
    cudaSetDevice(device_index);
  }
  device_index_ = device_index;
}

ScopedDevice::~ScopedDevice() {
  if (previous_ >= 0 && previous_ != device_index_) cudaSetDevice(previous_);
}

StreamContext::StreamContext(int index) : device_index(index) {
  ScopedDevice guard(device_index);
  BRISK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
}

StreamContext::~StreamContext() {
  ScopedDevice guard(device_index);
  // At process exit the runtime may be unloading; nothing is left to wait for then.
  if (cudaStreamSynchronize(stream) == cudaSuccess) cudaStreamDestroy(stream);
}

void CheckQueuedWork(cudaError_t error, const char* where, const char* statement) {
  if (error == cudaSuccess) return;
  std::fprintf(stderr,
               "cuda backend: %s: an op queued earlier failed on the device (see any "
               "BRISK_DEVICE_CHECK message on stdout; rerun with CUDA_LAUNCH_BLOCKING=1 to find "
               "the op)\n",
               where);
  CudaCheckFailed(statement, __FILE__, __LINE__, error);
}

void SynchronizeOrDie(cudaStream_t stream, const char* where) {
  CheckQueuedWork(cudaStreamSynchronize(stream), where, "cudaStreamSynchronize");
}

namespace {

class PinnedReadback final : public HostReadback {
 public:
  PinnedReadback(std::shared_ptr<StreamContext> context, int64_t capacity_bytes)
      : context_(std::move(context)), capacity_bytes_(capacity_bytes) {
    ScopedDevice guard(context_->device_index);
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(capacity_bytes, 1));
    BRISK_CUDA_CHECK(cudaHostAlloc(&buffer_, bytes, cudaHostAllocDefault));
    BRISK_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  }

  ~PinnedReadback() override {
    ScopedDevice guard(context_->device_index);
    // The copy must not land in freed memory; errors are moot at teardown.
    if (pending_) cudaEventSynchronize(done_);
    cudaEventDestroy(done_);
    cudaFreeHost(buffer_);
  }

  void Queue(const Tensor& src) override {
    BRISK_CHECK(!pending_) << "HostReadback::Queue with a copy pending";
    BRISK_CHECK(src.device() == tensor::Device::kCuda) << "HostReadback::Queue of a host tensor";
    BRISK_CHECK_LE(src.size_bytes(), capacity_bytes_) << "HostReadback capacity";
    ScopedDevice guard(context_->device_index);
    if (src.size_bytes() > 0) {
      CheckQueuedWork(cudaMemcpyAsync(buffer_, src.raw(), static_cast<size_t>(src.size_bytes()),
                                      cudaMemcpyDeviceToHost, context_->stream),
                      "HostReadback::Queue", "cudaMemcpyAsync(device to host)");
    }
    BRISK_CUDA_CHECK(cudaEventRecord(done_, context_->stream));
    dtype_ = src.dtype();
    shape_ = src.shape();
    pending_ = true;
  }

  Tensor Wait() override {
    BRISK_CHECK(pending_) << "HostReadback::Wait without a queued copy";
    ScopedDevice guard(context_->device_index);
    CheckQueuedWork(cudaEventSynchronize(done_), "HostReadback::Wait", "cudaEventSynchronize");
    pending_ = false;
    return Tensor::View(dtype_, shape_, buffer_, nullptr);
  }

 private:
  const std::shared_ptr<StreamContext> context_;
  const int64_t capacity_bytes_;
  void* buffer_ = nullptr;
  cudaEvent_t done_ = nullptr;
  tensor::DType dtype_ = tensor::DType::kI32;
  tensor::Shape shape_;
  bool pending_ = false;
};

// A CUDA graph instantiated from one recording, replayed on the backend's stream.
class StreamGraph final : public OpGraph {
 public:
  StreamGraph(std::shared_ptr<StreamContext> context, cudaGraph_t graph, cudaGraphExec_t exec)
      : context_(std::move(context)), graph_(graph), exec_(exec) {}
  ~StreamGraph() override {
    ScopedDevice guard(context_->device_index);
    // A replay still queued reads the executable: wait for it (errors are reported elsewhere).
    cudaStreamSynchronize(context_->stream);
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  StreamGraph(const StreamGraph&) = delete;
  StreamGraph& operator=(const StreamGraph&) = delete;

  void Replay() override {
    ScopedDevice guard(context_->device_index);
    BRISK_CUDA_CHECK(cudaGraphLaunch(exec_, context_->stream));
  }

 private:
  const std::shared_ptr<StreamContext> context_;
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
};

}  // namespace

std::unique_ptr<OpGraph> InstantiateGraph(std::shared_ptr<StreamContext> context,
                                          cudaGraph_t graph) {
  ScopedDevice guard(context->device_index);
  cudaGraphExec_t exec = nullptr;
  BRISK_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  return std::make_unique<StreamGraph>(std::move(context), graph, exec);
}

std::unique_ptr<HostReadback> NewPinnedReadback(std::shared_ptr<StreamContext> context,
                                                int64_t capacity_bytes) {
  return std::make_unique<PinnedReadback>(std::move(context), capacity_bytes);
}

}  // namespace brisk::backend::cuda
