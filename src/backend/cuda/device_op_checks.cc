// Device placement checks of the CUDA backend's ops; see device_op_checks.h.
#include "backend/cuda/device_op_checks.h"

#include "base/check.h"

namespace brisk::backend::cuda {

void CheckOnDevice(const Tensor& t, const char* what) {
  BRISK_CHECK(t.device() == tensor::Device::kCuda || t.empty())
      << what << " is a host tensor " << tensor::ShapeToString(t.shape())
      << "; the CUDA backend takes device tensors (Backend::ToDevice / Allocate)";
}

RowDims CheckEmbeddingOnDevice(const Tensor& table, const Tensor& ids, const Tensor& out) {
  CheckOnDevice(table, "embedding table");
  CheckOnDevice(ids, "embedding ids");
  CheckOnDevice(out, "embedding out");
  return CheckEmbeddingShapes(table, ids, out);
}

MatMulDims CheckMatMulOnDevice(const Tensor& x, const Tensor& w, const Tensor* bias,
                               const Tensor& y) {
  CheckOnDevice(x, "matmul x");
  CheckOnDevice(y, "matmul y");
  CheckOnDevice(w, "matmul weight");
  if (bias != nullptr) CheckOnDevice(*bias, "matmul bias");
  return CheckMatMulShapes(x, w, bias, y);
}

MatMulDims CheckFusedMatMulOnDevice(const Tensor& x, const Tensor& w, const Tensor* bias,
                                    const FusedMatMulParams& params, const Tensor& y) {
  CheckOnDevice(x, "fused_matmul x");
  CheckOnDevice(y, "fused_matmul y");
  CheckOnDevice(w, "fused_matmul weight");
  if (bias != nullptr) CheckOnDevice(*bias, "fused_matmul bias");
  if (params.norm_weight != nullptr) CheckOnDevice(*params.norm_weight, "fused_matmul norm weight");
  return CheckFusedMatMulShapes(x, w, bias, params, y);
}

SwiGluMlpDims CheckSwiGluMlpOnDevice(const Tensor& residual, const Tensor& norm_weight,
                                     const Tensor& gate_up, const Tensor* gate_up_bias,
                                     const Tensor& down, const Tensor* down_bias) {
  CheckOnDevice(residual, "swiglu_mlp residual");
  CheckOnDevice(norm_weight, "swiglu_mlp norm weight");
  CheckOnDevice(gate_up, "swiglu_mlp gate_up");
  CheckOnDevice(down, "swiglu_mlp down");
  if (gate_up_bias != nullptr) CheckOnDevice(*gate_up_bias, "swiglu_mlp gate_up bias");
  if (down_bias != nullptr) CheckOnDevice(*down_bias, "swiglu_mlp down bias");
  return CheckSwiGluMlpShapes(residual, norm_weight, gate_up, gate_up_bias, down, down_bias);
}

RowDims CheckRmsNormOnDevice(const Tensor& x, const Tensor& weight, const Tensor& out) {
  CheckOnDevice(x, "rms_norm x");
  CheckOnDevice(weight, "rms_norm weight");
  CheckOnDevice(out, "rms_norm out");
  return CheckRmsNormShapes(x, weight, out);
}

RowDims CheckSameShapeF32OnDevice(const Tensor& a, const Tensor& b, const Tensor& out) {
  CheckOnDevice(a, "a");
  CheckOnDevice(b, "b");
  CheckOnDevice(out, "out");
  return CheckSameShapeF32(a, b, out);
}

RowDims CheckSiluMulOnDevice(const Tensor& gate_up, const Tensor& out) {
  CheckOnDevice(gate_up, "silu_mul gate_up");
  CheckOnDevice(out, "silu_mul out");
  return CheckSiluMulShapes(gate_up, out);
}

QkvRopeWriteKvDims CheckQkvRopeWriteKvOnDevice(const Tensor& qkv, const Tensor& positions,
                                               const Tensor& cos_sin, const Tensor& slot_mapping,
                                               const Tensor* q_norm, const Tensor* k_norm,
                                               const Tensor& q_out, const Tensor& k_cache,
                                               const Tensor& v_cache) {
  CheckOnDevice(k_cache, "k_cache");
  CheckOnDevice(v_cache, "v_cache");
  CheckOnDevice(qkv, "qkv");
  CheckOnDevice(positions, "qkv_rope positions");
  CheckOnDevice(cos_sin, "qkv_rope cos_sin");
  CheckOnDevice(slot_mapping, "slot_mapping");
  if (q_norm != nullptr) CheckOnDevice(*q_norm, "q_norm");
  if (k_norm != nullptr) CheckOnDevice(*k_norm, "k_norm");
  CheckOnDevice(q_out, "q_out");
  return CheckQkvRopeWriteKvShapes(qkv, positions, cos_sin, slot_mapping, q_norm, k_norm, q_out,
                                   k_cache, v_cache);
}

RopeDims CheckRopeOnDevice(const Tensor& x, const Tensor& positions, const Tensor& cos_sin) {
  CheckOnDevice(x, "rope x");
  CheckOnDevice(cos_sin, "rope cos_sin");
  CheckOnDevice(positions, "rope positions");
  return CheckRopeShapes(x, positions, cos_sin);
}

KvCacheDims CheckWriteKvCacheOnDevice(const Tensor& k, const Tensor& v,
                                      const Tensor& slot_mapping, const Tensor& k_cache,
                                      const Tensor& v_cache) {
  CheckOnDevice(k_cache, "k_cache");
  CheckOnDevice(v_cache, "v_cache");
  CheckOnDevice(k, "k");
  CheckOnDevice(v, "v");
  CheckOnDevice(slot_mapping, "slot_mapping");
  return CheckWriteKvCacheShapes(k, v, slot_mapping, k_cache, v_cache);
}

AttentionDims CheckPagedAttentionOnDevice(const Tensor& q, const Tensor& k_cache,
                                          const Tensor& v_cache, const AttentionMetadata& meta,
                                          const AttentionParams& params, const Tensor& out) {
  CheckOnDevice(k_cache, "k_cache");
  CheckOnDevice(v_cache, "v_cache");
  CheckOnDevice(q, "attention q");
  CheckOnDevice(out, "attention out");
  CheckOnDevice(meta.query_start_loc, "query_start_loc");
  CheckOnDevice(meta.context_lens, "context_lens");
  CheckOnDevice(meta.block_tables, "block_tables");
  return CheckPagedAttentionShapes(q, k_cache, v_cache, meta, params, out);
}

RowDims CheckLayerNormOnDevice(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& out) {
  CheckOnDevice(x, "layer_norm x");
  CheckOnDevice(weight, "layer_norm weight");
  CheckOnDevice(bias, "layer_norm bias");
  CheckOnDevice(out, "layer_norm out");
  return CheckLayerNormShapes(x, weight, bias, out);
}

int64_t CheckGeluOnDevice(const Tensor& x, const Tensor& out) {
  CheckOnDevice(x, "gelu x");
  CheckOnDevice(out, "gelu out");
  return CheckGeluShapes(x, out);
}

EncoderAttentionDims CheckEncoderAttentionOnDevice(const Tensor& q, const Tensor& k,
                                                   const Tensor& v, const Tensor& seq_starts,
                                                   int max_seq_len, const Tensor& out) {
  CheckOnDevice(q, "encoder_attention q");
  CheckOnDevice(k, "encoder_attention k");
  CheckOnDevice(v, "encoder_attention v");
  CheckOnDevice(seq_starts, "seq_starts");
  CheckOnDevice(out, "encoder_attention out");
  return CheckEncoderAttentionShapes(q, k, v, seq_starts, max_seq_len, out);
}

SampleTokensDims CheckSampleTokensOnDevice(const Tensor& logits, const Tensor& params,
                                           const Tensor& ids) {
  CheckOnDevice(logits, "sample_tokens logits");
  CheckOnDevice(params, "sample_tokens params");
  CheckOnDevice(ids, "sample_tokens ids");
  return CheckSampleTokensShapes(logits, params, ids);
}

PagedAttentionArgs PagedAttentionArgsOf(const float* q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& meta,
                                        const AttentionParams& params, const AttentionDims& d,
                                        Tensor* out) {
  return {.q = q,
          .k_cache = k_cache.data<float>(),
          .v_cache = v_cache.data<float>(),
          .query_start_loc = meta.query_start_loc.data<int32_t>(),
          .context_lens = meta.context_lens.data<int32_t>(),
          .block_tables = meta.block_tables.data<int32_t>(),
          .out = out->data<float>(),
          .num_tokens = d.num_tokens,
          .num_heads = d.num_heads,
          .num_kv_heads = d.cache.num_kv_heads,
          .head_dim = d.head_dim,
          .num_seqs = d.num_seqs,
          .max_blocks_per_seq = d.max_blocks_per_seq,
          .num_blocks = d.cache.num_blocks,
          .block_size = d.cache.block_size,
          .scale = params.scale,
          .sliding_window = params.sliding_window,
          .max_query_len = meta.max_query_len,
          .max_context_len = meta.max_context_len};
}

}  // namespace brisk::backend::cuda
