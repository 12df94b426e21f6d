#include "sim/workloads/raft.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

#include "node/base/hash.h"
#include "node/multiraft/host.h"
#include "node/partition/raft_storage.h"
#include "sim/checkers/raft_ledger.h"
#include "sim/checkers/raft_safety.h"
#include "sim/scenario.h"
#include "sim/sim_node.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"
#include "sim/workloads/safety_feed.h"

namespace sluice::sim {
namespace {

using multiraft::GroupId;
namespace rt = sluice::runtime;

constexpr uint16_t kRaftPort = 7100;
constexpr int64_t kControlIntervalNs = 5'000'000;
constexpr int64_t kHeartbeatControlIntervalNs = 100'000'000;
constexpr int64_t kElectionTimeoutNs = 60 * kNsPerS;  // no new leader this long: the run fails
constexpr int64_t kSettleTimeoutNs = 120 * kNsPerS;
constexpr GroupId kFirstGroup = 1;
constexpr double kElectionGoalMs = 450;  // issue 4's goal for the slowest election
// A node whose group storage failed (or could not be opened) exits; its service manager starts
// it again after this long (a fatal storage error ends a real node too: after a failed fsync
// nothing in memory can be trusted).
constexpr rt::Duration kStorageRestartDelay = std::chrono::milliseconds(500);
// With small segments the log's batches must be small too (a segment holds at least one).
constexpr size_t kSmallSegmentBatchBytesMax = 64 * 1024;
// How often a client picks a group its node leads (when there is one) rather than any group.
constexpr double kLeaderPickProbability = 0.9;

enum class Measure { election, heartbeats, safety };

struct RaftWorkloadConfig {
  Measure measure = Measure::election;
  int64_t groups = 1;
  int64_t tick_ms = 10;
  int64_t election_ticks = 15;
  int64_t heartbeat_ticks = 1;
  int64_t kills = 1000;
  int64_t window_ticks = 200;
  bool log_storage = true;  // LogRaftStorage on the node's simulated disk; false: memory (durable at once)
  // safety
  int64_t clients = 2;             // client fibers per node
  int64_t think_ms_max = 20;       // a client pauses uniformly 1..think_ms_max between operations
  double read_fraction = 0.25;     // of its operations; the others are writes
  int64_t payload_bytes_max = 1024;
  int64_t log_segment_bytes_max = 0;  // 0: the log's default
  int64_t log_roll_early_one_in = 0;  // LogOptions::roll_early_one_in
};

class RaftWorkload;

// measure = "safety": the clients of one node incarnation. Fibers that write to and read from
// random groups through the node's host while faults last; after faults stop, each writes only to
// groups its node leads that have no write acknowledged since (the liveness probe).
class ClientAgent final : public NodeAgent {
 public:
  ClientAgent(RaftWorkload& workload, SimRuntime& runtime, multiraft::RaftHost& host);

 private:
  void run(int64_t client);
  std::optional<GroupId> pick_group();
  void write(int64_t client, GroupId group);
  void read(GroupId group);

  RaftWorkload& workload_;
  SimRuntime& runtime_;
  multiraft::RaftHost& host_;
  Prng prng_;
  uint64_t sequence_ = 0;
};

class RaftWorkload final : public Workload {
 public:
  RaftWorkload(WorkloadContext context, const RaftWorkloadConfig& config)
      : world_(context.world),
        config_(config),
        nodes_(context.scenario.nodes),
        faults_stop_ns_(context.scenario.faults_stop_ns),
        prng_(context.prng) {
    feeds_ = make_safety_feeds(safety_, nodes_, [this](NodeIndex node) { on_group_failed(node); }, &world_);
    if (config_.measure != Measure::safety) schedule_control(kControlIntervalNs);
  }

  void configure_node(NodeIndex node, server::NodeConfig& config) override {
    config.raft = host_config(node);
    config.raft->observer = feeds_[static_cast<size_t>(node)].get();
  }
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override;
  void node_crashed(NodeIndex node) override { safety_.crashed(node_id_of(node)); }
  std::string failure() const override {
    if (const auto& violation = safety_.violation()) return "raft safety: " + *violation;
    if (const auto& violation = ledger_.violation()) return "raft clients: " + *violation;
    return failure_;
  }
  bool converged(int64_t) const override { return config_.measure == Measure::safety ? lagging().empty() : settled(); }
  void check_liveness(int64_t) override {
    if (config_.measure == Measure::safety) {
      if (std::string lag = lagging(); !lag.empty()) fail("liveness: " + lag);
    } else if (!settled()) {
      fail("liveness: some group has no leader that committed in its term, or a node lags");
    }
  }
  bool finished() const override { return finished_; }
  void report(Figures& figures) const override;

