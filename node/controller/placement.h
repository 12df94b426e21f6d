// Replica placement (docs/controller.md, "Placement"): pure functions of the metadata. The
// rules, checked by tests/controller/placement_property_test.cc over random histories:
// - no node holds two replicas of one partition;
// - replica counts of the nodes that take replicas differ by at most one once the moves planned
//   here are done (where the replica sets allow it);
// - preferred leaderships spread the same way over new topics;
// - the result depends on the metadata alone: every controller leader plans the same.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "node/base/planted_bug.h"
#include "node/controller/metadata.h"

namespace sluice::controller {

struct PartitionPlacement {
  std::vector<NodeId> replicas;
  NodeId preferred_leader = kNoNode;

  friend bool operator==(const PartitionPlacement&, const PartitionPlacement&) = default;
};

// Places `partitions` new partitions of `replication` replicas on `eligible` nodes. Each takes the
// nodes with the fewest replicas (ties: fewest preferred leaderships, then node order rotated by
// the partition's index so equal nodes take turns); its preferred leader is the one of them with
// the fewest leaderships. `replicas` and `leaders` (per node counts) are updated as it places.
// not_enough_nodes if replication exceeds the eligible nodes.
// Test-only: controller_place_ignores_load ranks by node order alone (node/base/planted_bug.h).
Result<std::vector<PartitionPlacement>> place_partitions(const std::vector<NodeId>& eligible, uint32_t partitions,
                                                         uint32_t replication, std::map<NodeId, uint32_t>& replicas,
                                                         std::map<NodeId, uint32_t>& leaders,
                                                         PlantedBug planted_bug = PlantedBug::none);

struct PlannedMove {
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;

  friend bool operator==(const PlannedMove&, const PlannedMove&) = default;
};

// Up to `moves_max` moves toward a balanced placement, for partitions not moving already:
// 1. drain: every replica on a node of `draining` (dead past its grace, decommissioning), and every
//    replica lost for good (PartitionRecord::lost_on), moves to the eligible node with the fewest
//    replicas that does not hold the partition and did not lose a replica of it;
// 2. balance: while the most loaded eligible node holds two or more replicas more than the least
//    loaded, one replica moves from the first to the second (of a partition the second lacks).
// Counts include the moves in flight and those planned in this call.
std::vector<PlannedMove> plan_moves(const Metadata& metadata, const std::set<NodeId>& draining, size_t moves_max);

// The moves to roll back (abort_move): those whose `adding` node will not catch up (not alive in
// the metadata, or it lost its replica of the partition) while `removing` could take its place
// back (alive or decommissioning, its replica not lost). When `removing` cannot either, the move
// stays: a rollback must bring `removing` back as a voter, which waits for it just as the move
// waits for `adding`, and until the rollback is reported no other move of the partition begins.
// Aborted anyway, a move off a lost node whose `adding` crashed for a moment never ended
// (cluster-swarm-leaders seed 2500). Kept, it finishes once `adding` is back, or is aborted once
// `removing` is back first.
std::vector<AbortMove> plan_aborts(const Metadata& metadata);

// What plan_aborts leaves waiting and a node gone for good (no record, removed, dead past its
// grace, i.e. dead and in `draining`, or its replica of the partition lost) would leave waiting
// forever (docs/controller.md, "Moves", step 7):
// - a rollback whose `removing` is gone for good resumes toward `adding` where `adding` takes
//   part (alive, its replica not lost): the group goes on to the voters the move wanted;
// - a move, rolling back or not, whose `removing` is gone for good and whose `adding` is too (or
//   decommissioning) is redirected to the eligible node with the fewest replicas that may take
//   the partition (none: it waits, as before).
// Each names the attempt it replaces (its generation): the metadata starts the next one, and
// refuses the reports judged against the replaced one.
struct MoveRepairs {
  std::vector<ResumeMove> resumes;
  std::vector<RedirectMove> redirects;

  bool empty() const { return resumes.empty() && redirects.empty(); }
};
MoveRepairs plan_move_repairs(const Metadata& metadata, const std::set<NodeId>& draining);

// Up to `changes_max` preferred-leader changes that even out leaderships: while a node leads two
// or more partitions more than another replica of one of them, that partition's preferred
// leader moves to the less loaded replica. A preferred leader whose replica is lost moves to any
// alive replica.
std::vector<SetPreferredLeader> plan_leaders(const Metadata& metadata, size_t changes_max);

}  // namespace sluice::controller
