// Tests of swarm testing (sim/swarm.h): the [swarm] section parses strictly, a seed's variant is
// a pure function of (scenario, seed), different seeds vary the knobs, and a run reports them.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/swarm.h"
#include "sim/workloads/partition_setup.h"
#include "sim/world.h"

namespace sluice::sim {
namespace {

constexpr const char* kSwarmScenario = R"(name = "swarm"
nodes = 3
duration_s = 3
faults_stop_s = 1

[network]
loss = 0.01
duplicate = 0.02

[buggify]
enabled = true
site_probability = 0.4
fire_probability = 0.05

[random_faults]
crash_per_node_per_min = 2
partition_per_min = 4
clock_jump_per_min = 1
bit_flip_per_min = 1
disk_full_per_min = 0

[swarm]
enabled = true
rate_factor_min = 0.5
rate_factor_max = 1.5

[budget]
events_max = 1000000
converge_s_max = 2
)";

Scenario parsed(const std::string& text) {
  auto scenario = parse_scenario(text, "swarm.toml");
  EXPECT_TRUE(scenario.ok()) << scenario.status().message();
  return scenario.ok() ? *scenario : Scenario{};
}

TEST(SwarmParse, ReadsTheSection) {
  const Scenario scenario = parsed(kSwarmScenario);
  EXPECT_TRUE(scenario.swarm.enabled);
  EXPECT_EQ(scenario.swarm.rate_factor_min, 0.5);
  EXPECT_EQ(scenario.swarm.rate_factor_max, 1.5);
  EXPECT_FALSE(parsed("name = \"x\"\n[budget]\nevents_max = 10\nconverge_s_max = 1\n").swarm.enabled);
}

void expect_error(const std::string& swarm_table, const std::string& expected) {
  const std::string text = "name = \"x\"\n[swarm]\n" + swarm_table + "[budget]\nevents_max = 10\nconverge_s_max = 1\n";
  auto scenario = parse_scenario(text, "bad.toml");
  ASSERT_FALSE(scenario.ok()) << swarm_table;
  EXPECT_NE(scenario.status().message().find(expected), std::string::npos) << scenario.status().message();
}

TEST(SwarmParse, ErrorsNameFileLineAndField) {
  expect_error("enabled = true\nnodes_max = 4\n", "bad.toml:4: swarm.nodes_max: unknown key");
  expect_error("enabled = 1\n", "bad.toml:3: swarm.enabled");
  expect_error("rate_factor_min = 2\nrate_factor_max = 1\n", "swarm.rate_factor_max: must not be below rate_factor_min");
  expect_error("rate_factor_min = -1\n", "swarm.rate_factor_min: must be between");
  expect_error("timing_factor_min = 2\ntiming_factor_max = 1\n", "swarm.timing_factor_max: must not be below timing_factor_min");
  expect_error("timing_factor_min = 0\n", "swarm.timing_factor_min: must be between");
}

TEST(Swarm, WithoutTheSectionTheScenarioRunsAsWritten) {
  Scenario scenario = parsed(kSwarmScenario);
  scenario.swarm.enabled = false;
  const Scenario variant = swarm_variant(scenario, 17);
  EXPECT_EQ(variant.random.crash_per_node_per_min, scenario.random.crash_per_node_per_min);
  EXPECT_EQ(variant.network.link.loss_probability, scenario.network.link.loss_probability);
  EXPECT_EQ(describe_swarm(variant), "");
}

TEST(Swarm, AVariantIsAPureFunctionOfTheSeed) {
  const Scenario scenario = parsed(kSwarmScenario);
  for (uint64_t seed : {1u, 2u, 99u}) {
    const Scenario a = swarm_variant(scenario, seed), b = swarm_variant(scenario, seed);
    EXPECT_EQ(describe_swarm(a), describe_swarm(b));
    EXPECT_EQ(a.random.partition_per_min, b.random.partition_per_min);
    EXPECT_EQ(a.buggify.fire_probability, b.buggify.fire_probability);
  }
}

TEST(Swarm, SeedsVaryEveryKnobWithinTheEnvelope) {
  const Scenario scenario = parsed(kSwarmScenario);
  std::set<std::string> descriptions;
  bool crash_off = false, crash_on = false;
  std::set<double> loss, site, raft_timing, swim_timing;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    const Scenario variant = swarm_variant(scenario, seed);
    for (double factor : {variant.timing.raft, variant.timing.swim}) {
      EXPECT_GE(factor, 0.5);
      EXPECT_LE(factor, 2);
    }
    raft_timing.insert(variant.timing.raft);
    swim_timing.insert(variant.timing.swim);
    descriptions.insert(describe_swarm(variant));
    const double crash = variant.random.crash_per_node_per_min;
    (crash == 0 ? crash_off : crash_on) = true;
    if (crash > 0) {
      EXPECT_GE(crash, 2 * 0.5);
      EXPECT_LE(crash, 2 * 1.5);
    }
    EXPECT_EQ(variant.random.disk_full_per_min, 0);  // off in the file: stays off
    EXPECT_GE(variant.network.link.loss_probability, 0.01 * 0.5);
    EXPECT_LE(variant.network.link.loss_probability, 0.01 * 1.5);
    loss.insert(variant.network.link.loss_probability);
    site.insert(variant.buggify.site_probability);
    EXPECT_EQ(variant.nodes, scenario.nodes);
  }
  EXPECT_TRUE(crash_on && crash_off);
  EXPECT_GT(descriptions.size(), 60u);
  EXPECT_GT(raft_timing.size(), 60u);
  EXPECT_GT(swim_timing.size(), 60u);
  EXPECT_LT(*raft_timing.begin(), 0.8);  // both ends of [0.5, 2] are reached
  EXPECT_GT(*raft_timing.rbegin(), 1.4);
  EXPECT_GT(loss.size(), 60u);
  EXPECT_GT(site.size(), 60u);
}

