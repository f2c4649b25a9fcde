// The reference QkvRopeWriteKv: the fused attention prologue as the three ops it replaces,
// head by head, with the same arithmetic as the reference RmsNorm and Rope (reductions and
// rotations in double, one rounding to f32 after each step), so it equals RmsNorm + Rope +
// WriteKvCache run on this backend bit for bit.
//
//   qkv row t: | q head 0 | ... | q head H-1 | k head 0 | ... | k head G-1 | v head 0 | ... |
//              each head_dim wide; H = num_heads, G = num_kv_heads
#include <cmath>
#include <vector>

#include "backend/cpu/reference/op_checks.h"
#include "backend/cpu/reference/reference_backend.h"

namespace brisk::backend {
namespace {

// head = head / sqrt(mean(head²) + eps) · weight, in double, rounded once per element.
// head, weight: [head_dim]
void NormalizeHead(const float* weight, float eps, std::vector<float>* head) {
  const int64_t dim = static_cast<int64_t>(head->size());
  double sum_squares = 0.0;
  for (float x : *head) sum_squares += static_cast<double>(x) * x;
  const double inv_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps);
  for (int64_t i = 0; i < dim; ++i) {
    (*head)[i] = static_cast<float>(static_cast<double>((*head)[i]) * inv_rms * weight[i]);
  }
}

// Rotates the first rotary_dim features of `head` as Backend::Rope does.
// cos_sin_row: [rotary_dim] (cos half | sin half); head: [head_dim]
void RotateHead(const float* cos_sin_row, int64_t rotary_dim, std::vector<float>* head) {
  const int64_t half = rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const double a = (*head)[i];
    const double b = (*head)[i + half];
    const double c = cos_sin_row[i];
    const double s = cos_sin_row[half + i];
    (*head)[i] = static_cast<float>(a * c - b * s);
    (*head)[i + half] = static_cast<float>(b * c + a * s);
  }
}

}  // namespace

void ReferenceBackend::QkvRopeWriteKv(const Tensor& qkv, const Tensor& positions,
                                      const Tensor& cos_sin, const Tensor& slot_mapping,
                                      const Tensor* q_norm, const Tensor* k_norm, float eps,
                                      Tensor* q_out, Tensor* k_cache, Tensor* v_cache) {
  const QkvRopeWriteKvDims d = CheckQkvRopeWriteKv(qkv, positions, cos_sin, slot_mapping, q_norm,
                                                   k_norm, *q_out, *k_cache, *v_cache);
  const int64_t num_kv_heads = d.cache.num_kv_heads;
  const int64_t num_qkv_heads = d.num_heads + 2 * num_kv_heads;
  const int32_t* pos = positions.data<int32_t>();
  const int32_t* slots = slot_mapping.data<int32_t>();
  std::vector<float> head(d.head_dim);
  for (int64_t t = 0; t < d.num_tokens; ++t) {
    const float* cos_sin_row = cos_sin.data<float>() + pos[t] * d.rotary_dim;
    for (int64_t h = 0; h < num_qkv_heads; ++h) {
      const float* src = qkv.data<float>() + (t * num_qkv_heads + h) * d.head_dim;
      head.assign(src, src + d.head_dim);
      const bool is_q = h < d.num_heads;
      const bool is_k = !is_q && h < d.num_heads + num_kv_heads;
      const Tensor* norm = is_q ? q_norm : is_k ? k_norm : nullptr;
      if (norm != nullptr) NormalizeHead(norm->data<float>(), eps, &head);
      if (is_q || is_k) RotateHead(cos_sin_row, d.rotary_dim, &head);

      float* dst = nullptr;
      if (is_q) {
        dst = q_out->data<float>() + (t * d.num_heads + h) * d.head_dim;
      } else if (slots[t] != -1) {
        // Slot s is row s of the cache viewed as [num_blocks * block_size, num_kv_heads,
        // head_dim] (see WriteKvCache).
        const int64_t g = is_k ? h - d.num_heads : h - d.num_heads - num_kv_heads;
        Tensor* cache = is_k ? k_cache : v_cache;
        dst = cache->data<float>() + (slots[t] * num_kv_heads + g) * d.head_dim;
      }
      if (dst == nullptr) continue;  // k or v of a token with slot -1
      for (int64_t i = 0; i < d.head_dim; ++i) dst[i] = head[i];
    }
  }
}

}  // namespace brisk::backend
