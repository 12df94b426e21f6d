// The cluster metadata state machine (node/controller/metadata.h): commands, refusals, placement
// of a new topic, moves and decommissioning.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "node/controller/metadata.h"
#include "node/controller/moves.h"
#include "node/controller/placement.h"

namespace sluice::controller {
namespace {

Metadata with_nodes(int count) {
  Metadata metadata;
  for (int i = 1; i <= count; ++i) {
    const std::string host = "10.0.0." + std::to_string(i);
    EXPECT_TRUE(metadata.apply(RegisterNode{NodeId(i), {host + ":7946", host + ":7947", host + ":8080"}}).ok());
  }
  return metadata;
}

// The lowest node id that holds no replica of `partition`.
NodeId first_node_outside(const PartitionRecord& partition) {
  NodeId node = 1;
  while (std::find(partition.replicas.begin(), partition.replicas.end(), node) != partition.replicas.end()) ++node;
  return node;
}

// Topic "t" (one partition, replication 2) on `nodes` nodes, its partition moving from its first
// replica to the lowest node outside it.
struct OneMove {
  Metadata metadata;
  TopicId topic = 0;
  Move move;
};
OneMove one_move(size_t nodes) {
  OneMove out{with_nodes(nodes), 0, {}};
  EXPECT_TRUE(out.metadata.apply(CreateTopic{"t", 1, 2, {}}).ok());
  const TopicRecord& topic = *out.metadata.topic("t");
  out.topic = topic.id;
  out.move = Move{first_node_outside(topic.partitions[0]), topic.partitions[0].replicas[0]};
  EXPECT_TRUE(out.metadata.apply(BeginMove{topic.id, 0, out.move}).ok());
  return out;
}

TEST(Metadata, CreateTopicPlacesBalancedReplicasAndLeaders) {
  Metadata metadata = with_nodes(3);
  Result<Applied> created = metadata.apply(CreateTopic{"orders", 6, 2, {}});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const TopicRecord* topic = metadata.topic("orders");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->id, created->topic);
  ASSERT_EQ(topic->partitions.size(), 6u);
  std::set<GroupId> groups;
  for (const PartitionRecord& partition : topic->partitions) {
    ASSERT_EQ(partition.replicas.size(), 2u);
    EXPECT_NE(partition.replicas[0], partition.replicas[1]);
    EXPECT_TRUE(partition.preferred_leader == partition.replicas[0] || partition.preferred_leader == partition.replicas[1]);
    EXPECT_NE(partition.group, kControllerGroup);
    groups.insert(partition.group);
  }
  EXPECT_EQ(groups.size(), 6u);  // one group per partition
  for (const auto& [node, count] : metadata.replica_counts()) EXPECT_EQ(count, 4u) << node;
  for (const auto& [node, count] : metadata.leader_counts()) EXPECT_EQ(count, 2u) << node;
}

TEST(Metadata, RefusalsNameTheRuleAndChangeNothing) {
  Metadata metadata = with_nodes(2);
  const Metadata before = metadata;
  EXPECT_EQ(metadata.apply(CreateTopic{"", 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(CreateTopic{"a/b", 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(CreateTopic{"..", 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(CreateTopic{std::string(250, 'x'), 1, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 0, 1, {}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 1, 3, {}}).code(), Errc::not_enough_nodes);
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 1, 1, TopicConfig{0, -1, 1 << 20}}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(DeleteTopic{"t"}).code(), Errc::unknown_topic);
  EXPECT_EQ(metadata.apply(AllocateProducerIds{0}).code(), Errc::invalid_request);
  EXPECT_EQ(metadata.apply(SetNodeState{9, NodeState::dead}).code(), Errc::unknown_node);
  EXPECT_EQ(metadata, before);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 1, 1, {}}).ok());
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 1, 1, {}}).code(), Errc::topic_exists);
}

