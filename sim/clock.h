// A node's clocks in the simulation. The monotonic clock runs at (1 + drift) times the world's
// virtual time; the wall clock adds a skew that fault events may jump (forwards or backwards).
#pragma once

#include <cstdint>

#include "node/base/assert.h"
#include "runtime/time.h"

namespace sluice::sim {

class NodeClock {
 public:
  static constexpr int64_t kDriftPpmMax = 100'000;  // 10%: far beyond real quartz, still invertible
  // 2026-01-01T00:00:00Z: wall clocks start here so timestamps look like real ones.
  static constexpr int64_t kWallEpochNs = 1'767'225'600'000'000'000LL;

  NodeClock() = default;
  NodeClock(int64_t drift_ppm, int64_t wall_skew_ns) : drift_ppm_(drift_ppm), wall_skew_ns_(wall_skew_ns) {
    SLUICE_ASSERT_LE(drift_ppm < 0 ? -drift_ppm : drift_ppm, kDriftPpmMax);
  }

  // Local monotonic time at global virtual time `global_ns`.
  int64_t local_ns(int64_t global_ns) const {
    return global_ns + static_cast<int64_t>(static_cast<__int128>(global_ns) * drift_ppm_ / 1'000'000);
  }

  // Earliest global time at which the local clock reads at least `local`.
  int64_t global_ns_for(int64_t local) const {
    auto global = static_cast<int64_t>(static_cast<__int128>(local) * 1'000'000 / (1'000'000 + drift_ppm_));
    while (local_ns(global) < local) ++global;
    while (global > 0 && local_ns(global - 1) >= local) --global;
    return global;
  }

  int64_t wall_ns(int64_t global_ns) const { return kWallEpochNs + local_ns(global_ns) + wall_skew_ns_; }
  void jump_wall(int64_t delta_ns) { wall_skew_ns_ += delta_ns; }
  int64_t drift_ppm() const { return drift_ppm_; }
  int64_t wall_skew_ns() const { return wall_skew_ns_; }

 private:
  int64_t drift_ppm_ = 0;
  int64_t wall_skew_ns_ = 0;
};

}  // namespace sluice::sim
