// CudaBackend: the Backend interface over the kernels of this folder and cuBLASLt.
//
// Memory: every device tensor comes from cudaMallocAsync on the backend's stream and its
// deleter calls cudaFreeAsync on the same stream, so a buffer is released only after every op
// queued before its last copy died. The stream lives in a StreamContext shared by the backend
// and those deleters: tensors may outlive the backend.
// Index tensors (ids, positions, slots, attention metadata) stay on the device; the host checks
// placement, shapes and dtypes (device_op_checks.h) and the kernels check index contents.
#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/cuda/activation.cuh"
#include "backend/cuda/attention.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/decode_attention.cuh"
#include "backend/cuda/device.h"
#include "backend/cuda/device_op_checks.h"
#include "backend/cuda/embedding.cuh"
#include "backend/cuda/encoder_attention.cuh"
#include "backend/cuda/gemm.h"
#include "backend/cuda/gemm_kernels.cuh"
#include "backend/cuda/gemv.cuh"
#include "backend/cuda/kv_cache.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/prefill_attention_tc.cuh"
#include "backend/cuda/qkv_rope.cuh"
#include "backend/cuda/rope.cuh"
#include "backend/cuda/sampling.cuh"
#include "backend/cuda/stream_context.h"
#include "base/check.h"
#include "base/logging.h"
#include "base/status.h"

namespace brisk::backend {
namespace {

using tensor::Device;
using tensor::Shape;

// cuBLASLt workspace: 32 MiB, what NVIDIA recommends for Hopper (cuBLAS docs, "cuBLAS
// workspace"); split-K and stream-K kernels need it for skinny shapes.
constexpr size_t kGemmWorkspaceBytes = size_t{32} << 20;

cuda::GemvPrologue GemvPrologueOf(MatMulPrologue prologue) {
  switch (prologue) {
    case MatMulPrologue::kNone: return cuda::GemvPrologue::kNone;
    case MatMulPrologue::kRmsNorm: return cuda::GemvPrologue::kRmsNorm;
    case MatMulPrologue::kSiluMul: return cuda::GemvPrologue::kSiluMul;
  }
  return cuda::GemvPrologue::kNone;
}

using cuda::CheckQueuedWork;
using cuda::ScopedDevice;
using cuda::StreamContext;
using cuda::SynchronizeOrDie;

class CudaBackend final : public Backend {
 public:
  CudaBackend(const CudaBackendOptions& options, std::shared_ptr<StreamContext> context)
      : options_(options), context_(std::move(context)) {}
  ~CudaBackend() override {
    ScopedDevice guard(context_->device_index);
    // Queued GEMMs use the cuBLASLt handle and workspace destroyed below.
    SynchronizeOrDie(stream(), "~CudaBackend");
  }

  // Allocates the cuBLASLt workspace and handle.
  absl::Status Init() {
    ScopedDevice guard(context_->device_index);
    gemm_workspace_ = AllocateUninitialized(DType::kI32, {kGemmWorkspaceBytes / 4});
    BRISK_RETURN_IF_ERROR(gemv_.Init(context_->device_index));
    if (cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount,
                               context_->device_index) != cudaSuccess ||
        num_sms_ <= 0) {
      return absl::InternalError("cuda backend: cannot read the multiprocessor count");
    }
    if (cudaDeviceGetAttribute(&max_shared_bytes_, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                               context_->device_index) != cudaSuccess) {
      return absl::InternalError("cuda backend: cannot read the shared memory per block");
    }
    return gemm_.Init(gemm_workspace_.raw(), kGemmWorkspaceBytes);
  }

  std::string_view name() const override {
    return options_.activations == CudaBackendOptions::Activations::kBf16 ? "cuda_bf16act"
                                                                           : "cuda";
  }
  tensor::Device device() const override { return Device::kCuda; }

  bool Supports(OpId op, DType weight_dtype) const override {
    return SupportsFloatWeightOps(op, weight_dtype);
  }

  Tensor Allocate(DType dtype, Shape shape) override {
    ScopedDevice guard(context_->device_index);
    Tensor t = AllocateUninitialized(dtype, std::move(shape));
    if (t.size_bytes() > 0) {
      BRISK_CUDA_CHECK(
          cudaMemsetAsync(t.raw(), 0, static_cast<size_t>(t.size_bytes()), stream()));
    }
    return t;
  }

  Tensor AllocateScratch(DType dtype, Shape shape) override {
    ScopedDevice guard(context_->device_index);
    return AllocateUninitialized(dtype, std::move(shape));
  }

