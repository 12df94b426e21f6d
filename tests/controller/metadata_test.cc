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
  out.move = Move{first_node_outside(topic.partitions[0]), topic.partitions[0].replicas[0], 1};
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
  EXPECT_EQ(moves[0].move, (Move{outside, leaving, 1}));
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
  const Move move{outside, before.replicas[0], 1};
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
  PartitionRecord after = before;
  after.move_generation = 1;  // the attempt stays counted
  EXPECT_EQ(metadata.topic("t")->partitions[0], after);
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

// Every attempt at a partition's move has its generation: a begin names the next one, and a report
// (finish_move, finish_rollback) judged against an earlier attempt is refused, so a resumed or
// redirected move is never finished or dropped by what the group's leader saw of the one before.
TEST(Metadata, AReportOfAnEarlierMoveAttemptIsRefused) {
  auto [metadata, topic, move] = one_move(4);
  EXPECT_EQ(metadata.topic_by_id(topic)->partitions[0].move, move);
  EXPECT_EQ(metadata.topic_by_id(topic)->partitions[0].move_generation, 1u);
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, move}).ok());
  ASSERT_TRUE(metadata.apply(ResumeMove{topic, 0, move}).ok());  // generation 2, forward again
  const Move resumed{move.adding, move.removing, 2};
  EXPECT_EQ(metadata.topic_by_id(topic)->partitions[0].move, resumed);
  EXPECT_FALSE(metadata.topic_by_id(topic)->partitions[0].move_rolling_back);
  // The group's leader saw the first attempt done and reported it before it learned of the abort.
  const Metadata before = metadata;
  EXPECT_EQ(metadata.apply(FinishMove{topic, 0, move}).code(), Errc::conflict);
  EXPECT_EQ(metadata.apply(AbortMove{topic, 0, move}).code(), Errc::conflict);
  EXPECT_EQ(metadata.apply(ResumeMove{topic, 0, resumed}).code(), Errc::conflict);  // not rolling back
  EXPECT_EQ(metadata, before);
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, resumed}).ok());
  EXPECT_EQ(metadata.apply(FinishRollback{topic, 0, move}).code(), Errc::conflict);  // the first rollback's report
  EXPECT_EQ(metadata.apply(ResumeMove{topic, 0, move}).code(), Errc::conflict);
  ASSERT_TRUE(metadata.apply(FinishRollback{topic, 0, resumed}).ok());
  // A begin planned on a copy that missed an attempt names a generation already used.
  EXPECT_EQ(metadata.apply(BeginMove{topic, 0, Move{move.adding, move.removing, 2}}).code(), Errc::conflict);
  ASSERT_TRUE(metadata.apply(BeginMove{topic, 0, Move{move.adding, move.removing, 3}}).ok());
  // A command written before generations (0) matches whatever attempt is in flight.
  ASSERT_TRUE(metadata.apply(FinishMove{topic, 0, Move{move.adding, move.removing, 0}}).ok());
  EXPECT_EQ(metadata.topic_by_id(topic)->partitions[0].move_generation, 3u);
}

// A rollback brings `removing` back as a voter; when `removing` is gone for good (dead past the
// grace, or its replica lost) it never can, and the move goes on toward `adding` instead, once
// `adding` is alive: a new attempt, which a late report of the rolled-back one cannot finish.
TEST(Metadata, ARollbackWhoseSourceIsGoneForGoodResumesTowardItsTarget) {
  auto [metadata, topic, move] = one_move(4);
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::dead}).ok());
  ASSERT_EQ(plan_aborts(metadata).size(), 1u);
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, move}).ok());
  ASSERT_TRUE(metadata.apply(SetNodeState{move.removing, NodeState::dead}).ok());
  EXPECT_TRUE(plan_move_repairs(metadata, {move.removing}).empty());  // `adding` is down too: wait
  ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::alive}).ok());
  EXPECT_TRUE(plan_move_repairs(metadata, {}).empty());  // `removing` within its grace: it may return
  const MoveRepairs repairs = plan_move_repairs(metadata, {move.removing});
  ASSERT_EQ(repairs.resumes.size(), 1u);
  EXPECT_TRUE(repairs.redirects.empty());
  EXPECT_EQ(repairs.resumes[0], (ResumeMove{topic, 0, move}));
  ASSERT_TRUE(metadata.apply(repairs.resumes[0]).ok());
  const PartitionRecord& resumed = metadata.topic_by_id(topic)->partitions[0];
  EXPECT_FALSE(resumed.move_rolling_back);
  EXPECT_EQ(resumed.move->generation, 2u);
  EXPECT_TRUE(wanted_voters(resumed).contains(move.adding));
  EXPECT_FALSE(wanted_voters(resumed).contains(move.removing));
  EXPECT_TRUE(plan_move_repairs(metadata, {move.removing}).empty());  // forward: it finishes by itself
  EXPECT_TRUE(plan_aborts(metadata).empty());
  EXPECT_EQ(metadata.apply(FinishMove{topic, 0, move}).code(), Errc::conflict);  // the rolled-back attempt's report
  ASSERT_TRUE(metadata.apply(FinishMove{topic, 0, *resumed.move}).ok());
  const PartitionRecord& done = metadata.topic_by_id(topic)->partitions[0];
  EXPECT_TRUE(std::find(done.replicas.begin(), done.replicas.end(), move.adding) != done.replicas.end());
  EXPECT_TRUE(std::find(done.replicas.begin(), done.replicas.end(), move.removing) == done.replicas.end());

  // A source whose replica is lost is gone for good at once, dead or not.
  auto [lost, lost_topic, lost_move] = one_move(4);
  ASSERT_TRUE(lost.apply(AbortMove{lost_topic, 0, lost_move}).ok());
  EXPECT_TRUE(plan_move_repairs(lost, {}).empty());  // both alive: the rollback ends
  ASSERT_TRUE(lost.apply(ReportReplicaLost{lost_topic, 0, lost_move.removing}).ok());
  ASSERT_EQ(plan_move_repairs(lost, {}).resumes.size(), 1u);
  // A target that does not take replicas is never resumed toward.
  ASSERT_TRUE(lost.apply(DecommissionNode{lost_move.adding}).ok());
  EXPECT_EQ(lost.apply(ResumeMove{lost_topic, 0, lost_move}).code(), Errc::conflict);
  EXPECT_TRUE(plan_move_repairs(lost, {}).resumes.empty());
}

