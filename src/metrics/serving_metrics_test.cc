// Tests of ServingMetrics: after a few hand-made Record* calls and gauge snapshots, the rendered
// text (parsed line by line) holds the sample values derived by hand below; and the whole output
// passes `promtool check metrics` (format and naming lint) when promtool is installed.
#include "metrics/serving_metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace brisk::metrics {
namespace {

// Parses exposition text into {"name{labels}" -> value}; fails the test on a malformed line.
std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      EXPECT_TRUE(line.starts_with("# HELP ") || line.starts_with("# TYPE ")) << line;
      continue;
    }
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    const std::string series = line.substr(0, space);
    EXPECT_EQ(samples.count(series), 0u) << "duplicate series " << series;
    samples[series] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return samples;
}

// Fails the test when the series is absent; returns its value otherwise.
double Sample(const std::map<std::string, double>& samples, const std::string& series) {
  auto it = samples.find(series);
  EXPECT_NE(it, samples.end()) << "missing series " << series;
  return it == samples.end() ? -12345 : it->second;
}

bool HasSeriesWithPrefix(const std::map<std::string, double>& samples, const std::string& prefix) {
  auto it = samples.lower_bound(prefix);
  return it != samples.end() && it->first.starts_with(prefix);
}

constexpr const char* kModel = "brisk-tiny";

// Requests, steps and HTTP responses whose expected series are worked out in the tests.
void RecordScenario(ServingMetrics& m) {
  m.RecordRequest({.model = kModel, .tenant = "acme", .finish_reason = "stop",
                   .num_prompt_tokens = 10, .num_output_tokens = 4, .num_cached_tokens = 8,
                   .queue_s = 0.002, .prefill_s = 0.01, .decode_s = 0.03, .ttft_s = 0.012,
                   .e2e_s = 0.042, .inter_token_s = {0.004, 0.012, 0.0009}});
  m.RecordRequest({.model = kModel, .tenant = "", .finish_reason = "stop",
                   .num_prompt_tokens = 5, .num_output_tokens = 2, .queue_s = 0.1,
                   .prefill_s = 0.2, .decode_s = 0.2, .ttft_s = 0.3, .e2e_s = 0.5,
                   .inter_token_s = {0.02}});
  // Aborted while waiting: no token, so no TTFT / prefill / decode observation.
  m.RecordRequest({.model = kModel, .tenant = "acme", .finish_reason = "abort",
                   .num_prompt_tokens = 7, .queue_s = 2, .ttft_s = -1, .e2e_s = 2,
                   .inter_token_s = {}});
  m.RecordStep({.model = kModel, .duration_s = 0.004, .num_seqs = 2,
                .num_prefill_tokens = 100, .num_decode_tokens = 3, .has_prefill = true});
  m.RecordStep({.model = kModel, .duration_s = 0.002, .num_seqs = 8, .num_decode_tokens = 8});
  m.RecordStep({.model = kModel, .duration_s = 0.003, .num_seqs = 8, .num_decode_tokens = 8});
  m.RecordHttp({.endpoint = "/v1/chat/completions", .status_code = 200, .duration_s = 0.05});
  m.RecordHttp({.endpoint = "/v1/chat/completions", .status_code = 200, .duration_s = 0.07});
  m.RecordHttp({.endpoint = "/v1/chat/completions", .status_code = 400, .duration_s = 0.001});
  m.RecordHttp({.endpoint = "/metrics", .status_code = 200, .duration_s = 0.0004});
  // Response cache: an exact miss, then a semantic hit served from memory; an exact hit from
  // RocksDB; two inserts, one refused.
  m.RecordCacheLookup({.model = kModel, .tier = "exact", .hit = false, .store = "",
                       .lookup_s = 0.00002});
  m.RecordCacheLookup({.model = kModel, .tier = "semantic", .hit = true, .store = "memory",
                       .lookup_s = 0.0003, .embed_s = 0.004, .tokens_saved = 12,
                       .seconds_saved = 0.25});
  m.RecordCacheLookup({.model = kModel, .tier = "exact", .hit = true, .store = "rocksdb",
                       .lookup_s = 0.00004, .tokens_saved = 30, .seconds_saved = 0.5});
  m.RecordCacheInsert({.model = kModel, .tier = "exact", .stored = true});
  m.RecordCacheInsert({.model = kModel, .tier = "semantic", .stored = false});
}