  // --- called from the nodes (their host fibers, clients and feeds) ---
  checkers::RaftSafety& safety() { return safety_; }
  checkers::RaftLedger& ledger() { return ledger_; }
  const RaftWorkloadConfig& config() const { return config_; }
  void on_apply(NodeIndex node, GroupId group, const raft::Entry& entry);
  void on_group_failed(NodeIndex node) {
    ++group_failures_;
    restart_after_storage_failure(node);
  }
  // Clients write and read at random while faults last; then only the liveness probes go out.
  bool writes_open() const { return world_.now_ns() < faults_stop_ns_; }
  // A group `host` leads that has no write acknowledged since faults stopped.
  std::optional<GroupId> probe_group(const multiraft::RaftHost& host) const;
  void on_write_reply(NodeIndex node, GroupId group, const multiraft::HostResult<raft::Index>& reply, uint64_t payload_hash,
                      bool probe);
  void on_read_reply(NodeIndex node, GroupId group, raft::Index floor, const multiraft::HostResult<raft::Index>& reply,
                     const multiraft::RaftHost& host);

 private:
  multiraft::RaftHost* host(NodeIndex node) const {
    server::Node* started = started_node(world_, node);
    return started == nullptr ? nullptr : started->raft();
  }
  multiraft::RaftHostConfig host_config(NodeIndex node) const;
  raft::RaftConfig group_config(NodeIndex node, PlantedBug planted_bug) const;
  raft::Result<std::unique_ptr<multiraft::GroupStorage>> storage(SimRuntime& runtime, GroupId group, PlantedBug planted_bug);
  bool add_groups(SimRuntime& runtime, server::Node& node);
  void restart_after_storage_failure(NodeIndex node);
  void fail(std::string message) {
    if (failure_.empty()) failure_ = std::move(message);
  }
  std::optional<NodeIndex> settled_leader(GroupId group) const;
  bool settled() const;
  std::string lagging() const;
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
  void report_safety(Figures& figures) const;

