// The BERT forward pass over a flattened batch and its pooling. Sequences are packed back to
// back with no padding; EncoderAttention keeps each sequence's attention inside its own rows,
// so batching changes nothing but float rounding. Pooling and normalization run on the host
// after one copy of the (pooled) hidden states. Embed is as thread-safe as the backend it runs
// on (one caller at a time for the CPU backends).
#include "models/bert/bert_model.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <vector>

namespace brisk::models {
namespace {

using backend::Backend;
using backend::OpId;
using tensor::DType;
using tensor::Tensor;

struct Linear {
  Tensor weight;  // [out, in] f32/bf16/f16
  Tensor bias;    // [out] f32
};

struct Norm {
  Tensor weight, bias;  // [hidden] f32
};

struct LayerWeights {
  Linear query, key, value;  // [hidden, hidden]
  Linear attention_out;      // [hidden, hidden]
  Norm attention_norm;
  Linear intermediate;       // [intermediate, hidden]
  Linear output;             // [hidden, intermediate]
  Norm output_norm;
};

// Reads BERT tensors under one name prefix ("" or "bert."), with the shape and dtype checks
// every weight needs.
class BertWeightReader {
 public:
  BertWeightReader(const loader::Checkpoint& checkpoint, Backend* backend, std::string prefix)
      : checkpoint_(checkpoint), backend_(backend), prefix_(std::move(prefix)) {}

  // A host f32 copy of a stored tensor of shape `shape`.
  absl::StatusOr<Tensor> HostF32(const std::string& name, const tensor::Shape& shape) const {
    BRISK_ASSIGN_OR_RETURN(Tensor t, checkpoint_.Get(prefix_ + name, shape,
                                                     {DType::kF32, DType::kBF16, DType::kF16}));
    return tensor::ToF32(t);
  }

  // A matrix used by `op`, kept in its stored dtype (zero copy on the CPU backends).
  absl::StatusOr<Tensor> Matrix(const std::string& name, int64_t rows, int64_t cols,
                                OpId op) const {
    const std::string full = prefix_ + name;
    BRISK_ASSIGN_OR_RETURN(Tensor t, checkpoint_.Get(full, {rows, cols},
                                                     {DType::kF32, DType::kBF16, DType::kF16}));
    if (!backend_->Supports(op, t.dtype())) {
      return absl::UnimplementedError(absl::StrCat(
          checkpoint_.dir(), ": tensor '", full, "' is ", std::string(tensor::DTypeName(t.dtype())),
          ", which the ", std::string(backend_->name()), " backend does not support for ",
          std::string(backend::OpName(op))));
    }
    return backend_->ToDevice(t);
  }

  absl::StatusOr<Linear> Dense(const std::string& name, int64_t out, int64_t in) const {
    Linear l;
    BRISK_ASSIGN_OR_RETURN(l.weight, Matrix(name + ".weight", out, in, OpId::kMatMul));
    BRISK_ASSIGN_OR_RETURN(Tensor bias, HostF32(name + ".bias", {out}));
    l.bias = backend_->ToDevice(bias);
    return l;
  }

  // A LayerNorm's scale and shift, stored as weight/bias or in the older gamma/beta spelling.
  absl::StatusOr<Norm> LayerNorm(const std::string& name, int64_t size) const {
    const bool old_spelling = !checkpoint_.Has(prefix_ + name + ".weight") &&
                              checkpoint_.Has(prefix_ + name + ".gamma");
    Norm n;
    BRISK_ASSIGN_OR_RETURN(Tensor w, HostF32(name + (old_spelling ? ".gamma" : ".weight"), {size}));
    BRISK_ASSIGN_OR_RETURN(Tensor b, HostF32(name + (old_spelling ? ".beta" : ".bias"), {size}));
    n.weight = backend_->ToDevice(w);
    n.bias = backend_->ToDevice(b);
    return n;
  }

 private:
  const loader::Checkpoint& checkpoint_;
  Backend* backend_;
  std::string prefix_;
};

// BertModel saves its tensors unprefixed; BertFor* heads nest it under "bert.".
absl::StatusOr<std::string> FindPrefix(const loader::Checkpoint& checkpoint) {
  for (const char* prefix : {"", "bert."}) {
    if (checkpoint.Has(absl::StrCat(prefix, "embeddings.word_embeddings.weight"))) return prefix;
  }
  return absl::NotFoundError(absl::StrCat(
      checkpoint.dir(), ": no BERT embeddings: neither 'embeddings.word_embeddings.weight' nor "
                        "'bert.embeddings.word_embeddings.weight' is in the checkpoint"));
}

class BertEmbedder final : public Embedder {
 public:
  BertEmbedder(loader::EncoderConfig config, const loader::EmbedderLayout& layout,
               Backend* backend)
      : config_(std::move(config)), backend_(backend) {
    info_.dimensions = config_.hidden_size;
    info_.max_tokens = std::min(config_.max_position_embeddings,
                                layout.max_seq_length.value_or(config_.max_position_embeddings));
    info_.pooling = layout.pooling == loader::EmbedderPooling::kMean ? Pooling::kMean
                                                                      : Pooling::kCls;
    info_.normalized = layout.normalize;
    info_.pad_token_id = config_.pad_token_id;
    info_.vocab_size = config_.vocab_size;
  }

