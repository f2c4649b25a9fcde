// The interface every causal decoder implements: weights + forward(inputs, KV view) -> logits.
// A model owns its weights (zero-copy views of the checkpoint where the backend allows) and
// nothing else: the KV cache and the batch layout are the engine's.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "loader/decoder_config.h"
#include "tensor/tensor.h"

namespace brisk::models {

// One forward step over a flattened batch (see backend::AttentionMetadata for the layout).
struct ForwardInputs {
  tensor::Tensor token_ids;       // [num_tokens] i32
  tensor::Tensor positions;       // [num_tokens] i32
  tensor::Tensor slot_mapping;    // [num_tokens] i32: KV-cache slot of each token
  backend::AttentionMetadata attention;
  tensor::Tensor logits_indices;  // [num_logits] i32: rows whose logits are wanted
};

// The paged KV cache of all layers: k[l], v[l] are [num_blocks, block_size, num_kv_heads,
// head_dim] f32 on the model's backend.
struct KvCache {
  std::vector<tensor::Tensor> k;
  std::vector<tensor::Tensor> v;
  int num_blocks = 0;
  int block_size = 0;
};

class DecoderModel {
 public:
  virtual ~DecoderModel() = default;

  virtual const loader::DecoderConfig& config() const = 0;

  // Bytes of KV cache one token takes over all layers (for sizing the block pool).
  int64_t KvBytesPerToken() const {
    const auto& c = config();
    return int64_t{2} * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * sizeof(float);
  }

  // Allocates a KV cache of `num_blocks` blocks of `block_size` tokens on the model's backend.
  virtual KvCache AllocateKvCache(int num_blocks, int block_size) = 0;

  // The backend the model's weights live on and its ops run on.
  virtual backend::Backend* backend() const = 0;

  // Queues the decoder over `inputs`, whose tensors live on backend()'s device, writing the new
  // tokens' K and V into `kv` and the logits of the rows named by inputs.logits_indices into
  // `logits`: [num_logits, vocab_size] f32 on the device. It only queues ops and allocates only
  // scratch released before it returns, so a backend can record it (Backend::Record) and
  // replay it on the same input, cache and logits buffers.
  // REQUIRES: positions < config().max_position_embeddings, slots inside `kv`.
  virtual void ForwardOnDevice(const ForwardInputs& inputs, KvCache& kv,
                               tensor::Tensor* logits) = 0;

  // ForwardOnDevice over host `inputs`, returning the logits on the host:
  // [num_logits, vocab_size] f32. For tests and tools; the engine keeps logits on the device.
  tensor::Tensor Forward(const ForwardInputs& inputs, KvCache& kv);
};

// Copies of the host index tensors of `inputs` on `backend`'s device.
ForwardInputs InputsToDevice(const ForwardInputs& inputs, backend::Backend& backend);

}  // namespace brisk::models
