#include "sim/workloads/cluster.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "client/resolver.h"
#include "node/base/coverage.h"
#include "node/base/hash.h"
#include "node/controller/controller.h"
#include "node/partition/raft_storage.h"
#include "node/server/identity.h"
#include "sim/checkers/partition_ledger.h"
#include "sim/checkers/raft_safety.h"
#include "sim/scenario.h"
#include "sim/sim_node.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"
#include "sim/workloads/partition_setup.h"
#include "sim/workloads/safety_feed.h"

namespace sluice::sim {
namespace {

namespace rt = sluice::runtime;

constexpr std::string_view kTopicName = "events";
constexpr rt::Duration kAdminRetry = std::chrono::milliseconds(200);
constexpr rt::Duration kPollDeadline = std::chrono::seconds(1);
constexpr rt::Duration kSkippedPollPauseMin = std::chrono::milliseconds(10);  // a skipped poll's pause with no long-poll wait
constexpr rt::Duration kRequestTimeout = std::chrono::seconds(3);
constexpr rt::Duration kDeliveryTimeout = std::chrono::seconds(600);  // longer than any run: nothing is given up
constexpr rt::Duration kStorageRestartDelay = std::chrono::milliseconds(500);
// A node that failed this many starts in a row on a damaged Raft state file, or on its identity
// files with both copies damaged, is lost (lost_to_damage): a transient disk error fails a start
// once or twice, not three times in a row at these rates.
constexpr uint64_t kFailedStartsForLost = 3;

struct ClusterConfig {
  PartitionsConfig replicas;  // placement is always "controller"
  int64_t client_hosts = 2;
  int64_t producers = 1;
  int64_t consumers = 1;
  bool idempotent = true;
  int64_t think_ms_max = 20;
  int64_t payload_bytes_max = 200;
  int64_t fetch_wait_ms = 200;
  bool consumers_confirm_end = false;  // consumers ask for confirmed high watermarks, which the ledger judges
  int64_t admin_churn_ms = 0;     // the admin client creates, alters and deletes a scratch topic this often (0: never)
  int64_t decommission_node = 0;  // node id the admin client drains (0: none)
  int64_t decommission_at_ns = 0;
  // NodeConfig::identity_scrub_period (0: only at start)
  int64_t identity_scrub_ms = std::chrono::duration_cast<std::chrono::milliseconds>(server::kIdentityScrubPeriodDefault).count();
  SkippedOps skip_ops;  // records dropped (sim/workloads/client_ops.h): drawn, not sent
};

// What the workload keeps of one producer across the run (its client objects live on its host).
struct ProducerState {
  std::string name;
  std::map<uint64_t, uint64_t> record_of_id;  // the producer's record id -> the ledger's record
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;
  uint64_t undelivered = 0;
  uint64_t probe_id = 0;  // the producer's id of its probe: a record sent after faults stopped
  bool probed = false;    // and acknowledged
  uint64_t ops = 0;       // records drawn so far, skipped ones included: the next record's seq
  std::vector<ClientOp> issued;  // the records sent (not skipped), probe excluded
};

struct ConsumerState {
  uint64_t id = 0;  // the ledger's consumer id
  std::string name;  // its stream of client operations: "client<h>.c<k>"
  std::map<uint32_t, uint64_t> next_offset;  // per partition
  uint64_t polls = 0;            // polls so far, skipped ones included: the next poll's seq
  std::vector<ClientOp> issued;  // the polls made (not skipped)
};

class ClusterWorkload;

// One client host: the admin client, its producers and its consumers, each on its own fiber.
class ClientAgent final : public NodeAgent {
 public:
  ClientAgent(ClusterWorkload& workload, SimRuntime& runtime, size_t host);

 private:
  void run();
  bool create_topic();
  void decommission();
  void churn_topics();
  bool scratch_cycle(const std::string& name);
  template <typename Call>
  bool until_done(Call call);
  void count_admin_error(const client::Status& status);
  void produce(ProducerState& state);
  bool send_record(client::Producer& producer, ProducerState& state, uint64_t seq, const std::string& value, bool probe);
  void consume(ConsumerState& state);
  // For the timeline: a client operation on this host (bound to a partition, or -1; the label is
  // built only when there is a timeline), and the metadata requests the host's resolver started
  // since the last look.
  template <typename Label>
  void note(Label label, int64_t partition = -1);
  void note_metadata_requests();
  void note_consumed(uint64_t consumer, const client::PollResult& polled);

  ClusterWorkload& workload_;
  SimRuntime& runtime_;
  size_t host_;
  Prng prng_;
  std::unique_ptr<client::Client> client_;
  std::vector<std::unique_ptr<client::Producer>> producers_;
  std::vector<std::unique_ptr<client::Consumer>> consumers_;
  uint64_t metadata_requests_seen_ = 0;
};

class ClusterWorkload final : public Workload {
 public:
  ClusterWorkload(WorkloadContext context, const ClusterConfig& config)
      : world_(context.world),
        config_(config),
        nodes_(context.scenario.nodes),
        faults_stop_ns_(context.scenario.faults_stop_ns),
        planted_bug_(context.scenario.planted_bug),
        timing_(context.scenario.timing),
        ledger_(config.idempotent) {
    // A swarm variant's topic shape (sim/swarm.h) overrides the table's.
    if (context.scenario.shape.partitions != 0) config_.replicas.partitions = context.scenario.shape.partitions;
    if (context.scenario.shape.replication != 0) config_.replicas.replication = context.scenario.shape.replication;
    feeds_ = make_safety_feeds(safety_, nodes_, [this](NodeIndex node) { restart(node); }, &world_);
    for (int64_t h = 0; h < config_.client_hosts; ++h) {
      for (int64_t k = 0; k < config_.producers; ++k) {
        producers_.push_back(std::make_unique<ProducerState>());
        producers_.back()->name = "client" + std::to_string(h) + ".p" + std::to_string(k);
      }
      for (int64_t k = 0; k < config_.consumers; ++k) {
        consumers_.push_back(std::make_unique<ConsumerState>());
        consumers_.back()->id = static_cast<uint64_t>(h) * 1000 + static_cast<uint64_t>(k) + 1;
        consumers_.back()->name = "client" + std::to_string(h) + ".c" + std::to_string(k);
      }
    }
  }

