// The plain stats structs that serving components emit for metrics (DESIGN.md rule 5): the engine
// fills StepStats and RequestStats and snapshots EngineGauges, the HTTP front fills HttpStats.
// Nothing here knows about Prometheus; metrics/serving_metrics.h turns them into series.
// All durations are seconds, as Prometheus conventions want.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace brisk::metrics {

// One engine step (schedule, forward, sample, commit).
struct StepStats {
  std::string model;
  double duration_s = 0;
  int num_seqs = 0;            // sequences in the batch
  int num_prefill_tokens = 0;  // tokens of chunks that do not end in a sample, plus the first
                               // token of each request (its prompt's last chunk)
  int num_decode_tokens = 0;   // one per sequence that already had an output token
  bool has_prefill = false;    // some chunk catches up more than one token
};

// One request, reported once when it leaves the engine.
struct RequestStats {
  std::string model;
  std::string tenant;  // empty without API keys
  std::string finish_reason;  // "stop", "length", "abort"
  int num_prompt_tokens = 0;
  int num_output_tokens = 0;
  int num_cached_tokens = 0;  // prompt tokens served from the prefix cache
  int num_preemptions = 0;
  double queue_s = 0;    // arrival -> first scheduled
  double prefill_s = 0;  // first scheduled -> first output token
  double decode_s = 0;   // first output token -> finished
  double ttft_s = 0;     // arrival -> first output token; < 0 when none was produced
  double e2e_s = 0;      // arrival -> finished
  std::vector<double> inter_token_s;  // gaps between consecutive output tokens
};

// A snapshot of an engine's occupancy, taken when /metrics is scraped.
struct EngineGauges {
  std::string model;
  int num_running = 0;
  int num_waiting = 0;
  int num_kv_blocks = 0;
  int num_kv_blocks_used = 0;
  int num_kv_blocks_free = 0;
  int64_t num_prefix_queried_tokens = 0;  // since start
  int64_t num_prefix_hit_tokens = 0;      // since start
  int64_t num_preemptions = 0;            // since start
};

// One lookup in one tier of the response cache ("exact" or "semantic"), reported by the api
// layer for every request that consulted the cache.
struct CacheLookupStats {
  std::string model;
  std::string tier;     // "exact" or "semantic"
  bool hit = false;
  std::string store;    // on a hit, the store that held the answer: "memory", "rocksdb", "redis"
  double lookup_s = 0;  // the lookup itself (semantic: index search and store read)
  double embed_s = -1;  // semantic only: embedding the query text; < 0 when not embedded
  int64_t tokens_saved = 0;  // on a hit: completion tokens of the answer served
  double seconds_saved = 0;  // on a hit: how long the original answer took to compute
};

// One entry written into the response cache.
struct CacheInsertStats {
  std::string model;
  std::string tier;  // "exact" or "semantic"
  bool stored = false;  // false: refused (too large for the store, or the store is down)
};

// One HTTP response.
struct HttpStats {
  std::string endpoint;  // the route, e.g. "/v1/chat/completions"; "other" for unknown paths
  int status_code = 200;
  double duration_s = 0;
};

}  // namespace brisk::metrics
