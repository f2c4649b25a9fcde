// EmbeddingEngine: a queue of requests under one mutex; the engine thread cuts batches off its
// front, runs the embedder outside the lock, and completes requests whose last input is done.
#include "engine/embedding_engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/clock.h"

namespace brisk::engine {

EmbeddingEngine::EmbeddingEngine(models::Embedder* embedder, EmbeddingEngineOptions options)
    : embedder_(embedder), options_(options) {
  BRISK_CHECK(embedder_ != nullptr);
  BRISK_CHECK_GT(options_.max_batch_inputs, 0);
  BRISK_CHECK_GT(options_.max_batch_tokens, 0);
  const models::EmbedderInfo& e = embedder_->info();
  info_ = {.dimensions = e.dimensions, .max_tokens = e.max_tokens, .normalized = e.normalized};
  thread_ = std::thread([this] { Loop(); });
}

EmbeddingEngine::~EmbeddingEngine() { Shutdown(); }

void EmbeddingEngine::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status EmbeddingEngine::Submit(std::vector<std::vector<int32_t>> inputs,
                                     std::function<void(EmbeddingResult)> done) {
  if (inputs.empty()) return absl::InvalidArgumentError("no inputs to embed");
  const int vocab = embedder_->info().vocab_size;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int n = static_cast<int>(inputs[i].size());
    if (n == 0) return absl::InvalidArgumentError(absl::StrCat("input ", i, " is empty"));
    if (n > info_.max_tokens) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " has ", n, " tokens; this model takes at most ",
                       info_.max_tokens));
    }
    for (int32_t id : inputs[i]) {
      if (id < 0 || (vocab > 0 && id >= vocab)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input ", i, " holds token id ", id, ", outside the vocabulary [0, ", vocab, ")"));
      }
    }
  }
  auto request = std::make_shared<Request>();
  request->inputs = std::move(inputs);
  request->done = std::move(done);
  request->result.vectors.resize(request->inputs.size());
  request->submitted_us = base::NowMicros();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::FailedPreconditionError("the embedding engine is shutting down");
    if (static_cast<int>(queue_.size()) >= options_.max_waiting_requests) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the embedding queue is full (", options_.max_waiting_requests, " requests); retry"));
    }
    queue_.push_back(std::move(request));
  }
  cv_.notify_one();
  return absl::OkStatus();
}

EmbeddingEngineStats EmbeddingEngine::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<EmbeddingEngine::Slice> EmbeddingEngine::TakeBatchLocked(
    std::vector<std::vector<int32_t>>* batch) {
  std::vector<Slice> slices;
  int64_t tokens = 0;
  while (!queue_.empty() && static_cast<int>(batch->size()) < options_.max_batch_inputs) {
    const std::shared_ptr<Request>& r = queue_.front();
    Slice slice{.request = r, .first = r->next_input};
    while (r->next_input < r->inputs.size() &&
           static_cast<int>(batch->size()) < options_.max_batch_inputs) {
      const auto& input = r->inputs[r->next_input];
      const int64_t n = static_cast<int64_t>(input.size());
      // An input that alone exceeds the token budget still runs, in a batch of its own.
      if (!batch->empty() && tokens + n > options_.max_batch_tokens) break;
      batch->push_back(input);
      tokens += n;
      ++r->next_input;
      ++slice.count;
    }
    if (slice.count > 0) slices.push_back(slice);
    if (r->next_input < r->inputs.size()) break;  // the batch is full
    queue_.pop_front();
  }
  ++stats_.batches;
  stats_.inputs += static_cast<int64_t>(batch->size());
  stats_.tokens += tokens;
  stats_.max_batch_inputs_seen =
      std::max(stats_.max_batch_inputs_seen, static_cast<int>(batch->size()));
  return slices;
}

void EmbeddingEngine::Loop() {
  while (true) {
    std::vector<std::vector<int32_t>> batch;
    std::vector<Slice> slices;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted is done
      if (options_.max_queue_delay_us > 0 && !stopping_) {
        // Wait for company until the oldest request has waited max_queue_delay_us or a batch
        // fills up.
        const int64_t deadline_us = queue_.front()->submitted_us + options_.max_queue_delay_us;
        auto enough = [&] {
          size_t waiting = 0;
          for (const auto& r : queue_) waiting += r->inputs.size() - r->next_input;
          return stopping_ || static_cast<int>(waiting) >= options_.max_batch_inputs;
        };
        while (!enough()) {
          const int64_t left_us = deadline_us - base::NowMicros();
          if (left_us <= 0) break;
          cv_.wait_for(lock, std::chrono::microseconds(left_us));
        }
      }
      slices = TakeBatchLocked(&batch);
    }
    const int64_t start_us = base::NowMicros();
    for (Slice& s : slices) {
      if (s.request->started_us < 0) s.request->started_us = start_us;
    }
    absl::StatusOr<tensor::Tensor> vectors = embedder_->Embed(batch);
    const int64_t end_us = base::NowMicros();
    size_t row = 0;
    for (Slice& s : slices) {
      Request& r = *s.request;
      if (!vectors.ok()) {
        if (r.result.status.ok()) r.result.status = vectors.status();
      } else {
        const int dim = info_.dimensions;
        const float* data = vectors->data<float>();
        for (size_t i = 0; i < s.count; ++i) {
          const float* v = data + (row + i) * static_cast<size_t>(dim);
          r.result.vectors[s.first + i].assign(v, v + dim);
        }
      }
      row += s.count;
      r.inputs_done += s.count;
      if (r.inputs_done == r.inputs.size()) {
        r.result.queue_s = static_cast<double>(r.started_us - r.submitted_us) * 1e-6;
        r.result.compute_s = static_cast<double>(end_us - r.started_us) * 1e-6;
        if (!r.result.status.ok()) r.result.vectors.clear();
        r.done(std::move(r.result));
      }
    }
  }
}

}  // namespace brisk::engine
