#include "models/llama/model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/layers/rope.h"

namespace brisk::models {
namespace {

using backend::Backend;
using backend::OpId;
using tensor::DType;
using tensor::Tensor;

// The projections that read the same input are stacked at load time, so each runs as one
// MatMul: q, k and v rows in one matrix, gate and up rows in another.
struct LayerWeights {
  Tensor input_norm;          // [hidden] f32
  Tensor qkv_proj;            // [q_dim + 2 * kv_dim, hidden] f32/bf16/f16
  std::optional<Tensor> qkv_bias;  // [q_dim + 2 * kv_dim] f32
  Tensor o_proj;              // [hidden, q_dim]
  std::optional<Tensor> o_bias;    // [hidden] f32
  std::optional<Tensor> q_norm, k_norm;   // [head_dim] f32 (Qwen3)
  Tensor post_attention_norm;  // [hidden] f32
  Tensor gate_up_proj;        // [2 * intermediate, hidden]
  std::optional<Tensor> gate_up_bias;  // [2 * intermediate] f32
  Tensor down_proj;           // [hidden, intermediate]
  std::optional<Tensor> down_bias;     // [hidden] f32
  int sliding_window = 0;
};

// Reads tensors of one checkpoint with the shape and dtype checks every weight needs.
class WeightReader {
 public:
  WeightReader(const loader::Checkpoint& checkpoint, Backend* backend)
      : checkpoint_(checkpoint), backend_(backend) {}

  // A matrix used by MatMul or Embedding, kept in its stored dtype (zero copy).
  absl::StatusOr<Tensor> Matrix(const std::string& name, int64_t rows, int64_t cols, OpId op) {
    BRISK_ASSIGN_OR_RETURN(Tensor t, HostMatrix(name, rows, cols, op));
    return backend_->ToDevice(t);  // the CPU backends keep the zero-copy view
  }

  // Matrices of one input size stacked by rows into one ([sum of rows, cols]), for a fused
  // projection that `op` runs. They must share a dtype.
  absl::StatusOr<Tensor> StackedMatrix(std::span<const std::string> names,
                                       std::span<const int64_t> rows, int64_t cols, OpId op) {
    std::vector<Tensor> parts;
    for (size_t i = 0; i < names.size(); ++i) {
      BRISK_ASSIGN_OR_RETURN(Tensor t, HostMatrix(names[i], rows[i], cols, op));
      if (!parts.empty() && t.dtype() != parts[0].dtype()) {
        return absl::UnimplementedError(absl::StrCat(
            checkpoint_.dir(), ": tensors '", names[0], "' and '", names[i],
            "' have different dtypes (", std::string(tensor::DTypeName(parts[0].dtype())),
            ", ", std::string(tensor::DTypeName(t.dtype())),
            "); they are fused into one projection and must match"));
      }
      parts.push_back(std::move(t));
    }
    return backend_->ConcatRowsToDevice(parts);
  }

  // A vector (norm scale or bias), converted to f32.
  absl::StatusOr<Tensor> Vector(const std::string& name, int64_t size) {
    BRISK_ASSIGN_OR_RETURN(Tensor t, HostVector(name, size));
    return backend_->ToDevice(t);
  }

  absl::StatusOr<std::optional<Tensor>> OptionalVector(bool present, const std::string& name,
                                                       int64_t size) {
    if (!present) return std::optional<Tensor>();
    BRISK_ASSIGN_OR_RETURN(Tensor t, Vector(name, size));
    return std::optional<Tensor>(std::move(t));
  }

  // Vectors concatenated into one f32 vector (the bias of a fused projection), or nothing when
  // `present` is false.
  absl::StatusOr<std::optional<Tensor>> OptionalStackedVector(bool present,
                                                              std::span<const std::string> names,
                                                              std::span<const int64_t> sizes) {
    if (!present) return std::optional<Tensor>();
    int64_t total = 0;
    for (int64_t n : sizes) total += n;
    Tensor all = Tensor::Empty(DType::kF32, {total});
    int64_t offset = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      BRISK_ASSIGN_OR_RETURN(Tensor t, HostVector(names[i], sizes[i]));
      std::copy_n(t.data<float>(), sizes[i], all.data<float>() + offset);
      offset += sizes[i];
    }
    return std::optional<Tensor>(backend_->ToDevice(all));
  }

