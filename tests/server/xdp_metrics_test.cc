// The XDP counters as /metrics families (node/server/xdp_metrics.h), from a made-up counters
// struct: the real maps need root (xdp_netns_test reads them).
#include <gtest/gtest.h>

#include <string>

#include "node/server/xdp_metrics.h"

namespace sluice::server {
namespace {

TEST(XdpMetrics, SteeringExportsEveryCounterByClass) {
  XdpCounters counters;
  counters.classes = {{"other", 10, 1000}, {"membership", 3, 402}, {"partition", 7, 900}, {"membership_malformed", 1, 60}};
  counters.drops = 1;
  counters.steered = 3;
  counters.steer_failures = 2;
  http::Metrics metrics;
  export_xdp_metrics(metrics, true, &counters);
  std::string text = metrics.exposition();
  EXPECT_NE(text.find("sluice_xdp_active 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE sluice_xdp_packets_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_packets_total{class=\"membership\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_packets_total{class=\"membership_malformed\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_bytes_total{class=\"other\"} 1000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_bytes_total{class=\"partition\"} 900\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_drops_total 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_steered_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_steer_failures_total 2\n"), std::string::npos) << text;
  // The next scrape mirrors the maps' newer values; a failed read keeps the last ones.
  counters.steered = 5;
  export_xdp_metrics(metrics, true, &counters);
  export_xdp_metrics(metrics, true, nullptr);
  text = metrics.exposition();
  EXPECT_NE(text.find("sluice_xdp_active 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sluice_xdp_steered_total 5\n"), std::string::npos) << text;
}

TEST(XdpMetrics, WithoutSteeringOnlyActiveZero) {
  http::Metrics metrics;
  export_xdp_metrics(metrics, false, nullptr);
  const std::string text = metrics.exposition();
  EXPECT_NE(text.find("# TYPE sluice_xdp_active gauge\nsluice_xdp_active 0\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("sluice_xdp_packets_total"), std::string::npos) << text;
  EXPECT_EQ(text.find("sluice_xdp_steered_total"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::server
