#include "node/controller/moves.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "node/base/coverage.h"

namespace sluice::controller {
namespace {

std::set<NodeId> minus(const std::set<NodeId>& a, const std::set<NodeId>& b) {
  std::set<NodeId> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

uint64_t match_of(const GroupView& group, NodeId node) {
  auto it = group.match.find(node);
  return it == group.match.end() ? 0 : it->second;
}

// Within `lag` entries of the leader's log, and holding the entry of the current membership (the
// one that made it a learner, when it is one): a lag bound alone let a learner that had received
// nothing (match 0) pass while the leader's whole log was shorter than the bound, and a joint
// change then counted on a voter with an empty log (cluster-swarm seed 1425: the move was rolled
// back, and leaving the joint configuration needed that voter, which had never caught up).
bool caught_up(const GroupView& group, NodeId node, uint64_t lag) {
  const uint64_t match = match_of(group, node);
  return match >= group.conf_index && match + lag >= group.last_index;
}

ConfStep wait(std::string why) { return ConfStep{ConfStepKind::wait, kNoNode, {}, {}, std::move(why)}; }

}  // namespace

std::string_view to_string(ConfStepKind kind) {
  switch (kind) {
    case ConfStepKind::wait: return "wait";
    case ConfStepKind::add_learner: return "add_learner";
    case ConfStepKind::promote: return "promote";
    case ConfStepKind::remove_learner: return "remove_learner";
    case ConfStepKind::done: return "done";
  }
  return "unknown";
}

std::set<NodeId> wanted_voters(const PartitionRecord& partition) {
  std::set<NodeId> voters(partition.replicas.begin(), partition.replicas.end());
  if (partition.move && !partition.move_rolling_back) {
    voters.erase(partition.move->removing);
    voters.insert(partition.move->adding);
  }
  return voters;
}

bool may_delete_replica(const ReplicaView& replica) { return !(replica.member && replica.follows_leader); }

bool ready_to_take_over(const GroupView& group, NodeId target, uint64_t catch_up_lag_entries_max) {
  return group.voters.count(target) > 0 && group.active.count(target) > 0 && caught_up(group, target, catch_up_lag_entries_max);
}

VoterSwap plan_voter_swap(const GroupView& group, NodeId leader, const std::set<NodeId>& unfit, const std::set<NodeId>& fit,
                          uint64_t catch_up_lag_entries_max) {
  VoterSwap swap;
  if (group.change_pending || group.joint) return swap;
  std::vector<NodeId> leaving;
  for (NodeId voter : group.voters) {
    if (voter != leader && unfit.count(voter) > 0) leaving.push_back(voter);
  }
  auto next_leaving = leaving.begin();
  for (NodeId learner : group.learners) {
    if (next_leaving == leaving.end()) break;
    const bool ready = fit.count(learner) > 0 && unfit.count(learner) == 0 && group.active.count(learner) > 0 &&
                       caught_up(group, learner, catch_up_lag_entries_max);
    if (!ready) continue;
    swap.promote.insert(learner);
    swap.demote.insert(*next_leaving++);
  }
  return swap;
}

ConfStep next_conf_step(const GroupView& group, const std::set<NodeId>& wanted, uint64_t catch_up_lag_entries_max) {
  SLUICE_ASSERT(!wanted.empty());
  // The core takes one change at a time and leaves a joint configuration by itself.
  if (group.change_pending) return wait("a membership change is not applied yet");
  if (group.joint) return wait("the joint configuration is being left");
  const std::set<NodeId> joining = minus(wanted, group.voters);
  for (NodeId node : joining) {
    if (group.learners.count(node) == 0) return ConfStep{ConfStepKind::add_learner, node, {}, {}, {}};
  }
  if (!joining.empty()) {
    for (NodeId node : joining) {
      if (!caught_up(group, node, catch_up_lag_entries_max)) {
        return wait("learner " + std::to_string(node) + " has " + std::to_string(match_of(group, node)) + " of " +
                    std::to_string(group.last_index));
      }
      // Progress the leader last heard of an election timeout ago may be a replica that is gone:
      // its node may have deleted it on a metadata copy that no longer placed it there
      // (may_delete_replica holds off only while the replica hears from a leader), and a joint
      // change would then count on a voter that comes back empty with its vote withheld.
      if (group.active.count(node) == 0) {
        SLUICE_COVER("controller.moves.promotion_waits_for_quiet_learner");
        return wait("learner " + std::to_string(node) + " has not been heard from lately");
      }
    }
    return ConfStep{ConfStepKind::promote, kNoNode, joining, minus(group.voters, wanted), {}};
  }
  // Every wanted node votes; voters beyond them leave through the same joint change.
  const std::set<NodeId> leaving = minus(group.voters, wanted);
  if (!leaving.empty()) return ConfStep{ConfStepKind::promote, kNoNode, {}, leaving, {}};
  const std::set<NodeId> extra_learners = minus(group.learners, wanted);
  if (!extra_learners.empty()) return ConfStep{ConfStepKind::remove_learner, *extra_learners.begin(), {}, {}, {}};
  return ConfStep{ConfStepKind::done, kNoNode, {}, {}, {}};
}

}  // namespace sluice::controller
