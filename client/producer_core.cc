#include "client/producer_core.h"

#include <algorithm>
#include <limits>

#include "node/base/assert.h"

namespace sluice::client {

ProducerCore::ProducerCore(ProducerLimits limits, uint64_t seed) : limits_(limits), prng_(seed) {
  SLUICE_ASSERT_GT(limits_.batch_bytes_max, 0u);
  SLUICE_ASSERT_GT(limits_.batch_records_max, 0u);
  SLUICE_ASSERT(limits_.in_flight_per_partition_max >= 1 && limits_.in_flight_per_partition_max <= 5);
  SLUICE_ASSERT_GE(limits_.buffer_bytes_max, limits_.batch_bytes_max);
}

void ProducerCore::set_producer_id(uint64_t id) {
  SLUICE_ASSERT_GT(id, 0u);
  producer_id_ = id;
}

Result<uint64_t> ProducerCore::enqueue(const PartitionKey& key, Bytes record_key, Bytes value, bool keyed, rt::Instant now) {
  OutgoingRecord record{next_record_id_, std::move(record_key), std::move(value), keyed, now};
  const size_t cost = record.cost();
  if (cost > limits_.batch_bytes_max) {
    return Status(Errc::record_too_large, "a record of " + std::to_string(cost) + " bytes exceeds batch_bytes_max " +
                                              std::to_string(limits_.batch_bytes_max));
  }
  if (buffered_bytes_ + cost > limits_.buffer_bytes_max) {
    return Status(Errc::buffer_full, "buffer_bytes_max " + std::to_string(limits_.buffer_bytes_max) + " reached");
  }
  Partition& partition = partitions_[key];
  partition.pending.push_back(std::move(record));
  partition.pending_bytes += cost;
  buffered_bytes_ += cost;
  ++undelivered_;
  return next_record_id_++;
}

void ProducerCore::flush() { flush_requested_ = true; }

std::vector<SendJob> ProducerCore::take_sendable(rt::Instant now) {
  std::vector<SendJob> jobs;
  if (!ready_to_send()) return jobs;
  bool pending_left = false;
  for (auto& [key, partition] : partitions_) {
    collect_sendable(key, partition, now, jobs);
    pending_left = pending_left || !partition.pending.empty();
  }
  if (!pending_left) flush_requested_ = false;
  return jobs;
}

// A partition may cut a batch while fewer than in_flight_per_partition_max are unacknowledged:
// records that arrive while the wire is busy gather into the next, bigger batch.
bool ProducerCore::cut_due(const Partition& partition, rt::Instant now) const {
  if (partition.pending.empty() || partition.recovering) return false;
  if (!partition.unacked.empty() && partition.next_ordinal - partition.unacked.front().ordinal >= limits_.in_flight_per_partition_max) {
    return false;
  }
  return flush_requested_ || partition.pending_bytes >= batch_bytes_max(partition) ||
         partition.pending.size() >= limits_.batch_records_max || now >= partition.pending.front().enqueued_at + limits_.linger;
}

void ProducerCore::cut_batches(Partition& partition, rt::Instant now) {
  while (cut_due(partition, now)) {
    Batch batch;
    while (!partition.pending.empty() && batch.records.size() < limits_.batch_records_max &&
           (batch.records.empty() || batch.bytes + partition.pending.front().cost() <= batch_bytes_max(partition))) {
      batch.bytes += partition.pending.front().cost();
      batch.records.push_back(std::move(partition.pending.front()));
      partition.pending.pop_front();
    }
    SLUICE_ASSERT(!batch.records.empty());  // enqueue() refuses a record bigger than a batch
    partition.pending_bytes -= batch.bytes;
    // The sequence is 32 bits: past its end the partition starts over under the next epoch,
    // which is safe only once nothing is unacknowledged.
    if (uint64_t{partition.next_sequence} + batch.records.size() > std::numeric_limits<uint32_t>::max()) {
      if (!partition.unacked.empty()) {
        for (auto it = batch.records.rbegin(); it != batch.records.rend(); ++it) partition.pending.push_front(std::move(*it));
        partition.pending_bytes += batch.bytes;
        return;
      }
      ++partition.epoch;
      partition.next_sequence = 0;
      ++stats_.epoch_bumps;
    }
    batch.id = next_batch_id_++;
    batch.ordinal = partition.next_ordinal++;
    batch.first_sequence = partition.next_sequence;
    partition.next_sequence += static_cast<uint32_t>(batch.records.size());
    partition.unacked.push_back(std::move(batch));
    ++stats_.batches_cut;
  }
}

// Sends the unacknowledged batches in sequence order: never one past a batch still waiting for
// its backoff, so the leader sees them in order.
void ProducerCore::collect_sendable(const PartitionKey& key, Partition& partition, rt::Instant now, std::vector<SendJob>& jobs) {
  if (partition.recovering) {
    if (partition.on_wire > 0) return;
    if (partition.resequence) renumber(key, partition);
    partition.recovering = false;
  }
  cut_batches(partition, now);
  for (Batch& batch : partition.unacked) {
    if (partition.on_wire >= limits_.in_flight_per_partition_max) return;
    if (batch.on_wire) continue;
    if (batch.retry_at > now) return;
    batch.on_wire = true;
    ++partition.on_wire;
    ++stats_.sends;
    if (batch.attempts > 0) ++stats_.retries;
    SendJob job;
    job.batch_id = batch.id;
    job.partition = key;
    if (limits_.idempotent) job.producer_id = producer_id_;
    job.epoch = partition.epoch;
    job.first_sequence = batch.first_sequence;
    job.records = &batch.records;
    job.attempt = batch.attempts++;
    job.delivery_deadline = delivery_deadline(batch.records.front());
    jobs.push_back(job);
  }
}

// The partition's unacknowledged batches are known not to be appended: they start over at
// sequence 0 under the next epoch (which the leader requires to start at 0).
void ProducerCore::renumber(const PartitionKey& key, Partition& partition) {
  partition.resequence = false;
  if (!limits_.idempotent) return;
  if (partition.epoch == kProducerEpochMax) {
    const Status exhausted(Errc::producer_fenced, "the producer's epochs are used up: create a new producer");
    while (!partition.unacked.empty()) fail_batch(key, partition, 0, exhausted);
    fail_records(key, partition.pending, exhausted);
    partition.pending_bytes = 0;
    return;
  }
  ++partition.epoch;
  ++stats_.epoch_bumps;
  partition.next_sequence = 0;
  for (Batch& batch : partition.unacked) {
    batch.first_sequence = partition.next_sequence;
    partition.next_sequence += static_cast<uint32_t>(batch.records.size());
    batch.attempts = 0;
  }
}

std::pair<const PartitionKey*, ProducerCore::Partition*> ProducerCore::find_batch(uint64_t batch_id, size_t& index) {
  for (auto& [key, partition] : partitions_) {
    for (size_t i = 0; i < partition.unacked.size(); ++i) {
      if (partition.unacked[i].id == batch_id) {
        index = i;
        return {&key, &partition};
      }
    }
  }
  return {nullptr, nullptr};
}

void ProducerCore::on_answer(uint64_t batch_id, const BatchAnswer& answer, rt::Instant now) {
  size_t index = 0;
  auto [key, partition] = find_batch(batch_id, index);
  SLUICE_ASSERT(partition != nullptr);  // a batch on the wire is failed only when its answer comes
  Batch& batch = partition->unacked[index];
  SLUICE_ASSERT(batch.on_wire);
  batch.on_wire = false;
  --partition->on_wire;
  const Errc code = answer.status.code();
  if (answer.status.ok()) return acknowledge(*key, *partition, index, answer);
  if (code == Errc::out_of_order_sequence && limits_.idempotent) {
    // Behind an unacknowledged batch: it arrived before its predecessor; resend in order. As the
    // oldest: the leader does not know the sequence it continues (the producer's state expired
    // there), so nothing unacknowledged can have been appended: start over.
    if (index == 0) partition->resequence = true;
    return note_failure(*partition, batch, now);
  }
  if (code == Errc::record_too_large && batch.records.size() > 1) {
    split(*partition, index);
    partition->recovering = true;  // resend in order once nothing is on the wire
    return;
  }
  if (retriable(code)) {
    if (limits_.planted_bug == PlantedBug::client_renumber_on_retry) partition->resequence = true;
    return note_failure(*partition, batch, now);
  }
  // Refused for good: not appended, so neither is anything after it (its sequence is missing).
  fail_batch(*key, *partition, index, answer.status);
  partition->recovering = true;
  partition->resequence = true;
}

// Refused, so not appended: the halves keep the batch's sequence range, the first half first.
void ProducerCore::split(Partition& partition, size_t index) {
  Batch& batch = partition.unacked[index];
  Batch second;
  second.id = next_batch_id_++;
  second.ordinal = batch.ordinal;
  const size_t keep = batch.records.size() / 2;
  second.first_sequence = batch.first_sequence + static_cast<uint32_t>(keep);
  while (batch.records.size() > keep) {
    second.bytes += batch.records[keep].cost();
    second.records.push_back(std::move(batch.records[keep]));
    batch.records.erase(batch.records.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  batch.bytes -= second.bytes;
  batch.attempts = 0;  // refused: neither half can have been appended
  partition.batch_bytes_cap = std::max(batch.bytes, kRecordOverheadBytes);
  partition.unacked.insert(partition.unacked.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(second));
  ++stats_.splits;
}

void ProducerCore::note_failure(Partition& partition, Batch& batch, rt::Instant now) {
  partition.recovering = true;
  partition.backoff = partition.backoff == rt::Duration::zero() ? limits_.retry_backoff_initial
                                                                 : std::min(partition.backoff * 2, limits_.retry_backoff_max);
  // Full jitter in [backoff/2, backoff): producers that failed together do not retry together.
  const auto half = partition.backoff.count() / 2;
  const auto jitter = half > 0 ? static_cast<int64_t>(prng_.next() % static_cast<uint64_t>(half)) : 0;
  batch.retry_at = now + rt::Duration(half + jitter);
}

void ProducerCore::acknowledge(const PartitionKey& key, Partition& partition, size_t index, const BatchAnswer& answer) {
  Batch& batch = partition.unacked[index];
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const OutgoingRecord& record = batch.records[i];
    deliveries_.push_back(Delivery{record.id, key, Status(), answer.base_offset + i, record.enqueued_at});
  }
  stats_.records_acked += batch.records.size();
  if (answer.duplicate) ++stats_.duplicates;
  buffered_bytes_ -= batch.bytes;
  undelivered_ -= batch.records.size();
  partition.backoff = rt::Duration::zero();
  partition.unacked.erase(partition.unacked.begin() + static_cast<std::ptrdiff_t>(index));
}

void ProducerCore::fail_batch(const PartitionKey& key, Partition& partition, size_t index, const Status& status) {
  Batch& batch = partition.unacked[index];
  SLUICE_ASSERT(!batch.on_wire);
  fail_records(key, batch.records, status);
  partition.unacked.erase(partition.unacked.begin() + static_cast<std::ptrdiff_t>(index));
}

void ProducerCore::fail_records(const PartitionKey& key, std::deque<OutgoingRecord>& records, const Status& status) {
  for (const OutgoingRecord& record : records) {
    deliveries_.push_back(Delivery{record.id, key, status, 0, record.enqueued_at});
    buffered_bytes_ -= record.cost();
    --undelivered_;
    ++stats_.records_failed;
  }
  records.clear();
}

void ProducerCore::expire(rt::Instant now) {
  for (auto& [key, partition] : partitions_) expire_partition(key, partition, now);
}

// Pending records past their deadline were never sent: they fail plainly. The oldest
// unacknowledged batch past its deadline fails, and with it every later batch that was sent (each
// may or may not have been appended: delivery_timeout says exactly that); batches never sent
// stay and start over under the next epoch.
void ProducerCore::expire_partition(const PartitionKey& key, Partition& partition, rt::Instant now) {
  const Status timed_out(Errc::delivery_timeout, "not acknowledged within delivery_timeout");
  while (!partition.pending.empty() && delivery_deadline(partition.pending.front()) <= now) {
    const size_t cost = partition.pending.front().cost();
    std::deque<OutgoingRecord> one;
    one.push_back(std::move(partition.pending.front()));
    partition.pending.pop_front();
    partition.pending_bytes -= cost;
    fail_records(key, one, timed_out);
  }
  if (partition.on_wire > 0 || partition.unacked.empty()) return;
  if (delivery_deadline(partition.unacked.front().records.front()) > now) return;
  fail_batch(key, partition, 0, timed_out);
  for (size_t i = 0; i < partition.unacked.size();) {
    if (partition.unacked[i].attempts > 0) {
      fail_batch(key, partition, i, timed_out);
    } else {
      ++i;
    }
  }
  partition.recovering = true;
  partition.resequence = true;
}

void ProducerCore::fail_all(const Status& status) {
  for (auto& [key, partition] : partitions_) {
    for (size_t i = 0; i < partition.unacked.size();) {
      if (partition.unacked[i].on_wire) {
        ++i;  // its answer is still to come; on_answer() delivers it
        continue;
      }
      fail_batch(key, partition, i, status);
    }
    fail_records(key, partition.pending, status);
    partition.pending_bytes = 0;
  }
}

std::vector<Delivery> ProducerCore::take_deliveries() { return std::exchange(deliveries_, {}); }

rt::Instant ProducerCore::next_event_at(rt::Instant now) const {
  rt::Instant next = rt::kInstantMax;
  for (const auto& [key, partition] : partitions_) next = std::min(next, partition_event_at(partition, now));
  return next;
}

// Only what take_sendable() or expire() can act on: a linger or backoff that ends while the
// partition cannot send would otherwise wake the driver in a loop.
rt::Instant ProducerCore::partition_event_at(const Partition& partition, rt::Instant now) const {
  rt::Instant next = rt::kInstantMax;
  if (!partition.pending.empty()) {
    next = std::min(next, delivery_deadline(partition.pending.front()));
    const bool can_cut = !partition.recovering && (partition.unacked.empty() || partition.next_ordinal - partition.unacked.front().ordinal <
                                                                                      limits_.in_flight_per_partition_max);
    if (can_cut) next = std::min(next, flush_requested_ ? now : partition.pending.front().enqueued_at + limits_.linger);
  }
  if (partition.recovering && partition.on_wire == 0) return now;
  if (partition.on_wire == 0 && !partition.unacked.empty()) {
    next = std::min(next, delivery_deadline(partition.unacked.front().records.front()));
  }
  if (!partition.recovering && partition.on_wire < limits_.in_flight_per_partition_max) {
    for (const Batch& batch : partition.unacked) {
      if (batch.on_wire) continue;
      next = std::min(next, batch.retry_at);
      break;
    }
  }
  return next;
}

}  // namespace sluice::client
