#include "node/partition/state_machine.h"

#include <algorithm>
#include <string>

#include "node/base/assert.h"
#include "node/base/coverage.h"
#include "node/log/retention.h"

namespace sluice::partition {

PartitionState::PartitionState(PartitionConfig config, uint64_t log_start)
    : config_(config), offsets_(log_start, 0), producers_(config.producers) {}

ApplyOutcome PartitionState::apply(const CommittedEntry& entry) {
  if (entry.index <= applied_index_) return ApplyOutcome{ApplyOutcome::Kind::stale};
  // The log and this map advance together: a mismatch means the replica fed a wrong entry.
  SLUICE_ASSERT(entry.log_offset == offsets_.log_end() && "entries are applied at the log's end");
  SLUICE_ASSERT(entry.log_records >= 1);
  applied_index_ = entry.index;
  switch (entry.kind) {
    case CommittedEntry::Kind::data: return apply_data(entry);
    case CommittedEntry::Kind::command: return apply_command(entry);
    case CommittedEntry::Kind::other: break;
  }
  offsets_.add_hole(entry.log_records);
  return ApplyOutcome{ApplyOutcome::Kind::hole};
}

ApplyOutcome PartitionState::apply_data(const CommittedEntry& entry) {
  max_timestamp_ms_ = std::max(max_timestamp_ms_, entry.max_timestamp_ms);
  stamp_floor_ms_ = std::max(stamp_floor_ms_, max_timestamp_ms_);
  producers_.expire(entry.first_timestamp_ms);
  ApplyOutcome outcome{ApplyOutcome::Kind::appended};
  outcome.timestamp_ms = entry.first_timestamp_ms;
  if (entry.producer.id != 0 && config_.planted_bug != PlantedBug::partition_no_dedup) {
    ProducerVerdict verdict = producers_.check(entry.producer, entry.log_records);
    switch (verdict.kind) {
      case ProducerVerdict::Kind::append: break;
      case ProducerVerdict::Kind::duplicate:
        offsets_.add_hole(entry.log_records);
        SLUICE_COVER("partition.apply_duplicate");
        return ApplyOutcome{ApplyOutcome::Kind::duplicate, Errc::ok, verdict.original.base_offset,
                            verdict.original.base_offset + (verdict.original.last_sequence - verdict.original.first_sequence),
                            verdict.original.timestamp_ms};
      case ProducerVerdict::Kind::out_of_order_sequence:
      case ProducerVerdict::Kind::producer_fenced:
        offsets_.add_hole(entry.log_records);
        SLUICE_COVER("partition.apply_refused");
        outcome.kind = ApplyOutcome::Kind::refused;
        outcome.error = verdict.kind == ProducerVerdict::Kind::producer_fenced ? Errc::producer_fenced
                                                                               : Errc::out_of_order_sequence;
        return outcome;
    }
  }
  outcome.base_offset = offsets_.end_offset();
  offsets_.add_records(entry.log_records);
  outcome.last_offset = offsets_.end_offset() - 1;
  if (entry.producer.id != 0) {
    producers_.record(entry.producer, ProducerBatch{entry.producer.first_sequence,
                                                    entry.producer.first_sequence + (entry.log_records - 1),
                                                    outcome.base_offset, entry.first_timestamp_ms});
  }
  return outcome;
}

ApplyOutcome PartitionState::apply_command(const CommittedEntry& entry) {
  offsets_.add_hole(entry.log_records);
  if (!entry.command) {
    SLUICE_COVER("partition.command_undecodable");
    return ApplyOutcome{ApplyOutcome::Kind::hole};
  }
  uint64_t cut = entry.command->log_offset;
  // A cut at or below the start was overtaken by an earlier one (the leader changed in between);
  // one past the command itself cannot come from a correct leader. Both change nothing.
  if (cut <= offsets_.log_start() || cut > entry.log_offset) {
    SLUICE_COVER("partition.retention_cut_ignored");
    return ApplyOutcome{ApplyOutcome::Kind::hole};
  }
  offsets_.cut_prefix(cut);
  ApplyOutcome outcome{ApplyOutcome::Kind::retention_cut};
  outcome.cut_log_offset = cut;
  return outcome;
}

Result<ProduceDecision> PartitionState::decide_produce(const ProducerId& producer, uint32_t record_count,
                                                       int64_t spread_ms, int64_t now_ms) {
  Result<ProduceDecision> checked = check_produce(producer, record_count);
  if (!checked.ok() || checked->duplicate) return checked;
  Result<int64_t> stamp_ms = stamp(spread_ms, now_ms);
  if (!stamp_ms.ok()) return Result<ProduceDecision>(stamp_ms.status());
  return ProduceDecision{false, 0, 0, *stamp_ms};
}

Result<ProduceDecision> PartitionState::check_produce(const ProducerId& producer, uint32_t record_count) const {
  if (record_count == 0) return Result<ProduceDecision>(Errc::invalid_request, "a batch needs at least one record");
  if (producer.id == 0) return ProduceDecision{};
  if (uint64_t{producer.first_sequence} + record_count - 1 > UINT32_MAX) {
    return Result<ProduceDecision>(Errc::invalid_request, "the batch's sequence range passes 2^32 - 1: start a new epoch");
  }
  ProducerVerdict verdict = producers_.check(producer, record_count);
  switch (verdict.kind) {
    case ProducerVerdict::Kind::append: break;
    case ProducerVerdict::Kind::duplicate: {
      const ProducerBatch& original = verdict.original;
      return ProduceDecision{true, original.base_offset,
                             original.base_offset + (original.last_sequence - original.first_sequence), original.timestamp_ms};
    }
    case ProducerVerdict::Kind::out_of_order_sequence:
      return Result<ProduceDecision>(Errc::out_of_order_sequence, "sequence " + std::to_string(producer.first_sequence) +
                                                                      " does not continue producer " +
                                                                      std::to_string(producer.id) + "'s");
    case ProducerVerdict::Kind::producer_fenced:
      return Result<ProduceDecision>(Errc::producer_fenced, "epoch " + std::to_string(producer.epoch) + " of producer " +
                                                                std::to_string(producer.id) + " is fenced by a newer one");
  }
  return ProduceDecision{};
}

Result<int64_t> PartitionState::stamp(int64_t spread_ms, int64_t now_ms) {
  if (spread_ms < 0) return Result<int64_t>(Errc::invalid_request, "record timestamps before the batch's first");
  int64_t stamp_ms = std::max({now_ms, stamp_floor_ms_, int64_t{0}});
  if (config_.planted_bug == PlantedBug::partition_clock_stamp) stamp_ms = std::max(now_ms, int64_t{0});
  int64_t floor_ms = 0;
  if (__builtin_add_overflow(stamp_ms, spread_ms, &floor_ms)) {
    return Result<int64_t>(Errc::invalid_request, "record timestamps out of range");
  }
  if (stamp_ms > now_ms) SLUICE_COVER("partition.stamp_held_back");  // the clock went back
  stamp_floor_ms_ = floor_ms;
  return stamp_ms;
}

void PartitionState::note_log_timestamp(int64_t max_timestamp_ms) {
  stamp_floor_ms_ = std::max(stamp_floor_ms_, max_timestamp_ms);
}

std::optional<uint64_t> PartitionState::decide_retention(std::span<const log::SegmentInfo> segments, int64_t now_ms) const {
  log::RetentionPolicy policy{config_.retention_ms, config_.retention_bytes};
  std::optional<uint64_t> cut = log::retention_cut(segments, policy, now_ms);
  if (!cut) return std::nullopt;
  // Only what is applied (hence committed) may go: the cut is the newest segment base at or below
  // both the policy's cut and the applied end.
  uint64_t limit = std::min(*cut, offsets_.log_end());
  std::optional<uint64_t> chosen;
  for (const log::SegmentInfo& segment : segments) {
    if (segment.base_offset <= limit) chosen = segment.base_offset;
  }
  if (!chosen || *chosen <= offsets_.log_start()) return std::nullopt;
  if (*chosen < *cut) SLUICE_COVER("partition.retention_held_at_commit");
  return chosen;
}

PartitionState::Snapshot PartitionState::snapshot() const {
  return Snapshot{applied_index_, max_timestamp_ms_, offsets_.state(), producers_.producers()};
}

bool PartitionState::restore(Snapshot snapshot) {
  OffsetMap offsets;
  ProducerTable producers(config_.producers);
  if (!offsets.restore(std::move(snapshot.offsets)) || !producers.restore(std::move(snapshot.producers))) return false;
  applied_index_ = snapshot.applied_index;
  max_timestamp_ms_ = snapshot.max_timestamp_ms;
  stamp_floor_ms_ = std::max(stamp_floor_ms_, max_timestamp_ms_);
  offsets_ = std::move(offsets);
  producers_ = std::move(producers);
  return true;
}

}  // namespace sluice::partition