std::vector<EngineGauges> Snapshots(int64_t num_preemptions) {
  return {{.model = kModel, .num_running = 3, .num_waiting = 1, .num_kv_blocks = 64,
           .num_kv_blocks_used = 40, .num_kv_blocks_free = 24, .num_prefix_queried_tokens = 200,
           .num_prefix_hit_tokens = 50, .num_preemptions = num_preemptions},
          {.model = "idle", .num_kv_blocks = 16, .num_kv_blocks_free = 16}};
}

TEST(ServingMetricsTest, RequestSeries) {
  ServingMetrics m;
  RecordScenario(m);
  const auto s = ParseSamples(m.Render(Snapshots(2)));
  EXPECT_EQ(Sample(s, R"(brisk_requests_total{model="brisk-tiny",finish_reason="stop"})"), 2);
  EXPECT_EQ(Sample(s, R"(brisk_requests_total{model="brisk-tiny",finish_reason="abort"})"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_prompt_tokens_total{model="brisk-tiny"})"), 22);
  EXPECT_EQ(Sample(s, R"(brisk_generation_tokens_total{model="brisk-tiny"})"), 6);
  EXPECT_EQ(Sample(s, R"(brisk_cached_prompt_tokens_total{model="brisk-tiny"})"), 8);
  // Tenant "acme": prompts 10 + 7, outputs 4 + 0; the empty tenant gets no series.
  EXPECT_EQ(Sample(s, R"(brisk_tenant_tokens_total{tenant="acme",kind="prompt"})"), 17);
  EXPECT_EQ(Sample(s, R"(brisk_tenant_tokens_total{tenant="acme",kind="generated"})"), 4);
  EXPECT_FALSE(HasSeriesWithPrefix(s, R"(brisk_tenant_tokens_total{tenant="",)"));

  // TTFT: 0.012 and 0.3 (the aborted request is left out).
  const std::string ttft = "brisk_time_to_first_token_seconds";
  EXPECT_EQ(Sample(s, ttft + R"(_count{model="brisk-tiny"})"), 2);
  EXPECT_NEAR(Sample(s, ttft + R"(_sum{model="brisk-tiny"})"), 0.312, 1e-12);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="0.01"})"), 0);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="0.025"})"), 1);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="0.2"})"), 1);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="0.3"})"), 2);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="+Inf"})"), 2);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="0.001"})"), 0);
  EXPECT_EQ(Sample(s, ttft + R"(_bucket{model="brisk-tiny",le="60"})"), 2);

  // ITL gaps 0.004, 0.012, 0.0009, 0.02: one observation each.
  const std::string itl = "brisk_inter_token_latency_seconds";
  EXPECT_EQ(Sample(s, itl + R"(_count{model="brisk-tiny"})"), 4);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="0.0005"})"), 0);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="0.001"})"), 1);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="0.005"})"), 2);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="0.015"})"), 3);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="0.02"})"), 4);
  EXPECT_EQ(Sample(s, itl + R"(_bucket{model="brisk-tiny",le="5"})"), 4);

  EXPECT_EQ(Sample(s, R"(brisk_e2e_request_latency_seconds_count{model="brisk-tiny"})"), 3);
  EXPECT_NEAR(Sample(s, R"(brisk_e2e_request_latency_seconds_sum{model="brisk-tiny"})"), 2.542,
              1e-12);
  EXPECT_EQ(Sample(s, R"(brisk_request_queue_time_seconds_count{model="brisk-tiny"})"), 3);
  EXPECT_EQ(Sample(s, R"(brisk_request_queue_time_seconds_bucket{model="brisk-tiny",le="0.0025"})"),
            1);
  EXPECT_EQ(Sample(s, R"(brisk_request_prefill_time_seconds_count{model="brisk-tiny"})"), 2);
  EXPECT_NEAR(Sample(s, R"(brisk_request_prefill_time_seconds_sum{model="brisk-tiny"})"), 0.21,
              1e-12);
  EXPECT_EQ(Sample(s, R"(brisk_request_decode_time_seconds_count{model="brisk-tiny"})"), 2);
}

