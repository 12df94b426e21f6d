#include "node/server/node.h"

#include "node/base/coverage.h"

namespace sluice::server {

namespace rt = sluice::runtime;

namespace {

// "raft" = the membership host with the Raft transport's port, unless the config names one.
void add_raft_address(swim::Config& membership, uint16_t raft_port) {
  if (!swim::find_address(membership.self_named, "raft").empty()) return;
  rt::Result<rt::Address> self = rt::Address::parse(membership.self_address);
  if (!self.ok()) return;  // not "host:port": no host to pair the port with
  membership.self_named.push_back(swim::NamedAddress{"raft", rt::Address{self->host, raft_port}.to_string()});
}

// The same for another endpoint ("rpc", "api").
void add_named_address(swim::Config& membership, std::string name, uint16_t port) {
  if (!swim::find_address(membership.self_named, name).empty()) return;
  rt::Result<rt::Address> self = rt::Address::parse(membership.self_address);
  if (!self.ok()) return;
  membership.self_named.push_back(swim::NamedAddress{std::move(name), rt::Address{self->host, port}.to_string()});
}

partition::Reply partition_error(partition::Errc code, std::string why) {
  partition::Reply reply;
  reply.status = partition::Status(code, std::move(why));
  return reply;
}

controller::Result<controller::Applied> unavailable(std::string why) {
  return controller::Result<controller::Applied>(controller::Errc::unavailable, std::move(why));
}

}  // namespace

Node::Node(rt::Runtime& runtime, NodeConfig config) : runtime_(runtime), config_(std::move(config)) {}

rt::Status Node::start() {
  SLUICE_ASSERT(!started_);
  rt::Result<Identity> identity = load_or_create_identity(
      runtime_.fs(), Identity{config_.cluster_id, config_.node_id}, runtime_.random());
  if (!identity.ok()) return rt::Status(identity.code(), "identity: " + identity.status().message());
  identity_ = *identity;
  if (config_.raft) {
    config_.raft->transport.self = identity_.node_id;
    config_.raft->planted_bug = config_.planted_bug;
    config_.raft->transport.cluster_key = config_.cluster_key;
    config_.raft->quiesce_idle_groups = config_.quiesce_idle_groups && config_.membership.has_value();
    raft_ = std::make_unique<multiraft::RaftHost>(runtime_, *config_.raft);
    if (rt::Status status = raft_->start(); !status.ok()) return rt::Status(status.code(), "raft: " + status.message());
  }
  if (config_.controller) {
    if (!raft_) return rt::Status(rt::Errc::invalid_argument, "controller: needs raft");
    config_.controller->raft.id = identity_.node_id;
    config_.controller->planted_bug = config_.planted_bug;
    controller::Result<std::unique_ptr<controller::Controller>> opened =
        controller::Controller::open(runtime_, *raft_, *config_.controller);
    if (!opened.ok()) return rt::Status(rt::Errc::invalid_argument, "controller: " + opened.status().to_string());
    controller_ = std::move(opened).value();
  }
  if (config_.membership) {
    if (rt::Status status = start_membership(); !status.ok()) {
      return rt::Status(status.code(), "membership: " + status.message());
    }
  }
  if (controller_ && membership_) {
    controller_->start_duties([this] { return membership_view(); }, config_.controller_duties_interval);
  }
  if (config_.rpc) {
    config_.rpc->cluster_key = config_.cluster_key;
    if (rt::Status status = start_rpc(); !status.ok()) return rt::Status(status.code(), "rpc: " + status.message());
  }
  if (config_.partitions) {
    if (!raft_) return rt::Status(rt::Errc::invalid_argument, "partitions: needs raft");
    partitions_ = std::make_unique<partition::PartitionRouter>(runtime_, *raft_, *config_.partitions);
    partitions_->start();
    if (controller_) {
      // A planted bug (tests only) reaches every replica the reconciler creates.
      if (config_.planted_bug != PlantedBug::none) partition::plant_bug(config_.reconciler.replica, config_.planted_bug);
      reconciler_ = std::make_unique<controller::Reconciler>(
          runtime_, *controller_, *partitions_, *raft_, identity_.node_id, config_.reconciler,
          [this](const controller::Command& command, rt::Instant deadline) { return submit_to_controller(command, deadline); });
      reconciler_->start();
    }
  }
  if (config_.http) {
    if (rt::Status status = start_http(); !status.ok()) return rt::Status(status.code(), "http: " + status.message());
  }
  if (membership_ && raft_) forward_membership();  // partitions need raft
  if (config_.identity_scrub_period.count() > 0) scrub_identity_while_running();
  started_ = true;
  return rt::Status();
}

// Joining SWIM announces the node alive to every peer (a restart refutes its death with a higher
// incarnation). So it comes only after the node's storage opened: a node whose controller state is
// lost would otherwise rejoin at every restart of a crash loop, and the dead grace that swaps its
// vote away would never run out (found by cluster-swarm-leaders seed 934).
rt::Status Node::start_membership() {
  // Members know each other by node id; the Raft endpoint travels with it, so peers find it.
  config_.membership->core.self_id = identity_.node_id;
  config_.membership->core.planted_bug = config_.planted_bug;
  config_.membership->core.cluster_key = config_.cluster_key;
  if (config_.raft) add_raft_address(config_.membership->core, config_.raft->transport.port);
  if (config_.rpc) add_named_address(config_.membership->core, "rpc", config_.rpc->port);
  if (config_.http) add_named_address(config_.membership->core, "api", config_.http->port);
  membership_ = std::make_unique<swim::Driver>(runtime_, *config_.membership);
  return membership_->start();
}

// The identity copies are read only at start otherwise: both could rot during one long run and
// the node could never start again (found by cluster-swarm-faults seed 994). The node knows who it
// is, so it rewrites whichever copy is damaged; an I/O error is tried again a period later.
void Node::scrub_identity_while_running() {
  identity_scrubber_ = runtime_.spawn("identity-scrub", [this] {
    while (runtime_.sleep_for(config_.identity_scrub_period).ok()) {
      const rt::Result<size_t> rewritten = scrub_identity(runtime_.fs(), identity_);
      if (rewritten.ok()) identity_copies_repaired_ += *rewritten;
    }
  });
}

// SWIM's events, to the Raft host (where each member's Raft endpoint is) and the router (who is
// alive and where clients reach it).
void Node::forward_membership() {
  std::shared_ptr<rt::Channel<swim::Event>> events = membership_->subscribe(kMembershipEventsQueuedMax);
  // Members SWIM met while the node was starting (before this subscription) are known already
  // (found by node_controller_test, seed 5: a learner the leader could never reach).
  for (const swim::Member& member : membership_->core().members()) {
    if (member.state != swim::MemberState::dead && member.state != swim::MemberState::left) note_member(member.id, member.named, true);
  }
  membership_forwarder_ = runtime_.spawn("membership-forwarder", [this, events] {
    while (true) {
      rt::Result<swim::Event> event = events->receive();
      if (!event.ok()) return;
      const bool gone = event->kind == swim::EventKind::dead || event->kind == swim::EventKind::left;
      // Quiet groups hear nothing from a leader that died; SWIM's suspicion is their clock.
      if (gone || event->kind == swim::EventKind::suspect) raft_->wake_groups_with(event->id);
      note_member(event->id, event->named, !gone);
    }
  });
}

// The Raft endpoint a live member announces is where this node's host reaches it; the router
// hears who is alive and where clients reach it.
void Node::note_member(NodeId id, const swim::NamedAddresses& named, bool alive) {
  if (alive) {
    rt::Result<rt::Address> endpoint = rt::Address::parse(swim::find_address(named, "raft"));
    if (endpoint.ok()) raft_->set_peer(id, *endpoint);
  }
  if (partitions_) partitions_->membership_changed(partition::MembershipEvent{id, std::string(swim::find_address(named, "api")), alive});
}

// SWIM's members (and this node) as the controller reads them.
std::vector<controller::MemberView> Node::membership_view() const {
  auto addresses_of = [](const std::string& address, const swim::NamedAddresses& named) {
    return controller::NodeAddresses{address, std::string(swim::find_address(named, "raft")),
                                     std::string(swim::find_address(named, "api"))};
  };
  const swim::Core& core = membership_->core();
  std::vector<controller::MemberView> view;
  view.push_back({identity_.node_id, addresses_of(config_.membership->core.self_address, config_.membership->core.self_named), true});
  for (const swim::Member& member : core.members()) {
    const bool alive = member.state == swim::MemberState::alive || member.state == swim::MemberState::suspect;
    view.push_back({member.id, addresses_of(member.address, member.named), alive});
  }
  return view;
}

rt::Status Node::start_rpc() {
  rpc::RpcClientConfig client_config;
  client_config.cluster_key = config_.cluster_key;
  rpc_client_ = std::make_unique<rpc::RpcClient>(runtime_, client_config);
  rpc_server_ = std::make_unique<rpc::RpcServer>(runtime_, *config_.rpc);
  rpc_server_->handle(static_cast<uint16_t>(RpcMethod::controller_submit),
                      [this](ByteSpan request, rt::Instant deadline) { return serve_controller_submit(request, deadline); });
  rpc_server_->handle(static_cast<uint16_t>(RpcMethod::partition_call),
                      [this](ByteSpan request, rt::Instant deadline) { return serve_partition_call(request, deadline); });
  return rpc_server_->start();
}

rt::Status Node::start_http() {
  api_ = std::make_unique<Api>(*this, config_.auth, config_.api);
  http::PipelineParts parts;
  parts.routes = &api_->routes();
  parts.route_names = api_route_names();
  parts.auth = &config_.auth;
  parts.require = [this](const http::Exchange& exchange) { return api_->requirement(exchange); };
  parts.execute = [this](http::Exchange& exchange) { api_->execute(exchange); };
  pipeline_ = std::make_unique<http::Pipeline>(runtime_, api_->metrics(), std::move(parts));
  http_server_ = std::make_unique<http::HttpServer>(
      runtime_, *config_.http, [this](const http::HttpRequest& request, const http::ConnectionInfo& connection, rt::Instant deadline) {
        return pipeline_->handle(request, connection, deadline);
      });
  return http_server_->start();
}

// On the controller leader: submitted here. Elsewhere: forwarded to it.
controller::Result<controller::Applied> Node::submit_to_controller(const controller::Command& command, rt::Instant deadline) {
  if (controller_ == nullptr) return unavailable("no controller here");
  if (controller_->is_leader()) return controller_->submit(command, deadline);
  return forward_to_controller(command, deadline);
}

rt::Result<rt::Address> Node::rpc_address_of(NodeId id) const {
  if (rpc_client_ == nullptr || membership_ == nullptr) return rt::Status(rt::Errc::invalid_argument, "no inter-node RPC here");
  const swim::Member* member = membership_->core().member(id);
  if (member == nullptr) return rt::Status(rt::Errc::invalid_argument, "node " + std::to_string(id) + " is no member known here");
  return rt::Address::parse(swim::find_address(member->named, "rpc"));
}

controller::Result<controller::Applied> Node::forward_to_controller(const controller::Command& command, rt::Instant deadline) {
  const NodeId leader = controller_->leader();
  const std::string not_here = "leader is node " + std::to_string(leader);
  if (leader == kNoNode) return controller::Result<controller::Applied>(controller::Errc::not_leader, not_here);
  rt::Result<rt::Address> to = rpc_address_of(leader);
  if (!to.ok()) return controller::Result<controller::Applied>(controller::Errc::not_leader, not_here + ", not reachable yet");
  controller::Result<Bytes> request = controller::encode_command(command);
  if (!request.ok()) return controller::Result<controller::Applied>(request.status());
  rt::Result<rpc::Reply> reply = rpc_client_->call(*to, static_cast<uint16_t>(RpcMethod::controller_submit), *request, deadline);
  if (!reply.ok()) {
    const auto code = reply.code() == rt::Errc::timeout ? controller::Errc::timeout : controller::Errc::unavailable;
    return controller::Result<controller::Applied>(code, "forwarding to node " + std::to_string(leader) + ": " + reply.status().to_string());
  }
  if (reply->status != rpc::RpcStatus::ok) {
    return unavailable("forwarding to node " + std::to_string(leader) + ": " + std::string(rpc::to_string(reply->status)));
  }
  std::optional<controller::Result<controller::Applied>> answer = controller::decode_submit_reply(reply->payload);
  if (!answer) return unavailable("node " + std::to_string(leader) + " answered with a malformed reply");
  return *answer;
}

// A forwarded command: applied here if this node leads the metadata group; never forwarded on.
rpc::Reply Node::serve_controller_submit(ByteSpan request, rt::Instant deadline) {
  std::optional<controller::Command> command = controller::decode_command(request);
  controller::Result<controller::Applied> answer =
      command == std::nullopt  ? controller::Result<controller::Applied>(controller::Errc::invalid_request, "not a command")
      : controller_ == nullptr ? unavailable("no controller here")
      : !controller_->is_leader()
          ? controller::Result<controller::Applied>(controller::Errc::not_leader, "leader is node " + std::to_string(controller_->leader()))
          : controller_->submit(*command, deadline);
  return rpc::Reply{rpc::RpcStatus::ok, controller::encode_submit_reply(answer)};
}

partition::Reply Node::route_anywhere(const PartitionCall& call, rt::Instant deadline) {
  if (partitions_ == nullptr) return partition_error(partition::Errc::unknown_partition, "this node runs no partitions");
  const partition::Replica* local = partitions_->replica(call.partition);
  // A local_only read without a replica here: the router's unknown_partition says so.
  if (call.flags.local_only || call.flags.forwarded || (local != nullptr && local->is_leader())) return route_here(call, deadline);
  NodeId leader = local != nullptr ? local->leader().leader : kNoNode;
  if (local == nullptr && controller_ != nullptr) {
    const controller::PartitionRecord* record = controller_->metadata().partition(call.partition);
    if (record != nullptr) leader = record->preferred_leader;
  }
  // Nowhere better to send it: this node's own answer says why.
  if (leader == kNoNode || leader == identity_.node_id) return route_here(call, deadline);
  return forward_partition_call(leader, call, deadline);
}

partition::Reply Node::route_here(const PartitionCall& call, rt::Instant deadline) {
  rt::Result<partition::Reply> reply = partitions_->route(call.partition, call.request).receive(deadline);
  if (!reply.ok()) return partition_error(partition::Errc::timeout, "waiting for the replica: " + reply.status().to_string());
  return std::move(reply).value();
}

partition::Reply Node::forward_partition_call(NodeId to, PartitionCall call, rt::Instant deadline) {
  rt::Result<rt::Address> address = rpc_address_of(to);
  if (!address.ok()) {
    partition::Reply reply = partition_error(partition::Errc::not_leader, "node " + std::to_string(to) + " leads it and is not reachable yet");
    reply.leader = to;
    return reply;
  }
  call.flags.forwarded = true;
  SLUICE_COVER("server.partition_call_forwarded");
  rt::Result<rpc::Reply> answer = rpc_client_->call(*address, static_cast<uint16_t>(RpcMethod::partition_call),
                                                    encode_partition_call(call), deadline);
  if (!answer.ok() || answer->status != rpc::RpcStatus::ok) {
    const std::string why = answer.ok() ? std::string(rpc::to_string(answer->status)) : answer.status().to_string();
    const bool timed_out = !answer.ok() && answer.code() == rt::Errc::timeout;
    partition::Reply reply = partition_error(timed_out ? partition::Errc::timeout : partition::Errc::not_leader,
                                             "forwarding to node " + std::to_string(to) + ": " + why);
    reply.leader = timed_out ? kNoNode : to;
    return reply;
  }
  std::optional<partition::Reply> decoded = decode_partition_reply(answer->payload);
  if (!decoded) return partition_error(partition::Errc::invalid_request, "node " + std::to_string(to) + " answered with a malformed reply");
  return std::move(*decoded);
}

rpc::Reply Node::serve_partition_call(ByteSpan request, rt::Instant deadline) {
  std::optional<PartitionCall> call = decode_partition_call(request);
  if (!call) return rpc::Reply{rpc::RpcStatus::malformed, {}};
  call->flags.forwarded = true;  // whatever the sender said: never a second hop
  return rpc::Reply{rpc::RpcStatus::ok, encode_partition_reply(route_anywhere(*call, deadline))};
}

void Node::leave() {
  // Leaderships first: each group this node leads is handed to its most caught-up active voter,
  // again every kHandoverRetryInterval while any is left (a target may refuse, or stop itself).
  if (raft_) {
    (void)raft_->transfer_all_leaderships();
    handover_ = runtime_.spawn("leave-handover", [this] {
      while (raft_->leaders_here() > 0 && runtime_.sleep_for(kHandoverRetryInterval).ok()) {
        (void)raft_->transfer_all_leaderships();
      }
    });
  }
  if (membership_) membership_->leave();
}

bool Node::leave_done() const {
  if (raft_ && raft_->leaders_here() > 0) return false;
  if (!membership_) return true;
  const uint64_t now_ms = static_cast<uint64_t>(rt::to_ns(runtime_.now()) / 1'000'000);
  return membership_->core().leave_done(now_ms);
}

}  // namespace sluice::server
