// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): instead of running every seed with
// every fault on at the scenario's rates, each seed of a scenario with `[swarm] enabled = true`
// runs a variant of it chosen from the seed alone: some fault kinds switched off, the rest at
// scaled rates. A configuration with fewer kinds of faults reaches states that the full mix
// drowns out (a long run without crashes lets logs grow; no partitions lets a slow disk matter).
//
// The choice is a pure function of (scenario, seed) drawn from a PRNG stream of its own, so
// `run --seed N` replays exactly the variant `sweep` ran for seed N, and the world's own streams
// (derived from the same seed under other names) are untouched by it.
#pragma once

#include <cstdint>
#include <string>

#include "sim/scenario.h"

namespace sluice::sim {

// What one seed chose. A kind whose rate the scenario leaves at 0 stays off whatever is drawn:
// the scenario states the envelope, swarm picks inside it.
struct SwarmChoice {
  static constexpr size_t kFaultKinds = 5;  // crash, partition, clock_jump, bit_flip, disk_full
  static constexpr const char* kFaultKindNames[kFaultKinds] = {"crash", "partition", "clock_jump", "bit_flip",
                                                                "disk_full"};
  bool fault_on[kFaultKinds] = {};
  double fault_factor[kFaultKinds] = {};
  double loss_factor = 1;
  double duplicate_factor = 1;
  double buggify_site_factor = 1;
  double buggify_fire_factor = 1;
  TimingScale timing;
  // Cluster shape: nodes and partitions as drawn (0: not varied); replication as a unit draw in
  // [0, 1), mapped onto its range capped at the variant's nodes by apply_swarm.
  int64_t nodes = 0;
  int64_t partitions = 0;
  double replication_unit = 0;
};

// Draws the knobs for `seed` (every draw made in a fixed order, whatever the scenario).
SwarmChoice choose_swarm(const SwarmConfig& config, uint64_t seed);

// The scenario with `choice` applied.
Scenario apply_swarm(const Scenario& scenario, const SwarmChoice& choice);

// The scenario seed `seed` runs: `scenario` itself without [swarm], else its variant for the seed.
Scenario swarm_variant(const Scenario& scenario, uint64_t seed);

// One line naming the knobs a variant runs with, e.g. "crash=x1.37 partition=off ... loss=0.0041
// duplicate=0.0062 buggify_site=0.42 buggify_fire=0.018", then "nodes=4 partitions=2 replication=3"
// for each shape range the scenario sets; empty without [swarm].
std::string describe_swarm(const Scenario& variant);

}  // namespace sluice::sim
