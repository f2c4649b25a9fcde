// ServingMetrics turns the plain stats structs of serving_stats.h into Prometheus series (all
// named brisk_*, labelled by model where one is known) and renders them for /metrics.
// Events (steps, finished requests, HTTP responses) are recorded as they happen; occupancy comes
// from EngineGauges snapshots passed to Render(). Counts that the engine keeps since start
// (preemptions, prefix-cache tokens) are exposed as counters set to the snapshot's value, which
// is monotonic while the engine lives. The output passes `promtool check metrics` without lint.
#pragma once

#include <mutex>
#include <span>
#include <string>

#include "metrics/prometheus.h"
#include "metrics/serving_stats.h"

namespace brisk::metrics {

class ServingMetrics {
 public:
  ServingMetrics();
  ServingMetrics(const ServingMetrics&) = delete;
  ServingMetrics& operator=(const ServingMetrics&) = delete;

  // Records one engine step: its duration (kind "prefill" when has_prefill, else "decode") and
  // its token count (prefill + decode tokens). Thread-safe.
  void RecordStep(const StepStats& step);

  // Records one finished request: latency histograms (TTFT, prefill and decode only when a
  // token was produced, i.e. ttft_s >= 0; one inter-token observation per gap), the request
  // counter by finish reason, token counters, and per-tenant tokens when tenant is non-empty.
  // Thread-safe.
  void RecordRequest(const RequestStats& request);

  // Records one HTTP response by endpoint and status code. Thread-safe.
  void RecordHttp(const HttpStats& http);

  // Records one response-cache lookup: lookups by tier and result, lookup and embedding latency
  // histograms, hits by store, and on a hit the tokens and seconds it saved. Thread-safe.
  void RecordCacheLookup(const CacheLookupStats& lookup);

  // Records one response-cache insert by tier and outcome. Thread-safe.
  void RecordCacheInsert(const CacheInsertStats& insert);

  // Sets the occupancy gauges and the engine-kept counters from `engines` (one snapshot per
  // model; a model absent from this call keeps its last values), then returns the exposition
  // text (content type "text/plain; version=0.0.4"). Thread-safe; concurrent calls are
  // serialized so each output reflects its own snapshots.
  std::string Render(std::span<const EngineGauges> engines) const;

  // The underlying registry, for tests and for adding process-level series.
  const Registry& registry() const { return registry_; }

 private:
  Registry registry_;

  // Families, owned by registry_ and constant after construction.
  // Request latency histograms, {model}.
  HistogramFamily* ttft_;
  HistogramFamily* inter_token_;
  HistogramFamily* e2e_;
  HistogramFamily* queue_;
  HistogramFamily* prefill_;
  HistogramFamily* decode_;
  // Steps: duration {model, kind} and tokens {model}.
  HistogramFamily* step_duration_;
  HistogramFamily* step_tokens_;
  // HTTP: duration {endpoint} and responses {endpoint, code}.
  HistogramFamily* http_duration_;
  CounterFamily* http_requests_;
  // Request counters.
  CounterFamily* requests_;  // {model, finish_reason}
  CounterFamily* prompt_tokens_;
  CounterFamily* generation_tokens_;
  CounterFamily* cached_prompt_tokens_;
  CounterFamily* tenant_tokens_;  // {tenant, kind}
  // Set from EngineGauges snapshots, {model}.
  CounterFamily* preemptions_;
  CounterFamily* prefix_queried_tokens_;
  CounterFamily* prefix_hit_tokens_;
  GaugeFamily* running_;
  GaugeFamily* waiting_;
  GaugeFamily* kv_blocks_capacity_;
  GaugeFamily* kv_blocks_used_;
  GaugeFamily* kv_blocks_free_;
  GaugeFamily* prefix_hit_rate_;

  // Response cache.
  CounterFamily* cache_lookups_;        // {model, tier, result}
  HistogramFamily* cache_lookup_time_;  // {tier}
  HistogramFamily* cache_embed_time_;   // {}
  CounterFamily* cache_hits_by_store_;  // {tier, store}
  CounterFamily* cache_saved_tokens_;   // {model, tier}
  CounterFamily* cache_saved_seconds_;  // {model, tier}
  CounterFamily* cache_inserts_;        // {model, tier, result}

  mutable std::mutex render_mu_;  // Serializes Render() (set from snapshots, then render).
};

}  // namespace brisk::metrics
