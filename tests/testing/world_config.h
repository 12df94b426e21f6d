// A simulated world with a quiet network (no loss, latency within [min, max]): what the rigs of
// the host, replica, controller and node tests run their clusters on.
#pragma once

#include <chrono>
#include <cstdint>

#include "sim/world.h"

namespace sluice::testing {

inline sim::WorldConfig quiet_world(uint64_t seed, std::chrono::milliseconds latency_min = std::chrono::milliseconds(1),
                                    std::chrono::milliseconds latency_max = std::chrono::milliseconds(3)) {
  sim::WorldConfig config;
  config.seed = seed;
  config.network.link.latency_min = latency_min;
  config.network.link.latency_max = latency_max;
  return config;
}

}  // namespace sluice::testing
