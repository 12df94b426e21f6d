// The controller's driver on the simulated network (node/controller/controller.h): a 3-voter
// metadata group on each node's RaftHost; commands submitted on the leader reach every node's
// metadata; a follower answers not_leader naming the leader; refusals travel back; a restarted
// node rebuilds the same metadata from its log.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "node/controller/controller.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/world_config.h"

namespace sluice::controller {
namespace {

constexpr int64_t kMsNs = 1'000'000;
constexpr uint16_t kPort = 7300;

NodeId node_id(sim::NodeIndex node) { return static_cast<NodeId>(node) + 1; }

struct Rig;

class ControllerApp final : public sim::NodeApp {
 public:
  ControllerApp(sim::SimRuntime& runtime, Rig& rig);
  ~ControllerApp() override = default;
  multiraft::RaftHost host;
  std::unique_ptr<Controller> controller;  // after host: destroyed before it
};

struct Rig {
  explicit Rig(size_t nodes) : world(testing::quiet_world(3)) {
    for (size_t i = 0; i < nodes; ++i) world.add_node();
    world.set_app_factory([this](sim::SimRuntime& rt) { return std::make_unique<ControllerApp>(rt, *this); });
    for (size_t i = 0; i < nodes; ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  size_t nodes() const { return world.node_count(); }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kMsNs); }
  Controller* controller(sim::NodeIndex node) {
    auto* app = dynamic_cast<ControllerApp*>(world.app(node));
    return app == nullptr ? nullptr : app->controller.get();
  }
  const Metadata& metadata(sim::NodeIndex node) {
    Controller* c = controller(node);
    EXPECT_NE(c, nullptr) << "node " << node + 1 << " has no controller";
    static const Metadata kNone;
    return c == nullptr ? kNone : c->metadata();
  }
  std::optional<sim::NodeIndex> leader() {
    for (size_t i = 0; i < nodes(); ++i) {
      Controller* c = controller(static_cast<sim::NodeIndex>(i));
      if (c != nullptr && c->is_leader()) return static_cast<sim::NodeIndex>(i);
    }
    return std::nullopt;
  }
  sim::NodeIndex wait_for_leader() {
    for (int i = 0; i < 400 && !leader(); ++i) run_ms(10);
    EXPECT_TRUE(leader().has_value()) << "no controller leader";
    return leader().value_or(0);
  }
  // Submits on `node` from a fiber there and runs the world until the answer (at most 3 s).
  Result<Applied> submit(sim::NodeIndex node, Command command) {
    auto slot = std::make_shared<std::optional<Result<Applied>>>();
    Controller* c = controller(node);
    sim::SimRuntime* runtime = world.runtime(node);
    runtime->spawn("submit", [c, runtime, slot, command = std::move(command)] {
      *slot = c->submit(command, runtime->now() + std::chrono::seconds(3));
    });
    for (int waited = 0; !slot->has_value() && waited < 3000; waited += 5) run_ms(5);
    if (!slot->has_value()) return Result<Applied>(Errc::timeout, "test: no answer");
    return std::move(slot->value());
  }

  sim::World world;  // last: destroyed first
};

ControllerApp::ControllerApp(sim::SimRuntime& runtime, Rig& rig) : host(runtime, [&] {
  multiraft::RaftHostConfig config;
  config.transport.self = node_id(runtime.node());
  config.transport.port = kPort;
  for (size_t i = 0; i < rig.nodes(); ++i) {
    const auto peer = static_cast<sim::NodeIndex>(i);
    if (peer != runtime.node()) config.transport.peers[node_id(peer)] = runtime::Address{rig.world.host(peer), kPort};
  }
  return config;
}()) {
  EXPECT_TRUE(host.start().ok());
  ControllerConfig config;
  config.raft.id = node_id(runtime.node());
  config.raft.election_timeout_ticks = 15;
  for (size_t i = 0; i < rig.nodes(); ++i) config.voters.insert(node_id(static_cast<sim::NodeIndex>(i)));
  // Opening reads the disk: on a fiber of the node.
  runtime.spawn("open-controller", [this, &runtime, config] {
    auto opened = Controller::open(runtime, host, config);
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    if (opened.ok()) controller = std::move(opened).value();
  });
}

void register_nodes(Rig& rig, sim::NodeIndex leader) {
  for (size_t i = 0; i < rig.nodes(); ++i) {
    const NodeId id = node_id(static_cast<sim::NodeIndex>(i));
    ASSERT_TRUE(rig.submit(leader, RegisterNode{id, {"m", "r", "a"}}).ok());
  }
}

TEST(Controller, CommandsOnTheLeaderReachEveryNodesMetadata) {
  Rig rig(3);
  const sim::NodeIndex leader = rig.wait_for_leader();
  register_nodes(rig, leader);
  Result<Applied> created = rig.submit(leader, CreateTopic{"orders", 6, 3, {}});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  EXPECT_EQ(created->topic, 1u);
  Result<Applied> ids = rig.submit(leader, AllocateProducerIds{100});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->first_producer_id, 1u);
  rig.run_ms(200);
  const Metadata& expected = rig.metadata(leader);
  ASSERT_NE(expected.topic("orders"), nullptr);
  for (size_t i = 0; i < rig.nodes(); ++i) {
    EXPECT_EQ(rig.metadata(static_cast<sim::NodeIndex>(i)), expected) << "node " << i + 1;
  }
}

TEST(Controller, AFollowerNamesTheLeaderAndRefusalsComeBack) {
  Rig rig(3);
  const sim::NodeIndex leader = rig.wait_for_leader();
  register_nodes(rig, leader);
  const sim::NodeIndex follower = (leader + 1) % 3;
  Result<Applied> refused = rig.submit(follower, CreateTopic{"t", 1, 1, {}});
  EXPECT_EQ(refused.code(), Errc::not_leader);
  EXPECT_NE(refused.status().message().find(std::to_string(node_id(leader))), std::string::npos) << refused.status().to_string();
  ASSERT_TRUE(rig.submit(leader, CreateTopic{"t", 1, 1, {}}).ok());
  EXPECT_EQ(rig.submit(leader, CreateTopic{"t", 1, 1, {}}).code(), Errc::topic_exists);
  EXPECT_EQ(rig.submit(leader, CreateTopic{"u", 1, 4, {}}).code(), Errc::not_enough_nodes);
  EXPECT_EQ(rig.submit(leader, CreateTopic{std::string(2000, 'x'), 1, 1, {}}).code(), Errc::invalid_request);
}

TEST(Controller, ARestartedNodeRebuildsTheSameMetadata) {
  Rig rig(3);
  const sim::NodeIndex leader = rig.wait_for_leader();
  register_nodes(rig, leader);
  for (int t = 0; t < 5; ++t) ASSERT_TRUE(rig.submit(leader, CreateTopic{"t" + std::to_string(t), 2, 2, {}}).ok());
  rig.run_ms(200);
  const sim::NodeIndex restarted = (leader + 1) % 3;
  rig.world.crash(restarted);
  ASSERT_TRUE(rig.submit(leader, DeleteTopic{"t0"}).ok());  // committed while it is down
  rig.world.start(restarted);
  rig.run_ms(1000);
  const Metadata& expected = rig.metadata(leader);
  EXPECT_EQ(expected.topic("t0"), nullptr);
  EXPECT_EQ(rig.metadata(restarted), expected);
}

}  // namespace
}  // namespace sluice::controller
