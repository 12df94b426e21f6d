// Time types of the runtime seam. Instant is a monotonic point in nanoseconds since the runtime's
// start (virtual in the simulator); WallTime is nanoseconds since the Unix epoch and may skew or
// jump (per node in the simulator). Durations are std::chrono::nanoseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace sluice::runtime {

using Duration = std::chrono::nanoseconds;

// Clock tags only: neither has now(); time is read through Runtime::now()/wall_now().
struct MonotonicClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonotonicClock, duration>;
  static constexpr bool is_steady = true;
};

struct WallClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<WallClock, duration>;
  static constexpr bool is_steady = false;
};

using Instant = MonotonicClock::time_point;
using WallTime = WallClock::time_point;

inline constexpr Instant kInstantMax = Instant(Duration(std::numeric_limits<int64_t>::max()));

constexpr int64_t to_ns(Instant t) { return t.time_since_epoch().count(); }
constexpr int64_t to_ns(Duration d) { return d.count(); }
constexpr Instant instant_from_ns(int64_t ns) { return Instant(Duration(ns)); }

using namespace std::chrono_literals;  // NOLINT: 5ms, 1s, ... read best at call sites

}  // namespace sluice::runtime
