// The fast CPU backend: SIMD kernels (AVX-512 where the compiler targets it, portable loops
// elsewhere) parallelized with OpenMP. Results match the reference backend up to f32 rounding;
// the conformance harness (tests/conformance) holds it to that.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/workspace.h"

namespace brisk::backend {

struct CpuBackendOptions {
  // OpenMP threads per op; 0 means one per core the process may run on.
  int num_threads = 0;
  // Activations of compute-bound matmuls (prefill) against bf16 weights: kF32 (default, what
  // the golden tests hold to transformers' fp32 error) or kBf16 (x rounded to bf16, about twice
  // the prefill speed on CPUs with AVX512_BF16; accuracy cost in bench/results/).
  cpu::ActivationPrecision prefill_activations = cpu::ActivationPrecision::kF32;
};

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options = {});

  std::string_view name() const override { return "cpu"; }
  tensor::Device device() const override { return tensor::Device::kCpu; }
  int num_threads() const { return num_threads_; }

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
  void QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions, const Tensor& cos_sin,
                      const Tensor& slot_mapping, const Tensor* q_norm, const Tensor* k_norm,
                      float eps, Tensor* q_out, Tensor* k_cache, Tensor* v_cache) override;
  void LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                 Tensor* out) override;
  void Gelu(const Tensor& x, bool tanh_approximation, Tensor* out) override;
  void EncoderAttention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const Tensor& seq_starts, int max_seq_len, float scale,
                        Tensor* out) override;
  // The reference sampler (reference/sample_tokens.h), rows in parallel.
  void SampleTokens(const Tensor& logits, const Tensor& params, Tensor* ids) override;

 private:
  // Constant after construction.
  int num_threads_;
  cpu::ActivationPrecision prefill_activations_;
  // Scratch reused across ops; ops run one at a time per backend (thread-compatible).
  cpu::Workspace workspace_;
};

// Returns a CpuBackend; logs its thread count. Thread-compatible: one op at a time per
// instance (each op parallelizes internally).
std::unique_ptr<Backend> MakeCpuBackend(const CpuBackendOptions& options = {});

}  // namespace brisk::backend
