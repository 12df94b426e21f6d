#include "client/producer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "client/resolver.h"
#include "node/base/assert.h"
#include "node/log/codec.h"
#include "node/partition/partitioner.h"

namespace sluice::client {

using Json = nlohmann::json;

namespace {

// The batch the leader appends as sent (it stamps offsets, term and time): the log's format.
Result<Bytes> encode(const SendJob& job) {
  std::vector<log::Record> records;
  records.reserve(job.records->size());
  for (const OutgoingRecord& record : *job.records) records.push_back(log::Record{0, record.key, record.value, {}});
  std::optional<log::ProducerStamp> stamp;
  if (job.producer_id) stamp = log::ProducerStamp{*job.producer_id, job.epoch, job.first_sequence};
  // The limit here is the format's: the core already kept the records within batch_bytes_max.
  log::Result<Bytes> batch = log::encode_batch(0, 0, records, log::kBatchBytesLimit, 0, stamp);
  if (!batch.ok()) return Status(Errc::invalid_request, "encoding a batch: " + batch.status().to_string());
  return std::move(batch).value();
}

BatchAnswer answer_of(const Result<HttpClientResponse>& response) {
  if (!response.ok()) return BatchAnswer{response.status()};
  try {
    const Json body = Json::parse(as_string_view(response->body));
    return BatchAnswer{Status(), body.at("base_offset").get<uint64_t>(), body.value("duplicate", false)};
  } catch (const Json::exception& error) {
    return BatchAnswer{Status(Errc::protocol_error, std::string("produce answer: ") + error.what())};
  }
}

}  // namespace

Producer::Producer(Client& client, ProducerConfig config)
    : client_(client), config_(config), core_(config.limits, client.runtime().random()) {}

// Closed first, or its host's fibers were unwound (a crash, the end of the process) before it goes.
Producer::~Producer() {
  SLUICE_ASSERT(!started_ || client_.runtime().scheduler().shutting_down() || (flush_task_.finished() && senders_running_ == 0));
}

Status Producer::start() {
  SLUICE_ASSERT(!started_);
  if (config_.limits.idempotent) {
    Result<uint64_t> id = client_.allocate_producer_id();
    if (!id.ok()) return id.status().with_context("getting a producer id");
    core_.set_producer_id(*id);
  }
  started_ = true;
  flush_task_ = client_.runtime().spawn("producer-flush", [this] { flush_loop(); });
  return Status();
}

Result<uint32_t> Producer::choose_partition(const std::string& topic, const OutRecord& record, rt::Instant deadline) {
  if (record.partition) return *record.partition;
  Result<uint32_t> count = client_.resolver().partition_count(topic, std::min(deadline, client_.runtime().now() + config_.request_timeout));
  if (!count.ok()) return count.status();
  if (record.key) return partition::partition_for_key(*record.key, *count);
  uint32_t& next = round_robin_[topic];
  return next++ % *count;
}

Result<uint64_t> Producer::send(const std::string& topic, OutRecord record, rt::Instant deadline) {
  if (!started_ || closing_) return Status(Errc::closed, "the producer is not running");
  Result<uint32_t> partition = choose_partition(topic, record, deadline);
  if (!partition.ok()) return partition.status();
  rt::Runtime& runtime = client_.runtime();
  const bool keyed = record.key.has_value();
  Bytes key = keyed ? std::move(*record.key) : Bytes();
  while (true) {
    // The core takes the bytes only on success; a refused enqueue gives them back untouched.
    Result<uint64_t> id = core_.enqueue(PartitionKey{topic, *partition}, key, record.value, keyed, runtime.now());
    if (id.ok()) {
      undelivered_ids_.insert(*id);
      wake();
      return id;
    }
    if (id.code() != Errc::buffer_full || !config_.block_when_full) return id.status();
    const rt::Status waited = rt::wait_until(runtime.scheduler(), space_waiters_, deadline, [&] {
      return closing_ || core_.buffered_bytes() + key.size() + record.value.size() + kRecordOverheadBytes <= config_.limits.buffer_bytes_max;
    });
    if (!waited.ok()) return Status(Errc::buffer_full, "buffer_bytes_max reached and no space freed before the deadline");
    if (closing_) return Status(Errc::closed, "the producer closed");
  }
}

Status Producer::flush(rt::Instant deadline) {
  if (undelivered_ids_.empty()) return Status();
  const uint64_t last = *undelivered_ids_.rbegin();
  core_.flush();
  wake();
  const rt::Status waited = rt::wait_until(client_.runtime().scheduler(), delivered_waiters_, deadline,
                                           [&] { return undelivered_ids_.empty() || *undelivered_ids_.begin() > last; });
  if (!waited.ok()) return Status(Errc::timeout, std::to_string(core_.undelivered_records()) + " records not delivered by the deadline");
  return Status();
}

void Producer::close(rt::Instant deadline) {
  if (!started_) return;
  if (!closing_) (void)flush(deadline);
  closing_ = true;
  core_.fail_all(Status(Errc::closed, "the producer closed before the record was delivered"));
  wake();
  space_waiters_.wake_all(client_.runtime().scheduler());
  // Requests still out when the deadline passed are cancelled: their records fail with cancelled.
  for (rt::Task& sender : senders_) {
    if (sender.join(deadline).ok()) continue;
    sender.cancel();
    (void)sender.join();
  }
  (void)flush_task_.join();
}

// Wakes on new records and answers, or when the core's next linger, backoff or deadline comes.
// Encodes each sendable batch here, before any fiber switch: the core may move its records once
// another answer arrives.
void Producer::flush_loop() {
  rt::Runtime& runtime = client_.runtime();
  while (true) {
    const rt::Instant now = runtime.now();
    core_.expire(now);
    for (const SendJob& job : core_.take_sendable(now)) {
      Result<Bytes> batch = encode(job);
      ++senders_running_;
      std::erase_if(senders_, [](const rt::Task& task) { return task.finished(); });
      senders_.push_back(runtime.spawn("producer-send", [this, job, batch = std::move(batch)]() mutable {
        if (!batch.ok()) {
          core_.on_answer(job.batch_id, BatchAnswer{batch.status()}, client_.runtime().now());
        } else {
          send_batch(job, std::move(batch).value());
        }
        --senders_running_;
        wake();
      }));
    }
    publish_deliveries();
    if (closing_ && senders_running_ == 0) {
      core_.fail_all(Status(Errc::closed, "the producer closed before the record was delivered"));
      publish_deliveries();
      return;
    }
    woken_ = false;
    const rt::Instant next = closing_ ? rt::kInstantMax : core_.next_event_at(runtime.now());
    (void)rt::wait_until(runtime.scheduler(), loop_waiters_, next, [&] { return woken_; });
  }
}

void Producer::send_batch(const SendJob& job, Bytes batch) {
  rt::Runtime& runtime = client_.runtime();
  const rt::Instant deadline = std::min(runtime.now() + config_.request_timeout, job.delivery_deadline);
  const std::string& topic = job.partition.topic;
  Result<ResolvedRoute> route = client_.resolver().route(topic, job.partition.partition, deadline);
  if (!route.ok()) {
    ++stats_.requests_failed;
    core_.on_answer(job.batch_id, BatchAnswer{route.status()}, runtime.now());
    return;
  }
  HttpClientRequest request;
  request.method = "POST";
  request.target = "/v1/topics/" + path_segment(topic) + "/records?partition=" + std::to_string(job.partition.partition);
  request.headers.push_back(http::HttpHeader{"content-type", "application/vnd.sluice.batch"});
  request.body = std::move(batch);
  ++stats_.requests;
  Result<HttpClientResponse> response = client_.call_at(route->leader, request, deadline);
  BatchAnswer answer = answer_of(response);
  if (!answer.status.ok()) {
    ++stats_.requests_failed;
    if (stale_route(answer.status.code())) client_.resolver().report_stale(topic, job.partition.partition, route->generation);
  }
  core_.on_answer(job.batch_id, answer, runtime.now());
}

void Producer::publish_deliveries() {
  std::vector<Delivery> deliveries = core_.take_deliveries();
  if (deliveries.empty()) return;
  for (const Delivery& delivery : deliveries) {
    undelivered_ids_.erase(delivery.record_id);
    if (on_delivery_) on_delivery_(delivery);
  }
  rt::Scheduler& scheduler = client_.runtime().scheduler();
  space_waiters_.wake_all(scheduler);
  delivered_waiters_.wake_all(scheduler);
}

ProducerStats Producer::stats() const {
  ProducerStats stats = stats_;
  stats.core = core_.stats();
  return stats;
}

}  // namespace sluice::client
