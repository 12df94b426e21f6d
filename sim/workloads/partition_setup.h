// What the partition workloads share (partitions.cc, cluster.cc): the replicas' and the
// controller's configuration from the scenario's [workload] keys, the topic to create, and the
// byte-for-byte comparison of the sealed segments replicas have in common.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/controller/command.h"
#include "node/partition/replica.h"
#include "node/server/node.h"
#include "sim/checkers/sealed_segments.h"
#include "sim/world.h"
#include "sim/workloads/workload.h"

namespace sluice::sim {

class SimRuntime;
struct Scenario;

inline constexpr uint16_t kRaftPort = 7300;
inline constexpr uint16_t kSwimPort = 7301;
inline constexpr uint16_t kRpcPort = 7302;
inline constexpr uint16_t kHttpPort = 7303;

struct PartitionsConfig {
  int64_t partitions = 3;
  int64_t replication = 3;
  int64_t producers = 1;
  bool idempotent = true;
  int64_t records_per_batch_max = 5;
  int64_t payload_bytes_max = 200;
  int64_t think_ms_max = 20;
  int64_t fetch_wait_ms = 200;
  int64_t tick_ms = 10;
  int64_t election_ticks = 15;
  int64_t heartbeat_ticks = 1;
  int64_t append_bytes_max = 1024 * 1024;  // a Raft append's entry bytes (RaftConfig::append_bytes_max)
  int64_t segment_bytes_max = 0;
  int64_t roll_early_one_in = 0;
  // LogOptions::preallocate_step_bytes of every log a node keeps (replicas and the controller's).
  int64_t preallocate_step_bytes = 1 << 20;
  int64_t retention_bytes = 0;
  int64_t retention_ms = 0;
  int64_t retention_check_ms = 500;
  // A group whose storage failed: true, the node restarts (as a service manager would restart a
  // process that exits on it); false, the node's router reopens the replica in place.
  bool restart_on_storage_failure = true;
  // "fixed": the workload places replicas (partition p on nodes p, p + 1, ...); "controller": every
  // node runs membership and the controller, the topic is created through it and its replicas
  // follow the metadata, moves included.
  std::string placement = "fixed";
  int64_t controller_voters = 3;
  int64_t node_dead_grace_ms = 2000;
  int64_t moves_in_flight_max = 4;
};

// What every replica of a topic runs with, whoever places it. `runtime`: BUGGIFY's (null: none).
partition::ReplicaConfig replica_template(const PartitionsConfig& config, NodeIndex node, PlantedBug planted_bug, SimRuntime* runtime);
// Membership (seeded with every other one of the `nodes` nodes), the metadata group on the first
// controller_voters nodes, moves on a short grace, the inter-node RPC and the replicas' template.
// `swim_timing` scales the membership protocol's periods and timeouts (swarm testing; 1: as set).
void configure_controller(const PartitionsConfig& config, World& world, size_t nodes, NodeIndex node, server::NodeConfig& out,
                          double swim_timing = 1);
// The command that creates the workload's topic `name`.
controller::CreateTopic topic_command(const PartitionsConfig& config, std::string_view name);

// Reads the replica, Raft and controller keys both partition workloads take (the partitions kind
// adds its producer keys and `placement`), and checks them against the scenario.
void read_replica_keys(config::TableReader& reader, const Scenario& scenario, PartitionsConfig& config);
// The metadata of the running node (of the first `nodes`) that has applied the most of it (null:
// none runs one), and the nodes it places `partition` of `topic` on.
const controller::Metadata* latest_metadata(const World& world, size_t nodes);
std::vector<NodeIndex> placed_replicas(const World& world, size_t nodes, TopicId topic, uint32_t partition);

using checkers::SegmentsCompared;
// The sealed segments of a partition's log under `dir` on each of `replicas`, compared on their
// simulated disks (sim/checkers/sealed_segments.h).
SegmentsCompared compare_sealed_segments(World& world, const std::vector<NodeIndex>& replicas, const std::string& dir);

}  // namespace sluice::sim
