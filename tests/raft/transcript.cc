#include "tests/raft/transcript.h"

#include <utility>

namespace sluice::raft::testing {

namespace {

constexpr int kStabilizeRoundsMax = 1000;

using transcript::parse_u64;
using transcript::split;

std::optional<std::set<NodeId>> parse_ids(std::string_view text) {
  std::set<NodeId> ids;
  if (text == "none") return ids;
  for (const std::string& part : split(text, ',')) {
    std::optional<uint64_t> id = parse_u64(part);
    if (!id || *id == 0) return std::nullopt;
    ids.insert(*id);
  }
  return ids;
}

std::string error(std::string_view what) { return "error: " + std::string(what); }

std::string ids_text(const std::set<NodeId>& ids) {
  std::string text;
  for (NodeId id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

}  // namespace

Result<std::vector<NodeId>> TranscriptRunner::node_args(const Command& c, bool all_by_default) {
  std::vector<NodeId> ids;
  if ((c.args.empty() && all_by_default) || (c.args.size() == 1 && c.args[0] == "all")) return cluster_.ids();
  for (const std::string& arg : c.args) {
    std::optional<std::set<NodeId>> parsed = parse_ids(arg);
    if (!parsed) return Status(Errc::invalid_argument, "bad node list " + arg);
    for (NodeId id : *parsed) {
      if (!cluster_.has(id)) return Status(Errc::invalid_argument, "no node " + std::to_string(id));
      ids.push_back(id);
    }
  }
  if (ids.empty()) return Status(Errc::invalid_argument, "which node?");
  return ids;
}

std::string TranscriptRunner::run(const Command& c) {
  std::string out;
  if (c.name == "add-nodes") {
    out = add_nodes(c);
  } else if (c.name == "process-ready") {
    Result<std::vector<NodeId>> ids = node_args(c, true);
    out = ids.ok() ? process_ready(*ids) : error(ids.status().to_string());
  } else if (c.name == "deliver" || c.name == "drop") {
    out = deliver_or_drop(c, c.name == "deliver");
  } else if (c.name == "duplicate") {
    out = duplicate(c);
  } else if (c.name == "stabilize") {
    out = stabilize(c);
  } else if (c.name == "network") {
    for (const Message& m : cluster_.network()) out += to_string(m) + "\n";
  } else if (c.name == "partition") {
    out = partition(c);
  } else if (c.name == "heal") {
    cluster_.heal();
  } else if (c.name == "raft-state") {
    out = raft_state();
  } else if (c.name == "change-membership") {
    out = change_membership(c);
  } else if (c.name == "trim") {
    out = trim(c);
  } else {
    out = run_node_command(c);
  }
  return transcript::finish_output(std::move(out));
}

// Commands acting on the nodes given as positional arguments.
std::string TranscriptRunner::run_node_command(const Command& c) {
  Result<std::vector<NodeId>> ids = node_args(c, c.name == "tick");
  if (!ids.ok()) return error(ids.status().to_string());
  std::string out;
  for (NodeId id : *ids) {
    if (c.name == "status") {
      out += status(id);
      continue;
    }
    if (c.name == "log") {
      out += log(id);
      continue;
    }
    ClusterNode& node = cluster_.node(id);
    if (c.name == "restart") {
      const Status restarted = cluster_.restart(id);
      out += restarted.ok() ? status(id) : error(restarted.to_string()) + "\n";
      continue;
    }
    if (!node.raft) return error(std::to_string(id) + " is down");
    Status result;
    if (c.name == "tick") {
      const uint64_t n = c.option("n") ? parse_u64(*c.option("n")).value_or(1) : 1;
      for (uint64_t i = 0; i < n; ++i) node.raft->tick();
    } else if (c.name == "campaign") {
      result = node.raft->campaign();
    } else if (c.name == "crash") {
      cluster_.crash(id);
    } else if (c.name == "propose") {
      const std::string* data = c.option("data");
      const uint64_t count = c.option("count") ? parse_u64(*c.option("count")).value_or(1) : 1;
      for (uint64_t i = 0; i < count && result.ok(); ++i) {
        std::string payload = data ? *data : "x";
        if (count > 1) payload += std::to_string(i + 1);
        result = node.raft->propose(to_bytes(payload));
      }
    } else if (c.name == "transfer-leadership") {
      const std::string* to = c.option("to");
      result = node.raft->transfer_leadership(to ? parse_u64(*to).value_or(0) : 0);
    } else if (c.name == "leave-joint") {
      result = node.raft->propose_conf_change(ConfChange{});
    } else if (c.name == "read-index") {
      const std::string* context = c.option("ctx");
      result = node.raft->read_index(context ? parse_u64(*context).value_or(0) : 0);
    } else {
      return error("unknown command " + c.name);
    }
    if (!result.ok()) out += error(result.to_string()) + "\n";
  }
  return out;
}

std::string TranscriptRunner::add_nodes(const Command& c) {
  if (c.args.size() != 1 || !parse_u64(c.args[0])) return error("add-nodes <count> [key=value...]");
  const uint64_t count = *parse_u64(c.args[0]);
  ConfState bootstrap;
  for (uint64_t i = 0; i < count; ++i) bootstrap.voters.insert(next_id_ + i);
  RaftConfig config;
  for (const auto& [key, value] : c.options) {
    if (key == "voters" || key == "learners") {
      std::optional<std::set<NodeId>> ids = parse_ids(value);
      if (!ids) return error("bad id list " + value);
      (key == "voters" ? bootstrap.voters : bootstrap.learners) = *ids;
      continue;
    }
    if (key == "pre-vote" || key == "check-quorum") {
      (key == "pre-vote" ? config.pre_vote : config.check_quorum) = value == "true";
      continue;
    }
    std::optional<uint64_t> number = parse_u64(value);
    if (!number) return error("bad value for " + key);
    if (key == "election-ticks") {
      config.election_timeout_ticks = static_cast<uint32_t>(*number);
    } else if (key == "heartbeat-ticks") {
      config.heartbeat_interval_ticks = static_cast<uint32_t>(*number);
    } else if (key == "inflight-msgs-max") {
      config.inflight_msgs_max = static_cast<uint32_t>(*number);
    } else if (key == "inflight-bytes-max") {
      config.inflight_bytes_max = *number;
    } else if (key == "append-bytes-max") {
      config.append_bytes_max = *number;
    } else if (key == "uncommitted-bytes-max") {
      config.uncommitted_bytes_max = *number;
    } else if (key == "promotion-lag-max") {
      config.learner_promotion_lag_entries_max = *number;
    } else if (key == "read-pending-max") {
      config.read_index_pending_max = static_cast<uint32_t>(*number);
    } else {
      return error("unknown option " + key);
    }
  }
  std::string out;
  for (uint64_t i = 0; i < count; ++i) {
    config.id = next_id_++;
    const Status added = cluster_.add_node(config, bootstrap);
    if (!added.ok()) return error(added.to_string());
    out += status(config.id);
  }
  return out;
}

std::string TranscriptRunner::describe_ready(NodeId id, const Ready& rd) const {
  std::string out = "> " + std::to_string(id) + " ready\n";
  if (rd.soft_state) {
    out += "  state: " + std::string(to_string(rd.soft_state->role)) + " lead=" + std::to_string(rd.soft_state->leader) + "\n";
  }
  if (rd.hard_state) {
    out += "  hard: term=" + std::to_string(rd.hard_state->term) + " vote=" + std::to_string(rd.hard_state->vote) +
           " commit=" + std::to_string(rd.hard_state->commit) + "\n";
  }
  if (rd.conf_state) out += "  conf: " + to_string(*rd.conf_state) + "\n";
  if (rd.log_start_jump) {
    out += "  jump: after " + std::to_string(rd.log_start_jump->index) + "/" + std::to_string(rd.log_start_jump->term) + "\n";
  }
  if (!rd.entries.empty()) out += "  persist: " + to_string(rd.entries) + "\n";
  for (const Message& m : rd.messages) out += "  send: " + to_string(m) + "\n";
  if (!rd.committed_entries.empty()) out += "  apply: " + to_string(rd.committed_entries) + "\n";
  for (const ReadState& read : rd.read_states) {
    out += "  read: ctx=" + std::to_string(read.context) +
           (read.dropped ? std::string(" dropped") : " index=" + std::to_string(read.index)) + "\n";
  }
  for (const RaftEvent& event : rd.events) {
    out += "  event: " + std::string(to_string(event.kind)) + (event.detail.empty() ? "" : " " + event.detail) + "\n";
  }
  return out;
}

std::string TranscriptRunner::process_ready(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) {
    if (std::optional<Ready> rd = cluster_.process_ready(id)) out += describe_ready(id, *rd);
  }
  return out;
}

std::vector<size_t> TranscriptRunner::matching_messages(const Command& c) const {
  std::vector<size_t> positions;
  const std::string* from = c.option("from");
  const std::string* to = c.option("to");
  const std::string* type = c.option("type");
  const std::string* context = c.option("ctx");
  const std::deque<Message>& network = cluster_.network();
  for (size_t i = 0; i < network.size(); ++i) {
    const Message& m = network[i];
    if (from && std::to_string(m.from) != *from) continue;
    if (to && std::to_string(m.to) != *to) continue;
    if (type && to_string(m.type) != *type) continue;
    if (context && std::to_string(m.context) != *context) continue;
    positions.push_back(i);
  }
  if (const std::string* count = c.option("count")) {
    positions.resize(std::min<size_t>(positions.size(), parse_u64(*count).value_or(0)));
  }
  return positions;
}

std::string TranscriptRunner::deliver_or_drop(const Command& c, bool deliver) {
  std::string out;
  size_t removed = 0;  // positions shift down as messages leave the network
  for (size_t position : matching_messages(c)) {
    const size_t at = position - removed++;
    const Message m = cluster_.network().at(at);
    if (!deliver) {
      cluster_.drop(at);
      out += "dropped: " + to_string(m) + "\n";
    } else if (cluster_.deliver(at)) {
      out += to_string(m) + "\n";
    } else {
      out += to_string(m) + "  (lost: " + std::string(cluster_.up(m.to) ? "partitioned" : "down") + ")\n";
    }
  }
  return out;
}

std::string TranscriptRunner::duplicate(const Command& c) {
  std::string out;
  for (size_t position : matching_messages(c)) {
    const Message m = cluster_.network().at(position);
    cluster_.network().push_back(m);
    out += "duplicated: " + to_string(m) + "\n";
  }
  return out;
}

std::string TranscriptRunner::stabilize(const Command& c) {
  bool quiet = false;
  Command nodes = c;
  nodes.args.clear();
  for (const std::string& arg : c.args) {
    if (arg == "quiet") {
      quiet = true;
    } else {
      nodes.args.push_back(arg);
    }
  }
  Result<std::vector<NodeId>> ids = node_args(nodes, true);
  if (!ids.ok()) return error(ids.status().to_string());
  const std::set<NodeId> members(ids->begin(), ids->end());
  std::string out;
  for (int round = 0; round < kStabilizeRoundsMax; ++round) {
    bool busy = false;
    for (NodeId id : *ids) {
      if (std::optional<Ready> rd = cluster_.process_ready(id)) {
        busy = true;
        out += describe_ready(id, *rd);
      }
    }
    std::deque<Message>& network = cluster_.network();
    for (size_t i = 0; i < network.size();) {
      if (members.count(network[i].to) == 0) {
        ++i;
        continue;
      }
      busy = true;
      const Message m = network[i];
      const bool delivered = cluster_.deliver(i);
      out += "deliver: " + to_string(m) +
             (delivered ? "" : "  (lost: " + std::string(cluster_.up(m.to) ? "partitioned" : "down") + ")") + "\n";
    }
    if (!busy) return quiet ? "" : out;
  }
  return error("stabilize did not settle within " + std::to_string(kStabilizeRoundsMax) + " rounds");
}

std::string TranscriptRunner::partition(const Command& c) {
  std::vector<std::set<NodeId>> groups;
  for (const std::string& arg : c.args) {
    std::optional<std::set<NodeId>> group = parse_ids(arg);
    if (!group) return error("bad group " + arg);
    groups.push_back(*group);
  }
  cluster_.partition(groups);
  std::string out;
  for (const std::set<NodeId>& group : groups) out += (out.empty() ? "" : " | ") + ids_text(group);
  return "partitioned: " + out;
}

std::string TranscriptRunner::change_membership(const Command& c) {
  Result<std::vector<NodeId>> ids = node_args(c, false);
  if (!ids.ok() || ids->size() != 1) return error("change-membership <leader> add=..|learner=..|remove=.. [transition=..]");
  ConfChange change;
  for (const auto& [key, value] : c.options) {
    if (key == "transition") {
      if (value == "auto") {
        change.transition = ConfChangeTransition::automatic;
      } else if (value == "joint") {
        change.transition = ConfChangeTransition::joint_auto_leave;
      } else if (value == "explicit") {
        change.transition = ConfChangeTransition::joint_explicit_leave;
      } else {
        return error("transition is auto, joint or explicit");
      }
      continue;
    }
    ConfChangeType type = ConfChangeType::add_voter;
    if (key == "learner") {
      type = ConfChangeType::add_learner;
    } else if (key == "remove") {
      type = ConfChangeType::remove_node;
    } else if (key != "add") {
      return error("unknown option " + key);
    }
    std::optional<std::set<NodeId>> nodes = parse_ids(value);
    if (!nodes) return error("bad id list " + value);
    for (NodeId node : *nodes) change.items.push_back({type, node});
  }
  ClusterNode& node = cluster_.node(ids->front());
  if (!node.raft) return error("node is down");
  const Status proposed = node.raft->propose_conf_change(change);
  return proposed.ok() ? "" : error(proposed.to_string());
}

std::string TranscriptRunner::status(NodeId id) { return describe_node(cluster_.node(id)); }

std::string TranscriptRunner::raft_state() {
  std::string out;
  for (NodeId id : cluster_.ids()) {
    ClusterNode& node = cluster_.node(id);
    if (!node.raft) {
      out += std::to_string(id) + ": down\n";
      continue;
    }
    const NodeStatus s = node.raft->status();
    out += std::to_string(id) + ": " + std::string(to_string(s.role)) + " term=" + std::to_string(s.term) +
           " lead=" + std::to_string(s.leader) + " last=" + std::to_string(s.last_index) +
           " commit=" + std::to_string(s.commit) + "\n";
  }
  return out;
}

std::string TranscriptRunner::log(NodeId id) {
  ClusterNode& node = cluster_.node(id);
  MemoryLogStorage& storage = node.storage;
  const InitialState state = storage.initial_state();
  std::string out = std::to_string(id) + " persisted: base=" + std::to_string(storage.base_index()) + "/" +
                    std::to_string(storage.base_term()) + " term=" + std::to_string(state.hard_state.term) +
                    " vote=" + std::to_string(state.hard_state.vote) + " commit=" +
                    std::to_string(state.hard_state.commit) + " " + to_string(state.conf_state) + "\n";
  if (!storage.all_entries().empty()) out += "  " + to_string(storage.all_entries()) + "\n";
  if (node.raft && !node.raft->raft().log().unstable().entries().empty()) {
    out += "  unstable: " + to_string(node.raft->raft().log().unstable().entries()) + "\n";
  }
  return out;
}

std::string TranscriptRunner::trim(const Command& c) {
  Result<std::vector<NodeId>> ids = node_args(c, false);
  const std::string* to = c.option("to");
  if (!ids.ok() || !to || !parse_u64(*to)) return error("trim <ids> to=<index>");
  std::string out;
  for (NodeId id : *ids) {
    ClusterNode& node = cluster_.node(id);
    const Index index = *parse_u64(*to);
    // The retention contract: only applied entries may go.
    if (!node.raft || node.raft->status().applied < index) return error("trim beyond the applied index");
    const Status trimmed = node.storage.trim_to(index);
    if (!trimmed.ok()) return error(trimmed.to_string());
    out += std::to_string(id) + ": log starts at " + std::to_string(node.storage.first_index()) + "\n";
  }
  return out;
}

}  // namespace sluice::raft::testing
