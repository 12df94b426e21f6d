// The "raft" workload kind: every node runs the multi-Raft host (node/multiraft/host.h)
// with one or many groups whose voters are all nodes; a controller outside the nodes measures
// (issue 4's figures) and safety is checked on every apply and every leadership change.
//
// [workload] keys (docs/formats/scenario.md, docs/raft.md "Driver and transport"):
//   kind = "raft"
//   measure = "election" | "heartbeats"
//   groups              Raft groups, each with every node as a voter (default 1)
//   tick_ms             host tick interval (default 10)
//   election_ticks      election timeout base: randomized in [election_ticks, 2 * election_ticks) (default 15)
//   heartbeat_ticks     (default 1)
//   kills               election: leader crashes to measure (default 1000)
//   window_ticks        heartbeats: ticks counted once every group is settled (default 200)
//   storage             "log": LogRaftStorage on each node's simulated disk (fsync latency, crashes
//                       lose unsynced writes); "memory": MemoryLogStorage kept outside the node,
//                       durable at once (default "log")
//
// election: wait until a leader has committed an entry of its term and every node caught up,
// crash the leader, measure until a new leader commits an entry of its own term, restart the old
// one, repeat. heartbeats: once idle, count transport messages per node per peer per tick.
// Safety (both): no two leaders of a group in one term; an index, once applied anywhere, always
// holds the same entry everywhere.
#pragma once

#include <memory>

#include "sim/workloads/workload.h"

namespace sluice::sim {

std::shared_ptr<const WorkloadSpec> parse_raft_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
