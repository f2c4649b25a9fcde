#include "engine/generator.h"

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "engine/batch.h"
#include "sampling/sampler.h"

namespace brisk::engine {

struct Generator::Sequence {
  const GenerationRequest* request = nullptr;
  std::unique_ptr<sampling::Sampler> sampler;
  std::vector<int32_t> blocks;
  std::vector<int32_t> output;
  std::vector<int32_t> stop_ids;
  int num_computed = 0;  // tokens already in the KV cache
  bool finished = false;
  FinishReason reason = FinishReason::kLength;
};

absl::StatusOr<std::unique_ptr<Generator>> Generator::Create(models::DecoderModel* model,
                                                             const GeneratorOptions& options) {
  const auto& c = model->config();
  if (options.block_size <= 0 || options.max_tokens_per_step <= 0) {
    return absl::InvalidArgumentError("block_size and max_tokens_per_step must be positive");
  }
  const int64_t block_bytes = model->KvBytesPerToken() * options.block_size;
  const int64_t num_blocks = options.kv_cache_bytes / block_bytes;
  const int64_t blocks_for_context =
      (c.max_position_embeddings + options.block_size - 1) / options.block_size;
  if (num_blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache memory of ", options.kv_cache_bytes, " bytes holds no block (one block of ",
        options.block_size, " tokens takes ", block_bytes, " bytes)"));
  }
  // Memory beyond what the context can ever use at once is not allocated.
  const int64_t cap = std::max<int64_t>(blocks_for_context * 64, 1);
  return std::unique_ptr<Generator>(
      new Generator(model, options, static_cast<int>(std::min(num_blocks, cap))));
}

Generator::Generator(models::DecoderModel* model, const GeneratorOptions& options, int num_blocks)
    : model_(model), options_(options), pool_(num_blocks) {
  kv_ = model_->AllocateKvCache(num_blocks, options.block_size);
  const int context_blocks =
      (model->config().max_position_embeddings + options.block_size - 1) / options.block_size;
  runner_ = std::make_unique<StepRunner>(
      model_, &kv_,
      StepRunnerOptions{.use_graphs = options.decode_graphs,
                        .max_graph_batch = 64,
                        .max_blocks_per_seq = std::min(num_blocks, context_blocks),
                        .device_sampling = options.device_sampling});
}

absl::Status Generator::Validate(std::span<const GenerationRequest> requests) const {
  const auto& c = model_->config();
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    if (r.prompt_ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, ": the prompt is empty"));
    }
    for (int32_t id : r.prompt_ids) {
      if (id < 0 || id >= c.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("request ", i, ": token id ", id,
                                                       " is outside the vocabulary [0, ",
                                                       c.vocab_size, ")"));
      }
    }
    BRISK_RETURN_IF_ERROR(sampling::ValidateSamplingParams(r.params));
    const int64_t total = static_cast<int64_t>(r.prompt_ids.size()) + r.params.max_tokens;
    if (total > c.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat(
          "request ", i, ": prompt of ", r.prompt_ids.size(), " tokens plus max_tokens ",
          r.params.max_tokens, " is ", total, " tokens, beyond the model's context of ",
          c.max_position_embeddings));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> Generator::AllocateBlocks(int num_tokens) {
  const int needed = (num_tokens + options_.block_size - 1) / options_.block_size;
  if (needed > pool_.num_free()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the KV cache has ", pool_.num_free(), " free blocks of ", options_.block_size,
        " tokens but the batch needs ", needed, " more; raise the KV cache memory or send fewer "
        "or shorter requests"));
  }
  std::vector<int32_t> blocks;
  for (int i = 0; i < needed; ++i) blocks.push_back(*pool_.Allocate());
  return blocks;
}

void Generator::FreeBlocks(std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) pool_.Free(b);
  blocks.clear();
}

