// The real-fault harness's nemesis schedule (docs/realfault.md, "Faults"): a list of faults made
// from a seed alone, one at a time, each with its start and end offset from the start of the
// workload. With ScheduleShape::overlap, some network faults carry a process fault inside their
// window (a node killed or paused during a partition, say). With ScheduleShape::clock, every node
// starts with a wall-clock skew and clock jumps come on top of the other faults; with
// ScheduleShape::nfqueue, so do delay and reorder faults. Pure: the same seed and shape give the same schedule (and the same printed lines), so
// a failing run is re-attempted with --seed. Applying a fault is the topology's and the process
// supervisor's business (topology.h, realfault_main.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::realfault {

enum class FaultKind {
  // netem where the kernel has sch_netem (ScheduleShape::netem); else sluice-netdelay behind
  // NFQUEUE rules, drawn from a stream of their own on top of the other faults (ScheduleShape::nfqueue):
  delay,      // delay + jitter on a node's link, both directions
  reorder,    // delay with a share of packets sent at once (reordered), both directions
  // netem, or else tc BPF programs (netfault.bpf.c; ScheduleShape::bpf):
  loss,       // random loss, both directions
  duplicate,  // duplication, both directions
  // always:
  throttle,   // a token bucket (tbf) on a node's link, both directions: a slow link whose queue
              // delays packets up to `delay_ms` and drops beyond
  isolate,    // the node's link down: it reaches nobody, the harness included
  one_way,    // blackhole routes in one direction only (asymmetric): `outbound` true, the node's
              // packets to the other nodes are dropped; false, theirs to it
  partition,  // k-of-n: `side` and the other nodes drop each other's packets (blackhole routes);
              // the harness reaches all
  kill,       // SIGKILL at start, restarted (same data dir) at end
  kill_all,   // every node SIGKILLed at start, all restarted at end (the whole cluster recovers from
              // its disks at once; a process kill keeps the page cache: not a power loss)
  pause,      // SIGSTOP at start, SIGCONT at end
  // ScheduleShape::clock (the clockshift preload library, clockshift.c):
  clock_jump,  // the node's wall clock jumps by `jump_ms` from its skew at start, back to its skew at
               // end (its monotonic clock never jumps: it only drifts); on top of the other faults
};

struct Fault {
  FaultKind kind = FaultKind::delay;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  int node = 1;               // the node (1-based); partition, kill_all: unused
  // kill, pause, isolate, one_way, clock_jump: when >= 0, the fault hits the node leading this partition when
  // it begins (as the workload last saw it; `node` when it knows none).
  int leader_of = -1;
  std::vector<int> side;      // partition: the minority's nodes
  bool outbound = false;      // one_way: drop what the node sends (else what it receives)
  uint32_t delay_ms = 0;      // delay, reorder
  uint32_t jitter_ms = 0;     // delay
  uint32_t percent = 0;       // loss, duplicate, reorder
  uint32_t rate_kbit = 0;     // throttle
  int64_t jump_ms = 0;        // clock_jump: added to the node's skew while the fault lasts
  // A kill or pause inside another fault's window: the index of that (network) fault.
  int overlaps = -1;
};

struct ScheduleShape {
  int nodes = 3;
  int64_t faults_stop_ms = 20'000;  // no fault starts or lasts past this
  int64_t first_fault_ms = 2'000;   // the workload runs fault-free this long first
  int64_t fault_ms_max = 5'000;     // one fault lasts 1 s .. this
  int64_t gap_ms_max = 2'000;       // between faults: 0.5 s .. this
  bool netem = true;                // delay and reorder are drawn (and loss, duplicate)
  bool bpf = false;                 // loss and duplicate are drawn (BPF programs do them)
  int partitions = 3;               // the topic's: faults may target one's leader
  // Half of the network faults lasting 1.5 s or more get a kill or pause of one node inside their
  // window (drawn from a stream of its own, so the other faults stay as without it).
  bool overlap = true;
  // Every node's wall clock starts skewed, its clocks drift (make_skews), and clock jumps come on top of
  // the other faults, one at a time (drawn from a stream of their own: the others stay as without).
  bool clock = false;
  // Without netem: delay and reorder faults made by sluice-netdelay (NFQUEUE), one at a time on
  // one node, on top of the other faults (drawn from a stream of their own: the others stay as
  // without them).
  bool nfqueue = false;
};
// Bounds of the delay and reorder faults of ScheduleShape::nfqueue: each lasts
// kNetDelayLastsMsMin .. kNetDelayLastsMsMax, kNetDelayGapMsMin .. kNetDelayGapMsMax apart.
inline constexpr int64_t kNetDelayLastsMsMin = 1'000;
inline constexpr int64_t kNetDelayLastsMsMax = 4'000;
inline constexpr int64_t kNetDelayGapMsMin = 1'000;
inline constexpr int64_t kNetDelayGapMsMax = 4'000;
// Clock faults' bounds: a node's skew is within ±kSkewMsMax, its drift within ±kDriftPpmMax (a
// clock 1,000 ppm fast gains 60 ms a minute; quartz without NTP is within ~100); a jump moves it by kJumpMsMin ..
// kJumpMsMax either way, for kJumpLastsMsMin .. kJumpLastsMsMax, kJumpGapMsMin .. kJumpGapMsMax
// apart.
inline constexpr int64_t kSkewMsMax = 500;
inline constexpr int64_t kDriftPpmMax = 1'000;
inline constexpr int64_t kJumpMsMin = 50;
inline constexpr int64_t kJumpMsMax = 3'000;
inline constexpr int64_t kJumpLastsMsMin = 1'000;
inline constexpr int64_t kJumpLastsMsMax = 4'000;
inline constexpr int64_t kJumpGapMsMin = 500;
inline constexpr int64_t kJumpGapMsMax = 3'000;
inline constexpr size_t kFaultsMax = 1000;
// The loss and duplication levels (percent) a fault draws from: netfault.bpf.c has a program for
// each (tc's loader sets no constants).
inline constexpr uint32_t kLossPercents[] = {5, 10, 20, 35, 50};
inline constexpr uint32_t kDuplicatePercents[] = {10, 25, 50};

std::vector<Fault> make_schedule(uint64_t seed, const ScheduleShape& shape);
// A node's clocks: its wall clock `offset_ms` ahead of the real one at the start; both its wall
// and its monotonic clock (with its timers and waits) running `drift_ppm` fast (negative: slow)
// from then on, as one crystal running fast would make them.
struct ClockSkew {
  int64_t offset_ms = 0;
  int64_t drift_ppm = 0;
  friend bool operator==(const ClockSkew&, const ClockSkew&) = default;
};
// Each node's wall clock (index node - 1): offset in ±kSkewMsMax, drift in ±kDriftPpmMax; empty
// without ScheduleShape::clock. Pure, like the schedule.
std::vector<ClockSkew> make_skews(uint64_t seed, const ScheduleShape& shape);
// "skew node=2 by=-0.312s drift_ppm=+412": one printed line.
std::string describe_skew(int node, const ClockSkew& skew);
bool is_network_fault(FaultKind kind);  // the topology's to apply (not a process or clock fault)
const char* fault_name(FaultKind kind);
// "fault 3 t=3.200s..6.100s kind=partition side=2 (1,3 on the other)": one printed line.
std::string describe(const Fault& fault, size_t index, int nodes);

}  // namespace sluice::realfault
