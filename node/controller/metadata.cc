#include "node/controller/metadata.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "node/controller/placement.h"

namespace sluice::controller {
namespace {

template <typename T = Applied>
Result<T> refuse(Errc code, std::string message) {
  return Result<T>(code, std::move(message));
}

bool contains(const std::vector<NodeId>& nodes, NodeId node) { return std::find(nodes.begin(), nodes.end(), node) != nodes.end(); }

}  // namespace

bool hosts_replica(const PartitionRecord& partition, NodeId node) {
  return contains(partition.replicas, node) || (partition.move && partition.move->adding == node) ||
         partition.move_replaced_targets.count(node) != 0;
}

std::string_view to_string(NodeState state) {
  switch (state) {
    case NodeState::alive: return "alive";
    case NodeState::dead: return "dead";
    case NodeState::decommissioning: return "decommissioning";
    case NodeState::removed: return "removed";
  }
  return "unknown";
}

Status validate_topic_name(std::string_view name, size_t bytes_max) {
  if (name.empty() || name.size() > bytes_max) {
    return Status(Errc::invalid_request, "a topic name has 1 to " + std::to_string(bytes_max) + " bytes");
  }
  if (name == "." || name == "..") return Status(Errc::invalid_request, "a topic is not named \".\" or \"..\"");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return Status(Errc::invalid_request, "a topic name holds only letters, digits, '.', '_' and '-'");
  }
  return Status();
}

Status validate_topic_config(const TopicConfig& config) {
  if (config.retention_ms < -1 || config.retention_ms == 0) return Status(Errc::invalid_request, "retention_ms is -1 or positive");
  if (config.retention_bytes < -1 || config.retention_bytes == 0) {
    return Status(Errc::invalid_request, "retention_bytes is -1 or positive");
  }
  if (config.segment_bytes < 4096 || config.segment_bytes > (int64_t{1} << 32)) {
    return Status(Errc::invalid_request, "segment_bytes is between 4 KiB and 4 GiB");
  }
  return Status();
}

Result<Applied> Metadata::apply(const Command& command) {
  return std::visit([this](const auto& c) { return apply_one(c); }, command);
}