  void configure_node(NodeIndex node, server::NodeConfig& config) override {
    if (is_client_host(node)) return;  // a client host: no part of the node runs
    multiraft::RaftHostConfig host;
    host.tick_interval = std::chrono::microseconds(std::llround(static_cast<double>(config_.replicas.tick_ms) * 1000 * timing_.raft));
    host.transport.port = kRaftPort;
    host.observer = feeds_[node].get();
    config.raft = host;
    config.partitions = partition::RouterConfig{};
    configure_controller(config_.replicas, world_, nodes_, node, config, timing_.swim);
    config.http.emplace().port = kHttpPort;
    config.identity_scrub_period = std::chrono::milliseconds(config_.identity_scrub_ms);
    // The clients are anonymous administrators: auth has its own tests (tests/server/api_test.cc).
    config.auth.anonymous_allowed = true;
    config.auth.anonymous.cluster_admin = true;
  }
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override {
    (void)node;
    if (!is_client_host(runtime.node())) return nullptr;
    return std::make_unique<ClientAgent>(*this, runtime, static_cast<size_t>(runtime.node()) - nodes_);
  }
  void node_crashed(NodeIndex node) override {
    if (!is_client_host(node)) safety_.crashed(node_id_of(node));
  }
  void on_bit_flip(NodeIndex node) override { bit_flipped_.insert(node); }
  std::string failure() const override {
    if (const auto& violation = safety_.violation()) return "raft safety: " + *violation;
    if (const auto& violation = ledger_.violation()) return "partition ledger: " + *violation;
    if (segments_differing_ > 0) return "replica divergence: " + first_segment_difference_;
    return failure_;
  }
  // The first time everything has converged the sealed segments are compared too, before
  // retention can remove those of replicas that caught up by a log-start jump.
  bool converged(int64_t) const override {
    if (!lagging().empty()) return false;
    if (!compared_at_convergence_) {
      compared_at_convergence_ = true;
      compare_segments();
    }
    return true;
  }
  std::string waiting_for() const override { return lagging(); }
  void check_liveness(int64_t) override;
  void not_converged() override;
  void report(Figures& figures) const override;
  // The timeline's partition filter: which Raft group replicates which partition.
  void name_groups() const;

  // --- for the client agents ---
  const ClusterConfig& config() const { return config_; }
  void scratch_created(TopicId topic) { scratch_topics_.insert(topic); }
  void note_decommission_acknowledged() { decommission_acknowledged_ = true; }
  PlantedBug planted_bug() const { return planted_bug_; }
  std::vector<rt::Address> brokers() const {
    std::vector<rt::Address> out;
    for (size_t i = 0; i < nodes_; ++i) out.push_back(rt::Address{world_.host(static_cast<NodeIndex>(i)), kHttpPort});
    return out;
  }
  client::TopicSpec topic_spec() const {
    const controller::CreateTopic command = topic_command(config_.replicas, kTopicName);
    client::TopicSpec spec{command.name, command.partitions, command.replication, {}};
    spec.config.retention_ms = command.config.retention_ms;
    spec.config.retention_bytes = command.config.retention_bytes;
    spec.config.segment_bytes = command.config.segment_bytes;
    return spec;
  }
  void topic_created(TopicId topic) {
    if (topic_ == 0) topic_ = topic;
  }
  bool writes_open() const { return world_.now_ns() < faults_stop_ns_; }
  std::vector<ProducerState*> producers_of(size_t host) {
    std::vector<ProducerState*> out;
    for (int64_t k = 0; k < config_.producers; ++k) out.push_back(producers_[host * static_cast<size_t>(config_.producers) + static_cast<size_t>(k)].get());
    return out;
  }
  std::vector<ConsumerState*> consumers_of(size_t host) {
    std::vector<ConsumerState*> out;
    for (int64_t k = 0; k < config_.consumers; ++k) out.push_back(consumers_[host * static_cast<size_t>(config_.consumers) + static_cast<size_t>(k)].get());
    return out;
  }
  checkers::PartitionLedger& ledger() { return ledger_; }
  bool skipped(const std::string& stream, uint64_t seq) const {
    auto seqs = config_.skip_ops.find(stream);
    return seqs != config_.skip_ops.end() && seqs->second.contains(seq);
  }
  void topic_cycle_issued(uint64_t seq) { topic_cycles_.push_back(ClientOp{std::string(kAdminChurnStream), seq, ClientOpKind::topic_cycle}); }
  void listen_for_leader_moments(std::function<void(NodeIndex, checkers::LeaderMoment)> listener) override {
    if (!listener) return safety_.set_leader_moment_listener(nullptr);
    safety_.set_leader_moment_listener([listener = std::move(listener)](GroupId, raft::NodeId id, checkers::LeaderMoment moment) {
      listener(node_index_of(id), moment);
    });
  }
  void group_leaders(std::vector<NodeIndex>& out) const override {
    for (raft::NodeId leader : safety_.group_leaders()) out.push_back(node_index_of(leader));
  }
  void client_ops(std::vector<ClientOp>& out) const override {
    for (const auto& producer : producers_) out.insert(out.end(), producer->issued.begin(), producer->issued.end());
    out.insert(out.end(), topic_cycles_.begin(), topic_cycles_.end());
    for (const auto& consumer : consumers_) out.insert(out.end(), consumer->issued.begin(), consumer->issued.end());
  }
  void count(const std::string& what) { ++counts_[what]; }
  void add_producer_stats(const client::ProducerStats& stats) {
    retries_ += stats.core.retries;
    duplicates_answered_ += stats.core.duplicates;
  }
  // A host's resolver is shared by its producers and consumers: its count so far, per host.
  void note_metadata_requests(size_t host, uint64_t requests) { metadata_requests_[host] = requests; }
  void fail(std::string message) {
    if (failure_.empty()) failure_ = std::move(message);
  }
  Timeline* timeline() const { return world_.timeline(); }

