// RapidCheck: placement keeps its rules over any history of topic creations and deletions, node
// joins, deaths, returns and decommissions, with the moves and preferred-leader changes the
// planner asks for carried out in between (docs/controller.md, "Placement"):
// - no node holds two replicas of a partition, and every partition has its replication factor;
// - a replica stays on a dead or decommissioning node only when every live node already holds
//   that partition;
// - replica counts of the live nodes differ by at most one;
// - creating a topic on a balanced cluster leaves it balanced (before any move);
// - a preferred leader is a replica and leads at most one partition more than any other live
//   replica of it.
// The planted bug controller_place_ignores_load must make the property fail.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "node/controller/metadata.h"
#include "node/controller/placement.h"
#include "tests/testing/rapidcheck_floor.h"

namespace sluice::controller {
namespace {

std::set<NodeId> nodes_in(const Metadata& metadata, std::initializer_list<NodeState> states) {
  std::set<NodeId> found;
  for (const auto& [id, node] : metadata.nodes()) {
    if (std::find(states.begin(), states.end(), node.state) != states.end()) found.insert(id);
  }
  return found;
}

// Replica counts of the live nodes differ by at most one (nodes without replicas count as 0).
bool balanced(const Metadata& metadata) {
  const std::vector<NodeId> eligible = metadata.eligible_nodes();
  if (eligible.empty()) return true;
  const std::map<NodeId, uint32_t> counts = metadata.replica_counts();
  uint32_t low = UINT32_MAX, high = 0;
  for (NodeId node : eligible) {
    const uint32_t count = counts.count(node) != 0 ? counts.at(node) : 0;
    low = std::min(low, count);
    high = std::max(high, count);
  }
  return high <= low + 1;
}

// Carries out what the planner asks for until it asks for nothing more; now and then a move is
// aborted and rolled back instead (its target died meanwhile), and the planner must plan anew, or
// the rollback is resumed (its source went for good) and finished as the next attempt.
void settle(Metadata& metadata) {
  for (int round = 0; round < 10'000; ++round) {
    const std::set<NodeId> draining = nodes_in(metadata, {NodeState::dead, NodeState::decommissioning});
    const std::vector<PlannedMove> moves = plan_moves(metadata, draining, 3);
    for (const PlannedMove& planned : moves) {
      RC_ASSERT(metadata.apply(BeginMove{planned.topic, planned.partition, planned.move}).ok());
      if (*rc::gen::inRange(0, 8) == 0) {
        RC_ASSERT(metadata.apply(AbortMove{planned.topic, planned.partition, planned.move}).ok());
        RC_ASSERT(metadata.apply(FinishMove{planned.topic, planned.partition, planned.move}).code() == Errc::conflict);
        if (*rc::gen::inRange(0, 2) == 0) {
          RC_ASSERT(metadata.apply(FinishRollback{planned.topic, planned.partition, planned.move}).ok());
          continue;
        }
        // Its source went for good meanwhile: resumed as the next attempt, which the first
        // attempt's report cannot finish.
        RC_ASSERT(metadata.apply(ResumeMove{planned.topic, planned.partition, planned.move}).ok());
        RC_ASSERT(metadata.apply(FinishMove{planned.topic, planned.partition, planned.move}).code() == Errc::conflict);
        Move resumed = planned.move;
        ++resumed.generation;
        RC_ASSERT(metadata.apply(FinishMove{planned.topic, planned.partition, resumed}).ok());
        continue;
      }
      RC_ASSERT(metadata.apply(FinishMove{planned.topic, planned.partition, planned.move}).ok());
    }
    const std::vector<SetPreferredLeader> leaders = plan_leaders(metadata, 8);
    for (const SetPreferredLeader& change : leaders) RC_ASSERT(metadata.apply(change).ok());
    if (moves.empty() && leaders.empty()) return;
  }
  RC_FAIL("the planner never settles");
}

void check_rules(const Metadata& metadata) {
  const std::vector<NodeId> eligible = metadata.eligible_nodes();
  const std::map<NodeId, uint32_t> leaders = metadata.leader_counts();
  auto leads = [&](NodeId node) { return leaders.count(node) != 0 ? leaders.at(node) : 0u; };
  for (const auto& [name, topic] : metadata.topics()) {
    for (const PartitionRecord& partition : topic.partitions) {
      RC_ASSERT(!partition.move);
      RC_ASSERT(partition.replicas.size() == topic.replication);
      const std::set<NodeId> distinct(partition.replicas.begin(), partition.replicas.end());
      RC_ASSERT(distinct.size() == partition.replicas.size());
      RC_ASSERT(distinct.count(partition.preferred_leader) == 1u);
      const bool all_live_hold = std::all_of(eligible.begin(), eligible.end(), [&](NodeId n) { return distinct.count(n) != 0; });
      for (NodeId node : partition.replicas) {
        const bool live = metadata.nodes().at(node).state == NodeState::alive;
        RC_ASSERT(live || all_live_hold);
        if (live) RC_ASSERT(leads(partition.preferred_leader) <= leads(node) + 1);
      }
    }
  }
  RC_ASSERT(balanced(metadata));
}

void run_history(PlantedBug planted_bug) {
  Metadata metadata(MetadataLimits{}, planted_bug);
  NodeId next_node = 1;
  for (int i = 0, n = *rc::gen::inRange(1, 6); i < n; ++i) RC_ASSERT(metadata.apply(RegisterNode{next_node++, {}}).ok());
  int next_topic = 0;
  const int steps = *rc::gen::inRange(1, 30);
  for (int step = 0; step < steps; ++step) {
    const int choice = *rc::gen::inRange(0, 100);
    const std::vector<NodeId> alive = metadata.eligible_nodes();
    if (choice < 40) {
      const bool was_balanced = balanced(metadata);
      const CreateTopic create{"t" + std::to_string(next_topic++), *rc::gen::inRange<uint32_t>(1, 9),
                               *rc::gen::inRange<uint32_t>(1, 4), {}};
      Result<Applied> created = metadata.apply(create);
      RC_ASSERT(created.ok() || (created.code() == Errc::not_enough_nodes && create.replication > alive.size()));
      if (created.ok() && was_balanced) RC_ASSERT(balanced(metadata));
    } else if (choice < 50 && !metadata.topics().empty()) {
      const size_t pick = *rc::gen::inRange<size_t>(0, metadata.topics().size());
      RC_ASSERT(metadata.apply(DeleteTopic{std::next(metadata.topics().begin(), static_cast<std::ptrdiff_t>(pick))->first}).ok());
    } else if (choice < 65) {
      RC_ASSERT(metadata.apply(RegisterNode{next_node++, {}}).ok());
    } else if (choice < 80 && alive.size() > 1) {
      const NodeId node = alive[*rc::gen::inRange<size_t>(0, alive.size())];
      RC_ASSERT(metadata.apply(SetNodeState{node, NodeState::dead}).ok());
    } else if (choice < 90) {
      const std::set<NodeId> dead = nodes_in(metadata, {NodeState::dead});
      if (!dead.empty()) RC_ASSERT(metadata.apply(RegisterNode{*dead.begin(), {}}).ok());
    } else if (alive.size() > 1) {
      const NodeId node = alive[*rc::gen::inRange<size_t>(0, alive.size())];
      RC_ASSERT(metadata.apply(DecommissionNode{node}).ok());
    }
    settle(metadata);
    check_rules(metadata);
  }
}

TEST(PlacementProperty, RulesHoldOverAnyHistory) {
  testing::check_at_least(300, [] { run_history(PlantedBug::none); });
}

TEST(PlacementProperty, PlantedLoadBlindPlacementIsCaught) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = 300;
  params.disableShrinking = true;
  rc::detail::TestMetadata metadata;
  metadata.id = "PlacementProperty/Planted";
  const rc::detail::TestResult result =
      rc::detail::checkTestable([] { run_history(PlantedBug::controller_place_ignores_load); }, metadata, params);
  EXPECT_TRUE(result.template is<rc::detail::FailureResult>()) << "the planted bug went unnoticed";
}

}  // namespace
}  // namespace sluice::controller
