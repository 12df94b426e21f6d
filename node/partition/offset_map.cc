#include "node/partition/offset_map.h"

#include <algorithm>

#include "node/base/assert.h"

namespace sluice::partition {

OffsetMap::OffsetMap(uint64_t log_start, uint64_t start) : log_start_(log_start), log_end_(log_start) {
  SLUICE_ASSERT(start <= log_start && "a partition offset never exceeds its log offset");
  bias_ = log_start - start;
}

void OffsetMap::add_records(uint64_t count) {
  SLUICE_ASSERT(count >= 1 && log_end_ + count > log_end_);
  log_end_ += count;
}

void OffsetMap::add_hole(uint64_t count) {
  SLUICE_ASSERT(count >= 1 && log_end_ + count > log_end_);
  if (!holes_.empty() && holes_.back().log_offset + holes_.back().count == log_end_) {
    holes_.back().count += count;  // adjacent holes are one run
  } else {
    holes_.push_back(Hole{log_end_, count, skipped_total_});
  }
  skipped_total_ += count;
  log_end_ += count;
}

void OffsetMap::cut_prefix(uint64_t new_log_start) {
  SLUICE_ASSERT(new_log_start >= log_start_ && new_log_start <= log_end_);
  while (!holes_.empty() && holes_.front().log_offset + holes_.front().count <= new_log_start) {
    skipped_dropped_ = holes_.front().skipped_before + holes_.front().count;
    holes_.pop_front();
  }
  if (!holes_.empty() && holes_.front().log_offset < new_log_start) {
    Hole& straddling = holes_.front();  // keep only its part at or after the cut
    uint64_t cut = new_log_start - straddling.log_offset;
    straddling.log_offset += cut;
    straddling.count -= cut;
    straddling.skipped_before += cut;
    skipped_dropped_ = straddling.skipped_before;
  } else if (holes_.empty()) {
    skipped_dropped_ = skipped_total_;
  } else {
    skipped_dropped_ = holes_.front().skipped_before;
  }
  log_start_ = new_log_start;
  check();
}

const OffsetMap::Hole* OffsetMap::last_hole_at_or_before(uint64_t log_offset) const {
  auto after = std::upper_bound(holes_.begin(), holes_.end(), log_offset,
                                [](uint64_t value, const Hole& hole) { return value < hole.log_offset; });
  return after == holes_.begin() ? nullptr : &*(after - 1);
}

uint64_t OffsetMap::skipped_below(uint64_t log_offset) const {
  const Hole* hole = last_hole_at_or_before(log_offset);
  return hole == nullptr ? skipped_dropped_ : hole->skipped_before + hole->count;
}

std::optional<uint64_t> OffsetMap::offset_of(uint64_t log_offset) const {
  if (log_offset < log_start_ || log_offset >= log_end_) return std::nullopt;
  const Hole* hole = last_hole_at_or_before(log_offset);
  if (hole != nullptr && log_offset < hole->log_offset + hole->count) return std::nullopt;
  return log_offset - skipped_below(log_offset) - bias_;
}

uint64_t OffsetMap::offset_at_or_after(uint64_t log_offset) const {
  SLUICE_ASSERT(log_offset >= log_start_ && log_offset <= log_end_);
  const Hole* hole = last_hole_at_or_before(log_offset);
  if (hole != nullptr && log_offset < hole->log_offset + hole->count) {
    return hole->log_offset - hole->skipped_before - bias_;  // the first record after the hole
  }
  return log_offset - skipped_below(log_offset) - bias_;
}

uint64_t OffsetMap::log_offset_of(uint64_t offset) const {
  SLUICE_ASSERT(offset >= start_offset() && offset <= end_offset());
  // The last hole whose following records start at or below `offset`: offsets after a hole
  // start at hole.log_offset - hole.skipped_before - bias, ascending with the holes.
  auto after = std::upper_bound(holes_.begin(), holes_.end(), offset, [this](uint64_t value, const Hole& hole) {
    return value < hole.log_offset - hole.skipped_before - bias_;
  });
  uint64_t skipped = after == holes_.begin() ? skipped_dropped_ : (after - 1)->skipped_before + (after - 1)->count;
  return offset + bias_ + skipped;
}

OffsetMap::State OffsetMap::state() const {
  return State{log_start_, log_end_, bias_, skipped_dropped_, skipped_total_, holes_};
}

bool OffsetMap::restore(State state) {
  if (state.log_start > state.log_end || state.bias > state.log_start || state.skipped_dropped > state.skipped_total) {
    return false;
  }
  uint64_t skipped = state.skipped_dropped;
  uint64_t previous_end = state.log_start;
  for (const Hole& hole : state.holes) {
    bool adjacent_or_overlapping = hole.log_offset < previous_end || (hole.log_offset == previous_end && previous_end != state.log_start);
    if (hole.count == 0 || adjacent_or_overlapping || hole.skipped_before != skipped ||
        hole.log_offset + hole.count > state.log_end || hole.log_offset + hole.count < hole.log_offset) {
      return false;
    }
    skipped += hole.count;
    previous_end = hole.log_offset + hole.count;
  }
  if (skipped != state.skipped_total || state.log_end - state.skipped_total < state.bias) return false;
  log_start_ = state.log_start;
  log_end_ = state.log_end;
  bias_ = state.bias;
  skipped_dropped_ = state.skipped_dropped;
  skipped_total_ = state.skipped_total;
  holes_ = std::move(state.holes);
  return true;
}

void OffsetMap::check() const {
  SLUICE_ASSERT(log_start_ <= log_end_);
  SLUICE_ASSERT(holes_.empty() || holes_.front().log_offset >= log_start_);
  SLUICE_ASSERT(holes_.empty() || holes_.back().log_offset + holes_.back().count <= log_end_);
}

}  // namespace sluice::partition
