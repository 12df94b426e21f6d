#include "sim/sim_node.h"

#include "node/base/hash.h"

namespace sluice::sim {

SimNode::SimNode(SimRuntime& runtime, server::NodeConfig config, std::vector<Workload*> workloads)
    : runtime_(runtime), node_(std::make_unique<server::Node>(runtime, std::move(config))), workloads_(std::move(workloads)) {
  runtime_.spawn("node-boot", [this] { boot(); });
}

SimNode::~SimNode() {
  for (Workload* workload : workloads_) workload->node_crashed(runtime_.node());
  agents_.clear();  // they may refer to the node
  node_.reset();
}

void SimNode::boot() {
  if (const runtime::Status started = node_->start(); !started.ok()) return exit_and_restart(started);
  runtime_.world().note_start_succeeded(runtime_.node());
  for (Workload* workload : workloads_) {
    if (std::unique_ptr<NodeAgent> agent = workload->node_started(runtime_, *node_)) agents_.push_back(std::move(agent));
  }
}

// The process exits; its service manager starts it again after kStartRetry.
void SimNode::exit_and_restart(const runtime::Status& why) {
  World& world = runtime_.world();
  world.trace().record(world.now_ns(), runtime_.node(), "node.start_failed", hash_bytes(why.to_string()));
  world.note_start_failure(runtime_.node(), why.to_string());
  sim::exit_and_restart(world, runtime_.node(), runtime_.incarnation(), kStartRetry);
}

void exit_and_restart(World& world, NodeIndex node, uint64_t incarnation, runtime::Duration down) {
  world.schedule(world.now_ns(), -1, "node.exit", static_cast<uint64_t>(node), [&world, node, incarnation, down] {
    if (!world.is_up(node) || world.incarnation(node) != incarnation) return;
    world.crash(node);
    world.schedule(world.now_ns() + runtime::to_ns(down), -1, "node.restart", static_cast<uint64_t>(node), [&world, node] {
      if (!world.is_up(node)) world.start(node);
    });
  });
}

server::Node* started_node(World& world, NodeIndex node) {
  auto* app = dynamic_cast<SimNode*>(world.app(node));
  return app != nullptr && app->node().started() ? &app->node() : nullptr;
}

const server::Node* started_node(const World& world, NodeIndex node) {
  return started_node(const_cast<World&>(world), node);
}

}  // namespace sluice::sim
