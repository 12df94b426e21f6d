// The "raft" workload kind: every node runs the multi-Raft host (node/multiraft/host.h)
// with one or many groups whose voters are all nodes. Every host reports to the full Raft safety
// checker (sim/checkers/raft_safety.h) through its observer: started, observe before each Ready,
// persisted after each sync, sent, applied, reads; the crash of a node reaches the checker from
// the harness (Workload::node_crashed). A violation fails the run naming group, node, index and
// term.
//
// [workload] keys (docs/formats/scenario.md, docs/raft.md "Simulator workload raft"):
//   kind = "raft"
//   measure = "election" | "heartbeats" | "safety"
//   groups              Raft groups, each with every node as a voter (default 1)
//   tick_ms             host tick interval (default 10)
//   election_ticks      election timeout base: randomized in [election_ticks, 2 * election_ticks) (default 15)
//   heartbeat_ticks     (default 1)
//   kills               election: leader crashes to measure (default 1000)
//   window_ticks        heartbeats: ticks counted once every group is settled (default 200)
//   storage             "log": LogRaftStorage on each node's simulated disk (fsync latency, crashes
//                       lose unsynced writes); "memory": MemoryLogStorage kept outside the node,
//                       durable at once (default "log")
//   clients             safety: client fibers per node (default 2)
//   think_ms_max        safety: a client pauses 1..think_ms_max ms between operations (default 20)
//   read_fraction       safety: share of reads among its operations (default 0.25)
//   payload_bytes_max   safety: writes carry a unique id padded by 0..this many bytes (default 1024)
//   log_segment_bytes_max, log_roll_early_one_in
//                       storage "log": small segments (0: the log's default) and early rolls
//                       (LogOptions::roll_early_one_in), the same on every node
//
// election: wait until a leader has committed an entry of its term and every node caught up,
// crash the leader, measure until a new leader commits an entry of its own term, restart the old
// one, repeat. heartbeats: once idle, count transport messages per node per peer per tick.
// safety: client fibers on every node write to (RaftHost::propose) and read from
// (RaftHost::read_index) random groups while faults last; every acknowledged write must be the
// entry applied at its index and every read must cover the writes acknowledged before it
// (sim/checkers/raft_ledger.h). After faults stop each group must acknowledge a new write and
// every node must apply every acknowledged write (converged / liveness). A node whose group
// storage fails (an I/O error, a full disk) exits and is restarted by its service manager.
#pragma once

#include <memory>

#include "sim/workloads/workload.h"

namespace sluice::sim {

std::shared_ptr<const WorkloadSpec> parse_raft_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
