// Sealed segments the replicas of a partition have in common must hold the same batches, byte for
// byte (docs/partition.md, "Retention"): from the segment header on (the header's two sync-mark
// slots record each replica's own sync count). Pure: each replica's files are read through two
// functions, so the simulator compares its simulated disks and the real-fault harness
// (docs/realfault.md) real data directories with the same code.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "node/base/bytes.h"

namespace sluice::checkers {

struct SegmentsCompared {
  uint64_t compared = 0;   // sealed segments held by two replicas or more
  uint64_t differing = 0;  // of those, not byte-identical after the header
  std::string first_difference;
};

// One replica's view of its data directory; paths are relative to it ("partition-1-0/log-.../...").
struct ReplicaFiles {
  // The names in a directory (any order), nullopt when it does not exist.
  std::function<std::optional<std::vector<std::string>>(const std::string& path)> list;
  // A whole file, nullopt when it cannot be read.
  std::function<std::optional<Bytes>(const std::string& path)> read;
};

// Compares the sealed segments (every `*.log` of a `log-*` directory under `dir` but the newest,
// the active one) that two replicas or more hold. A copy whose batches do not all verify was
// damaged at rest and is repaired by its replica when read (docs/partition.md): left out.
SegmentsCompared compare_sealed_segments(const std::vector<ReplicaFiles>& replicas, const std::string& dir);

}  // namespace sluice::checkers
