// Tests of the Prometheus registry: exact exposition text for a hand-built registry (expected
// text derived by hand from the format spec), value formatting, escaping, name checks, and a
// multi-threaded smoke test whose totals must add up.
#include "metrics/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace brisk::metrics {
namespace {

TEST(FormatValueTest, IntegersHaveNoExponentOrFraction) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(1e15), "1000000000000000");
  EXPECT_EQ(FormatValue(-0.0), "0");
}

TEST(FormatValueTest, FractionsUseShortestRoundTrip) {
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.5), "1.5");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(-3.25), "-3.25");
  EXPECT_EQ(FormatValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatValue(1e-05), "1e-05");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  // Round trip for an awkward value.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::stod(FormatValue(third)), third);
}

TEST(FormatValueTest, SpecialValuesAsPrometheusSpellsThem) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(EscapeTest, LabelValuesEscapeBackslashQuoteNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(EscapeTest, HelpEscapesBackslashNewlineButNotQuote) {
  EXPECT_EQ(EscapeHelp("say \"hi\"\\now\n"), "say \"hi\"\\\\now\\n");
}

TEST(NameTest, MetricAndLabelNames) {
  EXPECT_TRUE(IsValidMetricName("brisk_requests_total"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9abc"));
  EXPECT_FALSE(IsValidMetricName("has-dash"));
  EXPECT_TRUE(IsValidLabelName("model"));
  EXPECT_TRUE(IsValidLabelName("_x1"));
  EXPECT_FALSE(IsValidLabelName("__reserved"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("1a"));
  EXPECT_FALSE(IsValidLabelName(""));
}

TEST(RegistryTest, RendersHandBuiltRegistryExactly) {
  Registry registry;
  CounterFamily& requests =
      registry.AddCounter("test_requests_total", "Requests by model.", {"model", "reason"});
  GaugeFamily& temperature = registry.AddGauge("test_temperature", "A gauge without labels.");
  HistogramFamily& latency = registry.AddHistogram("test_latency_seconds", "Latency.", {"model"},
                                                   {0.125, 1, 8});
  // Created out of order: output must be sorted by label values.
  requests.WithLabels({"b", "stop"}).Inc(2);
  requests.WithLabels({"a", "length"}).Inc(0.5);
  requests.WithLabels({"a", "abort"}).Inc();
  temperature.WithLabels({}).Set(-3.25);
  // Values exactly representable in binary so the sum is exact: 0.0625 + 0.125 + 0.5 + 16.
  Histogram& h = latency.WithLabels({"m"});
  h.Observe(0.0625);
  h.Observe(0.125);  // on a bound: counts in le="0.125"
  h.Observe(0.5);
  h.Observe(16);  // above the last bound: only +Inf
  const std::string expected =
      "# HELP test_requests_total Requests by model.\n"
      "# TYPE test_requests_total counter\n"
      "test_requests_total{model=\"a\",reason=\"abort\"} 1\n"
      "test_requests_total{model=\"a\",reason=\"length\"} 0.5\n"
      "test_requests_total{model=\"b\",reason=\"stop\"} 2\n"
      "# HELP test_temperature A gauge without labels.\n"
      "# TYPE test_temperature gauge\n"
      "test_temperature -3.25\n"
      "# HELP test_latency_seconds Latency.\n"
      "# TYPE test_latency_seconds histogram\n"
      "test_latency_seconds_bucket{model=\"m\",le=\"0.125\"} 2\n"
      "test_latency_seconds_bucket{model=\"m\",le=\"1\"} 3\n"
      "test_latency_seconds_bucket{model=\"m\",le=\"8\"} 3\n"
      "test_latency_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"
      "test_latency_seconds_sum{model=\"m\"} 16.6875\n"
      "test_latency_seconds_count{model=\"m\"} 4\n";
  EXPECT_EQ(registry.Render(), expected);
}

TEST(RegistryTest, EscapesHelpAndLabelValues) {
  Registry registry;
  CounterFamily& c =
      registry.AddCounter("esc_total", "First line\nsecond \\ line \"quoted\"", {"path"});
  c.WithLabels({"C:\\dir\n\"x\""}).Inc(7);
  const std::string expected =
      "# HELP esc_total First line\\nsecond \\\\ line \"quoted\"\n"
      "# TYPE esc_total counter\n"
      "esc_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 7\n";
  EXPECT_EQ(registry.Render(), expected);
}

TEST(RegistryTest, UnlabelledHistogramAndEmptyFamilies) {
  Registry registry;
  registry.AddGauge("unused_gauge", "Never given a child, so not rendered.", {"x"});
  HistogramFamily& tokens = registry.AddHistogram("batch_tokens", "Tokens.", {}, {1, 2, 4});
  tokens.WithLabels({}).Observe(3);
  tokens.WithLabels({}).Observe(1);
  const std::string expected =
      "# HELP batch_tokens Tokens.\n"
      "# TYPE batch_tokens histogram\n"
      "batch_tokens_bucket{le=\"1\"} 1\n"
      "batch_tokens_bucket{le=\"2\"} 1\n"
      "batch_tokens_bucket{le=\"4\"} 2\n"
      "batch_tokens_bucket{le=\"+Inf\"} 2\n"
      "batch_tokens_sum 4\n"
      "batch_tokens_count 2\n";
  EXPECT_EQ(registry.Render(), expected);
}

TEST(RegistryTest, ChildrenAreStableAndShared) {
  Registry registry;
  CounterFamily& c = registry.AddCounter("stable_total", "Stable.", {"k"});
  Counter* first = &c.WithLabels({"a"});
  for (int i = 0; i < 100; ++i) c.WithLabels({std::to_string(i)}).Inc();  // grow the map
  EXPECT_EQ(&c.WithLabels({"a"}), first);
  const std::vector<std::string_view> values = {"a"};
  EXPECT_EQ(&c.WithLabels(std::span<const std::string_view>(values)), first);
}

TEST(RegistryTest, CounterSetAndGaugeAdd) {
  Counter counter;
  counter.Inc(3);
  counter.Set(10);
  EXPECT_EQ(counter.value(), 10);
  Gauge gauge;
  gauge.Add(2.5);
  gauge.Add(-4);
  EXPECT_EQ(gauge.value(), -1.5);
}

TEST(RegistryTest, NanObservationLandsInInfBucket) {
  Registry registry;
  Histogram& h = registry.AddHistogram("nan_seconds", "N.", {}, {1}).WithLabels({});
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  const Histogram::Snapshot snap = h.TakeSnapshot();
  ASSERT_EQ(snap.cumulative_counts.size(), 2u);
  EXPECT_EQ(snap.cumulative_counts[0], 0u);
  EXPECT_EQ(snap.cumulative_counts[1], 1u);
  EXPECT_TRUE(std::isnan(snap.sum));
}

using RegistryDeathTest = ::testing::Test;

TEST_F(RegistryDeathTest, InvalidNamesAndLabelCountsAreBugs) {
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("9bad", "x");
      },
      "invalid metric name");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddGauge("ok", "x", {"bad-label"});
      },
      "invalid label name");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("h", "x", {"le"}, {1});
      },
      "reserved label");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddHistogram("h", "x", {}, {2, 1});
      },
      "strictly increasing");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("dup_total", "x");
        r.AddGauge("dup_total", "y");
      },
      "registered twice");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("c_total", "x", {"a", "b"}).WithLabels({"only_one"});
      },
      "label values");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("c_total", "x").WithLabels({}).Inc(-1);
      },
      "non-negative");
}

