// What runs on a simulated node: the node object sluice-node runs (server::Node), configured by the
// scenario's workloads, plus each workload's own agent. Built at every start, destroyed at every
// crash (after the node's fibers were unwound): agents first, then the Node.
//
// Start-up runs on a fiber (the node reads and writes its disk): the Node starts, and a node whose
// start fails (a disk error, a damaged identity) exits and is started again after kStartRetry, as
// a service manager restarts a node; once started, every workload's node_started is called in
// scenario order.
#pragma once

#include <memory>
#include <vector>

#include "node/server/node.h"
#include "sim/sim_runtime.h"
#include "sim/workloads/workload.h"
#include "sim/world.h"

namespace sluice::sim {

class SimNode final : public NodeApp {
 public:
  static constexpr runtime::Duration kStartRetry = std::chrono::seconds(1);

  SimNode(SimRuntime& runtime, server::NodeConfig config, std::vector<Workload*> workloads);
  ~SimNode() override;

  server::Node& node() { return *node_; }

 private:
  void boot();
  void exit_and_restart(const runtime::Status& why);

  SimRuntime& runtime_;
  std::unique_ptr<server::Node> node_;
  std::vector<Workload*> workloads_;
  std::vector<std::unique_ptr<NodeAgent>> agents_;
};

// What a service manager does when a node's process exits (a failed start, a fatal storage error):
// the incarnation ends as a crash would (unsynced writes lost; from a world event, since a node
// cannot unwind its own fibers from inside one) and the node starts again after `down`. Nothing
// happens if that incarnation already ended.
void exit_and_restart(World& world, NodeIndex node, uint64_t incarnation, runtime::Duration down);

// The node object of `node` once it has started; null while the node is down or starting.
server::Node* started_node(World& world, NodeIndex node);
const server::Node* started_node(const World& world, NodeIndex node);

// The simulator names node index i as NodeId i + 1 (node/base/ids.h): the one mapping.
constexpr NodeId node_id_of(NodeIndex node) { return static_cast<NodeId>(node) + 1; }
constexpr NodeIndex node_index_of(NodeId id) { return static_cast<NodeIndex>(id) - 1; }

}  // namespace sluice::sim
