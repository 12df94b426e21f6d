// `sluice-realfault run`: one real-fault run from its options to its verdict (docs/realfault.md).
#pragma once

#include <cstdint>
#include <string>

namespace sluice::realfault {

inline constexpr int kExitPassed = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitSkipped = 77;
inline constexpr int kNodesMax = 7;
inline constexpr int64_t kDurationSMax = 3600;

struct RunOptions {
  uint64_t seed = 0;
  bool seed_given = false;
  int nodes = 3;
  int64_t duration_s = 20;
  int64_t converge_s = 90;
  bool netem_auto = true;
  std::string dir;
  bool keep = false;
  std::string node_bin;
};

// Prints the schedule, the figures and the verdict on stdout; returns the exit code.
int run_realfault(const RunOptions& options);

}  // namespace sluice::realfault
