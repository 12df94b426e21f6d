#include "tests/e2e/realfault/nemesis.h"

#include <algorithm>
#include <cstdio>

#include "node/base/hash.h"
#include "node/base/random.h"

namespace sluice::realfault {
namespace {

// The kinds a schedule draws from, in a fixed order (a seed's schedule depends on it).
std::vector<FaultKind> kinds_of(const ScheduleShape& shape) {
  constexpr FaultKind kNetemOnly[] = {FaultKind::delay, FaultKind::reorder};
  constexpr FaultKind kNetemOrBpf[] = {FaultKind::loss, FaultKind::duplicate};
  constexpr FaultKind kAlways[] = {FaultKind::throttle, FaultKind::isolate, FaultKind::one_way, FaultKind::partition,
                                   FaultKind::kill,     FaultKind::pause,   FaultKind::kill_all};
  std::vector<FaultKind> kinds;
  // Element by element: GCC 12 warns falsely (array-bounds) on range inserts of these.
  if (shape.netem) {
    for (FaultKind kind : kNetemOnly) kinds.push_back(kind);
  }
  if (shape.netem || shape.bpf) {
    for (FaultKind kind : kNetemOrBpf) kinds.push_back(kind);
  }
  for (FaultKind kind : kAlways) kinds.push_back(kind);
  return kinds;
}

// The fault's target and parameters; its times are set by the caller.
Fault make_fault(Prng& prng, const std::vector<FaultKind>& kinds, int nodes, int partitions) {
  auto next = [&prng] { return prng.next(); };
  Fault fault;
  fault.kind = kinds[random_below(next, kinds.size())];
  fault.node = static_cast<int>(random_range(next, 1, nodes));
  switch (fault.kind) {
    case FaultKind::delay:
      fault.delay_ms = static_cast<uint32_t>(random_range(next, 5, 200));
      fault.jitter_ms = static_cast<uint32_t>(random_range(next, 0, fault.delay_ms / 2));
      break;
    case FaultKind::loss: fault.percent = kLossPercents[random_below(next, std::size(kLossPercents))]; break;
    case FaultKind::duplicate: fault.percent = kDuplicatePercents[random_below(next, std::size(kDuplicatePercents))]; break;
    case FaultKind::reorder:
      fault.delay_ms = static_cast<uint32_t>(random_range(next, 10, 100));
      fault.percent = static_cast<uint32_t>(random_range(next, 10, 50));
      break;
    case FaultKind::throttle:
      fault.rate_kbit = static_cast<uint32_t>(random_range(next, 64, 2048));
      fault.delay_ms = static_cast<uint32_t>(random_range(next, 50, 500));
      break;
    case FaultKind::one_way: fault.outbound = random_below(next, 2) == 0; break;
    case FaultKind::partition: {
      // A minority of 1 .. (n-1)/2 nodes, chosen by a seeded shuffle.
      std::vector<int> all;
      for (int i = 1; i <= nodes; ++i) all.push_back(i);
      for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[random_below(next, i)]);
      const auto size = static_cast<size_t>(random_range(next, 1, std::max(1, (nodes - 1) / 2)));
      fault.side.assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(size));
      std::sort(fault.side.begin(), fault.side.end());
      break;
    }
    case FaultKind::kill_all:
    case FaultKind::isolate:
    case FaultKind::kill:
    case FaultKind::pause:
    case FaultKind::clock_jump: break;  // never drawn here (add_clock_jumps)
  }
  // Half of the single-node faults hit a partition's leader (where a fault does the most harm).
  const bool leader_target = fault.kind == FaultKind::kill || fault.kind == FaultKind::pause || fault.kind == FaultKind::isolate ||
                             fault.kind == FaultKind::one_way;
  if (leader_target && random_below(next, 2) == 0) fault.leader_of = static_cast<int>(random_below(next, static_cast<uint64_t>(partitions)));
  return fault;
}

std::string seconds(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3fs", static_cast<double>(ms) / 1000.0);
  return text;
}

