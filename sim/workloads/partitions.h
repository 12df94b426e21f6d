// The "partitions" workload kind: every node runs the partition router (node/partition/router.h)
// over its multi-Raft host; a fixed set of partitions of one topic is placed by the scenario (no
// controller yet: partition p's replicas are on nodes p, p + 1, ..., mod the node count), and
// in-simulation producers and consumers drive them under the scenario's faults.
//
// [workload] keys (docs/formats/scenario.md, docs/partition.md "Simulation"):
//   kind = "partitions"
//   partitions           partitions of the topic (default 3)
//   replication          replicas per partition, <= nodes (default 3)
//   producers            producers per partition (default 1)
//   idempotent           producers carry (id, epoch, sequence): retries cannot duplicate (default true)
//   records_per_batch_max, payload_bytes_max   batch shape (defaults 5, 200)
//   think_ms_max         a producer pauses 1..this ms between batches (default 20)
//   fetch_wait_ms        consumers' long-poll (default 200)
//   tick_ms, election_ticks, heartbeat_ticks    Raft timing (defaults 10, 15, 1)
//   append_bytes_max     entry bytes per Raft append (default 1 MiB)
//   segment_bytes_max, roll_early_one_in       log layout: small segments, early rolls (0: defaults)
//   retention_bytes, retention_ms              per partition (0: none)
//   retention_check_ms   how often leaders check retention (default 500)
//
// Producers' state (id, next sequence, the batch not yet acknowledged) lives in the workload, like
// a client that outlives any one connection: the node that leads the partition sends its batches
// (through its router, as a client that was redirected there would), and a batch whose answer was
// lost (a crash, a timeout, not_leader) is sent again, by the next leader, as is. One consumer per
// replica reads its partition from that replica through the router from offset 0. Every answer
// and every read goes to the partition ledger (sim/checkers/partition_ledger.h); every host to the
// Raft safety checker. While faults last producers write freely; after faults stop each producer
// gets one more batch acknowledged (the liveness probe), then the cluster must converge: replicas
// of a partition at the same end, every consumer caught up, no acknowledged record unread. Last,
// the sealed segments replicas have in common are compared byte for byte from the first batch on
// (the two sync-mark slots in front record each replica's own sync count).
#pragma once

#include <memory>

#include "sim/workloads/workload.h"

namespace sluice::sim {

std::shared_ptr<const WorkloadSpec> parse_partitions_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
