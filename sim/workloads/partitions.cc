#include "sim/workloads/partitions.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/base/hash.h"
#include "node/log/codec.h"
#include "node/log/segment_format.h"
#include "node/controller/controller.h"
#include "node/partition/router.h"
#include "node/server/node.h"
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
using partition::Errc;

constexpr TopicId kTopic = 1;  // placement = "fixed"; the controller hands out the id otherwise
constexpr std::string_view kTopicName = "ledger";
constexpr GroupId kFirstGroup = 100;  // below: the controller's group and others to come
constexpr rt::Duration kProduceTimeout = std::chrono::seconds(5);
constexpr rt::Duration kRetryPause = std::chrono::milliseconds(50);
constexpr rt::Duration kStorageRestartDelay = std::chrono::milliseconds(500);
constexpr size_t kFetchBytesMax = 64 * 1024;


// A producer as a client keeps it across connections: its identity, next sequence and the batch
// it has not had acknowledged yet (sent again, as is, until it is).
struct Producer {
  uint32_t partition = 0;
  uint32_t index = 0;
  uint64_t id = 0;  // 0 when not idempotent
  uint32_t next_sequence = 0;
  struct Pending {
    Bytes batch;
    std::vector<uint64_t> records;  // ids of its records
    uint64_t sends = 0;
  };
  std::optional<Pending> pending;
  std::optional<NodeIndex> sending_on;  // the node whose fiber has it in flight
  bool probed = false;                  // a batch acknowledged after faults stopped
};

struct Consumer {
  uint64_t id = 0;
  uint64_t next_offset = 0;
};

class PartitionsWorkload;

// One node incarnation's part: it creates the node's replicas, then runs the producers of the
// partitions it leads and one consumer per replica it holds.
class PartitionAgent final : public NodeAgent {
 public:
  PartitionAgent(PartitionsWorkload& workload, SimRuntime& runtime, server::Node& node);

 private:
  void boot();
  void start_clients(const std::vector<uint32_t>& partitions);
  void admin_loop();
  void produce_loop(Producer& producer);
  void consume_loop(uint32_t partition);
  bool produce_once(Producer& producer);

  PartitionsWorkload& workload_;
  SimRuntime& runtime_;
  partition::PartitionRouter& router_;
  server::Node& node_;
  Prng prng_;
};