TEST(Metadata, LimitsAreRefusedByName) {
  MetadataLimits limits;
  limits.nodes_max = 2;
  limits.topics_max = 1;
  limits.partitions_per_topic_max = 4;
  limits.replication_max = 1;
  limits.producer_ids_per_request_max = 10;
  Metadata metadata(limits);
  ASSERT_TRUE(metadata.apply(RegisterNode{1, {}}).ok());
  ASSERT_TRUE(metadata.apply(RegisterNode{2, {}}).ok());
  EXPECT_EQ(metadata.apply(RegisterNode{3, {}}).code(), Errc::limit_reached);
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 5, 1, {}}).code(), Errc::invalid_request);  // partitions
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 1, 2, {}}).code(), Errc::invalid_request);  // replication
  EXPECT_EQ(metadata.apply(AllocateProducerIds{11}).code(), Errc::invalid_request);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 4, 1, {}}).ok());
  EXPECT_EQ(metadata.apply(CreateTopic{"u", 1, 1, {}}).code(), Errc::limit_reached);  // topics
}

TEST(Metadata, DeadNodesTakeNoReplicasAndComeBackAlive) {
  Metadata metadata = with_nodes(3);
  ASSERT_TRUE(metadata.apply(SetNodeState{2, NodeState::dead}).ok());
  EXPECT_EQ(metadata.apply(CreateTopic{"t", 1, 3, {}}).code(), Errc::not_enough_nodes);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 4, 2, {}}).ok());
  EXPECT_EQ(metadata.replica_counts().count(2), 0u);
  ASSERT_TRUE(metadata.apply(RegisterNode{2, {"m", "r", "a"}}).ok());  // it rejoined
  EXPECT_EQ(metadata.nodes().at(2).state, NodeState::alive);
}

TEST(Metadata, ProducerIdsComeInDisjointBlocks) {
  Metadata metadata;
  EXPECT_EQ(metadata.apply(AllocateProducerIds{10})->first_producer_id, 1u);
  EXPECT_EQ(metadata.apply(AllocateProducerIds{5})->first_producer_id, 11u);
  EXPECT_EQ(metadata.next_producer_id(), 16u);
}

TEST(Metadata, AMoveReplacesOneReplicaAndDecommissionEndsInRemoved) {
  Metadata metadata = with_nodes(3);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 1, 2, {}}).ok());
  const TopicRecord& topic = *metadata.topic("t");
  const PartitionRecord before = topic.partitions[0];
  const NodeId outside = first_node_outside(before);
  const NodeId leaving = before.preferred_leader;
  ASSERT_TRUE(metadata.apply(DecommissionNode{leaving}).ok());
  EXPECT_EQ(metadata.nodes().at(leaving).state, NodeState::decommissioning);
  const std::vector<PlannedMove> moves = plan_moves(metadata, {leaving}, 10);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].move, (Move{outside, leaving}));
  EXPECT_EQ(metadata.apply(BeginMove{topic.id, 0, Move{leaving, outside}}).code(), Errc::conflict);  // backwards
  ASSERT_TRUE(metadata.apply(BeginMove{topic.id, 0, moves[0].move}).ok());
  EXPECT_EQ(metadata.apply(BeginMove{topic.id, 0, moves[0].move}).code(), Errc::conflict);  // one at a time
  EXPECT_EQ(metadata.apply(FinishMove{topic.id, 0, Move{outside, 99}}).code(), Errc::conflict);
  ASSERT_TRUE(metadata.apply(FinishMove{topic.id, 0, moves[0].move}).ok());
  const PartitionRecord& after = metadata.topic("t")->partitions[0];
  EXPECT_FALSE(after.move);
  EXPECT_NE(std::find(after.replicas.begin(), after.replicas.end(), outside), after.replicas.end());
  EXPECT_EQ(after.preferred_leader, outside);  // the leaving preferred leader handed over
  EXPECT_EQ(metadata.nodes().at(leaving).state, NodeState::removed);
  EXPECT_EQ(metadata.apply(RegisterNode{leaving, {}}).code(), Errc::conflict);  // ids are not reused
}

