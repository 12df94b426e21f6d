// Shrinking a failing run to a minimal one that still fails the same checker (issue 15).
//
// A failing run is first "materialized": its random fault processes are replaced by the faults
// they actually applied (FaultInjector::applied()), as explicit events, with random faults off.
// That list is then reduced by delta debugging (ddmin), BUGGIFY is switched off (or, when the
// failure needs it, ddmin keeps only the sites it needs: `[buggify] sites`), the run is cut
// short (duration_s, faults_stop_s) and the workload's size knobs (clients, producers, consumers,
// partitions, groups) are lowered, each step kept only when the run still fails with the same
// checker. The workload's own randomness still comes from the seed, which stays the same, except
// when a run of many faults is first replaced by a smaller run of another seed that fails the same
// way (a chain of faults that ddmin cannot cut; Shrinker::search_smaller_run). The result is a
// scenario table and a seed, which a replay file holds (sim/replay.h, docs/formats/replay.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "sim/errors.h"
#include "sim/scenario.h"

namespace sluice::sim {

// Whether the run with only the units at `kept` (ascending indices) still fails the same way.
using SubsetFails = std::function<bool(const std::vector<size_t>& kept)>;

struct DdminResult {
  std::vector<size_t> kept;  // ascending; 1-minimal unless capped
  size_t tests = 0;          // calls of the predicate (repeated subsets are answered from a cache)
  bool capped = false;       // stopped at tests_max before the result was 1-minimal
};

// Zeller's ddmin over units 0..count-1, all of which fail together (not re-tested). Tries the
// empty set first: many failures need no fault at all. Pure: no simulation, no I/O.
DdminResult ddmin(size_t count, const SubsetFails& fails, size_t tests_max);

// What a failure is, for "the same checker": the checker's name and, when the next part of the
// message is a plain phrase, the violation kind ("raft safety: durability", "partition ledger:
// duplicate", "budget"). Failure messages read "[t=<seconds>s ]<checker>: <kind>: <details>"; the
// time some workloads put first is not part of the class.
std::string failure_class(std::string_view failure);

struct ShrinkOptions {
  uint64_t seed = 1;
  size_t runs_max = 200;  // simulation runs in all, the first (original) run included
  std::function<void(const std::string&)> progress;  // one line per accepted step (may be empty)
  // A materialized run of more fault units than search_units_min first looks for a smaller run
  // of another seed: at most search_runs_max seeds (short runs, not counted in runs_max).
  size_t search_units_min = 16;
  size_t search_runs_max = 300;
};

struct ShrinkResult {
  std::string checker;  // failure_class of the original failure, which the minimal run keeps
  std::string failure_before, failure_after;
  uint64_t events_before = 0, events_after = 0;  // trace events (world events) of either run
  size_t faults_before = 0, faults_after = 0;    // faults applied in either run
  size_t buggify_sites_before = 0, buggify_sites_after = 0;    // BUGGIFY sites on (and reached)
  uint64_t buggify_fired_before = 0, buggify_fired_after = 0;  // BUGGIFY firings
  size_t client_ops_before = 0, client_ops_after = 0;          // client operations issued (not skipped)
  size_t runs = 0;
  size_t search_runs = 0;   // seeds of a smaller run tried (not in runs)
  uint64_t seed_after = 0;  // the minimal run's seed: the shrunk one, or one the search found
  bool materialized = false;  // random faults replaced by their record (else only explicit events shrank)
  bool capped = false;        // runs_max reached before every step finished
  // The world's random decisions the minimal run no longer needs, set to zero ("network.loss",
  // "disk.torn_write", "network.latency_spread", ...).
  std::vector<std::string> noise_off;
  toml::table minimal;        // the minimal scenario, as a scenario table
};

// Shrinks the failure of `options.seed` under `scenario` (a parsed scenario table). An error
// when the scenario is invalid or the seed passes.
Result<ShrinkResult> shrink(const toml::table& scenario, std::string_view source_name, const ShrinkOptions& options);

// The seed's [swarm] cluster shape written into the table as the scenario's own (nodes, the
// cluster workload's partitions and replication), its ranges dropped: the same run, since the
// shape is drawn after every other knob and alone decides those three. A shrink starts from it,
// so its smaller-workload step can lower the partitions, which a range would draw again.
toml::table pin_swarm_shape(const toml::table& scenario, const Scenario& parsed, uint64_t seed);

}  // namespace sluice::sim
