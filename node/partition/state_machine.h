// The partition state machine: the pure core of a partition replica (docs/partition.md). No
// runtime, clock or I/O: the replica driver hands it each committed Raft entry, summarised from
// the entry's batch header (it never sees record bytes), and asks it the leader's decisions.
//
// What it keeps, all derived from the committed entries alone, so every replica that applied the
// same entries holds the same state (and a restart rebuilds it by replaying the log, or from a
// snapshot taken when retention removes a prefix):
// - the partition offsets: dense over the records of accepted data batches (OffsetMap);
// - the idempotent producers' recent batches (ProducerTable), expired on batch timestamps;
// - the log start, moved by replicated retention commands;
// - the newest batch timestamp.
//
// Leader decisions (not replicated themselves, but what the leader proposes is): the timestamp a
// new batch gets (never below the previous batch's, whatever the clock does), a produce answered
// from the producer table without appending (a retry of a committed batch), and the retention
// cut point.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "node/base/planted_bug.h"
#include "node/log/segment_format.h"
#include "node/partition/command.h"
#include "node/partition/errors.h"
#include "node/partition/offset_map.h"
#include "node/partition/producers.h"

namespace sluice::partition {

struct PartitionConfig {
  // Retention: sealed segments whose newest record is older than retention_ms go, and the oldest
  // go while the partition is larger than retention_bytes. The active segment always stays.
  int64_t retention_ms = INT64_MAX;
  uint64_t retention_bytes = UINT64_MAX;
  ProducerLimits producers;
  // Test-only (node/base/planted_bug.h): partition_no_dedup, partition_clock_stamp.
  PlantedBug planted_bug = PlantedBug::none;
};

// One committed Raft entry as the state machine sees it.
struct CommittedEntry {
  enum class Kind : uint8_t {
    data,     // a batch of records (producer.id != 0: idempotent)
    command,  // a control batch: `command` (nullopt if its value did not decode)
    other,    // the no-op a new leader appends, a membership change
  };
  uint64_t index = 0;        // Raft index
  uint64_t log_offset = 0;   // base offset of its batch in the log
  uint32_t log_records = 1;  // log offsets it takes (its batch's record count)
  Kind kind = Kind::other;
  int64_t first_timestamp_ms = 0;  // data: leader-assigned
  int64_t max_timestamp_ms = 0;
  ProducerId producer;
  std::optional<Command> command;
};

// What applying an entry did.
struct ApplyOutcome {
  enum class Kind : uint8_t {
    stale,          // at or below the applied index: already applied (a restart hands some out again)
    appended,       // records got offsets [base_offset, last_offset]
    duplicate,      // a retry of an accepted batch: not appended again; these are its offsets
    refused,        // an idempotent batch the producer table refused (`error`): not appended
    hole,           // no records: a no-op, membership change or undecodable command
    retention_cut,  // the log now starts at cut_log_offset: the replica removes what is below
  };
  Kind kind = Kind::hole;
  Errc error = Errc::ok;
  uint64_t base_offset = 0;
  uint64_t last_offset = 0;
  int64_t timestamp_ms = 0;
  uint64_t cut_log_offset = 0;
};

// The leader's answer to a produce before proposing it.
struct ProduceDecision {
  bool duplicate = false;    // already committed: answer with these offsets, do not propose
  uint64_t base_offset = 0;  // duplicate only
  uint64_t last_offset = 0;
  int64_t timestamp_ms = 0;  // duplicate: the original's; otherwise the stamp for the new batch
};

class PartitionState {
 public:
  // An empty partition whose log starts at `log_start`.
  explicit PartitionState(PartitionConfig config = {}, uint64_t log_start = 0);

  ApplyOutcome apply(const CommittedEntry& entry);

  // Leader: the verdict for a batch of `record_count` records from `producer` (id 0: not
  // idempotent) whose records span `spread_ms` past its first timestamp, at local wall-clock
  // `now_ms`. Errors: out_of_order_sequence, producer_fenced, invalid_request. The stamp is
  // max(now_ms, newest timestamp in the log or already stamped): time never goes back along the
  // log. Proposals in flight are not in the producer table, so a retry racing its original is
  // caught at apply (duplicate) rather than here.
  Result<ProduceDecision> decide_produce(const ProducerId& producer, uint32_t record_count, int64_t spread_ms, int64_t now_ms);
  // decide_produce in two steps, as the replica takes them: the producer check on the request's
  // fiber (a duplicate is answered there), the stamp when the host proposes the batch (so stamps
  // follow the order of the log).
  Result<ProduceDecision> check_produce(const ProducerId& producer, uint32_t record_count) const;
  Result<int64_t> stamp(int64_t spread_ms, int64_t now_ms);
  // Leader: its log holds a batch whose newest timestamp is `max_timestamp_ms` (the replica tells
  // it what a new leader finds in its log beyond the applied entries).
  void note_log_timestamp(int64_t max_timestamp_ms);
  // Leader: the log offset that retention makes the new start, or nullopt. Only whole segments
  // below the applied end (so only committed entries) and never the active segment.
  std::optional<uint64_t> decide_retention(std::span<const log::SegmentInfo> segments, int64_t now_ms) const;

  uint64_t applied_index() const { return applied_index_; }
  uint64_t start_offset() const { return offsets_.start_offset(); }
  uint64_t end_offset() const { return offsets_.end_offset(); }  // the high watermark
  int64_t max_timestamp_ms() const { return max_timestamp_ms_; }
  const OffsetMap& offsets() const { return offsets_; }
  const ProducerTable& producers() const { return producers_; }
  const PartitionConfig& config() const { return config_; }

  // Snapshots (docs/formats/partition.md): the whole state, restored on another replica or after
  // a restart. The config is not part of it.
  struct Snapshot {
    uint64_t applied_index = 0;
    int64_t max_timestamp_ms = 0;
    OffsetMap::State offsets;
    std::map<uint64_t, ProducerState> producers;
  };
  Snapshot snapshot() const;
  // false (state unchanged) if the snapshot contradicts itself.
  bool restore(Snapshot snapshot);

  friend bool operator==(const PartitionState& a, const PartitionState& b) {
    return a.applied_index_ == b.applied_index_ && a.max_timestamp_ms_ == b.max_timestamp_ms_ &&
           a.offsets_ == b.offsets_ && a.producers_ == b.producers_;
  }

 private:
  ApplyOutcome apply_data(const CommittedEntry& entry);
  ApplyOutcome apply_command(const CommittedEntry& entry);

  PartitionConfig config_;
  uint64_t applied_index_ = 0;
  int64_t max_timestamp_ms_ = 0;    // newest applied batch timestamp
  int64_t stamp_floor_ms_ = 0;      // leader: no new batch is stamped below this
  OffsetMap offsets_;
  ProducerTable producers_;
};

Bytes encode_snapshot(const PartitionState::Snapshot& snapshot);
// storage_error if the bytes are not exactly one valid snapshot (bad CRC, version, structure).
Result<PartitionState::Snapshot> decode_snapshot(ByteSpan bytes);

}  // namespace sluice::partition
