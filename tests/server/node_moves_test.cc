// Replica moves on a simulated 5-node cluster of whole nodes (docs/controller.md, "Moves"): a node
// dead past node_dead_grace has its replicas moved to live nodes, which catch up; a joining node
// receives a share; the controller leader crashing in the middle of a move does not stop it. In
// each, no acknowledged record is lost: every replica the metadata names holds all of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "node/controller/moves.h"
#include "node/controller/reconciler.h"
#include "tests/server/controller_rig.h"

namespace sluice::server {
namespace {

using testing::index_of;
using testing::node_id;

constexpr size_t kNodes = 5;
constexpr uint32_t kPartitions = 5;
constexpr uint64_t kRecordsPerPartition = 20;
constexpr uint64_t kSeeds[] = {3, 11};

testing::RigOptions five_nodes(size_t started) {
  testing::RigOptions options;
  options.nodes = kNodes;
  options.voters = 3;
  options.started = started;
  options.node_dead_grace = std::chrono::seconds(1);
  return options;
}

struct MovesRig : testing::Rig {
  MovesRig(uint64_t seed, size_t started) : testing::Rig(seed, five_nodes(started)) {}

  // The metadata as some running node holds it (the controller leader's when there is one).
  const controller::Metadata* metadata() {
    std::optional<sim::NodeIndex> leader = controller_leader();
    for (size_t i = 0; i < nodes(); ++i) {
      const auto index = leader.value_or(static_cast<sim::NodeIndex>(i));
      if (controller(index) != nullptr) return &controller(index)->metadata();
    }
    return nullptr;
  }
  TopicId create(uint32_t partitions) {
    const controller::Result<controller::Applied> created = submit(controller::CreateTopic{"events", partitions, 3, {}});
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return created.ok() ? created->topic : 0;
  }
  // kRecordsPerPartition acknowledged records on each partition.
  void fill(TopicId topic) {
    for (uint32_t p = 0; p < kPartitions; ++p) {
      for (uint64_t r = 0; r < kRecordsPerPartition; ++r) {
        EXPECT_TRUE(produce_one(PartitionId{topic, p}, "record-" + std::to_string(r))) << "partition " << p << " record " << r;
      }
    }
  }
  // Every partition settled (partition_settled).
  bool settled(TopicId topic, std::string* why) {
    const controller::Metadata* m = metadata();
    if (m == nullptr || m->topic_by_id(topic) == nullptr) return *why = "no metadata", false;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      if (!partition_settled(PartitionId{topic, p}, why)) return *why = "partition " + std::to_string(p) + ": " + *why, false;
    }
    return true;
  }
  // No move in flight, every replica on a running node, the group's voters (as its leader holds
  // them) the replicas, and every replica holds every acknowledged record.
  bool partition_settled(PartitionId id, std::string* why) {
    const controller::PartitionRecord& record = *metadata()->partition(id);
    if (record.move) return *why = "moving (generation " + std::to_string(record.move->generation) + ")", false;
    std::optional<sim::NodeIndex> leader = partition_leader(id);
    if (!leader) return *why = "no leader", false;
    const raft::RawNode* group = node(*leader)->raft()->group(record.group);
    const std::set<NodeId> replicas(record.replicas.begin(), record.replicas.end());
    if (group->raft().conf_state().voters != replicas || group->raft().conf_state().joint()) {
      return *why = "its voters differ from its replicas", false;
    }
    for (NodeId replica_node : record.replicas) {
      Node* holder = node(index_of(replica_node));
      const partition::Replica* replica = holder == nullptr ? nullptr : holder->partitions()->replica(id);
      if (replica == nullptr || replica->state().end_offset() < kRecordsPerPartition) {
        return *why = "node " + std::to_string(replica_node) + " lacks records", false;
      }
    }
    return true;
  }
  bool wait_settled(TopicId topic, int64_t ms) {
    std::string why;
    const bool ok = run_until([&] { return settled(topic, &why); }, ms);
    EXPECT_TRUE(ok) << why;
    return ok;
  }
  std::map<NodeId, uint32_t> replica_counts() { return metadata()->replica_counts(); }
  // Every started node alive, the topic created and filled: where each test starts.
  TopicId filled_topic() {
    wait_all_alive();
    const TopicId topic = create(kPartitions);
    fill(topic);
    return topic;
  }
};

bool holds_any(const controller::Metadata& metadata, NodeId node) {
  const std::map<NodeId, uint32_t> counts = metadata.replica_counts();
  auto it = counts.find(node);
  return it != counts.end() && it->second > 0;
}

// A non-voter holding replicas dies; after the grace its replicas move to the others.
void dead_node_moves(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const TopicId topic = rig.filled_topic();
  const NodeId victim = 5;
  ASSERT_TRUE(holds_any(*rig.metadata(), victim));
  rig.world.crash(index_of(victim));
  ASSERT_TRUE(rig.wait_for(victim, controller::NodeState::dead, 20'000));
  const bool drained = rig.run_until([&] { return !holds_any(*rig.metadata(), victim); }, 30'000);
  ASSERT_TRUE(drained) << "node 5 kept replicas";
  rig.wait_settled(topic, 30'000);
  // Back, it takes a share again; of the replica directories it had, only those placed there
  // again remain (the rest moved away while it was down).
  rig.world.start(index_of(victim));
  ASSERT_TRUE(rig.run_until([&] { return holds_any(*rig.metadata(), victim); }, 30'000)) << "node 5 got no replica back";
  rig.wait_settled(topic, 30'000);
  auto dirs_match_placement = [&] {
    std::set<std::string> placed;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const std::vector<NodeId>& replicas = rig.metadata()->partition(PartitionId{topic, p})->replicas;
      if (std::find(replicas.begin(), replicas.end(), victim) != replicas.end()) placed.insert(controller::replica_dir({topic, p}));
    }
    std::set<std::string> on_disk;
    for (const std::string& name : rig.world.disk(index_of(victim)).peek_dir("").value_or(std::vector<std::string>{})) {
      // A moved-away replica leaves a tombstone beside its deleted directory (docs/partition.md).
      if (name.starts_with("partition-") && !name.ends_with(".tombstone")) on_disk.insert(name);
    }
    return placed == on_disk;
  };
  EXPECT_TRUE(rig.run_until(dirs_match_placement, 10'000)) << "node 5 kept data of partitions moved away";
}

TEST(NodeMoves, ADeadNodesReplicasMoveToLiveNodesAndCatchUp) {
  for (uint64_t seed : kSeeds) dead_node_moves(seed);
}

// Four nodes hold the topic; a fifth joins and receives a share (counts differ by at most one).
void joining_node_gets_share(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes - 1);
  const TopicId topic = rig.filled_topic();
  EXPECT_FALSE(holds_any(*rig.metadata(), 5));
  rig.world.start(index_of(5));
  ASSERT_TRUE(rig.wait_for(5, controller::NodeState::alive, 20'000));
  ASSERT_TRUE(rig.run_until([&] { return holds_any(*rig.metadata(), 5); }, 30'000)) << "node 5 got no replica";
  rig.wait_settled(topic, 30'000);
  uint32_t low = UINT32_MAX, high = 0;
  for (size_t i = 0; i < kNodes; ++i) {
    const uint32_t count = rig.replica_counts()[node_id(static_cast<sim::NodeIndex>(i))];
    low = std::min(low, count);
    high = std::max(high, count);
  }
  EXPECT_LE(high, low + 1) << "replica counts unbalanced after the join";
}

TEST(NodeMoves, AJoiningNodeReceivesAShare) {
  for (uint64_t seed : kSeeds) joining_node_gets_share(seed);
}

// A node dies; once a move is in flight the controller leader crashes too and comes back later.
// The moves finish (under the next leader) and no acknowledged record is lost.
void controller_crash_mid_move(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const TopicId topic = rig.filled_topic();
  rig.world.crash(index_of(5));
  auto moving = [&] {
    const controller::Metadata* m = rig.metadata();
    for (uint32_t p = 0; m != nullptr && p < kPartitions; ++p) {
      if (m->partition(PartitionId{topic, p})->move) return true;
    }
    return false;
  };
  ASSERT_TRUE(rig.run_until(moving, 30'000)) << "no move began";
  const std::optional<sim::NodeIndex> leader = rig.controller_leader();
  ASSERT_TRUE(leader.has_value());
  rig.world.crash(*leader);
  rig.run_ms(500);  // below the grace: the crashed leader's replicas are not moved meanwhile
  rig.world.start(*leader);
  ASSERT_TRUE(rig.run_until([&] { return !holds_any(*rig.metadata(), 5); }, 30'000)) << "node 5 kept replicas";
  rig.wait_settled(topic, 30'000);
}

TEST(NodeMoves, AControllerLeaderCrashMidMoveDoesNotStopIt) {
  for (uint64_t seed : kSeeds) controller_crash_mid_move(seed);
}

// A decommissioned node is drained (its replicas move to the others) and then removed for good.
void decommission_drains(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const TopicId topic = rig.filled_topic();
  const NodeId leaving = 4;
  ASSERT_TRUE(holds_any(*rig.metadata(), leaving));
  const controller::Result<controller::Applied> decommissioned = rig.submit(controller::DecommissionNode{leaving});
  ASSERT_TRUE(decommissioned.ok()) << decommissioned.status().to_string();
  EXPECT_TRUE(rig.wait_for(leaving, controller::NodeState::removed, 30'000)) << "node 4 was never removed";
  EXPECT_FALSE(holds_any(*rig.metadata(), leaving));
  rig.wait_settled(topic, 30'000);
  // Its replicas are gone from its disk too.
  auto holds_none_here = [&] {
    for (uint32_t p = 0; p < kPartitions; ++p) {
      if (rig.node(index_of(leaving))->partitions()->replica(PartitionId{topic, p}) != nullptr) return false;
    }
    return true;
  };
  EXPECT_TRUE(rig.run_until(holds_none_here, 5000)) << "node 4 still hosts a replica";
}

TEST(NodeMoves, ADecommissionedNodeIsDrainedAndRemoved) {
  for (uint64_t seed : kSeeds) decommission_drains(seed);
}

// Both copies of one replica's raft-state damaged while its node is down (docs/controller.md,
// "Lost replicas"): back at once (before any dead grace), the node reports that replica lost; the
// controller moves it to another node, and the node keeps its other replicas. (That no move brings
// it back is Metadata.ALostReplicaMovesAwayAndItsNodeNeverTakesThePartitionAgain.) Fails with
// the report switched off.
void lost_replica_moves(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const TopicId topic = rig.filled_topic();
  const PartitionId lost{topic, 0};
  const std::optional<sim::NodeIndex> controller_leader = rig.controller_leader();
  NodeId victim = kNoNode;
  for (NodeId id : rig.metadata()->partition(lost)->replicas) {
    if (!controller_leader || index_of(id) != *controller_leader) victim = id;
  }
  ASSERT_NE(victim, kNoNode);
  auto held_by_victim = [&] {
    std::set<uint32_t> held;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const std::vector<NodeId>& replicas = rig.metadata()->partition(PartitionId{topic, p})->replicas;
      if (std::find(replicas.begin(), replicas.end(), victim) != replicas.end()) held.insert(p);
    }
    return held;
  };
  std::set<uint32_t> kept = held_by_victim();
  ASSERT_GE(kept.size(), 2u) << "the victim should hold another replica";
  kept.erase(lost.index);
  rig.world.crash(index_of(victim));
  const std::string state_file = controller::replica_dir(lost) + "/raft-state";
  const uint64_t copy_bytes = rig.world.disk(index_of(victim)).peek_file(state_file).value_or(Bytes{}).size() / 2;
  ASSERT_GT(copy_bytes, 20u);
  ASSERT_TRUE(rig.world.disk(index_of(victim)).flip_bit(state_file, 20, 3));
  ASSERT_TRUE(rig.world.disk(index_of(victim)).flip_bit(state_file, copy_bytes + 20, 3));
  rig.world.start(index_of(victim));
  auto moved_away = [&] {
    const controller::PartitionRecord& record = *rig.metadata()->partition(lost);
    return record.lost_on.count(victim) != 0 && !record.move &&
           std::find(record.replicas.begin(), record.replicas.end(), victim) == record.replicas.end();
  };
  ASSERT_TRUE(rig.run_until(moved_away, 30'000)) << "node " << victim << "'s lost replica was never moved away";
  rig.wait_settled(topic, 30'000);
  const std::set<uint32_t> after_move = held_by_victim();
  EXPECT_TRUE(std::includes(after_move.begin(), after_move.end(), kept.begin(), kept.end())) << "only the lost replica moves";
  EXPECT_TRUE(rig.world.is_up(index_of(victim)));
}

TEST(NodeMoves, AReplicaWhoseStateIsLostMovesAwayForGood) {
  for (uint64_t seed : kSeeds) lost_replica_moves(seed);
}

// A partition whose replicas hold exactly one of nodes 4 and 5, which do not vote in the metadata
// group, so both may go down for good without stopping the controller: the move tests' start.
struct LearnerNodePartition {
  PartitionId id;
  controller::PartitionRecord before;
  NodeId holder = kNoNode;  // 4 or 5: the one that holds a replica
  NodeId other = kNoNode;   // the other one
};
std::optional<LearnerNodePartition> partition_with_one_learner_node(MovesRig& rig, TopicId topic) {
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const controller::PartitionRecord& record = *rig.metadata()->partition(PartitionId{topic, p});
    const bool on_4 = controller::hosts_replica(record, 4);
    if (on_4 == controller::hosts_replica(record, 5)) continue;
    return LearnerNodePartition{PartitionId{topic, p}, record, on_4 ? NodeId{4} : NodeId{5}, on_4 ? NodeId{5} : NodeId{4}};
  }
  return std::nullopt;
}

// Begins the partition's move from `removing` to `adding` as its next attempt; nullopt if refused.
std::optional<controller::Move> begin_move(MovesRig& rig, const LearnerNodePartition& partition, NodeId adding, NodeId removing) {
  const controller::Move move{adding, removing, partition.before.move_generation + 1};
  const controller::Result<controller::Applied> begun = rig.submit(controller::BeginMove{partition.id.topic, partition.id.index, move});
  EXPECT_TRUE(begun.ok()) << begun.status().to_string();
  return begun.ok() ? std::optional(move) : std::nullopt;
}

// Settled (MovesRig::partition_settled) with `wanted` among the replicas.
bool settled_with(MovesRig& rig, PartitionId id, NodeId wanted, std::string* why) {
  const std::vector<NodeId>& replicas = rig.metadata()->partition(id)->replicas;
  if (std::find(replicas.begin(), replicas.end(), wanted) == replicas.end()) return *why = "node " + std::to_string(wanted) + " is no replica", false;
  return rig.partition_settled(id, why);
}

// A move off node R (4 or 5) that the group has carried out (R no longer a voter) is aborted
// before its report arrives, and R then goes down for good: the rollback, which needs R back as a
// voter, can never end. Once R is dead past the grace the move resumes toward its target as a new
// attempt (docs/controller.md, "Moves", step 7) and finishes. Fails with plan_move_repairs
// switched off (the partition stays "moving").
void rollback_without_source_resumes(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const std::optional<LearnerNodePartition> found = partition_with_one_learner_node(rig, rig.filled_topic());
  ASSERT_TRUE(found.has_value());
  const auto& [id, before, removing, other] = *found;
  NodeId adding = 1;
  while (controller::hosts_replica(before, adding)) ++adding;
  const std::optional<controller::Move> move = begin_move(rig, *found, adding, removing);
  ASSERT_TRUE(move.has_value());
  auto group_moved = [&] {
    std::optional<sim::NodeIndex> leader = rig.partition_leader(id);
    if (!leader) return false;
    const raft::ConfState& conf = rig.node(*leader)->raft()->group(before.group)->raft().conf_state();
    return !conf.joint() && conf.voters.count(adding) != 0 && conf.voters.count(removing) == 0;
  };
  ASSERT_TRUE(rig.run_until(group_moved, 20'000)) << "the group never carried out the move";
  rig.world.crash(index_of(removing));
  const controller::Result<controller::Applied> aborted = rig.submit(controller::AbortMove{id.topic, id.index, *move});
  ASSERT_TRUE(aborted.ok()) << "the move was reported first (pick another seed): " << aborted.status().to_string();
  ASSERT_TRUE(rig.wait_for(removing, controller::NodeState::dead, 20'000));
  std::string why;
  EXPECT_TRUE(rig.run_until([&] { return settled_with(rig, id, adding, &why); }, 30'000)) << why;
  EXPECT_EQ(rig.metadata()->partition(id)->move_generation, move->generation + 1);  // finished as the resumed attempt
}

TEST(NodeMoves, ARollbackWhoseSourceIsGoneForGoodResumes) {
  for (uint64_t seed : kSeeds) rollback_without_source_resumes(seed);
}

// A move from node R to node A (nodes 4 and 5) loses both: neither the move nor a rollback can
// end. Once both are dead past the grace the move is redirected to the one node left outside the
// partition, which catches up and takes R's place. Fails with plan_move_repairs switched off.
void move_without_both_ends_redirects(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  MovesRig rig(seed, kNodes);
  const std::optional<LearnerNodePartition> found = partition_with_one_learner_node(rig, rig.filled_topic());
  ASSERT_TRUE(found.has_value());
  const auto& [id, before, removing, adding] = *found;
  NodeId third = 1;
  while (third == adding || controller::hosts_replica(before, third)) ++third;
  const std::optional<controller::Move> move = begin_move(rig, *found, adding, removing);
  ASSERT_TRUE(move.has_value());
  rig.world.crash(index_of(adding));
  rig.world.crash(index_of(removing));
  std::string why;
  EXPECT_TRUE(rig.run_until([&] { return settled_with(rig, id, third, &why); }, 40'000)) << why;
  const controller::PartitionRecord& after = *rig.metadata()->partition(id);
  EXPECT_EQ(std::count(after.replicas.begin(), after.replicas.end(), removing), 0);
  EXPECT_GT(after.move_generation, move->generation);  // finished as a later attempt
}

TEST(NodeMoves, AMoveWhoseSourceAndTargetAreBothGoneIsRedirected) {
  for (uint64_t seed : kSeeds) move_without_both_ends_redirects(seed);
}

}  // namespace
}  // namespace sluice::server