// "+1.200s", "-0.050s": a clock offset.
std::string signed_seconds(int64_t ms) { return (ms < 0 ? "-" : "+") + seconds(ms < 0 ? -ms : ms); }

std::string join(const std::vector<int>& nodes) {
  std::string out;
  for (int node : nodes) out += (out.empty() ? "" : ",") + std::to_string(node);
  return out;
}

}  // namespace

namespace {

// A kill or pause of one node (half of the time the leader of a partition) inside the window of
// network fault `host`, which lasts at least kOverlapHostMsMin: it starts 200 ms or more after
// the host begins and ends 0.5 to 3 s later, before the host ends.
constexpr int64_t kOverlapHostMsMin = 1'500;

Fault make_overlap(Prng& prng, const Fault& host, int host_index, const ScheduleShape& shape) {
  auto next = [&prng] { return prng.next(); };
  const std::vector<FaultKind> kinds = {FaultKind::kill, FaultKind::pause};
  Fault fault = make_fault(prng, kinds, shape.nodes, std::max(1, shape.partitions));
  fault.overlaps = host_index;
  fault.start_ms = random_range(next, host.start_ms + 200, host.end_ms - 700);
  fault.end_ms = std::min(host.end_ms - 100, fault.start_ms + random_range(next, 500, 3'000));
  return fault;
}

// Faults inside network faults (ScheduleShape::overlap), merged in start order after their hosts.
void add_overlaps(uint64_t seed, const ScheduleShape& shape, std::vector<Fault>& faults) {
  Prng prng(hash_combine(seed, 0x6f7665726c617073ULL));  // "overlaps": its own stream
  auto next = [&prng] { return prng.next(); };
  std::vector<Fault> merged;
  std::vector<Fault> pending;  // overlaps not yet placed (they start after their host does)
  for (size_t i = 0; i < faults.size() && merged.size() + pending.size() < kFaultsMax; ++i) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->start_ms > faults[i].start_ms) break;
      merged.push_back(*it);
      it = pending.erase(it);
    }
    const Fault& host = faults[i];
    merged.push_back(host);
    const bool eligible = is_network_fault(host.kind) && host.end_ms - host.start_ms >= kOverlapHostMsMin;
    if (eligible && random_below(next, 2) == 0) pending.push_back(make_overlap(prng, host, static_cast<int>(i), shape));
  }
  merged.insert(merged.end(), pending.begin(), pending.end());
  // Hosts were numbered in the schedule without overlaps: renumber to their place in `merged`.
  std::vector<int> place(faults.size(), -1);
  for (size_t m = 0, f = 0; m < merged.size(); ++m) {
    if (merged[m].overlaps < 0) place[f++] = static_cast<int>(m);
  }
  for (Fault& fault : merged) {
    if (fault.overlaps >= 0) fault.overlaps = place[static_cast<size_t>(fault.overlaps)];
  }
  faults = std::move(merged);
}

// Clock jumps (ScheduleShape::clock), one at a time from the first fault's time on, each on one
// node, three times in four on the node leading a partition when it begins (its leader stamps the
// partition's records: a jump there is the one that could send time back along the log).
std::vector<Fault> make_clock_jumps(uint64_t seed, const ScheduleShape& shape) {
  Prng prng(hash_combine(seed, 0x636c6f636b6a6d70ULL));  // "clockjmp": its own stream
  auto next = [&prng] { return prng.next(); };
  std::vector<Fault> jumps;
  int64_t at = shape.first_fault_ms + random_range(next, 0, kJumpGapMsMax);
  while (jumps.size() < kFaultsMax && at + kJumpLastsMsMin <= shape.faults_stop_ms) {
    Fault fault;
    fault.kind = FaultKind::clock_jump;
    fault.node = static_cast<int>(random_range(next, 1, shape.nodes));
    if (random_below(next, 4) != 0) fault.leader_of = static_cast<int>(random_below(next, static_cast<uint64_t>(std::max(1, shape.partitions))));
    fault.jump_ms = random_range(next, kJumpMsMin, kJumpMsMax) * (random_below(next, 2) == 0 ? -1 : 1);
    fault.start_ms = at;
    fault.end_ms = std::min(shape.faults_stop_ms, at + random_range(next, kJumpLastsMsMin, kJumpLastsMsMax));
    jumps.push_back(fault);
    at = fault.end_ms + random_range(next, kJumpGapMsMin, kJumpGapMsMax);
  }
  return jumps;
}

