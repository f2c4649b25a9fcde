// EmbeddingClient: how the serving front (api/, cache/) reaches an embedder (DESIGN.md rule 4).
// A client submits tokenized inputs and receives every vector at once through a callback, called
// exactly once per accepted Submit, on the embedding engine's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"

namespace brisk::engine {

struct EmbeddingInfo {
  int dimensions = 0;   // length of every vector
  int max_tokens = 0;   // longest input accepted, special tokens included
  bool normalized = false;  // vectors have unit L2 norm
};

struct EmbeddingResult {
  absl::Status status;                     // not OK: no vectors
  std::vector<std::vector<float>> vectors; // one per input, in order
  double queue_s = 0;    // submit -> first batch of this request started
  double compute_s = 0;  // first batch started -> last batch finished
};

class EmbeddingClient {
 public:
  virtual ~EmbeddingClient() = default;

  virtual const EmbeddingInfo& info() const = 0;

  // Queues `inputs` (each non-empty, at most info().max_tokens ids, special tokens included) and
  // later calls `done` with their vectors. Inputs of concurrent requests share batches; batching
  // never changes a vector beyond float rounding. Errors: ResourceExhausted when the queue is
  // full, FailedPrecondition after shutdown began; InvalidArgument for empty or over-long
  // inputs (naming the input's index). `done` is not called when Submit fails.
  virtual absl::Status Submit(std::vector<std::vector<int32_t>> inputs,
                              std::function<void(EmbeddingResult)> done) = 0;
};

}  // namespace brisk::engine
