// The fault injector: applies a scenario's explicit fault events at their times, runs its random
// fault processes (Poisson, per kind) until faults_stop_s, and then heals everything so liveness
// can be judged: no partitions, every node up, disks healthy, the network back to the scenario's
// baseline.
//
// Randomness: each explicit event draws from a stream of its own (the world's "fault-event"
// stream for its position), each random process from the stream of its kind; so removing one event
// leaves every other fault exactly as it was.
//
// Every fault it applies is also recorded as a concrete FaultEvent (random choices resolved: the
// nodes an isolate or a random partition picked, the node a random crash hit), so a run can be
// re-executed with random faults off and the record as its explicit events (sim/shrink.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "sim/checkers/raft_safety.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace sluice::sim {

// One fault as applied. `unit` groups a fault with the event that ends it (a random crash with its
// restart, a random partition with its heal, a disk_full with its disk_free): shrinking removes
// a unit whole, never half of it.
struct AppliedFault {
  FaultEvent event;
  uint32_t unit = 0;
};

class FaultInjector {
 public:
  // `on_bit_flip(node)` is told of every bit flip that landed (so durability checks can tell
  // injected corruption from lost data). `baseline` is the network the run heals back to.
  // `group_leaders()` names, per Raft group, the node leading it as the workloads last saw it
  // (the targets of the leader faults).
  FaultInjector(World& world, const Scenario& scenario, NetworkConfig baseline, std::function<void(NodeIndex)> on_bit_flip,
                std::function<std::vector<NodeIndex>()> group_leaders);

  void schedule_all();
  // A workload saw `node` at a moment of its term leading a group: elected
  // (new_leader_isolate_probability), first commit (leader_first_commit_isolate_probability).
  void leader_moment(NodeIndex node, checkers::LeaderMoment moment);
  uint64_t injected() const { return injected_; }
  // In the order applied (so by time). Excludes the heal at faults_stop_s: every run does that.
  const std::vector<AppliedFault>& applied() const { return applied_; }

 private:
  std::vector<NodeIndex> all_nodes() const;
  NodeIndex random_node(Prng& prng) const;
  std::vector<NodeIndex> random_group(Prng& prng, size_t size) const;
  void apply(const FaultEvent& event, Prng& prng);
  void apply_to_nodes(const FaultEvent& event, Prng& prng);
  void flip_bit(NodeIndex node, Prng& prng);
  void at(int64_t at_ns, const char* kind, std::function<void()> action) {
    world_.schedule(at_ns, -1, kind, 0, std::move(action));
  }
  // A Poisson process of `rate_per_min` that runs `inject(prng)` until faults stop, with the
  // world's stream of its kind.
  struct Process {
    double rate_per_min = 0;
    const char* kind = "";
    std::function<void(Prng&)> inject;
    Prng prng;
  };
  void every(double rate_per_min, const char* kind, std::function<void(Prng&)> inject);
  void schedule_next(Process& process);
  void inject_crash(Prng& prng);
  void crash_for_a_while(NodeIndex node, Prng& prng);
  void inject_partition(Prng& prng);
  void heal_after_a_while(uint32_t unit, Prng& prng);
  std::optional<NodeIndex> random_leader(Prng& prng) const;
  void inject_leader_crash(Prng& prng);
  void inject_leader_isolate(Prng& prng);
  void isolate_for_a_while(NodeIndex node, Prng& prng, LeaderMomentTrigger moment = LeaderMomentTrigger::none);
  void fire_moment_event(NodeIndex node, LeaderMomentTrigger moment);
  void inject_power_loss(Prng& prng);
  void inject_slow_node(Prng& prng);
  NodeIndex bit_flip_target(Prng& prng);
  void stop_faults();
  // For the timeline (World::timeline()): a fault mark on `lane` (-1: the network or every node),
  // its label built only when there is a timeline.
  template <typename Label>
  void note(NodeIndex lane, Label label) const {
    if (Timeline* timeline = world_.timeline()) timeline->mark(world_.now_ns(), lane, MarkKind::fault, label());
  }
  std::string hosts(const std::vector<NodeIndex>& nodes) const;
  std::string describe(const FaultEvent& event) const;
  uint32_t new_unit() { return next_unit_++; }
  void record(FaultEvent event, uint32_t unit);
  void record(FaultKind kind, std::vector<NodeIndex> nodes, uint32_t unit);

  World& world_;
  const Scenario& scenario_;
  NetworkConfig baseline_;
  std::function<void(NodeIndex)> on_bit_flip_;
  std::function<std::vector<NodeIndex>()> group_leaders_;
  Prng new_leader_prng_;    // the world's "fault.new_leader_isolate" stream
  Prng first_commit_prng_;  // the world's "fault.leader_first_commit_isolate" stream
  std::vector<Prng> event_streams_;  // one per explicit event
  std::vector<size_t> moment_events_;  // explicit events waiting for a leader moment, not yet struck
  std::vector<NodeIndex> bit_flip_nodes_;  // bit_flip_nodes_max > 0: the only nodes flips hit
  std::vector<std::unique_ptr<Process>> processes_;  // stable addresses: scheduled events refer to them
  uint64_t injected_ = 0;
  std::vector<AppliedFault> applied_;
  uint32_t next_unit_ = 0;
};

}  // namespace sluice::sim
