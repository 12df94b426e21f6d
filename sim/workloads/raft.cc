#include "sim/workloads/raft.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include "node/base/hash.h"
#include "node/multiraft/host.h"
#include "node/partition/raft_storage.h"
#include "sim/scenario.h"
#include "sim/sim_node.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"

namespace sluice::sim {
namespace {

using multiraft::GroupId;

constexpr uint16_t kRaftPort = 7100;
constexpr int64_t kControlIntervalNs = 5'000'000;
constexpr int64_t kHeartbeatControlIntervalNs = 100'000'000;
constexpr int64_t kElectionTimeoutNs = 60 * kNsPerS;  // no new leader this long: the run fails
constexpr int64_t kSettleTimeoutNs = 120 * kNsPerS;
constexpr GroupId kFirstGroup = 1;
constexpr double kElectionGoalMs = 450;  // issue 4's goal for the slowest election

enum class Measure { election, heartbeats };

struct RaftWorkloadConfig {
  Measure measure = Measure::election;
  int64_t groups = 1;
  int64_t tick_ms = 10;
  int64_t election_ticks = 15;
  int64_t heartbeat_ticks = 1;
  int64_t kills = 1000;
  int64_t window_ticks = 200;
  bool log_storage = true;  // LogRaftStorage on the node's simulated disk; false: memory (durable at once)
};

raft::NodeId raft_id(NodeIndex node) { return node_id_of(node); }

class RaftWorkload final : public Workload {
 public:
  RaftWorkload(WorkloadContext context, const RaftWorkloadConfig& config)
      : world_(context.world), config_(config), nodes_(context.scenario.nodes), prng_(context.prng) {
    schedule_control(kControlIntervalNs);
  }

  void configure_node(NodeIndex node, server::NodeConfig& config) override { config.raft = host_config(node); }
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override;
  std::string failure() const override { return failure_; }
  bool converged(int64_t) const override { return settled(); }
  void check_liveness(int64_t) override {
    if (!settled()) fail("liveness: some group has no leader that committed in its term, or a node lags");
  }
  bool finished() const override { return finished_; }
  void report(Figures& figures) const override;

  // --- called by the nodes' apps (on their host fibers) ---
  multiraft::RaftHostConfig host_config(NodeIndex node) const;
  raft::RaftConfig group_config(NodeIndex node) const;
  multiraft::HostResult<std::unique_ptr<multiraft::GroupStorage>> storage(SimRuntime& runtime, GroupId group);
  void on_apply(NodeIndex node, GroupId group, const raft::Entry& entry);
  void on_role(NodeIndex node, GroupId group, raft::Role role, raft::Term term);
  int64_t groups() const { return config_.groups; }
  void fail(std::string message) {
    if (failure_.empty()) failure_ = std::move(message);
  }

 private:
  multiraft::RaftHost* host(NodeIndex node) const {
    server::Node* started = started_node(world_, node);
    return started == nullptr ? nullptr : started->raft();
  }
  std::optional<NodeIndex> settled_leader(GroupId group) const;
  bool settled() const;
  void schedule_control(int64_t delay_ns) {
    world_.schedule(world_.now_ns() + delay_ns, -1, "raft.control", 0, [this] { control(); });
  }
  void control();
  void control_election();
  void control_heartbeats();
  struct Counters {
    uint64_t ticks = 0, heartbeat_msgs = 0, response_msgs = 0, frames = 0, heartbeats = 0;
  };
  Counters counters() const;