 private:
  absl::StatusOr<Tensor> HostMatrix(const std::string& name, int64_t rows, int64_t cols, OpId op) {
    BRISK_ASSIGN_OR_RETURN(Tensor t, checkpoint_.Get(name, {rows, cols},
                                                     {DType::kF32, DType::kBF16, DType::kF16}));
    if (!backend_->Supports(op, t.dtype())) {
      return absl::UnimplementedError(absl::StrCat(
          checkpoint_.dir(), ": tensor '", name, "' is ",
          std::string(tensor::DTypeName(t.dtype())), ", which the ",
          std::string(backend_->name()), " backend does not support for ",
          std::string(backend::OpName(op))));
    }
    return t;
  }

  absl::StatusOr<Tensor> HostVector(const std::string& name, int64_t size) {
    BRISK_ASSIGN_OR_RETURN(Tensor t,
                           checkpoint_.Get(name, {size}, {DType::kF32, DType::kBF16, DType::kF16}));
    return tensor::ToF32(t);
  }

  const loader::Checkpoint& checkpoint_;
  Backend* backend_;
};

class LlamaFamilyModel final : public DecoderModel {
 public:
  LlamaFamilyModel(loader::DecoderConfig config, Backend* backend)
      : config_(std::move(config)), backend_(backend) {}

  absl::Status Load(const loader::Checkpoint& checkpoint);

  const loader::DecoderConfig& config() const override { return config_; }
  KvCache AllocateKvCache(int num_blocks, int block_size) override;
  Backend* backend() const override { return backend_; }
  void ForwardOnDevice(const ForwardInputs& inputs, KvCache& kv, Tensor* logits) override;

 private:
  absl::Status LoadLayer(WeightReader& reader, int layer_idx);
  // RmsNorm(x, norm) @ wᵀ + bias into a new [rows, w.dim(0)] scratch tensor.
  Tensor NormLinear(const Tensor& x, const Tensor& norm, const Tensor& w,
                    const std::optional<Tensor>& bias);
  // Attention block of one layer: residual [T, hidden] += o_proj(attention(norm(residual))).
  void Attention(const LayerWeights& w, int layer_idx, const ForwardInputs& inputs, KvCache& kv,
                 Tensor* residual);
  // MLP block: residual += down(silu(gate) * up) of norm(residual).
  void Mlp(const LayerWeights& w, Tensor* residual);

