#include "node/server/node.h"

namespace sluice::server {

namespace rt = sluice::runtime;

Node::Node(rt::Runtime& runtime, NodeConfig config) : runtime_(runtime), config_(std::move(config)) {}

rt::Status Node::start() {
  SLUICE_ASSERT(!started_);
  rt::Result<Identity> identity = load_or_create_identity(
      runtime_.fs(), Identity{config_.cluster_id, config_.node_id}, runtime_.random());
  if (!identity.ok()) return rt::Status(identity.code(), "identity: " + identity.status().message());
  identity_ = *identity;
  if (config_.membership) {
    membership_ = std::make_unique<swim::Driver>(runtime_, *config_.membership);
    if (rt::Status status = membership_->start(); !status.ok()) {
      return rt::Status(status.code(), "membership: " + status.message());
    }
  }
  if (config_.raft) {
    config_.raft->transport.self = identity_.node_id;
    config_.raft->planted_bug = config_.planted_bug;
    raft_ = std::make_unique<multiraft::RaftHost>(runtime_, *config_.raft);
    if (rt::Status status = raft_->start(); !status.ok()) return rt::Status(status.code(), "raft: " + status.message());
  }
  started_ = true;
  return rt::Status();
}

void Node::leave() {
  if (membership_) membership_->leave();
}

bool Node::leave_done() const {
  if (!membership_) return true;
  const uint64_t now_ms = static_cast<uint64_t>(rt::to_ns(runtime_.now()) / 1'000'000);
  return membership_->core().leave_done(now_ms);
}

}  // namespace sluice::server
