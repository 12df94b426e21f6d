#include "sim/trace.h"

#include <cstdio>
#include <cstring>

namespace sluice::sim {

bool TraceRecord::operator==(const TraceRecord& other) const {
  return time_ns == other.time_ns && node == other.node && std::strcmp(kind, other.kind) == 0 &&
         detail == other.detail;
}

std::string TraceRecord::to_string() const {
  char text[160];
  std::snprintf(text, sizeof text, "t=%lld.%09llds node=%d kind=%s detail=%s",
                static_cast<long long>(time_ns / 1'000'000'000), static_cast<long long>(time_ns % 1'000'000'000), node,
                kind, hex16(detail).c_str());
  return text;
}

void Trace::record(int64_t time_ns, int32_t node, const char* kind, uint64_t detail) {
  hash_ = hash_combine(hash_, static_cast<uint64_t>(time_ns));
  hash_ = hash_combine(hash_, static_cast<uint64_t>(static_cast<int64_t>(node)));
  hash_ = hash_combine(hash_, hash_bytes(kind));
  hash_ = hash_combine(hash_, detail);
  ++count_;
  if (recording_) records_.push_back(TraceRecord{time_ns, node, kind, detail});
}

std::optional<size_t> first_divergence(const std::vector<TraceRecord>& a, const std::vector<TraceRecord>& b) {
  const size_t common = std::min(a.size(), b.size());
  for (size_t i = 0; i < common; ++i) {
    if (!(a[i] == b[i])) return i;
  }
  if (a.size() != b.size()) return common;
  return std::nullopt;
}

std::string hex16(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace sluice::sim
