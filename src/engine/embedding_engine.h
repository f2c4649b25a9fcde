// EmbeddingEngine: dynamic batching of embedding requests over one Embedder (DESIGN.md §3,
// "encoders are scheduled by modality"), Triton-style: one engine thread takes queued inputs in
// arrival order into a batch of at most max_batch_inputs sequences and max_batch_tokens tokens,
// optionally waiting up to max_queue_delay_us for more to arrive once the first is there, runs
// the embedder, and hands each request its vectors when its last input is done. A request larger
// than one batch is split over consecutive batches; a single input longer than max_batch_tokens
// runs alone.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/embedding_client.h"
#include "models/embedder.h"

namespace brisk::engine {

struct EmbeddingEngineOptions {
  int max_batch_inputs = 64;
  int max_batch_tokens = 8192;
  // How long the first queued input waits for company; 0 (the default) batches only what piles
  // up while the previous batch runs, which never adds latency.
  int64_t max_queue_delay_us = 0;
  int max_waiting_requests = 1024;
};

struct EmbeddingEngineStats {
  int64_t batches = 0;
  int64_t inputs = 0;
  int64_t tokens = 0;
  int max_batch_inputs_seen = 0;
};

class EmbeddingEngine final : public EmbeddingClient {
 public:
  // `embedder` is not owned and must outlive the engine. Starts the engine thread.
  EmbeddingEngine(models::Embedder* embedder, EmbeddingEngineOptions options);
  // Shutdown(), then frees the engine.
  ~EmbeddingEngine() override;

  // Finishes every accepted request (queued ones are embedded and answered), then stops the
  // engine thread; afterwards Submit answers FailedPrecondition. Idempotent.
  void Shutdown();

  const EmbeddingInfo& info() const override { return info_; }
  absl::Status Submit(std::vector<std::vector<int32_t>> inputs,
                      std::function<void(EmbeddingResult)> done) override;

  EmbeddingEngineStats Stats() const;

 private:
  struct Request {
    std::vector<std::vector<int32_t>> inputs;
    std::function<void(EmbeddingResult)> done;
    EmbeddingResult result;
    size_t next_input = 0;      // inputs before this one are in a batch already
    size_t inputs_done = 0;
    int64_t submitted_us = 0;
    int64_t started_us = -1;
  };
  // A run of inputs of one request inside a batch.
  struct Slice {
    std::shared_ptr<Request> request;
    size_t first = 0;
    size_t count = 0;
  };

  void Loop();
  // Takes the next batch off queue_. REQUIRES: mu_ held, queue_ non-empty.
  std::vector<Slice> TakeBatchLocked(std::vector<std::vector<int32_t>>* batch);

  models::Embedder* const embedder_;
  const EmbeddingEngineOptions options_;
  EmbeddingInfo info_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::deque<std::shared_ptr<Request>> queue_;  // front: oldest, possibly partly taken
  bool stopping_ = false;
  EmbeddingEngineStats stats_;

  std::thread thread_;
};

}  // namespace brisk::engine
