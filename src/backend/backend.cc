#include "backend/backend.h"

namespace brisk::backend {

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
  }
  return "?";
}

}  // namespace brisk::backend
