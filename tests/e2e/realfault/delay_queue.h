// The real-fault harness's packet delayer without sch_netem (docs/realfault.md, "Delay and
// reorder without netem"): sluice-netdelay holds the packets an NFQUEUE rule hands it and lets
// each one go when its delay is up. This is its pure core: given packet arrivals and a seed, when
// each held packet is released. Delay is uniform in [delay - jitter, delay + jitter] (at least
// 0), so jitter wider than the gap between two packets reorders them; `reorder_percent` of the
// packets are not held at all and overtake whatever is held (netem's "reorder"). Bounded: at most
// `held_max` packets are held; past that a packet goes at once (counted), since dropping it
// would be loss, a fault of its own, and holding more would grow without limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "node/base/random.h"

namespace sluice::realfault {

struct DelayConfig {
  int64_t delay_us = 0;
  int64_t jitter_us = 0;
  uint32_t reorder_percent = 0;  // packets sent at once, ahead of the held ones (0..100)
  size_t held_max = 4096;
};

struct DelayStats {
  uint64_t arrived = 0;
  uint64_t delayed = 0;            // held, then released
  uint64_t reordered = 0;          // released (or sent at once) while an earlier packet was held
  uint64_t sent_at_once = 0;       // by reorder_percent
  uint64_t over_limit = 0;         // sent at once because held_max packets were held
};

class DelayQueue {
 public:
  static constexpr int64_t kDelayUsMax = 10'000'000;  // delay + jitter at most 10 s
  DelayQueue(const DelayConfig& config, uint64_t seed);

  // Packet `id` arrived at `now_us`: true when it is held (due() releases it), false when it goes now.
  bool arrive(uint32_t id, int64_t now_us);
  // Appends the packets due at `now_us` to `out`, in release order.
  void due(int64_t now_us, std::vector<uint32_t>& out);
  // When the next held packet is due; none when nothing is held.
  std::optional<int64_t> next_due_us() const;
  // Appends everything held to `out`, in release order (shutting down).
  void drain(std::vector<uint32_t>& out);
  size_t held() const { return by_release_.size(); }
  const DelayStats& stats() const { return stats_; }

 private:
  struct Held {
    uint64_t arrival = 0;  // arrival order
    uint32_t id = 0;
  };
  void release_first(std::vector<uint32_t>& out);

  DelayConfig config_;
  Prng prng_;
  uint64_t arrivals_ = 0;
  std::multimap<int64_t, Held> by_release_;  // release time (µs) -> packet; ties in arrival order
  std::set<uint64_t> held_arrivals_;         // arrival numbers of the held packets
  DelayStats stats_;
};

}  // namespace sluice::realfault
