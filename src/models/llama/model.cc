#include "models/llama/model.h"

#include <cmath>
#include <optional>
#include <string>

#include "models/layers/rope.h"

namespace brisk::models {
namespace {

using backend::Backend;
using backend::OpId;
using tensor::DType;
using tensor::Tensor;

struct LayerWeights {
  Tensor input_norm;          // [hidden] f32
  Tensor q_proj, k_proj, v_proj, o_proj;  // [out, in] f32/bf16/f16
  std::optional<Tensor> q_bias, k_bias, v_bias, o_bias;  // [out] f32
  std::optional<Tensor> q_norm, k_norm;   // [head_dim] f32 (Qwen3)
  Tensor post_attention_norm;  // [hidden] f32
  Tensor gate_proj, up_proj, down_proj;
  std::optional<Tensor> gate_bias, up_bias, down_bias;
  int sliding_window = 0;
};

// Reads tensors of one checkpoint with the shape and dtype checks every weight needs.
class WeightReader {
 public:
  WeightReader(const loader::Checkpoint& checkpoint, Backend* backend)
      : checkpoint_(checkpoint), backend_(backend) {}

  // A matrix used by MatMul or Embedding, kept in its stored dtype (zero copy).
  absl::StatusOr<Tensor> Matrix(const std::string& name, int64_t rows, int64_t cols, OpId op) {
    BRISK_ASSIGN_OR_RETURN(Tensor t, checkpoint_.Get(name, {rows, cols},
                                                     {DType::kF32, DType::kBF16, DType::kF16}));
    if (!backend_->Supports(op, t.dtype())) {
      return absl::UnimplementedError(absl::StrCat(
          checkpoint_.dir(), ": tensor '", name, "' is ",
          std::string(tensor::DTypeName(t.dtype())), ", which the ",
          std::string(backend_->name()), " backend does not support for ",
          std::string(backend::OpName(op))));
    }
    return backend_->ToDevice(t);  // the CPU backends keep the zero-copy view
  }

  // A vector (norm scale or bias), converted to f32.
  absl::StatusOr<Tensor> Vector(const std::string& name, int64_t size) {
    BRISK_ASSIGN_OR_RETURN(Tensor t,
                           checkpoint_.Get(name, {size}, {DType::kF32, DType::kBF16, DType::kF16}));
    return backend_->ToDevice(tensor::ToF32(t));
  }

  absl::StatusOr<std::optional<Tensor>> OptionalVector(bool present, const std::string& name,
                                                       int64_t size) {
    if (!present) return std::optional<Tensor>();
    BRISK_ASSIGN_OR_RETURN(Tensor t, Vector(name, size));
    return std::optional<Tensor>(std::move(t));
  }

 private:
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
  Tensor Forward(const ForwardInputs& inputs, KvCache& kv) override;