TEST(ServingMetricsTest, StepAndHttpSeries) {
  ServingMetrics m;
  RecordScenario(m);
  const auto s = ParseSamples(m.Render({}));
  const std::string step = "brisk_step_duration_seconds";
  EXPECT_EQ(Sample(s, step + R"(_count{model="brisk-tiny",kind="prefill"})"), 1);
  EXPECT_EQ(Sample(s, step + R"(_count{model="brisk-tiny",kind="decode"})"), 2);
  EXPECT_NEAR(Sample(s, step + R"(_sum{model="brisk-tiny",kind="decode"})"), 0.005, 1e-12);
  EXPECT_EQ(Sample(s, step + R"(_bucket{model="brisk-tiny",kind="decode",le="0.0025"})"), 1);
  EXPECT_EQ(Sample(s, step + R"(_bucket{model="brisk-tiny",kind="decode",le="0.005"})"), 2);
  // Tokens per step: 103, 8, 8.
  const std::string tokens = "brisk_step_batch_tokens";
  EXPECT_EQ(Sample(s, tokens + R"(_bucket{model="brisk-tiny",le="4"})"), 0);
  EXPECT_EQ(Sample(s, tokens + R"(_bucket{model="brisk-tiny",le="8"})"), 2);
  EXPECT_EQ(Sample(s, tokens + R"(_bucket{model="brisk-tiny",le="64"})"), 2);
  EXPECT_EQ(Sample(s, tokens + R"(_bucket{model="brisk-tiny",le="128"})"), 3);
  EXPECT_EQ(Sample(s, tokens + R"(_sum{model="brisk-tiny"})"), 119);

  EXPECT_EQ(
      Sample(s, R"(brisk_http_requests_total{endpoint="/v1/chat/completions",code="200"})"), 2);
  EXPECT_EQ(
      Sample(s, R"(brisk_http_requests_total{endpoint="/v1/chat/completions",code="400"})"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_http_requests_total{endpoint="/metrics",code="200"})"), 1);
  EXPECT_EQ(
      Sample(s, R"(brisk_http_request_duration_seconds_count{endpoint="/v1/chat/completions"})"),
      3);
  EXPECT_EQ(
      Sample(s, R"(brisk_http_request_duration_seconds_bucket{endpoint="/metrics",le="0.0005"})"),
      1);
  // No snapshot given: no occupancy series yet.
  EXPECT_FALSE(HasSeriesWithPrefix(s, "brisk_num_requests_running"));
}

TEST(ServingMetricsTest, GaugesAndCountersFromSnapshots) {
  ServingMetrics m;
  auto s = ParseSamples(m.Render(Snapshots(2)));
  EXPECT_EQ(Sample(s, R"(brisk_num_requests_running{model="brisk-tiny"})"), 3);
  EXPECT_EQ(Sample(s, R"(brisk_num_requests_waiting{model="brisk-tiny"})"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_kv_blocks_capacity{model="brisk-tiny"})"), 64);
  EXPECT_EQ(Sample(s, R"(brisk_kv_blocks_used{model="brisk-tiny"})"), 40);
  EXPECT_EQ(Sample(s, R"(brisk_kv_blocks_free{model="brisk-tiny"})"), 24);
  EXPECT_EQ(Sample(s, R"(brisk_prefix_cache_queried_tokens_total{model="brisk-tiny"})"), 200);
  EXPECT_EQ(Sample(s, R"(brisk_prefix_cache_hit_tokens_total{model="brisk-tiny"})"), 50);
  EXPECT_EQ(Sample(s, R"(brisk_prefix_cache_hit_rate{model="brisk-tiny"})"), 0.25);
  EXPECT_EQ(Sample(s, R"(brisk_prefix_cache_hit_rate{model="idle"})"), 0);
  EXPECT_EQ(Sample(s, R"(brisk_kv_blocks_free{model="idle"})"), 16);
  EXPECT_EQ(Sample(s, R"(brisk_preemptions_total{model="brisk-tiny"})"), 2);
  // The engine's count is mirrored, not accumulated: 5 after 2 reads 5, not 7.
  s = ParseSamples(m.Render(Snapshots(5)));
  EXPECT_EQ(Sample(s, R"(brisk_preemptions_total{model="brisk-tiny"})"), 5);
}

TEST(ServingMetricsTest, TypesAndHelpAnnounced) {
  ServingMetrics m;
  RecordScenario(m);
  const std::string text = m.Render(Snapshots(1));
  for (const char* line : {"# TYPE brisk_preemptions_total counter\n",
                           "# TYPE brisk_kv_blocks_used gauge\n",
                           "# TYPE brisk_time_to_first_token_seconds histogram\n",
                           "# TYPE brisk_step_batch_tokens histogram\n",
                           "# TYPE brisk_tenant_tokens_total counter\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  EXPECT_NE(text.find("# HELP brisk_requests_total "), std::string::npos);
}

// Returns the full path of `name` on PATH, or "" when absent.
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

TEST(ServingMetricsTest, ResponseCacheSeries) {
  ServingMetrics m;
  RecordScenario(m);
  const auto s = ParseSamples(m.Render({}));
  const std::string lookups = "brisk_response_cache_lookups_total";
  EXPECT_EQ(Sample(s, lookups + R"({model="brisk-tiny",tier="exact",result="hit"})"), 1);
  EXPECT_EQ(Sample(s, lookups + R"({model="brisk-tiny",tier="exact",result="miss"})"), 1);
  EXPECT_EQ(Sample(s, lookups + R"({model="brisk-tiny",tier="semantic",result="hit"})"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_response_cache_lookup_seconds_count{tier="exact"})"), 2);
  EXPECT_EQ(Sample(s, R"(brisk_response_cache_lookup_seconds_bucket{tier="exact",le="2.5e-05"})"),
            1);
  EXPECT_NEAR(Sample(s, R"(brisk_response_cache_lookup_seconds_sum{tier="exact"})"), 0.00006,
              1e-12);
  // Only the semantic lookup embedded its query.
  EXPECT_EQ(Sample(s, "brisk_semantic_cache_embed_seconds_count"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_response_cache_store_hits_total{tier="exact",store="rocksdb"})"), 1);
  EXPECT_EQ(Sample(s, R"(brisk_response_cache_store_hits_total{tier="semantic",store="memory"})"),
            1);
  EXPECT_EQ(Sample(s, R"(brisk_response_cache_saved_tokens_total{model="brisk-tiny",tier="exact"})"),
            30);
  EXPECT_EQ(
      Sample(s, R"(brisk_response_cache_saved_tokens_total{model="brisk-tiny",tier="semantic"})"),
      12);
  EXPECT_NEAR(
      Sample(s, R"(brisk_response_cache_saved_seconds_total{model="brisk-tiny",tier="exact"})"),
      0.5, 1e-12);
  const std::string inserts = "brisk_response_cache_inserts_total";
  EXPECT_EQ(Sample(s, inserts + R"({model="brisk-tiny",tier="exact",result="stored"})"), 1);
  EXPECT_EQ(Sample(s, inserts + R"({model="brisk-tiny",tier="semantic",result="refused"})"), 1);
}

TEST(ServingMetricsTest, PromtoolAcceptsOutputWithoutLintProblems) {
  const std::string promtool = FindOnPath("promtool");
  if (promtool.empty()) GTEST_SKIP() << "promtool not found: run scripts/install-deps.sh";
  ServingMetrics m;
  RecordScenario(m);
  const std::string text = m.Render(Snapshots(3));
  const std::string file = ::testing::TempDir() + "brisk_serving_metrics_" +
                           std::to_string(::getpid()) + ".prom";
  {
    std::ofstream out(file, std::ios::binary);
    out << text;
    ASSERT_TRUE(out.good()) << "cannot write " << file;
  }
  const std::string command = "'" + promtool + "' check metrics < '" + file + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  std::remove(file.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "promtool did not exit normally";
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_EQ(output, "") << "promtool reported problems:\n" << output;
}

}  // namespace
}  // namespace brisk::metrics