  void CopyToDevice(const Tensor& host, Tensor* dst) override {
    BRISK_CHECK(host.device() == Device::kCpu && dst->device() == Device::kCuda)
        << "CopyToDevice: host " << ShapeToString(host.shape()) << " into device "
        << ShapeToString(dst->shape());
    BRISK_CHECK(host.dtype() == dst->dtype() && host.numel() == dst->numel())
        << "CopyToDevice " << ShapeToString(host.shape()) << " into "
        << ShapeToString(dst->shape());
    if (host.size_bytes() == 0) return;
    ScopedDevice guard(context_->device_index);
    // From pageable memory the runtime stages the bytes before returning, so `host` may change
    // at once. A pinned source would be read later: copy it through a pageable one instead of
    // tracking its lifetime (these copies are small index tensors).
    cudaPointerAttributes attributes{};
    const bool pinned = cudaPointerGetAttributes(&attributes, host.raw()) == cudaSuccess &&
                        attributes.type == cudaMemoryTypeHost;
    if (pinned) {
      Tensor staged = ToDevice(host);
      BRISK_CUDA_CHECK(cudaMemcpyAsync(dst->raw(), staged.raw(),
                                       static_cast<size_t>(host.size_bytes()),
                                       cudaMemcpyDeviceToDevice, stream()));
      return;
    }
    BRISK_CUDA_CHECK(cudaMemcpyAsync(dst->raw(), host.raw(), static_cast<size_t>(host.size_bytes()),
                                     cudaMemcpyHostToDevice, stream()));
  }

  Tensor ConcatRowsToDevice(std::span<const Tensor> host_parts) override {
    const Shape shape = ConcatRowsShape(host_parts);  // checks host_parts is not empty
    ScopedDevice guard(context_->device_index);
    Tensor all = AllocateUninitialized(host_parts[0].dtype(), shape);
    int64_t row = 0;
    for (const Tensor& p : host_parts) {
      Tensor slice = all.Slice(row, row + p.dim(0));
      CopyToDevice(p, &slice);
      row += p.dim(0);
    }
    return all;
  }

  std::unique_ptr<OpGraph> Record(const std::function<void()>& record) override;
  bool CanRecord() const override { return true; }

  Tensor ToDevice(const Tensor& host) override {
    BRISK_CHECK(host.device() == Device::kCpu)
        << "ToDevice takes a host tensor, got a device tensor " << ShapeToString(host.shape());
    ScopedDevice guard(context_->device_index);
    Tensor t = AllocateUninitialized(host.dtype(), host.shape());
    if (t.size_bytes() == 0) return t;
    BRISK_CUDA_CHECK(cudaMemcpyAsync(t.raw(), host.raw(), static_cast<size_t>(t.size_bytes()),
                                     cudaMemcpyHostToDevice, stream()));
    // A pinned source is read when the copy runs, not now: keep it alive until then. The host
    // function only drops a reference to host memory (it must not call CUDA).
    auto* keep_alive = new Tensor(host);
    BRISK_CUDA_CHECK(cudaLaunchHostFunc(
        stream(), [](void* p) { delete static_cast<Tensor*>(p); }, keep_alive));
    return t;
  }

  Tensor ToHost(const Tensor& t) override {
    if (t.device() == Device::kCpu) return t;
    ScopedDevice guard(context_->device_index);
    Tensor host = Tensor::Empty(t.dtype(), t.shape());
    if (t.size_bytes() > 0) {
      CheckQueuedWork(cudaMemcpyAsync(host.raw(), t.raw(), static_cast<size_t>(t.size_bytes()),
                                      cudaMemcpyDeviceToHost, stream()),
                      "ToHost", "cudaMemcpyAsync(device to host)");
    }
    SynchronizeOrDie(stream(), "ToHost");
    return host;
  }

  void Synchronize() override {
    ScopedDevice guard(context_->device_index);
    SynchronizeOrDie(stream(), "Synchronize");
  }

  std::unique_ptr<HostReadback> NewHostReadback(int64_t capacity_bytes) override {
    return cuda::NewPinnedReadback(context_, capacity_bytes);
  }

