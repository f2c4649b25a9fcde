#include "engine/llm_engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/clock.h"
#include "base/logging.h"
#include "engine/batch.h"
#include "engine/logprobs.h"

namespace brisk::engine {
namespace {

// FNV-1a: a stable 64-bit salt from the tenant name, so two tenants never share KV blocks.
uint64_t TenantSalt(const std::string& tenant) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : tenant) h = (h ^ c) * 1099511628211ull;
  return h;
}

const char* FinishName(scheduler::FinishReason r) {
  switch (r) {
    case scheduler::FinishReason::kStop: return "stop";
    case scheduler::FinishReason::kLength: return "length";
    case scheduler::FinishReason::kAborted: return "abort";
  }
  return "abort";
}

FinishReason ToEngineReason(scheduler::FinishReason r) {
  switch (r) {
    case scheduler::FinishReason::kStop: return FinishReason::kStop;
    case scheduler::FinishReason::kLength: return FinishReason::kLength;
    case scheduler::FinishReason::kAborted: return FinishReason::kAborted;
  }
  return FinishReason::kAborted;
}

double Seconds(int64_t micros) { return static_cast<double>(micros) * 1e-6; }

// The context the engine serves: the model's, or less when the options cap it.
int MaxModelLen(const models::DecoderModel& model, const LlmEngineOptions& options) {
  const int model_len = model.config().max_position_embeddings;
  return options.max_model_len > 0 ? std::min(options.max_model_len, model_len) : model_len;
}

}  // namespace

struct LlmEngine::Live {
  EngineRequest request;
  OutputCallback on_output;
  std::unique_ptr<sampling::Sampler> sampler;
  std::vector<int32_t> stop_ids;
  // Timestamps (base::NowMicros); 0 until reached.
  int64_t arrival_us = 0;
  int64_t first_scheduled_us = 0;
  int64_t first_token_us = 0;
  int64_t last_token_us = 0;
  std::vector<double> inter_token_s;
};

absl::StatusOr<std::unique_ptr<LlmEngine>> LlmEngine::Create(models::DecoderModel* model,
                                                             const LlmEngineOptions& options,
                                                             StepObserver on_step) {
  if (options.block_size <= 0 || options.max_num_batched_tokens <= 0 ||
      options.max_num_seqs <= 0 || options.max_waiting <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "engine options must be positive: block_size ", options.block_size,
        ", max_num_batched_tokens ", options.max_num_batched_tokens, ", max_num_seqs ",
        options.max_num_seqs, ", max_waiting ", options.max_waiting));
  }
  const int max_len = MaxModelLen(*model, options);
  if (options.max_model_len < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_model_len is ", options.max_model_len,
                                                   "; use 0 for the model's context"));
  }
  const int64_t block_bytes = model->KvBytesPerToken() * options.block_size;
  const int64_t blocks_for_context = (max_len + options.block_size - 1) / options.block_size;
  const int64_t num_blocks = options.kv_cache_bytes / block_bytes;
  if (num_blocks < blocks_for_context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV cache memory of ", options.kv_cache_bytes >> 20, " MiB holds ", num_blocks,
        " blocks of ", options.block_size, " tokens, less than one full-context sequence (",
        max_len, " tokens need ", blocks_for_context * block_bytes >> 20,
        " MiB); raise the KV cache memory or lower the maximum model length"));
  }
  // Memory beyond what max_num_seqs full-context sequences can use is not allocated.
  const int64_t cap = blocks_for_context * options.max_num_seqs;
  return std::unique_ptr<LlmEngine>(new LlmEngine(
      model, options, static_cast<int>(std::min(num_blocks, cap)), std::move(on_step)));
}

