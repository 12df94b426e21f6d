// Runs one scenario with one seed: builds the world, starts the workload, injects the explicit
// and random faults, stops faults at faults_stop_s (heal, restart, disks healthy), checks safety
// continuously and liveness at the end, and reports key=value figures.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "sim/faults.h"
#include "sim/scenario.h"
#include "sim/timeline.h"
#include "sim/trace.h"
#include "sim/workloads/client_ops.h"
#include "sim/world.h"

namespace sluice::sim {

struct SimulationOptions {
  uint64_t seed = 1;
  bool record_trace = false;
  // Filled with the run's timeline when set (sluice-sim run --timeline; owned by the caller).
  Timeline* timeline = nullptr;
};

struct SimulationReport {
  uint64_t seed = 0;
  std::string scenario_name;
  std::string scenario_path;
  int64_t simulated_ns = 0;
  uint64_t trace_hash = 0;
  uint64_t trace_events = 0;
  WorldStats world;
  NetworkStats network;
  Figures figures;         // the workloads' own key=value figures, in scenario order
  size_t buggify_sites_enabled = 0;
  // Every enabled BUGGIFY site ("file:line") -> how often it fired (0: on, never fired).
  std::map<std::string, uint64_t> buggify_fired_by_site;
  // The swarm knobs this seed chose (sim/swarm.h); empty when the scenario has no [swarm].
  std::string swarm;
  uint64_t faults_injected = 0;
  std::vector<AppliedFault> applied_faults;  // every fault as applied (sim/shrink.h replays them)
  std::vector<ClientOp> client_ops;          // the client operations issued (sim/workloads/client_ops.h)
  bool liveness_checked = false;
  // Simulated time from faults_stop_s until every workload converged; -1 when it never did (or
  // faults never stopped before the end).
  int64_t converge_ns = -1;
  // Coverage marks hit during the run (name -> hits), node/base/coverage.h.
  std::map<std::string, uint64_t> coverage;
  bool passed = true;
  std::string failure;
  std::vector<TraceRecord> trace;  // only with record_trace
  // Set by the runner (the simulation never reads a real clock): wall time of run_simulation;
  // print_report then adds wall_s and sim_speed_x (simulated seconds per wall second).
  int64_t wall_ns = 0;
  std::string replay;  // the command that replays this run, when not `run --scenario PATH --seed N`
};

// With [swarm], runs swarm_variant(scenario, options.seed) (sim/swarm.h) and reports its knobs.
SimulationReport run_simulation(const Scenario& scenario, const SimulationOptions& options);

// key=value lines, one figure per line.
void print_report(const SimulationReport& report, std::ostream& out);

// The command that replays this run.
std::string replay_command(const std::string& scenario_path, uint64_t seed);

}  // namespace sluice::sim
