// Prometheus text exposition (format 0.0.4): value formatting, escaping, name validation and the
// rendering of counters, gauges and histograms. Histograms keep per-bucket counts and cumulate
// them only when rendered, so Observe() touches one bucket.
#include "metrics/prometheus.h"

#include <charconv>
#include <cmath>
#include <set>

#include "base/check.h"

namespace brisk::metrics {
namespace {

// Every integer of magnitude below 2^53 is exactly representable, so printing it as an integer
// loses nothing; larger values go through to_chars, which may use an exponent.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::fabs(value) < kMaxExactInteger && value == std::trunc(value)) {
    return std::to_string(static_cast<int64_t>(value));
  }
  // General style picks fixed notation for moderate exponents ("0.0005" rather than "5e-04"),
  // which keeps bucket `le` labels readable; digits are still the shortest that round-trip.
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::general);
  BRISK_CHECK(ec == std::errc()) << "to_chars failed for a double";
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = IsNameStart(c) || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(IsNameStart(c) || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

// ---- Counter, Histogram ----

void Counter::Inc(double delta) {
  BRISK_CHECK(delta >= 0) << "counter increment must be non-negative, got " << delta;
  value_.fetch_add(delta, std::memory_order_relaxed);
}

void Counter::Set(double total) {
  BRISK_CHECK(total >= 0) << "counter total must be non-negative, got " << total;
  value_.store(total, std::memory_order_relaxed);
}

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(bounds->size() + 1, 0) {}

void Histogram::Observe(double value) {
  // First bound >= value (le semantics). NaN compares false everywhere, so lower_bound would put
  // it in the first bucket; it belongs in +Inf only.
  const size_t idx =
      std::isnan(value)
          ? bounds_->size()
          : static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), value) -
                                bounds_->begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[idx];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::TakeSnapshot() const {
  Snapshot snap;
  std::lock_guard<std::mutex> lock(mu_);
  snap.cumulative_counts.resize(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    snap.cumulative_counts[i] = running;
  }
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

// ---- FamilyBase ----

FamilyBase::FamilyBase(MetricType type, std::string name, std::string help,
                       std::vector<std::string> label_names)
    : type_(type), name_(std::move(name)), help_(std::move(help)),
      label_names_(std::move(label_names)) {
  BRISK_CHECK(IsValidMetricName(name_)) << "invalid metric name '" << name_ << "'";
  std::set<std::string_view> seen;
  for (const std::string& label : label_names_) {
    BRISK_CHECK(IsValidLabelName(label)) << "invalid label name '" << label << "' in " << name_;
    BRISK_CHECK(seen.insert(label).second) << "duplicate label '" << label << "' in " << name_;
    BRISK_CHECK(type_ != MetricType::kHistogram || label != "le")
        << "histogram " << name_ << " may not use the reserved label 'le'";
  }
}

void FamilyBase::CheckLabelCount(size_t num_values) const {
  BRISK_CHECK_EQ(num_values, label_names_.size()) << "label values for " << name_;
}

void FamilyBase::RenderHeader(std::string* out) const {
  out->append("# HELP ").append(name_).append(" ").append(EscapeHelp(help_)).append("\n");
  out->append("# TYPE ").append(name_).append(" ").append(TypeName(type_)).append("\n");
}

void FamilyBase::RenderSample(std::string_view suffix, const LabelValues& values,
                              std::string_view le, double value, std::string* out) const {
  out->append(name_).append(suffix);
  if (!values.empty() || !le.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(label_names_[i]).append("=\"").append(EscapeLabelValue(values[i]));
      out->push_back('"');
    }
    if (!le.empty()) {
      if (!values.empty()) out->push_back(',');
      out->append("le=\"").append(le).push_back('"');
    }
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(FormatValue(value)).push_back('\n');
}

void FamilyBase::RenderChild(const LabelValues& values, const Counter& counter,
                             std::string* out) const {
  RenderSample("", values, "", counter.value(), out);
}

void FamilyBase::RenderChild(const LabelValues& values, const Gauge& gauge,
                             std::string* out) const {
  RenderSample("", values, "", gauge.value(), out);
}

void FamilyBase::RenderChild(const LabelValues& values, const Histogram& histogram,
                             std::string* out) const {
  const Histogram::Snapshot snap = histogram.TakeSnapshot();
  const std::vector<double>& bounds = histogram.bounds();
  for (size_t i = 0; i < bounds.size(); ++i) {
    RenderSample("_bucket", values, FormatValue(bounds[i]),
                 static_cast<double>(snap.cumulative_counts[i]), out);
  }
  RenderSample("_bucket", values, "+Inf", static_cast<double>(snap.count), out);
  RenderSample("_sum", values, "", snap.sum, out);
  RenderSample("_count", values, "", static_cast<double>(snap.count), out);
}

// ---- Registry ----

template <typename F>
F& Registry::Add(std::unique_ptr<F> family) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& existing : families_) {
    BRISK_CHECK(existing->name() != family->name())
        << "metric '" << family->name() << "' registered twice";
  }
  F& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  return Add(std::make_unique<CounterFamily>(MetricType::kCounter, std::move(name),
                                             std::move(help), std::move(label_names)));
}

GaugeFamily& Registry::AddGauge(std::string name, std::string help,
                                std::vector<std::string> label_names) {
  return Add(std::make_unique<GaugeFamily>(MetricType::kGauge, std::move(name), std::move(help),
                                           std::move(label_names)));
}

HistogramFamily& Registry::AddHistogram(std::string name, std::string help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    BRISK_CHECK(std::isfinite(bounds[i])) << "histogram " << name << " bound " << bounds[i];
    BRISK_CHECK(i == 0 || bounds[i - 1] < bounds[i])
        << "histogram " << name << " bounds must be strictly increasing";
  }
  return Add(std::make_unique<HistogramFamily>(MetricType::kHistogram, std::move(name),
                                               std::move(help), std::move(label_names),
                                               std::move(bounds)));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& family : families_) family->RenderTo(&out);
  return out;
}

}  // namespace brisk::metrics
