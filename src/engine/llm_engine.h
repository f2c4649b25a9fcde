// LlmEngine: continuous batching of one decoder on one engine thread (DESIGN.md §3).
//
// Each step: take new requests and aborts from the inbox, let the Scheduler plan the step
// (chunks of requests catching up with their tokens under a token budget), run one forward over
// the flattened chunks through the paged KV cache, sample one token for every chunk that
// reached its request's end, commit the step to the scheduler, and hand the new tokens to the
// requests' callbacks. Submit and Abort only touch the inbox under a mutex, so callers on
// any thread never wait for a forward pass.
//
//   Submit/Abort ─► inbox_ (mu_) ─► engine thread: Scheduler ─► Forward ─► Sample ─► callbacks
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine_client.h"
#include "engine/step_runner.h"
#include "kvcache/kv_cache_manager.h"
#include "metrics/serving_stats.h"
#include "models/decoder_model.h"
#include "sampling/sampler.h"
#include "scheduler/scheduler.h"

namespace brisk::engine {

struct LlmEngineOptions {
  std::string model_name = "model";  // the name clients use in the `model` field
  int block_size = 16;               // tokens per KV block (DESIGN.md §3)
  int64_t kv_cache_bytes = int64_t{512} << 20;  // memory of the preallocated block pool
  // Tokens one step computes over all requests. Smaller keeps inter-token latency steady while
  // long prompts prefill (they are chunked); larger prefills faster.
  int max_num_batched_tokens = 512;
  int max_num_seqs = 64;   // requests in one batch at most
  int max_waiting = 256;   // queued (not yet running) requests before Submit answers 429
  // Prompt + output tokens at most; 0: the model's max_position_embeddings. Lower it to serve a
  // long-context model from a KV cache that cannot hold its whole context.
  int max_model_len = 0;
  kvcache::PrefixCaching prefix_caching = kvcache::PrefixCaching::kEnabled;
  // Replay decode steps of up to max_num_seqs sequences from graphs recorded per batch size,
  // where the backend can record (CUDA); false runs every op from the host (for comparisons).
  bool decode_graphs = true;
};

// Called on the engine thread after every step; must be quick.
using StepObserver = std::function<void(const metrics::StepStats&)>;

class LlmEngine final : public EngineClient {
 public:
  // Sizes the block pool from options.kv_cache_bytes and starts the engine thread.
  // InvalidArgument when an option is out of range or the memory holds no full-context sequence
  // (the error says how much is needed). REQUIRES: `model` outlives the engine.
  static absl::StatusOr<std::unique_ptr<LlmEngine>> Create(models::DecoderModel* model,
                                                           const LlmEngineOptions& options,
                                                           StepObserver on_step = nullptr);
  // Shutdown(), then frees the engine.
  ~LlmEngine() override;

  // Stops the engine thread after finishing every live request with a kAborted output (its last
  // output, delivered through the callback). Afterwards Submit answers Unavailable and Abort does
  // nothing, so clients may keep calling both until the engine is destroyed. Idempotent.
  void Shutdown();

  absl::StatusOr<int64_t> Submit(EngineRequest request, OutputCallback on_output) override;
  void Abort(int64_t request_id) override;
  const EngineInfo& info() const override { return info_; }
  metrics::EngineGauges Gauges() const override;

  const LlmEngineOptions& options() const { return options_; }
  int num_kv_blocks() const { return num_kv_blocks_; }

 private:
  struct Live;  // per-request state on the engine thread

  LlmEngine(models::DecoderModel* model, const LlmEngineOptions& options, int num_kv_blocks,
            StepObserver on_step);
  absl::Status Validate(const EngineRequest& request) const;
  void Run();
  // Moves the inbox into the scheduler; returns false when the engine should stop.
  bool TakeInbox();
  void Step();
  // Samples the chunks of `plan` that end a request; returns them in plan order.
  // On the device when no sampled row needs the host (logprobs, penalties).
  std::vector<scheduler::SampledToken> SampleStep(const scheduler::StepPlan& plan,
                                                  std::vector<TokenLogprobs>& logprobs);
  void Deliver(Live& live, EngineOutput output);
  void Finish(const scheduler::FinishedRequest& finished, EngineOutput output);
  void AbortAllLive();
  void PublishGauges();

  // Constant after construction.
  models::DecoderModel* model_;
  const LlmEngineOptions options_;
  const int num_kv_blocks_;
  EngineInfo info_;
  StepObserver on_step_;

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Pending {
    int64_t request_id;
    EngineRequest request;
    OutputCallback on_output;
    int64_t arrival_us;
  };
  std::vector<Pending> inbox_;
  std::vector<int64_t> abort_inbox_;
  bool stopping_ = false;
  int num_waiting_ = 0;  // scheduler's waiting requests as of the last step
  metrics::EngineGauges gauges_;

  std::atomic<int64_t> next_request_id_{1};

  // Owned by the engine thread.
  scheduler::Scheduler scheduler_;
  models::KvCache kv_;
  std::unique_ptr<StepRunner> runner_;
  std::unordered_map<int64_t, std::unique_ptr<Live>> live_;
  std::vector<int32_t> logprob_scratch_;
  std::vector<float> row_copy_;

  std::thread thread_;  // last: starts after everything above is built
};

}  // namespace brisk::engine
