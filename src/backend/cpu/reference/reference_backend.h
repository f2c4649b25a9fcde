// The reference backend: naive, single-threaded, obviously-correct CPU kernels that are the
// oracle of the conformance harness for every other backend. Reductions (dot products, sums of
// squares, softmax and attention-weighted sums) accumulate in double and round to f32 once, so
// its outputs are the exact results up to that final rounding. Clarity wins over speed here.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace brisk::backend {

class ReferenceBackend : public Backend {
 public:
  std::string_view name() const override { return "cpu_reference"; }
  tensor::Device device() const override { return tensor::Device::kCpu; }

  // MatMul and Embedding take f32, bf16 or f16 weights; every other op is f32 only.
  bool Supports(OpId op, DType weight_dtype) const override;

  void Embedding(const Tensor& table, const Tensor& ids, Tensor* out) override;
  void MatMul(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor* y) override;
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
  // In reference_qkv_rope.cc.
  void QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                      const Tensor& slot_mapping, const Tensor* q_norm, const Tensor* k_norm,
                      float eps, Tensor* q_out, Tensor* k_cache, Tensor* v_cache) override;
  void LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                 Tensor* out) override;
  void Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) override;
  void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& seq_starts, int max_seq_len, float scale,
                        Tensor* out) override;
  // Also checks every row's params (CheckSampleRowParams in sample_tokens.h).
  void SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) override;
};

// Returns a new ReferenceBackend. Thread-compatible: one caller at a time per instance.
std::unique_ptr<Backend> MakeReferenceBackend();

}  // namespace brisk::backend