LlmEngine::LlmEngine(models::DecoderModel* model, const LlmEngineOptions& options,
                     int num_kv_blocks, StepObserver on_step)
    : model_(model),
      options_(options),
      num_kv_blocks_(num_kv_blocks),
      info_{.model_name = options.model_name,
            .max_model_len = MaxModelLen(*model, options),
            .vocab_size = model->config().vocab_size,
            .max_waiting = options.max_waiting},
      on_step_(std::move(on_step)),
      // The API's queue limit is enforced by Submit; preempted requests may re-queue beyond it.
      scheduler_({.num_kv_blocks = num_kv_blocks,
                  .block_size = options.block_size,
                  .max_num_batched_tokens = options.max_num_batched_tokens,
                  .max_num_seqs = options.max_num_seqs,
                  .max_waiting = options.max_waiting + options.max_num_seqs + 1,
                  .prefix_caching = options.prefix_caching}) {
  kv_ = model_->AllocateKvCache(num_kv_blocks, options.block_size);
  const int max_len = MaxModelLen(*model, options);
  runner_ = std::make_unique<StepRunner>(
      model_, &kv_,
      StepRunnerOptions{.use_graphs = options.decode_graphs,
                        .max_graph_batch = std::min(options.max_num_seqs, kMaxDecodeGraphBatch),
                        .max_blocks_per_seq = std::min(
                            num_kv_blocks, (max_len + options.block_size - 1) / options.block_size)});
  // Before the first request, so that no request waits for a recording.
  runner_->RecordGraphs(std::min(options.max_num_seqs, kMaxDecodeGraphBatch));
  gauges_.model = options.model_name;
  gauges_.num_kv_blocks = num_kv_blocks;
  gauges_.num_kv_blocks_free = num_kv_blocks;
  thread_ = std::thread([this] { Run(); });
}

LlmEngine::~LlmEngine() { Shutdown(); }

void LlmEngine::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status LlmEngine::Validate(const EngineRequest& request) const {
  const int num_prompt = static_cast<int>(request.prompt_token_ids.size());
  if (num_prompt == 0) return absl::InvalidArgumentError("the prompt is empty");
  for (int32_t id : request.prompt_token_ids) {
    if (id < 0 || id >= info_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " is outside the vocabulary [0, ", info_.vocab_size, ")"));
    }
  }
  BRISK_RETURN_IF_ERROR(sampling::ValidateSamplingParams(request.params));
  if (request.num_top_logprobs > kMaxTopLogprobs) {
    return absl::InvalidArgumentError(absl::StrCat("top_logprobs is ", request.num_top_logprobs,
                                                   "; at most ", kMaxTopLogprobs));
  }
  const int64_t total = int64_t{num_prompt} + request.params.max_tokens;
  if (total > info_.max_model_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "this model's maximum context length is ", info_.max_model_len, " tokens, but ",
        num_prompt, " prompt tokens plus max_tokens ", request.params.max_tokens, " make ",
        total, "; shorten the prompt or lower max_tokens"));
  }
  // Defence in depth: Create guarantees a full-context sequence fits in the pool.
  const int64_t blocks = (total + options_.block_size - 1) / options_.block_size;
  if (blocks > num_kv_blocks_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the request needs ", blocks, " KV blocks but the cache has ", num_kv_blocks_));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LlmEngine::Submit(EngineRequest request, OutputCallback on_output) {
  BRISK_RETURN_IF_ERROR(Validate(request));
  const int64_t arrival_us = base::NowMicros();
  int64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return absl::UnavailableError("the engine is shutting down");
    const int queued = num_waiting_ + static_cast<int>(inbox_.size());
    if (queued >= options_.max_waiting) {
      return absl::ResourceExhaustedError(absl::StrCat(
          queued, " requests are already waiting for model '", info_.model_name,
          "' (the limit is ", options_.max_waiting, "); retry later"));
    }
    id = next_request_id_.fetch_add(1);
    inbox_.push_back({id, std::move(request), std::move(on_output), arrival_us});
  }
  cv_.notify_one();
  return id;
}

void LlmEngine::Abort(int64_t request_id) {
  {
    std::lock_guard lock(mu_);
    abort_inbox_.push_back(request_id);
  }
  cv_.notify_one();
}

