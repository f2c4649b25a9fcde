// The interface every text embedder implements (BERT-family encoders with pooling): weights +
// forward(batch of token sequences) -> one vector per sequence. Tokenization is the caller's: an
// embedder sees token ids only, already wrapped in the special tokens its tokenizer adds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tensor/tensor.h"

namespace brisk::models {

enum class Pooling {
  kCls,   // the first token's final hidden state
  kMean,  // the mean of every token's final hidden state
};

struct EmbedderInfo {
  int dimensions = 0;            // length of every returned vector
  int max_tokens = 0;            // longest sequence accepted (max_position_embeddings)
  int vocab_size = 0;            // ids must lie in [0, vocab_size)
  Pooling pooling = Pooling::kCls;
  bool normalized = false;       // vectors have unit L2 norm
  int pad_token_id = 0;
};

class Embedder {
 public:
  virtual ~Embedder() = default;

  virtual const EmbedderInfo& info() const = 0;

  // Embeds each sequence of `batch` independently of the others (batching never changes a
  // vector beyond float rounding). Returns [batch.size(), info().dimensions] f32 on the host.
  // Errors: InvalidArgument for an empty sequence, one longer than info().max_tokens, or an id
  // outside the vocabulary (naming the sequence).
  virtual absl::StatusOr<tensor::Tensor> Embed(
      const std::vector<std::vector<int32_t>>& batch) = 0;
};

}  // namespace brisk::models
