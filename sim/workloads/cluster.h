// The "cluster" workload kind (issue 15): the product as its users run it. Every node runs the
// whole node object of sluice-node (membership, the controller, partitions, the inter-node RPC and
// the HTTP API); client hosts beside the cluster run the real client library (client/) over the
// simulated network: one admin client creates the topic, producers (idempotent or not) write
// through the buffered Producer, consumers read every partition through the Consumer. Faults
// reach the nodes; the client hosts see only the network's loss, delay and resets.
//
// [workload] keys (docs/formats/scenario.md): the partitions workload's replica, Raft and
// controller keys (partitions, replication, tick_ms, election_ticks, heartbeat_ticks,
// append_bytes_max, segment_bytes_max, roll_early_one_in, retention_bytes, retention_ms, retention_check_ms,
// controller_voters, node_dead_grace_ms, moves_in_flight_max), plus:
//   client_hosts          hosts running clients (default 2)
//   producers             producers per client host (default 1)
//   consumers             consumers per client host, each reading every partition (default 1)
//   idempotent            producers are idempotent (default true)
//   think_ms_max          a producer pauses 1..this ms between records (default 20)
//   payload_bytes_max     padding of a record's value (default 200)
//   fetch_wait_ms         consumers' long-poll (default 200)
//   identity_scrub_ms     how often a node checks its identity copies (default 60000; 0: at start only)
//   skip_ops              client operations dropped, as "STREAM:FIRST-LAST" ranges of their
//                         sequence numbers: a producer's records ("client<h>.p<k>"), a
//                         consumer's polls ("client<h>.c<k>"), the admin client's topic churn
//                         rounds ("client0.admin") (sim/workloads/client_ops.h; shrink writes it)
//
// Judged by: the Raft safety checker on every group (the controller's included); the partition
// ledger fed from what producers were told (their deliveries) and what consumers read; after
// faults stop, every producer's records delivered and a probe acknowledged, the replicas of each
// partition at the same end, every consumer caught up, no acknowledged record unread; then the
// sealed segments replicas have in common compared byte for byte.
#pragma once

#include <memory>

#include "sim/workloads/client_ops.h"
#include "sim/workloads/workload.h"

namespace sluice::sim {

// `skip_ops` of a [workload] table into `out`; a bad entry fails the reader (FILE:LINE: FIELD: message).
void read_skip_ops(TableReader& reader, SkippedOps& out);

std::shared_ptr<const WorkloadSpec> parse_cluster_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
