#include "sim/checkers/partition_ledger.h"

namespace sluice::checkers {

namespace {

std::string where(uint32_t partition, uint64_t offset) {
  return "partition " + std::to_string(partition) + " offset " + std::to_string(offset);
}

}  // namespace

void PartitionLedger::fail(std::string message) {
  if (!violation_) violation_ = std::move(message);
}

// A record seen at `offset` (acknowledged there, or read there): the same record must never turn
// up at another offset.
void PartitionLedger::note_record(uint32_t partition, Partition& state, uint64_t offset, uint64_t record, const char* how) {
  auto [it, fresh] = state.offset_of.emplace(record, offset);
  if (fresh || it->second == offset) return;
  ++duplicate_records_;
  if (idempotent_) {
    fail("duplicate: record " + std::to_string(record) + " " + how + " at " + where(partition, offset) +
         " was already at offset " + std::to_string(it->second));
  }
}

void PartitionLedger::acked(uint32_t partition, uint64_t base_offset, const std::vector<uint64_t>& records) {
  Partition& state = partitions_[partition];
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t offset = base_offset + i;
    auto [it, fresh] = state.acked.emplace(offset, records[i]);
    if (!fresh && it->second != records[i]) {
      fail("acked offset changed: " + where(partition, offset) + " was acknowledged for two different records");
    }
    if (fresh) ++acked_records_;
    auto read = state.read.find(offset);
    if (read != state.read.end() && read->second != records[i]) {
      fail("acked record lost: " + where(partition, offset) + " acknowledged for a record consumers read another at");
    }
    note_record(partition, state, offset, records[i], "acknowledged");
  }
}

void PartitionLedger::consumed(uint32_t partition, uint64_t consumer, uint64_t expected_offset, uint64_t base_offset,
                               const std::vector<uint64_t>& records, int64_t first_timestamp_ms, int64_t max_timestamp_ms) {
  Partition& state = partitions_[partition];
  const uint64_t end = base_offset + records.size();
  if (base_offset > expected_offset || end <= expected_offset) {
    fail("offsets not dense: consumer " + std::to_string(consumer) + " asked for " + where(partition, expected_offset) +
         " and got a batch [" + std::to_string(base_offset) + ", " + std::to_string(end) + ")");
    return;
  }
  auto [time, fresh] = state.consumer_time.emplace(consumer, max_timestamp_ms);
  if (!fresh) {
    if (first_timestamp_ms < time->second && base_offset == expected_offset) {
      ++time_regressions_;
      fail("time went back: " + where(partition, base_offset) + " has first timestamp " + std::to_string(first_timestamp_ms) +
           " ms, below the previous batch's " + std::to_string(time->second));
    }
    time->second = std::max(time->second, max_timestamp_ms);
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t offset = base_offset + i;
    if (offset < expected_offset) continue;  // read before, from this batch's start
    ++consumed_records_;
    auto [read, first_read] = state.read.emplace(offset, records[i]);
    if (!first_read && read->second != records[i]) {
      ++divergences_;
      fail("replicas diverged: consumers read two different records at " + where(partition, offset));
    }
    auto acked = state.acked.find(offset);
    if (acked != state.acked.end() && acked->second != records[i]) {
      fail("acked record lost: " + where(partition, offset) + " holds another record than the one acknowledged there");
    }
    if (first_read) note_record(partition, state, offset, records[i], "read");
  }
}

void PartitionLedger::skipped(uint32_t partition, uint64_t consumer, uint64_t offset) {
  (void)consumer;
  retention_start(partition, offset);
}

void PartitionLedger::high_watermark(uint32_t partition, uint64_t consumer, uint64_t high_watermark, std::optional<uint64_t> acked_before) {
  ++high_watermarks_checked_;
  if (!acked_before || high_watermark > *acked_before) return;
  fail("stale end: consumer " + std::to_string(consumer) + " was told partition " + std::to_string(partition) + " ends at " +
       std::to_string(high_watermark) + " (a confirmed high watermark) in a poll begun after " + where(partition, *acked_before) +
       " was acknowledged");
}

void PartitionLedger::retention_start(uint32_t partition, uint64_t start_offset) {
  Partition& state = partitions_[partition];
  state.retention_start = std::max(state.retention_start, start_offset);
}

uint64_t PartitionLedger::lost_acked() const {
  uint64_t lost = 0;
  for (const auto& [partition, state] : partitions_) {
    for (auto it = state.acked.lower_bound(state.retention_start); it != state.acked.end(); ++it) {
      if (state.read.count(it->first) == 0) ++lost;
    }
  }
  return lost;
}

std::optional<uint64_t> PartitionLedger::last_acked(uint32_t partition) const {
  auto found = partitions_.find(partition);
  if (found == partitions_.end() || found->second.acked.empty()) return std::nullopt;
  return found->second.acked.rbegin()->first;
}

uint64_t PartitionLedger::retained_out() const {
  uint64_t removed = 0;
  for (const auto& [partition, state] : partitions_) {
    for (auto it = state.acked.begin(); it != state.acked.end() && it->first < state.retention_start; ++it) {
      if (state.read.count(it->first) == 0) ++removed;
    }
  }
  return removed;
}

std::string PartitionLedger::first_lost() const {
  for (const auto& [partition, state] : partitions_) {
    for (auto it = state.acked.lower_bound(state.retention_start); it != state.acked.end(); ++it) {
      if (state.read.count(it->first) == 0) return where(partition, it->first);
    }
  }
  return "";
}

EndsAroundPoll::EndsAroundPoll(const PartitionLedger& ledger, uint32_t partitions, const EndOf& end_of) {
  for (uint32_t p = 0; p < partitions; ++p) before_.push_back(Before{end_of(p), ledger.last_acked(p)});
}

void EndsAroundPoll::report_changed(const EndOf& end_of, const Report& report) const {
  for (uint32_t p = 0; p < before_.size(); ++p) {
    const std::optional<uint64_t> now = end_of(p);
    if (now && now != before_[p].end) report(p, *now, before_[p].acked);
  }
}

}  // namespace sluice::checkers