 private:
  bool is_client_host(NodeIndex node) const { return static_cast<size_t>(node) >= nodes_; }
  void restart(NodeIndex node) {
    ++storage_restarts_;
    exit_and_restart(world_, node, world_.incarnation(node), kStorageRestartDelay);
  }
  std::vector<NodeIndex> replicas_of(uint32_t partition) const { return placed_replicas(world_, nodes_, topic_, partition); }
  std::vector<NodeIndex> replicas_to_compare(uint32_t partition) const;
  const partition::Replica* replica(NodeIndex node, uint32_t partition) const {
    const server::Node* started = started_node(world_, node);
    if (started == nullptr || started->partitions() == nullptr) return nullptr;
    return started->partitions()->replica(PartitionId{topic_, partition});
  }
  std::string lagging() const;
  bool lost_to_damage(NodeIndex node) const;
  size_t hosts_outside(const std::set<NodeId>& members) const;
  bool spare_outside(const std::set<NodeId>& members) const { return hosts_outside(members) > 0; }
  bool state_file_lost(NodeIndex node, uint32_t partition) const;
  std::set<NodeId> with_lost_on(std::set<NodeId> members, uint32_t partition) const;
  std::string not_running(NodeIndex node) const;
  std::string controller_voters_lagging() const;
  std::string partition_lagging(uint32_t partition) const;
  std::string group_views(uint32_t partition) const;
  std::string decommission_lagging(const controller::Metadata& metadata) const;
  std::string scratch_lagging(const controller::Metadata& metadata) const;