// Timing is drawn after every other knob: its range changes nothing else a seed chose.
TEST(Swarm, TimingIsNotVariedWhenItsRangeIsOne) {
  const Scenario scenario = parsed(kSwarmScenario);
  Scenario fixed = scenario;
  fixed.swarm.timing_factor_min = fixed.swarm.timing_factor_max = 1;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const Scenario a = swarm_variant(fixed, seed), b = swarm_variant(scenario, seed);
    EXPECT_DOUBLE_EQ(a.timing.raft, 1);
    EXPECT_DOUBLE_EQ(a.timing.swim, 1);
    EXPECT_EQ(a.random.crash_per_node_per_min, b.random.crash_per_node_per_min);
    EXPECT_EQ(a.buggify.fire_probability, b.buggify.fire_probability);
  }
}

// The membership protocol's periods scale together with the seed's SWIM factor.
TEST(Swarm, SwimTimingScalesTheMembershipPeriods) {
  World world(WorldConfig{});
  world.add_node();
  world.add_node();
  server::NodeConfig as_set, slower;
  configure_controller(PartitionsConfig{}, world, 2, 0, as_set);
  configure_controller(PartitionsConfig{}, world, 2, 0, slower, 1.5);
  const swim::Config& a = as_set.membership->core;
  const swim::Config& b = slower.membership->core;
  EXPECT_EQ(b.probe_interval_ms, a.probe_interval_ms * 3 / 2);
  EXPECT_EQ(b.probe_timeout_ms, a.probe_timeout_ms * 3 / 2);
  EXPECT_EQ(b.probe_deadline_ms, a.probe_deadline_ms * 3 / 2);
  EXPECT_EQ(b.nack_timeout_ms, a.nack_timeout_ms * 3 / 2);
  EXPECT_EQ(b.gossip_interval_ms, a.gossip_interval_ms * 3 / 2);
}

TEST(Swarm, DescriptionNamesTheChosenKnobs) {
  const std::string text = describe_swarm(swarm_variant(parsed(kSwarmScenario), 5));
  for (const char* knob : {"crash=", "partition=", "clock_jump=", "bit_flip=", "disk_full=off", "loss=", "duplicate=",
                           "buggify_site=", "buggify_fire=", "raft_timing=x", "swim_timing=x"}) {
    EXPECT_NE(text.find(knob), std::string::npos) << knob << " in " << text;
  }
}

// run_simulation runs the seed's variant: the report names it, and the same seed replays it.
TEST(Swarm, RunsReportAndReplayTheVariant) {
  const Scenario scenario = parsed(kSwarmScenario);
  const SimulationReport first = run_simulation(scenario, SimulationOptions{3, false});
  const SimulationReport again = run_simulation(scenario, SimulationOptions{3, false});
  EXPECT_EQ(first.swarm, describe_swarm(swarm_variant(scenario, 3)));
  EXPECT_EQ(first.trace_hash, again.trace_hash);
  Scenario plain = scenario;
  plain.swarm.enabled = false;
  EXPECT_NE(run_simulation(plain, SimulationOptions{3, false}).trace_hash, first.trace_hash);
}

}  // namespace
}  // namespace sluice::sim
