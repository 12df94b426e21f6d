// Retention: which whole segments to drop. Computing the cut is separate from applying it
// (Log::truncate_prefix) so the leader computes it once and every replica applies the same cut.
// Pure (part of the log codec library): the partition state machine decides retention with it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "node/log/segment_format.h"

namespace sluice::log {

struct RetentionPolicy {
  // A sealed segment whose newest record is older than this (by leader-assigned timestamps) goes.
  int64_t age_ms_max = INT64_MAX;
  // Oldest sealed segments go while the log is larger than this.
  uint64_t bytes_max = UINT64_MAX;
};

// The new start offset (a segment's base offset) that applies `policy` at `now_ms`, or nullopt if
// nothing is due. Only a prefix of sealed segments is ever cut; the active segment stays.
std::optional<uint64_t> retention_cut(std::span<const SegmentInfo> segments, const RetentionPolicy& policy, int64_t now_ms);

}  // namespace sluice::log
