#include "tests/e2e/realfault/workload.h"

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "client/client.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "node/base/hash.h"
#include "node/base/random.h"
#include "runtime/epoll/epoll_runtime.h"

namespace sluice::realfault {
namespace {

constexpr rt::Duration kRetry = std::chrono::milliseconds(200);
constexpr rt::Duration kPhasePoll = std::chrono::milliseconds(50);
constexpr rt::Duration kPollDeadline = std::chrono::seconds(1);
constexpr rt::Duration kFetchWait = std::chrono::milliseconds(200);

struct ProducerState {
  std::string name;
  std::map<uint64_t, uint64_t> record_of_id;  // the producer's record id -> the ledger's record id
  uint64_t sent = 0;
  uint64_t failed = 0;
  uint64_t probe_id = 0;
  bool probe_sent = false;
  bool probed = false;  // the probe was acknowledged
  bool finished = false;
};

struct ConsumerState {
  uint64_t id = 0;
  std::map<uint32_t, uint64_t> next_offset;
};

class Workload {
 public:
  Workload(rt::Runtime& runtime, const WorkloadConfig& config, HistoryRecorder& history, WorkloadControl& control)
      : runtime_(runtime), config_(config), history_(history), control_(control), prng_(runtime.random()) {
    for (int k = 0; k < config_.producers; ++k) producers_.emplace_back().name = "p" + std::to_string(k);
    for (int k = 0; k < config_.consumers; ++k) consumers_.push_back(ConsumerState{static_cast<uint64_t>(k + 1), {}});
  }
  void run(WorkloadOutcome& outcome);

 private:
  bool stopping() const { return ending_ || control_.abort.load() || runtime_.cancelled(); }
  bool wait_ready(std::string& error);
  bool create_topic(std::string& error);
  void produce(ProducerState& state);
  void send_until_healed(client::Producer& producer, ProducerState& state);
  void consume(ConsumerState& state);
  void watch_leaders();
  void record_polled(ConsumerState& state, const client::PollResult& polled);
  void record_end(const ConsumerState& state, uint32_t partition, uint64_t end, std::optional<uint64_t> acked_before);
  // "" when converged, else what it still waits for.
  std::string lagging(WorkloadOutcome& outcome);
  std::string partitions_lagging(WorkloadOutcome& outcome);
  std::optional<nlohmann::json> topic_at(const rt::Address& node);

