// The brisk_* series and their bucket bounds. Bounds are chosen for a low-latency server: a
// tiny model on CPU answers in milliseconds and a decode step on a GPU takes a few, so the low
// buckets start well below what vLLM-style defaults resolve, while the top buckets still catch
// the pathological tail (queued requests, long generations) instead of lumping it into +Inf.
#include "metrics/serving_metrics.h"

#include <string_view>
#include <vector>

namespace brisk::metrics {
namespace {

// TTFT and prefill time, 1 ms .. 60 s: about three buckets per decade, denser between 25 ms and
// 1 s where interactive TTFT targets sit; 60 s is a typical client timeout.
std::vector<double> TtftBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
          0.5,   0.75,   1,     1.5,  2,     3,    5,     10,  20,   30,  60};
}

// Inter-token latency, 0.5 ms .. 5 s: a small model decodes a token in well under 10 ms and a
// large one on a GPU in 10-50 ms (the 20-50 tokens/s users perceive as fluent); gaps beyond
// 1 s mean preemption or a stalled batch.
std::vector<double> InterTokenBounds() {
  return {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02,
          0.03,   0.05,  0.075, 0.1,   0.2,   0.5,    1,    2,     5};
}

// End-to-end and decode time, 5 ms .. 10 min: a long generation at 20 tokens/s takes minutes.
std::vector<double> RequestBounds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,   2.5,
          5,     10,   20,    30,   60,  120,  300, 600};
}

// Queue time, 0.1 ms .. 60 s: an idle engine admits a request within a step (sub-millisecond);
// seconds of queueing mean overload.
std::vector<double> QueueBounds() {
  return {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,    1,     2.5,    5,     10,   30,    60};
}

// Step duration, 0.1 ms .. 5 s: one forward pass of a tiny model is sub-millisecond, a CUDA-graph
// decode step a few milliseconds, a large chunked prefill up to seconds.
std::vector<double> StepBounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02,
          0.03,   0.05,    0.075,  0.1,   0.25,   0.5,   1,    2.5,   5};
}

// Tokens per step, powers of two from 1 to 16384: batch sizes and token budgets are configured
// in powers of two (CUDA graphs are captured per power-of-two batch size).
std::vector<double> StepTokenBounds() {
  std::vector<double> bounds;
  for (double b = 1; b <= 16384; b *= 2) bounds.push_back(b);
  return bounds;
}

// HTTP duration, 0.5 ms .. 10 min: /health and /metrics answer in well under a millisecond or
// two, streamed completions last as long as their generation.
std::vector<double> HttpBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1,      2.5,   5,      10,    30,   60,    120,  300, 600};
}

// Cache lookups, 10 us .. 1 s: an in-memory hit takes microseconds, a RocksDB read or an index
// search tens to hundreds, a Redis round trip about a millisecond; beyond that a store is sick.
std::vector<double> CacheLookupBounds() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
          0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    1};
}

}  // namespace

