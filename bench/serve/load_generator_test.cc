// Unit tests of the load generator's pure parts: percentiles, the arrival schedule, prompts,
// the request body, option checks and the summary of hand-made records.
#include "bench/serve/load_generator.h"

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace brisk::loadgen {
namespace {

TEST(PercentileTest, MatchesNumpyLinearByHand) {
  // numpy.percentile([1, 2, 3, 4], q): rank = q/100 * 3.
  const std::vector<double> four = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(Percentile(four, 0), 1.0);
  EXPECT_DOUBLE_EQ(Percentile(four, 50), 2.5);   // rank 1.5
  EXPECT_DOUBLE_EQ(Percentile(four, 90), 3.7);   // rank 2.7
  EXPECT_DOUBLE_EQ(Percentile(four, 99), 3.97);  // rank 2.97
  EXPECT_DOUBLE_EQ(Percentile(four, 100), 4.0);
  const std::vector<double> five = {50, 10, 40, 20, 30};
  EXPECT_DOUBLE_EQ(Percentile(five, 25), 20.0);  // rank 1 exactly
  EXPECT_DOUBLE_EQ(Percentile(five, 90), 46.0);  // rank 3.6: 40 + 0.6 * 10
  EXPECT_DOUBLE_EQ(Percentile({7.5}, 99), 7.5);
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0.0);
}

TEST(PercentileTest, LatencyStats) {
  const LatencyStats s = ComputeLatencyStats({10, 20, 30, 40});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean_ms, 25.0);
  EXPECT_DOUBLE_EQ(s.p50_ms, 25.0);
  EXPECT_DOUBLE_EQ(s.p90_ms, 37.0);   // rank 2.7
  EXPECT_DOUBLE_EQ(s.p99_ms, 39.7);   // rank 2.97
  EXPECT_EQ(ComputeLatencyStats({}).count, 0);
}

TEST(ArrivalTimesTest, DeterministicPerSeed) {
  const auto a = ArrivalTimesS(100, 5.0, 7);
  EXPECT_EQ(a, ArrivalTimesS(100, 5.0, 7));
  EXPECT_NE(a, ArrivalTimesS(100, 5.0, 8));
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(a[0], 0.0);
  for (size_t i = 1; i < a.size(); ++i) EXPECT_GE(a[i], a[i - 1]);
}

TEST(ArrivalTimesTest, PoissonGapsHaveMeanOneOverRate) {
  constexpr int kNum = 20001;  // 20000 gaps
  constexpr double kRate = 8.0;
  const auto t = ArrivalTimesS(kNum, kRate, 1234);
  const double mean_gap = t.back() / (kNum - 1);
  // The mean of 20000 exponential gaps has a relative standard deviation of 1/sqrt(20000)
  // = 0.7%; 3% is more than 4 of them.
  EXPECT_NEAR(mean_gap, 1.0 / kRate, 0.03 / kRate);
  // Exponential: P(gap > mean) = e^-1 = 0.368; the fraction's sd is ~0.34%.
  int num_long = 0;
  for (int i = 1; i < kNum; ++i) num_long += (t[i] - t[i - 1]) > 1.0 / kRate;
  EXPECT_NEAR(num_long / double(kNum - 1), std::exp(-1.0), 0.015);
}

TEST(ArrivalTimesTest, InfiniteRateSendsAllAtOnce) {
  const auto t = ArrivalTimesS(50, std::numeric_limits<double>::infinity(), 3);
  EXPECT_EQ(t, std::vector<double>(50, 0.0));
}

