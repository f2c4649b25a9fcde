// EngineClient: the only way the serving front (api/, cache/, router/, workflow/) reaches an
// engine (DESIGN.md rule 4). A client submits a tokenized request and receives its tokens as a
// stream of EngineOutputs through a callback; it may abort at any time. Outputs of one request
// arrive in order, on the engine's thread, and the last one has `finished` set. Exactly one
// finished output is delivered for every request that Submit accepted, aborted or not.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics/serving_stats.h"
#include "sampling/sampling_params.h"

namespace brisk::engine {

// Most alternatives a request may ask for per token (the OpenAI API's top_logprobs limit).
inline constexpr int kMaxTopLogprobs = 20;

struct EngineRequest {
  std::vector<int32_t> prompt_token_ids;  // [num_prompt_tokens], non-empty
  // max_tokens, seed, penalties, stop_token_ids; the engine adds the model's end-of-sequence
  // ids unless ignore_eos. Stop strings are the caller's (it sees text; the engine sees ids).
  sampling::SamplingParams params;
  int priority = 0;           // lower runs first; ties by arrival
  int num_top_logprobs = -1;  // -1: no logprobs; 0..kMaxTopLogprobs: the sampled token's
                              // logprob plus this many most likely alternatives
  std::string tenant;         // salts the prefix cache and labels metrics; may be empty
};

struct TopLogprob {
  int32_t token_id = 0;
  float logprob = 0;
};

// Log-probabilities under the model's raw distribution (before penalties and temperature).
struct TokenLogprobs {
  int32_t token_id = 0;
  float logprob = 0;
  std::vector<TopLogprob> top;  // most likely first; ties by token id
};

enum class FinishReason { kNone, kStop, kLength, kAborted };

struct EngineOutput {
  int64_t request_id = 0;
  std::vector<int32_t> new_token_ids;  // sampled since the previous output; may be empty
  std::vector<TokenLogprobs> logprobs; // parallel to new_token_ids when logprobs were asked for
  int num_cached_tokens = 0;  // prompt tokens taken from the prefix cache at admission
  bool finished = false;
  FinishReason finish_reason = FinishReason::kNone;  // set when finished
  // Filled when finished; the first output with a token already has queue_s, prefill_s and
  // ttft_s.
  metrics::RequestStats stats;
};

// Called on the engine thread; must be quick and must not call back into the engine except
// Abort. It receives outputs of one request in order.
using OutputCallback = std::function<void(EngineOutput output)>;

struct EngineInfo {
  std::string model_name;
  int max_model_len = 0;  // prompt + output tokens at most
  int vocab_size = 0;
  int max_waiting = 0;    // queued requests beyond which Submit answers ResourceExhausted
};

class EngineClient {
 public:
  virtual ~EngineClient() = default;

  // Queues a request and returns its id. Errors, with nothing queued: InvalidArgument naming
  // the numbers for an empty prompt, a token id outside the vocabulary, invalid sampling
  // parameters, prompt + max_tokens beyond max_model_len or beyond the whole KV cache;
  // ResourceExhausted when max_waiting requests already wait (retry later); Unavailable when
  // the engine is shutting down. Thread-safe.
  virtual absl::StatusOr<int64_t> Submit(EngineRequest request, OutputCallback on_output) = 0;

  // Cancels a request: its blocks are freed at the next step and its callback gets a finished
  // output with kAborted (unless it finished first). Unknown ids are ignored. Thread-safe.
  virtual void Abort(int64_t request_id) = 0;

  virtual const EngineInfo& info() const = 0;
  // A consistent snapshot as of the last step. Thread-safe.
  virtual metrics::EngineGauges Gauges() const = 0;
};

}  // namespace brisk::engine
