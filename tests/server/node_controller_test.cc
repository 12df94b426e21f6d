// The node object running membership, the Raft host and the controller on three simulated nodes
// (node/server/node.h): the controller leader registers every member SWIM sees, marks a crashed
// node dead once SWIM does, and alive again when it returns.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "node/server/node.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"

namespace sluice::server {
namespace {

constexpr int64_t kMsNs = 1'000'000;
constexpr uint16_t kSwimPort = 7400;
constexpr uint16_t kRaftPort = 7401;
constexpr size_t kNodes = 3;

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
    multiraft::RaftHostConfig& raft = config.raft.emplace();
    raft.transport.port = kRaftPort;
    for (size_t i = 0; i < kNodes; ++i) {
      const auto peer = static_cast<sim::NodeIndex>(i);
      if (peer != runtime.node()) raft.transport.peers[node_id(peer)] = runtime::Address{world.host(peer), kRaftPort};
    }
    controller::ControllerConfig& controller = config.controller.emplace();
    controller.raft.election_timeout_ticks = 15;
    for (size_t i = 0; i < kNodes; ++i) controller.voters.insert(node_id(static_cast<sim::NodeIndex>(i)));
    config.controller_duties_interval = std::chrono::milliseconds(100);
    return config;
  }
  Node node;
};

struct Rig {
  Rig() : world(world_config()) {
    for (size_t i = 0; i < kNodes; ++i) world.add_node();
    world.set_app_factory([this](sim::SimRuntime& rt) { return std::make_unique<NodeApp>(rt, world); });
    for (size_t i = 0; i < kNodes; ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  static sim::WorldConfig world_config() {
    sim::WorldConfig config;
    config.seed = 9;
    config.network.link.latency_min = std::chrono::milliseconds(1);
    config.network.link.latency_max = std::chrono::milliseconds(3);
    return config;
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
  sim::World world;  // last: destroyed first
};

TEST(NodeController, TheLeaderKeepsTheMetadataNodesInLineWithMembership) {
  Rig rig;
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

}  // namespace
}  // namespace sluice::server