  World& world_;
  ClusterConfig config_;
  size_t nodes_;
  int64_t faults_stop_ns_;
  PlantedBug planted_bug_;
  TimingScale timing_;  // swarm testing: how this seed scales the nodes' timers
  bool decommission_acknowledged_ = false;
  std::set<TopicId> scratch_topics_;  // created by the admin churn, deleted before writes close
  std::vector<ClientOp> topic_cycles_;  // the admin churn's rounds started (not skipped)
  std::string failure_;
  std::vector<std::unique_ptr<SafetyFeed>> feeds_;
  checkers::RaftSafety safety_;
  checkers::PartitionLedger ledger_;
  std::vector<std::unique_ptr<ProducerState>> producers_;
  std::vector<std::unique_ptr<ConsumerState>> consumers_;
  TopicId topic_ = 0;
  std::map<std::string, uint64_t> counts_;
  uint64_t storage_restarts_ = 0;
  // Polled outside the event queue (the comparison reads disks without touching them), hence mutable.
  void compare_segments() const;
  mutable bool compared_at_convergence_ = false;
  mutable uint64_t segments_compared_ = 0;
  mutable uint64_t segments_differing_ = 0;
  mutable uint64_t frozen_replicas_left_out_ = 0;  // placed replicas compare_segments left out
  mutable std::string first_segment_difference_;
  uint64_t retries_ = 0;
  uint64_t duplicates_answered_ = 0;
  std::map<size_t, uint64_t> metadata_requests_;
  std::set<NodeIndex> bit_flipped_;  // nodes whose disk took a bit flip
};

// --- a client host ----------------------------------------------------------------------------------

ClientAgent::ClientAgent(ClusterWorkload& workload, SimRuntime& runtime, size_t host)
    : workload_(workload), runtime_(runtime), host_(host), prng_(runtime.random()) {
  runtime_.spawn("client-main", [this] { run(); });
}

template <typename Label>
void ClientAgent::note(Label label, int64_t partition) {
  if (Timeline* timeline = workload_.timeline()) {
    timeline->mark(runtime_.world().now_ns(), runtime_.node(), MarkKind::client, label(), 0, partition);
  }
}

void ClientAgent::note_metadata_requests() {
  if (workload_.timeline() == nullptr || client_ == nullptr) return;
  const uint64_t started = client_->resolver().core().requests_started_total();
  if (started == metadata_requests_seen_) return;
  note([&] { return "metadata requests: " + std::to_string(started - metadata_requests_seen_) + " started"; });
  metadata_requests_seen_ = started;
}

// One mark per partition a poll read from (records are many; a mark each would crowd the page).
void ClientAgent::note_consumed(uint64_t consumer, const client::PollResult& polled) {
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> ranges;  // partition -> first, last offset
  std::map<uint32_t, uint64_t> counts;
  for (const client::ConsumedRecord& record : polled.records) {
    auto [range, fresh] = ranges.try_emplace(record.partition, record.offset, record.offset);
    if (!fresh) range->second.second = record.offset;
    ++counts[record.partition];
  }
  const std::string who = "consumer " + std::to_string(consumer);
  // No structured binding captured by the lambda: clang 14 (the fuzz tree) refuses it.
  for (const auto& entry : ranges) {
    const uint32_t partition = entry.first;
    const std::pair<uint64_t, uint64_t>& range = entry.second;
    note([&] {
      return who + " read " + std::to_string(counts[partition]) + " offsets " + std::to_string(range.first) + ".." +
             std::to_string(range.second);
    }, partition);
  }
  for (const client::Gap& gap : polled.gaps) {
    note([&] { return who + " gap " + std::to_string(gap.from) + ".." + std::to_string(gap.to); }, gap.partition);
  }
}

void ClientAgent::run() {
  client::ClientConfig config;
  config.brokers = workload_.brokers();
  config.request_timeout = kRequestTimeout;
  client_ = std::make_unique<client::Client>(runtime_, config);
  if (!create_topic()) return;
  if (host_ == 0 && workload_.config().decommission_node > 0) runtime_.spawn("admin-decommission", [this] { decommission(); });
  if (host_ == 0 && workload_.config().admin_churn_ms > 0) runtime_.spawn("admin-churn", [this] { churn_topics(); });
  for (ProducerState* state : workload_.producers_of(host_)) runtime_.spawn("producer", [this, state] { produce(*state); });
  for (ConsumerState* state : workload_.consumers_of(host_)) runtime_.spawn("consumer", [this, state] { consume(*state); });
}

// Host 0 creates the topic (again until it exists: an answer may be lost); every host waits until
// it can describe it. False when the host's fibers stop.
bool ClientAgent::create_topic() {
  while (true) {
    if (host_ == 0) {
      client::Result<client::TopicInfo> created = client_->create_topic(workload_.topic_spec());
      if (!created.ok() && created.code() != client::Errc::topic_exists) workload_.count("admin." + std::string(client::to_string(created.code())));
      note([&] { return "create_topic: " + std::string(created.ok() ? "ok" : client::to_string(created.code())); });
    }
    client::Result<client::TopicInfo> topic = client_->describe_topic(std::string(kTopicName));
    note([&] { return "describe_topic: " + std::string(topic.ok() ? "ok" : client::to_string(topic.code())); });
    if (topic.ok()) {
      workload_.topic_created(topic->id);
      return true;
    }
    if (!runtime_.sleep_for(kAdminRetry).ok()) return false;
  }
}

// At decommission_at_s, drains the node (asking again until an answer says it is draining).
void ClientAgent::decommission() {
  const rt::Instant at{rt::Duration(workload_.config().decommission_at_ns)};
  if (runtime_.now() < at && !runtime_.sleep_for(at - runtime_.now()).ok()) return;
  const auto node = static_cast<NodeId>(workload_.config().decommission_node);
  const bool drained = until_done([&] {
    const client::Status asked = client_->decommission_node(node);
    if (!asked.ok()) return count_admin_error(asked), false;
    return true;
  });
  if (!drained) return;
  note([node] { return "decommission node " + std::to_string(node); });
  workload_.note_decommission_acknowledged();
}

void ClientAgent::count_admin_error(const client::Status& status) {
  workload_.count("admin." + std::string(client::to_string(status.code())));
}

// Admin traffic beside the data path, while writes are open: scratch topics created, their config
// changed, deleted. Judged at the end: every scratch topic is gone from the metadata and no node
// hosts a replica of one.
void ClientAgent::churn_topics() {
  const rt::Duration every = std::chrono::milliseconds(workload_.config().admin_churn_ms);
  for (uint64_t n = 1; workload_.writes_open(); ++n) {
    if (!runtime_.sleep_for(every).ok()) return;
    if (workload_.skipped(std::string(kAdminChurnStream), n - 1)) continue;
    workload_.topic_cycle_issued(n - 1);
    if (!scratch_cycle("scratch-" + std::to_string(n))) return;
  }
}

// Repeats `call` (true: done; false: retry) until it is done; false when the host stops.
template <typename Call>
bool ClientAgent::until_done(Call call) {
  while (!call()) {
    if (!runtime_.sleep_for(kAdminRetry).ok()) return false;
  }
  return true;
}

// Create (topic_exists counts: an earlier answer may have been lost), alter, delete
// (unknown_topic counts likewise). False when the host stops.
bool ClientAgent::scratch_cycle(const std::string& name) {
  const bool created = until_done([&] {
    client::TopicSpec spec{name, 1, static_cast<uint32_t>(workload_.config().replicas.replication), {}};
    client::Result<client::TopicInfo> topic = client_->create_topic(spec);
    if (!topic.ok() && topic.code() != client::Errc::topic_exists) return count_admin_error(topic.status()), false;
    client::Result<client::TopicInfo> described = client_->describe_topic(name);
    if (!described.ok()) return count_admin_error(described.status()), false;
    workload_.scratch_created(described->id);
    return true;
  });
  if (!created) return false;
  note([&name] { return "created " + name; });
  const bool altered = until_done([&] {
    client::TopicConfigValues config;
    config.retention_ms = 60'000;
    client::Result<client::TopicInfo> topic = client_->alter_topic(name, config);
    if (!topic.ok()) return count_admin_error(topic.status()), false;
    if (topic->retention_ms != 60'000) workload_.fail("admin: " + name + " altered, but its retention_ms reads " + std::to_string(topic->retention_ms));
    return true;
  });
  if (!altered) return false;
  return until_done([&] {
    client::Status deleted = client_->delete_topic(name);
    if (!deleted.ok() && deleted.code() != client::Errc::unknown_topic) return count_admin_error(deleted), false;
    note([&name] { return "deleted " + name; });
    return true;
  });
}

// Records "client<h>.p<k> s<n> xxx..." (unique), round-robin over the partitions, while writes are
// open; then one probe record that must be acknowledged.
// Sends one drawn record; true when it was the probe and the producer took it.
bool ClientAgent::send_record(client::Producer& producer, ProducerState& state, uint64_t seq, const std::string& value, bool probe) {
  const uint64_t record = hash_bytes(as_bytes(value));
  // The partition by the record's seq, not by the producer's round-robin (which counts sends
  // only): a skipped record leaves every other one on its partition.
  const auto partition = static_cast<uint32_t>(seq % static_cast<uint64_t>(workload_.config().replicas.partitions));
  client::Result<uint64_t> id = producer.send(std::string(kTopicName), client::OutRecord{std::nullopt, to_bytes(value), partition});
  note_metadata_requests();
  if (!id.ok()) {
    workload_.count("send." + std::string(client::to_string(id.code())));
    return false;
  }
  if (!probe) state.issued.push_back(ClientOp{state.name, seq, ClientOpKind::produce, partition, record});
  state.record_of_id[*id] = record;
  ++state.sent;
  ++state.undelivered;
  if (probe) state.probe_id = *id;
  return probe;
}

void ClientAgent::produce(ProducerState& state) {
  client::ProducerConfig config;
  config.limits.idempotent = workload_.config().idempotent;
  // The client's own planted bug; the nodes take theirs from NodeConfig::planted_bug.
  if (workload_.planted_bug() == PlantedBug::client_renumber_on_retry) config.limits.planted_bug = workload_.planted_bug();
  config.limits.delivery_timeout = kDeliveryTimeout;
  config.request_timeout = kRequestTimeout;
  producers_.push_back(std::make_unique<client::Producer>(*client_, config));
  client::Producer& producer = *producers_.back();
  producer.on_delivery([this, &state](const client::Delivery& delivery) {
    auto record = state.record_of_id.find(delivery.record_id);
    if (record == state.record_of_id.end()) return workload_.fail(state.name + ": a delivery for a record it never sent");
    --state.undelivered;
    note([&] {
      if (!delivery.status.ok()) return state.name + " delivery failed: " + std::string(client::to_string(delivery.status.code()));
      return state.name + " ack offset " + std::to_string(delivery.offset);
    }, delivery.partition.partition);
    if (delivery.status.ok()) {
      ++state.acked;
      workload_.ledger().acked(delivery.partition.partition, delivery.offset, {record->second});
      if (delivery.record_id == state.probe_id) state.probed = true;
    } else {
      ++state.failed;
      workload_.count("deliveries." + std::string(client::to_string(delivery.status.code())));
    }
    state.record_of_id.erase(record);
  });
  while (true) {
    client::Status started = producer.start();
    if (started.ok()) break;
    workload_.count("producer_start." + std::string(client::to_string(started.code())));
    if (!runtime_.sleep_for(kAdminRetry).ok()) return;
  }
  auto next = [this] { return prng_.next(); };
  bool probe_sent = false;
  while (!probe_sent) {
    const bool probe = !workload_.writes_open();
    const uint64_t seq = state.ops++;
    std::string value = state.name + " s" + std::to_string(seq) + " ";
    value.append(random_below(next, static_cast<uint64_t>(workload_.config().payload_bytes_max) + 1), 'x');
    // Draw, then skip: a dropped record takes its draws and its think time like a sent one.
    if (probe || !workload_.skipped(state.name, seq)) probe_sent = send_record(producer, state, seq, value, probe);
    if (!runtime_.sleep_for(std::chrono::milliseconds(random_range(next, 1, workload_.config().think_ms_max))).ok()) return;
  }
  (void)producer.flush(rt::kInstantMax);
  workload_.add_producer_stats(producer.stats());
  workload_.note_metadata_requests(host_, client_->resolver().core().requests_started_total());
}

void ClientAgent::consume(ConsumerState& state) {
  client::ConsumerConfig config;
  config.wait = std::chrono::milliseconds(workload_.config().fetch_wait_ms);
  config.request_timeout = kRequestTimeout;
  config.confirm_high_watermark = workload_.config().consumers_confirm_end;
  consumers_.push_back(std::make_unique<client::Consumer>(*client_, config));
  client::Consumer& consumer = *consumers_.back();
  while (!consumer.assign_all(std::string(kTopicName), client::StartAt::earliest()).ok()) {
    if (!runtime_.sleep_for(kAdminRetry).ok()) return;
  }
  const rt::Duration skipped_poll_pause = std::max<rt::Duration>(config.wait, kSkippedPollPauseMin);
  const checkers::EndsAroundPoll::EndOf end_of = [&](uint32_t p) { return consumer.high_watermark(std::string(kTopicName), p); };
  const checkers::EndsAroundPoll::Report judge = [&](uint32_t p, uint64_t end, std::optional<uint64_t> acked_before) {
    workload_.ledger().high_watermark(p, state.id, end, acked_before);
  };
  // Judged only when the consumers ask for confirmed ends.
  const auto judged_partitions = static_cast<uint32_t>(config.confirm_high_watermark ? workload_.config().replicas.partitions : 0);
  while (!runtime_.cancelled()) {
    const uint64_t seq = state.polls++;
    if (workload_.skipped(state.name, seq)) {
      if (!runtime_.sleep_for(skipped_poll_pause).ok()) return;
      continue;
    }
    state.issued.push_back(ClientOp{state.name, seq, ClientOpKind::poll});
    const checkers::EndsAroundPoll ends(workload_.ledger(), judged_partitions, end_of);
    client::Result<client::PollResult> polled = consumer.poll(runtime_.now() + kPollDeadline);
    note_metadata_requests();
    ends.report_changed(end_of, judge);
    if (!polled.ok()) {
      workload_.count("poll." + std::string(client::to_string(polled.code())));
      if (!runtime_.sleep_for(kAdminRetry).ok()) return;
      continue;
    }
    for (const client::Gap& gap : polled->gaps) {
      workload_.ledger().skipped(gap.partition, state.id, gap.to);
      state.next_offset[gap.partition] = gap.to;
    }
    for (const client::ConsumedRecord& record : polled->records) {
      auto [at, first] = state.next_offset.try_emplace(record.partition, 0);
      if (first && record.offset > 0) {
        // The consumer starts at the earliest offset the leader holds when it first fetches: if
        // retention cut the partition before, it starts past 0 and reports no gap (there was
        // nothing it had read to skip from). Found by cluster-move-after-retention seed 11, whose
        // consumer first fetched after the 4 s retention had cut partition 0 at offset 38.
        workload_.ledger().skipped(record.partition, state.id, record.offset);
        at->second = record.offset;
      }
      uint64_t& next = at->second;
      workload_.ledger().consumed(record.partition, state.id, next, record.offset, {hash_bytes(record.value)}, record.timestamp_ms,
                                  record.timestamp_ms);
      next = record.offset + 1;
    }
    if (workload_.timeline() != nullptr) note_consumed(state.id, *polled);
  }
}

// --- judging ----------------------------------------------------------------------------------------

// "" once the topic exists and nothing moves, every producer's records are delivered and its probe
// acknowledged, and every partition's replicas are at one end that every consumer has read to.
std::string ClusterWorkload::lagging() const {
  // Every node runs, but one the injected bit flips left unable to start (lost_to_damage): the
  // cluster must heal around it instead (its replicas moved away, its controller vote handed on).
  bool node_lost = false;
  for (size_t node = 0; node < nodes_; ++node) {
    if (started_node(world_, static_cast<NodeIndex>(node)) != nullptr) continue;
    if (!lost_to_damage(static_cast<NodeIndex>(node))) return not_running(static_cast<NodeIndex>(node));
    node_lost = true;
  }
  if (node_lost || config_.decommission_node > 0) {
    if (std::string voters = controller_voters_lagging(); !voters.empty()) return voters;
  }
  const controller::Metadata* metadata = latest_metadata(world_, nodes_);
  if (topic_ == 0 || metadata == nullptr || metadata->topic_by_id(topic_) == nullptr) {
    // Lost nodes left fewer than the replication to place it on: its creation is refused
    // (not_enough_nodes), rightly, for good (cluster-swarm-leaders seed 104: replication 3 on 3
    // nodes, one lost before the topic was ever created).
    if (hosts_outside({}) < static_cast<size_t>(config_.replicas.replication)) return "";
    return "the topic is not created yet";
  }
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    const controller::PartitionRecord* record = metadata->partition(PartitionId{topic_, p});
    if (const auto& move = record->move) {
      return "partition " + std::to_string(p) + " is moving (adding node " + std::to_string(move->adding) + ", removing node " +
             std::to_string(move->removing) + ", generation " + std::to_string(move->generation) +
             (record->move_rolling_back ? ", rolling back" : "") + "; its group: " + group_views(p) + ")";
    }
  }
  if (std::string drain = decommission_lagging(*metadata); !drain.empty()) return drain;
  if (std::string scratch = scratch_lagging(*metadata); !scratch.empty()) return scratch;
  for (const auto& producer : producers_) {
    if (producer->undelivered > 0) return producer->name + " has " + std::to_string(producer->undelivered) + " records not delivered";
    if (!producer->probed) return producer->name + " has no acknowledged probe";
  }
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    if (std::string lag = partition_lagging(p); !lag.empty()) return lag;
  }
  return "";
}

// "node 3 is not running", with why its last start failed, if one did.
std::string ClusterWorkload::not_running(NodeIndex node) const {
  std::string why = "node " + std::to_string(node + 1) + " is not running";
  if (world_.failed_starts_in_a_row(node) == 0) return why;
  return why + " (" + std::to_string(world_.failed_starts_in_a_row(node)) + " failed starts in a row, the last: " +
         world_.last_start_failure(node) + ")";
}

// A node is lost to damage when it keeps failing to start because its storage is damaged beyond
// what it may repair by itself (a Raft state file with both copies bad: it will not guess a vote;
// or both identity copies bad: it will not guess who it is) and the scenario's bit flips hit its
// disk. The operator's cure is to replace it under a new id
// (docs/operations.md); the cluster meanwhile must not depend on it. Any other reason for a node
// not to start stays a failure.
bool ClusterWorkload::lost_to_damage(NodeIndex node) const {
  const std::string& why = world_.last_start_failure(node);
  return bit_flipped_.count(node) > 0 && world_.failed_starts_in_a_row(node) >= kFailedStartsForLost &&
         (partition::LogRaftStorage::state_lost(why) ||
          why.find(server::kIdentityLostMessage) != std::string::npos);
}

// With a node lost or decommissioned, the metadata group's voters (as its leader holds them) are
// running nodes other than the decommissioned one: a lost or decommissioned voter was swapped for a
// learner (docs/controller.md, "Controller voters"). A lost voter may stay when every running node
// is a voter already: there is no node to swap in (3 nodes, 3 voters; found by
// cluster-swarm-leaders seed 191), and the group runs on the quorum left.
std::string ClusterWorkload::controller_voters_lagging() const {
  for (size_t i = 0; i < nodes_; ++i) {
    const server::Node* node = started_node(world_, static_cast<NodeIndex>(i));
    if (node == nullptr || node->controller() == nullptr || !node->controller()->is_leader()) continue;
    const raft::RawNode* group = node->raft()->group(kControllerGroup);
    if (group == nullptr) continue;
    const raft::ConfState& conf = group->raft().conf_state();
    if (conf.joint()) return "the controller group is changing its voters";
    const bool spare = spare_outside(conf.voters);
    for (NodeId voter : conf.voters) {
      if (started_node(world_, node_index_of(voter)) == nullptr && spare) {
        return "the controller's voters still include node " + std::to_string(voter) + ", which is not running";
      }
      if (static_cast<int64_t>(voter) == config_.decommission_node) {
        return "the controller's voters still include node " + std::to_string(voter) + ", which is decommissioned";
      }
    }
    return "";
  }
  return "the controller group has no leader";
}

// Running nodes, not decommissioned, outside `members` (a group's voters or a partition's
// replicas): those a lost member could be replaced by; with no members, every node that can take
// replicas.
size_t ClusterWorkload::hosts_outside(const std::set<NodeId>& members) const {
  size_t hosts = 0;
  for (size_t i = 0; i < nodes_; ++i) {
    const NodeId id = node_id_of(static_cast<NodeIndex>(i));
    if (started_node(world_, static_cast<NodeIndex>(i)) == nullptr || members.contains(id)) continue;
    if (static_cast<int64_t>(id) != config_.decommission_node) ++hosts;
  }
  return hosts;
}

// Judged from the disk, not from what the node says: the replica's state file reads back damaged
// beyond its two copies.
bool ClusterWorkload::state_file_lost(NodeIndex node, uint32_t partition) const {
  const std::string path = controller::replica_dir(PartitionId{topic_, partition}) + "/raft-state";
  const std::optional<Bytes> bytes = world_.disk(node).peek_file(path);
  if (!bytes) return false;
  const raft::Result<partition::RaftStateFile> file = partition::decode_raft_state_file(*bytes);
  return !file.ok() && partition::LogRaftStorage::state_lost(file.status().message());
}

// `members` and the nodes that lost a replica of the partition (the controller never places one
// there again).
std::set<NodeId> ClusterWorkload::with_lost_on(std::set<NodeId> members, uint32_t partition) const {
  const controller::Metadata* metadata = latest_metadata(world_, nodes_);
  const controller::PartitionRecord* record = metadata == nullptr ? nullptr : metadata->partition(PartitionId{topic_, partition});
  if (record != nullptr) members.insert(record->lost_on.begin(), record->lost_on.end());
  return members;
}

// Every scratch topic deleted: gone from the metadata, no replica of it left on any node.
std::string ClusterWorkload::scratch_lagging(const controller::Metadata& metadata) const {
  for (TopicId topic : scratch_topics_) {
    const std::string name = "scratch topic " + std::to_string(topic);
    if (metadata.topic_by_id(topic) != nullptr) return name + " is not deleted yet";
    for (size_t node = 0; node < nodes_; ++node) {
      const server::Node* started = started_node(world_, static_cast<NodeIndex>(node));
      if (started != nullptr && started->partitions() != nullptr && started->partitions()->replica(PartitionId{topic, 0}) != nullptr) {
        return name + " still has a replica on node " + std::to_string(node + 1);
      }
    }
  }
  return "";
}

// A decommissioned node ends removed, with no replica placed on it.
std::string ClusterWorkload::decommission_lagging(const controller::Metadata& metadata) const {
  if (config_.decommission_node == 0) return "";
  const auto node = static_cast<NodeId>(config_.decommission_node);
  const std::string name = "node " + std::to_string(node);
  if (!decommission_acknowledged_) return "the decommission of " + name + " is not acknowledged";
  auto record = metadata.nodes().find(node);
  if (record == metadata.nodes().end() || record->second.state != controller::NodeState::removed) return name + " is not removed yet";
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    const auto& replicas = metadata.partition(PartitionId{topic_, p})->replicas;
    if (std::find(replicas.begin(), replicas.end(), node) != replicas.end()) return name + " still hosts partition " + std::to_string(p);
  }
  return "";
}