class PartitionsWorkload final : public Workload {
 public:
  PartitionsWorkload(WorkloadContext context, const PartitionsConfig& config)
      : world_(context.world),
        config_(config),
        nodes_(context.scenario.nodes),
        faults_stop_ns_(context.scenario.faults_stop_ns),
        prng_(context.prng),
        ledger_(config.idempotent),
        topic_(controlled() ? 0 : kTopic) {
    feeds_ = make_safety_feeds(safety_, nodes_, [this](NodeIndex node) {
      if (config_.restart_on_storage_failure) restart(node);
    }, &world_);
    for (uint32_t p = 0; p < static_cast<uint32_t>(config_.partitions); ++p) {
      for (uint32_t k = 0; k < static_cast<uint32_t>(config_.producers); ++k) {
        Producer producer{p, k, config_.idempotent ? (uint64_t{p} << 32 | k) + 1 : 0};
        producers_.push_back(std::make_unique<Producer>(std::move(producer)));
      }
      // One per node: with the controller, any node may come to hold a replica.
      for (size_t i = 0; i < nodes_; ++i) {
        const auto node = static_cast<NodeIndex>(i);
        consumers_[{node, p}] = Consumer{static_cast<uint64_t>(node) * 100'000 + p, 0};
      }
    }
  }

  void configure_node(NodeIndex node, server::NodeConfig& config) override {
    multiraft::RaftHostConfig host;
    host.tick_interval = std::chrono::milliseconds(config_.tick_ms);
    host.transport.port = kRaftPort;
    host.observer = feeds_[node].get();
    config.partitions = partition::RouterConfig{};
    if (controlled()) {
      configure_controller(config_, world_, nodes_, node, config);  // Raft peers are learned from membership
      config.raft = host;
      return;
    }
    for (size_t i = 0; i < nodes_; ++i) {
      const auto peer = static_cast<NodeIndex>(i);
      if (peer != node) host.transport.peers[node_id_of(peer)] = rt::Address{world_.host(peer), kRaftPort};
    }
    config.raft = host;
  }
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override {
    return std::make_unique<PartitionAgent>(*this, runtime, node);
  }
  void node_crashed(NodeIndex node) override {
    safety_.crashed(node_id_of(node));
    for (auto& producer : producers_) {
      if (producer->sending_on == node) producer->sending_on.reset();  // its answer is lost: send again
    }
  }
  std::string failure() const override {
    if (const auto& violation = safety_.violation()) return "raft safety: " + *violation;
    if (const auto& violation = ledger_.violation()) return "partition ledger: " + *violation;
    return failure_;
  }
  bool converged(int64_t) const override { return lagging().empty(); }
  std::string waiting_for() const override { return lagging(); }
  void check_liveness(int64_t) override {
    if (std::string lag = lagging(); !lag.empty()) return fail("liveness: " + lag);
    if (ledger_.lost_acked() > 0) return fail("lost acknowledged records, first " + ledger_.first_lost());
    compare_segments();
  }
  void report(Figures& figures) const override;

  // --- for the agents ---
  const PartitionsConfig& config() const { return config_; }
  bool controlled() const { return config_.placement == "controller"; }
  TopicId topic() const { return topic_; }
  void topic_created(TopicId topic) { topic_ = topic; }
  controller::CreateTopic topic_command() const { return sim::topic_command(config_, kTopicName); }
  // A node's copy of the metadata, as it applied it: moves are timed from what it shows.
  void observe(const controller::Metadata& metadata, raft::Index applied);
  bool writes_open() const { return world_.now_ns() < faults_stop_ns_; }
  std::vector<NodeIndex> replicas_of(uint32_t partition) const {
    if (controlled()) return placed_replicas(partition);
    std::vector<NodeIndex> nodes;
    for (int64_t k = 0; k < config_.replication; ++k) nodes.push_back(static_cast<NodeIndex>((partition + k) % nodes_));
    return nodes;
  }
  partition::ReplicaConfig replica_config(NodeIndex node, uint32_t partition, PlantedBug planted_bug, SimRuntime& runtime) const;
  std::vector<Producer*> producers_of(uint32_t partition) {
    std::vector<Producer*> out;
    for (auto& producer : producers_) {
      if (producer->partition == partition) out.push_back(producer.get());
    }
    return out;
  }
  Consumer& consumer(NodeIndex node, uint32_t partition) { return consumers_.at({node, partition}); }
  checkers::PartitionLedger& ledger() { return ledger_; }
  void count_error(const std::string& what, Errc code) { ++errors_[what + "." + std::string(partition::to_string(code))]; }
  void restart(NodeIndex node) {
    ++storage_restarts_;
    exit_and_restart(world_, node, world_.incarnation(node), kStorageRestartDelay);
  }
  void fail(std::string message) {
    if (failure_.empty()) failure_ = std::move(message);
  }
  Producer::Pending next_batch(Producer& producer, Prng& prng) const;

 private:
  const partition::Replica* replica(NodeIndex node, uint32_t partition) const {
    const server::Node* started = started_node(world_, node);
    if (started == nullptr || started->partitions() == nullptr) return nullptr;
    return started->partitions()->replica(PartitionId{topic_, partition});
  }
  const controller::Metadata* latest_metadata() const { return sim::latest_metadata(world_, nodes_); }
  std::vector<NodeIndex> placed_replicas(uint32_t partition) const { return sim::placed_replicas(world_, nodes_, topic_, partition); }
  std::string controller_lagging() const;
  std::string lagging() const;
  void compare_segments() {
    for (uint32_t p = 0; p < static_cast<uint32_t>(config_.partitions); ++p) {
      const SegmentsCompared result =
          compare_sealed_segments(world_, replicas_of(p), "partition-" + std::to_string(topic_) + "-" + std::to_string(p));
      segments_compared_ += result.compared;
      segments_differing_ += result.differing;
      if (result.differing > 0) fail("replica divergence: " + result.first_difference);
    }
  }

  World& world_;
  PartitionsConfig config_;
  size_t nodes_;
  int64_t faults_stop_ns_;
  Prng prng_;
  std::string failure_;
  std::vector<std::unique_ptr<SafetyFeed>> feeds_;
  checkers::RaftSafety safety_;
  checkers::PartitionLedger ledger_;
  std::vector<std::unique_ptr<Producer>> producers_;
  std::map<std::pair<NodeIndex, uint32_t>, Consumer> consumers_;
  std::map<std::string, uint64_t> errors_;
  uint64_t storage_restarts_ = 0;
  uint64_t segments_compared_ = 0;
  uint64_t segments_differing_ = 0;
  TopicId topic_;
  // Moves, as the nodes' metadata shows them (controller placement).
  raft::Index observed_applied_ = 0;
  std::map<uint32_t, std::vector<NodeId>> observed_replicas_;
  std::map<NodeId, int64_t> dead_since_ns_;  // first seen dead
  std::vector<int64_t> dead_move_ns_;        // per replica moved off a dead node: dead -> moved
  uint64_t replicas_moved_ = 0;              // every finished move (balance ones too)
};

// --- the agent ------------------------------------------------------------------------------------

PartitionAgent::PartitionAgent(PartitionsWorkload& workload, SimRuntime& runtime, server::Node& node)
    : workload_(workload), runtime_(runtime), router_(*node.partitions()), node_(node), prng_(runtime.random()) {
  runtime_.spawn("partitions-boot", [this] { boot(); });
}

// Creates this node's replicas (recovery reads the disk), then starts their clients. With the
// controller, the node's reconciler creates the replicas and clients run for every partition
// (each acts only where this node holds or leads it).
void PartitionAgent::boot() {
  const NodeIndex node = runtime_.node();
  if (workload_.controlled()) {
    std::vector<uint32_t> all;
    for (uint32_t p = 0; p < static_cast<uint32_t>(workload_.config().partitions); ++p) all.push_back(p);
    runtime_.spawn("admin", [this] { admin_loop(); });
    return start_clients(all);
  }
  const PlantedBug planted_bug = started_node(runtime_.world(), node)->config().planted_bug;
  std::vector<uint32_t> held;
  for (uint32_t p = 0; p < static_cast<uint32_t>(workload_.config().partitions); ++p) {
    const std::vector<NodeIndex> replicas = workload_.replicas_of(p);
    if (std::find(replicas.begin(), replicas.end(), node) == replicas.end()) continue;
    auto reply = router_.route(PartitionId{kTopic, p},
                               partition::CreateReplicaRequest{workload_.replica_config(node, p, planted_bug, runtime_)})
                     .receive();
    if (!reply.ok()) return;  // the node stops
    if (!reply->status.ok()) {
      // An I/O error (a failing or full disk) ends the process, which its service manager restarts;
      // anything else is damage the replica cannot repair by itself: a finding.
      if (reply->status.code() != Errc::storage_error && reply->status.code() != Errc::storage_full) {
        workload_.fail(std::string(runtime_.host()) + ": partition " + std::to_string(p) + ": " + reply->status.to_string());
      }
      workload_.restart(node);
      return;
    }
    held.push_back(p);
  }
  start_clients(held);
}

void PartitionAgent::start_clients(const std::vector<uint32_t>& partitions) {
  for (uint32_t p : partitions) {
    for (Producer* producer : workload_.producers_of(p)) {
      runtime_.spawn("producer", [this, producer] { produce_loop(*producer); });
    }
    runtime_.spawn("consumer", [this, p] { consume_loop(p); });
  }
}

// On the controller leader: creates the topic once. On every node: shows the workload this node's
// metadata, which times the moves.
void PartitionAgent::admin_loop() {
  const controller::Controller& controller = *node_.controller();
  while (runtime_.sleep_for(std::chrono::milliseconds(50)).ok()) {
    workload_.observe(controller.metadata(), controller.applied_index());
    if (workload_.topic() != 0) continue;
    if (const controller::TopicRecord* topic = controller.metadata().topic(kTopicName)) {
      workload_.topic_created(topic->id);
      continue;
    }
    if (!controller.is_leader()) continue;
    // An answer lost to a crash or timeout is harmless: the next round finds the topic, or asks again.
    (void)node_.submit_to_controller(workload_.topic_command(), runtime_.now() + std::chrono::seconds(2));
  }
}

void PartitionAgent::produce_loop(Producer& producer) {
  auto next = [this] { return prng_.next(); };
  while (runtime_.sleep_for(std::chrono::milliseconds(random_range(next, 1, workload_.config().think_ms_max))).ok()) {
    if (producer.sending_on || (!workload_.writes_open() && producer.probed)) continue;
    const partition::Replica* replica = router_.replica(PartitionId{workload_.topic(), producer.partition});
    if (replica == nullptr || !replica->is_leader()) continue;
    if (!produce_once(producer)) return;
  }
}

// Sends the producer's pending batch (a new one if it has none); false when the node stops.
bool PartitionAgent::produce_once(Producer& producer) {
  if (!producer.pending) producer.pending = workload_.next_batch(producer, prng_);
  ++producer.pending->sends;
  producer.sending_on = runtime_.node();
  const bool probe = !workload_.writes_open();
  auto reply = router_.route(PartitionId{workload_.topic(), producer.partition}, partition::ProduceRequest{producer.pending->batch, kProduceTimeout})
                   .receive();
  if (!reply.ok()) return false;
  producer.sending_on.reset();
  if (!reply->status.ok()) {
    const Errc code = reply->status.code();
    workload_.count_error("produce", code);
    if (workload_.config().idempotent && (code == Errc::out_of_order_sequence || code == Errc::producer_fenced)) {
      workload_.fail("producer " + std::to_string(producer.id) + " of partition " + std::to_string(producer.partition) +
                     " was refused: " + reply->status.to_string());
    }
    return runtime_.sleep_for(kRetryPause).ok();
  }
  const auto& produced = std::get<partition::ProduceReply>(reply->value);
  if (produced.last_offset - produced.base_offset + 1 != producer.pending->records.size()) {
    workload_.fail("partition " + std::to_string(producer.partition) + ": a batch of " +
                   std::to_string(producer.pending->records.size()) + " records was acknowledged with offsets [" +
                   std::to_string(produced.base_offset) + ", " + std::to_string(produced.last_offset) + "]");
  }
  workload_.ledger().acked(producer.partition, produced.base_offset, producer.pending->records);
  producer.next_sequence += static_cast<uint32_t>(producer.pending->records.size());
  producer.pending.reset();
  if (probe) producer.probed = true;
  return true;
}

void PartitionAgent::consume_loop(uint32_t partition) {
  Consumer& consumer = workload_.consumer(runtime_.node(), partition);
  const rt::Duration wait = std::chrono::milliseconds(workload_.config().fetch_wait_ms);
  while (!runtime_.cancelled()) {
    const PartitionId id{workload_.topic(), partition};
    if (router_.replica(id) == nullptr) {  // not (or not yet, or no longer) held here
      if (!runtime_.sleep_for(kRetryPause).ok()) return;
      continue;
    }
    auto reply = router_.route(id, partition::FetchRequest{consumer.next_offset, kFetchBytesMax, wait}).receive();
    if (!reply.ok()) return;
    if (!reply->status.ok()) {
      workload_.count_error("fetch", reply->status.code());
      const partition::Replica* replica = router_.replica(id);
      // Retention moved the start past this consumer: go on from there. (An offset above the end
      // is a replica that restarted and has not re-applied everything yet: wait.)
      if (reply->status.code() == Errc::offset_out_of_range && replica != nullptr &&
          replica->state().start_offset() > consumer.next_offset) {
        consumer.next_offset = replica->state().start_offset();
        workload_.ledger().skipped(partition, consumer.id, consumer.next_offset);
      }
      if (!runtime_.sleep_for(kRetryPause).ok()) return;
      continue;
    }
    const auto& fetched = std::get<partition::FetchReply>(reply->value);
    log::Result<std::vector<ByteSpan>> batches = log::split_batches(fetched.batches);
    if (!batches.ok() || batches->size() != fetched.base_offsets.size()) {
      return workload_.fail("partition " + std::to_string(partition) + ": a fetch returned damaged batches");
    }
    for (size_t b = 0; b < batches->size(); ++b) {
      const log::BatchHeader header = log::verify_batch((*batches)[b]).value();
      log::Result<std::vector<log::RecordView>> views = log::decode_records((*batches)[b], header);
      if (!views.ok()) return workload_.fail("partition " + std::to_string(partition) + ": a fetched batch does not decode");
      std::vector<uint64_t> records;
      for (const log::RecordView& record : *views) records.push_back(hash_bytes(record.value));
      workload_.ledger().consumed(partition, consumer.id, consumer.next_offset, fetched.base_offsets[b], records,
                                  header.first_timestamp_ms, header.max_timestamp_ms);
      consumer.next_offset = fetched.base_offsets[b] + records.size();
    }
  }
}

// --- the workload ---------------------------------------------------------------------------------

partition::ReplicaConfig PartitionsWorkload::replica_config(NodeIndex node, uint32_t partition, PlantedBug planted_bug,
                                                            SimRuntime& runtime) const {
  partition::ReplicaConfig config = replica_template(config_, node, planted_bug, &runtime);
  config.partition = PartitionId{kTopic, partition};
  config.group = kFirstGroup + partition;
  config.dir = "partition-" + std::to_string(kTopic) + "-" + std::to_string(partition);
  for (NodeIndex replica : replicas_of(partition)) config.storage.bootstrap.voters.insert(node_id_of(replica));
  return config;
}

// --- controller placement -------------------------------------------------------------------------

// Before the replicas are compared: the topic exists and no partition is moving.
std::string PartitionsWorkload::controller_lagging() const {
  const controller::Metadata* metadata = latest_metadata();
  if (topic_ == 0 || metadata == nullptr || metadata->topic_by_id(topic_) == nullptr) return "the topic is not created yet";
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.partitions); ++p) {
    if (metadata->partition(PartitionId{topic_, p})->move) return "partition " + std::to_string(p) + " is moving";
  }
  return "";
}

