// The load generator: inputs (prompts, arrivals) made up front from the seed, worker threads
// that each own one keep-alive connection and fill in their requests' records, and the
// statistics and report drawn from those records once every request has ended.
//
// Threads: kConcurrency runs `concurrency` workers; kRate runs min(num_requests, kMaxThreads)
// workers that take requests in order and sleep until each one's arrival time, so arrivals
// stay on schedule while fewer than kMaxThreads requests are in flight. Each record is written
// by the one worker that took its index; the main thread reads them after joining.
#include "bench/serve/load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <latch>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <utility>

#include <sys/resource.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"

namespace brisk::loadgen {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Mixed into the seed for the arrival generator so that it draws a stream independent of the
// prompt generator's (the 64-bit golden-ratio constant, a common choice for such offsets).
constexpr uint64_t kArrivalSeedMix = 0x9e3779b97f4a7c15ULL;
// Messages quoted from the server are cut to this many bytes to keep the report readable.
constexpr size_t kMaxQuotedBytes = 300;
// Sleeping until an arrival time overshoots by well under a millisecond on an idle machine;
// a send this much later means the schedule slipped and the report says so.
constexpr double kLateArrivalMs = 10.0;

// This abseil build has its own string_view type; convert at the calls into absl.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string Quote(std::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return std::string(text);
  return absl::StrCat(Sv(text.substr(0, kMaxQuotedBytes)), "...");
}

// Follows one response stream, event by event; keeps the first problem it sees.
struct StreamState {
  void OnEvent(std::string_view data, Clock::time_point now) {
    if (!error.empty()) return;
    if (data == "[DONE]") {
      done = true;
      return;
    }
    const json event = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object()) {
      error = absl::StrCat("malformed stream event: ", Quote(data));
      return;
    }
    if (const auto e = event.find("error"); e != event.end() && !e->is_null()) {
      const auto message = e->is_object() ? e->find("message") : e->end();
      const bool has_message = e->is_object() && message != e->end() && message->is_string();
      error = absl::StrCat("error in stream: ",
                           Quote(has_message ? message->get<std::string>() : e->dump()));
      return;
    }
    if (const auto choices = event.find("choices");
        choices != event.end() && choices->is_array() && !choices->empty()) {
      ++num_choice_events;
      const json& choice = choices->front();
      const auto text = choice.is_object() ? choice.find("text") : choice.end();
      if (choice.is_object() && text != choice.end() && text->is_string() &&
          !text->get_ref<const std::string&>().empty()) {
        if (num_text_events == 0) {
          first_text = now;
        } else {
          itl_ms.push_back(Millis(now - last_text));
        }
        last_text = now;
        ++num_text_events;
      }
    }
    if (const auto usage = event.find("usage"); usage != event.end() && usage->is_object()) {
      const auto completion = usage->find("completion_tokens");
      if (completion != usage->end() && completion->is_number_integer()) {
        completion_tokens = completion->get<int64_t>();
      }
      const auto prompt = usage->find("prompt_tokens");
      if (prompt != usage->end() && prompt->is_number_integer()) {
        prompt_tokens = prompt->get<int64_t>();
      }
    }
  }

  std::string error;
  bool done = false;
  int64_t num_choice_events = 0;
  int64_t num_text_events = 0;
  Clock::time_point first_text;
  Clock::time_point last_text;
  std::vector<double> itl_ms;
  int64_t completion_tokens = -1;  // -1: no usage seen
  int64_t prompt_tokens = -1;
};

// Sends one request on `conn` and measures it.
RequestRecord SendOne(HttpConnection& conn, std::string body, const LoadGenOptions& options,
                      Clock::time_point run_start) {
  RequestRecord record;
  StreamState state;
  const Clock::time_point sent = Clock::now();
  record.start_ms = Millis(sent - run_start);
  const auto deadline = sent + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.timeout_s));
  const auto response = conn.PostStream(
      "/v1/completions", std::move(body),
      [&state](std::string_view data) { state.OnEvent(data, Clock::now()); }, deadline);
  record.e2e_ms = Millis(Clock::now() - sent);
  if (!response.ok()) {
    record.error = std::string(response.status().message());
  } else if (response->status != 200) {
    record.error = absl::StrCat("HTTP ", response->status, ": ", Quote(response->body));
  } else if (!state.error.empty()) {
    record.error = state.error;
  } else if (state.num_text_events == 0) {
    record.error = "the stream carried no text (no event with non-empty choices[0].text)";
  } else if (!state.done) {
    record.error = "the stream ended without data: [DONE]";
  }
  record.ok = record.error.empty();
  if (state.num_text_events > 0) record.ttft_ms = Millis(state.first_text - sent);
  record.itl_ms = std::move(state.itl_ms);
  record.output_tokens =
      state.completion_tokens >= 0 ? state.completion_tokens : state.num_choice_events;
  record.prompt_tokens = state.prompt_tokens >= 0 ? state.prompt_tokens : options.input_len;
  return record;
}