  World& world_;
  RaftWorkloadConfig config_;
  size_t nodes_;
  Prng prng_;
  std::string failure_;
  bool finished_ = false;
  // storage = "memory": survives crashes, the stable storage of every (node, group).
  std::map<std::pair<NodeIndex, GroupId>, raft::MemoryLogStorage> stores_;
  // Safety: the leader of each (group, term) and the entry at each applied (group, index).
  std::map<std::pair<GroupId, raft::Term>, NodeIndex> leaders_;
  std::map<std::pair<GroupId, raft::Index>, std::pair<raft::Term, uint64_t>> applied_;
  // election
  std::optional<NodeIndex> victim_;
  raft::Term victim_term_ = 0;
  int64_t crashed_at_ns_ = 0;
  std::optional<int64_t> elected_at_ns_;
  std::optional<int64_t> unhealthy_since_ns_;
  std::vector<double> election_ms_;
  uint64_t elections_split_ = 0;
  bool election_split_ = false;
  uint64_t elections_slow_unsplit_ = 0;  // above the goal without a split vote
  // heartbeats
  std::optional<Counters> window_start_;
  std::optional<int64_t> settled_at_ns_;
  Counters window_;
};

std::unique_ptr<NodeAgent> RaftWorkload::node_started(SimRuntime& runtime, server::Node& node) {
  const NodeIndex index = runtime.node();
  multiraft::RaftHost& host = *node.raft();
  host.set_role_observer([this, index](GroupId group, raft::Role role, raft::NodeId, raft::Term term) {
    on_role(index, group, role, term);
  });
  // On the node's boot fiber: recovering a log reads the (simulated) disk, which blocks.
  for (int64_t i = 0; i < config_.groups; ++i) {
    const GroupId group = kFirstGroup + static_cast<GroupId>(i);
    auto storage = this->storage(runtime, group);
    if (!storage.ok()) {
      fail(runtime.host().data() + std::string(": ") + storage.status().to_string());
      return nullptr;
    }
    multiraft::HostStatus added = host.add_group(group, group_config(index), std::move(storage).value(),
                                                 [this, index](GroupId g, const raft::Entry& entry) { on_apply(index, g, entry); });
    if (!added.ok()) {
      fail("add_group: " + added.to_string());
      return nullptr;
    }
  }
  return nullptr;
}

multiraft::RaftHostConfig RaftWorkload::host_config(NodeIndex node) const {
  multiraft::RaftHostConfig config;
  config.tick_interval = std::chrono::milliseconds(config_.tick_ms);
  config.transport.self = raft_id(node);
  config.transport.port = kRaftPort;
  for (size_t i = 0; i < nodes_; ++i) {
    const NodeIndex peer = static_cast<NodeIndex>(i);
    if (peer != node) config.transport.peers[raft_id(peer)] = runtime::Address{world_.host(peer), kRaftPort};
  }
  return config;
}

raft::RaftConfig RaftWorkload::group_config(NodeIndex node) const {
  raft::RaftConfig config;
  config.id = raft_id(node);
  config.election_timeout_ticks = static_cast<uint32_t>(config_.election_ticks);
  config.heartbeat_interval_ticks = static_cast<uint32_t>(config_.heartbeat_ticks);
  config.pre_vote = true;
  config.check_quorum = true;
  return config;
}

multiraft::HostResult<std::unique_ptr<multiraft::GroupStorage>> RaftWorkload::storage(SimRuntime& runtime, GroupId group) {
  raft::ConfState bootstrap;
  for (size_t i = 0; i < nodes_; ++i) bootstrap.voters.insert(raft_id(static_cast<NodeIndex>(i)));
  if (config_.log_storage) {
    partition::RaftStorageOptions options;
    options.bootstrap = bootstrap;
    auto log = partition::LogRaftStorage::open(runtime.fs(), "raft-group-" + std::to_string(group), options);
    if (!log.ok()) return multiraft::HostStatus(multiraft::HostErrc::storage_error, log.status().to_string());
    return std::unique_ptr<multiraft::GroupStorage>(std::move(log).value());
  }
  auto it = stores_.find({runtime.node(), group});
  if (it == stores_.end()) it = stores_.emplace(std::make_pair(runtime.node(), group), raft::MemoryLogStorage(bootstrap)).first;
  return std::unique_ptr<multiraft::GroupStorage>(std::make_unique<multiraft::MemoryGroupStorage>(it->second));
}

void RaftWorkload::on_role(NodeIndex node, GroupId group, raft::Role role, raft::Term term) {
  if (role != raft::Role::leader) return;
  auto [it, inserted] = leaders_.emplace(std::make_pair(group, term), node);
  if (!inserted && it->second != node) {
    fail("election safety: group " + std::to_string(group) + " has two leaders in term " + std::to_string(term) + ": " +
         world_.host(it->second) + " and " + world_.host(node));
  }
}

void RaftWorkload::on_apply(NodeIndex node, GroupId group, const raft::Entry& entry) {
  const std::pair<raft::Term, uint64_t> value{entry.term, hash_bytes(entry.data)};
  auto [it, inserted] = applied_.emplace(std::make_pair(group, entry.index), value);
  if (!inserted && it->second != value) {
    fail("state machine safety: " + world_.host(node) + " applied " + std::to_string(entry.index) + "/" +
         std::to_string(entry.term) + " in group " + std::to_string(group) + " where another node applied term " +
         std::to_string(it->second.first));
  }
  // A leader able to commit: it applied an entry of its own term (its no-op at the latest).
  multiraft::RaftHost* h = host(node);
  const raft::RawNode* core = h == nullptr ? nullptr : h->group(group);
  if (victim_ && !elected_at_ns_ && core != nullptr && core->raft().role() == raft::Role::leader &&
      core->raft().term() == entry.term && entry.term > victim_term_) {
    elected_at_ns_ = world_.now_ns();
    // More than one term for this election: a split vote (pre-vote spends no term).
    election_split_ = entry.term > victim_term_ + 1;
    if (election_split_) ++elections_split_;
  }
}

// The group's leader if it committed an entry of its term and every up node has applied as far.
std::optional<NodeIndex> RaftWorkload::settled_leader(GroupId group) const {
  std::optional<NodeIndex> leader;
  raft::Index commit = 0;
  for (size_t i = 0; i < nodes_; ++i) {
    multiraft::RaftHost* h = host(static_cast<NodeIndex>(i));
    const raft::RawNode* core = h == nullptr ? nullptr : h->group(group);
    if (core == nullptr || core->raft().role() != raft::Role::leader) continue;
    const raft::RaftLog& log = core->raft().log();
    auto term = log.term(log.committed());
    if (term.ok() && *term == core->raft().term()) {
      leader = static_cast<NodeIndex>(i);
      commit = log.committed();
    }
  }
  if (!leader) return std::nullopt;
  for (size_t i = 0; i < nodes_; ++i) {
    multiraft::RaftHost* h = host(static_cast<NodeIndex>(i));
    if (h == nullptr) return std::nullopt;
    const raft::RawNode* core = h->group(group);  // null while the node is still opening its storage
    if (core == nullptr || core->status().applied < commit) return std::nullopt;
  }
  return leader;
}

bool RaftWorkload::settled() const {
  for (int64_t i = 0; i < config_.groups; ++i) {
    if (!settled_leader(kFirstGroup + static_cast<GroupId>(i))) return false;
  }
  return true;
}

void RaftWorkload::control() {
  if (!failure_.empty() || finished_) return;
  if (config_.measure == Measure::election) {
    control_election();
    // A random phase against the tick, so crashes do not always land at the same point of it.
    schedule_control(kControlIntervalNs / 2 + static_cast<int64_t>(random_below([this] { return prng_.next(); },
                                                                                  kControlIntervalNs)));
  } else {
    control_heartbeats();
    schedule_control(kHeartbeatControlIntervalNs);
  }
}

void RaftWorkload::control_election() {
  const int64_t now = world_.now_ns();
  if (victim_) {
    if (elected_at_ns_) {
      election_ms_.push_back(static_cast<double>(*elected_at_ns_ - crashed_at_ns_) / kNsPerMs);
      if (!election_split_ && election_ms_.back() > kElectionGoalMs) ++elections_slow_unsplit_;
      world_.start(*victim_);
      victim_.reset();
      finished_ = static_cast<int64_t>(election_ms_.size()) >= config_.kills;
    } else if (now - crashed_at_ns_ > kElectionTimeoutNs) {
      fail("no leader committed within 60 s of crashing " + world_.host(*victim_));
    }
    return;
  }
  const std::optional<NodeIndex> leader = settled_leader(kFirstGroup);
  if (!leader) {
    if (!unhealthy_since_ns_) unhealthy_since_ns_ = now;
    if (now - *unhealthy_since_ns_ > kSettleTimeoutNs) fail("group did not settle within 120 s");
    return;
  }
  unhealthy_since_ns_.reset();
  victim_ = leader;
  victim_term_ = host(*leader)->group(kFirstGroup)->raft().term();
  crashed_at_ns_ = now;
  elected_at_ns_.reset();
  election_split_ = false;
  world_.crash(*leader);
}

RaftWorkload::Counters RaftWorkload::counters() const {
  Counters sum;
  for (size_t i = 0; i < nodes_; ++i) {
    multiraft::RaftHost* h = host(static_cast<NodeIndex>(i));
    if (h == nullptr) continue;
    sum.ticks += h->stats().ticks * (nodes_ - 1);  // one tick counts once per peer
    for (size_t j = 0; j < nodes_; ++j) {
      if (j == i) continue;
      const multiraft::PeerStats peer = h->transport().peer_stats(raft_id(static_cast<NodeIndex>(j)));
      sum.heartbeat_msgs += peer.heartbeat_msgs_sent;
      sum.response_msgs += peer.heartbeat_response_msgs_sent;
      sum.frames += peer.frames_sent;
      sum.heartbeats += peer.heartbeats_sent;
    }
  }
  return sum;
}

void RaftWorkload::control_heartbeats() {
  const int64_t now = world_.now_ns();
  if (!window_start_) {
    if (!settled()) {
      if (now > kSettleTimeoutNs) fail("groups did not settle within 120 s");
      return;
    }
    settled_at_ns_ = now;
    window_start_ = counters();
    return;
  }
  const Counters current = counters();
  if (current.ticks - window_start_->ticks < static_cast<uint64_t>(config_.window_ticks) * (nodes_ - 1) * nodes_) return;
  window_ = Counters{current.ticks - window_start_->ticks, current.heartbeat_msgs - window_start_->heartbeat_msgs,
                     current.response_msgs - window_start_->response_msgs, current.frames - window_start_->frames,
                     current.heartbeats - window_start_->heartbeats};
  finished_ = true;
}

void RaftWorkload::report(Figures& figures) const {
  auto add = [&figures](std::string key, std::string value) { figures.emplace_back(std::move(key), std::move(value)); };
  add("raft_groups", std::to_string(config_.groups));
  if (config_.measure == Measure::election) {
    std::vector<double> sorted = election_ms_;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const double median = median_of(sorted);
    add("elections_measured", std::to_string(n));
    add("election_ms_median", format_figure(median, 1));
    add("election_ms_p90", format_figure(n == 0 ? 0 : sorted[std::min(n - 1, n * 90 / 100)], 1));
    add("election_ms_p99", format_figure(n == 0 ? 0 : sorted[std::min(n - 1, n * 99 / 100)], 1));
    add("election_ms_max", format_figure(n == 0 ? 0 : sorted.back(), 1));
    const auto over = std::count_if(sorted.begin(), sorted.end(), [](double ms) { return ms > kElectionGoalMs; });
    add("elections_over_450ms", std::to_string(over));
    add("elections_split", std::to_string(elections_split_));
    add("elections_over_450ms_without_split", std::to_string(elections_slow_unsplit_));
    return;
  }
  const double peer_ticks = static_cast<double>(std::max<uint64_t>(window_.ticks, 1));
  char text[32];
  auto ratio = [&text, peer_ticks](uint64_t count) {
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(count) / peer_ticks);
    return std::string(text);
  };
  add("settled_s", settled_at_ns_ ? format_figure(static_cast<double>(*settled_at_ns_) / kNsPerS, 1) : "never");
  add("window_peer_ticks", std::to_string(window_.ticks));
  add("heartbeat_msgs_per_peer_per_tick", ratio(window_.heartbeat_msgs));
  add("heartbeat_response_msgs_per_peer_per_tick", ratio(window_.response_msgs));
  add("frames_per_peer_per_tick", ratio(window_.frames));
  add("group_heartbeats_per_peer_per_tick", ratio(window_.heartbeats));
}

}  // namespace