  void Embedding(const Tensor& table, const Tensor& ids, Tensor* out) override;
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) override;
  void FusedMatMul(const Tensor& x, const Tensor& w, const Tensor* bias,
                   const FusedMatMulParams& params, Tensor* y) override;
  void SwiGluMlp(Tensor* residual, const Tensor& norm_weight, float eps, const Tensor& gate_up,
                 const Tensor* gate_up_bias, const Tensor& down, const Tensor* down_bias) override;
  void RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) override;
  void AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight, float eps,
                  Tensor* out) override;
  void Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) override;
  void SiluMul(const Tensor& gate_up, Tensor* out) override;
  void Add(const Tensor& a, const Tensor& b, Tensor* out) override;
  void WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping, Tensor* k_cache,
                    Tensor* v_cache) override;
  void PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                      const AttentionMetadata& meta, const AttentionParams& params,
                      Tensor* out) override;
  void QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                      const Tensor& slot_mapping, const Tensor* q_norm, const Tensor* k_norm,
                      float eps, Tensor* q_out, Tensor* k_cache, Tensor* v_cache) override;
  void QkvRopeAttention(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                        const Tensor& slot_mapping, const Tensor* q_norm, const Tensor* k_norm,
                        float eps, Tensor* k_cache, Tensor* v_cache, const AttentionMetadata& meta,
                        const AttentionParams& params, Tensor* out) override;
  void LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                 Tensor* out) override;
  void Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) override;
  void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& seq_starts, int max_seq_len, float scale,
                        Tensor* out) override;
  void SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) override;

 private:
  // The identity of a weight in widened_weights_.
  using WeightKey = std::tuple<const void*, DType, Shape>;
  struct WidenedWeight {
    // Holding the source keeps its storage alive, so its address cannot be reused by another
    // allocation while the entry exists: the pointer key stays unambiguous.
    Tensor source;
    Tensor f32;  // [n, k] f32 copy of source
  };

  cudaStream_t stream() const { return context_->stream; }

  // A device tensor with unspecified contents, freed on the stream.
  Tensor AllocateUninitialized(DType dtype, Shape shape) {
    for (int64_t d : shape) BRISK_CHECK_GE(d, 0) << "negative dimension";
    const int64_t bytes = tensor::NumElements(shape) * tensor::DTypeSize(dtype);
    if (bytes == 0) return Tensor::View(dtype, std::move(shape), nullptr, nullptr, Device::kCuda);
    void* data = nullptr;
    const cudaError_t error = cudaMallocAsync(&data, static_cast<size_t>(bytes), stream());
    BRISK_CHECK(error == cudaSuccess)
        << "cuda backend: cannot allocate " << bytes << " bytes of device memory for "
        << tensor::DTypeName(dtype) << " " << ShapeToString(shape) << ": "
        << cudaGetErrorString(error);
    std::shared_ptr<StreamContext> context = context_;
    std::shared_ptr<const void> owner(data, [context](const void* p) {
      ScopedDevice guard(context->device_index);
      const cudaError_t free_error = cudaFreeAsync(const_cast<void*>(p), context->stream);
      if (free_error != cudaSuccess && free_error != cudaErrorCudartUnloading) {
        cuda::CudaCheckFailed("cudaFreeAsync", __FILE__, __LINE__, free_error);
      }
    });
    return Tensor::View(dtype, std::move(shape), data, std::move(owner), Device::kCuda);
  }

  // A device buffer, zero-filled when made, that grows to the largest need and never shrinks.
  struct GrowingWorkspace {
    Tensor buffer;  // [bytes / 4] i32, raw bytes
    size_t bytes = 0;
    // Buffers outgrown since: recorded graphs may still use them (a few MiB at most).
    std::vector<Tensor> retired;
  };
  // workspace->buffer, grown first to hold `bytes` if it is smaller. A graph must not be
  // recorded with a call that grows it (our bug: the warm-up run of the same shapes sizes it).
  void* Reserve(GrowingWorkspace* workspace, size_t bytes, const char* what);

  // MatMul and FusedMatMul after their checks: y (+)= prologue(x) · wᵀ (+ bias).
  void RunProduct(const Tensor& x, const Tensor& w, const Tensor* bias,
                  const FusedMatMulParams& params, Tensor* y, const MatMulDims& d);
  // The product through cuBLASLt, the prologue first as its own kernel (writing the GEMM's
  // bf16 input directly in the bf16 mode), accumulating into y with beta = 1. REQUIRES: k > 0.
  void RunGemm(const Tensor& x, const Tensor& w, const FusedMatMulParams& params, Tensor* y,
               const MatMulDims& d);
  // Writes prologue(x) ([m, k]) to `out`: bf16 or f32.
  void RunPrologue(const Tensor& x, const FusedMatMulParams& params, const MatMulDims& d,
                   void* out, bool bf16);
  // y (+)= prologue(x) · wᵀ (+ bias) through the small-m GEMV (FusedMatMul's contract).
  // REQUIRES: UsesGemv(d, w.dtype()).
  void RunGemv(const Tensor& x, const Tensor& w, const Tensor* bias,
               const FusedMatMulParams& params, Tensor* y, const MatMulDims& d);
  // With f32 activations the alternative is cuBLASLt over f32 copies of the weights (twice the
  // bytes), so the GEMV wins at every m <= 8. Against cuBLASLt's bf16 x bf16 GEMM it wins at
  // m <= 2 and loses from m = 4 on (bench/kernels/cuda_gemv_bench on an H100, in
  // bench/results/2026-11-25-gpu-gemv.md).
  bool UsesGemv(const MatMulDims& d, DType w_dtype) const {
    const int64_t max_rows =
        options_.activations == CudaBackendOptions::Activations::kBf16 && w_dtype == DType::kBF16
            ? 2
            : cuda::kMaxGemvRows;
    return options_.small_m_gemv && d.m <= max_rows && d.k > 0 &&
           (w_dtype == DType::kBF16 || w_dtype == DType::kF16);
  }

  // The f32 copy of a bf16/f16 weight, made on first use.
  const Tensor& Widened(const Tensor& w) {
    WeightKey key(w.raw(), w.dtype(), w.shape());
    auto it = widened_weights_.find(key);
    if (it == widened_weights_.end()) {
      BRISK_CHECK(!recording_) << "a weight must be widened before recording a graph: run the "
                                  "same ops once before recording";
      Tensor f32 = AllocateUninitialized(DType::kF32, w.shape());
      cuda::LaunchWidenToF32(w.raw(), w.dtype(), f32.data<float>(), w.numel(), stream());
      it = widened_weights_.emplace(std::move(key), WidenedWeight{.source = w, .f32 = f32}).first;
    }
    return it->second.f32;
  }

  static std::string ShapeToString(const Shape& shape) { return tensor::ShapeToString(shape); }

  // Constant after construction.
  const CudaBackendOptions options_;
  const std::shared_ptr<StreamContext> context_;
  Tensor gemm_workspace_;  // [kGemmWorkspaceBytes / 4] i32, raw bytes for cuBLASLt
  cuda::LtGemm gemm_;
  cuda::Gemv gemv_;
  // Split partial results and arrival counters of the GEMV, the decode attention and the bf16
  // prefill attention.
  GrowingWorkspace gemv_workspace_;
  GrowingWorkspace attention_workspace_;
  GrowingWorkspace prefill_attention_workspace_;
  // Grows with each distinct bf16/f16 weight multiplied in f32; never shrinks.
  std::map<WeightKey, WidenedWeight> widened_weights_;
  // True inside Record.
  bool recording_ = false;
  int num_sms_ = 0;           // constant after Init
  int max_shared_bytes_ = 0;  // opt-in shared memory per block; constant after Init
};