metrics::EngineGauges LlmEngine::Gauges() const {
  std::lock_guard lock(mu_);
  return gauges_;
}

void LlmEngine::Run() {
  while (TakeInbox()) {
    if (scheduler_.has_unfinished()) Step();
  }
  AbortAllLive();
}

bool LlmEngine::TakeInbox() {
  std::vector<Pending> adds;
  std::vector<int64_t> aborts;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] {
      return stopping_ || !inbox_.empty() || !abort_inbox_.empty() ||
             scheduler_.has_unfinished();
    });
    if (stopping_) return false;
    adds.swap(inbox_);
    aborts.swap(abort_inbox_);
  }
  for (Pending& p : adds) {
    auto live = std::make_unique<Live>();
    live->request = std::move(p.request);
    live->on_output = std::move(p.on_output);
    live->arrival_us = p.arrival_us;
    const sampling::SamplingParams& params = live->request.params;
    live->sampler = std::make_unique<sampling::Sampler>(params);
    live->stop_ids = params.stop_token_ids;
    if (!params.ignore_eos) {
      const auto& eos = model_->config().eos_token_ids;
      live->stop_ids.insert(live->stop_ids.end(), eos.begin(), eos.end());
    }
    scheduler::NewRequest nr{.request_id = p.request_id,
                             .prompt_token_ids = live->request.prompt_token_ids,
                             .max_new_tokens = params.max_tokens,
                             .priority = live->request.priority,
                             .extra_keys = {}};
    if (!live->request.tenant.empty()) nr.extra_keys.push_back(TenantSalt(live->request.tenant));
    // Validate() made kTooLong impossible and the scheduler's queue limit is above Submit's.
    const scheduler::AddStatus added = scheduler_.AddRequest(std::move(nr));
    BRISK_CHECK(added == scheduler::AddStatus::kAdded) << "request " << p.request_id;
    live_.emplace(p.request_id, std::move(live));
  }
  for (int64_t id : aborts) scheduler_.Abort(id);
  return true;
}

void LlmEngine::Step() {
  const int64_t start_us = base::NowMicros();
  const scheduler::StepPlan plan = scheduler_.Schedule();
  PublishGauges();  // before any output, so a client that saw its request end sees its blocks freed
  // plan.finished repeats the requests UpdateFromOutput finished (already delivered) and adds
  // the aborted ones.
  for (const scheduler::FinishedRequest& f : plan.finished) {
    if (f.reason == scheduler::FinishReason::kAborted && live_.contains(f.request_id)) {
      Finish(f, {});
    }
  }
  if (plan.scheduled.empty()) return;

  std::vector<SequenceStep> steps;
  steps.reserve(plan.scheduled.size());
  metrics::StepStats step_stats{.model = options_.model_name,
                                .num_seqs = static_cast<int>(plan.scheduled.size())};
  for (const scheduler::ScheduledChunk& chunk : plan.scheduled) {
    const scheduler::Request* r = scheduler_.Find(chunk.request_id);
    BRISK_CHECK(r != nullptr) << "scheduled request " << chunk.request_id << " is not live";
    Live& live = *live_.at(chunk.request_id);
    if (live.first_scheduled_us == 0) live.first_scheduled_us = start_us;
    steps.push_back({.new_token_ids = std::span(r->token_ids).subspan(chunk.start_idx,
                                                                      chunk.num_new_tokens),
                     .num_computed_tokens = chunk.start_idx,
                     .block_table = scheduler_.block_table(chunk.request_id),
                     .logits = chunk.samples_token ? LogitsWanted::kLast : LogitsWanted::kNone});
    if (chunk.num_new_tokens == 1 && r->num_output_tokens() > 0) {
      ++step_stats.num_decode_tokens;
    } else {
      step_stats.num_prefill_tokens += chunk.num_new_tokens;
      step_stats.has_prefill = true;
    }
  }
  runner_->Forward(BuildForwardInputs(steps, options_.block_size));

  std::vector<TokenLogprobs> logprobs;
  const std::vector<scheduler::SampledToken> sampled = SampleStep(plan, logprobs);
  const std::vector<scheduler::FinishedRequest> finished =
      scheduler_.UpdateFromOutput(plan, sampled);
  PublishGauges();

  const int64_t now_us = base::NowMicros();
  for (size_t i = 0; i < sampled.size(); ++i) {
    const int64_t id = sampled[i].request_id;
    Live& live = *live_.at(id);
    EngineOutput out;
    out.request_id = id;
    out.new_token_ids.push_back(sampled[i].token_id);
    if (live.first_token_us == 0) {
      live.first_token_us = now_us;
      // The first output carries the latency so far (for headers sent before the end).
      out.stats.queue_s = Seconds(live.first_scheduled_us - live.arrival_us);
      out.stats.prefill_s = Seconds(now_us - live.first_scheduled_us);
      out.stats.ttft_s = Seconds(now_us - live.arrival_us);
    } else {
      live.inter_token_s.push_back(Seconds(now_us - live.last_token_us));
    }
    live.last_token_us = now_us;
    if (live.request.num_top_logprobs >= 0) out.logprobs.push_back(std::move(logprobs[i]));
    auto f = std::find_if(finished.begin(), finished.end(),
                          [&](const auto& x) { return x.request_id == id; });
    if (f != finished.end()) {
      Finish(*f, std::move(out));
    } else {
      const scheduler::Request* r = scheduler_.Find(id);
      out.num_cached_tokens = std::max(0, r->num_cached_tokens);
      Deliver(live, std::move(out));
    }
  }
  step_stats.duration_s = Seconds(base::NowMicros() - start_us);
  if (on_step_) on_step_(step_stats);
}

