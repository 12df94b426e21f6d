#include "node/log/retention.h"

#include <algorithm>

namespace sluice::log {
namespace {

bool expired(const SegmentInfo& segment, int64_t age_ms_max, int64_t now_ms) {
  int64_t age_ms = 0;
  if (__builtin_sub_overflow(now_ms, segment.max_timestamp_ms, &age_ms)) return now_ms > segment.max_timestamp_ms;
  return age_ms > age_ms_max;
}

}  // namespace

std::optional<uint64_t> retention_cut(std::span<const SegmentInfo> segments, const RetentionPolicy& policy, int64_t now_ms) {
  if (segments.size() < 2) return std::nullopt;
  const size_t sealed = segments.size() - 1;
  size_t by_age = 0;
  while (by_age < sealed && !segments[by_age].empty() && expired(segments[by_age], policy.age_ms_max, now_ms)) ++by_age;
  uint64_t total_bytes = 0;
  for (const SegmentInfo& segment : segments) total_bytes += segment.size_bytes;
  size_t by_size = 0;
  while (by_size < sealed && total_bytes > policy.bytes_max) total_bytes -= segments[by_size++].size_bytes;
  const size_t cut = std::max(by_age, by_size);
  if (cut == 0) return std::nullopt;
  return segments[cut].base_offset;
}

}  // namespace sluice::log