  absl::Status Load(const loader::Checkpoint& checkpoint);

  const EmbedderInfo& info() const override { return info_; }
  absl::StatusOr<Tensor> Embed(const std::vector<std::vector<int32_t>>& batch) override;

 private:
  absl::Status CheckBackend() const;
  absl::Status LoadLayer(const BertWeightReader& reader, int layer_idx);
  absl::Status Validate(const std::vector<std::vector<int32_t>>& batch) const;
  // x · wᵀ + b into a new [rows, w.dim(0)] tensor.
  Tensor Apply(const Linear& l, const Tensor& x);
  // One encoder layer: h [num_tokens, hidden] -> [num_tokens, hidden].
  Tensor Layer(const LayerWeights& w, const Tensor& h, const Tensor& seq_starts, int max_seq_len);
  // Final hidden states [num_tokens, hidden] -> pooled (and normalized) [num_seqs, hidden] host.
  Tensor Pool(const Tensor& hidden, const std::vector<int32_t>& seq_starts);

  // Constant after Load.
  loader::EncoderConfig config_;
  EmbedderInfo info_;
  Backend* backend_;
  Tensor word_embeddings_;      // [vocab, hidden] f32/bf16/f16
  Tensor position_and_type0_;   // [max_position_embeddings, hidden] f32: position + type-0 rows
  Norm embedding_norm_;
  std::vector<LayerWeights> layers_;
};

absl::Status BertEmbedder::CheckBackend() const {
  for (OpId op : {OpId::kEmbedding, OpId::kAdd, OpId::kLayerNorm, OpId::kGelu,
                  OpId::kEncoderAttention}) {
    if (!backend_->Supports(op, DType::kF32)) {
      return absl::UnimplementedError(absl::StrCat("the ", std::string(backend_->name()),
                                                   " backend does not run ",
                                                   std::string(backend::OpName(op)),
                                                   ", which BERT encoders need"));
    }
  }
  return absl::OkStatus();
}

absl::Status BertEmbedder::LoadLayer(const BertWeightReader& reader, int i) {
  const int64_t hidden = config_.hidden_size, inter = config_.intermediate_size;
  const std::string p = absl::StrCat("encoder.layer.", i, ".");
  LayerWeights w;
  BRISK_ASSIGN_OR_RETURN(w.query, reader.Dense(p + "attention.self.query", hidden, hidden));
  BRISK_ASSIGN_OR_RETURN(w.key, reader.Dense(p + "attention.self.key", hidden, hidden));
  BRISK_ASSIGN_OR_RETURN(w.value, reader.Dense(p + "attention.self.value", hidden, hidden));
  BRISK_ASSIGN_OR_RETURN(w.attention_out, reader.Dense(p + "attention.output.dense", hidden, hidden));
  BRISK_ASSIGN_OR_RETURN(w.attention_norm, reader.LayerNorm(p + "attention.output.LayerNorm", hidden));
  BRISK_ASSIGN_OR_RETURN(w.intermediate, reader.Dense(p + "intermediate.dense", inter, hidden));
  BRISK_ASSIGN_OR_RETURN(w.output, reader.Dense(p + "output.dense", hidden, inter));
  BRISK_ASSIGN_OR_RETURN(w.output_norm, reader.LayerNorm(p + "output.LayerNorm", hidden));
  layers_.push_back(std::move(w));
  return absl::OkStatus();
}

absl::Status BertEmbedder::Load(const loader::Checkpoint& checkpoint) {
  BRISK_RETURN_IF_ERROR(CheckBackend());
  BRISK_ASSIGN_OR_RETURN(std::string prefix, FindPrefix(checkpoint));
  const BertWeightReader reader(checkpoint, backend_, prefix);
  const int64_t hidden = config_.hidden_size;
  BRISK_ASSIGN_OR_RETURN(word_embeddings_, reader.Matrix("embeddings.word_embeddings.weight",
                                                         config_.vocab_size, hidden,
                                                         OpId::kEmbedding));
  // Every token has token type 0, so its row is folded into the position table once here.
  BRISK_ASSIGN_OR_RETURN(Tensor positions,
                         reader.HostF32("embeddings.position_embeddings.weight",
                                        {config_.max_position_embeddings, hidden}));
  BRISK_ASSIGN_OR_RETURN(Tensor types, reader.HostF32("embeddings.token_type_embeddings.weight",
                                                      {config_.type_vocab_size, hidden}));
  float* table = positions.data<float>();
  const float* type0 = types.data<const float>();
  for (int64_t pos = 0; pos < config_.max_position_embeddings; ++pos) {
    for (int64_t d = 0; d < hidden; ++d) table[pos * hidden + d] += type0[d];
  }
  position_and_type0_ = backend_->ToDevice(positions);
  BRISK_ASSIGN_OR_RETURN(embedding_norm_, reader.LayerNorm("embeddings.LayerNorm", hidden));
  for (int i = 0; i < config_.num_hidden_layers; ++i) BRISK_RETURN_IF_ERROR(LoadLayer(reader, i));
  return absl::OkStatus();
}

absl::Status BertEmbedder::Validate(const std::vector<std::vector<int32_t>>& batch) const {
  for (size_t i = 0; i < batch.size(); ++i) {
    const std::vector<int32_t>& ids = batch[i];
    if (ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", i, " is empty"));
    }
    if (static_cast<int64_t>(ids.size()) > info_.max_tokens) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", i, " has ", ids.size(),
                                                     " tokens; this model accepts at most ",
                                                     info_.max_tokens));
    }
    for (size_t j = 0; j < ids.size(); ++j) {
      if (ids[j] < 0 || ids[j] >= config_.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence ", i, ", token ", j, ": id ", ids[j],
                         " is outside the vocabulary [0, ", config_.vocab_size, ")"));
      }
    }
  }
  return absl::OkStatus();
}

