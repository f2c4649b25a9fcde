// The serving load generator behind `brisk bench serve`: it sends streaming /v1/completions
// requests with random token-id prompts to a running OpenAI-compatible server, either as an
// open-loop Poisson process (--rate) or from a fixed number of back-to-back workers
// (--concurrency), and reports throughput and TTFT / inter-token / end-to-end latencies.
//
// Everything random (prompts, arrival gaps) comes from seeded std::mt19937_64 generators, so a
// run is reproducible for a seed (with the same C++ standard library, whose distributions
// the standard leaves unspecified). Latencies are steady-clock spans measured on the client.
// Request i's arrival time is fixed before the run starts; a slow server never delays it as
// long as fewer than kMaxThreads requests are in flight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "bench/serve/http_client.h"
#include "nlohmann/json.hpp"

namespace brisk::loadgen {

// Upper bound on worker threads (and so on requests in flight at once).
inline constexpr int kMaxThreads = 1024;

enum class ArrivalMode {
  kConcurrency,  // `concurrency` workers, each sending its next request when the last ends
  kRate,         // request i is sent at ArrivalTimesS(...)[i] seconds after the start
};

struct LoadGenOptions {
  std::string url;               // http://host:port
  std::string model;             // "": data[0].id of GET /v1/models
  ArrivalMode mode = ArrivalMode::kConcurrency;
  int concurrency = 1;           // kConcurrency: 1..kMaxThreads
  double rate = 1.0;             // kRate: requests per second, > 0; +infinity sends all at once
  int num_requests = 0;          // >= 1
  int input_len = 0;             // prompt tokens per request, >= 1
  int output_len = 0;            // max_tokens per request, >= 1
  uint64_t seed = 0;
  int shared_prefix_len = 0;     // 0..input_len ids shared by every prompt
  // 0: every request has its own prompt; D >= 1: request i sends prompt i mod D, so requests
  // repeat exactly (to measure response caches).
  int distinct_prompts = 0;
  int64_t vocab_size = 0;        // 0: data[0].vocab_size of GET /v1/models
  double timeout_s = 600.0;      // per request, from sending it to the end of its stream
  double progress_interval_s = 1.0;  // a progress line on stderr this often; 0: none
};

// InvalidArgument naming the first bad field (ranges as commented above). Does not look at
// `model` and `vocab_size`, which ResolveServerDefaults fills.
absl::Status ValidateOptions(const LoadGenOptions& options);

// Fills an empty `model` and a zero `vocab_size` from GET {url}/v1/models (data[0].id and
// data[0].vocab_size). Unavailable / DeadlineExceeded when the server cannot be reached or
// answers badly; FailedPrecondition when vocab_size is needed but the server does not list it
// (the caller should ask for --vocab-size).
absl::Status ResolveServerDefaults(LoadGenOptions* options);

// The prompts: first `shared_prefix_len` ids, drawn once, then for each request in order its
// own input_len - shared_prefix_len ids, all uniform in [0, vocab_size) from
// std::mt19937_64(seed). REQUIRES: 0 <= shared_prefix_len <= input_len, vocab_size >= 1.
std::vector<std::vector<int32_t>> BuildPrompts(int num_requests, int input_len,
                                               int shared_prefix_len, int64_t vocab_size,
                                               uint64_t seed);  // [num_requests][input_len]

// Arrival times in seconds from the start: request 0 at 0, then exponential gaps of mean
// 1/rate (a Poisson process), all 0 when rate is +infinity. The gaps come from their own
// std::mt19937_64 seeded from `seed`, so changing the rate leaves the prompts unchanged.
// REQUIRES: rate > 0.
std::vector<double> ArrivalTimesS(int num_requests, double rate, uint64_t seed);

// The request body for one prompt, as the OpenAI completions API takes it (stream with usage,
// greedy, ignore_eos so that exactly max_tokens are generated).
std::string CompletionRequestJson(const std::string& model, const std::vector<int32_t>& prompt,
                                  int max_tokens);

// What happened to one request. Times are milliseconds on the steady clock.
struct RequestRecord {
  bool ok = false;
  std::string error;           // first problem seen; empty when ok
  double start_ms = 0;         // when it was sent, from the start of the run
  double send_lag_ms = 0;      // how late that was against its scheduled arrival (kRate)
  double ttft_ms = 0;          // send -> first event with non-empty choices[0].text
  double e2e_ms = 0;           // send -> end of the response (or the failure)
  // Gaps between consecutive events with text. An event that carries k > 1 tokens is one gap,
  // not k, so with multi-token events the mean ITL is per event, not per token.
  std::vector<double> itl_ms;
  int64_t prompt_tokens = 0;   // usage.prompt_tokens, else the prompt length
  int64_t output_tokens = 0;   // usage.completion_tokens, else the number of choice events
};

struct LoadGenResult {
  std::vector<RequestRecord> requests;  // [num_requests], in request order
  double duration_s = 0;                // start of the run -> last response done
};

// Sends the load and waits for every request. Per-request failures (HTTP status other than
// 200, connection errors, timeouts, an `error` object in the stream, a stream without text or
// without `data: [DONE]`) are recorded in the result, not returned. Raises this process's
// soft limit on open files (RLIMIT_NOFILE) when the workers need more than it allows.
// REQUIRES: ValidateOptions(options) ok, model and vocab_size resolved.
LoadGenResult RunLoad(const LoadGenOptions& options);

// The q-th percentile (0 <= q <= 100) of `values` with linear interpolation between the two
// nearest ranks, as numpy.percentile's default ("linear") method: rank = q/100 * (n - 1).
// 0 for an empty input.
double Percentile(std::vector<double> values, double q);

struct LatencyStats {
  int64_t count = 0;  // samples; the other fields are 0 when it is 0
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
};
LatencyStats ComputeLatencyStats(const std::vector<double>& values_ms);

// The numbers the report shows. Latencies and tokens count successful requests only.
struct Summary {
  int64_t num_ok = 0;
  int64_t num_failed = 0;
  std::string first_error;       // of the failed request that ended first
  double duration_s = 0;
  int64_t total_prompt_tokens = 0;
  int64_t total_output_tokens = 0;
  double request_throughput = 0;  // ok requests / s
  double output_throughput = 0;   // output tokens / s
  double total_throughput = 0;    // (prompt + output tokens) / s
  double max_send_lag_ms = 0;     // kRate: the latest any request was sent after its arrival
  LatencyStats ttft;
  LatencyStats itl;
  LatencyStats e2e;
  // With a shared prefix: TTFT of request 0 (the first to see the prefix; -1 if it failed)
  // and the median TTFT of the other successful requests.
  bool has_shared_prefix = false;
  double cold_prefix_ttft_ms = 0;
  double warm_prefix_ttft_p50_ms = 0;
};
Summary Summarize(const LoadGenOptions& options, const LoadGenResult& result);

// The report as a compact text table (ends with a newline), and the same numbers as JSON
// together with the options of the run.
std::string FormatReport(const LoadGenOptions& options, const Summary& summary);
nlohmann::json ReportJson(const LoadGenOptions& options, const Summary& summary);

}  // namespace brisk::loadgen