std::unique_ptr<OpGraph> CudaBackend::Record(const std::function<void()>& record) {
  ScopedDevice guard(context_->device_index);
  BRISK_CHECK(!recording_) << "Record inside Record";
  // Thread-local capture: other threads' CUDA calls (another backend's allocations) are not
  // part of this recording and must not invalidate it.
  BRISK_CUDA_CHECK(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal));
  recording_ = true;
  record();
  recording_ = false;
  cudaGraph_t graph = nullptr;
  BRISK_CUDA_CHECK(cudaStreamEndCapture(stream(), &graph));
  return cuda::InstantiateGraph(context_, graph);
}

void CudaBackend::Embedding(const Tensor& table, const Tensor& ids, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  RowDims d = cuda::CheckEmbeddingOnDevice(table, ids, *out);
  cuda::LaunchEmbedding({.table = table.raw(),
                         .table_dtype = table.dtype(),
                         .ids = ids.data<int32_t>(),
                         .out = out->data<float>(),
                         .vocab = table.dim(0),
                         .hidden = d.dim,
                         .num_tokens = d.rows},
                        stream());
}

void CudaBackend::MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) {
  ScopedDevice guard(context_->device_index);
  const MatMulDims d = cuda::CheckMatMulOnDevice(x, w, bias, *y);
  RunProduct(x, w, bias, FusedMatMulParams{}, y, d);
}

void CudaBackend::FusedMatMul(const Tensor& x, const Tensor& w, const Tensor* bias,
                              const FusedMatMulParams& params, Tensor* y) {
  ScopedDevice guard(context_->device_index);
  const MatMulDims d = cuda::CheckFusedMatMulOnDevice(x, w, bias, params, *y);
  RunProduct(x, w, bias, params, y, d);
}

// In the bf16 mode, prefill-sized batches keep gate_up in bf16: the norm writes the first
// GEMM's bf16 input, that GEMM writes bf16, SiLU reads and writes bf16, and the second GEMM
// accumulates into the residual. gate_up then moves in half the bytes twice (out of the first
// GEMM, into SiLU), the largest activation of the layer. Otherwise (f32 mode, GEMV-sized
// batches, other weight dtypes, a gate_up bias) the default's two FusedMatMuls.
void CudaBackend::SwiGluMlp(Tensor* residual, const Tensor& norm_weight, float eps,
                            const Tensor& gate_up, const Tensor* gate_up_bias, const Tensor& down,
                            const Tensor* down_bias) {
  ScopedDevice guard(context_->device_index);
  const SwiGluMlpDims d = cuda::CheckSwiGluMlpOnDevice(*residual, norm_weight, gate_up,
                                                       gate_up_bias, down, down_bias);
  const MatMulDims first{.m = d.rows, .n = 2 * d.inter, .k = d.hidden};
  const MatMulDims second{.m = d.rows, .n = d.hidden, .k = d.inter};
  const bool bf16_gemms = options_.activations == CudaBackendOptions::Activations::kBf16 &&
                          gate_up.dtype() == DType::kBF16 && down.dtype() == DType::kBF16 &&
                          gate_up_bias == nullptr && d.rows > 0 && d.inter > 0 && d.hidden > 0 &&
                          !UsesGemv(first, gate_up.dtype()) && !UsesGemv(second, down.dtype());
  if (!bf16_gemms || d.hidden > int64_t{0x7fffffff}) {
    Backend::SwiGluMlp(residual, norm_weight, eps, gate_up, gate_up_bias, down, down_bias);
    return;
  }
  // Freed on the stream after the kernels that read them.
  Tensor normed = AllocateUninitialized(DType::kBF16, {d.rows, d.hidden});
  Tensor gate_up_out = AllocateUninitialized(DType::kBF16, {d.rows, 2 * d.inter});
  Tensor act = AllocateUninitialized(DType::kBF16, {d.rows, d.inter});
  cuda::LaunchRmsNorm({.x = residual->data<float>(),
                       .weight = norm_weight.data<float>(),
                       .out_bf16 = normed.raw(),
                       .num_rows = d.rows,
                       .hidden = static_cast<int>(d.hidden),
                       .eps = eps},
                      stream());
  // Without a bf16 algorithm for a shape (odd sizes can misalign rows) the residual is still
  // untouched: the default then computes the block from the start.
  if (!gemm_.Run({.x = normed.raw(), .w = gate_up.raw(), .y = gate_up_out.raw(),
                  .input_dtype = DType::kBF16, .output_dtype = DType::kBF16, .m = first.m,
                  .n = first.n, .k = first.k},
                 stream())) {
    Backend::SwiGluMlp(residual, norm_weight, eps, gate_up, gate_up_bias, down, down_bias);
    return;
  }
  cuda::LaunchSiluMulBf16(gate_up_out.raw(), act.raw(), d.rows, d.inter, stream());
  if (!gemm_.Run({.x = act.raw(), .w = down.raw(), .y = residual->data<float>(),
                  .input_dtype = DType::kBF16, .accumulate = true, .m = second.m,
                  .n = second.n, .k = second.k},
                 stream())) {
    Backend::SwiGluMlp(residual, norm_weight, eps, gate_up, gate_up_bias, down, down_bias);
    return;
  }
  if (down_bias != nullptr) {
    cuda::LaunchAddBias(residual->data<float>(), down_bias->data<float>(), d.rows, d.hidden,
                        stream());
  }
}

