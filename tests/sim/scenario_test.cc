// Tests of scenario parsing (every field read, errors naming file:line and field) and of whole
// simulation runs: same seed => same trace, different seeds => different traces, and a small
// faulty scenario passes its checks.
#include <gtest/gtest.h>

#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/workloads/runtime.h"

namespace sluice::sim {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

// --- parsing: a valid scenario -----------------------------------------------------------------

constexpr const char* kFullScenario = R"(name = "everything"
nodes = 4
duration_s = 12.5
faults_stop_s = 9

[network]
latency_ms_min = 2
latency_ms_max = 30.5
loss = 0.1
duplicate = 0.02
stream_reset = 0.001
stream_stall_reset_s = 4

[disk]
capacity_mb = 64
read_error = 0.01
write_error = 0.02
sync_error = 0.03
torn_write = 0.4

[clock]
drift_ppm_max = 500
skew_ms_max = 250

[buggify]
enabled = true
site_probability = 0.5
fire_probability = 0.125

[workload]
kind = "runtime"
datagram_interval_ms = 25
stream_interval_ms = 10
file_append_interval_ms = 40
file_sync_every = 8
payload_bytes_max = 300

[random_faults]
crash_per_node_per_min = 1.5
down_s_min = 0.5
down_s_max = 2
partition_per_min = 3
partition_s_min = 1
partition_s_max = 4
clock_jump_per_min = 2
clock_jump_ms_max = 750
bit_flip_per_min = 0.5
disk_full_per_min = 0.25
disk_full_s = 3

[[events]]
at_s = 1
kind = "partition"
a = [1, 2]
b = [3]

[[events]]
at_s = 2.5
kind = "partition_oneway"
from = [4]
to = [1]

[[events]]
at_s = 3
kind = "clock_jump"
nodes = [2]
ms = -1500

[[events]]
at_s = 4
kind = "network"
loss = 0.5
latency_ms_min = 5
latency_ms_max = 50

[[events]]
at_s = 5
kind = "disk_errors"
nodes = [3, 4]
read = 0.1
write = 0.2
sync = 0.3

[[events]]
at_s = 6
kind = "isolate"
count = 2

[[events]]
at_s = 9
kind = "stream_resets"
probability = 0.05

[budget]
events_max = 123456
converge_s_max = 2.5

[coverage]
required = ["a.one", "b.two"]
)";