std::shared_ptr<const WorkloadSpec> parse_raft_workload(TableReader& reader, const Scenario& scenario) {
  RaftWorkloadConfig config;
  std::string measure = "election";
  reader.text("measure", measure);
  reader.integer("groups", config.groups, 1, 100'000);
  reader.integer("tick_ms", config.tick_ms, 1, 10'000);
  reader.integer("election_ticks", config.election_ticks, 2, 100'000);
  reader.integer("heartbeat_ticks", config.heartbeat_ticks, 1, 100'000);
  reader.integer("kills", config.kills, 0, 1'000'000);
  reader.integer("window_ticks", config.window_ticks, 1, 1'000'000);
  std::string storage = "log";
  reader.text("storage", storage);
  if (storage != "log" && storage != "memory") reader.fail("storage", "expected \"log\" or \"memory\"");
  config.log_storage = storage == "log";
  if (measure == "election") {
    config.measure = Measure::election;
  } else if (measure == "heartbeats") {
    config.measure = Measure::heartbeats;
  } else {
    reader.fail("measure", "expected \"election\" or \"heartbeats\"");
  }
  if (config.heartbeat_ticks >= config.election_ticks) reader.fail("heartbeat_ticks", "must be below election_ticks");
  if (scenario.nodes < 3) reader.fail("measure", "needs at least 3 nodes");
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<RaftWorkload, RaftWorkloadConfig>>(config);
}

}  // namespace sluice::sim
