// Idempotent producers: per producer id, its epoch and the sequence ranges and offsets of its last
// kRecentBatches accepted batches. A batch carries (producer id, epoch, first sequence); the table
// decides whether it continues the producer's sequence (append), repeats one of the recent batches
// (duplicate: the original offsets are the answer), or is refused. Pure and deterministic: every
// replica applies the same committed batches and so holds the same table; expiry runs on the
// batches' leader-assigned timestamps, never on a local clock (docs/partition.md, "Idempotent
// producers").
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "node/partition/errors.h"

namespace sluice::partition {

inline constexpr size_t kRecentBatches = 5;

struct ProducerId {
  uint64_t id = 0;  // 0: not idempotent
  uint16_t epoch = 0;
  uint32_t first_sequence = 0;
};

struct ProducerBatch {
  uint32_t first_sequence = 0;
  uint32_t last_sequence = 0;
  uint64_t base_offset = 0;  // partition offset of its first record
  int64_t timestamp_ms = 0;  // its leader-assigned first timestamp

  friend bool operator==(const ProducerBatch&, const ProducerBatch&) = default;
};

struct ProducerState {
  uint16_t epoch = 0;
  int64_t last_timestamp_ms = 0;     // of its newest accepted batch: expiry counts from here
  std::deque<ProducerBatch> recent;  // oldest first, at most kRecentBatches, never empty

  friend bool operator==(const ProducerState&, const ProducerState&) = default;
};

struct ProducerLimits {
  int64_t idle_ms_max = 7LL * 24 * 3600 * 1000;  // a producer with no batch for this long is forgotten
  size_t producers_max = 100'000;                // beyond it the longest-idle producer is forgotten
};

// What the table says about a batch.
struct ProducerVerdict {
  enum class Kind : uint8_t { append, duplicate, out_of_order_sequence, producer_fenced };
  Kind kind = Kind::append;
  ProducerBatch original;  // duplicate: the batch it repeats
};

class ProducerTable {
 public:
  explicit ProducerTable(ProducerLimits limits = {}) : limits_(limits) {}

  // The verdict for a batch of `record_count` records (the sequence range must fit 32 bits).
  // A new producer, or a known one with a newer epoch, must start at sequence 0.
  ProducerVerdict check(const ProducerId& producer, uint32_t record_count) const;
  // Records an accepted batch (check() said append).
  void record(const ProducerId& producer, const ProducerBatch& batch);
  // Forgets producers idle for longer than idle_ms_max at `now_ms` (a batch timestamp).
  void expire(int64_t now_ms);

  const ProducerState* find(uint64_t id) const;
  size_t size() const { return producers_.size(); }
  const std::map<uint64_t, ProducerState>& producers() const { return producers_; }
  // Restores producers that producers() returned; false if one contradicts the rules above.
  bool restore(std::map<uint64_t, ProducerState> producers);
  const ProducerLimits& limits() const { return limits_; }

  friend bool operator==(const ProducerTable& a, const ProducerTable& b) { return a.producers_ == b.producers_; }

 private:
  void forget(uint64_t id);

  ProducerLimits limits_;
  std::map<uint64_t, ProducerState> producers_;
  std::set<std::pair<int64_t, uint64_t>> by_last_timestamp_;  // (last_timestamp_ms, id): expiry order
};

}  // namespace sluice::partition