absl::StatusOr<std::vector<GenerationResult>> Generator::Generate(
    std::span<const GenerationRequest> requests, const TokenCallback& on_token,
    GenerationStats* stats) {
  BRISK_RETURN_IF_ERROR(Validate(requests));
  const auto& config = model_->config();
  std::vector<Sequence> seqs(requests.size());
  absl::Status alloc_status;
  for (size_t i = 0; i < requests.size() && alloc_status.ok(); ++i) {
    Sequence& s = seqs[i];
    s.request = &requests[i];
    s.sampler = std::make_unique<sampling::Sampler>(requests[i].params);
    s.stop_ids = requests[i].params.stop_token_ids;
    if (!requests[i].params.ignore_eos) {
      s.stop_ids.insert(s.stop_ids.end(), config.eos_token_ids.begin(), config.eos_token_ids.end());
    }
    auto blocks = AllocateBlocks(static_cast<int>(requests[i].prompt_ids.size()) +
                                 requests[i].params.max_tokens);
    if (blocks.ok()) s.blocks = *std::move(blocks); else alloc_status = blocks.status();
  }
  if (!alloc_status.ok()) {
    for (Sequence& s : seqs) FreeBlocks(s.blocks);
    return alloc_status;
  }

  // Decode graphs are recorded before the clock starts, as a server records them at startup.
  runner_->RecordGraphs(static_cast<int>(requests.size()));
  GenerationStats local;
  base::Stopwatch clock;
  bool prefill_done = false;
  const int64_t vocab = config.vocab_size;
  std::vector<int32_t> step_tokens(seqs.size());  // decode input per sequence
  // The input of a step queued ahead: never read, the step takes its ids on the device.
  const std::vector<int32_t> fed_placeholder(seqs.size(), 0);

  // Applies a step's tokens (device_tokens, else sampled from the host `logits`) to its
  // sequences. A row of a sequence that stopped in an earlier step (a step queued ahead) is
  // dropped.
  const auto apply = [&](const std::vector<SequenceStep>& steps, const std::vector<size_t>& owners,
                         const std::vector<int32_t>& device_tokens, const tensor::Tensor& logits) {
    int row = 0;
    for (size_t k = 0; k < steps.size(); ++k) {
      Sequence& s = seqs[owners[k]];
      const bool sampled = steps[k].logits != LogitsWanted::kNone;
      const int this_row = sampled ? row++ : -1;
      if (s.finished) continue;
      s.num_computed += static_cast<int>(steps[k].new_token_ids.size());
      if (!sampled) continue;
      int32_t token = 0;
      if (!device_tokens.empty()) {
        token = device_tokens[this_row];
      } else {
        std::span<float> row_logits(logits.data<float>() + int64_t{this_row} * vocab, vocab);
        token = s.sampler->Sample(row_logits, s.request->prompt_ids, s.output);
      }
      s.output.push_back(token);
      ++local.generated_tokens;
      if (on_token) on_token(static_cast<int>(owners[k]), token);
      if (std::find(s.stop_ids.begin(), s.stop_ids.end(), token) != s.stop_ids.end()) {
        s.finished = true;
        s.reason = FinishReason::kStop;
      } else if (static_cast<int>(s.output.size()) >= s.request->params.max_tokens) {
        s.finished = true;
        s.reason = FinishReason::kLength;
      }
      if (s.finished) FreeBlocks(s.blocks);
    }
  };
  // The decode step after the one over `owners` whose tokens are still on the device, or
  // nothing when a row's sequence has stopped or stops by length with those tokens.
  const auto next_decode = [&](const std::vector<size_t>& owners) {
    std::vector<SequenceStep> next;
    for (size_t i : owners) {
      const Sequence& s = seqs[i];
      if (s.finished || static_cast<int>(s.output.size()) + 1 >= s.request->params.max_tokens) {
        return std::vector<SequenceStep>{};
      }
      next.push_back({.new_token_ids = std::span(&fed_placeholder[i], 1),
                      .num_computed_tokens = s.num_computed + 1,
                      .block_table = s.blocks,
                      .logits = LogitsWanted::kLast});
    }
    return next;
  };

  for (;;) {
    // Plan one step: unfinished prompts first (chunked under the token budget), else decodes.
    std::vector<SequenceStep> steps;
    std::vector<size_t> owners;
    int budget = options_.max_tokens_per_step;
    for (size_t i = 0; i < seqs.size() && budget > 0; ++i) {
      Sequence& s = seqs[i];
      const auto& prompt = s.request->prompt_ids;
      if (s.finished || s.num_computed >= static_cast<int>(prompt.size())) continue;
      const int n = std::min<int>(budget, static_cast<int>(prompt.size()) - s.num_computed);
      const bool completes = s.num_computed + n == static_cast<int>(prompt.size());
      steps.push_back({.new_token_ids = std::span(prompt).subspan(s.num_computed, n),
                       .num_computed_tokens = s.num_computed,
                       .block_table = s.blocks,
                       .logits = completes ? LogitsWanted::kLast : LogitsWanted::kNone});
      owners.push_back(i);
      budget -= n;
    }
    const bool decoding = steps.empty();
    if (decoding) {
      if (!prefill_done) {
        prefill_done = true;
        local.prefill_ms = clock.ElapsedMillis();
        clock.Reset();
      }
      for (size_t i = 0; i < seqs.size(); ++i) {
        Sequence& s = seqs[i];
        if (s.finished) continue;
        step_tokens[i] = s.output.back();
        steps.push_back({.new_token_ids = std::span(&step_tokens[i], 1),
                         .num_computed_tokens = s.num_computed,
                         .block_table = s.blocks,
                         .logits = LogitsWanted::kLast});
        owners.push_back(i);
      }
      if (steps.empty()) break;
      ++local.decode_steps;
    }
    runner_->Forward(BuildForwardInputs(steps, options_.block_size));
    // Device sampling when every sampled row allows it; else every row on the host.
    std::vector<sampling::Sampler*> samplers;
    for (size_t k = 0; k < steps.size(); ++k) {
      if (steps[k].logits != LogitsWanted::kNone) samplers.push_back(seqs[owners[k]].sampler.get());
    }
    if (samplers.empty()) {
      apply(steps, owners, {}, {});
    } else if (!runner_->CanSampleOnDevice(samplers)) {
      apply(steps, owners, {}, runner_->HostLogits());
    } else if (!decoding || !options_.overlap_steps) {
      apply(steps, owners, runner_->SampleOnDevice(samplers), {});
    } else {
      // Decode steps queued one ahead: the next step takes this step's tokens on the device and
      // is queued before they are read, as long as the rows stay the same.
      runner_->QueueSampleOnDevice(samplers);
      for (;;) {
        std::vector<SequenceStep> next = next_decode(owners);
        bool ahead = false;
        if (!next.empty()) {
          const models::ForwardInputs inputs = BuildForwardInputs(next, options_.block_size);
          if (runner_->CanFeedSampledTokens(inputs)) {
            runner_->Forward(inputs, /*ids_from_last_sample=*/true);
            runner_->QueueSampleOnDevice(samplers);
            ++local.decode_steps;
            ahead = true;
          }
        }
        apply(steps, owners, runner_->TakeSampledTokens(), {});
        if (!ahead) break;
        steps = std::move(next);
      }
    }
  }
  local.decode_ms = clock.ElapsedMillis();
  std::vector<GenerationResult> results;
  for (Sequence& s : seqs) {
    local.prompt_tokens += static_cast<int64_t>(s.request->prompt_ids.size());
    results.push_back({.output_ids = std::move(s.output), .finish_reason = s.reason});
  }
  if (stats != nullptr) *stats = local;
  return results;
}

