#include "sim/workloads/partition_setup.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "sim/sim_node.h"
#include "node/controller/controller.h"
#include "sim/scenario.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"

namespace sluice::sim {

namespace rt = sluice::runtime;

// What every replica of the topic runs with, whoever places it. `runtime`: BUGGIFY's (null: none).
partition::ReplicaConfig replica_template(const PartitionsConfig& setup, NodeIndex node, PlantedBug planted_bug, SimRuntime* runtime) {
  partition::ReplicaConfig config;
  if (setup.retention_bytes > 0) config.state.retention_bytes = static_cast<uint64_t>(setup.retention_bytes);
  if (setup.retention_ms > 0) config.state.retention_ms = setup.retention_ms;
  config.retention_check_interval = std::chrono::milliseconds(setup.retention_check_ms);
  config.raft.id = node_id_of(node);
  config.raft.election_timeout_ticks = static_cast<uint32_t>(setup.election_ticks);
  config.raft.heartbeat_interval_ticks = static_cast<uint32_t>(setup.heartbeat_ticks);
  config.raft.append_bytes_max = static_cast<uint64_t>(setup.append_bytes_max);
  // The same log options on every replica and incarnation: replicas holding the same batches roll
  // their segments alike.
  if (setup.segment_bytes_max > 0) {
    config.storage.log.segment_bytes_max = static_cast<uint64_t>(setup.segment_bytes_max);
    config.storage.log.batch_bytes_max = static_cast<size_t>(setup.segment_bytes_max / 2);
  }
  config.storage.log.roll_early_one_in = static_cast<uint32_t>(setup.roll_early_one_in);
  config.storage.log.preallocate_step_bytes = static_cast<uint64_t>(setup.preallocate_step_bytes);
  config.storage.log.buggify_runtime = runtime;
  partition::plant_bug(config, planted_bug);  // each layer acts only on its own bugs
  return config;
}

// Membership (seeded with every other node, so any one may be down), the metadata group on the
// first controller_voters nodes, moves on a short grace, and the replicas' template.
void configure_controller(const PartitionsConfig& setup, World& world, size_t nodes, NodeIndex node, server::NodeConfig& config,
                          double swim_timing) {
  swim::DriverConfig& membership = config.membership.emplace();
  membership.port = kSwimPort;
  membership.core.self_address = rt::Address{world.host(node), kSwimPort}.to_string();
  auto scaled_ms = [swim_timing](double ms) { return static_cast<uint64_t>(std::max(1.0, std::round(ms * swim_timing))); };
  membership.core.probe_interval_ms = scaled_ms(200);
  membership.core.probe_timeout_ms = scaled_ms(50);
  membership.core.probe_deadline_ms = scaled_ms(150);
  membership.core.nack_timeout_ms = scaled_ms(80);
  membership.core.gossip_interval_ms = scaled_ms(50);
  for (size_t i = 0; i < nodes; ++i) {
    if (static_cast<NodeIndex>(i) != node) membership.seeds.push_back(rt::Address{world.host(static_cast<NodeIndex>(i)), kSwimPort}.to_string());
  }
  config.rpc.emplace().port = kRpcPort;  // commands forwarded to the controller leader
  controller::ControllerConfig& controller = config.controller.emplace();
  for (int64_t i = 0; i < setup.controller_voters; ++i) controller.voters.insert(node_id_of(static_cast<NodeIndex>(i)));
  controller.raft.election_timeout_ticks = static_cast<uint32_t>(setup.election_ticks);
  controller.raft.heartbeat_interval_ticks = static_cast<uint32_t>(setup.heartbeat_ticks);
  controller.storage.log.preallocate_step_bytes = static_cast<uint64_t>(setup.preallocate_step_bytes);
  controller.moves.node_dead_grace = std::chrono::milliseconds(setup.node_dead_grace_ms);
  controller.moves.moves_in_flight_max = static_cast<size_t>(setup.moves_in_flight_max);
  config.controller_duties_interval = std::chrono::milliseconds(200);
  config.reconciler.interval = std::chrono::milliseconds(100);
  SimRuntime* runtime = world.runtime(node);  // null before the node first starts
  config.reconciler.replica = replica_template(setup, node, config.planted_bug, runtime);
}

controller::CreateTopic topic_command(const PartitionsConfig& setup, std::string_view name) {
  controller::TopicConfig topic;
  if (setup.retention_ms > 0) topic.retention_ms = setup.retention_ms;
  if (setup.retention_bytes > 0) topic.retention_bytes = setup.retention_bytes;
  if (setup.segment_bytes_max > 0) topic.segment_bytes = setup.segment_bytes_max;
  return controller::CreateTopic{std::string(name), static_cast<uint32_t>(setup.partitions),
                                 static_cast<uint32_t>(setup.replication), topic};
}

SegmentsCompared compare_sealed_segments(World& world, const std::vector<NodeIndex>& replicas, const std::string& dir) {
  std::vector<checkers::ReplicaFiles> files;
  for (NodeIndex node : replicas) {
    const SimDisk& disk = world.disk(node);
    files.push_back(checkers::ReplicaFiles{[&disk](const std::string& path) { return disk.peek_dir(path); },
                                           [&disk](const std::string& path) { return disk.peek_file(path); }});
  }
  return checkers::compare_sealed_segments(files, dir);
}

void read_replica_keys(config::TableReader& reader, const Scenario& scenario, PartitionsConfig& config) {
  reader.integer("partitions", config.partitions, 1, 1000);
  reader.integer("replication", config.replication, 1, 7);
  reader.integer("tick_ms", config.tick_ms, 1, 10'000);
  reader.integer("election_ticks", config.election_ticks, 2, 100'000);
  reader.integer("heartbeat_ticks", config.heartbeat_ticks, 1, 100'000);
  reader.integer("append_bytes_max", config.append_bytes_max, 1, 64 * 1024 * 1024);
  reader.integer("segment_bytes_max", config.segment_bytes_max, 0, UINT32_MAX);
  reader.integer("roll_early_one_in", config.roll_early_one_in, 0, UINT32_MAX);
  reader.integer("preallocate_step_bytes", config.preallocate_step_bytes, 0, 1 << 30);
  reader.integer("retention_bytes", config.retention_bytes, 0, INT64_MAX);
  reader.integer("retention_ms", config.retention_ms, 0, INT64_MAX);
  reader.integer("retention_check_ms", config.retention_check_ms, 1, 3'600'000);
  reader.integer("controller_voters", config.controller_voters, 1, 5);
  reader.integer("node_dead_grace_ms", config.node_dead_grace_ms, 0, 3'600'000);
  reader.integer("moves_in_flight_max", config.moves_in_flight_max, 1, 1000);
  if (config.controller_voters > static_cast<int64_t>(scenario.nodes)) reader.fail("controller_voters", "more voters than nodes");
  if (config.replication > static_cast<int64_t>(scenario.nodes)) reader.fail("replication", "more replicas than nodes");
  if (config.heartbeat_ticks >= config.election_ticks) reader.fail("heartbeat_ticks", "must be below election_ticks");
  if (scenario.duration_ns - scenario.faults_stop_ns < 2 * kNsPerS) {
    reader.fail("workload", "judges liveness: needs at least 2 s after faults_stop_s");
  }
}

const controller::Metadata* latest_metadata(const World& world, size_t nodes) {
  const controller::Controller* latest = nullptr;
  for (size_t i = 0; i < nodes; ++i) {
    const server::Node* node = started_node(world, static_cast<NodeIndex>(i));
    const controller::Controller* controller = node == nullptr ? nullptr : node->controller();
    if (controller != nullptr && (latest == nullptr || controller->applied_index() > latest->applied_index())) latest = controller;
  }
  return latest == nullptr ? nullptr : &latest->metadata();
}

std::vector<NodeIndex> placed_replicas(const World& world, size_t nodes, TopicId topic, uint32_t partition) {
  const controller::Metadata* metadata = latest_metadata(world, nodes);
  const controller::PartitionRecord* record = metadata == nullptr ? nullptr : metadata->partition(PartitionId{topic, partition});
  std::vector<NodeIndex> placed;
  if (record == nullptr) return placed;
  for (NodeId id : record->replicas) placed.push_back(static_cast<NodeIndex>(id - 1));
  return placed;
}

}  // namespace sluice::sim
