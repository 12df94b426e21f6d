// The producer's pure core: per-partition send buffers, batching, idempotent sequence numbers,
// retries and delivery results. No I/O and no clock (time is an input); client/producer.h runs
// it on the runtime, sending what take_sendable() hands out over HTTP.
//
// Per partition the records wait in `pending` until a batch is cut: when they fill
// batch_bytes_max (or batch_records_max), when the oldest has lingered linger, or on flush().
// A cut batch gets its sequence numbers at once and keeps them through every retry, so a resend
// of a batch the leader already appended is answered as a duplicate with the first append's
// offsets (docs/formats/http-api.md, "Produce"), never appended twice.
//
// At most in_flight_per_partition_max batches of a partition are on the wire, and no batch is cut
// more than in_flight_per_partition_max - 1 batches after the oldest unacknowledged one, however
// many of those were acknowledged meanwhile: if that oldest batch was appended (its answer lost),
// at most 4 batches landed after it, so the leader still remembers it among its 5 recent batches
// and answers its resend as a duplicate, never as out of order. When a send fails,
// the partition stops sending new batches until nothing of it is on the wire, then resends its
// unacknowledged batches in sequence order: a later batch the leader refused as out of order (its
// predecessor had not arrived) goes again behind it, so the partition's order holds.
//
// A batch the leader refuses as too large (its log's batch limit is below batch_bytes_max) is split
// in two halves that keep its sequence numbers, and the partition cuts smaller batches from then
// on; only a single record too large fails.
//
// When the sequence itself has to restart — the leader rejected a batch for good, or lost the
// producer's state (out_of_order_sequence on the oldest unacknowledged batch), or a batch was
// given up after delivery_timeout — the partition moves to the next producer epoch and renumbers
// its unacknowledged batches from 0: none of them can have been appended, because the leader
// accepts a producer's batches only in sequence order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/errors.h"
#include "node/base/bytes.h"
#include "node/base/planted_bug.h"
#include "node/base/random.h"
#include "runtime/time.h"

namespace sluice::client {

namespace rt = sluice::runtime;

struct ProducerLimits {
  size_t buffer_bytes_max = 64 << 20;     // records held (pending + unacknowledged), all partitions
  size_t batch_bytes_max = 1 << 20;       // one batch's record bytes (key + value + overhead)
  size_t batch_records_max = 10'000;      // the server's produce_records_max
  rt::Duration linger = std::chrono::milliseconds(2);
  size_t in_flight_per_partition_max = 1; // at most 5: the partition remembers 5 recent batches
  rt::Duration delivery_timeout = std::chrono::seconds(120);  // send() to acknowledgement
  rt::Duration retry_backoff_initial = std::chrono::milliseconds(20);
  rt::Duration retry_backoff_max = std::chrono::seconds(1);
  bool idempotent = true;
  PlantedBug planted_bug = PlantedBug::none;  // test-only: client_renumber_on_retry
};

// What a record costs in batch_bytes_max and buffer_bytes_max besides its key and value: about
// what the log's record encoding adds (docs/formats/log.md).
inline constexpr size_t kRecordOverheadBytes = 24;
// An epoch is 16 bits on the wire.
inline constexpr uint32_t kProducerEpochMax = 65535;

struct PartitionKey {
  std::string topic;
  uint32_t partition = 0;
  friend auto operator<=>(const PartitionKey&, const PartitionKey&) = default;
};

struct OutgoingRecord {
  uint64_t id = 0;  // the producer's handle for it, in send() order
  Bytes key;
  Bytes value;
  bool keyed = false;
  rt::Instant enqueued_at{};
  size_t cost() const { return key.size() + value.size() + kRecordOverheadBytes; }
};

// One batch to put on the wire now. Its records stay owned by the core until on_answer() or
// on_send_failed(); `records` points into it.
struct SendJob {
  uint64_t batch_id = 0;
  PartitionKey partition;
  std::optional<uint64_t> producer_id;  // idempotent: with epoch and first_sequence
  uint16_t epoch = 0;
  uint32_t first_sequence = 0;
  const std::deque<OutgoingRecord>* records = nullptr;
  uint32_t attempt = 0;  // 0 for the first send
  rt::Instant delivery_deadline{};  // the oldest record's: no point waiting past it
};

// The answer for one batch: where it landed, or why not.
struct BatchAnswer {
  Status status;           // ok: appended (or a duplicate of an earlier append)
  uint64_t base_offset = 0;
  bool duplicate = false;
};

// What became of one record: its offset, or the error it failed with.
struct Delivery {
  uint64_t record_id = 0;
  PartitionKey partition;
  Status status;
  uint64_t offset = 0;
  rt::Instant enqueued_at{};
};

struct ProducerCoreStats {
  uint64_t batches_cut = 0;
  uint64_t sends = 0;
  uint64_t retries = 0;
  uint64_t duplicates = 0;   // answers saying the batch had been appended already
  uint64_t epoch_bumps = 0;
  uint64_t splits = 0;        // batches the leader found too large, split in two
  uint64_t records_acked = 0;
  uint64_t records_failed = 0;
};

class ProducerCore {
 public:
  // `seed` draws the retry backoffs' jitter (the driver passes runtime.random()).
  ProducerCore(ProducerLimits limits, uint64_t seed);