// The first copy to show a newer metadata state advances the record: a node seen dead starts its
// clock, a partition whose replicas changed finished a move (timed from its removed node's death
// when that node was dead). Copies behind the newest seen are ignored.
void PartitionsWorkload::observe(const controller::Metadata& metadata, raft::Index applied) {
  if (applied <= observed_applied_ || topic_ == 0) return;
  observed_applied_ = applied;
  const int64_t now = world_.now_ns();
  for (const auto& [id, node] : metadata.nodes()) {
    if (node.state == controller::NodeState::dead) {
      dead_since_ns_.try_emplace(id, now);
    } else {
      dead_since_ns_.erase(id);
    }
  }
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.partitions); ++p) {
    const controller::PartitionRecord* record = metadata.partition(PartitionId{topic_, p});
    if (record == nullptr) continue;
    auto [seen, first] = observed_replicas_.try_emplace(p, record->replicas);
    if (first || seen->second == record->replicas) continue;
    for (NodeId old : seen->second) {
      if (std::find(record->replicas.begin(), record->replicas.end(), old) != record->replicas.end()) continue;
      ++replicas_moved_;
      auto dead = dead_since_ns_.find(old);
      if (dead != dead_since_ns_.end()) dead_move_ns_.push_back(now - dead->second);
    }
    seen->second = record->replicas;
  }
}

