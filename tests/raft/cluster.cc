#include "tests/raft/cluster.h"

#include "node/base/hash.h"

namespace sluice::raft::testing {

namespace {

std::string describe_held(const Raft& raft) {
  std::string out;
  if (const auto& backing = raft.pre_vote_backing()) {
    out += "  pre-vote backing: " + (backing->candidate == raft.id() ? "itself" : std::to_string(backing->candidate)) +
           " (log " + std::to_string(backing->last_index) + "/" + std::to_string(backing->last_term) + ") for " +
           std::to_string(backing->ticks_left) + " more ticks\n";
  }
  const std::vector<NodeId> deferred = raft.deferred_pre_votes();
  if (!deferred.empty()) {
    out += "  deferred pre-votes:";
    for (NodeId id : deferred) out += " " + std::to_string(id);
    out += "\n";
  }
  if (raft.campaign_contested()) out += "  campaign contested\n";
  if (std::optional<std::string_view> kind = raft.campaign_waiting_for_apply()) {
    out += "  campaign waits for apply: " + std::string(*kind) + "\n";
  }
  return out;
}

}  // namespace

std::string describe_node(const ClusterNode& node) {
  const std::string id = std::to_string(node.id);
  if (!node.raft) return id + ": down\n";
  const NodeStatus s = node.raft->status();
  std::string out = id + ": " + std::string(to_string(s.role)) + " term=" + std::to_string(s.term) +
                    " vote=" + std::to_string(s.vote) + " lead=" + std::to_string(s.leader) +
                    " log=" + std::to_string(s.first_index) + ".." + std::to_string(s.last_index) +
                    " commit=" + std::to_string(s.commit) + " applied=" + std::to_string(s.applied) + " " +
                    to_string(s.conf_state) + "\n";
  if (s.lead_transferee != kNoNode) out += "  transferring to " + std::to_string(s.lead_transferee) + "\n";
  if (s.reads_pending > 0) out += "  reads pending: " + std::to_string(s.reads_pending) + "\n";
  if (node.raft->raft().vote_withheld()) out += "  vote withheld\n";
  if (node.raft->raft().quiesced()) out += "  quiesced\n";
  out += describe_held(node.raft->raft());
  for (const auto& [peer, progress] : s.progress) {
    if (peer != node.id) out += "  " + std::to_string(peer) + ": " + progress.to_string() + "\n";
  }
  return out;
}

Status Cluster::add_node(const RaftConfig& config, const ConfState& bootstrap) {
  return add_node(config, MemoryLogStorage(bootstrap));
}

Status Cluster::add_node(const RaftConfig& config, MemoryLogStorage storage) {
  if (has(config.id)) return Status(Errc::invalid_argument, "node exists");
  ClusterNode& node = nodes_[config.id];
  node.id = config.id;
  node.config = config;
  node.storage = std::move(storage);
  Result<std::unique_ptr<RawNode>> raft = RawNode::create(config, node.storage, prng_for(node));
  if (!raft.ok()) {
    nodes_.erase(config.id);
    return raft.status();
  }
  node.raft = std::move(raft).value();
  if (auto observer = observer_.lock()) observer->started(node);
  return Status();
}

std::vector<NodeId> Cluster::ids() const {
  std::vector<NodeId> ids;
  for (const auto& [id, node] : nodes_) ids.push_back(id);
  return ids;
}

Prng Cluster::prng_for(const ClusterNode& node) const {
  return Prng(hash_combine(hash_combine(seed_, node.id), node.incarnation));
}

void Cluster::crash(NodeId id) {
  ClusterNode& node = nodes_.at(id);
  node.raft.reset();
  if (auto observer = observer_.lock()) observer->crashed(node);
}

Status Cluster::restart(NodeId id) {
  ClusterNode& node = nodes_.at(id);
  if (node.raft) return Status(Errc::invalid_argument, "node is up");
  ++node.incarnation;
  SLUICE_ASSIGN_OR_RETURN(node.raft, RawNode::create(node.config, node.storage, prng_for(node)));
  if (auto observer = observer_.lock()) observer->started(node);
  return Status();
}

std::optional<Ready> Cluster::process_ready(NodeId id) {
  ClusterNode& node = nodes_.at(id);
  if (!node.raft || !node.raft->has_ready()) return std::nullopt;
  Ready rd = node.raft->ready();
  const bool send_first = planted_bug_ == PlantedBug::raft_send_before_persist;
  if (send_first) send(node, rd);
  send_leader_appends(node, rd);
  persist(node, rd);
  // Durable from here on; only now may the messages leave.
  if (!send_first) send(node, rd);
  node.applications.insert(node.applications.end(), rd.committed_entries.begin(), rd.committed_entries.end());
  for (const ReadState& read : rd.read_states) node.reads.push_back(read);
  if (auto observer = observer_.lock()) observer->handled(node, rd);
  node.raft->advance();
  return rd;
}

bool Cluster::crash_during_ready(NodeId id) {
  ClusterNode& node = nodes_.at(id);
  if (!node.raft || !node.raft->has_ready()) return false;
  Ready rd = node.raft->ready();
  if (leader_sends_early_ && send_leader_appends(node, rd)) {
    crash(id);  // the leader's appends left; its writes never happened
    return true;
  }
  switch (planted_bug_) {
    case PlantedBug::raft_send_before_persist:
      send(node, rd);
      break;
    case PlantedBug::raft_skip_sync: {
      MemoryLogStorage synced = node.storage;
      persist(node, rd);
      send(node, rd);
      node.storage = std::move(synced);
      break;
    }
    default:
      persist(node, rd);
      break;
  }
  crash(id);
  return true;
}

void Cluster::persist(ClusterNode& node, const Ready& rd) {
  if (rd.log_start_jump) node.storage.reset_to(rd.log_start_jump->index, rd.log_start_jump->term, rd.log_start_jump->conf_state);
  const Status appended = node.storage.append(rd.entries);
  SLUICE_ASSERT(appended.ok());
  if (rd.hard_state) node.storage.set_hard_state(*rd.hard_state);
  if (rd.conf_state) node.storage.set_conf_state(*rd.conf_state);
  if (auto observer = observer_.lock()) observer->persisted(node, rd);
}

// True when messages left.
bool Cluster::send_leader_appends(ClusterNode& node, Ready& rd) {
  if (!leader_sends_early_ || !rd.must_sync()) return false;
  const std::vector<Message> early = node.raft->take_messages_before_sync(rd);
  if (early.empty()) return false;
  if (auto observer = observer_.lock()) observer->sent(node, early);
  for (const Message& m : early) network_.push_back(m);
  return true;
}

void Cluster::send(ClusterNode& node, const Ready& rd) {
  if (auto observer = observer_.lock()) observer->sent(node, rd.messages);
  for (const Message& m : rd.messages) network_.push_back(m);
}

bool Cluster::connected(NodeId a, NodeId b) const {
  if (groups_.empty()) return true;
  for (const std::set<NodeId>& group : groups_) {
    if (group.count(a) > 0) return group.count(b) > 0;
  }
  return false;  // a node in no group is cut off from everyone
}

bool Cluster::deliver(size_t position) {
  Message m = network_.at(position);
  drop(position);
  if (!up(m.to) || !connected(m.from, m.to)) return false;
  const Status stepped = nodes_.at(m.to).raft->step(m);
  SLUICE_ASSERT(stepped.ok());
  return true;
}

}  // namespace sluice::raft::testing