TEST(SimScenarioParse, ValidScenarioRoundTripsEveryField) {
  auto parsed = parse_scenario(kFullScenario, "full.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const Scenario& s = *parsed;
  EXPECT_EQ(s.name, "everything");
  EXPECT_EQ(s.path, "full.toml");
  EXPECT_EQ(s.nodes, 4u);
  EXPECT_EQ(s.duration_ns, 12'500 * kMs);
  EXPECT_EQ(s.faults_stop_ns, 9 * kS);

  EXPECT_EQ(s.network.link.latency_min.count(), 2 * kMs);
  EXPECT_EQ(s.network.link.latency_max.count(), 30'500'000);
  EXPECT_DOUBLE_EQ(s.network.link.loss_probability, 0.1);
  EXPECT_DOUBLE_EQ(s.network.link.duplicate_probability, 0.02);
  EXPECT_DOUBLE_EQ(s.network.stream_reset_probability, 0.001);
  EXPECT_EQ(s.network.stream_stall_reset_after.count(), 4 * kS);

  EXPECT_EQ(s.disk.capacity_bytes, 64ULL << 20);
  EXPECT_DOUBLE_EQ(s.disk_faults.read_error_probability, 0.01);
  EXPECT_DOUBLE_EQ(s.disk_faults.write_error_probability, 0.02);
  EXPECT_DOUBLE_EQ(s.disk_faults.sync_error_probability, 0.03);
  EXPECT_DOUBLE_EQ(s.disk_faults.torn_write_probability, 0.4);

  EXPECT_EQ(s.drift_ppm_max, 500);
  EXPECT_EQ(s.wall_skew_ns_max, 250 * kMs);
  EXPECT_TRUE(s.buggify.enabled);
  EXPECT_DOUBLE_EQ(s.buggify.site_probability, 0.5);
  EXPECT_DOUBLE_EQ(s.buggify.fire_probability, 0.125);

  ASSERT_EQ(s.workloads.size(), 1u);
  EXPECT_EQ(s.workloads[0].kind, "runtime");
  const auto* spec = dynamic_cast<const ConfigWorkloadSpec<RuntimeWorkload, RuntimeWorkloadConfig>*>(s.workloads[0].spec.get());
  ASSERT_NE(spec, nullptr);
  const RuntimeWorkloadConfig& workload = spec->config();
  EXPECT_EQ(workload.datagram_interval_ns, 25 * kMs);
  EXPECT_EQ(workload.stream_interval_ns, 10 * kMs);
  EXPECT_EQ(workload.file_append_interval_ns, 40 * kMs);
  EXPECT_EQ(workload.file_sync_every, 8u);
  EXPECT_EQ(workload.payload_bytes_max, 300u);

  EXPECT_DOUBLE_EQ(s.random.crash_per_node_per_min, 1.5);
  EXPECT_EQ(s.random.down_ns_min, 500 * kMs);
  EXPECT_EQ(s.random.down_ns_max, 2 * kS);
  EXPECT_DOUBLE_EQ(s.random.partition_per_min, 3);
  EXPECT_EQ(s.random.partition_ns_min, 1 * kS);
  EXPECT_EQ(s.random.partition_ns_max, 4 * kS);
  EXPECT_DOUBLE_EQ(s.random.clock_jump_per_min, 2);
  EXPECT_EQ(s.random.clock_jump_ns_max, 750 * kMs);
  EXPECT_DOUBLE_EQ(s.random.bit_flip_per_min, 0.5);
  EXPECT_DOUBLE_EQ(s.random.disk_full_per_min, 0.25);
  EXPECT_EQ(s.random.disk_full_ns, 3 * kS);
  EXPECT_EQ(s.budget.events_max, 123456u);
  EXPECT_EQ(s.budget.converge_ns_max, 2'500 * kMs);
  EXPECT_EQ(s.budget.simulated_ns_max, 0);
  EXPECT_EQ(s.coverage_required, (std::vector<std::string>{"a.one", "b.two"}));

  ASSERT_EQ(s.events.size(), 7u);
  const FaultEvent& partition = s.events[0];
  EXPECT_EQ(partition.kind, FaultKind::partition);
  EXPECT_EQ(partition.at_ns, 1 * kS);
  EXPECT_EQ(partition.nodes, (std::vector<NodeIndex>{0, 1}));  // node numbers are 1-based
  EXPECT_EQ(partition.other, (std::vector<NodeIndex>{2}));
  EXPECT_EQ(partition.source_line, 51);  // its [[events]] header
  const FaultEvent& oneway = s.events[1];
  EXPECT_EQ(oneway.kind, FaultKind::partition_oneway);
  EXPECT_EQ(oneway.at_ns, 2'500 * kMs);
  EXPECT_EQ(oneway.nodes, (std::vector<NodeIndex>{3}));
  EXPECT_EQ(oneway.other, (std::vector<NodeIndex>{0}));
  const FaultEvent& jump = s.events[2];
  EXPECT_EQ(jump.kind, FaultKind::clock_jump);
  EXPECT_EQ(jump.nodes, (std::vector<NodeIndex>{1}));
  EXPECT_EQ(jump.jump_ns, -1'500 * kMs) << "a backwards clock jump was lost";
  const FaultEvent& network = s.events[3];
  EXPECT_EQ(network.kind, FaultKind::network);
  EXPECT_DOUBLE_EQ(network.loss, 0.5);
  EXPECT_DOUBLE_EQ(network.duplicate, -1);  // unchanged
  EXPECT_EQ(network.latency_ns_min, 5 * kMs);
  EXPECT_EQ(network.latency_ns_max, 50 * kMs);
  const FaultEvent& disk = s.events[4];
  EXPECT_EQ(disk.kind, FaultKind::disk_errors);
  EXPECT_EQ(disk.nodes, (std::vector<NodeIndex>{2, 3}));
  EXPECT_DOUBLE_EQ(disk.read_error, 0.1);
  EXPECT_DOUBLE_EQ(disk.write_error, 0.2);
  EXPECT_DOUBLE_EQ(disk.sync_error, 0.3);
  EXPECT_EQ(s.events[5].kind, FaultKind::isolate);
  EXPECT_EQ(s.events[5].count, 2u);
  EXPECT_TRUE(s.events[5].nodes.empty());
  EXPECT_EQ(s.events[6].kind, FaultKind::stream_resets);
  EXPECT_EQ(s.events[6].at_ns, 9 * kS);  // at faults_stop_s is allowed
  EXPECT_DOUBLE_EQ(s.events[6].probability, 0.05);
}

TEST(SimScenarioParse, DefaultsApplyWhenSectionsAreMissing) {
  auto parsed = parse_scenario("name = \"minimal\"\n[budget]\nevents_max = 10\nconverge_s_max = 1\n", "min.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  const Scenario defaults;
  EXPECT_EQ(parsed->nodes, defaults.nodes);
  EXPECT_EQ(parsed->duration_ns, defaults.duration_ns);
  EXPECT_EQ(parsed->faults_stop_ns, defaults.duration_ns * 2 / 3);
  EXPECT_EQ(parsed->network.link.latency_max, defaults.network.link.latency_max);
  EXPECT_FALSE(parsed->buggify.enabled);
  EXPECT_TRUE(parsed->events.empty());
  ASSERT_EQ(parsed->workloads.size(), 1u);
  EXPECT_EQ(parsed->workloads[0].kind, "runtime");
}

// --- parsing: errors name file:line and field ---------------------------------------------------

// Parses `text`, expects invalid_scenario, and returns the message.
std::string parse_error(std::string_view text) {
  auto parsed = parse_scenario(text, "bad.toml");
  EXPECT_FALSE(parsed.ok()) << "parsed although invalid:\n" << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), Errc::invalid_scenario);
  return parsed.status().message();
}

// The message starts with "bad.toml:<line>: <field>: " and mentions `what`.
void expect_error(std::string_view text, int line, std::string_view field, std::string_view what) {
  const std::string message = parse_error(text);
  const std::string prefix = "bad.toml:" + std::to_string(line) + ": " + std::string(field) + ": ";
  EXPECT_EQ(message.substr(0, prefix.size()), prefix) << "message: " << message;
  EXPECT_NE(message.find(what), std::string::npos) << "message: " << message;
}

TEST(SimScenarioParse, UnknownKeyIsNamed) {
  expect_error("name = \"x\"\nnodes = 3\nduraton_s = 5\n", 3, "duraton_s", "unknown key");
  expect_error("name = \"x\"\n\n[network]\nloss = 0.1\nlos = 0.2\n", 5, "network.los", "unknown key");
  expect_error("[[events]]\nat_s = 1\nkind = \"heal\"\ncolour = 1\n", 4, "events[0].colour", "unknown key");
  expect_error("[clocks]\ndrift_ppm_max = 5\n", 1, "clocks", "unknown key");
}

// Leader faults need a workload that names leaders: elsewhere they would silently do nothing.
TEST(SimScenarioParse, LeaderFaultsNeedAClusterWorkload) {
  expect_error("[random_faults]\nleader_crash_per_min = 2\n", 2, "random_faults.leader_crash_per_min", "needs a cluster workload");
  expect_error("[random_faults]\nnew_leader_isolate_probability = 0.5\n", 2, "random_faults.new_leader_isolate_probability",
               "needs a cluster workload");
}

// A moment-triggered isolate (how a shrink writes a moment fault): one node, an isolate, a known
// moment; written back the same way.
TEST(SimScenarioParse, AtLeaderMomentIsAnIsolateOfOneNode) {
  const std::string head = "nodes = 3\n[[events]]\nat_s = 1\n";
  expect_error(head + "kind = \"isolate\"\nnodes = [1]\nat_leader_moment = \"crowned\"\n", 6, "events[0].at_leader_moment",
               "expected \"elected\" or \"first_commit\"");
  expect_error(head + "kind = \"crash\"\nnodes = [1]\nat_leader_moment = \"elected\"\n", 6, "events[0].at_leader_moment",
               "only an isolate");
  expect_error(head + "kind = \"isolate\"\nnodes = [1, 2]\nat_leader_moment = \"elected\"\n", 2, "events[0].kind",
               "one node with at_leader_moment");
  Result<toml::table> table =
      parse_toml(head + "kind = \"isolate\"\nnodes = [2]\nat_leader_moment = \"first_commit\"\n[budget]\nevents_max = 1000\nconverge_s_max = 5\n",
                 "ok.toml");
  ASSERT_TRUE(table.ok());
  Result<Scenario> scenario = parse_scenario_table(*table, "ok.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().to_string();
  ASSERT_EQ(scenario->events.size(), 1u);
  EXPECT_EQ(scenario->events[0].at_leader_moment, LeaderMomentTrigger::first_commit);
  EXPECT_EQ(fault_event_table(scenario->events[0])["at_leader_moment"].value_or(std::string()), "first_commit");
}

TEST(SimScenarioParse, WrongTypeIsNamed) {
  expect_error("name = \"x\"\nnodes = \"three\"\n", 2, "nodes", "expected an integer");
  expect_error("nodes = 2.5\n", 1, "nodes", "expected an integer");
  expect_error("\n[network]\nloss = \"high\"\n", 3, "network.loss", "expected a number");
  expect_error("[buggify]\nenabled = 1\n", 2, "buggify.enabled", "expected true or false");
  expect_error("name = 7\n", 1, "name", "expected a string");
  expect_error("network = 5\n", 1, "network", "expected a table");
  expect_error("events = 5\n", 1, "events", "expected an array of tables");
  expect_error("[[events]]\nat_s = 1\nkind = \"crash\"\nnodes = 1\n", 4, "events[0].nodes", "expected a list");
}

// `[buggify] sites`: absent, the seed decides; present (even empty), exactly these sites are on.
TEST(SimScenarioParse, BuggifySitesAreReadAndChecked) {
  auto parse = [](const std::string& buggify) {
    return parse_scenario("[budget]\nevents_max = 10\nconverge_s_max = 1\n[buggify]\nenabled = true\n" + buggify, "s.toml");
  };
  Result<Scenario> absent = parse("");
  ASSERT_TRUE(absent.ok()) << absent.status().to_string();
  EXPECT_FALSE(absent->buggify.sites.has_value());
  Result<Scenario> empty = parse("sites = []\n");
  ASSERT_TRUE(empty.ok()) << empty.status().to_string();
  ASSERT_TRUE(empty->buggify.sites.has_value());
  EXPECT_TRUE(empty->buggify.sites->empty());
  Result<Scenario> two = parse("sites = ['log_write.cc:134', 'host.cc:27']\n");
  ASSERT_TRUE(two.ok()) << two.status().to_string();
  EXPECT_EQ(two->buggify.sites, (std::set<std::string>{"host.cc:27", "log_write.cc:134"}));

  expect_error("[buggify]\nsites = 'host.cc:27'\n", 2, "buggify.sites", "expected a list");
  expect_error("[buggify]\nsites = [27]\n", 2, "buggify.sites", "expected a string");
  for (const char* bad : {"host.cc", "host.cc:", ":27", "host.cc:0", "host.cc:27x", "dir/host.cc:27", "host.cc:-1"}) {
    expect_error("[buggify]\nsites = ['log.cc:1', '" + std::string(bad) + "']\n", 2, "buggify.sites",
                 "entry 2 is no site: expected \"FILE:LINE\"");
  }
}

TEST(SimScenarioParse, OutOfRangeValueIsNamed) {
  expect_error("nodes = 0\n", 1, "nodes", "must be between 1 and 1024");
  expect_error("nodes = 3\n[network]\nloss = 1.5\n", 3, "network.loss", "must be between 0 and 1");
  expect_error("[clock]\ndrift_ppm_max = 100001\n", 2, "clock.drift_ppm_max", "must be between");
  expect_error("[workload]\nfile_sync_every = 0\n", 2, "workload.file_sync_every", "must be between 1 and");
  expect_error("duration_s = 10\n\n\nfaults_stop_s = 50\n", 4, "faults_stop_s", "must not be after duration_s");
}

TEST(SimScenarioParse, UnknownFaultKindIsNamed) {
  expect_error("nodes = 3\n\n[[events]]\nat_s = 1\nkind = \"explode\"\n", 5, "events[0].kind",
               "unknown fault kind 'explode'");
}

TEST(SimScenarioParse, UnknownWorkloadKindIsNamed) {
  expect_error("nodes = 3\n\n[workload]\ndatagram_interval_ms = 5\nkind = \"chaos\"\n", 5, "workload.kind",
               "unknown workload kind 'chaos'");
}

TEST(SimScenarioParse, NodeNumberOutOfRangeIsNamed) {
  expect_error("nodes = 3\n\n[[events]]\nat_s = 1\nkind = \"crash\"\nnodes = [1, 4]\n", 6, "events[0].nodes",
               "node numbers run from 1 to 3");
  expect_error("nodes = 3\n[[events]]\nat_s = 1\nkind = \"partition\"\na = [0]\nb = [1]\n", 5, "events[0].a",
               "node numbers run from 1 to 3");
}

TEST(SimScenarioParse, EventAfterFaultsStopIsNamed) {
  expect_error("nodes = 3\nduration_s = 10\nfaults_stop_s = 5\n\n[[events]]\nat_s = 1\nkind = \"heal\"\n\n"
               "[[events]]\nat_s = 6\nkind = \"heal\"\n",
               10, "events[1].at_s", "must not be after faults_stop_s");
}

TEST(SimScenarioParse, MissingEventFieldsAreNamed) {
  expect_error("nodes = 3\n[[events]]\nkind = \"heal\"\n", 2, "events[0].at_s", "required");
  expect_error("nodes = 3\n[[events]]\nat_s = 1\nkind = \"partition\"\na = [1]\n", 2, "events[0].kind",
               "needs a = [...] and b = [...]");
  expect_error("nodes = 3\n[[events]]\nat_s = 1\nkind = \"crash\"\n", 2, "events[0].kind", "needs nodes");
}

TEST(SimScenarioParse, MalformedTomlIsNamed) {
  const std::string message = parse_error("nodes = 3\nduration_s = = 10\n");
  EXPECT_EQ(message.substr(0, 18), "bad.toml:2: toml: ") << message;
  const std::string unclosed = parse_error("name = \"x\"\n\n[network\nloss = 0.1\n");
  EXPECT_EQ(unclosed.substr(0, 18), "bad.toml:3: toml: ") << unclosed;
}

TEST(SimScenarioParse, LoadScenarioReportsAMissingFile) {
  auto loaded = load_scenario("/nonexistent/sluice/scenario.toml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Errc::io_error);
  EXPECT_NE(loaded.status().message().find("/nonexistent/sluice/scenario.toml"), std::string::npos);
}

TEST(SimScenarioParse, EveryScenarioStatesABudget) {
  expect_error("name = \"x\"\n", 1, "budget", "every scenario states a [budget]");
  expect_error("name = \"x\"\n[budget]\nconverge_s_max = 1\n", 2, "budget.events_max", "is required");
  expect_error("name = \"x\"\nduration_s = 10\nfaults_stop_s = 5\n[budget]\nevents_max = 5\n", 4, "budget.converge_s_max",
               "is required when faults stop");
  expect_error("name = \"x\"\nduration_s = 10\nfaults_stop_s = 10\n[budget]\nevents_max = 5\n", 4, "budget.simulated_s_max",
               "is required when faults never stop");
  // An earlier error is not hidden by the missing budget.
  expect_error("name = \"x\"\nnodes = 0\n", 2, "nodes", "must be between");
}

TEST(SimScenarioParse, PlantedBugIsNamed) {
  auto parsed = parse_scenario("planted_bug = \"raft_skip_sync\"\n[budget]\nevents_max = 10\nconverge_s_max = 1\n", "p.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->planted_bug, PlantedBug::raft_skip_sync);
  expect_error("planted_bug = \"nope\"\n", 1, "planted_bug", "unknown bug 'nope' (known: none, raft_commit_previous_term");
}

TEST(SimScenarioParse, SeveralWorkloadsInFileOrder) {
  auto parsed = parse_scenario(R"(name = "two"
[[workload]]
kind = "runtime"
file_sync_every = 3
[[workload]]
kind = "raft"
[budget]
events_max = 10
converge_s_max = 1
)", "two.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->workloads.size(), 2u);
  EXPECT_EQ(parsed->workloads[0].kind, "runtime");
  EXPECT_EQ(parsed->workloads[1].kind, "raft");
  expect_error("name = \"x\"\n[[workload]]\nkind = \"runtime\"\n[[workload]]\nkind = \"nope\"\n", 5, "workload[1].kind",
               "unknown workload kind 'nope' (known: cluster, partitions, raft, runtime, swim)");
}

// --- whole runs --------------------------------------------------------------------------------

constexpr const char* kSmallFaultyScenario = R"(name = "small-faulty"
nodes = 3
duration_s = 5
faults_stop_s = 3

[network]
latency_ms_min = 1
latency_ms_max = 20
loss = 0.05
duplicate = 0.05

[clock]
drift_ppm_max = 300
skew_ms_max = 100

[buggify]
enabled = true
site_probability = 1
fire_probability = 0.05

[random_faults]
crash_per_node_per_min = 4
down_s_min = 0.2
down_s_max = 0.6
partition_per_min = 12
partition_s_min = 0.2
partition_s_max = 0.8
clock_jump_per_min = 10
clock_jump_ms_max = 500
disk_full_per_min = 6
disk_full_s = 0.3

[[events]]
at_s = 0.5
kind = "partition"
a = [1]
b = [2, 3]

[[events]]
at_s = 1.2
kind = "heal"

[[events]]
at_s = 1.5
kind = "crash"
nodes = [2]

[[events]]
at_s = 2.0
kind = "restart"
nodes = [2]

[[events]]
at_s = 2.2
kind = "clock_jump"
nodes = [3]
ms = -200

[budget]
events_max = 200000
converge_s_max = 1.5
)";

Scenario small_scenario() {
  auto parsed = parse_scenario(kSmallFaultyScenario, "small-faulty.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.status().to_string();
  return parsed.ok() ? *parsed : Scenario{};
}

// A workload figure as a number (0 when absent).
uint64_t figure(const SimulationReport& report, std::string_view key) {
  for (const auto& [name, value] : report.figures) {
    if (name == key) return std::stoull(value);
  }
  return 0;
}

std::string describe(const SimulationReport& report) {
  std::ostringstream text;
  print_report(report, text);
  return text.str();
}

TEST(SimSimulation, SmallFaultyScenarioPasses) {
  const Scenario scenario = small_scenario();
  for (uint64_t seed : {1, 2, 3}) {
    const SimulationReport report = run_simulation(scenario, SimulationOptions{seed, false});
    EXPECT_TRUE(report.passed) << "seed " << seed << ": " << report.failure << "\n" << describe(report);
    EXPECT_TRUE(report.liveness_checked);
    EXPECT_EQ(report.simulated_ns, scenario.duration_ns) << "seed " << seed;
    EXPECT_GE(report.world.crashes, 1u);  // the explicit crash at 1.5 s
    EXPECT_GE(report.world.starts, 4u);   // 3 boots and the explicit restart
    EXPECT_GE(report.faults_injected, scenario.events.size());
    EXPECT_GT(figure(report, "datagrams_received"), 0u);
    EXPECT_GT(figure(report, "stream_frames_echoed"), 0u);
    EXPECT_GT(figure(report, "file_syncs"), 0u);
    EXPECT_GT(report.network.datagrams_lost, 0u);
    EXPECT_GT(report.network.datagrams_duplicated, 0u);
    EXPECT_GT(report.network.datagrams_blocked, 0u);
  }
}

TEST(SimSimulation, ExceedingTheBudgetFailsTheRun) {
  Scenario scenario = small_scenario();
  scenario.budget.events_max = 1000;
  SimulationReport report = run_simulation(scenario, SimulationOptions{1, false});
  EXPECT_FALSE(report.passed);
  EXPECT_NE(report.failure.find("budget: more than events_max=1000 events"), std::string::npos) << report.failure;
  EXPECT_LT(report.simulated_ns, scenario.duration_ns);  // stopped at once

  scenario = small_scenario();
  scenario.budget.converge_ns_max = 1'000'000;  // 1 ms: no workload can heal that fast
  report = run_simulation(scenario, SimulationOptions{1, false});
  EXPECT_FALSE(report.passed);
  EXPECT_NE(report.failure.find("budget: not converged 0.001 s (converge_s_max) after faults stopped"), std::string::npos)
      << report.failure;

  scenario = small_scenario();
  report = run_simulation(scenario, SimulationOptions{1, false});
  ASSERT_TRUE(report.passed) << report.failure;
  EXPECT_GE(report.converge_ns, 0);
  EXPECT_LE(report.converge_ns, scenario.budget.converge_ns_max);
}

TEST(SimSimulation, SameSeedGivesTheSameTrace) {
  const Scenario scenario = small_scenario();
  const SimulationReport first = run_simulation(scenario, SimulationOptions{42, true});
  const SimulationReport second = run_simulation(scenario, SimulationOptions{42, true});
  ASSERT_TRUE(first.passed) << first.failure;
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.trace_events, second.trace_events);
  EXPECT_EQ(first.trace.size(), first.trace_events);
  const auto divergence = first_divergence(first.trace, second.trace);
  EXPECT_FALSE(divergence.has_value()) << "runs diverge at event " << *divergence << ":\n  "
                                       << first.trace[*divergence].to_string() << "\n  "
                                       << second.trace[*divergence].to_string();
  EXPECT_EQ(describe(first), describe(second));
  // Recording the trace must not change the run.
  const SimulationReport unrecorded = run_simulation(scenario, SimulationOptions{42, false});
  EXPECT_EQ(unrecorded.trace_hash, first.trace_hash);
  EXPECT_TRUE(unrecorded.trace.empty());
}

TEST(SimSimulation, DifferentSeedsGiveDifferentTraces) {
  const Scenario scenario = small_scenario();
  const SimulationReport a = run_simulation(scenario, SimulationOptions{42, true});
  const SimulationReport b = run_simulation(scenario, SimulationOptions{43, true});
  EXPECT_NE(a.trace_hash, b.trace_hash);
  EXPECT_TRUE(first_divergence(a.trace, b.trace).has_value());
}

TEST(SimSimulation, FirstDivergenceFindsTheFirstDifference) {
  std::vector<TraceRecord> a = {{1, 0, "x", 1}, {2, 0, "y", 2}, {3, 1, "z", 3}};
  std::vector<TraceRecord> b = a;
  EXPECT_FALSE(first_divergence(a, b).has_value());
  b[1].detail = 99;
  EXPECT_EQ(first_divergence(a, b), 1u);
  b = a;
  b.pop_back();
  EXPECT_EQ(first_divergence(a, b), 2u);  // a missing record counts
  b = a;
  b[2].kind = "other";
  EXPECT_EQ(first_divergence(a, b), 2u);
}

TEST(SimSimulation, ReportNamesTheReplayCommand) {
  SimulationReport report;
  report.seed = 17;
  report.scenario_path = "scenarios/x.toml";
  report.passed = false;
  report.failure = "boom";
  const std::string text = describe(report);
  EXPECT_NE(text.find("result=FAILED"), std::string::npos) << text;
  EXPECT_NE(text.find("failure=boom"), std::string::npos) << text;
  EXPECT_NE(text.find("--scenario scenarios/x.toml --seed 17"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::sim