void CudaBackend::RunProduct(const Tensor& x, const Tensor& w, const Tensor* bias,
                             const FusedMatMulParams& params, Tensor* y, const MatMulDims& d) {
  if (d.m == 0 || d.n == 0) return;
  if (UsesGemv(d, w.dtype())) {
    RunGemv(x, w, bias, params, y, d);
    return;
  }
  if (d.k > 0) {
    RunGemm(x, w, params, y, d);
  } else if (!params.accumulate) {  // empty sums: the product is 0 (plus the bias)
    BRISK_CUDA_CHECK(
        cudaMemsetAsync(y->raw(), 0, static_cast<size_t>(y->size_bytes()), stream()));
  }
  if (bias != nullptr) {
    cuda::LaunchAddBias(y->data<float>(), bias->data<float>(), d.m, d.n, stream());
  }
}

void CudaBackend::RunGemm(const Tensor& x, const Tensor& w, const FusedMatMulParams& params,
                          Tensor* y, const MatMulDims& d) {
  if (options_.activations == CudaBackendOptions::Activations::kBf16 &&
      w.dtype() == DType::kBF16) {
    // The prologue writes the GEMM's bf16 input itself (no separate rounding pass); freed on the
    // stream after the GEMM that reads it.
    Tensor input = AllocateUninitialized(DType::kBF16, {d.m, d.k});
    RunPrologue(x, params, d, input.raw(), /*bf16=*/true);
    if (gemm_.Run({.x = input.raw(), .w = w.raw(), .y = y->data<float>(),
                   .input_dtype = DType::kBF16, .accumulate = params.accumulate, .m = d.m,
                   .n = d.n, .k = d.k},
                  stream())) {
      return;
    }
    // Without a bf16 algorithm for this shape (odd k can misalign rows), fall through to f32.
  }
  Tensor input = x;
  if (params.prologue != MatMulPrologue::kNone) {
    input = AllocateUninitialized(DType::kF32, {d.m, d.k});
    RunPrologue(x, params, d, input.raw(), /*bf16=*/false);
  }
  const Tensor& w_f32 = w.dtype() == DType::kF32 ? w : Widened(w);
  const bool ran = gemm_.Run({.x = input.raw(), .w = w_f32.raw(), .y = y->data<float>(),
                              .input_dtype = DType::kF32, .accumulate = params.accumulate,
                              .m = d.m, .n = d.n, .k = d.k},
                             stream());
  BRISK_CHECK(ran) << "cuBLASLt has no f32 GEMM algorithm for m " << d.m << " n " << d.n << " k "
                   << d.k << " (x " << input.raw() << ", w " << w_f32.raw() << ", y " << y->raw()
                   << ")";
}