// How each running node's Raft sees partition `partition`'s group, for a lag message: "n5 follower
// t3 commit 4 applied 0 voters 5 learners 3 quiet; ...".
std::string ClusterWorkload::group_views(uint32_t partition) const {
  const controller::Metadata* metadata = latest_metadata(world_, nodes_);
  const controller::PartitionRecord* record = metadata == nullptr ? nullptr : metadata->partition(PartitionId{topic_, partition});
  if (record == nullptr) return "";
  auto ids = [](const std::set<NodeId>& set) {
    std::string out;
    for (NodeId id : set) out += (out.empty() ? "" : ",") + std::to_string(id);
    return out.empty() ? std::string("-") : out;
  };
  std::string out;
  for (size_t node = 0; node < nodes_; ++node) {
    const server::Node* started = started_node(world_, static_cast<NodeIndex>(node));
    const raft::RawNode* group = started == nullptr || started->raft() == nullptr ? nullptr : started->raft()->group(record->group);
    if (group == nullptr) continue;
    const raft::Raft& raft = group->raft();
    const raft::ConfState& conf = raft.conf_state();
    out += std::string(out.empty() ? "" : "; ") + "n" + std::to_string(node + 1) + " " + std::string(raft::to_string(raft.role())) + " t" +
           std::to_string(raft.term()) + " commit " + std::to_string(raft.hard_state().commit) + " voters " + ids(conf.voters) +
           (conf.joint() ? " outgoing " + ids(conf.voters_outgoing) : "") + " learners " + ids(conf.learners) + (raft.quiesced() ? " quiet" : "");
  }
  return out;
}

