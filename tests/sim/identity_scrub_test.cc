// The identity scrub while a node runs (NodeConfig::identity_scrub_period, docs/formats/data-dir.md)
// in the whole-cluster simulation: cluster-swarm-faults seed 994 flips bits in both identity copies
// of one node while it runs (at 1.3, 13.6 and 14.3 s). Checked only at start (the scrub's period
// beyond the run), the node can never start again and is lost to damage; scrubbed every 2 s, it
// rewrites the damaged copies and every node is back.
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario.h"
#include "sim/simulation.h"

namespace sluice::sim {
namespace {

constexpr uint64_t kSeed = 994;

SimulationReport run_with_scrub_ms(int64_t identity_scrub_ms) {
  Result<toml::table> table = load_scenario_table(std::string(SLUICE_SOURCE_DIR) + "/scenarios/cluster-swarm-faults.toml");
  EXPECT_TRUE(table.ok()) << table.status().to_string();
  (*table)["workload"].as_table()->insert_or_assign("identity_scrub_ms", identity_scrub_ms);
  Result<Scenario> scenario = parse_scenario_table(*table, "cluster-swarm-faults.toml");
  EXPECT_TRUE(scenario.ok()) << scenario.status().to_string();
  return run_simulation(*scenario, SimulationOptions{kSeed, false});
}

std::string figure(const SimulationReport& report, const std::string& name) {
  for (const auto& [key, value] : report.figures) {
    if (key == name) return value;
  }
  return "";
}

TEST(IdentityScrub, ANodeWhoseIdentityCopiesRotWhileRunningIsLostWithoutTheScrub) {
  const SimulationReport report = run_with_scrub_ms(0);
  ASSERT_TRUE(report.passed) << report.failure;  // judged on healing around the lost node
  EXPECT_EQ(figure(report, "nodes_lost_to_damage"), "1");
}

TEST(IdentityScrub, TheScrubRepairsTheCopiesAndNoNodeIsLost) {
  const SimulationReport report = run_with_scrub_ms(2000);
  ASSERT_TRUE(report.passed) << report.failure;
  EXPECT_EQ(figure(report, "nodes_lost_to_damage"), "0");
  auto repaired = report.coverage.find("server.identity_copy_scrub_repaired");
  ASSERT_NE(repaired, report.coverage.end());
  EXPECT_GE(repaired->second, 1u);
}

}  // namespace
}  // namespace sluice::sim
