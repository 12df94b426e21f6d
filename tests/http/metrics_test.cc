// The Prometheus text exposition of the metrics registry (node/http/metrics.h).
#include <gtest/gtest.h>

#include "node/http/metrics.h"

namespace sluice::http {
namespace {

TEST(HttpMetrics, CountersGaugesAndHistogramsPrintInTheTextFormat) {
  Metrics metrics;
  metrics.describe("requests_total", MetricType::counter, "Requests.");
  metrics.describe("members", MetricType::gauge, "Members by state.");
  const double bounds[] = {0.1, 1.0};
  metrics.describe("latency_seconds", MetricType::histogram, "Latency.", bounds);
  metrics.add("requests_total", {{"route", "produce"}, {"status", "200"}});
  metrics.add("requests_total", {{"route", "produce"}, {"status", "200"}}, 2);
  metrics.set("members", {{"state", "alive"}}, 3);
  metrics.set("members", {{"state", "alive"}}, 4);
  metrics.observe("latency_seconds", {}, 0.05);
  metrics.observe("latency_seconds", {}, 0.5);
  metrics.observe("latency_seconds", {}, 5);
  const std::string text = metrics.exposition();
  EXPECT_NE(text.find("# TYPE requests_total counter\nrequests_total{route=\"produce\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("members{state=\"alive\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.10000000000000001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_sum 5.5499999999999998\n"), std::string::npos) << text;
}

// A component's own histogram (per-bucket counts it keeps) replaces the series at each scrape.
TEST(HttpMetrics, AMirroredHistogramPrintsCumulativeBuckets) {
  Metrics metrics;
  const double bounds[] = {0.001, 0.01};
  metrics.describe("fsync_seconds", MetricType::histogram, "Fsyncs.", bounds);
  const uint64_t first[] = {1, 0};
  metrics.set_histogram("fsync_seconds", {}, first, 1, 0.0005);
  const uint64_t later[] = {2, 3};
  metrics.set_histogram("fsync_seconds", {}, later, 6, 0.5);  // one above the last bound
  const std::string text = metrics.exposition();
  EXPECT_NE(text.find("# TYPE fsync_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fsync_seconds_bucket{le=\"0.001\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fsync_seconds_bucket{le=\"0.01\"} 5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fsync_seconds_bucket{le=\"+Inf\"} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fsync_seconds_sum 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fsync_seconds_count 6\n"), std::string::npos) << text;
}

TEST(HttpMetrics, LabelValuesAreEscapedAndAFullFamilyDropsNewSeries) {
  Metrics metrics(2);
  metrics.describe("x_total", MetricType::counter, "X.");
  metrics.add("x_total", {{"v", "a\"b\\c\nd"}});
  metrics.add("x_total", {{"v", "2"}});
  metrics.add("x_total", {{"v", "3"}});
  EXPECT_EQ(metrics.series_dropped(), 1u);
  const std::string text = metrics.exposition();
  EXPECT_NE(text.find("x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("v=\"3\""), std::string::npos);
  EXPECT_NE(text.find("metrics_series_dropped_total 1\n"), std::string::npos);
}

}  // namespace
}  // namespace sluice::http