TEST(RegistryTest, ConcurrentObservationsAddUp) {
  Registry registry;
  CounterFamily& counter = registry.AddCounter("conc_total", "C.", {"thread_group"});
  HistogramFamily& hist = registry.AddHistogram("conc_seconds", "H.", {"g"}, {0.5, 1.5});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread hits the same children (created concurrently) plus one of its own.
      for (int i = 0; i < kPerThread; ++i) {
        counter.WithLabels({"shared"}).Inc();
        counter.WithLabels({t % 2 == 0 ? "even" : "odd"}).Inc(0.5);
        hist.WithLabels({"shared"}).Observe(i % 2 == 0 ? 0 : 1);  // half in each finite bucket
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(counter.WithLabels({"shared"}).value(), kThreads * kPerThread);
  EXPECT_EQ(counter.WithLabels({"even"}).value(), kThreads / 2 * kPerThread * 0.5);
  const Histogram::Snapshot snap = hist.WithLabels({"shared"}).TakeSnapshot();
  EXPECT_EQ(snap.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(snap.cumulative_counts[0], static_cast<uint64_t>(kThreads * kPerThread / 2));
  EXPECT_EQ(snap.cumulative_counts[1], snap.count);
  EXPECT_EQ(snap.sum, kThreads * kPerThread / 2);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("conc_total{thread_group=\"shared\"} 80000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("conc_seconds_count{g=\"shared\"} 80000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace brisk::metrics
