// `sluice-realfault run`: one real-fault run from its options to its verdict (docs/realfault.md).
#pragma once

#include <cstdint>
#include <string>

namespace sluice::realfault {

// The exit codes: 77 is what ctest's SKIP_RETURN_CODE is set to.
enum ExitCode : int { kExitPassed = 0, kExitFailed = 1, kExitUsage = 2, kExitSkipped = 77 };
// Limits of the options: nodes at most, and seconds of faults or convergence at most.
inline constexpr int kNodesMax = 7;
inline constexpr int64_t kDurationSMax = 3600;

// The flags of `run` (sluice-realfault --help says what each does).
struct RunOptions {
  uint64_t seed = 0;        // the schedule's, and the cluster id's
  bool seed_given = false;  // else one from the clock, printed
  int nodes = 3;
  int64_t duration_s = 20;  // faults are injected this long
  int64_t converge_s = 90;  // then everything must converge within this
  bool netem_auto = true;   // netem faults where the kernel has sch_netem
  bool bpf_auto = true;     // else loss and duplication by tc BPF programs where tc attaches them
  bool overlap = true;      // kills and pauses inside some network faults (ScheduleShape::overlap)
  // Clock faults (ScheduleShape::clock): auto, on where the clockshift library was built; on, a
  // failure without it; off, none.
  enum class Clock { auto_, on, off };
  Clock clock = Clock::auto_;
  // Delay and reorder faults without netem (ScheduleShape::nfqueue): auto, where sluice-netdelay
  // was built and iptables takes an NFQUEUE rule; on, a failure otherwise; off, none.
  enum class NetDelay { auto_, on, off };
  NetDelay netdelay = NetDelay::auto_;
  std::string dir;          // "": a fresh one, removed after a pass
  bool keep = false;
  std::string node_bin;     // "": the sluice-node next to this binary
  std::string planted_bug;  // "": none; else every node runs with --test-planted-bug this
};

// Prints the schedule, the figures and the verdict on stdout; returns the exit code.
int run_realfault(const RunOptions& options);

}  // namespace sluice::realfault
