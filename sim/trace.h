// The simulation trace: every event and every fiber resume folds into a rolling 64-bit hash, so
// two runs of one seed can be compared by one number. With recording on (--check-determinism),
// the events are also kept so the first divergent event can be named.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/base/hash.h"
#include "runtime/time.h"

namespace sluice::sim {

struct TraceRecord {
  int64_t time_ns = 0;
  int32_t node = -1;      // -1: the world itself
  const char* kind = "";  // static string: event kinds are literals
  uint64_t detail = 0;

  bool operator==(const TraceRecord& other) const;
  std::string to_string() const;
};

class Trace {
 public:
  void set_recording(bool on) { recording_ = on; }
  void record(int64_t time_ns, int32_t node, const char* kind, uint64_t detail);
  uint64_t hash() const { return hash_; }
  uint64_t count() const { return count_; }
  const std::vector<TraceRecord>& records() const { return records_; }

 private:
  uint64_t hash_ = 0x5111ce5111ce5111ULL;
  uint64_t count_ = 0;
  bool recording_ = false;
  std::vector<TraceRecord> records_;
};

// Index of the first record where the two traces differ (a missing record counts), if any.
std::optional<size_t> first_divergence(const std::vector<TraceRecord>& a, const std::vector<TraceRecord>& b);

std::string hex16(uint64_t value);

}  // namespace sluice::sim
