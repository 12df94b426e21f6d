// The node object running membership, the Raft host and the controller on three voting nodes
// and a fourth that follows the metadata as a learner (node/server/node.h), their Raft peers
// learned from SWIM alone: the controller leader registers
// every member SWIM sees, marks a crashed node dead once SWIM does, and alive again when it
// returns; a topic's replicas follow the metadata.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "node/log/codec.h"
#include "node/server/node.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/world_config.h"

namespace sluice::server {
namespace {

constexpr int64_t kMsNs = 1'000'000;
constexpr uint16_t kSwimPort = 7400;
constexpr uint16_t kRaftPort = 7401;
constexpr size_t kNodes = 4;  // voters 1-3; node 4 follows the metadata as a learner
constexpr size_t kVoters = 3;

NodeId node_id(sim::NodeIndex node) { return static_cast<NodeId>(node) + 1; }

class NodeApp final : public sim::NodeApp {
 public:
  NodeApp(sim::SimRuntime& runtime, sim::World& world) : node(runtime, config(runtime, world)) {
    runtime.spawn("boot", [this] { EXPECT_TRUE(node.start().ok()); });
  }
  static NodeConfig config(sim::SimRuntime& runtime, sim::World& world) {
    NodeConfig config;
    config.node_id = node_id(runtime.node());
    config.cluster_id = 5;
    swim::DriverConfig& membership = config.membership.emplace();
    membership.port = kSwimPort;
    membership.core.self_address = runtime::Address{world.host(runtime.node()), kSwimPort}.to_string();
    membership.core.cluster_id = 5;
    membership.core.probe_interval_ms = 200;
    membership.core.probe_timeout_ms = 50;
    membership.core.probe_deadline_ms = 150;
    membership.core.nack_timeout_ms = 80;
    membership.core.gossip_interval_ms = 50;
    if (runtime.node() != 0) membership.seeds.push_back(runtime::Address{world.host(0), kSwimPort}.to_string());
    // No Raft peers configured: each node learns the others' Raft endpoints from SWIM.
    multiraft::RaftHostConfig& raft = config.raft.emplace();
    raft.transport.port = kRaftPort;
    controller::ControllerConfig& controller = config.controller.emplace();
    controller.raft.election_timeout_ticks = 15;
    for (size_t i = 0; i < kVoters; ++i) controller.voters.insert(node_id(static_cast<sim::NodeIndex>(i)));
    config.controller_duties_interval = std::chrono::milliseconds(100);
    config.partitions.emplace();
    config.reconciler.interval = std::chrono::milliseconds(100);
    config.reconciler.raft.election_timeout_ticks = 15;
    return config;
  }
  Node node;
};

struct Rig {
  explicit Rig(uint64_t seed) : world(testing::quiet_world(seed)) {
    for (size_t i = 0; i < kNodes; ++i) world.add_node();
    world.set_app_factory([this](sim::SimRuntime& rt) { return std::make_unique<NodeApp>(rt, world); });
    for (size_t i = 0; i < kNodes; ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  const controller::Controller* controller(sim::NodeIndex node) {
    auto* app = dynamic_cast<NodeApp*>(world.app(node));
    return app == nullptr || !app->node.started() ? nullptr : app->node.controller();
  }
  // The state node `who` has in the metadata of every running node (nullopt if any lacks it).
  std::optional<controller::NodeState> state_everywhere(NodeId who) {
    std::optional<controller::NodeState> state;
    for (size_t i = 0; i < kNodes; ++i) {
      const controller::Controller* c = controller(static_cast<sim::NodeIndex>(i));
      if (c == nullptr) continue;
      auto found = c->metadata().nodes().find(who);
      if (found == c->metadata().nodes().end() || (state && *state != found->second.state)) return std::nullopt;
      state = found->second.state;
    }
    return state;
  }
  // Runs until node `who` is `state` in every running node's metadata (at most `ms`).
  bool wait_for(NodeId who, controller::NodeState state, int64_t ms) {
    for (int64_t waited = 0; waited < ms; waited += 20) {
      if (state_everywhere(who) == state) return true;
      world.run_until(world.now_ns() + 20 * kMsNs);
    }
    return false;
  }
  Node* node(sim::NodeIndex index) {
    auto* app = dynamic_cast<NodeApp*>(world.app(index));
    return app == nullptr || !app->node.started() ? nullptr : &app->node;
  }
  std::optional<sim::NodeIndex> controller_leader() {
    for (size_t i = 0; i < kNodes; ++i) {
      const controller::Controller* c = controller(static_cast<sim::NodeIndex>(i));
      if (c != nullptr && c->is_leader()) return static_cast<sim::NodeIndex>(i);
    }
    return std::nullopt;
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kMsNs); }
  // Every node alive in every node's metadata (a failed wait fails the test).
  void wait_all_alive() {
    for (size_t i = 0; i < kNodes; ++i) {
      EXPECT_TRUE(wait_for(node_id(static_cast<sim::NodeIndex>(i)), controller::NodeState::alive, 10'000)) << "node " << i + 1;
    }
  }
  // Submits on the controller leader from a fiber there and waits for the answer.
  controller::Result<controller::Applied> submit(controller::Command command) {
    const sim::NodeIndex leader = controller_leader().value_or(0);
    controller::Controller* c = node(leader)->controller();
    controller::Result<controller::Applied> answer(controller::Errc::timeout, "test: no answer");
    run_on(leader, [&] { answer = c->submit(command, world.runtime(leader)->now() + std::chrono::seconds(3)); });
    return answer;
  }
  // Runs a fiber on node `index` and the world until it set `done` (at most `ms`).
  template <typename Body>
  bool run_on(sim::NodeIndex index, Body body, int64_t ms = 5000) {
    auto done = std::make_shared<bool>(false);
    world.runtime(index)->spawn("test", [body = std::move(body), done]() mutable {
      body();
      *done = true;
    });
    for (int64_t waited = 0; !*done && waited < ms; waited += 10) run_ms(10);
    return *done;
  }
  sim::World world;  // last: destroyed first
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
