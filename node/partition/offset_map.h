// Log offsets ↔ partition offsets. Every Raft entry of a partition is one batch of the partition
// log and takes log offsets: a data batch one per record, every other entry (the no-op a new
// leader appends, a membership change, a partition command, a data batch rejected at apply as a
// duplicate or out of sequence) at least one. Consumers must see dense offsets, so the partition
// numbers only the records of accepted data batches; the log offsets of everything else are
// "holes". This map translates, keeping one entry per run of holes (adjacent holes merge): a few
// per leader election, so it stays small. Pure; part of the partition state (snapshotted).
//
// For a record at log offset L: offset = L - skipped(L) - bias, where skipped(L) counts the hole
// offsets below L since the partition's creation (including those retention removed) and bias is
// fixed when the map is created (log start - partition start).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

namespace sluice::partition {

class OffsetMap {
 public:
  struct Hole {
    uint64_t log_offset = 0;
    uint64_t count = 0;
    uint64_t skipped_before = 0;  // hole offsets below log_offset since creation

    friend bool operator==(const Hole&, const Hole&) = default;
  };

  // An empty partition whose log starts at `log_start` and whose first record gets offset `start`.
  OffsetMap(uint64_t log_start = 0, uint64_t start = 0);

  // The next `count` log offsets (from log_end()) hold records / a hole. count >= 1.
  void add_records(uint64_t count);
  void add_hole(uint64_t count);
  // Drops everything below `new_log_start` (<= log_end()), as retention does.
  void cut_prefix(uint64_t new_log_start);

  // The offset of the record at `log_offset`; nullopt inside a hole or outside [log_start, log_end).
  std::optional<uint64_t> offset_of(uint64_t log_offset) const;
  // The offset of the first record at or after `log_offset` (end_offset() if none), for
  // log_start() <= log_offset <= log_end().
  uint64_t offset_at_or_after(uint64_t log_offset) const;
  // The log offset of record `offset`, for start_offset() <= offset <= end_offset(); for
  // end_offset() it is log_end() (where the next record will go).
  uint64_t log_offset_of(uint64_t offset) const;

  uint64_t start_offset() const { return offset_at_or_after(log_start_); }
  uint64_t end_offset() const { return log_end_ - skipped_total_ - bias_; }
  uint64_t log_start() const { return log_start_; }
  uint64_t log_end() const { return log_end_; }
  const std::deque<Hole>& holes() const { return holes_; }

  // The whole state, for snapshots (partition_snapshot.cc) and tests.
  struct State {
    uint64_t log_start = 0;
    uint64_t log_end = 0;
    uint64_t bias = 0;
    uint64_t skipped_dropped = 0;  // hole offsets below the first kept hole
    uint64_t skipped_total = 0;
    std::deque<Hole> holes;

    friend bool operator==(const State&, const State&) = default;
  };
  State state() const;
  // Restores a state that state() produced; false if it contradicts itself.
  bool restore(State state);

  friend bool operator==(const OffsetMap& a, const OffsetMap& b) { return a.state() == b.state(); }

 private:
  // Hole offsets below `log_offset` (which is not inside a hole).
  uint64_t skipped_below(uint64_t log_offset) const;
  // The last hole starting at or below `log_offset`, or null.
  const Hole* last_hole_at_or_before(uint64_t log_offset) const;
  void check() const;

  uint64_t log_start_ = 0;
  uint64_t log_end_ = 0;
  uint64_t bias_ = 0;
  uint64_t skipped_dropped_ = 0;
  uint64_t skipped_total_ = 0;
  std::deque<Hole> holes_;  // ascending, non-adjacent, within [log_start_, log_end_)
};

}  // namespace sluice::partition