// Delay and reorder faults without netem (ScheduleShape::nfqueue), one at a time from the first
// fault's time on, each on one node with make_fault's parameters.
std::vector<Fault> make_net_delays(uint64_t seed, const ScheduleShape& shape) {
  Prng prng(hash_combine(seed, 0x6e657464656c6179ULL));  // "netdelay": its own stream
  auto next = [&prng] { return prng.next(); };
  const std::vector<FaultKind> kinds = {FaultKind::delay, FaultKind::reorder};
  std::vector<Fault> delays;
  int64_t at = shape.first_fault_ms + random_range(next, 0, kNetDelayGapMsMax);
  while (delays.size() < kFaultsMax && at + kNetDelayLastsMsMin <= shape.faults_stop_ms) {
    Fault fault = make_fault(prng, kinds, shape.nodes, std::max(1, shape.partitions));
    fault.start_ms = at;
    fault.end_ms = std::min(shape.faults_stop_ms, at + random_range(next, kNetDelayLastsMsMin, kNetDelayLastsMsMax));
    delays.push_back(fault);
    at = fault.end_ms + random_range(next, kNetDelayGapMsMin, kNetDelayGapMsMax);
  }
  return delays;
}

// `extra` merged into `faults` in start order (after faults starting at the same time), the
// indices of overlapped hosts (Fault::overlaps) moved with them.
void merge_by_start(std::vector<Fault>& faults, std::vector<Fault> extra) {
  std::vector<size_t> order(faults.size() + extra.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  faults.insert(faults.end(), std::make_move_iterator(extra.begin()), std::make_move_iterator(extra.end()));
  std::stable_sort(order.begin(), order.end(), [&faults](size_t a, size_t b) { return faults[a].start_ms < faults[b].start_ms; });
  std::vector<int> place(order.size());
  for (size_t m = 0; m < order.size(); ++m) place[order[m]] = static_cast<int>(m);
  std::vector<Fault> merged;
  merged.reserve(order.size());
  for (size_t index : order) {
    merged.push_back(faults[index]);
    if (merged.back().overlaps >= 0) merged.back().overlaps = place[static_cast<size_t>(merged.back().overlaps)];
  }
  faults = std::move(merged);
}

}  // namespace

std::vector<Fault> make_schedule(uint64_t seed, const ScheduleShape& shape) {
  Prng prng(hash_combine(seed, 0x7265616c6661756cULL));  // "realfaul": a stream of its own
  auto next = [&prng] { return prng.next(); };
  const std::vector<FaultKind> kinds = kinds_of(shape);
  std::vector<Fault> faults;
  int64_t at = shape.first_fault_ms;
  while (faults.size() < kFaultsMax && at + 1'000 <= shape.faults_stop_ms) {
    Fault fault = make_fault(prng, kinds, shape.nodes, std::max(1, shape.partitions));
    fault.start_ms = at;
    fault.end_ms = std::min(shape.faults_stop_ms, at + random_range(next, 1'000, std::max<int64_t>(1'000, shape.fault_ms_max)));
    faults.push_back(fault);
    at = fault.end_ms + random_range(next, 500, std::max<int64_t>(500, shape.gap_ms_max));
  }
  if (shape.overlap) add_overlaps(seed, shape, faults);
  if (shape.clock) merge_by_start(faults, make_clock_jumps(seed, shape));
  if (shape.nfqueue && !shape.netem) merge_by_start(faults, make_net_delays(seed, shape));
  if (faults.size() > kFaultsMax) faults.resize(kFaultsMax);
  return faults;
}

