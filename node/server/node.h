// The composition root of a node: one object that owns everything a node runs, built on a
// runtime::Runtime and a config. sluice-node builds it on the epoll runtime; sluice-sim builds
// the very same object on each simulated node's runtime (a crash destroys it after its fibers
// were unwound, a restart builds a new one from the node's disk).
//
// Today a node runs membership (SWIM + Lifeguard), the multi-Raft host, the partition router and
// the controller's metadata group; the HTTP server joins here as it lands. Each part is switched on
// by its config section, so a simulation (or a test) runs exactly the parts it exercises.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/ids.h"
#include "node/base/planted_bug.h"
#include "node/controller/controller.h"
#include "node/controller/reconciler.h"
#include "node/multiraft/host.h"
#include "node/partition/router.h"
#include "node/server/identity.h"
#include "node/swim/driver.h"
#include "runtime/runtime.h"

namespace sluice::server {

struct NodeConfig {
  // 0: adopt the id recorded in the data directory, or draw one when it is new.
  NodeId node_id = kNoNode;
  uint64_t cluster_id = 0;
  // SWIM on membership->port. start() sets core.self_id to the node's id and, with Raft
  // configured, adds the transport's endpoint as the named address "raft".
  std::optional<swim::DriverConfig> membership;
  std::optional<multiraft::RaftHostConfig> raft;    // the multi-Raft host (groups are added later)
  // The partition router (needs raft): replicas are created through it. With membership, SWIM's
  // events reach it (a member's "api" named address is where clients reach it).
  std::optional<partition::RouterConfig> partitions;
  // The controller (needs raft): this node hosts the metadata group (it must be one of
  // controller->voters; raft.id is set to the node's id). With membership, the leader keeps the
  // metadata's nodes in line with SWIM's view every controller_duties_interval.
  std::optional<controller::ControllerConfig> controller;
  runtime::Duration controller_duties_interval = std::chrono::milliseconds(500);
  // With both the controller and partitions: the replicas the metadata places on this node are
  // created and removed through the router (controller/reconciler.h).
  controller::ReconcilerConfig reconciler;
  // Test-only (node/base/planted_bug.h): handed to every part of the node that can plant it.
  PlantedBug planted_bug = PlantedBug::none;
};

class Node {
 public:
  Node(runtime::Runtime& runtime, NodeConfig config);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Blocks (call on a fiber): records or checks the identity in the data directory, then starts
  // membership and the Raft host. An error leaves the node stopped; the reason names the part.
  runtime::Status start();
  // Graceful stop: hands every Raft group this node leads to another voter, and leaves membership;
  // the caller waits for leave_done() (bounded) before exiting.
  void leave();
  bool leave_done() const;

  bool started() const { return started_; }
  const NodeConfig& config() const { return config_; }
  const Identity& identity() const { return identity_; }
  NodeId id() const { return identity_.node_id; }
  runtime::Runtime& runtime() { return runtime_; }
  // Null when the part is not configured (or not started yet).
  swim::Driver* membership() { return membership_.get(); }
  const swim::Driver* membership() const { return membership_.get(); }
  multiraft::RaftHost* raft() { return raft_.get(); }
  const multiraft::RaftHost* raft() const { return raft_.get(); }
  partition::PartitionRouter* partitions() { return partitions_.get(); }
  const partition::PartitionRouter* partitions() const { return partitions_.get(); }
  controller::Controller* controller() { return controller_.get(); }
  const controller::Controller* controller() const { return controller_.get(); }
  const controller::Reconciler* reconciler() const { return reconciler_.get(); }

 private:
  static constexpr size_t kMembershipEventsQueuedMax = 1024;
  void forward_membership();
  void note_member(NodeId id, const swim::NamedAddresses& named, bool alive);
  std::vector<controller::MemberView> membership_view() const;

  runtime::Runtime& runtime_;
  NodeConfig config_;
  Identity identity_;
  bool started_ = false;
  std::unique_ptr<swim::Driver> membership_;
  std::unique_ptr<multiraft::RaftHost> raft_;
  std::unique_ptr<partition::PartitionRouter> partitions_;  // after raft_: destroyed before it
  std::unique_ptr<controller::Controller> controller_;       // after raft_: destroyed before it
  std::unique_ptr<controller::Reconciler> reconciler_;       // after both it uses
  runtime::Task membership_forwarder_;
};

}  // namespace sluice::server
