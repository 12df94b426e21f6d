// Tests of swarm testing (sim/swarm.h): the [swarm] section parses strictly, a seed's variant is
// a pure function of (scenario, seed), different seeds vary the knobs, and a run reports them.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>

#include "sim/scenario.h"
#include "sim/shrink.h"
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

// --- cluster shape ------------------------------------------------------------------------------

// A cluster scenario (5 nodes, a topic of 3 x 3, the controller on 3 voters) with `swarm` as its
// [swarm] lines (after enabled = true) and `events` appended.
std::string cluster_scenario(const std::string& swarm, const std::string& events = "") {
  return "name = \"shape\"\nnodes = 5\nduration_s = 8\nfaults_stop_s = 4\n"
         "[workload]\nkind = \"cluster\"\npartitions = 3\nreplication = 3\ncontroller_voters = 3\n"
         "[random_faults]\ncrash_per_node_per_min = 2\n"
         "[swarm]\nenabled = true\n" + swarm +
         "[budget]\nevents_max = 5000000\nconverge_s_max = 10\n" + events;
}

void expect_shape_error(const std::string& text, const std::string& expected) {
  auto scenario = parse_scenario(text, "bad.toml");
  ASSERT_FALSE(scenario.ok()) << text;
  EXPECT_NE(scenario.status().message().find(expected), std::string::npos) << scenario.status().message();
}

TEST(SwarmShape, RangesParseAndTheirErrorsAreNamed) {
  const Scenario scenario = parsed(cluster_scenario("nodes = [3, 7]\npartitions = [1, 6]\nreplication = [1, 5]\n"));
  EXPECT_EQ(scenario.swarm.nodes, (std::array<int64_t, 2>{3, 7}));
  EXPECT_EQ(scenario.swarm.partitions, (std::array<int64_t, 2>{1, 6}));
  EXPECT_EQ(scenario.swarm.replication, (std::array<int64_t, 2>{1, 5}));
  EXPECT_EQ(parsed(cluster_scenario("")).swarm.nodes, (std::array<int64_t, 2>{0, 0}));

  expect_shape_error(cluster_scenario("nodes = 4\n"), "bad.toml:14: swarm.nodes: expected [LOW, HIGH], two integers");
  expect_shape_error(cluster_scenario("nodes = [3]\n"), "swarm.nodes: expected [LOW, HIGH], two integers");
  expect_shape_error(cluster_scenario("nodes = [3, 'x']\n"), "swarm.nodes: expected [LOW, HIGH], two integers");
  expect_shape_error(cluster_scenario("nodes = [6, 4]\n"), "swarm.nodes: HIGH must not be below LOW");
  expect_shape_error(cluster_scenario("partitions = [0, 4]\n"), "swarm.partitions: must be between 1 and 1000");
  expect_shape_error(cluster_scenario("replication = [1, 8]\n"), "swarm.replication: must be between 1 and 7");
  expect_shape_error(cluster_scenario("nodes = [3, 7]\nreplication = [4, 5]\n"),
                     "bad.toml:15: swarm.replication: LOW is above the fewest nodes (3)");
  // Every scenario the range allows must be valid: 2 nodes cannot hold 3 controller voters, and
  // an event naming node 5 needs 5 nodes.
  expect_shape_error(cluster_scenario("nodes = [2, 7]\n"), "bad.toml:14: swarm.nodes: with 2 nodes the scenario is invalid: ");
  expect_shape_error(cluster_scenario("nodes = [2, 7]\n"), "more voters than nodes");
  expect_shape_error(cluster_scenario("nodes = [4, 7]\n", "[[events]]\nat_s = 1\nkind = \"crash\"\nnodes = [5]\n"),
                     "swarm.nodes: with 4 nodes the scenario is invalid: ");
  EXPECT_TRUE(parse_scenario(cluster_scenario("nodes = [5, 7]\n", "[[events]]\nat_s = 1\nkind = \"crash\"\nnodes = [5]\n"), "ok.toml").ok());
  // Bit flips must stay on a minority of the fewest replicas a seed may draw.
  auto with_flips = [](std::string text, const std::string& flips) {
    const std::string crash = "crash_per_node_per_min = 2\n";
    return text.replace(text.find(crash), crash.size(), crash + flips);
  };
  const std::string flips_on_one = "bit_flip_per_min = 4\nbit_flip_nodes_max = 1\n";
  expect_shape_error(with_flips(cluster_scenario("replication = [2, 5]\n"), flips_on_one),
                     "swarm.replication: LOW 2 does not keep bit flips (random_faults.bit_flip_nodes_max 1) to a minority of the replicas");
  expect_shape_error(with_flips(cluster_scenario("replication = [3, 5]\n"), "bit_flip_per_min = 4\n"),
                     "(random_faults.bit_flip_nodes_max 0: any node)");
  EXPECT_TRUE(parse_scenario(with_flips(cluster_scenario("replication = [3, 5]\n"), flips_on_one), "ok.toml").ok());
  EXPECT_TRUE(parse_scenario(with_flips(cluster_scenario("replication = [1, 5]\n"), "bit_flip_per_min = 0\n"), "ok.toml").ok());
  // The topic's shape needs the topic's workload.
  expect_shape_error("name = \"x\"\n[swarm]\nenabled = true\npartitions = [1, 3]\n[budget]\nevents_max = 10\nconverge_s_max = 1\n",
                     "bad.toml:4: swarm.partitions: needs a cluster workload");
}