// An aborted move rolls back: the group's leader takes the group back to the replicas and reports
// it, and until then the adding node stays a move target (it may still be a voter the group needs).
TEST(Metadata, AnAbortedMoveRollsBackUntilTheGroupReportsTheReplicas) {
  Metadata metadata = with_nodes(3);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 1, 2, {}}).ok());
  const TopicRecord& topic = *metadata.topic("t");
  const PartitionRecord before = topic.partitions[0];
  const NodeId outside = first_node_outside(before);
  const Move move{outside, before.replicas[0]};
  ASSERT_TRUE(metadata.apply(BeginMove{topic.id, 0, move}).ok());
  const std::set<NodeId> moved = wanted_voters(metadata.topic("t")->partitions[0]);
  EXPECT_EQ(metadata.apply(FinishRollback{topic.id, 0, move}).code(), Errc::conflict);  // not aborted
  ASSERT_TRUE(metadata.apply(AbortMove{topic.id, 0, move}).ok());
  const PartitionRecord& rolling_back = metadata.topic("t")->partitions[0];
  EXPECT_TRUE(rolling_back.move_rolling_back);
  EXPECT_EQ(rolling_back.replicas, before.replicas);
  EXPECT_EQ(wanted_voters(rolling_back), std::set<NodeId>(before.replicas.begin(), before.replicas.end()));
  EXPECT_NE(wanted_voters(rolling_back), moved);
  EXPECT_EQ(metadata.replica_counts().at(outside), 1u);  // still counted where it may be a member
  EXPECT_EQ(metadata.apply(FinishMove{topic.id, 0, move}).code(), Errc::conflict);  // a stale report
  EXPECT_EQ(metadata.apply(AbortMove{topic.id, 0, move}).code(), Errc::conflict);
  EXPECT_EQ(metadata.apply(BeginMove{topic.id, 0, move}).code(), Errc::conflict);
  EXPECT_EQ(metadata.apply(FinishRollback{topic.id, 0, Move{outside, 99}}).code(), Errc::conflict);
  ASSERT_TRUE(metadata.apply(FinishRollback{topic.id, 0, move}).ok());
  EXPECT_EQ(metadata.topic("t")->partitions[0], before);
}

// A move whose target stopped taking replicas is rolled back only where its source could take its
// place back: rolling back to a dead node waits for that node's learner as long as the move waits
// for its target's, and blocks every other move of the partition meanwhile (cluster-swarm-leaders
// seed 2500: a move off a lost node, aborted when its target crashed for a moment, never ended).
TEST(Metadata, AMoveIsAbortedOnlyWhereItsSourceCanTakeItsPlaceBack) {
  auto [metadata, topic, move] = one_move(4);
  EXPECT_TRUE(plan_aborts(metadata).empty());  // both alive: the move goes on
  ASSERT_TRUE(metadata.apply(SetNodeState{move.removing, NodeState::dead}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());  // draining a dead node, as moves off it do
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::dead}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());  // both dead: whichever returns first decides
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::alive}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());  // the target is back: the move finishes
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::dead}).ok());
  ASSERT_TRUE(metadata.apply(SetNodeState{move.removing, NodeState::alive}).ok());
  const std::vector<AbortMove> aborts = plan_aborts(metadata);  // the source is back first: undone
  ASSERT_EQ(aborts.size(), 1u);
  EXPECT_EQ(aborts[0].topic, topic);
  EXPECT_EQ(aborts[0].partition, 0u);
  EXPECT_EQ(aborts[0].move, move);
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic, 0, move.removing}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());  // its replica is lost: it cannot vote again
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::alive}).ok());
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic, 0, move.adding}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());
}

// A decommissioning node: as a target it is rolled back from (it takes no new replicas), as a
// source it still runs and can be a voter again.
TEST(Metadata, ADecommissioningSourceTakesAMoveBackButADecommissioningTargetIsAborted) {
  auto [metadata, topic, move] = one_move(4);
  ASSERT_TRUE(metadata.apply(DecommissionNode{move.removing}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());
  ASSERT_TRUE(metadata.apply(DecommissionNode{move.adding}).ok());
  ASSERT_EQ(plan_aborts(metadata).size(), 1u);
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, move}).ok());
  EXPECT_TRUE(plan_aborts(metadata).empty());  // rolling back already
}