  // Set once the controller gave the producer its id (idempotent producers send nothing before).
  void set_producer_id(uint64_t id);
  bool ready_to_send() const { return !limits_.idempotent || producer_id_.has_value(); }

  // Takes a record for `partition`: buffer_full when it does not fit buffer_bytes_max now
  // (the driver then blocks or fails, per its setting); record_too_large if it could never fit
  // one batch. Returns the record's id.
  Result<uint64_t> enqueue(const PartitionKey& partition, Bytes key, Bytes value, bool keyed, rt::Instant now);
  // Cuts every partition's pending records into batches at the next take_sendable(), without
  // waiting for linger.
  void flush();
  // The batches to send now, at most in_flight_per_partition_max a partition; each must come
  // back through on_answer().
  std::vector<SendJob> take_sendable(rt::Instant now);
  // The outcome of a SendJob. `stale_route` answers are retried like any retriable error.
  void on_answer(uint64_t batch_id, const BatchAnswer& answer, rt::Instant now);
  // Records whose delivery deadline passed and that are not on the wire fail with
  // delivery_timeout.
  void expire(rt::Instant now);
  // Fails every record not yet delivered with `status` (close without flush, fatal errors).
  void fail_all(const Status& status);
  // Results since the last call, in the order they were decided.
  std::vector<Delivery> take_deliveries();

  // When take_sendable() or expire() may next have something to do (kInstantMax: nothing).
  rt::Instant next_event_at(rt::Instant now) const;
  size_t buffered_bytes() const { return buffered_bytes_; }
  size_t undelivered_records() const { return undelivered_; }
  const ProducerCoreStats& stats() const { return stats_; }
  const ProducerLimits& limits() const { return limits_; }

 private:
  struct Batch {
    uint64_t id = 0;
    uint64_t ordinal = 0;  // the partition's batches in cut order
    uint32_t first_sequence = 0;
    std::deque<OutgoingRecord> records;
    size_t bytes = 0;
    uint32_t attempts = 0;
    bool on_wire = false;
    rt::Instant retry_at{};
  };
  struct Partition {
    std::deque<OutgoingRecord> pending;
    size_t pending_bytes = 0;
    std::deque<Batch> unacked;  // cut, not acknowledged, in sequence order
    size_t on_wire = 0;
    bool recovering = false;    // a send failed: resend from the oldest once nothing is on the wire
    bool resequence = false;    // and renumber under the next epoch first
    uint16_t epoch = 0;
    uint32_t next_sequence = 0;
    uint64_t next_ordinal = 0;
    rt::Duration backoff{};
    size_t batch_bytes_cap = SIZE_MAX;  // below batch_bytes_max once the leader refused a batch as too large
  };

  bool cut_due(const Partition& partition, rt::Instant now) const;
  void cut_batches(Partition& partition, rt::Instant now);
  void collect_sendable(const PartitionKey& key, Partition& partition, rt::Instant now, std::vector<SendJob>& jobs);
  void renumber(const PartitionKey& key, Partition& partition);
  void acknowledge(const PartitionKey& key, Partition& partition, size_t index, const BatchAnswer& answer);
  void fail_batch(const PartitionKey& key, Partition& partition, size_t index, const Status& status);
  void fail_records(const PartitionKey& key, std::deque<OutgoingRecord>& records, const Status& status);
  void note_failure(Partition& partition, Batch& batch, rt::Instant now);
  void split(Partition& partition, size_t index);
  size_t batch_bytes_max(const Partition& partition) const { return std::min(limits_.batch_bytes_max, partition.batch_bytes_cap); }
  void expire_partition(const PartitionKey& key, Partition& partition, rt::Instant now);
  rt::Instant partition_event_at(const Partition& partition, rt::Instant now) const;
  std::pair<const PartitionKey*, Partition*> find_batch(uint64_t batch_id, size_t& index);
  rt::Instant delivery_deadline(const OutgoingRecord& record) const { return record.enqueued_at + limits_.delivery_timeout; }

  ProducerLimits limits_;
  std::optional<uint64_t> producer_id_;
  std::map<PartitionKey, Partition> partitions_;
  std::vector<Delivery> deliveries_;
  size_t buffered_bytes_ = 0;
  size_t undelivered_ = 0;
  uint64_t next_record_id_ = 1;
  uint64_t next_batch_id_ = 1;
  bool flush_requested_ = false;
  ProducerCoreStats stats_;
  Prng prng_;
};

}  // namespace sluice::client