ServingMetrics::ServingMetrics() {
  Registry& r = registry_;
  const std::vector<std::string> model = {"model"};
  ttft_ = &r.AddHistogram("brisk_time_to_first_token_seconds",
                          "Time from request arrival to its first output token.", model,
                          TtftBounds());
  inter_token_ = &r.AddHistogram("brisk_inter_token_latency_seconds",
                                 "Time between consecutive output tokens of a request.", model,
                                 InterTokenBounds());
  e2e_ = &r.AddHistogram("brisk_e2e_request_latency_seconds",
                         "Time from request arrival to its end.", model, RequestBounds());
  queue_ = &r.AddHistogram("brisk_request_queue_time_seconds",
                           "Time from request arrival until it is first scheduled.", model,
                           QueueBounds());
  prefill_ = &r.AddHistogram("brisk_request_prefill_time_seconds",
                             "Time from first scheduling to the first output token.", model,
                             TtftBounds());
  decode_ = &r.AddHistogram("brisk_request_decode_time_seconds",
                            "Time from the first output token to the end of the request.", model,
                            RequestBounds());
  step_duration_ = &r.AddHistogram("brisk_step_duration_seconds",
                                   "Duration of one engine step; kind is prefill when the step "
                                   "catches up a prompt chunk, else decode.",
                                   {"model", "kind"}, StepBounds());
  step_tokens_ = &r.AddHistogram("brisk_step_batch_tokens",
                                 "Prefill plus decode tokens computed in one engine step.", model,
                                 StepTokenBounds());
  http_duration_ = &r.AddHistogram("brisk_http_request_duration_seconds",
                                   "Time to answer an HTTP request, streaming included.",
                                   {"endpoint"}, HttpBounds());
  http_requests_ = &r.AddCounter("brisk_http_requests_total", "HTTP responses sent.",
                                 {"endpoint", "code"});
  requests_ = &r.AddCounter("brisk_requests_total", "Finished requests.",
                            {"model", "finish_reason"});
  prompt_tokens_ = &r.AddCounter("brisk_prompt_tokens_total",
                                 "Prompt tokens of finished requests.", model);
  generation_tokens_ = &r.AddCounter("brisk_generation_tokens_total",
                                     "Output tokens of finished requests.", model);
  cached_prompt_tokens_ = &r.AddCounter("brisk_cached_prompt_tokens_total",
                                        "Prompt tokens served from the prefix cache.", model);
  tenant_tokens_ = &r.AddCounter("brisk_tenant_tokens_total",
                                 "Tokens of finished requests by tenant (API key).",
                                 {"tenant", "kind"});
  preemptions_ = &r.AddCounter("brisk_preemptions_total",
                               "Sequences preempted by the engine since it started.", model);
  prefix_queried_tokens_ = &r.AddCounter("brisk_prefix_cache_queried_tokens_total",
                                         "Tokens looked up in the prefix cache.", model);
  prefix_hit_tokens_ = &r.AddCounter("brisk_prefix_cache_hit_tokens_total",
                                     "Tokens found in the prefix cache.", model);
  running_ = &r.AddGauge("brisk_num_requests_running", "Requests in the running batch.", model);
  waiting_ = &r.AddGauge("brisk_num_requests_waiting", "Requests waiting to be scheduled.",
                         model);
  // Named _capacity, not _total: promtool reserves the _total suffix for counters.
  kv_blocks_capacity_ = &r.AddGauge("brisk_kv_blocks_capacity", "KV cache blocks in the pool.",
                                    model);
  kv_blocks_used_ = &r.AddGauge("brisk_kv_blocks_used", "KV cache blocks in use.", model);
  kv_blocks_free_ = &r.AddGauge("brisk_kv_blocks_free", "KV cache blocks free.", model);
  cache_lookups_ = &r.AddCounter("brisk_response_cache_lookups_total",
                                 "Response cache lookups by tier (exact, semantic) and result.",
                                 {"model", "tier", "result"});
  cache_lookup_time_ = &r.AddHistogram("brisk_response_cache_lookup_seconds",
                                       "Time of one response cache lookup, embedding excluded.",
                                       {"tier"}, CacheLookupBounds());
  cache_embed_time_ = &r.AddHistogram("brisk_semantic_cache_embed_seconds",
                                      "Time to embed the query text of a semantic lookup.", {},
                                      TtftBounds());
  cache_hits_by_store_ = &r.AddCounter("brisk_response_cache_store_hits_total",
                                       "Response cache hits by the store that held the answer.",
                                       {"tier", "store"});
  cache_saved_tokens_ = &r.AddCounter("brisk_response_cache_saved_tokens_total",
                                      "Completion tokens answered from the response cache.",
                                      {"model", "tier"});
  cache_saved_seconds_ = &r.AddCounter("brisk_response_cache_saved_seconds_total",
                                       "Compute time of the answers served from the response "
                                       "cache, as first measured.",
                                       {"model", "tier"});
  cache_inserts_ = &r.AddCounter("brisk_response_cache_inserts_total",
                                 "Answers written into the response cache, by outcome.",
                                 {"model", "tier", "result"});
  prefix_hit_rate_ = &r.AddGauge("brisk_prefix_cache_hit_rate",
                                 "Prefix cache hit tokens over queried tokens since start.",
                                 model);
}

