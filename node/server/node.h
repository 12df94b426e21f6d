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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/cluster_key.h"
#include "node/base/ids.h"
#include "node/base/planted_bug.h"
#include "node/controller/controller.h"
#include "node/controller/reconciler.h"
#include "node/multiraft/host.h"
#include "node/partition/router.h"
#include "node/http/auth.h"
#include "node/http/metrics.h"
#include "node/http/pipeline.h"
#include "node/http/server.h"
#include "node/rpc/rpc.h"
#include "node/server/api.h"
#include "node/server/partition_rpc.h"
#include "node/server/identity.h"
#include "node/swim/driver.h"
#include "runtime/runtime.h"

namespace sluice::server {

// How often a running node checks its identity copies unless configured (NodeConfig).
inline constexpr runtime::Duration kIdentityScrubPeriodDefault = std::chrono::seconds(60);

struct NodeConfig {
  // 0: adopt the id recorded in the data directory, or draw one when it is new.
  NodeId node_id = kNoNode;
  uint64_t cluster_id = 0;
  // The cluster secret (docs/formats/rpc.md, "Cluster secret"): start() hands it to SWIM, the
  // Raft transport and the RPC server and client, which then MAC every frame and datagram and
  // drop what lacks a valid MAC. Unset: no MAC on the wire.
  std::optional<ClusterKey> cluster_key;
  // SWIM on membership->port. start() sets core.self_id to the node's id and, with Raft
  // configured, adds the transport's endpoint as the named address "raft".
  std::optional<swim::DriverConfig> membership;
  std::optional<multiraft::RaftHostConfig> raft;    // the multi-Raft host (groups are added later)
  // Idle Raft groups go quiet (docs/raft.md, "Quiescence"); only with membership, whose suspicions
  // wake them (a quiet follower has no other way to notice that its leader died).
  bool quiesce_idle_groups = true;
  // The partition router (needs raft): replicas are created through it. With membership, SWIM's
  // events reach it (a member's "api" named address is where clients reach it).
  std::optional<partition::RouterConfig> partitions;
  // The controller (needs raft): this node hosts the metadata group (it must be one of
  // controller->voters; raft.id is set to the node's id). With membership, the leader keeps the
  // metadata's nodes in line with SWIM's view every controller_duties_interval.
  std::optional<controller::ControllerConfig> controller;
  runtime::Duration controller_duties_interval = std::chrono::milliseconds(500);
  // Both identity copies are checked, and a damaged one rewritten, this often while the node runs
  // (identity.h, scrub_identity); 0: only at start.
  runtime::Duration identity_scrub_period = kIdentityScrubPeriodDefault;
  // With both the controller and partitions: the replicas the metadata places on this node are
  // created and removed through the router (controller/reconciler.h).
  controller::ReconcilerConfig reconciler;
  // The inter-node RPC (node/rpc/, docs/formats/rpc.md): with the controller, a node that does
  // not lead the metadata group forwards commands (a finished move, ...) to the one that does.
  // start() announces it to members as the SWIM named address "rpc".
  std::optional<rpc::RpcServerConfig> rpc;
  // The HTTP API (docs/http.md) on http->port, with `auth` deciding who may call what. start()
  // announces it to members as the SWIM named address "api".
  std::optional<http::HttpServerConfig> http;
  http::AuthConfig auth;
  ApiLimits api;
  // Families the node's own parts cannot know of, added to /metrics at every scrape after the
  // node's own: sluice-node's XDP counters (epoll_steering.h), which live with the real runtime
  // node/ may not depend on. It describes what it sets. Empty: none.
  std::function<void(http::Metrics&)> extra_metrics;
  // Test-only (node/base/planted_bug.h): handed to every part of the node that can plant it.
  PlantedBug planted_bug = PlantedBug::none;
};

// The methods a node serves over the inter-node RPC (docs/formats/rpc.md, "Methods").
enum class RpcMethod : uint16_t {
  // Request: a controller command (command.h); reply: encode_submit_reply of what the metadata
  // group's leader applied, or not_leader naming it when this node does not lead (one hop: the
  // receiver never forwards again).
  controller_submit = 1,
  // Request: encode_partition_call (a produce, fetch or list offsets); reply:
  // encode_partition_reply of what the receiver's router answered (never forwarded again).
  partition_call = 2,
};

class Node {
 public:
  Node(runtime::Runtime& runtime, NodeConfig config);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Blocks (call on a fiber): records or checks the identity in the data directory, then starts
  // membership and the Raft host. An error leaves the node stopped; the reason names the part.
  runtime::Status start();
  // Identity copies rewritten by the scrub while running (NodeConfig::identity_scrub_period).
  uint64_t identity_copies_repaired() const { return identity_copies_repaired_; }
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
  http::HttpServer* http_server() { return http_server_.get(); }
  const rpc::RpcServer* rpc_server() const { return rpc_server_.get(); }
  const rpc::RpcClient* rpc_client() const { return rpc_client_.get(); }
  // A partition request arriving at this node (from a client, or forwarded by another node; call
  // on a fiber): served by the local replica when it leads the partition, when the call is a
  // local_only read of a replica held here, or when the call was forwarded already (one hop).
  // Otherwise forwarded once to the leader this node knows of (its replica's view; without a
  // replica, the metadata's preferred leader) over the RPC. The reply is the serving router's:
  // not_leader naming the leader lets the caller go there directly.
  partition::Reply route_anywhere(const PartitionCall& call, runtime::Instant deadline);
  // Submits a metadata command on the controller leader, wherever it is (call on a fiber): here,
  // or forwarded over the RPC to the leader's "rpc" address as SWIM carries it.
  controller::Result<controller::Applied> submit_to_controller(const controller::Command& command, runtime::Instant deadline);

