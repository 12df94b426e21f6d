// Metrics in the Prometheus text exposition format (version 0.0.4), for GET /metrics: counters,
// gauges and histograms by name and labels. Pure: the API sets gauges from the node's state when
// scraped and the stats layer counts requests. Bounded: a family holds at most
// series_per_family_max label sets; more are dropped and counted (metrics_series_dropped_total).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sluice::http {

using Labels = std::vector<std::pair<std::string, std::string>>;  // in the order they print

enum class MetricType : uint8_t { counter, gauge, histogram };

// Request latency buckets, in seconds (upper bounds; +Inf is implied).
inline constexpr double kLatencyBucketsSeconds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1,    0.25,  0.5,    1.0,   2.5,  5.0,  10.0};

class Metrics {
 public:
  explicit Metrics(size_t series_per_family_max = 10'000) : series_per_family_max_(series_per_family_max) {}

  // A family must be described before use; `name` is [a-zA-Z_:][a-zA-Z0-9_:]*, and a histogram's
  // buckets are increasing.
  void describe(const std::string& name, MetricType type, std::string help,
                std::span<const double> buckets = kLatencyBucketsSeconds);
  void add(const std::string& name, const Labels& labels, double amount = 1);  // counter
  // A gauge, or a counter mirrored from a component's own cumulative count (never decreasing).
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);   // histogram
  // A histogram mirrored from a component's own cumulative counts: per_bucket[i] observations
  // fell in bucket i (not cumulative; one per bound described), `count` includes those above the
  // last bound, `sum` is their total.
  void set_histogram(const std::string& name, const Labels& labels, std::span<const uint64_t> per_bucket, uint64_t count,
                     double sum);
  // Every family in name order, its series in label order.
  std::string exposition() const;
  uint64_t series_dropped() const { return series_dropped_; }

 private:
  struct Series {
    double value = 0;                // counter, gauge; histogram: the sum
    uint64_t count = 0;              // histogram
    std::vector<uint64_t> buckets;  // histogram: per bucket (not cumulative)
  };
  struct Family {
    MetricType type = MetricType::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<Labels, Series> series;
  };
  Series* series(const std::string& name, MetricType type, const Labels& labels, bool counter_too = false);
  static void append_family(std::string& out, const std::string& name, const Family& family);

  size_t series_per_family_max_;
  std::map<std::string, Family> families_;
  uint64_t series_dropped_ = 0;
};

// A label value or help text escaped for the exposition format.
std::string escape_label_value(std::string_view value);

}  // namespace sluice::http