std::string ClusterWorkload::partition_lagging(uint32_t partition) const {
  const std::string name = "partition " + std::to_string(partition);
  std::optional<uint64_t> end;
  const std::vector<NodeIndex> replicas = replicas_of(partition);
  std::set<NodeId> members;
  for (NodeIndex node : replicas) members.insert(node_id_of(node));
  for (NodeIndex node : replicas) {
    const partition::Replica* replica = this->replica(node, partition);
    // A replica on a node lost to damage stays placed there while no running node could take it
    // (replication 3 on 3 nodes; found by cluster-swarm-leaders seed 191).
    if (replica == nullptr && lost_to_damage(node) && !spare_outside(members)) continue;
    // A replica whose Raft state file has both copies damaged cannot open; with no node to take
    // it the partition goes on without it (docs/controller.md, "Lost replicas").
    if (replica == nullptr && state_file_lost(node, partition) && !spare_outside(with_lost_on(members, partition))) continue;
    if (replica == nullptr) return name + " has no replica on node " + std::to_string(node + 1) + " yet";
    if (end && replica->state().end_offset() != *end) return "replicas of " + name + " are at different ends";
    end = replica->state().end_offset();
  }
  for (const auto& consumer : consumers_) {
    auto read = consumer->next_offset.find(partition);
    const uint64_t at = read == consumer->next_offset.end() ? 0 : read->second;
    if (end && at != *end) {
      return "consumer " + std::to_string(consumer->id) + " of " + name + " lags (at offset " + std::to_string(at) + ", the replicas end at " +
             std::to_string(*end) + "; its group: " + group_views(partition) + ")";
    }
  }
  return "";
}