// Prints a progress line every `interval_s` until Stop().
class ProgressReporter {
 public:
  ProgressReporter(double interval_s, int total, const std::atomic<int>* num_done,
                   const std::atomic<int>* num_failed)
      : total_(total), num_done_(num_done), num_failed_(num_failed) {
    if (interval_s <= 0) return;
    thread_ = std::thread([this, interval_s] {
      const auto interval = std::chrono::duration<double>(interval_s);
      const Clock::time_point start = Clock::now();
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, interval, [this] { return stopped_; })) {
        std::fprintf(stderr, "bench serve: %d/%d done, %d failed, %.1f s\n", num_done_->load(),
                     total_, num_failed_->load(),
                     std::chrono::duration<double>(Clock::now() - start).count());
      }
    });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const int total_;
  const std::atomic<int>* num_done_;
  const std::atomic<int>* num_failed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
  std::thread thread_;
};

// Each worker holds a socket plus its io_context's epoll, eventfd and timerfd descriptors, so
// 1024 workers need ~4100 descriptors where the usual soft limit is 1024. Raises the soft
// limit towards the hard one; past that, connections fail and are reported per request.
void EnsureOpenFileLimit(int num_workers) {
  constexpr rlim_t kPerWorker = 4;
  constexpr rlim_t kSpare = 64;  // stdio, the JSON output file, the resolver
  const rlim_t needed = static_cast<rlim_t>(num_workers) * kPerWorker + kSpare;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  limit.rlim_cur = std::min(needed, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

absl::Status ValidateOptions(const LoadGenOptions& o) {
  BRISK_RETURN_IF_ERROR(ParseUrl(o.url).status());
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (o.num_requests < 1) return bad("--num-requests must be >= 1, got ", o.num_requests);
  if (o.input_len < 1) return bad("--input-len must be >= 1, got ", o.input_len);
  if (o.output_len < 1) return bad("--output-len must be >= 1, got ", o.output_len);
  if (o.shared_prefix_len < 0 || o.shared_prefix_len > o.input_len) {
    return bad("--shared-prefix-len must be in [0, --input-len = ", o.input_len, "], got ",
               o.shared_prefix_len);
  }
  if (o.distinct_prompts < 0) {
    return bad("--distinct-prompts must be >= 0, got ", o.distinct_prompts);
  }
  if (o.vocab_size < 0 || o.vocab_size > std::numeric_limits<int32_t>::max()) {
    return bad("--vocab-size must be in [1, 2^31), got ", o.vocab_size);
  }
  if (o.mode == ArrivalMode::kConcurrency && (o.concurrency < 1 || o.concurrency > kMaxThreads)) {
    return bad("--concurrency must be in [1, ", kMaxThreads, "], got ", o.concurrency);
  }
  if (o.mode == ArrivalMode::kRate && !(o.rate > 0)) {
    return bad("--rate must be > 0 (or inf), got ", o.rate);
  }
  if (!(o.timeout_s > 0)) return bad("--timeout-s must be > 0, got ", o.timeout_s);
  if (!(o.progress_interval_s >= 0)) return bad("progress interval must be >= 0");
  return absl::OkStatus();
}

absl::Status ResolveServerDefaults(LoadGenOptions* options) {
  if (!options->model.empty() && options->vocab_size > 0) return absl::OkStatus();
  BRISK_ASSIGN_OR_RETURN(const Url url, ParseUrl(options->url));
  HttpConnection conn(url);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options->timeout_s));
  BRISK_ASSIGN_OR_RETURN(const HttpResponse response, conn.Get("/v1/models", deadline));
  if (response.status != 200) {
    return absl::UnavailableError(absl::StrCat("GET /v1/models answered HTTP ", response.status,
                                               ": ", Quote(response.body)));
  }
  const json doc = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const bool listed = doc.is_object() && doc.contains("data") && doc["data"].is_array() &&
                      !doc["data"].empty() && doc["data"][0].is_object();
  const json entry = listed ? doc["data"][0] : json::object();
  if (options->model.empty()) {
    if (!entry.contains("id") || !entry["id"].is_string()) {
      return absl::FailedPreconditionError(
          "GET /v1/models names no model (data[0].id); pass --model");
    }
    options->model = entry["id"].get<std::string>();
  }
  if (options->vocab_size == 0) {
    if (!entry.contains("vocab_size") || !entry["vocab_size"].is_number_integer() ||
        entry["vocab_size"].get<int64_t>() < 1 ||
        entry["vocab_size"].get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return absl::FailedPreconditionError(
          "the server does not report data[0].vocab_size in GET /v1/models; pass --vocab-size");
    }
    options->vocab_size = entry["vocab_size"].get<int64_t>();
  }
  return absl::OkStatus();
}