void CudaBackend::RunPrologue(const Tensor& x, const FusedMatMulParams& params,
                              const MatMulDims& d, void* out, bool bf16) {
  switch (params.prologue) {
    case MatMulPrologue::kNone:
      BRISK_CHECK(bf16) << "an f32 GEMM reads x itself";
      cuda::LaunchRoundToBf16(x.data<float>(), out, d.m * d.k, stream());
      return;
    case MatMulPrologue::kRmsNorm:
      BRISK_CHECK_LE(d.k, int64_t{0x7fffffff}) << "fused_matmul norm dim";
      cuda::LaunchRmsNorm({.x = x.data<float>(),
                           .weight = params.norm_weight->data<float>(),
                           .out = bf16 ? nullptr : static_cast<float*>(out),
                           .out_bf16 = bf16 ? out : nullptr,
                           .num_rows = d.m,
                           .hidden = static_cast<int>(d.k),
                           .eps = params.eps},
                          stream());
      return;
    case MatMulPrologue::kSiluMul:
      if (bf16) {
        cuda::LaunchSiluMulToBf16(x.data<float>(), out, d.m, d.k, stream());
      } else {
        cuda::LaunchSiluMul(x.data<float>(), static_cast<float*>(out), d.m, d.k, stream());
      }
      return;
  }
}

void CudaBackend::RunGemv(const Tensor& x, const Tensor& w, const Tensor* bias,
                          const FusedMatMulParams& params, Tensor* y, const MatMulDims& d) {
  // bf16 activations apply to bf16 weights only, as on the cuBLASLt path.
  const bool round_x = options_.activations == CudaBackendOptions::Activations::kBf16 &&
                       w.dtype() == DType::kBF16;
  const cuda::GemvArgs args{
      .x = x.data<float>(),
      .w = w.raw(),
      .bias = bias != nullptr ? bias->data<float>() : nullptr,
      .y = y->data<float>(),
      .w_dtype = w.dtype(),
      .activations = round_x ? cuda::GemvActivations::kBf16 : cuda::GemvActivations::kF32,
      .prologue = GemvPrologueOf(params.prologue),
      .norm_weight = params.norm_weight != nullptr ? params.norm_weight->data<float>() : nullptr,
      .eps = params.eps,
      .accumulate = params.accumulate,
      .m = d.m,
      .n = d.n,
      .k = d.k,
  };
  void* workspace = Reserve(&gemv_workspace_, gemv_.Plan(args).workspace_bytes, "GEMV");
  gemv_.Run(args, workspace, gemv_workspace_.bytes, stream());
}

void* CudaBackend::Reserve(GrowingWorkspace* workspace, size_t bytes, const char* what) {
  if (bytes > workspace->bytes) {
    BRISK_CHECK(!recording_) << "the " << what << " workspace must not grow while recording a "
                             << "graph: run the same shapes once before recording";
    // Whole MiB, so that a few growing shapes do not reallocate at every step. Allocate
    // zero-fills (the kernels' counters must start at zero). The old buffer is kept, not freed:
    // graphs recorded before this growth address it, and replay it (each kernel leaves its
    // counters at zero, so the buffers never need resetting).
    constexpr size_t kMiB = size_t{1} << 20;
    workspace->bytes = (bytes + kMiB - 1) / kMiB * kMiB;
    if (workspace->buffer.raw() != nullptr) {
      workspace->retired.push_back(std::move(workspace->buffer));
    }
    workspace->buffer =
        Allocate(DType::kI32, {static_cast<int64_t>(workspace->bytes / sizeof(int32_t))});
  }
  return workspace->buffer.raw();
}

void CudaBackend::RmsNorm(const Tensor& x, const Tensor& weight, float eps, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  RowDims d = cuda::CheckRmsNormOnDevice(x, weight, *out);
  if (d.rows == 0) return;
  BRISK_CHECK_LE(d.dim, int64_t{0x7fffffff}) << "rms_norm dim";
  cuda::LaunchRmsNorm({.x = x.data<float>(), .weight = weight.data<float>(),
                       .out = out->data<float>(), .num_rows = d.rows,
                       .hidden = static_cast<int>(d.dim), .eps = eps},
                      stream());
}

void CudaBackend::AddRmsNorm(Tensor* residual, const Tensor& x, const Tensor& weight, float eps,
                             Tensor* out) {
  ScopedDevice guard(context_->device_index);
  cuda::CheckSameShapeF32OnDevice(*residual, x, *out);
  RowDims d = cuda::CheckRmsNormOnDevice(*residual, weight, *out);
  if (d.rows == 0) return;
  BRISK_CHECK_LE(d.dim, int64_t{0x7fffffff}) << "add_rms_norm dim";
  cuda::LaunchAddRmsNorm({.residual = residual->data<float>(), .x = x.data<float>(),
                          .weight = weight.data<float>(), .out = out->data<float>(),
                          .num_rows = d.rows, .hidden = static_cast<int>(d.dim), .eps = eps},
                         stream());
}

void CudaBackend::Rope(Tensor* x, const Tensor& positions, const Tensor& cos_sin) {
  ScopedDevice guard(context_->device_index);
  RopeDims d = cuda::CheckRopeOnDevice(*x, positions, cos_sin);
  cuda::LaunchRope({.x = x->data<float>(),
                    .positions = positions.data<int32_t>(),
                    .cos_sin = cos_sin.data<float>(),
                    .num_tokens = d.num_tokens,
                    .num_heads = d.num_heads,
                    .head_dim = d.head_dim,
                    .rotary_dim = d.rotary_dim,
                    .max_positions = d.max_positions},
                   stream());
}