// Every record is unique: partition, producer, sequence; padded to a random size.
Producer::Pending PartitionsWorkload::next_batch(Producer& producer, Prng& prng) const {
  auto next = [&prng] { return prng.next(); };
  const auto count = static_cast<uint32_t>(random_range(next, 1, config_.records_per_batch_max));
  std::vector<std::string> values;
  Producer::Pending pending;
  for (uint32_t i = 0; i < count; ++i) {
    std::string value = "p" + std::to_string(producer.partition) + " w" + std::to_string(producer.index) + " s" +
                        std::to_string(producer.next_sequence + i) + " ";
    value.append(random_below(next, static_cast<uint64_t>(config_.payload_bytes_max) + 1), 'x');
    pending.records.push_back(hash_bytes(value));
    values.push_back(std::move(value));
  }
  std::vector<log::Record> records;
  for (const std::string& value : values) records.push_back(log::Record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}});
  std::optional<log::ProducerStamp> stamp;
  if (producer.id != 0) stamp = log::ProducerStamp{producer.id, 0, producer.next_sequence};
  pending.batch = log::encode_batch(0, 0, records, log::kBatchBytesLimit, 0, stamp).value();
  return pending;
}

// "" once every producer had its probe acknowledged and, for every partition, every replica on an
// up node is at the same end and every consumer of it has read to there.
std::string PartitionsWorkload::lagging() const {
  if (controlled()) {
    if (std::string lag = controller_lagging(); !lag.empty()) return lag;
  }
  for (const auto& producer : producers_) {
    if (!producer->probed) return "partition " + std::to_string(producer->partition) + " has a producer without an acknowledged probe";
  }
  for (uint32_t p = 0; p < static_cast<uint32_t>(config_.partitions); ++p) {
    std::optional<uint64_t> end;
    for (NodeIndex node : replicas_of(p)) {
      const partition::Replica* replica = this->replica(node, p);
      if (replica == nullptr) return "partition " + std::to_string(p) + " has no replica on node " + std::to_string(node + 1) + " yet";
      if (end && replica->state().end_offset() != *end) return "replicas of partition " + std::to_string(p) + " are at different ends";
      end = replica->state().end_offset();
      if (consumers_.at({node, p}).next_offset != *end) {
        return "the consumer on node " + std::to_string(node + 1) + " of partition " + std::to_string(p) + " lags";
      }
    }
  }
  return "";
}