TEST(BuildPromptsTest, LengthsRangeAndSharedPrefix) {
  const auto prompts = BuildPrompts(6, 12, 5, 40, 99);
  ASSERT_EQ(prompts.size(), 6u);
  std::set<std::vector<int32_t>> suffixes;
  for (const auto& p : prompts) {
    ASSERT_EQ(p.size(), 12u);
    for (int32_t id : p) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, 40);
    }
    EXPECT_TRUE(std::equal(p.begin(), p.begin() + 5, prompts[0].begin()));
    suffixes.insert(std::vector<int32_t>(p.begin() + 5, p.end()));
  }
  EXPECT_EQ(suffixes.size(), 6u);  // 7 draws from 40 ids: a collision is ~1e-8 likely
  EXPECT_EQ(prompts, BuildPrompts(6, 12, 5, 40, 99));
  EXPECT_NE(prompts, BuildPrompts(6, 12, 5, 40, 100));
}

TEST(BuildPromptsTest, PrefixIsDrawnFirst) {
  // Same seed: the shared prefix is the first draws, i.e. request 0's start without a prefix.
  const auto plain = BuildPrompts(2, 10, 0, 1000, 5);
  const auto shared = BuildPrompts(2, 10, 4, 1000, 5);
  EXPECT_EQ(shared[0], plain[0]);
  EXPECT_TRUE(std::equal(shared[1].begin(), shared[1].begin() + 4, plain[0].begin()));
  EXPECT_NE(plain[0], plain[1]);
}

TEST(BuildPromptsTest, EdgeCases) {
  const auto all_shared = BuildPrompts(3, 8, 8, 1000, 1);
  EXPECT_EQ(all_shared[0], all_shared[1]);
  EXPECT_EQ(all_shared[1], all_shared[2]);
  const auto one_id = BuildPrompts(2, 5, 0, 1, 1);
  EXPECT_EQ(one_id[1], std::vector<int32_t>(5, 0));
}