void CudaBackend::SiluMul(const Tensor& gate_up, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  RowDims d = cuda::CheckSiluMulOnDevice(gate_up, *out);
  cuda::LaunchSiluMul(gate_up.data<float>(), out->data<float>(), d.rows, d.dim, stream());
}

void CudaBackend::Add(const Tensor& a, const Tensor& b, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  cuda::CheckSameShapeF32OnDevice(a, b, *out);
  cuda::LaunchAdd(a.data<float>(), b.data<float>(), out->data<float>(), a.numel(), stream());
}

void CudaBackend::WriteKvCache(const Tensor& k, const Tensor& v, const Tensor& slot_mapping,
                               Tensor* k_cache, Tensor* v_cache) {
  ScopedDevice guard(context_->device_index);
  KvCacheDims c = cuda::CheckWriteKvCacheOnDevice(k, v, slot_mapping, *k_cache, *v_cache);
  cuda::LaunchWriteKvCache({.k = k.data<float>(),
                            .v = v.data<float>(),
                            .slot_mapping = slot_mapping.data<int32_t>(),
                            .k_cache = k_cache->data<float>(),
                            .v_cache = v_cache->data<float>(),
                            .num_tokens = slot_mapping.dim(0),
                            .token_elems = c.num_kv_heads * c.head_dim,
                            .num_slots = c.num_blocks * c.block_size},
                           stream());
}

void CudaBackend::PagedAttention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                 const AttentionMetadata& meta, const AttentionParams& params,
                                 Tensor* out) {
  ScopedDevice guard(context_->device_index);
  const AttentionDims d =
      cuda::CheckPagedAttentionOnDevice(q, k_cache, v_cache, meta, params, *out);
  const cuda::PagedAttentionArgs args =
      cuda::PagedAttentionArgsOf(q.data<float>(), k_cache, v_cache, meta, params, d, out);
  if (d.num_tokens == 0) return;
  // Decode rows (sequences with one query row), then the rest: disjoint rows, one stream.
  const cuda::DecodeAttentionPlan plan = cuda::PlanDecodeAttention(args, num_sms_);
  void* workspace = Reserve(&attention_workspace_, plan.workspace_bytes, "decode attention");
  cuda::LaunchDecodeAttention(args, plan, workspace, stream());
  if (options_.activations == CudaBackendOptions::Activations::kBf16 &&
      cuda::PrefillAttentionBf16Supports(args, max_shared_bytes_)) {
    const size_t bytes = cuda::PrefillAttentionBf16WorkspaceBytes(args, num_sms_);
    void* workspace = Reserve(&prefill_attention_workspace_, bytes, "prefill attention");
    cuda::LaunchPrefillAttentionBf16(args, max_shared_bytes_, num_sms_, workspace,
                                     prefill_attention_workspace_.bytes, stream());
  } else {
    cuda::LaunchPagedAttention(args, stream());
  }
}

void CudaBackend::QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions,
                                 const Tensor& cos_sin, const Tensor& slot_mapping,
                                 const Tensor* q_norm, const Tensor* k_norm, float eps,
                                 Tensor* q_out, Tensor* k_cache, Tensor* v_cache) {
  ScopedDevice guard(context_->device_index);
  const QkvRopeWriteKvDims d = cuda::CheckQkvRopeWriteKvOnDevice(
      qkv, positions, cos_sin, slot_mapping, q_norm, k_norm, *q_out, *k_cache, *v_cache);
  cuda::LaunchQkvRopeWriteKv({.qkv = qkv.data<float>(),
                              .positions = positions.data<int32_t>(),
                              .cos_sin = cos_sin.data<float>(),
                              .slot_mapping = slot_mapping.data<int32_t>(),
                              .q_norm = q_norm != nullptr ? q_norm->data<float>() : nullptr,
                              .k_norm = k_norm != nullptr ? k_norm->data<float>() : nullptr,
                              .q_out = q_out->data<float>(),
                              .k_cache = k_cache->data<float>(),
                              .v_cache = v_cache->data<float>(),
                              .num_tokens = d.num_tokens,
                              .num_heads = d.num_heads,
                              .num_kv_heads = d.cache.num_kv_heads,
                              .head_dim = d.head_dim,
                              .rotary_dim = d.rotary_dim,
                              .max_positions = d.max_positions,
                              .num_slots = d.cache.num_blocks * d.cache.block_size,
                              .eps = eps},
                             stream());
}