std::vector<scheduler::SampledToken> LlmEngine::SampleStep(const scheduler::StepPlan& plan,
                                                           std::vector<TokenLogprobs>& logprobs) {
  // The sampled rows, in logits-row order.
  std::vector<const scheduler::ScheduledChunk*> chunks;
  std::vector<sampling::Sampler*> samplers;
  bool any_logprobs = false;
  for (const scheduler::ScheduledChunk& chunk : plan.scheduled) {
    if (!chunk.samples_token) continue;
    Live& live = *live_.at(chunk.request_id);
    chunks.push_back(&chunk);
    samplers.push_back(live.sampler.get());
    any_logprobs = any_logprobs || live.request.num_top_logprobs >= 0;
  }
  std::vector<scheduler::SampledToken> sampled;
  if (chunks.empty()) return sampled;
  auto add = [&](const scheduler::ScheduledChunk& chunk, int32_t token) {
    const Live& live = *live_.at(chunk.request_id);
    const bool is_stop =
        std::find(live.stop_ids.begin(), live.stop_ids.end(), token) != live.stop_ids.end();
    sampled.push_back({.request_id = chunk.request_id, .token_id = token, .is_stop = is_stop});
  };
  // Device sampling copies back one id per row instead of every row's logits.
  if (!any_logprobs && runner_->CanSampleOnDevice(samplers)) {
    const std::vector<int32_t> tokens = runner_->SampleOnDevice(samplers);
    for (size_t i = 0; i < chunks.size(); ++i) {
      add(*chunks[i], tokens[i]);
      logprobs.push_back(TokenLogprobs{});
    }
    return sampled;
  }
  const tensor::Tensor logits = runner_->HostLogits();
  const int64_t vocab = info_.vocab_size;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const scheduler::ScheduledChunk& chunk = *chunks[i];
    const scheduler::Request* r = scheduler_.Find(chunk.request_id);
    Live& live = *live_.at(chunk.request_id);
    std::span<float> row_logits(logits.data<float>() + static_cast<int64_t>(i) * vocab, vocab);
    const bool want_logprobs = live.request.num_top_logprobs >= 0;
    if (want_logprobs) row_copy_.assign(row_logits.begin(), row_logits.end());
    const std::span<const int32_t> ids(r->token_ids);
    const int32_t token = live.sampler->Sample(row_logits, ids.first(r->num_prompt_tokens),
                                               ids.subspan(r->num_prompt_tokens));
    logprobs.push_back(want_logprobs ? ComputeLogprobs(row_copy_, token,
                                                       live.request.num_top_logprobs,
                                                       logprob_scratch_)
                                     : TokenLogprobs{});
    add(chunk, token);
  }
  return sampled;
}