TEST(RequestJsonTest, CarriesTheOpenAiFields) {
  const auto body = nlohmann::json::parse(CompletionRequestJson("m-1", {3, 1, 4}, 17));
  EXPECT_EQ(body["model"], "m-1");
  EXPECT_EQ(body["prompt"], nlohmann::json::array({3, 1, 4}));
  EXPECT_EQ(body["max_tokens"], 17);
  EXPECT_EQ(body["temperature"], 0);
  EXPECT_EQ(body["ignore_eos"], true);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

LoadGenOptions GoodOptions() {
  return {.url = "http://127.0.0.1:9", .num_requests = 4, .input_len = 8, .output_len = 4};
}

TEST(ValidateOptionsTest, AcceptsGoodAndNamesTheBadField) {
  EXPECT_TRUE(ValidateOptions(GoodOptions()).ok());
  auto expect_bad = [](LoadGenOptions o, const std::string& flag) {
    const absl::Status s = ValidateOptions(o);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(std::string(s.message()).find(flag), std::string::npos) << s;
  };
  LoadGenOptions o = GoodOptions();
  o.url = "https://x:1";
  expect_bad(o, "http://");
  o = GoodOptions();
  o.num_requests = 0;
  expect_bad(o, "--num-requests");
  o = GoodOptions();
  o.shared_prefix_len = 9;
  expect_bad(o, "--shared-prefix-len");
  o = GoodOptions();
  o.concurrency = kMaxThreads + 1;
  expect_bad(o, "--concurrency");
  o = GoodOptions();
  o.mode = ArrivalMode::kRate;
  o.rate = 0;
  expect_bad(o, "--rate");
  o.rate = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(ValidateOptions(o).ok());
  o = GoodOptions();
  o.timeout_s = 0;
  expect_bad(o, "--timeout-s");
  o = GoodOptions();
  o.distinct_prompts = -1;
  expect_bad(o, "--distinct-prompts");
}

TEST(SummarizeTest, CountsOnlySuccessesAndKeepsTheEarliestError) {
  LoadGenOptions o = GoodOptions();
  o.shared_prefix_len = 2;
  LoadGenResult r;
  r.duration_s = 2.0;
  r.requests = {
      {.ok = true, .start_ms = 0, .ttft_ms = 40, .e2e_ms = 100, .itl_ms = {20, 40},
       .prompt_tokens = 8, .output_tokens = 3},
      {.ok = false, .error = "late", .start_ms = 50, .send_lag_ms = 12.5, .e2e_ms = 500},
      {.ok = true, .start_ms = 10, .ttft_ms = 10, .e2e_ms = 60, .itl_ms = {30},
       .prompt_tokens = 8, .output_tokens = 2},
      {.ok = false, .error = "early", .start_ms = 100, .e2e_ms = 10},
      {.ok = true, .start_ms = 20, .ttft_ms = 20, .e2e_ms = 80, .itl_ms = {},
       .prompt_tokens = 8, .output_tokens = 1},
  };
  const Summary s = Summarize(o, r);
  EXPECT_EQ(s.num_ok, 3);
  EXPECT_EQ(s.num_failed, 2);
  EXPECT_EQ(s.first_error, "request 3: early");  // ended at 110 ms, before 550 ms
  EXPECT_EQ(s.total_prompt_tokens, 24);
  EXPECT_EQ(s.total_output_tokens, 6);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.5);
  EXPECT_DOUBLE_EQ(s.output_throughput, 3.0);
  EXPECT_DOUBLE_EQ(s.total_throughput, 15.0);
  EXPECT_EQ(s.ttft.count, 3);
  EXPECT_DOUBLE_EQ(s.ttft.mean_ms, (40 + 10 + 20) / 3.0);
  EXPECT_DOUBLE_EQ(s.ttft.p50_ms, 20.0);
  EXPECT_EQ(s.itl.count, 3);
  EXPECT_DOUBLE_EQ(s.itl.p50_ms, 30.0);
  EXPECT_DOUBLE_EQ(s.e2e.p90_ms, 96.0);  // {60, 80, 100}: rank 1.8
  EXPECT_DOUBLE_EQ(s.max_send_lag_ms, 12.5);
  EXPECT_TRUE(s.has_shared_prefix);
  EXPECT_DOUBLE_EQ(s.cold_prefix_ttft_ms, 40.0);
  EXPECT_DOUBLE_EQ(s.warm_prefix_ttft_p50_ms, 15.0);  // median of {10, 20}

  const std::string text = FormatReport(o, s);
  EXPECT_NE(text.find("requests ok / failed     3 / 2"), std::string::npos) << text;
  EXPECT_NE(text.find("first error: request 3: early"), std::string::npos) << text;
  EXPECT_NE(text.find("(cold) 40.00 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("sent up to 12.5 ms after"), std::string::npos) << text;
  const nlohmann::json j = ReportJson(o, s);
  EXPECT_EQ(j["requests_failed"], 2);
  EXPECT_DOUBLE_EQ(j["e2e_ms"]["p90"].get<double>(), 96.0);
  EXPECT_EQ(j["first_error"], "request 3: early");
  EXPECT_DOUBLE_EQ(j["shared_prefix"]["cold_ttft_ms"].get<double>(), 40.0);
}

TEST(SummarizeTest, EmptyStatsPrintDashesAndJsonNulls) {
  LoadGenOptions o = GoodOptions();
  o.mode = ArrivalMode::kRate;
  o.rate = std::numeric_limits<double>::infinity();
  LoadGenResult r;
  r.requests = {{.ok = false, .error = "down", .e2e_ms = 1}};
  r.duration_s = 0.001;
  const Summary s = Summarize(o, r);
  const std::string text = FormatReport(o, s);
  EXPECT_NE(text.find("TTFT            -"), std::string::npos) << text;
  EXPECT_NE(text.find("rate inf"), std::string::npos) << text;
  const nlohmann::json j = ReportJson(o, s);
  EXPECT_TRUE(j["ttft_ms"]["p50"].is_null());
  EXPECT_EQ(j["config"]["rate"], "inf");
}

}  // namespace
}  // namespace brisk::loadgen
