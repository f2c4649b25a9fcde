// Argument checks of the CUDA backend's ops: every tensor argument must be on Device::kCuda (a
// host tensor passed by mistake fails here with the op and argument named), then the shared
// shape and dtype checks of backend/op_shapes.h run. Tensor contents live on the device and are
// never read here: the kernels check index contents themselves (BRISK_DEVICE_CHECK). All fail
// with BRISK_CHECK (our bug); placement is checked before shapes, argument by argument.
#pragma once

#include "backend/backend.h"
#include "backend/cuda/attention.cuh"
#include "backend/op_shapes.h"

namespace brisk::backend::cuda {

// t.device() == kCuda (or t is empty), or a fatal error naming `what`.
void CheckOnDevice(const Tensor& t, const char* what);

// Each Check<Op>OnDevice checks that every tensor argument is on the device, then returns
// the matching backend::Check<Op>Shapes (see op_shapes.h for the shapes and dtypes).
RowDims CheckEmbeddingOnDevice(const Tensor& table, const Tensor& ids, const Tensor& out);
MatMulDims CheckMatMulOnDevice(const Tensor& x, const Tensor& w, const Tensor* bias,
                               const Tensor& y);
MatMulDims CheckFusedMatMulOnDevice(const Tensor& x, const Tensor& w, const Tensor* bias,
                                    const FusedMatMulParams& params, const Tensor& y);
SwiGluMlpDims CheckSwiGluMlpOnDevice(const Tensor& residual, const Tensor& norm_weight,
                                     const Tensor& gate_up, const Tensor* gate_up_bias,
                                     const Tensor& down, const Tensor* down_bias);
RowDims CheckRmsNormOnDevice(const Tensor& x, const Tensor& weight, const Tensor& out);
// The arguments are named "a", "b" and "out" in messages (as in CheckSameShapeF32).
RowDims CheckSameShapeF32OnDevice(const Tensor& a, const Tensor& b, const Tensor& out);
RowDims CheckSiluMulOnDevice(const Tensor& gate_up, const Tensor& out);
RopeDims CheckRopeOnDevice(const Tensor& x, const Tensor& positions, const Tensor& cos_sin);
QkvRopeWriteKvDims CheckQkvRopeWriteKvOnDevice(const Tensor& qkv, const Tensor& positions,
                                               const Tensor& cos_sin, const Tensor& slot_mapping,
                                               const Tensor* q_norm, const Tensor* k_norm,
                                               const Tensor& q_out, const Tensor& k_cache,
                                               const Tensor& v_cache);
KvCacheDims CheckWriteKvCacheOnDevice(const Tensor& k, const Tensor& v,
                                      const Tensor& slot_mapping, const Tensor& k_cache,
                                      const Tensor& v_cache);
AttentionDims CheckPagedAttentionOnDevice(const Tensor& q, const Tensor& k_cache,
                                          const Tensor& v_cache, const AttentionMetadata& meta,
                                          const AttentionParams& params, const Tensor& out);
// The attention kernels' view of a PagedAttention call whose shapes `d` were checked; `q` may
// be null for a kernel that builds its queries itself.
PagedAttentionArgs PagedAttentionArgsOf(const float* q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& meta,
                                        const AttentionParams& params, const AttentionDims& d,
                                        Tensor* out);

RowDims CheckLayerNormOnDevice(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& out);
int64_t CheckGeluOnDevice(const Tensor& x, const Tensor& out);
EncoderAttentionDims CheckEncoderAttentionOnDevice(const Tensor& q, const Tensor& k,
                                                   const Tensor& v, const Tensor& seq_starts,
                                                   int max_seq_len, const Tensor& out);
SampleTokensDims CheckSampleTokensOnDevice(const Tensor& logits, const Tensor& params,
                                           const Tensor& ids);

}  // namespace brisk::backend::cuda