void LlmEngine::Deliver(Live& live, EngineOutput output) {
  if (live.on_output) live.on_output(std::move(output));
}

void LlmEngine::Finish(const scheduler::FinishedRequest& f, EngineOutput output) {
  auto it = live_.find(f.request_id);
  BRISK_CHECK(it != live_.end()) << "finished request " << f.request_id << " is not live";
  Live& live = *it->second;
  const int64_t now_us = base::NowMicros();
  output.request_id = f.request_id;
  output.num_cached_tokens = f.num_cached_tokens;
  output.finished = true;
  output.finish_reason = ToEngineReason(f.reason);
  metrics::RequestStats& s = output.stats;
  s.model = options_.model_name;
  s.tenant = live.request.tenant;
  s.finish_reason = FinishName(f.reason);
  s.num_prompt_tokens = f.num_prompt_tokens;
  s.num_output_tokens = f.num_output_tokens;
  s.num_cached_tokens = f.num_cached_tokens;
  const int64_t scheduled_us = live.first_scheduled_us != 0 ? live.first_scheduled_us : now_us;
  s.queue_s = Seconds(scheduled_us - live.arrival_us);
  s.e2e_s = Seconds(now_us - live.arrival_us);
  if (live.first_token_us != 0) {
    s.ttft_s = Seconds(live.first_token_us - live.arrival_us);
    s.prefill_s = Seconds(live.first_token_us - scheduled_us);
    s.decode_s = Seconds(now_us - live.first_token_us);
  } else {
    s.ttft_s = -1;
    s.prefill_s = Seconds(now_us - scheduled_us);
  }
  s.inter_token_s = std::move(live.inter_token_s);
  std::unique_ptr<Live> owned = std::move(it->second);
  live_.erase(it);
  Deliver(*owned, std::move(output));
}

void LlmEngine::AbortAllLive() {
  for (auto& [id, live] : live_) scheduler_.Abort(id);
  if (!live_.empty()) {
    const scheduler::StepPlan plan = scheduler_.Schedule();  // processes the aborts first
    for (const scheduler::FinishedRequest& f : plan.finished) {
      if (f.reason == scheduler::FinishReason::kAborted && live_.contains(f.request_id)) {
        Finish(f, {});
      }
    }
  }
  // Requests still in the inbox never reached the scheduler.
  std::vector<Pending> pending;
  {
    std::lock_guard lock(mu_);
    pending.swap(inbox_);
  }
  for (Pending& p : pending) {
    EngineOutput out;
    out.request_id = p.request_id;
    out.finished = true;
    out.finish_reason = FinishReason::kAborted;
    out.stats.model = options_.model_name;
    out.stats.finish_reason = "abort";
    out.stats.ttft_s = -1;
    if (p.on_output) p.on_output(std::move(out));
  }
}

void LlmEngine::PublishGauges() {
  const scheduler::SchedulerStats s = scheduler_.stats();
  std::lock_guard lock(mu_);
  num_waiting_ = s.num_waiting;
  gauges_.num_running = s.num_running;
  gauges_.num_waiting = s.num_waiting;
  gauges_.num_kv_blocks = s.kv.num_blocks;
  gauges_.num_kv_blocks_used = s.kv.num_used_blocks;
  gauges_.num_kv_blocks_free = s.kv.num_free_blocks;
  gauges_.num_prefix_queried_tokens = s.kv.num_queried_tokens;
  gauges_.num_prefix_hit_tokens = s.kv.num_hit_tokens;
  gauges_.num_preemptions = s.num_preemptions;
}

}  // namespace brisk::engine
