// The partition ledger: judges what producers were told and what consumers read, per partition
// (docs/partition.md, "Simulation"). Pure: records go in as (offset, record id) pairs, where a
// record id is a hash of a value unique to one record of one producer.
//
// Violations (the first one is kept, naming partition, offset and record):
// - an acknowledged record that a consumer reads at its offset as a different record, or that
//   is acknowledged twice at different offsets (its offset changed);
// - two consumers (on any replicas) reading different records at one offset (replicas diverged);
// - a consumer's batches not following each other densely (a gap or a step back), or a batch's
//   first timestamp below the previous batch's newest (time went back along the log; each such
//   batch counts in time_regressions());
// - with idempotent producers: one record at two offsets (a duplicate);
// - a confirmed high watermark (a read-index round, FetchRequest::confirm_end) at or below an
//   offset acknowledged before the consumer's poll began: the end a consumer stops at when it
//   reads "to the end" must cover every acknowledged record.
// lost_acked() counts acknowledged records no consumer ever read (call it once consumers caught
// up); those below a partition's retention start are counted as retained_out instead.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::checkers {

class PartitionLedger {
 public:
  explicit PartitionLedger(bool idempotent) : idempotent_(idempotent) {}

  // A produce was acknowledged: records[i] is at offset base_offset + i.
  void acked(uint32_t partition, uint64_t base_offset, const std::vector<uint64_t>& records);
  // Consumer `consumer` (any id, stable across its life) read a batch: records[i] at base + i,
  // the batch's leader-assigned first and newest timestamps. `expected_offset` is where the
  // consumer asked to read from (the first batch may start before it).
  void consumed(uint32_t partition, uint64_t consumer, uint64_t expected_offset, uint64_t base_offset,
                const std::vector<uint64_t>& records, int64_t first_timestamp_ms, int64_t max_timestamp_ms);
  // The consumer moved on to `offset` without reading what lies before (retention removed it).
  void skipped(uint32_t partition, uint64_t consumer, uint64_t offset);
  // Consumer `consumer` learned the confirmed high watermark `high_watermark` of `partition` from
  // a fetch sent after `acked_before` (the highest offset acknowledged on it when the poll began;
  // nullopt: none) was acknowledged.
  void high_watermark(uint32_t partition, uint64_t consumer, uint64_t high_watermark, std::optional<uint64_t> acked_before);
  // Where retention has moved the partition's start (the highest any replica reported).
  void retention_start(uint32_t partition, uint64_t start_offset);

  const std::optional<std::string>& violation() const { return violation_; }
  uint64_t acked_records() const { return acked_records_; }
  uint64_t consumed_records() const { return consumed_records_; }
  uint64_t duplicate_records() const { return duplicate_records_; }
  uint64_t divergences() const { return divergences_; }
  uint64_t time_regressions() const { return time_regressions_; }
  uint64_t high_watermarks_checked() const { return high_watermarks_checked_; }
  // Acknowledged records never read at or above the partition's retention start.
  uint64_t lost_acked() const;
  uint64_t retained_out() const;
  // The first acknowledged record no consumer read, for a failure message ("" if none).
  std::string first_lost() const;
  // The highest offset acknowledged on `partition`, if any.
  std::optional<uint64_t> last_acked(uint32_t partition) const;

 private:
  struct Partition {
    std::map<uint64_t, uint64_t> acked;      // offset -> record
    std::map<uint64_t, uint64_t> read;       // offset -> record, as first read by any consumer
    std::map<uint64_t, uint64_t> offset_of;  // record -> offset where it was first read or acked
    std::map<uint64_t, int64_t> consumer_time;  // consumer -> newest timestamp it read
    uint64_t retention_start = 0;
  };
  void fail(std::string message);
  void note_record(uint32_t partition, Partition& state, uint64_t offset, uint64_t record, const char* how);

  bool idempotent_;
  std::map<uint32_t, Partition> partitions_;
  std::optional<std::string> violation_;
  uint64_t acked_records_ = 0;
  uint64_t consumed_records_ = 0;
  uint64_t duplicate_records_ = 0;
  uint64_t divergences_ = 0;
  uint64_t time_regressions_ = 0;
  uint64_t high_watermarks_checked_ = 0;
};

// Confirmed ends around one consumer poll (PartitionLedger::high_watermark): before the poll, each
// partition's end as the consumer knows it and the highest offset acknowledged; after it, each end
// that changed came from a fetch sent after the poll began. One that did not change is not
// reported again (it may be an older answer's).
class EndsAroundPoll {
 public:
  using EndOf = std::function<std::optional<uint64_t>(uint32_t partition)>;
  using Report = std::function<void(uint32_t partition, uint64_t end, std::optional<uint64_t> acked_before)>;
  EndsAroundPoll(const PartitionLedger& ledger, uint32_t partitions, const EndOf& end_of);
  void report_changed(const EndOf& end_of, const Report& report) const;

 private:
  struct Before {
    std::optional<uint64_t> end;
    std::optional<uint64_t> acked;
  };
  std::vector<Before> before_;  // by partition
};

}  // namespace sluice::checkers
