// Replica moves inside a partition's Raft group (docs/controller.md, "Moves"): a pure function
// that, given the group's membership as its leader sees it and the voters the metadata wants,
// names the one membership change to make next. The leader of the group calls it every round and
// proposes what it says; being level-triggered, a new leader (of the group or of the controller)
// continues where the last one stopped, and a move the controller rolled back is undone the same
// way.
//
// The steps, one change at a time:
//   1. every wanted voter the group lacks joins as a learner;
//   2. once each of those learners holds the membership's entry and is within
//      `catch_up_lag_entries_max` of the leader's log, one joint change promotes them and removes
//      the voters no longer wanted (left automatically);
//   3. learners not wanted are removed.
// The group never loses its quorum: the outgoing voters keep deciding until the incoming ones
// (caught up) decide with them, and nothing is promoted that has not caught up.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "node/base/ids.h"
#include "node/controller/metadata.h"

namespace sluice::controller {

// A partition group's membership as its leader sees it.
struct GroupView {
  std::set<NodeId> voters;     // incoming (or only) voters
  std::set<NodeId> learners;   // learners, and outgoing voters that become learners on leaving joint
  bool joint = false;          // a joint configuration not left yet
  bool change_pending = false; // a membership change proposed and not applied yet
  std::map<NodeId, uint64_t> match;  // the leader's progress: highest index known on each node
  uint64_t last_index = 0;           // the leader's last log index
  uint64_t conf_index = 0;           // the index of the entry the membership comes from (raft::ConfState::index)
  std::set<NodeId> active;           // nodes the leader heard from lately (raft::Progress::recent_active)
};

enum class ConfStepKind : uint8_t {
  wait,            // a change is under way, or a learner catches up: nothing to propose now
  add_learner,     // `node` joins as a learner
  promote,         // one joint change: `add_voters` become voters, `remove_voters` leave
  remove_learner,  // `node` leaves
  done,            // the voters are the wanted ones and no unwanted learner is left
};
std::string_view to_string(ConfStepKind kind);

struct ConfStep {
  ConfStepKind kind = ConfStepKind::wait;
  NodeId node = kNoNode;  // add_learner, remove_learner
  std::set<NodeId> add_voters;     // promote
  std::set<NodeId> remove_voters;  // promote
  std::string why;                 // wait: what it waits for

  friend bool operator==(const ConfStep&, const ConfStep&) = default;
};

// The next change that brings `group` to `wanted_voters` (non-empty).
ConfStep next_conf_step(const GroupView& group, const std::set<NodeId>& wanted_voters, uint64_t catch_up_lag_entries_max);

// Whether the leader should hand leadership to `target` now: a voter it heard from lately whose
// log is within `catch_up_lag_entries_max` of its own. A transfer holds the leader's proposals
// until the target takes over or an election timeout passes, and the reconciler asks again every
// round: to a target that cannot take over soon (its node up but its replica not open, a
// partitioned node, a replica still re-learning its log) it would stall the partition's produces
// for as long as that lasts (cluster-corruption-minority seed 20).
bool ready_to_take_over(const GroupView& group, NodeId target, uint64_t catch_up_lag_entries_max);

// The metadata group's voter replacement (docs/controller.md, "Controller voters"): every voter in
// `unfit` (dead past the grace, decommissioning, removed) is swapped for a `fit` learner (alive in
// the metadata) that the leader heard from lately and that is within `catch_up_lag_entries_max`
// of its log, lowest id first, in one joint change that makes it a voter and demotes the unfit
// voter to a learner (it still follows the metadata, and a node that comes back keeps its copy).
// The voter count never drops: a voter with no replacement at hand stays. `leader` is never
// swapped (it hands over leadership first). Empty when there is nothing to do or a membership
// change is under way.
struct VoterSwap {
  std::set<NodeId> promote;  // learners that become voters
  std::set<NodeId> demote;   // voters that become learners

  bool empty() const { return promote.empty(); }
  friend bool operator==(const VoterSwap&, const VoterSwap&) = default;
};
VoterSwap plan_voter_swap(const GroupView& group, NodeId leader, const std::set<NodeId>& unfit, const std::set<NodeId>& fit,
                          uint64_t catch_up_lag_entries_max);

// A replica's own view of its group, for the reconciler deciding whether a replica its metadata
// copy no longer places on this node may lose its data now (docs/controller.md, "Moves", step 5).
struct ReplicaView {
  bool member = false;          // its membership lists this node: voter (either half) or learner
  bool follows_leader = false;  // it knows a leader and heard from it within an election timeout
};

// False while the group evidently counts on the replica: its membership lists it and a leader
// keeps replicating to it. The metadata copy that unplaces it is then behind the group's leader,
// which acts on a newer one: a rollback that ended and a move that began again toward this node
// (finish_rollback, then begin_move of the same target) unplace it for a moment, and the leader,
// having added the old replica back as a learner and seen it catch up, may promote it in a joint
// change at any time. Deleted then, the replica comes back empty with its vote withheld (its
// tombstone), the incoming half needs that vote, and the group never elects a leader again
// (cluster-swarm seed 40 with an extra read at log recovery). A replica the group removed hears
// from no leader once the removal is applied there, so its deletion waits an election timeout at
// most.
bool may_delete_replica(const ReplicaView& replica);

// The voters the metadata wants a partition's group to have: its replicas, with a move in flight
// already done (the removing node replaced by the adding one) unless it is rolling back.
std::set<NodeId> wanted_voters(const PartitionRecord& partition);

}  // namespace sluice::controller