// A stall can hide lost data: with acknowledged records gone from every replica (a log that
// acknowledged before its fsync, planted bug log_skip_sync), an idempotent producer's next batch
// no longer continues its sequence and waits forever, and the run fails on the budget instead of
// on the loss (cluster-smoke seeds 2, 4, 5 and 6 with that bug, 2026-12-05). Judged only when every placed
// replica is open: a closed one may still hold the records.
void ClusterWorkload::not_converged() {
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    const std::optional<uint64_t> acked = ledger_.last_acked(p);
    const std::vector<NodeIndex> placed = replicas_of(p);
    if (!acked || placed.empty()) continue;
    uint64_t longest = 0;
    bool all_open = true;
    for (NodeIndex node : placed) {
      const partition::Replica* open = replica(node, p);
      all_open = all_open && open != nullptr;
      if (open != nullptr) longest = std::max(longest, open->state().end_offset());
    }
    if (!all_open || *acked < longest) continue;
    SLUICE_COVER("sim.cluster.acked_beyond_every_log");
    return fail("lost acknowledged records: partition " + std::to_string(p) + " offset " + std::to_string(*acked) +
                " was acknowledged, and no replica holds it (the longest of its " + std::to_string(placed.size()) +
                " logs ends at " + std::to_string(longest) + ")");
  }
}

void ClusterWorkload::check_liveness(int64_t) {
  if (std::string lag = lagging(); !lag.empty()) return fail("liveness: " + lag);
  if (ledger_.lost_acked() > 0) return fail("lost acknowledged records, first " + ledger_.first_lost());
  compare_segments();  // a difference is reported by failure()
}