 private:
  absl::Status LoadLayer(WeightReader& reader, int layer_idx);
  // x @ wᵀ + bias into a new [rows, w.dim(0)] tensor.
  Tensor Linear(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias);
  // Attention block of one layer: h [T, hidden] -> o [T, hidden].
  Tensor Attention(const LayerWeights& w, int layer_idx, const Tensor& h,
                   const ForwardInputs& inputs, KvCache& kv);
  Tensor Mlp(const LayerWeights& w, const Tensor& h);
  // Copies of the step's host index tensors on the backend's device.
  ForwardInputs ToDevice(const ForwardInputs& host_inputs) const;

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
  BRISK_ASSIGN_OR_RETURN(w.q_proj, reader.Matrix(a + "q_proj.weight", q_dim, c.hidden_size, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.k_proj, reader.Matrix(a + "k_proj.weight", kv_dim, c.hidden_size, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.v_proj, reader.Matrix(a + "v_proj.weight", kv_dim, c.hidden_size, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.o_proj, reader.Matrix(a + "o_proj.weight", c.hidden_size, q_dim, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.q_bias, reader.OptionalVector(c.attention_bias, a + "q_proj.bias", q_dim));
  BRISK_ASSIGN_OR_RETURN(w.k_bias, reader.OptionalVector(c.attention_bias, a + "k_proj.bias", kv_dim));
  BRISK_ASSIGN_OR_RETURN(w.v_bias, reader.OptionalVector(c.attention_bias, a + "v_proj.bias", kv_dim));
  BRISK_ASSIGN_OR_RETURN(w.o_bias, reader.OptionalVector(c.o_proj_bias, a + "o_proj.bias", c.hidden_size));
  BRISK_ASSIGN_OR_RETURN(w.q_norm, reader.OptionalVector(c.qk_norm, a + "q_norm.weight", c.head_dim));
  BRISK_ASSIGN_OR_RETURN(w.k_norm, reader.OptionalVector(c.qk_norm, a + "k_norm.weight", c.head_dim));
  const std::string m = p + "mlp.";
  const int64_t inter = c.intermediate_size;
  BRISK_ASSIGN_OR_RETURN(w.gate_proj, reader.Matrix(m + "gate_proj.weight", inter, c.hidden_size, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.up_proj, reader.Matrix(m + "up_proj.weight", inter, c.hidden_size, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.down_proj, reader.Matrix(m + "down_proj.weight", c.hidden_size, inter, OpId::kMatMul));
  BRISK_ASSIGN_OR_RETURN(w.gate_bias, reader.OptionalVector(c.mlp_bias, m + "gate_proj.bias", inter));
  BRISK_ASSIGN_OR_RETURN(w.up_bias, reader.OptionalVector(c.mlp_bias, m + "up_proj.bias", inter));
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
    if (!backend_->Supports(OpId::kMatMul, lm_head_.dtype())) {
      return absl::UnimplementedError("tied lm_head dtype not supported by the backend's matmul");
    }
  } else {
    BRISK_ASSIGN_OR_RETURN(lm_head_, reader.Matrix("lm_head.weight", c.vocab_size, c.hidden_size,
                                                   OpId::kMatMul));
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

Tensor LlamaFamilyModel::Linear(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias) {
  Tensor y = backend_->Allocate(DType::kF32, {x.dim(0), w.dim(0)});
  backend_->MatMul(x, w, bias ? &*bias : nullptr, &y);
  return y;
}

Tensor LlamaFamilyModel::Attention(const LayerWeights& w, int layer_idx, const Tensor& h,
                                   const ForwardInputs& inputs, KvCache& kv) {
  const auto& c = config_;
  const int64_t num_tokens = h.dim(0);
  Tensor q = Linear(h, w.q_proj, w.q_bias).Reshape({num_tokens, c.num_attention_heads, c.head_dim});
  Tensor k = Linear(h, w.k_proj, w.k_bias).Reshape({num_tokens, c.num_key_value_heads, c.head_dim});
  Tensor v = Linear(h, w.v_proj, w.v_bias).Reshape({num_tokens, c.num_key_value_heads, c.head_dim});
  if (c.qk_norm) {
    Tensor q_rows = q.Reshape({num_tokens * c.num_attention_heads, c.head_dim});
    Tensor k_rows = k.Reshape({num_tokens * c.num_key_value_heads, c.head_dim});
    backend_->RmsNorm(q_rows, *w.q_norm, static_cast<float>(c.rms_norm_eps), &q_rows);
    backend_->RmsNorm(k_rows, *w.k_norm, static_cast<float>(c.rms_norm_eps), &k_rows);
  }
  backend_->Rope(&q, inputs.positions, rope_table_);
  backend_->Rope(&k, inputs.positions, rope_table_);
  backend_->WriteKvCache(k, v, inputs.slot_mapping, &kv.k[layer_idx], &kv.v[layer_idx]);
  Tensor attn = backend_->Allocate(DType::kF32, q.shape());
  backend::AttentionParams params{.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim)),
                                  .sliding_window = w.sliding_window};
  backend_->PagedAttention(q, kv.k[layer_idx], kv.v[layer_idx], inputs.attention, params, &attn);
  return Linear(attn.Reshape({num_tokens, int64_t{c.num_attention_heads} * c.head_dim}), w.o_proj,
                w.o_bias);
}

Tensor LlamaFamilyModel::Mlp(const LayerWeights& w, const Tensor& h) {
  Tensor gate = Linear(h, w.gate_proj, w.gate_bias);
  Tensor up = Linear(h, w.up_proj, w.up_bias);
  backend_->SiluMul(gate, up, &gate);
  return Linear(gate, w.down_proj, w.down_bias);
}

// Pre-norm residual stream:
//   residual = embed(ids)
//   per layer: h = norm(residual); residual += attn(h); h = norm(residual); residual += mlp(h)
//   logits = lm_head(norm(residual)[logits_indices])
// AddRmsNorm fuses each "residual += x; h = norm(residual)" pair.
Tensor LlamaFamilyModel::Forward(const ForwardInputs& host_inputs, KvCache& kv) {
  const auto& c = config_;
  // The step's index tensors go to the device once (the CPU backends share them).
  const ForwardInputs inputs = ToDevice(host_inputs);
  const float eps = static_cast<float>(c.rms_norm_eps);
  const int64_t num_tokens = inputs.token_ids.dim(0);
  Tensor residual = backend_->Allocate(DType::kF32, {num_tokens, c.hidden_size});
  backend_->Embedding(embed_tokens_, inputs.token_ids, &residual);
  Tensor h = backend_->Allocate(DType::kF32, {num_tokens, c.hidden_size});
  backend_->RmsNorm(residual, layers_[0].input_norm, eps, &h);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& w = layers_[l];
    Tensor attn_out = Attention(w, l, h, inputs, kv);
    backend_->AddRmsNorm(&residual, attn_out, w.post_attention_norm, eps, &h);
    Tensor mlp_out = Mlp(w, h);
    const Tensor& next_norm = l + 1 < c.num_hidden_layers ? layers_[l + 1].input_norm : final_norm_;
    backend_->AddRmsNorm(&residual, mlp_out, next_norm, eps, &h);
  }
  // Only the requested rows reach the vocabulary projection: gather them first.
  const int64_t num_logits = inputs.logits_indices.dim(0);
  Tensor selected = backend_->Allocate(DType::kF32, {num_logits, c.hidden_size});
  backend_->Embedding(h, inputs.logits_indices, &selected);
  return backend_->ToHost(Linear(selected, lm_head_, std::nullopt));
}

ForwardInputs LlamaFamilyModel::ToDevice(const ForwardInputs& in) const {
  ForwardInputs out;
  out.token_ids = backend_->ToDevice(in.token_ids);
  out.positions = backend_->ToDevice(in.positions);
  out.slot_mapping = backend_->ToDevice(in.slot_mapping);
  out.logits_indices = backend_->ToDevice(in.logits_indices);
  out.attention.query_start_loc = backend_->ToDevice(in.attention.query_start_loc);
  out.attention.context_lens = backend_->ToDevice(in.attention.context_lens);
  out.attention.block_tables = backend_->ToDevice(in.attention.block_tables);
  out.attention.max_query_len = in.attention.max_query_len;
  out.attention.max_context_len = in.attention.max_context_len;
  return out;
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
