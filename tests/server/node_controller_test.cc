// The node object running membership, the Raft host and the controller on three voting nodes
// and a fourth that follows the metadata as a learner (node/server/node.h), their Raft peers
// learned from SWIM alone: the controller leader registers
// every member SWIM sees, marks a crashed node dead once SWIM does, and alive again when it
// returns; a topic's replicas follow the metadata.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "tests/server/controller_rig.h"

namespace sluice::server {
namespace {

using testing::kRaftPort;
using testing::node_id;
constexpr size_t kNodes = 4;  // voters 1-3; node 4 follows the metadata as a learner

struct Rig : testing::Rig {
  explicit Rig(uint64_t seed) : testing::Rig(seed, testing::RigOptions{}) {}
};

// Seeds: 9, and 5, which found members met before the node subscribed to SWIM going unknown.
constexpr uint64_t kSeeds[] = {9, 5};

void members_in_line(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rig rig(seed);
  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_TRUE(rig.wait_for(node_id(static_cast<sim::NodeIndex>(i)), controller::NodeState::alive, 10'000)) << "node " << i + 1;
  }
  // The addresses SWIM carries reach the metadata: the Raft endpoint among them.
  const controller::Controller* first = rig.controller(0);
  ASSERT_NE(first, nullptr);
  const std::string raft_of_2 = runtime::Address{rig.world.host(1), kRaftPort}.to_string();
  EXPECT_EQ(first->metadata().nodes().at(2).addresses.raft, raft_of_2);
  rig.world.crash(2);
  EXPECT_TRUE(rig.wait_for(3, controller::NodeState::dead, 20'000)) << "node 3 never marked dead";
  rig.world.start(2);
  EXPECT_TRUE(rig.wait_for(3, controller::NodeState::alive, 20'000)) << "node 3 never alive again";
}

TEST(NodeController, TheLeaderKeepsTheMetadataNodesInLineWithMembership) {
  for (uint64_t seed : kSeeds) members_in_line(seed);
}

// The metadata group's voters as its leader holds them (empty without a leader or while joint).
std::set<NodeId> controller_voters(testing::Rig& rig) {
  const std::optional<sim::NodeIndex> leader = rig.controller_leader();
  if (!leader) return {};
  const raft::ConfState& conf = rig.node(*leader)->raft()->group(kControllerGroup)->raft().conf_state();
  return conf.joint() ? std::set<NodeId>{} : conf.voters;
}

// A voter gone for good is swapped for the learner once the dead-node grace has passed
// (docs/controller.md, "Controller voters"), so the group then rides out a second voter's loss,
// which its first three voters could not: with voters 1-3, nodes 1 and 2 down leave one of three.
// Node 3, back, follows as a learner.
void lost_voter_replaced(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  testing::RigOptions options;
  options.node_dead_grace = std::chrono::seconds(2);
  testing::Rig rig(seed, options);
  rig.wait_all_alive();
  ASSERT_EQ(controller_voters(rig), (std::set<NodeId>{1, 2, 3}));
  rig.world.crash(2);
  ASSERT_TRUE(rig.run_until([&] { return controller_voters(rig) == std::set<NodeId>{1, 2, 4}; }, 30'000))
      << "node 3 never replaced";
  // Down goes the voter of 1 and 2 that does not lead (the leader might be 4, then node 1).
  const sim::NodeIndex second = rig.controller_leader() == sim::NodeIndex{0} ? 1 : 0;
  rig.world.crash(second);
  const controller::Result<controller::Applied> created = rig.submit(controller::CreateTopic{"after", 1, 1, {}});
  EXPECT_TRUE(created.ok()) << created.status().to_string();
  rig.world.start(second);
  rig.world.start(2);
  EXPECT_TRUE(rig.run_until(
      [&] {
        const std::optional<sim::NodeIndex> leader = rig.controller_leader();
        return leader && rig.node(*leader)->raft()->group(kControllerGroup)->raft().conf_state().learners.count(3) > 0;
      },
      20'000))
      << "node 3 does not follow the metadata again";
}

TEST(NodeController, AVoterLostForGoodIsReplacedByALearner) {
  for (uint64_t seed : kSeeds) lost_voter_replaced(seed);
}

// A voter that never ran has no record in the metadata (the first voters come from the bootstrap
// configuration, not from a registration): it is swapped for the learner once the grace has passed
// as if it were dead (cluster-corruption-minority seed 241: a voter crashed 20 ms into the run,
// before any leader could register it, and never started again). Until then it stays a voter.
void unregistered_voter_replaced(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  testing::RigOptions options;
  options.node_dead_grace = std::chrono::seconds(2);
  options.started = 2;  // voters 1 and 2; node 3, a voter, never starts
  testing::Rig rig(seed, options);
  rig.world.start(3);  // node 4, the learner
  ASSERT_TRUE(rig.run_until([&] { return controller_voters(rig) == std::set<NodeId>{1, 2, 3} && rig.state_everywhere(4).has_value(); },
                            10'000))
      << "no leader with node 4 registered";
  EXPECT_FALSE(rig.state_everywhere(3).has_value()) << "node 3 never ran, yet the metadata knows it";
  ASSERT_TRUE(rig.run_until([&] { return controller_voters(rig) == std::set<NodeId>{1, 2, 4}; }, 30'000))
      << "node 3 never replaced";
}

TEST(NodeController, AVoterThatNeverRegisteredIsReplacedByALearner) {
  for (uint64_t seed : kSeeds) unregistered_voter_replaced(seed);
}

}  // namespace
}  // namespace sluice::server

namespace sluice::server {
namespace {

// A topic created through the controller gets its replicas on the nodes it places them on (and
// only there), takes a produce, and loses them again when it is deleted. The learner node's
// metadata follows too (wait_for checks every node's).
void replicas_follow(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rig rig(seed);
  rig.wait_all_alive();
  const sim::NodeIndex leader = rig.controller_leader().value_or(0);
  const controller::Controller* c = rig.node(leader)->controller();
  const controller::Result<controller::Applied> created = rig.submit(controller::CreateTopic{"orders", 2, 3, {}});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const PartitionId p0{created->topic, 0};
  const std::vector<NodeId> placed = c->metadata().partition(p0)->replicas;
  auto placed_on = [&](size_t i) { return std::find(placed.begin(), placed.end(), node_id(static_cast<sim::NodeIndex>(i))) != placed.end(); };
  auto as_placed = [&] {
    for (size_t i = 0; i < kNodes; ++i) {
      if ((rig.node(static_cast<sim::NodeIndex>(i))->partitions()->replica(p0) != nullptr) != placed_on(i)) return false;
    }
    return true;
  };
  for (int waited = 0; waited < 5000 && !as_placed(); waited += 50) rig.run_ms(50);
  for (size_t i = 0; i < kNodes; ++i) {
    EXPECT_EQ(rig.node(static_cast<sim::NodeIndex>(i))->partitions()->replica(p0) != nullptr, placed_on(i)) << "node " << i + 1;
  }
  // Leadership settles on each partition's preferred leader (transferred there if elsewhere).
  for (uint32_t p = 0; p < 2; ++p) {
    const PartitionId id{created->topic, p};
    const NodeId preferred = c->metadata().partition(id)->preferred_leader;
    const sim::NodeIndex at = static_cast<sim::NodeIndex>(preferred - 1);
    for (int waited = 0; waited < 5000; waited += 50) {
      const partition::Replica* replica = rig.node(at)->partitions()->replica(id);
      if (replica != nullptr && replica->is_leader()) break;
      rig.run_ms(50);
    }
    const partition::Replica* replica = rig.node(at)->partitions()->replica(id);
    EXPECT_TRUE(replica != nullptr && replica->is_leader()) << "partition " << p << " is not led by its preferred leader " << preferred;
  }
  // A produce through the router of the partition's leader is acknowledged.
  std::optional<sim::NodeIndex> partition_leader;
  for (int waited = 0; waited < 5000 && !partition_leader; waited += 50) {
    for (size_t i = 0; i < kNodes; ++i) {
      const partition::Replica* replica = rig.node(static_cast<sim::NodeIndex>(i))->partitions()->replica(p0);
      if (replica != nullptr && replica->is_leader()) partition_leader = static_cast<sim::NodeIndex>(i);
    }
    if (!partition_leader) rig.run_ms(50);
  }
  ASSERT_TRUE(partition_leader.has_value());
  const std::string value = "hello";
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}};
  Bytes batch = log::encode_batch(0, 0, std::span(&record, 1)).value();
  partition::Reply produced;
  ASSERT_TRUE(rig.run_on(*partition_leader, [&] {
    auto reply = rig.node(*partition_leader)->partitions()->route(p0, partition::ProduceRequest{batch}).receive();
    if (reply.ok()) produced = std::move(reply).value();
  }));
  ASSERT_TRUE(produced.status.ok()) << produced.status.to_string();
  EXPECT_EQ(std::get<partition::ProduceReply>(produced.value).base_offset, 0u);
  // Deleted: every node removes its replicas.
  const controller::Result<controller::Applied> deleted = rig.submit(controller::DeleteTopic{"orders"});
  ASSERT_TRUE(deleted.ok()) << deleted.status().to_string();
  rig.run_ms(2000);
  for (size_t i = 0; i < kNodes; ++i) {
    const auto index = static_cast<sim::NodeIndex>(i);
    EXPECT_EQ(rig.node(index)->partitions()->replica(p0), nullptr) << "node " << i + 1;
    // Its data is gone from the disk too.
    bool present = true;
    ASSERT_TRUE(rig.run_on(index, [&] {
      auto dir = rig.world.runtime(index)->fs().exists("partition-" + std::to_string(p0.topic) + "-0");
      auto aside = rig.world.runtime(index)->fs().exists("partition-" + std::to_string(p0.topic) + "-0.deleting");
      present = !dir.ok() || *dir || !aside.ok() || *aside;
    }));
    EXPECT_FALSE(present) << "node " << i + 1 << " kept the deleted topic's data";
  }
}

TEST(NodeController, ATopicsReplicasFollowTheMetadata) {
  for (uint64_t seed : sluice::server::kSeeds) replicas_follow(seed);
}

// A topic deleted while a node is down: its data there is gone once the node is back.
void deleted_while_down(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rig rig(seed);
  rig.wait_all_alive();
  const sim::NodeIndex leader = rig.controller_leader().value_or(0);
  const controller::Controller* c = rig.node(leader)->controller();
  const controller::Result<controller::Applied> created = rig.submit(controller::CreateTopic{"gone", 1, 3, {}});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const PartitionId p0{created->topic, 0};
  const std::vector<NodeId> placed = c->metadata().partition(p0)->replicas;
  // A replica holder that is not the controller leader goes down.
  sim::NodeIndex victim = leader;
  for (NodeId id : placed) {
    if (static_cast<sim::NodeIndex>(id - 1) != leader) victim = static_cast<sim::NodeIndex>(id - 1);
  }
  ASSERT_NE(victim, leader);
  for (int waited = 0; waited < 5000 && rig.node(victim)->partitions()->replica(p0) == nullptr; waited += 50) rig.run_ms(50);
  ASSERT_NE(rig.node(victim)->partitions()->replica(p0), nullptr);
  rig.world.crash(victim);
  const controller::Result<controller::Applied> deleted = rig.submit(controller::DeleteTopic{"gone"});
  ASSERT_TRUE(deleted.ok()) << deleted.status().to_string();
  rig.world.start(victim);
  const std::string dir = "partition-" + std::to_string(p0.topic) + "-0";
  bool present = true;
  for (int waited = 0; waited < 10'000 && present; waited += 200) {
    rig.run_ms(200);
    if (rig.node(victim) == nullptr) continue;
    ASSERT_TRUE(rig.run_on(victim, [&] {
      auto here = rig.world.runtime(victim)->fs().exists(dir);
      present = !here.ok() || *here;
    }));
  }
  EXPECT_FALSE(present) << "node " << victim + 1 << " kept the data of a topic deleted while it was down";
}

TEST(NodeController, ATopicDeletedWhileANodeIsDownLeavesNoDataThere) {
  for (uint64_t seed : sluice::server::kSeeds) deleted_while_down(seed);
}

}  // namespace
}  // namespace sluice::server

namespace sluice::controller {
namespace {

// The reconciler names replica directories and reads them back when it looks for orphans: only
// the exact form parses, so no other directory of the data dir is ever taken for a replica's.
TEST(ReplicaDir, NamesRoundTripAndNothingElseParses) {
  const PartitionId partition{123, 7};
  EXPECT_EQ(replica_dir(partition), "partition-123-7");
  EXPECT_EQ(parse_replica_dir(replica_dir(partition)), partition);
  for (const char* other : {"partition-123-7.deleting", "partition-123", "partition--7", "partition-0123-7", "partition-123-7x",
                            "partition-1-2-3", "controller", "log-1", "partition-99999999999999999999-1"}) {
    EXPECT_FALSE(parse_replica_dir(other).has_value()) << other;
  }
}

}  // namespace
}  // namespace sluice::controller
