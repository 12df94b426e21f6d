// Declarative simulation scenarios (TOML, under scenarios/): cluster shape, network, disk,
// clocks, BUGGIFY, the workload, explicit fault events and random fault rates. The format is
// documented in docs/formats/scenario.md; every field is checked, unknown keys are errors, and
// errors name the file, line and field.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "node/base/planted_bug.h"
#include "sim/disk.h"
#include "sim/errors.h"
#include "sim/network.h"
#include "sim/workloads/workload.h"
#include "sim/world.h"

namespace sluice::sim {

enum class FaultKind {
  partition,         // a <-> b for every pair across `a` and `b`
  partition_oneway,  // `from` -> `to` blocked only
  isolate,           // `nodes` (or `count` random nodes) cut off from the rest
  heal,              // every partition removed
  crash,             // `nodes` lose power
  restart,           // `nodes` boot again from their disks
  clock_jump,        // wall clocks of `nodes` jump by `ms` (may be negative)
  disk_full,         // disks of `nodes` refuse growth (ENOSPC)
  disk_ok,           // disks of `nodes` healthy again: not full, no error rates
  disk_free,         // disks of `nodes` accept growth again (ends disk_full; error rates unchanged)
  disk_errors,       // error rates for `nodes`: read, write, sync
  bit_flip,          // one random bit flipped on each disk of `nodes`
  network,           // link defaults change: loss, duplicate, latency_ms_min/max
  stream_resets,     // random stream reset probability per segment
  slow_node,         // `nodes` become CPU-starved: their events run up to `lag_ms` late (0: normal)
};

// The kind's name in scenario files ("partition_oneway", ...).
std::string_view to_string(FaultKind kind);

// What a moment-triggered fault event waits for (FaultEvent::at_leader_moment).
enum class LeaderMomentTrigger : uint8_t { none, elected, first_commit };

struct FaultEvent {
  int64_t at_ns = 0;
  FaultKind kind = FaultKind::heal;
  std::vector<NodeIndex> nodes;  // also `a` / `from`
  std::vector<NodeIndex> other;  // `b` / `to`
  size_t count = 0;              // isolate: random group size
  int64_t jump_ns = 0;            // clock_jump: `ms`
  int64_t lag_ns = 0;             // slow_node: `lag_ms`
  double read_error = 0, write_error = 0, sync_error = 0;
  double loss = -1, duplicate = -1;  // -1: unchanged
  int64_t latency_ns_min = -1, latency_ns_max = -1;
  double probability = 0;
  // isolate: armed from at_ns on, it strikes at its node's first such leader moment, right after
  // the step that made it (how a moment fault of [random_faults] lands, so its materialized record
  // replays exactly). `at_leader_moment = "elected" | "first_commit"`.
  LeaderMomentTrigger at_leader_moment = LeaderMomentTrigger::none;
  int source_line = 0;
};

// Poisson rates (per simulated minute) of faults the fault driver injects until faults stop.
struct RandomFaults {
  double crash_per_node_per_min = 0;
  int64_t down_ns_min = 1'000'000'000, down_ns_max = 5'000'000'000;
  double partition_per_min = 0;  // picks symmetric, one-way or isolate
  int64_t partition_ns_min = 1'000'000'000, partition_ns_max = 8'000'000'000;
  double clock_jump_per_min = 0;
  int64_t clock_jump_ns_max = 1'000'000'000;
  double power_loss_per_min = 0;  // every node at once; each back after down_ns_min..max
  double bit_flip_per_min = 0;
  size_t bit_flip_nodes_max = 0;  // flips hit only this many nodes, drawn once per run (0: any)
  double slow_node_per_min = 0;
  int64_t slow_lag_ns_max = 50'000'000, slow_ns = 3'000'000'000;
  double disk_full_per_min = 0;
  int64_t disk_full_ns = 2'000'000'000;
  // Targeted at leaders (a nemesis that knows the cluster, as Jepsen's kill-the-primary): the
  // node leading a random group (as the workload last saw it; none known: nothing happens)
  // crashes for down_ns_min..max, or is isolated for partition_ns_min..max.
  double leader_crash_per_min = 0;
  double leader_isolate_per_min = 0;
  // Each time a node is first seen leading a group in a new term, the chance that it is isolated
  // at once (healed after partition_ns_min..max): a leader cut off before its first entry of the
  // term reached anyone, the start of the Raft paper's Figure 8.
  double new_leader_isolate_probability = 0;
  // Each time a leader is first seen advancing its commit index in its term, the chance that it
  // is isolated at once: the followers have its entries but not the news that they committed.
  double leader_first_commit_isolate_probability = 0;
};

// One [workload] / [[workload]] table: its kind and what its parser built.
struct ScenarioWorkload {
  std::string kind;
  std::shared_ptr<const WorkloadSpec> spec;
};

// What a run may cost before it counts as a liveness bug even when it passes (a scenario that
// suddenly needs 100x the events or time to heal has a bug): every scenario states one.
// A scenario with a quiet period after faults_stop_s bounds the time to converge; one that ends
// when its workloads have measured what they came for bounds the simulated time to get there.
struct Budget {
  uint64_t events_max = 0;        // world events over the whole run
  int64_t converge_ns_max = 0;    // from faults_stop_s until every workload has converged (0: none)
  int64_t simulated_ns_max = 0;   // the run must have finished by then (0: none)
};

// [swarm]: each seed varies the scenario before it runs (swarm testing, sim/swarm.h): which of
// the random fault kinds are on, their rates, network loss and duplication, BUGGIFY
// probabilities. Rates are scaled by factors drawn in [rate_factor_min, rate_factor_max].
struct SwarmConfig {
  bool enabled = false;
  double rate_factor_min = 0.25;
  double rate_factor_max = 2;
  // Timing: the Raft tick interval and the SWIM protocol periods are scaled per seed by factors
  // drawn log-uniformly in [min, max] (1, 1: not varied).
  double timing_factor_min = 0.5;
  double timing_factor_max = 2;
  // Cluster shape (the cluster workload): each seed draws the storage nodes, the topic's
  // partitions and its replication factor uniformly from these inclusive ranges ({0, 0}: the
  // scenario's own, not varied). Replication is drawn at most the seed's node count.
  std::array<int64_t, 2> nodes{0, 0};
  std::array<int64_t, 2> partitions{0, 0};
  std::array<int64_t, 2> replication{0, 0};
};

// The cluster workload's topic as a seed's variant has it (0: as the workload's table says).
struct ClusterShape {
  int64_t partitions = 0;
  int64_t replication = 0;
};

// How a seed's variant scales the nodes' timers (swarm testing; 1 = as the workload says). Raft:
// the host's tick interval, so heartbeats and election timeouts alike; SWIM: the probe interval,
// its timeouts and the gossip interval alike. Against fixed network and disk latencies, slower
// timers stretch failure detection and faster ones make timeouts fire on slow paths.
struct TimingScale {
  double raft = 1;
  double swim = 1;
};

struct Scenario {
  std::string name;
  std::string path;
  size_t nodes = 3;
  int64_t duration_ns = 30'000'000'000;
  int64_t faults_stop_ns = 20'000'000'000;  // random faults end; everything heals
  int64_t drift_ppm_max = 0;
  int64_t wall_skew_ns_max = 0;
  NetworkConfig network;
  DiskConfig disk;
  DiskFaults disk_faults;
  BuggifyConfig buggify;
  // In file order; a scenario without any runs one "runtime" workload with its defaults.
  std::vector<ScenarioWorkload> workloads;
  std::vector<FaultEvent> events;
  RandomFaults random;
  Budget budget;
  // A known bug planted in every node (node/base/planted_bug.h), so a test can show the
  // scenario's checkers catch it. `none` in every real scenario.
  PlantedBug planted_bug = PlantedBug::none;
  SwarmConfig swarm;
  TimingScale timing;  // set by swarm_variant, never by the file
  ClusterShape shape;  // likewise
  // Coverage marks (node/base/coverage.h) a sweep of this scenario must hit at least once.
  std::vector<std::string> coverage_required;
};

Result<Scenario> parse_scenario(std::string_view text, std::string_view source_name);
// The two halves of parse_scenario, for files that hold a scenario among other tables (a replay
// file, docs/formats/replay.md): TOML syntax, then the scenario's fields. Errors name
// `source_name` and the line each node came from.
Result<toml::table> parse_toml(std::string_view text, std::string_view source_name);
Result<Scenario> parse_scenario_table(const toml::table& table, std::string_view source_name);

// One [[events]] table as a scenario file writes it (the inverse of reading one): node numbers
// 1-based, times in s, clock jumps and lags in ms. Used to write shrunk runs back as scenarios.
toml::table fault_event_table(const FaultEvent& event);
Result<Scenario> load_scenario(const std::string& path);
// The file's TOML, not yet read as a scenario (what a shrink edits).
Result<toml::table> load_scenario_table(const std::string& path);

}  // namespace sluice::sim