Tensor BertEmbedder::Apply(const Linear& l, const Tensor& x) {
  Tensor y = backend_->Allocate(DType::kF32, {x.dim(0), l.weight.dim(0)});
  backend_->MatMul(x, l.weight, &l.bias, &y);
  return y;
}

// Post-norm layer:
//   a = LayerNorm(h + dense(attention(q(h), k(h), v(h))))
//   out = LayerNorm(a + dense(gelu(dense(a))))
Tensor BertEmbedder::Layer(const LayerWeights& w, const Tensor& h, const Tensor& seq_starts,
                           int max_seq_len) {
  const int64_t num_tokens = h.dim(0);
  const int64_t heads = config_.num_attention_heads, head_dim = config_.head_dim;
  const float eps = static_cast<float>(config_.layer_norm_eps);
  const Tensor q = Apply(w.query, h).Reshape({num_tokens, heads, head_dim});
  const Tensor k = Apply(w.key, h).Reshape({num_tokens, heads, head_dim});
  const Tensor v = Apply(w.value, h).Reshape({num_tokens, heads, head_dim});
  Tensor context = backend_->Allocate(DType::kF32, {num_tokens, heads, head_dim});
  backend_->EncoderAttention(q, k, v, seq_starts, max_seq_len,
                             1.0f / std::sqrt(static_cast<float>(head_dim)), &context);
  Tensor a = Apply(w.attention_out, context.Reshape({num_tokens, heads * head_dim}));
  backend_->Add(a, h, &a);
  backend_->LayerNorm(a, w.attention_norm.weight, w.attention_norm.bias, eps, &a);
  Tensor inter = Apply(w.intermediate, a);
  backend_->Gelu(inter, config_.hidden_act == loader::GeluApproximation::kTanh, &inter);
  Tensor out = Apply(w.output, inter);
  backend_->Add(out, a, &out);
  backend_->LayerNorm(out, w.output_norm.weight, w.output_norm.bias, eps, &out);
  return out;
}

Tensor BertEmbedder::Pool(const Tensor& hidden, const std::vector<int32_t>& seq_starts) {
  const int64_t num_seqs = static_cast<int64_t>(seq_starts.size()) - 1;
  const int64_t dim = config_.hidden_size;
  Tensor result = Tensor::Empty(DType::kF32, {num_seqs, dim});
  float* out = result.data<float>();
  std::vector<double> acc(dim);
  if (info_.pooling == Pooling::kCls) {
    // Gather the first row of every sequence on the device; only those rows travel.
    Tensor rows = Tensor::Empty(DType::kI32, {num_seqs});
    std::copy(seq_starts.begin(), seq_starts.end() - 1, rows.data<int32_t>());
    Tensor cls = backend_->Allocate(DType::kF32, {num_seqs, dim});
    backend_->Embedding(hidden, backend_->ToDevice(rows), &cls);
    const Tensor host = backend_->ToHost(cls);
    std::copy(host.data<const float>(), host.data<const float>() + num_seqs * dim, out);
  } else {
    const Tensor host = backend_->ToHost(hidden);
    const float* h = host.data<const float>();
    for (int64_t s = 0; s < num_seqs; ++s) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t t = seq_starts[s]; t < seq_starts[s + 1]; ++t) {
        for (int64_t d = 0; d < dim; ++d) acc[d] += h[t * dim + d];
      }
      const double count = seq_starts[s + 1] - seq_starts[s];
      for (int64_t d = 0; d < dim; ++d) out[s * dim + d] = static_cast<float>(acc[d] / count);
    }
  }
  if (info_.normalized) {
    // x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize (sentence-transformers' Normalize).
    for (int64_t s = 0; s < num_seqs; ++s) {
      double sum_sq = 0;
      for (int64_t d = 0; d < dim; ++d) sum_sq += double{out[s * dim + d]} * out[s * dim + d];
      const double norm = std::max(std::sqrt(sum_sq), 1e-12);
      for (int64_t d = 0; d < dim; ++d) out[s * dim + d] = static_cast<float>(out[s * dim + d] / norm);
    }
  }
  return result;
}

