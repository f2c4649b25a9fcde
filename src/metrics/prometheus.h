// A small, thread-safe registry of metric families rendered in the Prometheus text exposition
// format 0.0.4: counters, gauges and fixed-bucket histograms, nothing else (no summaries, no
// timestamps). A family has a name, help text and label names; its children are selected by label
// values and live as long as the registry, so callers may keep the returned references.
// Render() is deterministic: families in registration order, children sorted by label values.
// Invalid names and wrong label counts are our bugs and fail a BRISK_CHECK.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace brisk::metrics {

// Formats a sample value the way Prometheus parses it: integers below 2^53 without exponent or
// fraction ("3", "-2"), other finite values as the shortest string that round-trips
// (std::to_chars, general style: "0.0005", "1.5e+10"), and "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

// Escapes a label value (backslash, double quote, newline) for use between double quotes.
std::string EscapeLabelValue(std::string_view value);

// Escapes help text (backslash, newline) for a `# HELP` line.
std::string EscapeHelp(std::string_view help);

// True for names matching [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);

// True for names matching [a-zA-Z_][a-zA-Z0-9_]* that do not start with "__" (reserved).
bool IsValidLabelName(std::string_view name);

// A monotonically increasing value. Thread-safe, lock-free.
class Counter {
 public:
  // Adds `delta`. REQUIRES: delta >= 0 (not NaN).
  void Inc(double delta = 1);
  // Sets the total, for mirroring a monotonic count that another component keeps (e.g. an
  // engine's preemptions since start). REQUIRES: total >= 0. A smaller value than before reads
  // as a counter reset to Prometheus, which is what a restarted source means.
  void Set(double total);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into buckets with fixed upper bounds (an observation v falls in the first
// bucket whose bound b has v <= b, else in the implicit +Inf bucket). Thread-safe.
class Histogram {
 public:
  // A consistent copy: cumulative_counts[i] counts observations <= bounds[i], the last entry is
  // the +Inf bucket and equals count.
  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;  // [num_bounds + 1]
    double sum = 0;
    uint64_t count = 0;
  };

  // `bounds` is owned by the family and outlives the histogram. REQUIRES: strictly increasing,
  // finite (checked by the family).
  explicit Histogram(const std::vector<double>* bounds);

  void Observe(double value);
  Snapshot TakeSnapshot() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  const std::vector<double>* bounds_;  // Constant after construction.
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // Guarded by mu_; per bucket (not cumulative), [num_bounds + 1].
  double sum_ = 0;                // Guarded by mu_.
  uint64_t count_ = 0;            // Guarded by mu_.
};

enum class MetricType { kCounter, kGauge, kHistogram };

// The type-independent part of a family: identity and rendering. Used only through Family<T>.
class FamilyBase {
 public:
  FamilyBase(MetricType type, std::string name, std::string help,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends `# HELP`, `# TYPE` and the samples; appends nothing while the family has no child.
  virtual void RenderTo(std::string* out) const = 0;

 protected:
  // Orders label-value tuples lexicographically; transparent so lookups need no allocation.
  struct LabelsLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }
  };
  using LabelValues = std::vector<std::string>;

  // Appends the header lines (HELP and TYPE).
  void RenderHeader(std::string* out) const;
  // Appends `<name><suffix>{l1="v1",...[,le="<le>"]} <value>\n`; `le` empty means none.
  void RenderSample(std::string_view suffix, const LabelValues& values, std::string_view le,
                    double value, std::string* out) const;
  void CheckLabelCount(size_t num_values) const;
  // Append the samples of one child.
  void RenderChild(const LabelValues& values, const Counter& counter, std::string* out) const;
  void RenderChild(const LabelValues& values, const Gauge& gauge, std::string* out) const;
  void RenderChild(const LabelValues& values, const Histogram& histogram, std::string* out) const;

  // Constant after construction.
  const MetricType type_;
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

// All children of one metric name. Thread-safe.
template <typename Metric>
class Family final : public FamilyBase {
 public:
  // Use Registry::Add*() instead.
  Family(MetricType type, std::string name, std::string help,
         std::vector<std::string> label_names, std::vector<double> bounds = {})
      : FamilyBase(type, std::move(name), std::move(help), std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // Returns the child for these label values (one per label name, in order), creating it at
  // zero on first use. The reference stays valid for the registry's lifetime.
  // REQUIRES: values.size() == label_names().size().
  Metric& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  Metric& WithLabels(std::span<const std::string_view> values) {
    CheckLabelCount(values.size());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(values);
    if (it == children_.end()) {
      it = children_.emplace(LabelValues(values.begin(), values.end()), MakeChild()).first;
    }
    return *it->second;
  }

  void RenderTo(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (children_.empty()) return;
    RenderHeader(out);
    for (const auto& [values, child] : children_) RenderChild(values, *child, out);
  }

 private:
  std::unique_ptr<Metric> MakeChild() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(&bounds_);
    } else {
      return std::make_unique<Metric>();
    }
  }

  const std::vector<double> bounds_;  // Constant after construction; histograms only.
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>, LabelsLess> children_;  // Guarded by mu_.
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Owns metric families and renders them. Thread-safe; families live as long as the registry.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. REQUIRES: a valid name not registered before, valid label names without
  // duplicates; for histograms no label named "le" and `bounds` finite and strictly increasing
  // (the +Inf bucket is implicit).
  CounterFamily& AddCounter(std::string name, std::string help,
                            std::vector<std::string> label_names = {});
  GaugeFamily& AddGauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily& AddHistogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds);

  // The exposition text (content type "text/plain; version=0.0.4"). Each value is read
  // atomically; values are not frozen across families while rendering.
  std::string Render() const;

 private:
  template <typename F>
  F& Add(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;  // Guarded by mu_; registration order.
};

}  // namespace brisk::metrics