std::vector<std::vector<int32_t>> BuildPrompts(int num_requests, int input_len,
                                               int shared_prefix_len, int64_t vocab_size,
                                               uint64_t seed) {
  BRISK_CHECK(shared_prefix_len >= 0 && shared_prefix_len <= input_len) << shared_prefix_len;
  BRISK_CHECK(vocab_size >= 1 && vocab_size <= std::numeric_limits<int32_t>::max());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab_size - 1));
  std::vector<int32_t> prefix(shared_prefix_len);
  for (int32_t& t : prefix) t = id(rng);
  std::vector<std::vector<int32_t>> prompts(num_requests);
  for (std::vector<int32_t>& prompt : prompts) {
    prompt.reserve(input_len);
    prompt = prefix;
    for (int i = shared_prefix_len; i < input_len; ++i) prompt.push_back(id(rng));
  }
  return prompts;
}

std::vector<double> ArrivalTimesS(int num_requests, double rate, uint64_t seed) {
  BRISK_CHECK(rate > 0) << rate;
  std::vector<double> times(num_requests, 0.0);
  if (std::isinf(rate)) return times;
  std::mt19937_64 rng(seed ^ kArrivalSeedMix);
  std::exponential_distribution<double> gap(rate);
  for (int i = 1; i < num_requests; ++i) times[i] = times[i - 1] + gap(rng);
  return times;
}