const TopicRecord* Metadata::topic(std::string_view name) const {
  auto it = topics_.find(std::string(name));
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicRecord* Metadata::topic_by_id(TopicId id) const {
  for (const auto& [name, topic] : topics_) {
    if (topic.id == id) return &topic;
  }
  return nullptr;
}

const PartitionRecord* Metadata::partition(PartitionId id) const {
  const TopicRecord* found = topic_by_id(id.topic);
  if (found == nullptr || id.index >= found->partitions.size()) return nullptr;
  return &found->partitions[id.index];
}

PartitionRecord* Metadata::find_partition(TopicId topic, uint32_t partition) {
  return const_cast<PartitionRecord*>(this->partition(PartitionId{topic, partition}));
}

std::vector<NodeId> Metadata::eligible_nodes() const {
  std::vector<NodeId> eligible;
  for (const auto& [id, node] : nodes_) {
    if (node.state == NodeState::alive) eligible.push_back(id);
  }
  return eligible;
}

std::map<NodeId, uint32_t> Metadata::replica_counts() const {
  std::map<NodeId, uint32_t> counts;
  for (const auto& [name, topic] : topics_) {
    for (const PartitionRecord& partition : topic.partitions) {
      for (NodeId node : partition.replicas) ++counts[node];
      if (partition.move) ++counts[partition.move->adding];
      for (NodeId node : partition.move_replaced_targets) ++counts[node];
    }
  }
  return counts;
}

std::map<NodeId, uint32_t> Metadata::leader_counts() const {
  std::map<NodeId, uint32_t> counts;
  for (const auto& [name, topic] : topics_) {
    for (const PartitionRecord& partition : topic.partitions) ++counts[partition.preferred_leader];
  }
  return counts;
}

Result<Applied> Metadata::apply_one(const RegisterNode& c) {
  if (c.id == kNoNode) return refuse(Errc::invalid_request, "node id 0");
  auto it = nodes_.find(c.id);
  if (it == nodes_.end()) {
    if (nodes_.size() >= limits_.nodes_max) return refuse(Errc::limit_reached, "nodes_max reached");
    nodes_.emplace(c.id, NodeRecord{c.id, c.addresses, NodeState::alive});
    return Applied{};
  }
  if (it->second.state == NodeState::removed) return refuse(Errc::conflict, "node " + std::to_string(c.id) + " was removed");
  it->second.addresses = c.addresses;
  if (it->second.state == NodeState::dead) it->second.state = NodeState::alive;
  return Applied{};
}

Result<Applied> Metadata::apply_one(const SetNodeState& c) {
  auto it = nodes_.find(c.id);
  if (it == nodes_.end()) return refuse(Errc::unknown_node, "node " + std::to_string(c.id));
  if (c.state != NodeState::alive && c.state != NodeState::dead) {
    return refuse(Errc::invalid_request, "only alive and dead are set by set_node_state");
  }
  // A draining or removed node stays so: SWIM's view changes when it comes and goes, not its role.
  if (it->second.state == NodeState::decommissioning || it->second.state == NodeState::removed) return Applied{};
  it->second.state = c.state;
  return Applied{};
}

Result<Applied> Metadata::apply_one(const CreateTopic& c) {
  if (Status valid = validate_topic_name(c.name, limits_.topic_name_bytes_max); !valid.ok()) return Result<Applied>(valid);
  if (Status valid = validate_topic_config(c.config); !valid.ok()) return Result<Applied>(valid);
  if (topics_.count(c.name) != 0) return refuse(Errc::topic_exists, "topic " + c.name);
  if (topics_.size() >= limits_.topics_max) return refuse(Errc::limit_reached, "topics_max reached");
  if (c.partitions == 0 || c.partitions > limits_.partitions_per_topic_max) {
    return refuse(Errc::invalid_request, "partitions is 1 to " + std::to_string(limits_.partitions_per_topic_max));
  }
  if (c.replication == 0 || c.replication > limits_.replication_max) {
    return refuse(Errc::invalid_request, "replication is 1 to " + std::to_string(limits_.replication_max));
  }
  std::map<NodeId, uint32_t> replicas = replica_counts();
  std::map<NodeId, uint32_t> leaders = leader_counts();
  Result<std::vector<PartitionPlacement>> placed = place_partitions(eligible_nodes(), c.partitions, c.replication, replicas, leaders, planted_bug_);
  if (!placed.ok()) return Result<Applied>(placed.status());
  TopicRecord topic{next_topic_id_++, c.name, c.replication, c.config, {}};
  for (PartitionPlacement& placement : *placed) {
    topic.partitions.push_back(PartitionRecord{next_group_++, std::move(placement.replicas), placement.preferred_leader, std::nullopt});
  }
  const TopicId id = topic.id;
  topics_.emplace(c.name, std::move(topic));
  return Applied{id, 0};
}

Result<Applied> Metadata::apply_one(const DeleteTopic& c) {
  auto it = topics_.find(c.name);
  if (it == topics_.end()) return refuse(Errc::unknown_topic, "topic " + c.name);
  std::set<NodeId> touched;
  for (const PartitionRecord& partition : it->second.partitions) {
    touched.insert(partition.replicas.begin(), partition.replicas.end());
  }
  topics_.erase(it);
  for (NodeId node : touched) maybe_finish_decommission(node);
  return Applied{};
}

Result<Applied> Metadata::apply_one(const AlterTopicConfig& c) {
  auto it = topics_.find(c.name);
  if (it == topics_.end()) return refuse(Errc::unknown_topic, "topic " + c.name);
  if (Status valid = validate_topic_config(c.config); !valid.ok()) return Result<Applied>(valid);
  it->second.config = c.config;
  return Applied{};
}

Result<Applied> Metadata::apply_one(const AllocateProducerIds& c) {
  if (c.count == 0 || c.count > limits_.producer_ids_per_request_max) {
    return refuse(Errc::invalid_request, "count is 1 to " + std::to_string(limits_.producer_ids_per_request_max));
  }
  if (next_producer_id_ > UINT64_MAX - c.count) return refuse(Errc::limit_reached, "producer ids exhausted");
  const uint64_t first = next_producer_id_;
  next_producer_id_ += c.count;
  return Applied{0, first};
}

Result<Applied> Metadata::apply_one(const DecommissionNode& c) {
  auto it = nodes_.find(c.id);
  if (it == nodes_.end()) return refuse(Errc::unknown_node, "node " + std::to_string(c.id));
  if (it->second.state == NodeState::removed) return Applied{};
  it->second.state = NodeState::decommissioning;
  maybe_finish_decommission(c.id);
  return Applied{};
}

// A decommissioning node that holds no replica (and is no move's target) is removed.
void Metadata::maybe_finish_decommission(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || it->second.state != NodeState::decommissioning) return;
  if (replica_counts().count(id) != 0) return;
  it->second.state = NodeState::removed;
}

