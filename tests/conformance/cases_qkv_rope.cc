// Conformance cases for QkvRopeWriteKv, the fused attention prologue: MHA, GQA and MQA groups,
// head_dim from 13 (odd, partial rotary 12) to 256, full and partial rotary, 1 to 127 tokens,
// with and without the per-head q / k norms, and slots shuffled across the cache with some
// tokens at -1. The cache slots the op must write start as NaN (so must q_out); the others
// hold random values that must survive, so a write to a wrong or skipped slot fails.
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/conformance/op_cases.h"

namespace brisk::conformance {
namespace {

// Which heads are RMS-normalized before the rotation.
enum class QkNorm { kNone, kBoth, kQOnly, kKOnly };

struct QkvShape {
  int64_t num_tokens, num_heads, num_kv_heads, head_dim, rotary_dim;
  int64_t num_blocks, block_size;
  int64_t num_skipped;  // tokens with slot -1
  QkNorm norm;
};

bool HasQNorm(QkNorm n) { return n == QkNorm::kBoth || n == QkNorm::kQOnly; }
bool HasKNorm(QkNorm n) { return n == QkNorm::kBoth || n == QkNorm::kKOnly; }

const char* NormTag(QkNorm n) {
  switch (n) {
    case QkNorm::kNone:
      return "";
    case QkNorm::kBoth:
      return "_qknorm";
    case QkNorm::kQOnly:
      return "_qnorm";
    case QkNorm::kKOnly:
      return "_knorm";
  }
  return "?";
}

// Inputs, in order: qkv, positions, cos_sin, slot_mapping, k_cache, v_cache, q_norm, k_norm
// (the norms are made for every case and passed only where the case says).
enum Input { kQkv, kPositions, kCosSin, kSlots, kKCache, kVCache, kQNormW, kKNormW };

constexpr int64_t kMaxPositions = 300;

std::vector<Tensor> MakeQkvInputs(const QkvShape& s, const std::string& name) {
  std::mt19937 rng = RngFor(name);
  const int64_t num_qkv_heads = s.num_heads + 2 * s.num_kv_heads;
  // qkv in [-1, 1), the scale of the Rope cases (the elementwise atol assumes it).
  Tensor qkv = RandomF32({s.num_tokens, num_qkv_heads * s.head_dim}, -1.0f, 1.0f, &rng);
  std::uniform_int_distribution<int32_t> pos(0, kMaxPositions - 1);
  std::vector<int32_t> positions(s.num_tokens);
  for (int32_t& p : positions) p = pos(rng);
  const Tensor cos_sin = RopeTable(kMaxPositions, s.rotary_dim);
  // Distinct slots scattered over the whole cache; tokens 0, 3, 6, ... (mod num_tokens)
  // skipped, first to last of the batch.
  const std::vector<int32_t> slots =
      ScatteredSlots(s.num_blocks * s.block_size, s.num_tokens, s.num_skipped, 3, &rng);

  const tensor::Shape cache_shape = {s.num_blocks, s.block_size, s.num_kv_heads, s.head_dim};
  Tensor k_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
  Tensor v_cache = RandomF32(cache_shape, -1.0f, 1.0f, &rng);
  // Poison exactly the slots the op must write.
  PoisonSlots(slots, s.num_kv_heads * s.head_dim, &k_cache);
  PoisonSlots(slots, s.num_kv_heads * s.head_dim, &v_cache);
  Tensor q_norm = RandomF32({s.head_dim}, -1.5f, 1.5f, &rng);
  Tensor k_norm = RandomF32({s.head_dim}, -1.5f, 1.5f, &rng);
  return {qkv,     I32({s.num_tokens}, positions),
          cos_sin, I32({s.num_tokens}, slots),
          k_cache, v_cache,
          q_norm,  k_norm};
}

// q_out, k_cache, v_cache computed naively in f32.
std::vector<Tensor> NaiveQkvRope(const std::vector<Tensor>& in, const QkvShape& s, float eps) {
  const int64_t num_qkv_heads = s.num_heads + 2 * s.num_kv_heads;
  const float* q_w = HasQNorm(s.norm) ? in[kQNormW].data<float>() : nullptr;
  const float* k_w = HasKNorm(s.norm) ? in[kKNormW].data<float>() : nullptr;
  Tensor q_out = Tensor::Empty(DType::kF32, {s.num_tokens, s.num_heads, s.head_dim});
  Tensor k_cache = Clone(in[kKCache]);
  Tensor v_cache = Clone(in[kVCache]);
  for (int64_t t = 0; t < s.num_tokens; ++t) {
    const float* row = in[kQkv].data<float>() + t * num_qkv_heads * s.head_dim;
    const float* cs = in[kCosSin].data<float>() + in[kPositions].data<int32_t>()[t] * s.rotary_dim;
    for (int64_t h = 0; h < s.num_heads; ++h) {
      NaiveHead(row + h * s.head_dim, q_w, eps, s.head_dim, cs, s.rotary_dim,
                q_out.data<float>() + (t * s.num_heads + h) * s.head_dim);
    }
    const int32_t slot = in[kSlots].data<int32_t>()[t];
    if (slot < 0) continue;
    for (int64_t g = 0; g < s.num_kv_heads; ++g) {
      const int64_t offset = (slot * s.num_kv_heads + g) * s.head_dim;
      NaiveHead(row + (s.num_heads + g) * s.head_dim, k_w, eps, s.head_dim, cs, s.rotary_dim,
                k_cache.data<float>() + offset);
      const float* v = row + (s.num_heads + s.num_kv_heads + g) * s.head_dim;
      std::copy_n(v, s.head_dim, v_cache.data<float>() + offset);
    }
  }
  return {q_out, k_cache, v_cache};
}

}  // namespace

std::vector<OpCase> QkvRopeWriteKvCases() {
  const QkvShape shapes[] = {
      // Decode steps: one token.
      {1, 4, 4, 64, 64, 3, 16, 0, QkNorm::kNone},    // MHA
      {1, 8, 2, 128, 128, 4, 16, 0, QkNorm::kBoth},  // GQA 4, Qwen3-style norms
      {1, 8, 1, 256, 256, 2, 8, 0, QkNorm::kBoth},   // MQA, the largest head
      {1, 4, 2, 64, 64, 2, 4, 1, QkNorm::kBoth},     // a padding token: only q is written
      // Short prefills.
      {5, 8, 1, 13, 12, 4, 3, 1, QkNorm::kBoth},     // odd head_dim, partial rotary
      {5, 4, 1, 256, 256, 3, 4, 0, QkNorm::kQOnly},  // GQA 4
      {5, 2, 2, 256, 128, 5, 2, 2, QkNorm::kNone},   // half rotary on the largest head
      {5, 8, 1, 13, 12, 2, 5, 0, QkNorm::kKOnly},
      // Long prefills, blocks scattered over a larger cache.
      {127, 8, 1, 128, 64, 20, 16, 3, QkNorm::kNone},  // GQA 8, partial rotary
      {127, 4, 4, 64, 64, 12, 16, 0, QkNorm::kBoth},   // MHA
      {127, 16, 4, 64, 32, 9, 16, 5, QkNorm::kBoth},   // GQA 4, half rotary
      {127, 7, 1, 40, 40, 130, 1, 2, QkNorm::kBoth},   // block_size 1, 7 heads
  };
  std::vector<OpCase> cases;
  for (const QkvShape& s : shapes) {
    const std::string name = absl::StrCat(
        "t", s.num_tokens, "_h", s.num_heads, "_kv", s.num_kv_heads, "_d", s.head_dim, "_rot",
        s.rotary_dim, "_bs", s.block_size, NormTag(s.norm), "_skip", s.num_skipped);
    // Qwen3's rms_norm_eps.
    const float eps = 1e-6f;
    cases.push_back(OpCase{
        .op = OpId::kQkvRopeWriteKv,
        .name = name,
        // Rope alone is elementwise (as the Rope cases); a norm first makes q or k a reduction.
        // v is a copy.
        .checks = {HasQNorm(s.norm) ? Check::kReduction : Check::kElementwise,
                   HasKNorm(s.norm) ? Check::kReduction : Check::kElementwise, Check::kExact},
        .make_inputs = [=] { return MakeQkvInputs(s, name); },
        .run =
            [=](Backend& b, const DeviceIo& io, const std::vector<Tensor>& in) {
              Tensor k_cache = io.to_device(in[kKCache]);
              Tensor v_cache = io.to_device(in[kVCache]);
              Tensor q_out = io.to_device(Poisoned({s.num_tokens, s.num_heads, s.head_dim}));
              const Tensor q_norm = io.to_device(in[kQNormW]);
              const Tensor k_norm = io.to_device(in[kKNormW]);
              b.QkvRopeWriteKv(
                  io.to_device(in[kQkv]), io.to_device(in[kPositions]), io.to_device(in[kCosSin]),
                  io.to_device(in[kSlots]), HasQNorm(s.norm) ? &q_norm : nullptr,
                  HasKNorm(s.norm) ? &k_norm : nullptr, eps, &q_out, &k_cache, &v_cache);
              return std::vector<Tensor>{io.to_host(q_out), io.to_host(k_cache),
                                         io.to_host(v_cache)};
            },
        .naive_f32 = [=](const std::vector<Tensor>& in) { return NaiveQkvRope(in, s, eps); },
    });
  }
  return cases;
}

}  // namespace brisk::conformance