// A decommissioning node that was a rolled-back move's target is removed once the rollback ends.
TEST(Metadata, ARollbackToADrainingNodeEndsItsDecommission) {
  auto [metadata, topic, move] = one_move(3);
  ASSERT_TRUE(metadata.apply(DecommissionNode{move.adding}).ok());
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, move}).ok());
  EXPECT_EQ(metadata.nodes().at(move.adding).state, NodeState::decommissioning);
  ASSERT_TRUE(metadata.apply(FinishRollback{topic, 0, move}).ok());
  EXPECT_EQ(metadata.nodes().at(move.adding).state, NodeState::removed);
}

// A replica whose Raft state is lost (docs/controller.md, "Lost replicas"): recorded once, only for
// a node holding one; its node is never a move's target for the partition again, the drain moves
// it away, and it stops being the preferred leader.
TEST(Metadata, ALostReplicaMovesAwayAndItsNodeNeverTakesThePartitionAgain) {
  Metadata metadata = with_nodes(3);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 1, 2, {}}).ok());
  const TopicRecord& topic = *metadata.topic("t");
  const NodeId outside = first_node_outside(topic.partitions[0]);
  const NodeId lost = topic.partitions[0].preferred_leader;
  EXPECT_EQ(metadata.apply(ReportReplicaLost{topic.id, 0, outside}).code(), Errc::conflict);  // holds none
  EXPECT_EQ(metadata.apply(ReportReplicaLost{topic.id, 7, lost}).code(), Errc::unknown_topic);
  EXPECT_TRUE(metadata.topic("t")->partitions[0].lost_on.empty());
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic.id, 0, lost}).ok());
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic.id, 0, lost}).ok());  // again: no change
  EXPECT_EQ(metadata.topic("t")->partitions[0].lost_on, std::set<NodeId>{lost});

  const std::vector<SetPreferredLeader> leaders = plan_leaders(metadata, 10);
  ASSERT_EQ(leaders.size(), 1u);
  EXPECT_NE(leaders[0].leader, lost);
  const std::vector<PlannedMove> moves = plan_moves(metadata, {}, 10);  // nothing draining: the loss alone
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].move, (Move{outside, lost}));
  ASSERT_TRUE(metadata.apply(BeginMove{topic.id, 0, moves[0].move}).ok());
  ASSERT_TRUE(metadata.apply(FinishMove{topic.id, 0, moves[0].move}).ok());
  const PartitionRecord& after = metadata.topic("t")->partitions[0];
  EXPECT_EQ(std::count(after.replicas.begin(), after.replicas.end(), lost), 0);
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic.id, 0, lost}).ok());  // a late report of a known loss
  // Node `lost` is now the least loaded node, yet no move brings the partition back to it.
  const NodeId staying = after.replicas[0];
  EXPECT_TRUE(plan_moves(metadata, {staying}, 10).empty());
  EXPECT_EQ(metadata.apply(BeginMove{topic.id, 0, Move{lost, staying}}).code(), Errc::conflict);
}

// With no node to take it, a lost replica stays placed (the partition goes on with the others).
TEST(Metadata, ALostReplicaWithNoNodeToTakeItStays) {
  Metadata metadata = with_nodes(2);
  ASSERT_TRUE(metadata.apply(CreateTopic{"t", 1, 2, {}}).ok());
  const TopicRecord& topic = *metadata.topic("t");
  ASSERT_TRUE(metadata.apply(ReportReplicaLost{topic.id, 0, topic.partitions[0].replicas[1]}).ok());
  EXPECT_TRUE(plan_moves(metadata, {}, 10).empty());
}

}  // namespace
}  // namespace sluice::controller