 private:
  static constexpr size_t kMembershipEventsQueuedMax = 1024;
  static constexpr runtime::Duration kHandoverRetryInterval = std::chrono::milliseconds(300);
  void forward_membership();
  void scrub_identity_while_running();
  void note_member(NodeId id, const swim::NamedAddresses& named, bool alive);
  std::vector<controller::MemberView> membership_view() const;
  runtime::Status start_membership();
  runtime::Status start_rpc();
  runtime::Status start_http();
  rpc::Reply serve_controller_submit(ByteSpan request, runtime::Instant deadline);
  rpc::Reply serve_partition_call(ByteSpan request, runtime::Instant deadline);
  partition::Reply route_here(const PartitionCall& call, runtime::Instant deadline);
  partition::Reply forward_partition_call(NodeId to, PartitionCall call, runtime::Instant deadline);
  // The "rpc" address SWIM carries for member `id` (an error when unknown or malformed).
  runtime::Result<runtime::Address> rpc_address_of(NodeId id) const;
  controller::Result<controller::Applied> forward_to_controller(const controller::Command& command, runtime::Instant deadline);

  runtime::Runtime& runtime_;
  NodeConfig config_;
  Identity identity_;
  bool started_ = false;
  uint64_t identity_copies_repaired_ = 0;
  std::unique_ptr<swim::Driver> membership_;
  std::unique_ptr<multiraft::RaftHost> raft_;
  std::unique_ptr<partition::PartitionRouter> partitions_;  // after raft_: destroyed before it
  std::unique_ptr<controller::Controller> controller_;       // after raft_: destroyed before it
  std::unique_ptr<controller::Reconciler> reconciler_;       // after both it uses
  std::unique_ptr<rpc::RpcClient> rpc_client_;
  std::unique_ptr<rpc::RpcServer> rpc_server_;               // after what its handlers use
  std::unique_ptr<Api> api_;
  std::unique_ptr<http::Pipeline> pipeline_;
  std::unique_ptr<http::HttpServer> http_server_;            // after the pipeline it calls
  runtime::Task membership_forwarder_;
  runtime::Task handover_;
  runtime::Task identity_scrubber_;
};

}  // namespace sluice::server