  rt::Runtime& runtime_;
  const WorkloadConfig& config_;
  HistoryRecorder& history_;
  WorkloadControl& control_;
  Prng prng_;
  std::unique_ptr<client::Client> client_;
  std::vector<ProducerState> producers_;
  std::vector<ConsumerState> consumers_;
  uint64_t retries_ = 0;
  uint64_t duplicates_answered_ = 0;
  bool ending_ = false;  // the workload is over: producers close, consumers return
};

// Every node answers /readyz with 200 (member, controller known, registered: docs/http.md).
bool Workload::wait_ready(std::string& error) {
  const rt::Instant deadline = runtime_.now() + config_.ready_timeout;
  for (const rt::Address& node : config_.brokers) {
    while (true) {
      client::Result<client::HttpClientResponse> ready =
          client_->call_at(node, client::HttpClientRequest{"GET", "/readyz", {}, {}}, runtime_.now() + config_.request_timeout);
      if (ready.ok() && ready->status == 200) break;
      if (stopping() || runtime_.now() > deadline) {
        error = "node " + node.to_string() + " not ready within the deadline: " + (ready.ok() ? std::to_string(ready->status) : ready.status().to_string());
        return false;
      }
      (void)runtime_.sleep_for(kRetry);
    }
  }
  return true;
}

// Creates the topic (again until it exists: an answer may be lost) and describes it.
bool Workload::create_topic(std::string& error) {
  const rt::Instant deadline = runtime_.now() + config_.ready_timeout;
  client::TopicSpec spec{config_.topic, config_.partitions, config_.replication, {}};
  spec.config.segment_bytes = config_.segment_bytes;
  while (true) {
    client::Result<client::TopicInfo> created = client_->create_topic(spec);
    if (created.ok() || created.code() == client::Errc::topic_exists) {
      client::Result<client::TopicInfo> topic = client_->describe_topic(config_.topic);
      if (topic.ok()) return true;
    }
    if (stopping() || runtime_.now() > deadline) {
      error = "creating topic " + config_.topic + ": " + (created.ok() ? "described no topic" : created.status().to_string());
      return false;
    }
    (void)runtime_.sleep_for(kRetry);
  }
}

void Workload::produce(ProducerState& state) {
  client::ProducerConfig config;
  config.limits.idempotent = true;
  config.limits.delivery_timeout = config_.delivery_timeout;
  config.request_timeout = config_.request_timeout;
  client::Producer producer(*client_, config);
  producer.on_delivery([this, &state](const client::Delivery& delivery) {
    auto record = state.record_of_id.find(delivery.record_id);
    if (record == state.record_of_id.end()) return;
    if (delivery.status.ok()) {
      HistoryEvent acked;
      acked.kind = HistoryEvent::Kind::acked;
      acked.partition = delivery.partition.partition;
      acked.offset = delivery.offset;
      acked.records = {record->second};
      history_.record(acked);
      if (delivery.record_id == state.probe_id) state.probed = true;
    } else {
      ++state.failed;
    }
    state.record_of_id.erase(record);
  });
  while (!producer.start().ok()) {
    if (stopping() || !runtime_.sleep_for(kRetry).ok()) return producer.close(runtime_.now());
  }
  send_until_healed(producer, state);
  (void)producer.flush(runtime_.now() + config_.delivery_timeout + config_.request_timeout);
  retries_ += producer.stats().core.retries;
  duplicates_answered_ += producer.stats().core.duplicates;
  state.finished = true;
  // The producer must outlive its deliveries: it waits here until the workload ends, then closes
  // (a producer is closed before it goes).
  while (!stopping() && runtime_.sleep_for(kPhasePoll).ok()) {
  }
  producer.close(runtime_.now() + config_.request_timeout);
}

// Records "p<k> s<n> xxx..." (unique: the ledger's record id is a hash of the value, as in the
// simulation's cluster workload), round-robin by the producer's partitioner, until the cluster is
// healed; then one probe record.
void Workload::send_until_healed(client::Producer& producer, ProducerState& state) {
  auto next = [this] { return prng_.next(); };
  while (!state.probe_sent && !stopping()) {
    const bool probe = control_.phase.load() >= WorkloadControl::healed;
    std::string value = state.name + " s" + std::to_string(state.sent) + " ";
    value.append(random_below(next, static_cast<uint64_t>(config_.payload_bytes_max) + 1), 'x');
    const uint64_t record = hash_bytes(as_bytes(value));
    client::Result<uint64_t> id = producer.send(config_.topic, client::OutRecord{std::nullopt, to_bytes(value), std::nullopt},
                                                runtime_.now() + config_.request_timeout);
    if (id.ok()) {
      state.record_of_id[*id] = record;
      ++state.sent;
      if (probe) {
        state.probe_id = *id;
        state.probe_sent = true;
      }
    }
    if (!runtime_.sleep_for(std::chrono::milliseconds(random_range(next, 1, config_.think_ms_max))).ok()) return;
  }
}

void Workload::consume(ConsumerState& state) {
  client::ConsumerConfig config;
  config.wait = kFetchWait;
  config.request_timeout = config_.request_timeout;
  config.confirm_high_watermark = true;  // every end is judged (PartitionLedger::high_watermark)
  client::Consumer consumer(*client_, config);
  while (!consumer.assign_all(config_.topic, client::StartAt::earliest()).ok()) {
    if (stopping() || !runtime_.sleep_for(kRetry).ok()) return;
  }
  const checkers::EndsAroundPoll::EndOf end_of = [&](uint32_t p) { return consumer.high_watermark(config_.topic, p); };
  const checkers::EndsAroundPoll::Report record = [&](uint32_t p, uint64_t end, std::optional<uint64_t> acked_before) {
    record_end(state, p, end, acked_before);
  };
  while (!stopping()) {
    const checkers::EndsAroundPoll ends(history_.ledger(), config_.partitions, end_of);
    client::Result<client::PollResult> polled = consumer.poll(runtime_.now() + kPollDeadline);
    ends.report_changed(end_of, record);
    if (!polled.ok()) {
      if (!runtime_.sleep_for(kRetry).ok()) return;
      continue;
    }
    record_polled(state, *polled);
  }
}

// A confirmed end the consumer learned in a poll (checkers::EndsAroundPoll).
void Workload::record_end(const ConsumerState& state, uint32_t partition, uint64_t end, std::optional<uint64_t> acked_before) {
  HistoryEvent event;
  event.kind = HistoryEvent::Kind::end;
  event.partition = partition;
  event.consumer = state.id;
  event.offset = end;
  event.acked_before = acked_before;
  history_.record(event);
}

void Workload::record_polled(ConsumerState& state, const client::PollResult& polled) {
  for (const client::Gap& gap : polled.gaps) {
    HistoryEvent skipped;
    skipped.kind = HistoryEvent::Kind::skipped;
    skipped.partition = gap.partition;
    skipped.consumer = state.id;
    skipped.offset = gap.to;
    history_.record(skipped);
    state.next_offset[gap.partition] = gap.to;
  }
  for (const client::ConsumedRecord& record : polled.records) {
    uint64_t& next = state.next_offset[record.partition];
    HistoryEvent consumed;
    consumed.kind = HistoryEvent::Kind::consumed;
    consumed.partition = record.partition;
    consumed.consumer = state.id;
    consumed.expected = next;
    consumed.offset = record.offset;
    consumed.records = {hash_bytes(record.value)};
    consumed.first_timestamp_ms = record.timestamp_ms;
    consumed.max_timestamp_ms = record.timestamp_ms;
    history_.record(consumed);
    next = record.offset + 1;
  }
}

// Publishes each partition's leader for the nemesis, as any node answers (a stale answer only
// makes a leader-targeted fault hit a follower).
void Workload::watch_leaders() {
  while (!stopping()) {
    client::Result<client::TopicInfo> topic = client_->describe_topic(config_.topic);
    if (topic.ok()) {
      for (const client::PartitionInfo& partition : topic->partitions) {
        if (partition.partition < kLeadersWatchedMax) control_.leaders[partition.partition] = partition.leader;
      }
    }
    if (!runtime_.sleep_for(kRetry).ok()) return;
  }
}

// The topic as `node` sees it (its own replicas' end offsets), nullopt when it does not answer.
std::optional<nlohmann::json> Workload::topic_at(const rt::Address& node) {
  client::Result<client::HttpClientResponse> answer = client_->call_at(
      node, client::HttpClientRequest{"GET", "/v1/topics/" + client::path_segment(config_.topic), {}, {}}, runtime_.now() + config_.request_timeout);
  if (!answer.ok() || answer->status != 200) return std::nullopt;
  nlohmann::json body = nlohmann::json::parse(answer->body.begin(), answer->body.end(), nullptr, false);
  if (!body.is_object() || !body.contains("partitions") || !body["partitions"].is_array()) return std::nullopt;
  return body;
}

std::string Workload::lagging(WorkloadOutcome& outcome) {
  for (const ProducerState& producer : producers_) {
    if (!producer.finished) return producer.name + " has " + std::to_string(producer.record_of_id.size()) + " records not delivered";
    if (!producer.probed) return producer.name + " has no acknowledged probe";
  }
  return partitions_lagging(outcome);
}

// Every partition: a leader, `replication` replicas, one end offset on all of them (each node
// reports its own replica's), every consumer read up to it, nothing moving.
std::string Workload::partitions_lagging(WorkloadOutcome& outcome) {
  std::map<uint32_t, std::optional<uint64_t>> ends;
  outcome.replicas.assign(config_.partitions, {});
  for (const rt::Address& node : config_.brokers) {
    std::optional<nlohmann::json> topic = topic_at(node);
    if (!topic) return "node " + node.to_string() + " does not describe the topic";
    outcome.topic_id = topic->value("id", uint64_t{0});
    for (const nlohmann::json& entry : (*topic)["partitions"]) {
      const auto p = entry.value("partition", 0u);
      const std::string name = "partition " + std::to_string(p);
      if (p >= config_.partitions) return name + " was not asked for";
      if (entry.contains("moving")) return name + " is moving";
      if (entry.value("leader", uint64_t{0}) == 0) return name + " has no leader (as " + node.to_string() + " sees it)";
      outcome.replicas[p] = entry.value("replicas", std::vector<uint64_t>{});
      if (outcome.replicas[p].size() != config_.replication) return name + " has " + std::to_string(outcome.replicas[p].size()) + " replicas";
      if (!entry.contains("end_offset")) continue;  // no replica on this node
      const auto end = entry["end_offset"].get<uint64_t>();
      if (ends[p] && *ends[p] != end) return "replicas of " + name + " are at different ends";
      ends[p] = end;
    }
  }
  for (const ConsumerState& consumer : consumers_) {
    for (uint32_t p = 0; p < config_.partitions; ++p) {
      auto read = consumer.next_offset.find(p);
      const uint64_t at = read == consumer.next_offset.end() ? 0 : read->second;
      if (!ends[p] || at != *ends[p]) return "consumer " + std::to_string(consumer.id) + " of partition " + std::to_string(p) + " lags";
    }
  }
  return "";
}

void Workload::run(WorkloadOutcome& outcome) {
  client::ClientConfig config;
  config.brokers = config_.brokers;
  config.request_timeout = config_.request_timeout;
  client_ = std::make_unique<client::Client>(runtime_, config);
  if (!wait_ready(outcome.error) || !create_topic(outcome.error)) {
    control_.setup_failed = true;
    return;
  }
  control_.phase = WorkloadControl::running;
  std::vector<rt::Task> tasks;
  for (ProducerState& state : producers_) tasks.push_back(runtime_.spawn("producer", [this, &state] { produce(state); }));
  for (ConsumerState& state : consumers_) tasks.push_back(runtime_.spawn("consumer", [this, &state] { consume(state); }));
  tasks.push_back(runtime_.spawn("leaders", [this] { watch_leaders(); }));
  while (control_.phase.load() < WorkloadControl::healed && !stopping()) (void)runtime_.sleep_for(kPhasePoll);
  const rt::Instant healed = runtime_.now();
  const rt::Instant deadline = healed + config_.converge_timeout;
  std::string lag = "aborted";
  while (!stopping() && runtime_.now() < deadline) {
    lag = lagging(outcome);
    if (lag.empty()) break;
    (void)runtime_.sleep_for(kRetry);
  }
  outcome.converged = lag.empty();
  if (!outcome.converged) outcome.error = "not converged: " + lag;
  outcome.converge_s = std::chrono::duration<double>(runtime_.now() - healed).count();
  ending_ = true;
  for (rt::Task& task : tasks) (void)task.join();
  for (const ProducerState& producer : producers_) {
    outcome.records_sent += producer.sent;
    outcome.deliveries_failed += producer.failed;
  }
  outcome.producer_retries = retries_;
  outcome.duplicates_answered = duplicates_answered_;
  client_->close();
}

}  // namespace

WorkloadOutcome run_workload(const WorkloadConfig& config, HistoryRecorder& history, WorkloadControl& control) {
  WorkloadOutcome outcome;
  auto runtime = rt::epoll::EpollRuntime::create({.data_dir = "/", .file_workers = 1});
  if (!runtime.ok()) {
    outcome.error = "epoll runtime: " + runtime.status().to_string();
    control.setup_failed = true;
    return outcome;
  }
  {
    Workload workload(**runtime, config, history, control);
    const rt::Status ran = (*runtime)->run([&] { workload.run(outcome); });
    if (!ran.ok() && outcome.error.empty()) outcome.error = "epoll runtime: " + ran.to_string();
  }
  control.phase = WorkloadControl::done;
  return outcome;
}

}  // namespace sluice::realfault