// The placed replicas whose logs can still change: not one on a node lost to damage, nor one whose
// Raft state file is lost (both stay placed while no running node could take them; lagging()).
// Such a log froze wherever its node stopped, maybe with an uncommitted tail the others replaced,
// and a segment rolled for that tail's first batch stays sealed short: the roll is only undone
// when the replica appends the batch that replaced it (Log::maybe_unroll), which it never will.
// Found by cluster-swarm-leaders seed 2457: node 3, isolated the moment it led term 7 of a
// partition, wrote its term-7 entry at 185 into a new segment (an early roll), then lost both
// identity copies to bit flips; 3 nodes and replication 3 left the replica placed there, and its
// sealed 72.log, ending at 184, was compared with the others' one, which runs to 241.
std::vector<NodeIndex> ClusterWorkload::replicas_to_compare(uint32_t partition) const {
  std::vector<NodeIndex> out;
  for (NodeIndex node : replicas_of(partition)) {
    if (lost_to_damage(node) || state_file_lost(node, partition)) {
      ++frozen_replicas_left_out_;
    } else {
      out.push_back(node);
    }
  }
  return out;
}

void ClusterWorkload::compare_segments() const {
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    const SegmentsCompared result =
        compare_sealed_segments(world_, replicas_to_compare(p), "partition-" + std::to_string(topic_) + "-" + std::to_string(p));
    segments_compared_ += result.compared;
    segments_differing_ += result.differing;
    if (result.differing > 0 && first_segment_difference_.empty()) first_segment_difference_ = result.first_difference;
  }
}

void ClusterWorkload::name_groups() const {
  Timeline* timeline = world_.timeline();
  if (timeline == nullptr) return;
  timeline->name_group(kControllerGroup, TimelineGroup{"controller", -1});
  const controller::Metadata* metadata = latest_metadata(world_, nodes_);
  if (topic_ == 0 || metadata == nullptr) return;
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.replicas.partitions); ++p) {
    if (const controller::PartitionRecord* record = metadata->partition(PartitionId{topic_, p})) {
      timeline->name_group(record->group, TimelineGroup{std::string(kTopicName) + "/" + std::to_string(p), p});
    }
  }
}

void ClusterWorkload::report(Figures& figures) const {
  name_groups();
  uint64_t sent = 0;
  uint64_t failed = 0;
  for (const auto& producer : producers_) {
    sent += producer->sent;
    failed += producer->failed;
  }
  figures.emplace_back("topic_partitions", std::to_string(config_.replicas.partitions));
  figures.emplace_back("topic_replication", std::to_string(config_.replicas.replication));
  figures.emplace_back("records_sent", std::to_string(sent));
  figures.emplace_back("acked_records", std::to_string(ledger_.acked_records()));
  figures.emplace_back("failed_deliveries", std::to_string(failed));
  figures.emplace_back("consumed_records", std::to_string(ledger_.consumed_records()));
  figures.emplace_back("lost_acked_records", std::to_string(ledger_.lost_acked()));
  figures.emplace_back("duplicate_records", std::to_string(ledger_.duplicate_records()));
  figures.emplace_back("replica_divergence", std::to_string(ledger_.divergences() + segments_differing_));
  figures.emplace_back("sealed_segments_compared", std::to_string(segments_compared_));
  figures.emplace_back("sealed_segments_frozen_replicas_left_out", std::to_string(frozen_replicas_left_out_));
  figures.emplace_back("producer_retries", std::to_string(retries_));
  figures.emplace_back("duplicates_answered", std::to_string(duplicates_answered_));
  figures.emplace_back("confirmed_ends_checked", std::to_string(ledger_.high_watermarks_checked()));
  uint64_t metadata_requests = 0;
  for (const auto& [host, requests] : metadata_requests_) metadata_requests += requests;
  figures.emplace_back("metadata_requests", std::to_string(metadata_requests));
  figures.emplace_back("storage_restarts", std::to_string(storage_restarts_));
  size_t lost = 0;
  for (size_t node = 0; node < nodes_; ++node) lost += lost_to_damage(static_cast<NodeIndex>(node));
  figures.emplace_back("nodes_lost_to_damage", std::to_string(lost));
  figures.emplace_back("scratch_topics", std::to_string(scratch_topics_.size()));
  for (const auto& [what, count] : counts_) figures.emplace_back("errors." + what, std::to_string(count));
}

}  // namespace

void read_skip_ops(TableReader& reader, SkippedOps& out) {
  const toml::node* node = reader.take("skip_ops");
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) return reader.context().fail(reader.node_line(node), reader.field("skip_ops"), "expected a list of \"STREAM:FIRST-LAST\" strings");
  for (const toml::node& element : *array) {
    const std::optional<std::string> entry = element.value<std::string>();
    const std::string error = entry ? parse_skip_range(*entry, out) : "expected a string \"STREAM:FIRST-LAST\"";
    if (!error.empty()) return reader.context().fail(reader.node_line(&element), reader.field("skip_ops"), error);
  }
}

std::shared_ptr<const WorkloadSpec> parse_cluster_workload(TableReader& reader, const Scenario& scenario) {
  ClusterConfig config;
  PartitionsConfig& replicas = config.replicas;
  replicas.placement = "controller";
  read_replica_keys(reader, scenario, replicas);
  reader.integer("client_hosts", config.client_hosts, 1, 16);
  reader.integer("producers", config.producers, 0, 64);
  reader.integer("consumers", config.consumers, 0, 64);
  reader.boolean("idempotent", config.idempotent);
  reader.integer("think_ms_max", config.think_ms_max, 1, 60'000);
  reader.integer("payload_bytes_max", config.payload_bytes_max, 0, 64 * 1024);
  reader.integer("fetch_wait_ms", config.fetch_wait_ms, 0, 30'000);
  reader.boolean("consumers_confirm_end", config.consumers_confirm_end);
  reader.integer("admin_churn_ms", config.admin_churn_ms, 0, 3'600'000);
  reader.integer("decommission_node", config.decommission_node, 0, static_cast<int64_t>(scenario.nodes));
  reader.duration("decommission_at_s", config.decommission_at_ns, kNsPerS, 0, 1e6);
  reader.integer("identity_scrub_ms", config.identity_scrub_ms, 0, 3'600'000);
  read_skip_ops(reader, config.skip_ops);
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<ClusterWorkload, ClusterConfig>>(config);
}

}  // namespace sluice::sim