void PartitionsWorkload::report(Figures& figures) const {
  figures.emplace_back("acked_records", std::to_string(ledger_.acked_records()));
  figures.emplace_back("consumed_records", std::to_string(ledger_.consumed_records()));
  figures.emplace_back("lost_acked_records", std::to_string(ledger_.lost_acked()));
  figures.emplace_back("duplicate_records", std::to_string(ledger_.duplicate_records()));
  figures.emplace_back("replica_divergence", std::to_string(ledger_.divergences() + segments_differing_));
  figures.emplace_back("retained_out_records", std::to_string(ledger_.retained_out()));
  figures.emplace_back("sealed_segments_compared", std::to_string(segments_compared_));
  figures.emplace_back("storage_restarts", std::to_string(storage_restarts_));
  for (const auto& [what, count] : errors_) figures.emplace_back("errors." + what, std::to_string(count));
  if (!controlled()) return;
  // Moves off dead nodes, timed from the node's death to the partition holding its full replica
  // count of live, caught-up replicas again (the move's end: its learner caught up, promoted).
  std::vector<int64_t> times = dead_move_ns_;
  std::sort(times.begin(), times.end());
  auto seconds = [](int64_t ns) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", static_cast<double>(ns) / kNsPerS);
    return std::string(text);
  };
  figures.emplace_back("replicas_moved", std::to_string(replicas_moved_));
  figures.emplace_back("replicas_moved_off_dead", std::to_string(times.size()));
  figures.emplace_back("move_s_median", times.empty() ? "0" : seconds(times[times.size() / 2]));
  figures.emplace_back("move_s_max", times.empty() ? "0" : seconds(times.back()));
}

}  // namespace