absl::StatusOr<Tensor> BertEmbedder::Embed(const std::vector<std::vector<int32_t>>& batch) {
  BRISK_RETURN_IF_ERROR(Validate(batch));
  const int64_t num_seqs = static_cast<int64_t>(batch.size());
  if (num_seqs == 0) return Tensor::Empty(DType::kF32, {0, config_.hidden_size});
  // Flattened layout: sequence s owns rows [seq_starts[s], seq_starts[s + 1]).
  std::vector<int32_t> seq_starts = {0};
  int max_seq_len = 0;
  for (const auto& ids : batch) {
    seq_starts.push_back(seq_starts.back() + static_cast<int32_t>(ids.size()));
    max_seq_len = std::max(max_seq_len, static_cast<int>(ids.size()));
  }
  const int64_t num_tokens = seq_starts.back();
  Tensor ids = Tensor::Empty(DType::kI32, {num_tokens});      // [num_tokens]
  Tensor positions = Tensor::Empty(DType::kI32, {num_tokens});  // [num_tokens], 0.. per sequence
  Tensor starts = Tensor::Empty(DType::kI32, {num_seqs + 1});   // [num_seqs + 1]
  for (int64_t s = 0; s < num_seqs; ++s) {
    const std::vector<int32_t>& seq = batch[s];
    std::copy(seq.begin(), seq.end(), ids.data<int32_t>() + seq_starts[s]);
    for (size_t j = 0; j < seq.size(); ++j) {
      positions.data<int32_t>()[seq_starts[s] + j] = static_cast<int32_t>(j);
    }
  }
  std::copy(seq_starts.begin(), seq_starts.end(), starts.data<int32_t>());
  const Tensor device_starts = backend_->ToDevice(starts);

  const int64_t hidden = config_.hidden_size;
  Tensor h = backend_->Allocate(DType::kF32, {num_tokens, hidden});
  backend_->Embedding(word_embeddings_, backend_->ToDevice(ids), &h);
  Tensor pos = backend_->Allocate(DType::kF32, {num_tokens, hidden});
  backend_->Embedding(position_and_type0_, backend_->ToDevice(positions), &pos);
  backend_->Add(h, pos, &h);
  backend_->LayerNorm(h, embedding_norm_.weight, embedding_norm_.bias,
                      static_cast<float>(config_.layer_norm_eps), &h);
  for (const LayerWeights& w : layers_) h = Layer(w, h, device_starts, max_seq_len);
  return Pool(h, seq_starts);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Embedder>> LoadBertFamily(const loader::EncoderConfig& config,
                                                         const loader::EmbedderLayout& layout,
                                                         const loader::Checkpoint& checkpoint,
                                                         backend::Backend* backend) {
  if (layout.pooling_dimension.has_value() && *layout.pooling_dimension != config.hidden_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        checkpoint.dir(), ": the pooling module's word_embedding_dimension (",
        *layout.pooling_dimension, ") differs from the encoder's hidden_size (",
        config.hidden_size, ")"));
  }
  auto model = std::make_unique<BertEmbedder>(config, layout, backend);
  BRISK_RETURN_IF_ERROR(model->Load(checkpoint));
  return std::unique_ptr<Embedder>(std::move(model));
}

absl::StatusOr<std::unique_ptr<Embedder>> LoadBertEmbedder(const std::string& folder,
                                                           backend::Backend* backend) {
  BRISK_ASSIGN_OR_RETURN(loader::EmbedderLayout layout, loader::LoadEmbedderLayout(folder));
  BRISK_ASSIGN_OR_RETURN(loader::EncoderConfig config,
                         loader::LoadEncoderConfig(layout.transformer_dir));
  BRISK_ASSIGN_OR_RETURN(loader::Checkpoint checkpoint,
                         loader::Checkpoint::Open(layout.transformer_dir));
  return LoadBertFamily(config, layout, checkpoint, backend);
}

}  // namespace brisk::models
