#include "backend/backend.h"

#include <cstring>
#include <memory>
#include <utility>

#include "backend/op_shapes.h"
#include "base/check.h"

namespace brisk::backend {

void Backend::CopyToDevice(const Tensor& host, Tensor* dst) {
  BRISK_CHECK(host.device() == tensor::Device::kCpu) << "CopyToDevice takes a host tensor";
  BRISK_CHECK(host.dtype() == dst->dtype() && host.numel() == dst->numel())
      << "CopyToDevice " << tensor::ShapeToString(host.shape()) << " into "
      << tensor::ShapeToString(dst->shape());
  if (host.size_bytes() > 0) std::memcpy(dst->raw(), host.raw(), host.size_bytes());
}

namespace {

// HostReadback for backends whose ops run at once: Queue copies right away (into storage of its
// own, since ToHost may share the device tensor's, which later ops may rewrite).
class ImmediateReadback final : public HostReadback {
 public:
  ImmediateReadback(Backend* backend, int64_t capacity_bytes)
      : backend_(backend), capacity_bytes_(capacity_bytes) {}

  void Queue(const Tensor& src) override {
    BRISK_CHECK(!pending_) << "HostReadback::Queue with a copy pending";
    BRISK_CHECK_LE(src.size_bytes(), capacity_bytes_) << "HostReadback capacity";
    const Tensor host = backend_->ToHost(src);
    copy_ = Tensor::Empty(host.dtype(), host.shape());
    if (host.size_bytes() > 0) std::memcpy(copy_.raw(), host.raw(), host.size_bytes());
    pending_ = true;
  }

  Tensor Wait() override {
    BRISK_CHECK(pending_) << "HostReadback::Wait without a queued copy";
    pending_ = false;
    return copy_;
  }

 private:
  Backend* const backend_;
  const int64_t capacity_bytes_;
  Tensor copy_;
  bool pending_ = false;
};

}  // namespace

std::unique_ptr<HostReadback> Backend::NewHostReadback(int64_t capacity_bytes) {
  return std::make_unique<ImmediateReadback>(this, capacity_bytes);
}

tensor::Shape Backend::ConcatRowsShape(std::span<const Tensor> host_parts) {
  BRISK_CHECK(!host_parts.empty()) << "ConcatRowsToDevice of nothing";
  const DType dtype = host_parts[0].dtype();
  const int64_t cols = host_parts[0].dim(1);
  int64_t rows = 0;
  for (const Tensor& p : host_parts) {
    BRISK_CHECK(p.rank() == 2 && p.dtype() == dtype && p.dim(1) == cols &&
                p.device() == tensor::Device::kCpu)
        << "ConcatRowsToDevice part " << tensor::ShapeToString(p.shape());
    rows += p.dim(0);
  }
  return {rows, cols};
}

Tensor Backend::ConcatRowsToDevice(std::span<const Tensor> host_parts) {
  tensor::Shape shape = ConcatRowsShape(host_parts);  // checks host_parts is not empty
  Tensor all = Tensor::Empty(host_parts[0].dtype(), std::move(shape));
  auto* out = static_cast<char*>(all.raw());
  for (const Tensor& p : host_parts) {
    if (p.size_bytes() > 0) std::memcpy(out, p.raw(), p.size_bytes());
    out += p.size_bytes();
  }
  return ToDevice(all);
}

void Backend::FusedMatMul(const Tensor& x, const Tensor& w, const Tensor* bias,
                          const FusedMatMulParams& params, Tensor* y) {
  const MatMulDims d = CheckFusedMatMulShapes(x, w, bias, params, *y);
  Tensor input = x;
  switch (params.prologue) {
    case MatMulPrologue::kNone:
      break;
    case MatMulPrologue::kRmsNorm:
      input = AllocateScratch(DType::kF32, {d.m, d.k});
      RmsNorm(x, *params.norm_weight, params.eps, &input);
      break;
    case MatMulPrologue::kSiluMul:
      input = AllocateScratch(DType::kF32, {d.m, d.k});
      SiluMul(x, &input);
      break;
  }
  if (!params.accumulate) {
    MatMul(input, w, bias, y);
    return;
  }
  Tensor product = AllocateScratch(DType::kF32, {d.m, d.n});
  MatMul(input, w, bias, &product);
  Add(*y, product, y);
}

void Backend::SwiGluMlp(Tensor* residual, const Tensor& norm_weight, float eps,
                        const Tensor& gate_up, const Tensor* gate_up_bias, const Tensor& down,
                        const Tensor* down_bias) {
  const SwiGluMlpDims d = CheckSwiGluMlpShapes(*residual, norm_weight, gate_up, gate_up_bias,
                                               down, down_bias);
  Tensor gate_up_out = AllocateScratch(DType::kF32, {d.rows, 2 * d.inter});
  FusedMatMul(*residual, gate_up, gate_up_bias,
              {.prologue = MatMulPrologue::kRmsNorm, .norm_weight = &norm_weight, .eps = eps},
              &gate_up_out);
  FusedMatMul(gate_up_out, down, down_bias,
              {.prologue = MatMulPrologue::kSiluMul, .accumulate = true}, residual);
}

void Backend::QkvRopeAttention(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                               const Tensor& slot_mapping, const Tensor* q_norm,
                               const Tensor* k_norm, float eps, Tensor* k_cache, Tensor* v_cache,
                               const AttentionMetadata& meta, const AttentionParams& params,
                               Tensor* out) {
  Tensor q = AllocateScratch(DType::kF32, out->shape());
  QkvRopeWriteKv(qkv, positions, cos_sin, slot_mapping, q_norm, k_norm, eps, &q, k_cache,
                 v_cache);
  PagedAttention(q, *k_cache, *v_cache, meta, params, out);
}

std::string_view OpName(OpId op) {
  switch (op) {
    case OpId::kEmbedding: return "embedding";
    case OpId::kMatMul: return "matmul";
    case OpId::kRmsNorm: return "rms_norm";
    case OpId::kAddRmsNorm: return "add_rms_norm";
    case OpId::kRope: return "rope";
    case OpId::kSiluMul: return "silu_mul";
    case OpId::kAdd: return "add";
    case OpId::kWriteKvCache: return "write_kv_cache";
    case OpId::kPagedAttention: return "paged_attention";
    case OpId::kLayerNorm: return "layer_norm";
    case OpId::kGelu: return "gelu";
    case OpId::kEncoderAttention: return "encoder_attention";
    case OpId::kQkvRopeWriteKv: return "qkv_rope_write_kv";
    case OpId::kSampleTokens: return "sample_tokens";
    case OpId::kFusedMatMul: return "fused_matmul";
    case OpId::kSwiGluMlp: return "swiglu_mlp";
    case OpId::kQkvRopeAttention: return "qkv_rope_attention";
  }
  return "?";
}

}  // namespace brisk::backend