void ServingMetrics::RecordStep(const StepStats& step) {
  const std::string_view kind = step.has_prefill ? "prefill" : "decode";
  step_duration_->WithLabels({step.model, kind}).Observe(step.duration_s);
  step_tokens_->WithLabels({step.model})
      .Observe(static_cast<double>(step.num_prefill_tokens + step.num_decode_tokens));
}

void ServingMetrics::RecordRequest(const RequestStats& request) {
  const std::string_view model = request.model;
  if (request.ttft_s >= 0) {
    ttft_->WithLabels({model}).Observe(request.ttft_s);
    prefill_->WithLabels({model}).Observe(request.prefill_s);
    decode_->WithLabels({model}).Observe(request.decode_s);
  }
  if (!request.inter_token_s.empty()) {
    Histogram& itl = inter_token_->WithLabels({model});
    for (double gap : request.inter_token_s) itl.Observe(gap);
  }
  e2e_->WithLabels({model}).Observe(request.e2e_s);
  queue_->WithLabels({model}).Observe(request.queue_s);
  requests_->WithLabels({model, request.finish_reason}).Inc();
  prompt_tokens_->WithLabels({model}).Inc(request.num_prompt_tokens);
  generation_tokens_->WithLabels({model}).Inc(request.num_output_tokens);
  cached_prompt_tokens_->WithLabels({model}).Inc(request.num_cached_tokens);
  if (!request.tenant.empty()) {
    tenant_tokens_->WithLabels({request.tenant, "prompt"}).Inc(request.num_prompt_tokens);
    tenant_tokens_->WithLabels({request.tenant, "generated"}).Inc(request.num_output_tokens);
  }
}

void ServingMetrics::RecordHttp(const HttpStats& http) {
  http_duration_->WithLabels({http.endpoint}).Observe(http.duration_s);
  const std::string code = std::to_string(http.status_code);
  http_requests_->WithLabels({http.endpoint, code}).Inc();
}

void ServingMetrics::RecordCacheLookup(const CacheLookupStats& lookup) {
  cache_lookups_->WithLabels({lookup.model, lookup.tier, lookup.hit ? "hit" : "miss"}).Inc();
  cache_lookup_time_->WithLabels({lookup.tier}).Observe(lookup.lookup_s);
  if (lookup.embed_s >= 0) cache_embed_time_->WithLabels({}).Observe(lookup.embed_s);
  if (!lookup.hit) return;
  cache_hits_by_store_->WithLabels({lookup.tier, lookup.store}).Inc();
  cache_saved_tokens_->WithLabels({lookup.model, lookup.tier})
      .Inc(static_cast<double>(lookup.tokens_saved));
  cache_saved_seconds_->WithLabels({lookup.model, lookup.tier}).Inc(lookup.seconds_saved);
}

void ServingMetrics::RecordCacheInsert(const CacheInsertStats& insert) {
  cache_inserts_->WithLabels({insert.model, insert.tier, insert.stored ? "stored" : "refused"})
      .Inc();
}

std::string ServingMetrics::Render(std::span<const EngineGauges> engines) const {
  std::lock_guard<std::mutex> lock(render_mu_);
  for (const EngineGauges& e : engines) {
    const std::string_view model = e.model;
    running_->WithLabels({model}).Set(e.num_running);
    waiting_->WithLabels({model}).Set(e.num_waiting);
    kv_blocks_capacity_->WithLabels({model}).Set(e.num_kv_blocks);
    kv_blocks_used_->WithLabels({model}).Set(e.num_kv_blocks_used);
    kv_blocks_free_->WithLabels({model}).Set(e.num_kv_blocks_free);
    preemptions_->WithLabels({model}).Set(static_cast<double>(e.num_preemptions));
    prefix_queried_tokens_->WithLabels({model})
        .Set(static_cast<double>(e.num_prefix_queried_tokens));
    prefix_hit_tokens_->WithLabels({model}).Set(static_cast<double>(e.num_prefix_hit_tokens));
    const double hit_rate = e.num_prefix_queried_tokens > 0
                                ? static_cast<double>(e.num_prefix_hit_tokens) /
                                      static_cast<double>(e.num_prefix_queried_tokens)
                                : 0.0;
    prefix_hit_rate_->WithLabels({model}).Set(hit_rate);
  }
  return registry_.Render();
}

}  // namespace brisk::metrics
