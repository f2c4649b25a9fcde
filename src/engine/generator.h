// Runs a batch of generation requests to completion on one decoder: prompts are prefilled in
// chunks under a per-step token budget, then every unfinished sequence advances one token per
// step together. KV-cache blocks come from a pool sized by a memory budget; a sequence holds
// the blocks for its prompt plus max_tokens from its first step to its end.
// (The server's continuous-batching scheduler replaces this loop; the model and batch
// layout stay the same.) Not thread-safe: one caller at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "engine/engine_client.h"  // FinishReason
#include "engine/step_runner.h"
#include "kvcache/block_pool.h"
#include "models/decoder_model.h"
#include "sampling/sampling_params.h"

namespace brisk::engine {

struct GeneratorOptions {
  int block_size = 16;                         // tokens per KV block
  int64_t kv_cache_bytes = int64_t{512} << 20;  // memory for the KV block pool
  int max_tokens_per_step = 512;               // prefill chunk budget per forward step
  // Replay decode steps of up to 64 sequences from graphs recorded per batch size where the
  // backend can record (CUDA); false runs every op from the host.
  bool decode_graphs = true;
  // While every row of a decode step is sampled on the device, queue the next step (its ids
  // taken on the device from this one's tokens) before reading this step's tokens, so the
  // host's work between steps overlaps the device's. A sequence that stops on a stop token
  // then runs one step more, whose token is dropped. False waits for each step's tokens.
  bool overlap_steps = true;
  // Where tokens are sampled (StepRunnerOptions): by default on the device for GPU backends.
  StepRunnerOptions::DeviceSampling device_sampling = StepRunnerOptions::DeviceSampling::kAuto;
};


struct GenerationRequest {
  std::vector<int32_t> prompt_ids;
  sampling::SamplingParams params;
};

struct GenerationResult {
  std::vector<int32_t> output_ids;  // includes the stop token when one ended the sequence
  FinishReason finish_reason = FinishReason::kLength;
};

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_ms = 0;  // from the start until every request has its first token
  double decode_ms = 0;   // the rest
  int decode_steps = 0;
};

// Called once per sampled token, in order: (index of the request, token id).
using TokenCallback = std::function<void(int request_idx, int32_t token_id)>;

class Generator {
 public:
  // REQUIRES: `model` outlives the generator.
  // InvalidArgument when the options cannot hold one full-length sequence.
  static absl::StatusOr<std::unique_ptr<Generator>> Create(models::DecoderModel* model,
                                                           const GeneratorOptions& options);

  // Generates for all `requests` together. InvalidArgument (naming the request and the
  // numbers) for an empty prompt, a token id outside the vocabulary, invalid sampling
  // parameters, or prompt + max_tokens beyond the model's context; ResourceExhausted when the
  // KV pool cannot hold the whole batch at once.
  absl::StatusOr<std::vector<GenerationResult>> Generate(
      std::span<const GenerationRequest> requests, const TokenCallback& on_token,
      GenerationStats* stats);

  // Logits at every position of `ids` (one sequence, prefilled in chunks): [len, vocab] f32.
  absl::StatusOr<tensor::Tensor> ScoreTokens(std::span<const int32_t> ids);

  int num_kv_blocks() const { return pool_.num_blocks(); }
  int num_free_kv_blocks() const { return pool_.num_free(); }

 private:
  struct Sequence;

  Generator(models::DecoderModel* model, const GeneratorOptions& options, int num_blocks);
  absl::Status Validate(std::span<const GenerationRequest> requests) const;
  absl::StatusOr<std::vector<int32_t>> AllocateBlocks(int num_tokens);
  void FreeBlocks(std::vector<int32_t>& blocks);

  models::DecoderModel* model_;
  GeneratorOptions options_;
  kvcache::BlockPool pool_;
  models::KvCache kv_;
  std::unique_ptr<StepRunner> runner_;
};

}  // namespace brisk::engine