absl::StatusOr<tensor::Tensor> Generator::ScoreTokens(std::span<const int32_t> ids) {
  const auto& c = model_->config();
  if (ids.empty()) return absl::InvalidArgumentError("nothing to score: no tokens");
  if (static_cast<int64_t>(ids.size()) > c.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat("cannot score ", ids.size(),
                                                   " tokens: the model's context is ",
                                                   c.max_position_embeddings));
  }
  for (int32_t id : ids) {
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is outside the vocabulary"));
    }
  }
  BRISK_ASSIGN_OR_RETURN(std::vector<int32_t> blocks, AllocateBlocks(static_cast<int>(ids.size())));
  tensor::Tensor all = tensor::Tensor::Empty(tensor::DType::kF32,
                                             {static_cast<int64_t>(ids.size()), c.vocab_size});
  int done = 0;
  while (done < static_cast<int>(ids.size())) {
    const int n = std::min<int>(options_.max_tokens_per_step, static_cast<int>(ids.size()) - done);
    SequenceStep step{.new_token_ids = ids.subspan(done, n), .num_computed_tokens = done,
                      .block_table = blocks, .logits = LogitsWanted::kAll};
    runner_->Forward(BuildForwardInputs(std::span(&step, 1), options_.block_size));
    const tensor::Tensor logits = runner_->HostLogits();
    std::memcpy(all.data<float>() + int64_t{done} * c.vocab_size, logits.data<float>(),
                logits.size_bytes());
    done += n;
  }
  FreeBlocks(blocks);
  return all;
}

}  // namespace brisk::engine
