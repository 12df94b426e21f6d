#include "tests/raft/transcript.h"

#include <map>
#include <utility>

namespace sluice::raft::testing {

namespace {

constexpr int kStabilizeRoundsMax = 1000;

using transcript::parse_u64;
using transcript::split;

std::string error(std::string_view what) { return "error: " + std::string(what); }

std::string ids_text(const std::set<NodeId>& ids) {
  std::string text;
  for (NodeId id : ids) text += (text.empty() ? "" : ",") + std::to_string(id);
  return text;
}

// One RaftConfig option of add-nodes or restart; false if `key` is not one.
Result<bool> set_config_option(RaftConfig& config, const std::string& key, const std::string& value) {
  static const std::map<std::string, bool RaftConfig::*> flags{{"pre-vote", &RaftConfig::pre_vote},
                                                                 {"check-quorum", &RaftConfig::check_quorum},
                                                                 {"quiesce", &RaftConfig::quiesce},
                                                                 {"lazy-commit", &RaftConfig::lazy_commit}};
  if (auto flag = flags.find(key); flag != flags.end()) {
    config.*(flag->second) = value == "true";
    return true;
  }
  static const std::map<std::string, void (*)(RaftConfig&, uint64_t)> numeric{
      {"election-ticks", [](RaftConfig& c, uint64_t v) { c.election_timeout_ticks = static_cast<uint32_t>(v); }},
      {"heartbeat-ticks", [](RaftConfig& c, uint64_t v) { c.heartbeat_interval_ticks = static_cast<uint32_t>(v); }},
      {"inflight-msgs-max", [](RaftConfig& c, uint64_t v) { c.inflight_msgs_max = static_cast<uint32_t>(v); }},
      {"inflight-bytes-max", [](RaftConfig& c, uint64_t v) { c.inflight_bytes_max = v; }},
      {"append-bytes-max", [](RaftConfig& c, uint64_t v) { c.append_bytes_max = v; }},
      {"uncommitted-bytes-max", [](RaftConfig& c, uint64_t v) { c.uncommitted_bytes_max = v; }},
      {"promotion-lag-max", [](RaftConfig& c, uint64_t v) { c.learner_promotion_lag_entries_max = v; }},
      {"read-pending-max", [](RaftConfig& c, uint64_t v) { c.read_index_pending_max = static_cast<uint32_t>(v); }},
  };
  auto setter = numeric.find(key);
  if (setter == numeric.end()) return false;
  std::optional<uint64_t> number = parse_u64(value);
  if (!number) return Status(Errc::invalid_argument, "bad value for " + key);
  setter->second(config, *number);
  return true;
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
  std::string out = dispatch(c);
  observe();
  // Notes not printed under the delivery that caused them (ticks, campaigns...).
  for (NodeId id : cluster_.ids()) out += notes(id, "");
  return transcript::finish_output(std::move(out));
}

std::string TranscriptRunner::dispatch(const Command& c) {
  if (c.name == "add-nodes") return add_nodes(c);
  if (c.name == "process-ready") {
    Result<std::vector<NodeId>> ids = node_args(c, true);
    return ids.ok() ? process_ready(*ids) : error(ids.status().to_string());
  }
  if (c.name == "deliver" || c.name == "drop") return deliver_or_drop(c, c.name == "deliver");
  if (c.name == "duplicate") return duplicate(c);
  if (c.name == "stabilize") return stabilize(c);
  if (c.name == "network") {
    std::string out;
    for (const Message& m : cluster_.network()) out += to_string(m) + "\n";
    return out;
  }
  if (c.name == "partition") return partition(c);
  if (c.name == "heal") {
    cluster_.heal();
    rules_.restore_all();
    return "";
  }
  if (transcript::NetworkRules::handles(c.name)) {
    return rules_.run(
        c, [this](const std::string& id) { return parse_u64(id) && cluster_.has(*parse_u64(id)); },
        [](const std::string& type) { return parse_message_type(type).has_value(); });
  }
  if (c.name == "inject") return inject(c);
  if (c.name == "set-storage") return set_storage(c);
  if (c.name == "raft-state") return raft_state();
  if (c.name == "change-membership") return change_membership(c);
  if (c.name == "trim") return trim(c);
  return run_node_command(c);
}

void TranscriptRunner::observe() {
  if (violation_) return;
  violation_ = checker_.check(cluster_);
}

// Messages still in flight when a case ends go with its cluster; saying so shows what the case
// left unfinished.
std::string TranscriptRunner::discard() {
  std::string out;
  for (const Message& m : cluster_.network()) out += "discarded: " + to_string(m) + "\n";
  return out;
}

std::string TranscriptRunner::notes(NodeId id, const std::string& indent) {
  ClusterNode& node = cluster_.node(id);
  if (!node.raft) return "";
  std::string out;
  for (const VoteNote& note : node.raft->take_vote_notes()) {
    out += indent + "note: " + std::to_string(id) + " " + to_string(note) + "\n";
  }
  return out;
}

// Commands acting on the nodes given as positional arguments.
std::string TranscriptRunner::run_node_command(const Command& c) {
  static const std::set<std::string> kNodeCommands{
      "status", "log",   "restart", "tick",    "tick-election",       "tick-heartbeat", "timers",
      "campaign", "crash", "propose", "set-election-timeout", "transfer-leadership", "leave-joint", "read-index", "wake"};
  if (kNodeCommands.count(c.name) == 0) return error("unknown command " + c.name);
  const bool all_by_default = c.name == "tick" || c.name == "timers";
  Result<std::vector<NodeId>> ids = node_args(c, all_by_default);
  if (!ids.ok()) return error(ids.status().to_string());
  std::string out;
  for (NodeId id : *ids) {
    if (c.name == "status") {
      out += status(id);
    } else if (c.name == "log") {
      out += log(id);
    } else if (c.name == "restart") {
      out += restart(c, id);
    } else if (!cluster_.up(id)) {
      return out + error(std::to_string(id) + " is down");
    } else {
      out += run_on_up_node(c, id);
    }
  }
  return out;
}

std::string TranscriptRunner::run_on_up_node(const Command& c, NodeId id) {
  ClusterNode& node = cluster_.node(id);
  Status result;
  if (c.name == "tick") {
    const uint64_t n = c.option("n") ? parse_u64(*c.option("n")).value_or(1) : 1;
    for (uint64_t i = 0; i < n; ++i) {
      node.raft->tick();
      observe();
    }
  } else if (c.name == "tick-election" || c.name == "tick-heartbeat") {
    return tick_until(c, id);
  } else if (c.name == "timers") {
    return timers(id);
  } else if (c.name == "set-election-timeout") {
    std::optional<uint64_t> ticks = c.option("ticks") ? parse_u64(*c.option("ticks")) : std::nullopt;
    if (!ticks || *ticks == 0) return error("set-election-timeout IDS ticks=N (N >= 1)") + "\n";
    node.raft->set_randomized_election_timeout(static_cast<uint32_t>(*ticks));
  } else if (c.name == "campaign") {
    result = node.raft->campaign();
  } else if (c.name == "crash") {
    cluster_.crash(id);
  } else if (c.name == "wake") {
    node.raft->wake();
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
  } else {  // read-index
    const std::string* context = c.option("ctx");
    const uint64_t ctx = context ? parse_u64(*context).value_or(0) : 0;
    result = node.raft->read_index(ctx);
    if (result.ok()) checker_.read_requested(node, ctx);
  }
  return result.ok() ? "" : error(result.to_string()) + "\n";
}

// Ticks until the node's election timer fires (a follower or candidate campaigns, unless it
// backs another pre-candidate; a leader checks its quorum) or its next heartbeat is due (a
// leader; elsewhere one heartbeat interval of ticks).
std::string TranscriptRunner::tick_until(const Command& c, NodeId id) {
  RawNode& raw = *cluster_.node(id).raft;
  const Raft& raft = raw.raft();
  const RaftConfig& config = raft.config();
  const bool leader = raft.role() == Role::leader;
  uint32_t ticks = config.heartbeat_interval_ticks;
  if (c.name == "tick-election") {
    const uint32_t timeout = leader ? config.election_timeout_ticks : raft.election_timeout_randomized_ticks();
    ticks = timeout > raft.election_elapsed_ticks() ? timeout - raft.election_elapsed_ticks() : 1;
  } else if (leader) {
    const uint32_t elapsed = raft.heartbeat_elapsed_ticks();
    ticks = config.heartbeat_interval_ticks > elapsed ? config.heartbeat_interval_ticks - elapsed : 1;
  }
  for (uint32_t i = 0; i < ticks; ++i) {
    raw.tick();
    observe();
  }
  return std::to_string(id) + ": " + std::to_string(ticks) + (ticks == 1 ? " tick" : " ticks") + "\n";
}

std::string TranscriptRunner::timers(NodeId id) {
  const Raft& raft = cluster_.node(id).raft->raft();
  const bool leader = raft.role() == Role::leader;
  std::string out = std::to_string(id) + ": election " + std::to_string(raft.election_elapsed_ticks()) + "/" +
                    std::to_string(leader ? raft.config().election_timeout_ticks : raft.election_timeout_randomized_ticks());
  if (leader) {
    out += " heartbeat " + std::to_string(raft.heartbeat_elapsed_ticks()) + "/" +
           std::to_string(raft.config().heartbeat_interval_ticks);
  }
  return out + "\n";
}

// A crashed node comes back from its storage, with config changes given as options.
std::string TranscriptRunner::restart(const Command& c, NodeId id) {
  RaftConfig& config = cluster_.node(id).config;
  const RaftConfig saved = config;
  for (const auto& [key, value] : c.options) {
    Result<bool> known = set_config_option(config, key, value);
    if (!known.ok() || !*known) {
      config = saved;
      return error(known.ok() ? "unknown option " + key : known.status().to_string()) + "\n";
    }
  }
  const Status restarted = cluster_.restart(id);
  if (!restarted.ok()) {
    config = saved;
    return error(restarted.to_string()) + "\n";
  }
  observe();
  return status(id);
}

std::string TranscriptRunner::set_storage(const Command& c) {
  std::optional<uint64_t> id = c.args.size() == 1 ? parse_u64(c.args[0]) : std::nullopt;
  if (!id || !cluster_.has(*id)) return error("set-storage ID [log=..] [base=I/T] [term=] [vote=] [commit=] [vote-withheld=] [voters=] [learners=]");
  if (cluster_.up(*id)) return error(std::to_string(*id) + " is up: crash it first");
  for (const auto& [key, value] : c.options) {
    if (!is_storage_option(key) && key != "voters" && key != "learners") return error("unknown option " + key);
  }
  Result<MemoryLogStorage> edited = edit_storage(cluster_.node(*id).storage, c);
  if (!edited.ok()) return error(edited.status().to_string());
  cluster_.node(*id).storage = std::move(edited).value();
  checker_.storage_replaced(cluster_.node(*id));  // edited by hand: not a lost durable state
  return log(*id);
}

std::string TranscriptRunner::inject(const Command& c) {
  const std::string* to = c.option("to");
  std::optional<uint64_t> recipient = to ? parse_u64(*to) : std::nullopt;
  if (!recipient || !cluster_.has(*recipient)) return error("inject from=F to=T type=TYPE [fields...]");
  const Term term = cluster_.up(*recipient) ? cluster_.node(*recipient).raft->status().term : 0;
  Result<Message> m = parse_message(c, term);
  if (!m.ok()) return error(m.status().to_string());
  if (m->from == kNoNode || m->from == m->to) return error("from= must name another node than to=");
  cluster_.network().push_back(*m);
  return "queued: " + to_string(*m);
}

std::string TranscriptRunner::add_nodes(const Command& c) {
  if (c.args.size() != 1 || !parse_u64(c.args[0])) return error("add-nodes <count> [key=value...]");
  const uint64_t count = *parse_u64(c.args[0]);
  ConfState bootstrap;
  for (uint64_t i = 0; i < count; ++i) bootstrap.voters.insert(next_id_ + i);
  RaftConfig config;
  config.planted_bug = planted_bug_;
  for (const auto& [key, value] : c.options) {
    if (key == "voters" || key == "learners") {
      std::optional<std::set<NodeId>> ids = parse_ids(value);
      if (!ids) return error("bad id list " + value);
      (key == "voters" ? bootstrap.voters : bootstrap.learners) = *ids;
      continue;
    }
    if (is_storage_option(key)) continue;
    Result<bool> known = set_config_option(config, key, value);
    if (!known.ok()) return error(known.status().to_string());
    if (!*known) return error("unknown option " + key);
  }
  // Preset log and hard state (storage options), the same for every new node.
  Result<MemoryLogStorage> storage = edit_storage(MemoryLogStorage(bootstrap), c);
  if (!storage.ok()) return error(storage.status().to_string());
  std::string out;
  for (uint64_t i = 0; i < count; ++i) {
    config.id = next_id_;
    const Status added = cluster_.add_node(config, *storage);
    if (!added.ok()) return out + error(added.to_string());
    ++next_id_;
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
           " commit=" + std::to_string(rd.hard_state->commit) + (rd.hard_state->vote_withheld ? " vote-withheld" : "") + "\n";
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
    if (std::optional<Ready> rd = cluster_.process_ready(id)) {
      observe();
      out += describe_ready(id, *rd);
    }
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

// Delivers network message `position`, or loses it to a rule, a partition or a crash: its line
// (after `prefix`), why it was lost, and the vote notes the recipient took while stepping it.
std::string TranscriptRunner::deliver_at(size_t position, const std::string& prefix) {
  const Message m = cluster_.network().at(position);
  const std::string line = prefix + to_string(m);
  if (std::optional<std::string> rule = rules_.lost_because(std::to_string(m.from), std::to_string(m.to),
                                                            std::string(to_string(m.type)))) {
    cluster_.drop(position);
    return line + "  (lost: " + *rule + ")\n";
  }
  if (!cluster_.deliver(position)) {
    return line + "  (lost: " + std::string(cluster_.up(m.to) ? "partitioned" : "down") + ")\n";
  }
  observe();
  return line + "\n" + notes(m.to, "  ");
}

std::string TranscriptRunner::deliver_or_drop(const Command& c, bool deliver) {
  std::string out;
  size_t removed = 0;  // positions shift down as messages leave the network
  for (size_t position : matching_messages(c)) {
    const size_t at = position - removed++;
    if (deliver) {
      out += deliver_at(at, "");
    } else {
      out += "dropped: " + to_string(cluster_.network().at(at)) + "\n";
      cluster_.drop(at);
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
        observe();
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
      out += deliver_at(i, "deliver: ");
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
                    std::to_string(state.hard_state.commit) + (state.hard_state.vote_withheld ? " vote-withheld" : "") + " " +
                    to_string(state.conf_state) + "\n";
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