std::vector<ClockSkew> make_skews(uint64_t seed, const ScheduleShape& shape) {
  if (!shape.clock) return {};
  Prng prng(hash_combine(seed, 0x636c6f636b736b77ULL));  // "clockskw": its own stream
  auto next = [&prng] { return prng.next(); };
  std::vector<ClockSkew> skews(static_cast<size_t>(shape.nodes));
  for (ClockSkew& skew : skews) skew.offset_ms = random_range(next, 0, 2 * kSkewMsMax) - kSkewMsMax;
  // Drawn after every offset: a seed's offsets are what they were before drift came.
  for (ClockSkew& skew : skews) skew.drift_ppm = random_range(next, 0, 2 * kDriftPpmMax) - kDriftPpmMax;
  return skews;
}

std::string describe_skew(int node, const ClockSkew& skew) {
  return "skew node=" + std::to_string(node) + " by=" + signed_seconds(skew.offset_ms) + " drift_ppm=" +
         (skew.drift_ppm >= 0 ? "+" : "") + std::to_string(skew.drift_ppm);
}

bool is_network_fault(FaultKind kind) {
  return kind != FaultKind::kill && kind != FaultKind::kill_all && kind != FaultKind::pause && kind != FaultKind::clock_jump;
}

const char* fault_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::delay: return "delay";
    case FaultKind::loss: return "loss";
    case FaultKind::duplicate: return "duplicate";
    case FaultKind::reorder: return "reorder";
    case FaultKind::throttle: return "throttle";
    case FaultKind::isolate: return "isolate";
    case FaultKind::one_way: return "one_way";
    case FaultKind::partition: return "partition";
    case FaultKind::kill: return "kill";
    case FaultKind::kill_all: return "kill_all";
    case FaultKind::pause: return "pause";
    case FaultKind::clock_jump: return "clock_jump";
  }
  return "?";
}

std::string describe(const Fault& fault, size_t index, int nodes) {
  std::string line = "fault " + std::to_string(index) + " t=" + seconds(fault.start_ms) + ".." + seconds(fault.end_ms) +
                     " kind=" + fault_name(fault.kind);
  if (fault.leader_of >= 0) line += " target=leader(p" + std::to_string(fault.leader_of) + ")";
  if (fault.overlaps >= 0) line += " during=fault" + std::to_string(fault.overlaps);
  switch (fault.kind) {
    case FaultKind::partition: {
      std::vector<int> other;
      for (int i = 1; i <= nodes; ++i) {
        if (std::find(fault.side.begin(), fault.side.end(), i) == fault.side.end()) other.push_back(i);
      }
      return line + " side=" + join(fault.side) + " other=" + join(other);
    }
    case FaultKind::delay:
      return line + " node=" + std::to_string(fault.node) + " delay_ms=" + std::to_string(fault.delay_ms) +
             " jitter_ms=" + std::to_string(fault.jitter_ms);
    case FaultKind::reorder:
      return line + " node=" + std::to_string(fault.node) + " delay_ms=" + std::to_string(fault.delay_ms) +
             " reorder_pct=" + std::to_string(fault.percent);
    case FaultKind::throttle:
      return line + " node=" + std::to_string(fault.node) + " rate_kbit=" + std::to_string(fault.rate_kbit) +
             " queue_ms=" + std::to_string(fault.delay_ms);
    case FaultKind::loss:
    case FaultKind::duplicate: return line + " node=" + std::to_string(fault.node) + " pct=" + std::to_string(fault.percent);
    case FaultKind::one_way:
      return line + " node=" + std::to_string(fault.node) + " drop=" + (fault.outbound ? "outbound" : "inbound");
    case FaultKind::kill_all: return line;
    case FaultKind::clock_jump: return line + " node=" + std::to_string(fault.node) + " by=" + signed_seconds(fault.jump_ms);
    case FaultKind::isolate:
    case FaultKind::kill:
    case FaultKind::pause: return line + " node=" + std::to_string(fault.node);
  }
  return line;
}

}  // namespace sluice::realfault