  World& world_;
  RaftWorkloadConfig config_;
  size_t nodes_;
  int64_t faults_stop_ns_;
  Prng prng_;
  std::string failure_;
  bool finished_ = false;
  // storage = "memory": survives crashes, the stable storage of every (node, group).
  std::map<std::pair<NodeIndex, GroupId>, raft::MemoryLogStorage> stores_;
  // Every node's host reports to both checkers.
  std::vector<std::unique_ptr<SafetyFeed>> feeds_;
  checkers::RaftSafety safety_;
  checkers::RaftLedger ledger_;
  // safety
  std::map<GroupId, bool> probed_;  // a write issued after faults stopped was acknowledged
  std::map<std::string, uint64_t> writes_failed_;  // by error code
  std::map<std::string, uint64_t> reads_failed_;
  uint64_t group_failures_ = 0;
  uint64_t storage_restarts_ = 0;
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

// --- the clients ---------------------------------------------------------------------------------

ClientAgent::ClientAgent(RaftWorkload& workload, SimRuntime& runtime, multiraft::RaftHost& host)
    : workload_(workload), runtime_(runtime), host_(host), prng_(runtime.random()) {
  for (int64_t client = 0; client < workload_.config().clients; ++client) {
    runtime_.spawn("raft-client", [this, client] { run(client); });
  }
}

void ClientAgent::run(int64_t client) {
  const RaftWorkloadConfig& config = workload_.config();
  auto next = [this] { return prng_.next(); };
  while (true) {
    const int64_t think_ns = random_range(next, 1, config.think_ms_max) * kNsPerMs;
    if (!runtime_.sleep_for(rt::Duration(think_ns)).ok()) return;  // cancelled: the node stops
    if (!workload_.writes_open()) {
      if (std::optional<GroupId> group = workload_.probe_group(host_)) write(client, *group);
      continue;
    }
    const std::optional<GroupId> group = pick_group();
    if (!group) continue;
    if (random_chance(next, config.read_fraction)) {
      read(*group);
    } else {
      write(client, *group);
    }
  }
}

// Mostly a group this node leads (the host does not forward to the leader: a client asks the
// leader, as a real one would after a not_leader answer), sometimes any group; a node leading
// none mostly lets the round pass (nullopt).
std::optional<GroupId> ClientAgent::pick_group() {
  auto next = [this] { return prng_.next(); };
  const uint64_t groups = static_cast<uint64_t>(workload_.config().groups);
  std::vector<GroupId> led;
  for (GroupId group = kFirstGroup; group < kFirstGroup + groups; ++group) {
    const raft::RawNode* core = host_.group(group);
    if (core != nullptr && core->raft().role() == raft::Role::leader) led.push_back(group);
  }
  if (random_chance(next, kLeaderPickProbability)) {
    if (led.empty()) return std::nullopt;
    return led[random_below(next, led.size())];
  }
  return kFirstGroup + random_below(next, groups);
}

// Every write is unique (node, incarnation, client, sequence), padded to a random size so that
// frames split and segments roll at varied points.
void ClientAgent::write(int64_t client, GroupId group) {
  const bool probe = !workload_.writes_open();
  std::string text = "g" + std::to_string(group) + " n" + std::to_string(runtime_.node() + 1) + " i" +
                     std::to_string(runtime_.incarnation()) + " c" + std::to_string(client) + " s" + std::to_string(sequence_++) + " ";
  text.append(random_below([this] { return prng_.next(); }, static_cast<uint64_t>(workload_.config().payload_bytes_max) + 1), 'x');
  const uint64_t payload_hash = hash_bytes(text);
  rt::Result<multiraft::HostResult<raft::Index>> reply = host_.propose(group, to_bytes(text)).receive();
  if (!reply.ok()) return;  // cancelled, or the host dropped the reply (the node stops)
  workload_.on_write_reply(runtime_.node(), group, *reply, payload_hash, probe);
}

void ClientAgent::read(GroupId group) {
  const raft::Index floor = workload_.ledger().read_floor(group);
  rt::Result<multiraft::HostResult<raft::Index>> reply = host_.read_index(group).receive();
  if (!reply.ok()) return;
  workload_.on_read_reply(runtime_.node(), group, floor, *reply, host_);
}

// --- the workload --------------------------------------------------------------------------------

std::unique_ptr<NodeAgent> RaftWorkload::node_started(SimRuntime& runtime, server::Node& node) {
  if (!add_groups(runtime, node)) return nullptr;
  if (config_.measure != Measure::safety) return nullptr;
  return std::make_unique<ClientAgent>(*this, runtime, *node.raft());
}

// On the node's boot fiber: recovering a log reads the (simulated) disk, which blocks.
bool RaftWorkload::add_groups(SimRuntime& runtime, server::Node& node) {
  const NodeIndex index = runtime.node();
  const PlantedBug planted_bug = node.config().planted_bug;
  for (int64_t i = 0; i < config_.groups; ++i) {
    const GroupId group = kFirstGroup + static_cast<GroupId>(i);
    auto storage = this->storage(runtime, group, planted_bug);
    if (!storage.ok()) {
      // Damage is a finding (no scenario of this kind flips bits); an I/O error (a failing or full
      // disk) ends the process, which its service manager restarts.
      if (storage.code() != raft::Errc::io_error) {
        fail(runtime.host().data() + std::string(": group ") + std::to_string(group) + " storage: " + storage.status().to_string());
      } else {
        restart_after_storage_failure(index);
      }
      return false;
    }
    multiraft::HostStatus added = node.raft()->add_group(group, group_config(index, planted_bug), std::move(storage).value(),
                                                         [this, index](GroupId g, const raft::Entry& entry) { on_apply(index, g, entry); });
    if (!added.ok()) {
      fail(runtime.host().data() + std::string(": add_group ") + std::to_string(group) + ": " + added.to_string());
      return false;
    }
  }
  return true;
}

void RaftWorkload::restart_after_storage_failure(NodeIndex node) {
  ++storage_restarts_;
  exit_and_restart(world_, node, world_.incarnation(node), kStorageRestartDelay);
}

multiraft::RaftHostConfig RaftWorkload::host_config(NodeIndex node) const {
  multiraft::RaftHostConfig config;
  config.tick_interval = std::chrono::milliseconds(config_.tick_ms);  // transport.self: the Node sets it from its identity
  config.transport.port = kRaftPort;
  for (size_t i = 0; i < nodes_; ++i) {
    const NodeIndex peer = static_cast<NodeIndex>(i);
    if (peer != node) config.transport.peers[node_id_of(peer)] = runtime::Address{world_.host(peer), kRaftPort};
  }
  return config;
}

raft::RaftConfig RaftWorkload::group_config(NodeIndex node, PlantedBug planted_bug) const {
  raft::RaftConfig config;
  config.id = node_id_of(node);
  config.election_timeout_ticks = static_cast<uint32_t>(config_.election_ticks);
  config.heartbeat_interval_ticks = static_cast<uint32_t>(config_.heartbeat_ticks);
  config.pre_vote = true;
  config.check_quorum = true;
  if (planted_bug == PlantedBug::raft_commit_previous_term) config.planted_bug = planted_bug;
  return config;
}

raft::Result<std::unique_ptr<multiraft::GroupStorage>> RaftWorkload::storage(SimRuntime& runtime, GroupId group,
                                                                             PlantedBug planted_bug) {
  raft::ConfState bootstrap;
  for (size_t i = 0; i < nodes_; ++i) bootstrap.voters.insert(node_id_of(static_cast<NodeIndex>(i)));
  if (config_.log_storage) {
    partition::RaftStorageOptions options;
    options.bootstrap = bootstrap;
    // The same options on every node and incarnation: replicas holding the same entries roll
    // their segments alike.
    if (config_.log_segment_bytes_max > 0) {
      options.log.segment_bytes_max = static_cast<uint64_t>(config_.log_segment_bytes_max);
      options.log.batch_bytes_max = kSmallSegmentBatchBytesMax;
    }
    options.log.roll_early_one_in = static_cast<uint32_t>(config_.log_roll_early_one_in);
    options.log.buggify_runtime = &runtime;
    options.log.planted_bug = planted_bug;
    auto log = partition::LogRaftStorage::open(runtime.fs(), "raft-group-" + std::to_string(group), options);
    if (!log.ok()) return log.status();
    return std::unique_ptr<multiraft::GroupStorage>(std::move(log).value());
  }
  auto it = stores_.find({runtime.node(), group});
  if (it == stores_.end()) it = stores_.emplace(std::make_pair(runtime.node(), group), raft::MemoryLogStorage(bootstrap)).first;
  return std::unique_ptr<multiraft::GroupStorage>(std::make_unique<multiraft::MemoryGroupStorage>(it->second));
}

void RaftWorkload::on_apply(NodeIndex node, GroupId group, const raft::Entry& entry) {
  if (config_.measure == Measure::safety) ledger_.applied(group, entry.index, entry.term, hash_bytes(entry.data));
  if (config_.measure != Measure::election) return;
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

std::optional<GroupId> RaftWorkload::probe_group(const multiraft::RaftHost& host) const {
  for (int64_t i = 0; i < config_.groups; ++i) {
    const GroupId group = kFirstGroup + static_cast<GroupId>(i);
    auto probed = probed_.find(group);
    if (probed != probed_.end() && probed->second) continue;
    const raft::RawNode* core = host.group(group);
    if (core != nullptr && core->raft().role() == raft::Role::leader) return group;
  }
  return std::nullopt;
}

void RaftWorkload::on_write_reply(NodeIndex node, GroupId group, const multiraft::HostResult<raft::Index>& reply,
                                  uint64_t payload_hash, bool probe) {
  if (!reply.ok()) {
    ++writes_failed_[std::string(multiraft::to_string(reply.code()))];
    return;
  }
  ledger_.acknowledged(group, node_id_of(node), *reply, payload_hash);
  if (probe) probed_[group] = true;
}

void RaftWorkload::on_read_reply(NodeIndex node, GroupId group, raft::Index floor, const multiraft::HostResult<raft::Index>& reply,
                                 const multiraft::RaftHost& host) {
  if (!reply.ok()) {
    ++reads_failed_[std::string(multiraft::to_string(reply.code()))];
    return;
  }
  const raft::RawNode* core = host.group(group);
  ledger_.read_returned(group, node_id_of(node), floor, *reply, core == nullptr ? 0 : core->status().applied);
}

// What keeps the cluster from having converged after faults stopped (safety): a group without a
// write acknowledged since, or a node that has not applied every acknowledged write. "" when none.
std::string RaftWorkload::lagging() const {
  for (int64_t i = 0; i < config_.groups; ++i) {
    const GroupId group = kFirstGroup + static_cast<GroupId>(i);
    auto probed = probed_.find(group);
    if (probed == probed_.end() || !probed->second) {
      return "group " + std::to_string(group) + " acknowledged no write issued after faults stopped";
    }
    const raft::Index acked = ledger_.acked_max(group);
    for (size_t n = 0; n < nodes_; ++n) {
      multiraft::RaftHost* h = host(static_cast<NodeIndex>(n));
      const raft::RawNode* core = h == nullptr ? nullptr : h->group(group);
      const raft::Index applied = core == nullptr ? 0 : core->status().applied;
      if (applied < acked) {
        return "group " + std::to_string(group) + " node " + std::to_string(node_id_of(static_cast<NodeIndex>(n))) +
               (core == nullptr ? " is down" : " applied only " + std::to_string(applied)) +
               ", acknowledged writes reach index " + std::to_string(acked);
      }
    }
  }
  return "";
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
      const multiraft::PeerStats peer = h->transport().peer_stats(node_id_of(static_cast<NodeIndex>(j)));
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
  if (config_.measure == Measure::safety) return report_safety(figures);
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

void RaftWorkload::report_safety(Figures& figures) const {
  auto add = [&figures](std::string key, uint64_t value) { figures.emplace_back(std::move(key), std::to_string(value)); };
  // "code:count,..." (the errors clients saw), "-" when none.
  auto by_code = [&figures](std::string key, const std::map<std::string, uint64_t>& counts) {
    std::string text;
    for (const auto& [code, count] : counts) text += (text.empty() ? "" : ",") + code + ":" + std::to_string(count);
    figures.emplace_back(std::move(key), text.empty() ? "-" : text);
  };
  add("writes_acknowledged", ledger_.acknowledged_count());
  by_code("writes_failed", writes_failed_);
  add("reads_checked", ledger_.reads_checked());
  by_code("reads_failed", reads_failed_);
  uint64_t committed = 0;
  for (int64_t i = 0; i < config_.groups; ++i) committed += safety_.committed_max(kFirstGroup + static_cast<GroupId>(i));
  add("entries_committed", committed);
  add("group_storage_failures", group_failures_);
  add("storage_restarts", storage_restarts_);
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
  reader.integer("clients", config.clients, 0, 64);
  reader.integer("think_ms_max", config.think_ms_max, 1, 60'000);
  reader.real("read_fraction", config.read_fraction, 0, 1);
  reader.integer("payload_bytes_max", config.payload_bytes_max, 0, 32 * 1024);
  reader.integer("log_segment_bytes_max", config.log_segment_bytes_max, 0, UINT32_MAX);
  reader.integer("log_roll_early_one_in", config.log_roll_early_one_in, 0, UINT32_MAX);
  if (config.log_segment_bytes_max > 0) {
    log::LogOptions options;
    options.segment_bytes_max = static_cast<uint64_t>(config.log_segment_bytes_max);
    options.batch_bytes_max = kSmallSegmentBatchBytesMax;
    if (!log::validate(options).ok()) reader.fail("log_segment_bytes_max", "must hold a segment header and one 64 KiB batch");
  }
  if (measure == "election") {
    config.measure = Measure::election;
  } else if (measure == "heartbeats") {
    config.measure = Measure::heartbeats;
  } else if (measure == "safety") {
    config.measure = Measure::safety;
    if (scenario.duration_ns - scenario.faults_stop_ns < 2 * kNsPerS) {
      reader.fail("measure", "safety judges liveness: needs at least 2 s after faults_stop_s");
    }
  } else {
    reader.fail("measure", "expected \"election\", \"heartbeats\" or \"safety\"");
  }
  if (config.heartbeat_ticks >= config.election_ticks) reader.fail("heartbeat_ticks", "must be below election_ticks");
  if (scenario.nodes < 3) reader.fail("measure", "needs at least 3 nodes");
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<RaftWorkload, RaftWorkloadConfig>>(config);
}

}  // namespace sluice::sim