  // Constant after Load.
  loader::DecoderConfig config_;
  Backend* backend_;
  Tensor embed_tokens_;  // [vocab, hidden]
  Tensor lm_head_;       // [vocab, hidden] (the embedding when tied)
  Tensor final_norm_;    // [hidden] f32
  Tensor rope_table_;    // [max_position_embeddings, rotary_dim] f32
  std::vector<LayerWeights> layers_;
};

absl::Status LlamaFamilyModel::LoadLayer(WeightReader& reader, int i) {
  const auto& c = config_;
  const std::string p = absl::StrCat("model.layers.", i, ".");
  const int64_t q_dim = int64_t{c.num_attention_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.num_key_value_heads} * c.head_dim;
  LayerWeights w;
  BRISK_ASSIGN_OR_RETURN(w.input_norm, reader.Vector(p + "input_layernorm.weight", c.hidden_size));
  BRISK_ASSIGN_OR_RETURN(w.post_attention_norm,
                         reader.Vector(p + "post_attention_layernorm.weight", c.hidden_size));
  const std::string a = p + "self_attn.";
  const std::array<std::string, 3> qkv_names = {a + "q_proj.weight", a + "k_proj.weight",
                                                a + "v_proj.weight"};
  const std::array<std::string, 3> qkv_bias_names = {a + "q_proj.bias", a + "k_proj.bias",
                                                     a + "v_proj.bias"};
  const std::array<int64_t, 3> qkv_rows = {q_dim, kv_dim, kv_dim};
  BRISK_ASSIGN_OR_RETURN(w.qkv_proj, reader.StackedMatrix(qkv_names, qkv_rows, c.hidden_size,
                                                          OpId::kFusedMatMul));
  BRISK_ASSIGN_OR_RETURN(w.qkv_bias,
                         reader.OptionalStackedVector(c.attention_bias, qkv_bias_names, qkv_rows));
  BRISK_ASSIGN_OR_RETURN(
      w.o_proj, reader.Matrix(a + "o_proj.weight", c.hidden_size, q_dim, OpId::kFusedMatMul));
  BRISK_ASSIGN_OR_RETURN(w.o_bias, reader.OptionalVector(c.o_proj_bias, a + "o_proj.bias", c.hidden_size));
  BRISK_ASSIGN_OR_RETURN(w.q_norm, reader.OptionalVector(c.qk_norm, a + "q_norm.weight", c.head_dim));
  BRISK_ASSIGN_OR_RETURN(w.k_norm, reader.OptionalVector(c.qk_norm, a + "k_norm.weight", c.head_dim));
  const std::string m = p + "mlp.";
  const int64_t inter = c.intermediate_size;
  const std::array<std::string, 2> gate_up_names = {m + "gate_proj.weight", m + "up_proj.weight"};
  const std::array<std::string, 2> gate_up_bias_names = {m + "gate_proj.bias", m + "up_proj.bias"};
  const std::array<int64_t, 2> gate_up_rows = {inter, inter};
  BRISK_ASSIGN_OR_RETURN(w.gate_up_proj,
                         reader.StackedMatrix(gate_up_names, gate_up_rows, c.hidden_size,
                                              OpId::kSwiGluMlp));
  BRISK_ASSIGN_OR_RETURN(w.gate_up_bias, reader.OptionalStackedVector(
                                             c.mlp_bias, gate_up_bias_names, gate_up_rows));
  BRISK_ASSIGN_OR_RETURN(
      w.down_proj, reader.Matrix(m + "down_proj.weight", c.hidden_size, inter, OpId::kSwiGluMlp));
  BRISK_ASSIGN_OR_RETURN(w.down_bias, reader.OptionalVector(c.mlp_bias, m + "down_proj.bias", c.hidden_size));
  w.sliding_window = c.sliding_window.empty() ? 0 : c.sliding_window[i];
  layers_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status LlamaFamilyModel::Load(const loader::Checkpoint& checkpoint) {
  const auto& c = config_;
  WeightReader reader(checkpoint, backend_);
  BRISK_ASSIGN_OR_RETURN(embed_tokens_, reader.Matrix("model.embed_tokens.weight", c.vocab_size,
                                                      c.hidden_size, OpId::kEmbedding));
  if (c.tie_word_embeddings) {
    lm_head_ = embed_tokens_;
    if (!backend_->Supports(OpId::kFusedMatMul, lm_head_.dtype())) {
      return absl::UnimplementedError("tied lm_head dtype not supported by the backend's matmul");
    }
  } else {
    BRISK_ASSIGN_OR_RETURN(lm_head_, reader.Matrix("lm_head.weight", c.vocab_size, c.hidden_size,
                                                   OpId::kFusedMatMul));
  }
  BRISK_ASSIGN_OR_RETURN(final_norm_, reader.Vector("model.norm.weight", c.hidden_size));
  for (int i = 0; i < c.num_hidden_layers; ++i) BRISK_RETURN_IF_ERROR(LoadLayer(reader, i));
  BRISK_ASSIGN_OR_RETURN(RopeFrequencies freqs,
                         ComputeRopeFrequencies(c.rope, c.head_dim, c.max_position_embeddings));
  rope_table_ = backend_->ToDevice(BuildRopeTable(freqs, c.max_position_embeddings));
  return absl::OkStatus();
}

KvCache LlamaFamilyModel::AllocateKvCache(int num_blocks, int block_size) {
  KvCache kv;
  kv.num_blocks = num_blocks;
  kv.block_size = block_size;
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    tensor::Shape shape = {num_blocks, block_size, config_.num_key_value_heads, config_.head_dim};
    kv.k.push_back(backend_->Allocate(DType::kF32, shape));
    kv.v.push_back(backend_->Allocate(DType::kF32, shape));
  }
  return kv;
}

Tensor LlamaFamilyModel::NormLinear(const Tensor& x, const Tensor& norm, const Tensor& w,
                                    const std::optional<Tensor>& bias) {
  Tensor y = backend_->AllocateScratch(DType::kF32, {x.dim(0), w.dim(0)});
  backend_->FusedMatMul(x, w, bias ? &*bias : nullptr,
                        {.prologue = backend::MatMulPrologue::kRmsNorm,
                         .norm_weight = &norm,
                         .eps = static_cast<float>(config_.rms_norm_eps)},
                        &y);
  return y;
}

void LlamaFamilyModel::Attention(const LayerWeights& w, int layer_idx, const ForwardInputs& inputs,
                                 KvCache& kv, Tensor* residual) {
  const auto& c = config_;
  const int64_t num_tokens = residual->dim(0);
  const Tensor qkv = NormLinear(*residual, w.input_norm, w.qkv_proj, w.qkv_bias);
  Tensor attn =
      backend_->AllocateScratch(DType::kF32, {num_tokens, c.num_attention_heads, c.head_dim});
  backend::AttentionParams params{.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                                  .sliding_window = w.sliding_window};
  backend_->QkvRopeAttention(qkv, inputs.positions, rope_table_, inputs.slot_mapping,
                             w.q_norm ? &*w.q_norm : nullptr, w.k_norm ? &*w.k_norm : nullptr,
                             static_cast<float>(c.rms_norm_eps), &kv.k[layer_idx],
                             &kv.v[layer_idx], inputs.attention, params, &attn);
  backend_->FusedMatMul(attn.Reshape({num_tokens, int64_t{c.num_attention_heads} * c.head_dim}),
                        w.o_proj, w.o_bias ? &*w.o_bias : nullptr, {.accumulate = true}, residual);
}

void LlamaFamilyModel::Mlp(const LayerWeights& w, Tensor* residual) {
  backend_->SwiGluMlp(residual, w.post_attention_norm, static_cast<float>(config_.rms_norm_eps),
                      w.gate_up_proj, w.gate_up_bias ? &*w.gate_up_bias : nullptr, w.down_proj,
                      w.down_bias ? &*w.down_bias : nullptr);
}

// Pre-norm residual stream:
//   residual = embed(ids)
//   per layer: residual += attn(norm(residual)); residual += mlp(norm(residual))
//   logits = lm_head(norm(residual[logits_indices]))
// Each norm rides in the FusedMatMul of the projection that reads it, each residual add in the
// FusedMatMul of the projection that produces it, and SwiGLU in the down projection's (the MLP
// is one SwiGluMlp op, by default two FusedMatMuls): a backend that fuses them (the GPU's
// decode GEMV) runs four matrix kernels and the attention per layer (QkvRopeAttention: on
// decode rows the attention kernel rotates q and k itself).
void LlamaFamilyModel::ForwardOnDevice(const ForwardInputs& inputs, KvCache& kv, Tensor* logits) {
  const auto& c = config_;
  const int64_t num_tokens = inputs.token_ids.dim(0);
  Tensor residual = backend_->AllocateScratch(DType::kF32, {num_tokens, c.hidden_size});
  backend_->Embedding(embed_tokens_, inputs.token_ids, &residual);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    Attention(layers_[l], l, inputs, kv, &residual);
    Mlp(layers_[l], &residual);
  }
  // Only the requested rows reach the vocabulary projection: gather them first (the norm is
  // per row, so it can follow the gather).
  const int64_t num_logits = inputs.logits_indices.dim(0);
  BRISK_CHECK(logits->rank() == 2 && logits->dim(0) == num_logits && logits->dim(1) == c.vocab_size)
      << "logits " << tensor::ShapeToString(logits->shape()) << " for " << num_logits << " rows";
  Tensor selected = backend_->AllocateScratch(DType::kF32, {num_logits, c.hidden_size});
  backend_->Embedding(residual, inputs.logits_indices, &selected);
  backend_->FusedMatMul(selected, lm_head_, nullptr,
                        {.prologue = backend::MatMulPrologue::kRmsNorm,
                         .norm_weight = &final_norm_,
                         .eps = static_cast<float>(c.rms_norm_eps)},
                        logits);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DecoderModel>> LoadLlamaFamily(const loader::DecoderConfig& config,
                                                              const loader::Checkpoint& checkpoint,
                                                              backend::Backend* backend) {
  auto model = std::make_unique<LlamaFamilyModel>(config, backend);
  BRISK_RETURN_IF_ERROR(model->Load(checkpoint));
  return std::unique_ptr<DecoderModel>(std::move(model));
}

}  // namespace brisk::models
