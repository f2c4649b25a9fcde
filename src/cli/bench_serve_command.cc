// `brisk bench serve`: flag parsing and checks, then the load generator, the report on stdout
// and optionally the same numbers as a JSON file. Command-line problems are checked here
// rather than by CLI11 validators so that they all exit with code 2 and a message that names
// the flag.
#include "cli/bench_serve_command.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/serve/load_generator.h"

namespace brisk::cli {
namespace {

constexpr int kFailed = 1;
constexpr int kBadUsage = 2;

struct BenchServeFlags {
  loadgen::LoadGenOptions load;
  std::string rate;      // "" unless --rate was given
  std::string json_out;  // "" : no JSON file
  // The flags that have no default, to tell "not given" from a given value.
  std::vector<const CLI::Option*> required;
  const CLI::Option* rate_flag = nullptr;
  const CLI::Option* concurrency_flag = nullptr;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

// "inf" / "infinity" (any case) or a positive number; nullopt otherwise.
std::optional<double> ParseRate(const std::string& text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "inf" || lower == "infinity") return std::numeric_limits<double>::infinity();
  size_t used = 0;
  double rate = 0;
  try {  // std::stod reports bad input by throwing; keep it inside this function
    rate = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used != text.size() || !(rate > 0) || std::isinf(rate)) return std::nullopt;
  return rate;
}

int RunBenchServe(BenchServeFlags& flags) {
  loadgen::LoadGenOptions& o = flags.load;
  for (const CLI::Option* flag : flags.required) {
    if (flag->count() == 0) return Fail(kBadUsage, "bench serve needs " + flag->get_name());
  }
  if (flags.rate_flag->count() > 0 && flags.concurrency_flag->count() > 0) {
    return Fail(kBadUsage, "give --rate or --concurrency, not both");
  }
  if (flags.rate_flag->count() > 0) {
    const std::optional<double> rate = ParseRate(flags.rate);
    if (!rate) return Fail(kBadUsage, "--rate must be a positive number or inf, got " + flags.rate);
    o.mode = loadgen::ArrivalMode::kRate;
    o.rate = *rate;
  }
  if (const absl::Status s = loadgen::ValidateOptions(o); !s.ok()) {
    return Fail(kBadUsage, std::string(s.message()));
  }
  if (const absl::Status s = loadgen::ResolveServerDefaults(&o); !s.ok()) {
    const bool needs_flag = s.code() == absl::StatusCode::kFailedPrecondition;
    return Fail(needs_flag ? kBadUsage : kFailed, std::string(s.message()));
  }
  std::fprintf(stderr, "bench serve: %d requests to %s, model %s, vocab %lld\n", o.num_requests,
               o.url.c_str(), o.model.c_str(), static_cast<long long>(o.vocab_size));
  const loadgen::LoadGenResult result = loadgen::RunLoad(o);
  const loadgen::Summary summary = loadgen::Summarize(o, result);
  const std::string report = loadgen::FormatReport(o, summary);
  std::fwrite(report.data(), 1, report.size(), stdout);
  std::fflush(stdout);
  if (!flags.json_out.empty()) {
    std::ofstream out(flags.json_out);
    // Replace, not throw on, invalid UTF-8 quoted from a server's error message.
    out << loadgen::ReportJson(o, summary).dump(2, ' ', false,
                                                nlohmann::json::error_handler_t::replace)
        << "\n";
    if (!out) return Fail(kFailed, "cannot write " + flags.json_out);
  }
  if (summary.num_failed > 0) {
    return Fail(kFailed, std::to_string(summary.num_failed) + " of " +
                             std::to_string(o.num_requests) + " requests failed; first: " +
                             summary.first_error);
  }
  return 0;
}

}  // namespace

void AddBenchServeCommand(CLI::App* bench) {
  auto flags = std::make_shared<BenchServeFlags>();
  loadgen::LoadGenOptions& o = flags->load;
  CLI::App* serve = bench->add_subcommand(
      "serve",
      "Load-test a running OpenAI-compatible server: streaming /v1/completions requests with\n"
      "random token-id prompts; prints requests ok/failed, throughput and TTFT / ITL / E2E\n"
      "latency (mean, p50, p90, p99; percentiles interpolate linearly like numpy). ITL is the\n"
      "gap between streamed events with text: an event carrying k tokens counts once.\n"
      "Exit code 0: all requests succeeded; 1: some failed; 2: bad flags.");
  flags->required.push_back(serve->add_option(
      "--url", o.url, "server base URL, http://host:port (required; no https)"));
  flags->rate_flag = serve->add_option(
      "--rate", flags->rate,
      "open-loop Poisson arrivals at this many requests/s, or inf to send all at once; "
      "arrival times are fixed by --seed before the run (excludes --concurrency)");
  flags->concurrency_flag = serve->add_option(
      "--concurrency", o.concurrency,
      "closed loop: this many workers each send their next request when the last ends "
      "(1-1024; default 1 when --rate is not given)");
  flags->required.push_back(serve->add_option("--num-requests", o.num_requests,
                                              "requests to send (required)"));
  flags->required.push_back(serve->add_option("--input-len", o.input_len,
                                              "prompt length in tokens (required)"));
  flags->required.push_back(serve->add_option(
      "--output-len", o.output_len,
      "tokens to generate per request: max_tokens, with ignore_eos (required)"));
  flags->required.push_back(serve->add_option(
      "--seed", o.seed,
      "seed of the prompt ids and the arrival gaps; same seed, same load (required)"));
  serve->add_option("--model", o.model,
                    "model name to request (default: data[0].id of GET /v1/models)");
  serve->add_option("--shared-prefix-len", o.shared_prefix_len,
                    "the first P prompt ids are the same in every request, to measure prefix "
                    "caching; the report adds request 0's (cold) TTFT and the median of the "
                    "others (default 0: no shared prefix)");
  serve->add_option("--distinct-prompts", o.distinct_prompts,
                    "request i sends prompt i mod D, so requests repeat exactly: measures a "
                    "response cache (default 0: every prompt differs)")
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--vocab-size", o.vocab_size,
                    "prompt ids are drawn uniformly from [0, V) (default: data[0].vocab_size "
                    "of GET /v1/models; required when the server does not report it)");
  serve->add_option("--json-out", flags->json_out,
                    "also write the numbers and the run's settings to this JSON file");
  serve->add_option("--timeout-s", o.timeout_s,
                    "per-request limit in seconds, from sending to the end of the stream; a "
                    "request past it counts as failed")
      ->capture_default_str();
  serve->callback([flags] {
    const int code = RunBenchServe(*flags);
    if (code != 0) throw CLI::RuntimeError(code);  // CLI11's way to set the exit code
  });
}

}  // namespace brisk::cli
