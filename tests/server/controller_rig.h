// A simulated cluster of whole nodes (node/server/node.h) running membership, the Raft host, the
// controller and the partitions, their Raft peers learned from SWIM alone: the rig the
// controller's node-level tests share.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "node/log/codec.h"
#include "node/server/node.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/world_config.h"

namespace sluice::server::testing {

inline constexpr int64_t kMsNs = 1'000'000;
inline constexpr uint16_t kSwimPort = 7400;
inline constexpr uint16_t kRaftPort = 7401;
inline constexpr uint16_t kRpcPort = 7402;
inline constexpr uint16_t kHttpPort = 7403;

inline NodeId node_id(sim::NodeIndex node) { return static_cast<NodeId>(node) + 1; }
inline sim::NodeIndex index_of(NodeId id) { return static_cast<sim::NodeIndex>(id - 1); }

struct RigOptions {
  size_t nodes = 4;   // nodes 1..voters vote in the metadata group; the others follow as learners
  size_t voters = 3;
  size_t started = 4;  // the first `started` nodes start at once; the others when the test says
  runtime::Duration node_dead_grace = std::chrono::seconds(10);
  bool http = false;  // the HTTP API on kHttpPort, with `auth`
  http::AuthConfig auth;
};

class NodeApp final : public sim::NodeApp {
 public:
  NodeApp(sim::SimRuntime& runtime, sim::World& world, const RigOptions& options) : node(runtime, config(runtime, world, options)) {
    runtime.spawn("boot", [this] { EXPECT_TRUE(node.start().ok()); });
  }
  static NodeConfig config(sim::SimRuntime& runtime, sim::World& world, const RigOptions& options) {
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
    for (size_t i = 0; i < options.voters; ++i) controller.voters.insert(node_id(static_cast<sim::NodeIndex>(i)));
    controller.moves.node_dead_grace = options.node_dead_grace;
    config.controller_duties_interval = std::chrono::milliseconds(100);
    config.partitions.emplace();
    config.rpc.emplace().port = kRpcPort;
    if (options.http) {
      config.http.emplace().port = kHttpPort;
      config.auth = options.auth;
    }
    config.reconciler.interval = std::chrono::milliseconds(100);
    config.reconciler.replica.raft.election_timeout_ticks = 15;
    return config;
  }
  Node node;
};

struct Rig {
  Rig(uint64_t seed, RigOptions options_in = {}) : options(options_in), world(sluice::testing::quiet_world(seed)) {
    for (size_t i = 0; i < options.nodes; ++i) world.add_node();
    world.set_app_factory([this](sim::SimRuntime& rt) { return std::make_unique<NodeApp>(rt, world, options); });
    for (size_t i = 0; i < options.started; ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  size_t nodes() const { return options.nodes; }
  Node* node(sim::NodeIndex index) {
    auto* app = dynamic_cast<NodeApp*>(world.app(index));
    return app == nullptr || !app->node.started() ? nullptr : &app->node;
  }
  const controller::Controller* controller(sim::NodeIndex index) {
    Node* n = node(index);
    return n == nullptr ? nullptr : n->controller();
  }
  // The state node `who` has in the metadata of every running node (nullopt if any lacks it).
  std::optional<controller::NodeState> state_everywhere(NodeId who) {
    std::optional<controller::NodeState> state;
    for (size_t i = 0; i < nodes(); ++i) {
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
    return run_until([&] { return state_everywhere(who) == state; }, ms);
  }
  // Runs the world until `done()` holds, checking every 20 ms (at most `ms`); whether it held.
  template <typename Done>
  bool run_until(Done done, int64_t ms) {
    for (int64_t waited = 0; waited < ms; waited += 20) {
      if (done()) return true;
      run_ms(20);
    }
    return done();
  }
  std::optional<sim::NodeIndex> controller_leader() {
    for (size_t i = 0; i < nodes(); ++i) {
      const controller::Controller* c = controller(static_cast<sim::NodeIndex>(i));
      if (c != nullptr && c->is_leader()) return static_cast<sim::NodeIndex>(i);
    }
    return std::nullopt;
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kMsNs); }
  // Every started node alive in every node's metadata (a failed wait fails the test).
  void wait_all_alive() {
    for (size_t i = 0; i < options.started; ++i) {
      EXPECT_TRUE(wait_for(node_id(static_cast<sim::NodeIndex>(i)), controller::NodeState::alive, 10'000)) << "node " << i + 1;
    }
  }
  // Submits on the controller leader from a fiber there and waits for the answer.
  controller::Result<controller::Applied> submit(controller::Command command) {
    controller::Result<controller::Applied> answer(controller::Errc::timeout, "test: no controller leader");
    if (!run_until([&] { return controller_leader().has_value(); }, 10'000)) return answer;
    const sim::NodeIndex leader = *controller_leader();
    controller::Controller* c = node(leader)->controller();
    run_on(leader, [&] { answer = c->submit(command, world.runtime(leader)->now() + std::chrono::seconds(3)); });
    return answer;
  }
  // Runs a fiber on node `index` and the world until it is done (at most `ms`); whether it finished.
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
  // The node leading `partition` now, if any.
  std::optional<sim::NodeIndex> partition_leader(PartitionId partition) {
    for (size_t i = 0; i < nodes(); ++i) {
      Node* n = node(static_cast<sim::NodeIndex>(i));
      const partition::Replica* replica = n == nullptr ? nullptr : n->partitions()->replica(partition);
      if (replica != nullptr && replica->is_leader()) return static_cast<sim::NodeIndex>(i);
    }
    return std::nullopt;
  }
  // Produces one record on the partition's leader, again on a failure (leadership moves while
  // preferred leaders are restored) up to `attempts` times; whether it was acknowledged.
  bool produce_one(PartitionId partition, std::string_view value, int attempts = 5) {
    const log::Record record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}};
    const Bytes batch = log::encode_batch(0, 0, std::span(&record, 1)).value();
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (!run_until([&] { return partition_leader(partition).has_value(); }, 5000)) return false;
      const sim::NodeIndex leader = *partition_leader(partition);
      bool acked = false;
      run_on(leader, [&] {
        auto reply = node(leader)->partitions()->route(partition, partition::ProduceRequest{batch}).receive();
        acked = reply.ok() && reply->status.ok();
      });
      if (acked) return true;
      run_ms(100);
    }
    return false;
  }

  RigOptions options;
  sim::World world;  // last: destroyed first
};

}  // namespace sluice::server::testing