// Both ends gone for good: neither the move nor its rollback can end, and the partition runs a
// replica short. The move is redirected to a third node (the least loaded that may take it) as a
// new attempt from the same source, as a Kafka reassignment is replaced by a new one; the old
// target keeps its replica until the move ends (the group may still need its vote).
TEST(Metadata, AMoveWhoseSourceAndTargetAreBothGoneIsRedirected) {
  for (const bool rolling_back : {false, true}) {
    auto [metadata, topic, move] = one_move(4);
    if (rolling_back) {
      ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, move}).ok());
    }
    NodeId third = 1;  // the one node neither a replica nor the target
    while (hosts_replica(metadata.topic_by_id(topic)->partitions[0], third)) ++third;
    ASSERT_TRUE(metadata.apply(SetNodeState{move.removing, NodeState::dead}).ok());
    ASSERT_TRUE(metadata.apply(SetNodeState{move.adding, NodeState::dead}).ok());
    EXPECT_TRUE(plan_move_repairs(metadata, {move.removing}).empty()) << rolling_back;  // `adding` within its grace
    EXPECT_TRUE(plan_move_repairs(metadata, {move.adding}).empty()) << rolling_back;    // `removing` within its grace
    const MoveRepairs repairs = plan_move_repairs(metadata, {move.adding, move.removing});
    ASSERT_EQ(repairs.redirects.size(), 1u) << rolling_back;
    EXPECT_TRUE(repairs.resumes.empty());
    EXPECT_EQ(repairs.redirects[0], (RedirectMove{topic, 0, move, third}));
    ASSERT_TRUE(metadata.apply(repairs.redirects[0]).ok());
    const PartitionRecord& redirected = metadata.topic_by_id(topic)->partitions[0];
    EXPECT_EQ(redirected.move, (Move{third, move.removing, 2}));
    EXPECT_FALSE(redirected.move_rolling_back);
    // The old target keeps its replica until the move ends: the group may still count its vote.
    EXPECT_TRUE(hosts_replica(redirected, move.adding));
    EXPECT_EQ(redirected.move_replaced_targets, std::set<NodeId>{move.adding});
    EXPECT_FALSE(wanted_voters(redirected).contains(move.adding));
    EXPECT_TRUE(plan_move_repairs(metadata, {move.adding, move.removing}).empty());
    EXPECT_TRUE(plan_aborts(metadata).empty());  // the new target is alive
    EXPECT_EQ(metadata.apply(FinishMove{topic, 0, move}).code(), Errc::conflict);  // the old attempt's report
    EXPECT_EQ(metadata.apply(RedirectMove{topic, 0, move, third}).code(), Errc::conflict);
    ASSERT_TRUE(metadata.apply(FinishMove{topic, 0, *redirected.move}).ok());
    const PartitionRecord& done = metadata.topic_by_id(topic)->partitions[0];
    EXPECT_TRUE(std::find(done.replicas.begin(), done.replicas.end(), third) != done.replicas.end());
    EXPECT_TRUE(std::find(done.replicas.begin(), done.replicas.end(), move.removing) == done.replicas.end());
    EXPECT_FALSE(hosts_replica(done, move.adding));
    EXPECT_TRUE(done.move_replaced_targets.empty());
  }
  // A decommissioning target counts as gone (it takes nothing new); with no third node, it waits.
  auto [metadata, topic, move] = one_move(3);
  ASSERT_TRUE(metadata.apply(SetNodeState{move.removing, NodeState::dead}).ok());
  ASSERT_TRUE(metadata.apply(DecommissionNode{move.adding}).ok());
  EXPECT_TRUE(plan_move_repairs(metadata, {move.removing, move.adding}).empty());  // every alive node holds it
  const NodeId staying = metadata.topic_by_id(topic)->partitions[0].replicas[1];
  EXPECT_EQ(metadata.apply(RedirectMove{topic, 0, move, staying}).code(), Errc::conflict);
  ASSERT_TRUE(metadata.apply(RegisterNode{4, {"10.0.0.4:7946", "10.0.0.4:7947", "10.0.0.4:8080"}}).ok());
  const MoveRepairs repairs = plan_move_repairs(metadata, {move.removing, move.adding});
  ASSERT_EQ(repairs.redirects.size(), 1u);
  EXPECT_EQ(repairs.redirects[0].to, 4u);
  ASSERT_TRUE(metadata.apply(repairs.redirects[0]).ok());
  EXPECT_EQ(metadata.nodes().at(move.adding).state, NodeState::decommissioning);  // keeps its replica meanwhile
  const Move redirected = *metadata.topic_by_id(topic)->partitions[0].move;
  ASSERT_TRUE(metadata.apply(AbortMove{topic, 0, redirected}).ok());
  ASSERT_TRUE(metadata.apply(FinishRollback{topic, 0, redirected}).ok());
  EXPECT_EQ(metadata.nodes().at(move.adding).state, NodeState::removed);  // it held nothing else
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
  EXPECT_EQ(moves[0].move, (Move{outside, lost, 1}));
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