std::string CompletionRequestJson(const std::string& model, const std::vector<int32_t>& prompt,
                                  int max_tokens) {
  const json body = {{"model", model},
                     {"prompt", prompt},
                     {"max_tokens", max_tokens},
                     {"temperature", 0},
                     {"ignore_eos", true},
                     {"stream", true},
                     {"stream_options", {{"include_usage", true}}}};
  // Replace (not throw on) invalid UTF-8 in a user-given model name.
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

LoadGenResult RunLoad(const LoadGenOptions& options) {
  BRISK_CHECK(ValidateOptions(options).ok()) << ValidateOptions(options).message();
  BRISK_CHECK(options.vocab_size >= 1) << "vocab_size not resolved";
  const Url url = *ParseUrl(options.url);
  const int n = options.num_requests;
  const int num_prompts =
      options.distinct_prompts > 0 ? std::min(n, options.distinct_prompts) : n;
  const auto prompts = BuildPrompts(num_prompts, options.input_len, options.shared_prefix_len,
                                    options.vocab_size, options.seed);
  const bool by_rate = options.mode == ArrivalMode::kRate;
  const std::vector<double> arrivals_s =
      by_rate ? ArrivalTimesS(n, options.rate, options.seed) : std::vector<double>();
  const int num_threads = std::min(n, by_rate ? kMaxThreads : options.concurrency);

  EnsureOpenFileLimit(num_threads);

  LoadGenResult result;
  result.requests.resize(n);
  std::atomic<int> next_idx{0};
  std::atomic<int> num_done{0};
  std::atomic<int> num_failed{0};
  Clock::time_point start;
  std::latch go(1);  // workers start together once all exist and `start` is set
  auto worker = [&] {
    go.wait();
    HttpConnection conn(url);
    for (int idx = next_idx.fetch_add(1); idx < n; idx = next_idx.fetch_add(1)) {
      std::string body = CompletionRequestJson(options.model, prompts[idx % num_prompts],
                                               options.output_len);
      if (by_rate) {
        std::this_thread::sleep_until(start + std::chrono::duration_cast<Clock::duration>(
                                                  std::chrono::duration<double>(arrivals_s[idx])));
      }
      RequestRecord record = SendOne(conn, std::move(body), options, start);
      if (by_rate) record.send_lag_ms = std::max(0.0, record.start_ms - arrivals_s[idx] * 1e3);
      if (!record.ok) num_failed.fetch_add(1);
      result.requests[idx] = std::move(record);
      num_done.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) threads.emplace_back(worker);
  start = Clock::now();
  go.count_down();
  ProgressReporter progress(options.progress_interval_s, n, &num_done, &num_failed);
  for (std::thread& t : threads) t.join();
  progress.Stop();
  double end_ms = 0;
  for (const RequestRecord& r : result.requests) end_ms = std::max(end_ms, r.start_ms + r.e2e_ms);
  result.duration_s = end_ms / 1e3;
  return result;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(q, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

LatencyStats ComputeLatencyStats(const std::vector<double>& values_ms) {
  LatencyStats s;
  s.count = static_cast<int64_t>(values_ms.size());
  if (values_ms.empty()) return s;
  s.mean_ms = std::accumulate(values_ms.begin(), values_ms.end(), 0.0) / s.count;
  s.p50_ms = Percentile(values_ms, 50);
  s.p90_ms = Percentile(values_ms, 90);
  s.p99_ms = Percentile(values_ms, 99);
  return s;
}

Summary Summarize(const LoadGenOptions& options, const LoadGenResult& result) {
  Summary s;
  s.duration_s = result.duration_s;
  std::vector<double> ttft, itl, e2e, warm_ttft;
  double first_error_end_ms = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < result.requests.size(); ++i) {
    const RequestRecord& r = result.requests[i];
    s.max_send_lag_ms = std::max(s.max_send_lag_ms, r.send_lag_ms);
    if (!r.ok) {
      ++s.num_failed;
      if (r.start_ms + r.e2e_ms < first_error_end_ms) {
        first_error_end_ms = r.start_ms + r.e2e_ms;
        s.first_error = absl::StrCat("request ", i, ": ", r.error);
      }
      continue;
    }
    ++s.num_ok;
    s.total_prompt_tokens += r.prompt_tokens;
    s.total_output_tokens += r.output_tokens;
    ttft.push_back(r.ttft_ms);
    e2e.push_back(r.e2e_ms);
    itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
    if (i > 0) warm_ttft.push_back(r.ttft_ms);
  }
  if (s.duration_s > 0) {
    s.request_throughput = s.num_ok / s.duration_s;
    s.output_throughput = s.total_output_tokens / s.duration_s;
    s.total_throughput = (s.total_prompt_tokens + s.total_output_tokens) / s.duration_s;
  }
  s.ttft = ComputeLatencyStats(ttft);
  s.itl = ComputeLatencyStats(itl);
  s.e2e = ComputeLatencyStats(e2e);
  s.has_shared_prefix = options.shared_prefix_len > 0;
  if (s.has_shared_prefix) {
    const bool first_ok = !result.requests.empty() && result.requests[0].ok;
    s.cold_prefix_ttft_ms = first_ok ? result.requests[0].ttft_ms : -1;
    s.warm_prefix_ttft_p50_ms = Percentile(warm_ttft, 50);
  }
  return s;
}

namespace {

std::string ArrivalText(const LoadGenOptions& o) {
  if (o.mode == ArrivalMode::kConcurrency) return absl::StrCat("concurrency ", o.concurrency);
  return std::isinf(o.rate) ? "rate inf (all at once)" : absl::StrFormat("rate %g req/s", o.rate);
}

void AppendLatencyRow(std::string* out, std::string_view name, const LatencyStats& s) {
  if (s.count == 0) {
    absl::StrAppendFormat(out, "  %-6s %10s %10s %10s %10s\n", name, "-", "-", "-", "-");
    return;
  }
  absl::StrAppendFormat(out, "  %-6s %10.2f %10.2f %10.2f %10.2f\n", name, s.mean_ms, s.p50_ms,
                        s.p90_ms, s.p99_ms);
}

json LatencyJson(const LatencyStats& s) {
  if (s.count == 0) {
    return {{"count", 0}, {"mean", nullptr}, {"p50", nullptr}, {"p90", nullptr}, {"p99", nullptr}};
  }
  return {{"count", s.count}, {"mean", s.mean_ms}, {"p50", s.p50_ms}, {"p90", s.p90_ms},
          {"p99", s.p99_ms}};
}

}  // namespace

std::string FormatReport(const LoadGenOptions& o, const Summary& s) {
  std::string out = absl::StrFormat(
      "brisk bench serve: %s, model %s, %d requests x (%d in + %d out) tokens, %s\n",
      o.url, o.model, o.num_requests, o.input_len, o.output_len, ArrivalText(o));
  absl::StrAppendFormat(&out, "  requests ok / failed     %d / %d\n", s.num_ok, s.num_failed);
  absl::StrAppendFormat(&out, "  duration                 %.3f s\n", s.duration_s);
  absl::StrAppendFormat(&out, "  request throughput       %.2f req/s\n", s.request_throughput);
  absl::StrAppendFormat(&out, "  output tokens/s          %.1f\n", s.output_throughput);
  absl::StrAppendFormat(&out, "  total tokens/s           %.1f\n", s.total_throughput);
  absl::StrAppendFormat(&out, "  %-6s %10s %10s %10s %10s\n", "ms", "mean", "p50", "p90", "p99");
  AppendLatencyRow(&out, "TTFT", s.ttft);
  AppendLatencyRow(&out, "ITL", s.itl);
  AppendLatencyRow(&out, "E2E", s.e2e);
  if (s.has_shared_prefix) {
    absl::StrAppendFormat(&out,
                          "  shared prefix %d tokens: TTFT of request 0 (cold) %s, "
                          "median TTFT of the others %.2f ms\n",
                          o.shared_prefix_len,
                          s.cold_prefix_ttft_ms < 0
                              ? std::string("- (failed)")
                              : absl::StrFormat("%.2f ms", s.cold_prefix_ttft_ms),
                          s.warm_prefix_ttft_p50_ms);
  }
  if (s.max_send_lag_ms > kLateArrivalMs) {
    absl::StrAppendFormat(&out,
                          "  warning: requests were sent up to %.1f ms after their arrival time "
                          "(client overloaded, or over %d in flight)\n",
                          s.max_send_lag_ms, kMaxThreads);
  }
  if (s.num_failed > 0) absl::StrAppendFormat(&out, "  first error: %s\n", s.first_error);
  return out;
}

json ReportJson(const LoadGenOptions& o, const Summary& s) {
  json config = {{"url", o.url},
                 {"model", o.model},
                 {"num_requests", o.num_requests},
                 {"input_len", o.input_len},
                 {"output_len", o.output_len},
                 {"seed", o.seed},
                 {"shared_prefix_len", o.shared_prefix_len},
                 {"vocab_size", o.vocab_size},
                 {"timeout_s", o.timeout_s}};
  if (o.mode == ArrivalMode::kConcurrency) {
    config["concurrency"] = o.concurrency;
  } else {
    config["rate"] = std::isinf(o.rate) ? json("inf") : json(o.rate);  // JSON has no infinity
  }
  json report = {{"config", config},
                 {"requests_ok", s.num_ok},
                 {"requests_failed", s.num_failed},
                 {"duration_s", s.duration_s},
                 {"request_throughput_per_s", s.request_throughput},
                 {"output_tokens_per_s", s.output_throughput},
                 {"total_tokens_per_s", s.total_throughput},
                 {"total_prompt_tokens", s.total_prompt_tokens},
                 {"total_output_tokens", s.total_output_tokens},
                 {"max_send_lag_ms", s.max_send_lag_ms},
                 {"ttft_ms", LatencyJson(s.ttft)},
                 {"itl_ms", LatencyJson(s.itl)},
                 {"e2e_ms", LatencyJson(s.e2e)},
                 {"first_error", s.num_failed > 0 ? json(s.first_error) : json(nullptr)}};
  if (s.has_shared_prefix) {
    report["shared_prefix"] = {
        {"cold_ttft_ms", s.cold_prefix_ttft_ms < 0 ? json(nullptr) : json(s.cold_prefix_ttft_ms)},
        {"warm_ttft_p50_ms", s.warm_prefix_ttft_p50_ms}};
  }
  return report;
}

}  // namespace brisk::loadgen