void CudaBackend::QkvRopeAttention(const Tensor& qkv, const Tensor& positions,
                                   const Tensor& cos_sin, const Tensor& slot_mapping,
                                   const Tensor* q_norm, const Tensor* k_norm, float eps,
                                   Tensor* k_cache, Tensor* v_cache, const AttentionMetadata& meta,
                                   const AttentionParams& params, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  // Decode rows only (one query row per sequence), without q / k norms: then the attention
  // kernel rotates q and the step's keys itself; anything else runs the two ops.
  if (meta.max_query_len == 1 && q_norm == nullptr && k_norm == nullptr) {
    const QkvRopeWriteKvDims r = cuda::CheckQkvRopeWriteKvOnDevice(
        qkv, positions, cos_sin, slot_mapping, nullptr, nullptr, *out, *k_cache, *v_cache);
    const AttentionDims d =
        cuda::CheckPagedAttentionOnDevice(*out, *k_cache, *v_cache, meta, params, *out);
    const cuda::PagedAttentionArgs args =
        cuda::PagedAttentionArgsOf(nullptr, *k_cache, *v_cache, meta, params, d, out);
    const cuda::DecodeRopeArgs rope{.qkv = qkv.data<float>(),
                                    .positions = positions.data<int32_t>(),
                                    .cos_sin = cos_sin.data<float>(),
                                    .slot_mapping = slot_mapping.data<int32_t>(),
                                    .k_cache = k_cache->data<float>(),
                                    .v_cache = v_cache->data<float>(),
                                    .rotary_dim = r.rotary_dim,
                                    .max_positions = r.max_positions,
                                    .num_slots = r.cache.num_blocks * r.cache.block_size};
    if (cuda::DecodeRopeAttentionSupports(args, rope)) {
      if (d.num_tokens == 0) return;
      const cuda::DecodeAttentionPlan plan = cuda::PlanDecodeAttention(args, num_sms_);
      void* workspace = Reserve(&attention_workspace_, plan.workspace_bytes, "decode attention");
      cuda::LaunchDecodeRopeAttention(args, rope, plan, workspace, stream());
      return;
    }
  }
  Backend::QkvRopeAttention(qkv, positions, cos_sin, slot_mapping, q_norm, k_norm, eps, k_cache,
                            v_cache, meta, params, out);
}

void CudaBackend::LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                            Tensor* out) {
  ScopedDevice guard(context_->device_index);
  RowDims d = cuda::CheckLayerNormOnDevice(x, weight, bias, *out);
  if (d.rows == 0) return;
  BRISK_CHECK_LE(d.dim, int64_t{0x7fffffff}) << "layer_norm dim";
  cuda::LaunchLayerNorm({.x = x.data<float>(), .weight = weight.data<float>(),
                         .bias = bias.data<float>(), .out = out->data<float>(),
                         .num_rows = d.rows, .hidden = static_cast<int>(d.dim), .eps = eps},
                        stream());
}

void CudaBackend::Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) {
  ScopedDevice guard(context_->device_index);
  const int64_t n = cuda::CheckGeluOnDevice(x, *out);
  cuda::LaunchGelu(x.data<float>(), out->data<float>(), n,
                   tanh_approximation ? cuda::GeluForm::kTanh : cuda::GeluForm::kErf, stream());
}

void CudaBackend::EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& seq_starts, int max_seq_len, float scale,
                                   Tensor* out) {
  ScopedDevice guard(context_->device_index);
  EncoderAttentionDims d =
      cuda::CheckEncoderAttentionOnDevice(q, k, v, seq_starts, max_seq_len, *out);
  cuda::LaunchEncoderAttention({.q = q.data<float>(),
                                .k = k.data<float>(),
                                .v = v.data<float>(),
                                .seq_starts = seq_starts.data<int32_t>(),
                                .out = out->data<float>(),
                                .num_tokens = d.num_tokens,
                                .num_heads = d.num_heads,
                                .num_kv_heads = d.num_kv_heads,
                                .head_dim = d.head_dim,
                                .num_seqs = d.num_seqs,
                                .max_seq_len = max_seq_len,
                                .scale = scale},
                               stream());
}

void CudaBackend::SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) {
  ScopedDevice guard(context_->device_index);
  const SampleTokensDims d = cuda::CheckSampleTokensOnDevice(logits, params, *ids);
  cuda::LaunchSampleTokens({.logits = logits.data<float>(),
                            .params = params.data<float>(),
                            .ids = ids->data<int32_t>(),
                            .num_rows = d.rows,
                            .vocab = d.vocab},
                           stream());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> MakeCudaBackend(const CudaBackendOptions& options) {
  absl::StatusOr<cuda::DeviceInfo> info = cuda::QueryDevice(options.device_index);
  if (!info.ok()) {
    if (absl::IsNotFound(info.status())) {
      return absl::UnavailableError(
          absl::StrCat("CUDA backend unavailable: ", info.status().message()));
    }
    return info.status();
  }
  auto context = std::make_shared<StreamContext>(options.device_index);
  auto backend = std::make_unique<CudaBackend>(options, std::move(context));
  BRISK_RETURN_IF_ERROR(backend->Init());
  const bool bf16 = options.activations == CudaBackendOptions::Activations::kBf16;
  BRISK_LOG(kInfo) << "cuda backend: device " << options.device_index << " "
                   << cuda::DeviceInfoToString(*info)
                   << " matmul_activations=" << (bf16 ? "bf16" : "f32")
                   << " small_m_gemv=" << (options.small_m_gemv ? "on" : "off");
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace brisk::backend