Status Metadata::may_take_move(const PartitionRecord& partition, NodeId node) const {
  auto record = nodes_.find(node);
  if (record == nodes_.end() || record->second.state != NodeState::alive) {
    return Status(Errc::conflict, "node " + std::to_string(node) + " does not take replicas");
  }
  if (hosts_replica(partition, node)) return Status(Errc::conflict, "node " + std::to_string(node) + " holds the partition already");
  if (partition.lost_on.count(node) != 0) {
    return Status(Errc::conflict, "node " + std::to_string(node) + " lost its replica of the partition");
  }
  return Status();
}

// A begin_move names the generation it starts (the partition's last one + 1): one planned on a copy
// that missed a later attempt is refused. 0: written before generations, takes the next one.
Result<Applied> Metadata::apply_one(const BeginMove& c) {
  PartitionRecord* partition = find_partition(c.topic, c.partition);
  if (partition == nullptr) return refuse(Errc::unknown_topic, "no partition " + std::to_string(c.partition) + " of topic id " + std::to_string(c.topic));
  if (partition->move) return refuse(Errc::conflict, "the partition is moving already");
  if (!contains(partition->replicas, c.move.removing)) return refuse(Errc::conflict, "the move does not fit the replica set");
  if (Status takes = may_take_move(*partition, c.move.adding); !takes.ok()) return Result<Applied>(takes);
  const uint64_t generation = partition->move_generation + 1;
  if (c.move.generation != 0 && c.move.generation != generation) {
    return refuse(Errc::conflict, "move generation " + std::to_string(c.move.generation) + " is not the next one, " + std::to_string(generation));
  }
  partition->move = Move{c.move.adding, c.move.removing, generation};
  partition->move_generation = generation;
  return Applied{};
}

Result<PartitionRecord*> Metadata::partition_moving(TopicId topic, uint32_t index, const Move& move, std::optional<bool> rolling_back) {
  PartitionRecord* partition = find_partition(topic, index);
  if (partition == nullptr || !partition->move || partition->move->adding != move.adding || partition->move->removing != move.removing) {
    return Status(Errc::conflict, "no such move in flight");
  }
  // A report of an earlier attempt: the group's leader judged it against voters no longer wanted.
  if (move.generation != 0 && move.generation != partition->move->generation) {
    return Status(Errc::conflict, "move generation " + std::to_string(move.generation) + " is stale: the move is at generation " +
                                      std::to_string(partition->move->generation));
  }
  if (rolling_back && partition->move_rolling_back != *rolling_back) {
    return Status(Errc::conflict, partition->move_rolling_back ? "the move is rolling back" : "the move is not rolling back");
  }
  return partition;
}

Result<Applied> Metadata::apply_one(const FinishMove& c) {
  SLUICE_ASSIGN_OR_RETURN(PartitionRecord* partition, partition_moving(c.topic, c.partition, c.move, false));
  std::replace(partition->replicas.begin(), partition->replicas.end(), c.move.removing, c.move.adding);
  if (partition->preferred_leader == c.move.removing) partition->preferred_leader = c.move.adding;
  partition->move.reset();
  maybe_finish_decommission(c.move.removing);
  end_replaced_targets(*partition);
  return Applied{};
}