// Each seed draws a shape inside the ranges (replication at most its nodes), every value of a
// range comes up, and the shape is drawn after every other knob: adding the ranges changes no
// other choice of a seed.
TEST(SwarmShape, SeedsDrawTheShapeInsideItsRangesAndLeaveTheOtherKnobs) {
  const Scenario plain = parsed(cluster_scenario(""));
  const Scenario shaped = parsed(cluster_scenario("nodes = [3, 7]\npartitions = [1, 6]\nreplication = [1, 5]\n"));
  std::set<int64_t> nodes, partitions, replication;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const Scenario a = swarm_variant(plain, seed), b = swarm_variant(shaped, seed);
    EXPECT_EQ(a.nodes, 5u);
    EXPECT_EQ(a.shape.partitions, 0);
    EXPECT_EQ(a.shape.replication, 0);
    EXPECT_GE(b.nodes, 3u);
    EXPECT_LE(b.nodes, 7u);
    EXPECT_GE(b.shape.partitions, 1);
    EXPECT_LE(b.shape.partitions, 6);
    EXPECT_GE(b.shape.replication, 1);
    EXPECT_LE(b.shape.replication, std::min<int64_t>(5, static_cast<int64_t>(b.nodes)));
    nodes.insert(static_cast<int64_t>(b.nodes));
    partitions.insert(b.shape.partitions);
    replication.insert(b.shape.replication);
    EXPECT_EQ(a.random.crash_per_node_per_min, b.random.crash_per_node_per_min);
    EXPECT_EQ(a.timing.raft, b.timing.raft);
    EXPECT_EQ(a.timing.swim, b.timing.swim);
    const std::string described = describe_swarm(b);
    EXPECT_EQ(described.substr(0, describe_swarm(a).size()), describe_swarm(a));
    EXPECT_NE(described.find(" nodes=" + std::to_string(b.nodes) + " partitions=" + std::to_string(b.shape.partitions) +
                             " replication=" + std::to_string(b.shape.replication)),
              std::string::npos)
        << described;
  }
  EXPECT_EQ(nodes.size(), 5u);
  EXPECT_EQ(partitions.size(), 6u);
  EXPECT_EQ(replication.size(), 5u);
}

// The run builds the drawn cluster: the topic it creates has the seed's partitions and
// replication (the workload's figures), and the run passes.
TEST(SwarmShape, TheRunBuildsTheDrawnCluster) {
  const Scenario shaped = parsed(cluster_scenario("nodes = [3, 7]\npartitions = [1, 6]\nreplication = [1, 5]\n"));
  for (uint64_t seed : {1u, 2u}) {
    const Scenario variant = swarm_variant(shaped, seed);
    const SimulationReport report = run_simulation(shaped, SimulationOptions{seed, false});
    EXPECT_TRUE(report.passed) << "seed " << seed << ": " << report.failure;
    std::map<std::string, std::string> figures(report.figures.begin(), report.figures.end());
    EXPECT_EQ(figures["topic_partitions"], std::to_string(variant.shape.partitions)) << "seed " << seed;
    EXPECT_EQ(figures["topic_replication"], std::to_string(variant.shape.replication)) << "seed " << seed;
    EXPECT_NE(figures["acked_records"], "0");
  }
}

// A shrink starts from the seed's shape written into the table (pin_swarm_shape): the same run,
// with no range left to draw from.
TEST(SwarmShape, APinnedShapeIsTheSameRun) {
  const std::string text = cluster_scenario("nodes = [3, 7]\npartitions = [1, 6]\nreplication = [1, 5]\n");
  Result<toml::table> table = parse_toml(text, "shape.toml");
  ASSERT_TRUE(table.ok());
  const Scenario shaped = parsed(text);
  for (uint64_t seed : {1u, 3u}) {
    const toml::table pinned = pin_swarm_shape(*table, shaped, seed);
    EXPECT_FALSE(pinned["swarm"]["nodes"].node() || pinned["swarm"]["partitions"].node() || pinned["swarm"]["replication"].node());
    Result<Scenario> again = parse_scenario_table(pinned, "pinned.toml");
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    const Scenario variant = swarm_variant(shaped, seed);
    EXPECT_EQ(again->nodes, variant.nodes);
    const SimulationReport a = run_simulation(shaped, SimulationOptions{seed, false});
    const SimulationReport b = run_simulation(*again, SimulationOptions{seed, false});
    EXPECT_EQ(a.trace_hash, b.trace_hash) << "seed " << seed;
    EXPECT_EQ(a.swarm.substr(0, a.swarm.find(" nodes=")), b.swarm);
  }
}

}  // namespace
}  // namespace sluice::sim