std::shared_ptr<const WorkloadSpec> parse_partitions_workload(TableReader& reader, const Scenario& scenario) {
  PartitionsConfig config;
  read_replica_keys(reader, scenario, config);
  reader.integer("producers", config.producers, 1, 64);
  reader.boolean("idempotent", config.idempotent);
  reader.integer("records_per_batch_max", config.records_per_batch_max, 1, 1000);
  reader.integer("payload_bytes_max", config.payload_bytes_max, 0, 64 * 1024);
  reader.integer("think_ms_max", config.think_ms_max, 1, 60'000);
  reader.integer("fetch_wait_ms", config.fetch_wait_ms, 0, 60'000);
  reader.boolean("restart_on_storage_failure", config.restart_on_storage_failure);
  reader.text("placement", config.placement);
  if (config.placement != "fixed" && config.placement != "controller") reader.fail("placement", "\"fixed\" or \"controller\"");
  if (config.segment_bytes_max > 0) {
    log::LogOptions options;
    options.segment_bytes_max = static_cast<uint64_t>(config.segment_bytes_max);
    options.batch_bytes_max = static_cast<size_t>(config.segment_bytes_max / 2);
    if (!log::validate(options).ok()) reader.fail("segment_bytes_max", "too small for a segment header and a batch");
    const int64_t batch_bytes = config.records_per_batch_max * (config.payload_bytes_max + 64) + 128;
    if (batch_bytes > config.segment_bytes_max / 2) reader.fail("segment_bytes_max", "must hold two of the largest batches");
  }
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<PartitionsWorkload, PartitionsConfig>>(config);
}

}  // namespace sluice::sim