// The move ended: the group's voters are the replicas, so no replaced target is one any more.
void Metadata::end_replaced_targets(PartitionRecord& partition) {
  const std::set<NodeId> replaced = std::move(partition.move_replaced_targets);
  partition.move_replaced_targets.clear();
  for (NodeId node : replaced) maybe_finish_decommission(node);
}

Result<Applied> Metadata::apply_one(const AbortMove& c) {
  SLUICE_ASSIGN_OR_RETURN(PartitionRecord* partition, partition_moving(c.topic, c.partition, c.move, false));
  partition->move_rolling_back = true;
  return Applied{};
}

Result<Applied> Metadata::apply_one(const FinishRollback& c) {
  SLUICE_ASSIGN_OR_RETURN(PartitionRecord* partition, partition_moving(c.topic, c.partition, c.move, true));
  partition->move.reset();
  partition->move_rolling_back = false;
  maybe_finish_decommission(c.move.adding);
  end_replaced_targets(*partition);
  return Applied{};
}

// Commands written before generations (0) never resume or redirect: these name the attempt.
Result<Applied> Metadata::apply_one(const ResumeMove& c) {
  if (c.move.generation == 0) return refuse(Errc::conflict, "resume_move names the move's generation");
  SLUICE_ASSIGN_OR_RETURN(PartitionRecord* partition, partition_moving(c.topic, c.partition, c.move, true));
  auto adding = nodes_.find(c.move.adding);
  if (adding == nodes_.end() || adding->second.state != NodeState::alive || partition->lost_on.count(c.move.adding) != 0) {
    return refuse(Errc::conflict, "node " + std::to_string(c.move.adding) + " does not take replicas");
  }
  partition->move_rolling_back = false;
  partition->move->generation = ++partition->move_generation;
  return Applied{};
}

// `adding` stops being the target but keeps its replica until the move ends (move_replaced_targets:
// the group may still need its vote), like the target of a rollback.
Result<Applied> Metadata::apply_one(const RedirectMove& c) {
  if (c.move.generation == 0) return refuse(Errc::conflict, "redirect_move names the move's generation");
  SLUICE_ASSIGN_OR_RETURN(PartitionRecord* partition, partition_moving(c.topic, c.partition, c.move, std::nullopt));
  if (Status takes = may_take_move(*partition, c.to); !takes.ok()) return Result<Applied>(takes);
  partition->move_replaced_targets.insert(c.move.adding);
  partition->move = Move{c.to, c.move.removing, ++partition->move_generation};
  partition->move_rolling_back = false;
  return Applied{};
}

Result<Applied> Metadata::apply_one(const SetPreferredLeader& c) {
  PartitionRecord* partition = find_partition(c.topic, c.partition);
  if (partition == nullptr) return refuse(Errc::unknown_topic, "no partition " + std::to_string(c.partition) + " of topic id " + std::to_string(c.topic));
  if (!contains(partition->replicas, c.leader)) return refuse(Errc::conflict, "the preferred leader must be a replica");
  partition->preferred_leader = c.leader;
  return Applied{};
}

// Recorded once; later reports of the same loss change nothing. Only a node that holds (or is to
// hold) a replica can have lost one.
Result<Applied> Metadata::apply_one(const ReportReplicaLost& c) {
  PartitionRecord* partition = find_partition(c.topic, c.partition);
  if (partition == nullptr) return refuse(Errc::unknown_topic, "no partition " + std::to_string(c.partition) + " of topic id " + std::to_string(c.topic));
  if (!hosts_replica(*partition, c.node) && partition->lost_on.count(c.node) == 0) {
    return refuse(Errc::conflict, "node " + std::to_string(c.node) + " holds no replica of the partition");
  }
  partition->lost_on.insert(c.node);
  return Applied{};
}

}  // namespace sluice::controller
