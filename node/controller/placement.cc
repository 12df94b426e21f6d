#include "node/controller/placement.h"

#include <algorithm>
#include <string>
#include <tuple>

#include "node/base/coverage.h"

namespace sluice::controller {
namespace {

uint32_t count_of(const std::map<NodeId, uint32_t>& counts, NodeId node) {
  auto it = counts.find(node);
  return it == counts.end() ? 0 : it->second;
}

// The eligible node with the fewest replicas among those `accept` allows (ties: lowest id).
template <typename Accept>
NodeId least_loaded(const std::vector<NodeId>& eligible, const std::map<NodeId, uint32_t>& replicas, Accept accept) {
  NodeId best = kNoNode;
  for (NodeId node : eligible) {
    if (!accept(node)) continue;
    if (best == kNoNode || count_of(replicas, node) < count_of(replicas, best)) best = node;
  }
  return best;
}

// Replicas per node once every move in flight is done (or undone, when rolling back): what
// balancing aims at.
std::map<NodeId, uint32_t> counts_after_moves(const Metadata& metadata) {
  std::map<NodeId, uint32_t> counts;
  for (const auto& [name, topic] : metadata.topics()) {
    for (const PartitionRecord& partition : topic.partitions) {
      for (NodeId node : partition.replicas) {
        if (!partition.move || partition.move_rolling_back || node != partition.move->removing) ++counts[node];
      }
      if (partition.move && !partition.move_rolling_back) ++counts[partition.move->adding];
    }
  }
  return counts;
}

constexpr uint32_t kLostReplicaLoad = UINT32_MAX / 2;

// A node that lost its replica of the partition (lost_on) is never given one again: its old
// replica's term and vote are unknown, and a new one there could vote twice in a term.
bool may_take(const PartitionRecord& partition, NodeId node) {
  return !hosts_replica(partition, node) && partition.lost_on.count(node) == 0;
}

// Gone for good as far as the duties can tell: the grace of a dead node is counted by the
// controller leader (`draining` holds those past it); a lost replica never comes back.
bool gone_for_good(const Metadata& metadata, const PartitionRecord& partition, NodeId node, const std::set<NodeId>& draining) {
  if (partition.lost_on.count(node) != 0) return true;
  auto record = metadata.nodes().find(node);
  if (record == metadata.nodes().end() || record->second.state == NodeState::removed) return true;
  return record->second.state == NodeState::dead && draining.count(node) != 0;
}

}  // namespace

Result<std::vector<PartitionPlacement>> place_partitions(const std::vector<NodeId>& eligible, uint32_t partitions,
                                                         uint32_t replication, std::map<NodeId, uint32_t>& replicas,
                                                         std::map<NodeId, uint32_t>& leaders, PlantedBug planted_bug) {
  if (replication == 0 || replication > eligible.size()) {
    return Result<std::vector<PartitionPlacement>>(
        Errc::not_enough_nodes, "replication " + std::to_string(replication) + " with " + std::to_string(eligible.size()) +
                                    " nodes that take replicas");
  }
  std::vector<PartitionPlacement> placed;
  placed.reserve(partitions);
  const size_t n = eligible.size();
  for (uint32_t p = 0; p < partitions; ++p) {
    // Rank: fewest replicas, then fewest leaderships, then the rotated position.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    auto rank = [&](size_t i) {
      const NodeId node = eligible[i];
      if (planted_bug == PlantedBug::controller_place_ignores_load) return std::tuple(0u, 0u, i);
      return std::tuple(count_of(replicas, node), count_of(leaders, node), (i + n - p % n) % n);
    };
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank(a) < rank(b); });
    PartitionPlacement placement;
    for (uint32_t r = 0; r < replication; ++r) placement.replicas.push_back(eligible[order[r]]);
    placement.preferred_leader = placement.replicas.front();
    for (NodeId node : placement.replicas) {
      if (count_of(leaders, node) < count_of(leaders, placement.preferred_leader)) placement.preferred_leader = node;
    }
    for (NodeId node : placement.replicas) ++replicas[node];
    ++leaders[placement.preferred_leader];
    placed.push_back(std::move(placement));
  }
  return placed;
}

std::vector<PlannedMove> plan_moves(const Metadata& metadata, const std::set<NodeId>& draining, size_t moves_max) {
  std::vector<PlannedMove> planned;
  const std::vector<NodeId> eligible = metadata.eligible_nodes();
  std::map<NodeId, uint32_t> replicas = counts_after_moves(metadata);
  std::set<std::pair<TopicId, uint32_t>> moving;
  for (const auto& [name, topic] : metadata.topics()) {
    for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
      if (topic.partitions[p].move) moving.insert({topic.id, p});
    }
  }
  auto plan = [&](const TopicRecord& topic, uint32_t p, NodeId from, NodeId to) {
    planned.push_back(PlannedMove{topic.id, p, Move{to, from, topic.partitions[p].move_generation + 1}});
    moving.insert({topic.id, p});
    ++replicas[to];
    --replicas[from];
  };
  // 1. Drain.
  for (const auto& [name, topic] : metadata.topics()) {
    for (uint32_t p = 0; p < topic.partitions.size() && planned.size() < moves_max; ++p) {
      const PartitionRecord& partition = topic.partitions[p];
      if (moving.count({topic.id, p}) != 0) continue;
      for (NodeId from : partition.replicas) {
        if (draining.count(from) == 0 && partition.lost_on.count(from) == 0) continue;
        const NodeId to = least_loaded(eligible, replicas, [&](NodeId node) { return may_take(partition, node); });
        if (to != kNoNode) plan(topic, p, from, to);
        break;  // one move per partition at a time
      }
    }
  }
  // 2. Balance: from the most loaded eligible node to the least loaded one.
  while (planned.size() < moves_max && eligible.size() >= 2) {
    NodeId most = eligible.front();
    for (NodeId node : eligible) {
      if (count_of(replicas, node) > count_of(replicas, most)) most = node;
    }
    bool moved = false;
    // The least loaded node that can take one of `most`'s partitions, trying the lightest first.
    std::vector<NodeId> targets = eligible;
    std::stable_sort(targets.begin(), targets.end(),
                     [&](NodeId a, NodeId b) { return count_of(replicas, a) < count_of(replicas, b); });
    for (NodeId to : targets) {
      if (count_of(replicas, most) < count_of(replicas, to) + 2) break;
      for (const auto& [name, topic] : metadata.topics()) {
        for (uint32_t p = 0; p < topic.partitions.size() && !moved; ++p) {
          const PartitionRecord& partition = topic.partitions[p];
          if (moving.count({topic.id, p}) != 0 || !may_take(partition, to)) continue;
          if (std::find(partition.replicas.begin(), partition.replicas.end(), most) == partition.replicas.end()) continue;
          plan(topic, p, most, to);
          moved = true;
        }
        if (moved) break;
      }
      if (moved) break;
    }
    if (!moved) break;
  }
  return planned;
}

std::vector<AbortMove> plan_aborts(const Metadata& metadata) {
  auto takes_part = [&metadata](const PartitionRecord& partition, NodeId node, bool decommissioning_too) {
    auto record = metadata.nodes().find(node);
    if (record == metadata.nodes().end() || partition.lost_on.count(node) != 0) return false;
    return record->second.state == NodeState::alive || (decommissioning_too && record->second.state == NodeState::decommissioning);
  };
  std::vector<AbortMove> aborts;
  for (const auto& [name, topic] : metadata.topics()) {
    for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionRecord& partition = topic.partitions[p];
      if (!partition.move || partition.move_rolling_back) continue;  // the group's leader is undoing it
      // A decommissioning `adding` is to hold nothing, so its move is undone; a decommissioning
      // `removing` still runs and can be a voter again.
      if (takes_part(partition, partition.move->adding, false)) continue;
      if (!takes_part(partition, partition.move->removing, true)) {
        SLUICE_COVER("controller.duties.move_kept_for_a_return");
        continue;
      }
      aborts.push_back(AbortMove{topic.id, p, *partition.move});
    }
  }
  return aborts;
}

MoveRepairs plan_move_repairs(const Metadata& metadata, const std::set<NodeId>& draining) {
  MoveRepairs repairs;
  const std::vector<NodeId> eligible = metadata.eligible_nodes();
  std::map<NodeId, uint32_t> replicas = counts_after_moves(metadata);
  for (const auto& [name, topic] : metadata.topics()) {
    for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionRecord& partition = topic.partitions[p];
      if (!partition.move || !gone_for_good(metadata, partition, partition.move->removing, draining)) continue;
      const Move& move = *partition.move;
      auto adding = metadata.nodes().find(move.adding);
      const bool adding_alive = adding != metadata.nodes().end() && adding->second.state == NodeState::alive;
      if (adding_alive && partition.lost_on.count(move.adding) == 0) {
        if (partition.move_rolling_back) repairs.resumes.push_back(ResumeMove{topic.id, p, move});
        continue;  // not rolling back: it goes on by itself
      }
      const bool adding_decommissioning = adding != metadata.nodes().end() && adding->second.state == NodeState::decommissioning;
      if (!adding_decommissioning && !gone_for_good(metadata, partition, move.adding, draining)) continue;  // within its grace
      const NodeId to = least_loaded(eligible, replicas, [&](NodeId node) { return may_take(partition, node); });
      if (to == kNoNode) continue;
      repairs.redirects.push_back(RedirectMove{topic.id, p, move, to});
      ++replicas[to];
    }
  }
  return repairs;
}

std::vector<SetPreferredLeader> plan_leaders(const Metadata& metadata, size_t changes_max) {
  std::vector<SetPreferredLeader> changes;
  std::map<NodeId, uint32_t> leaders = metadata.leader_counts();
  bool changed = true;
  while (changed && changes.size() < changes_max) {
    changed = false;
    for (const auto& [name, topic] : metadata.topics()) {
      for (uint32_t p = 0; p < topic.partitions.size() && changes.size() < changes_max; ++p) {
        const PartitionRecord& partition = topic.partitions[p];
        NodeId current = partition.preferred_leader;
        for (const SetPreferredLeader& change : changes) {
          if (change.topic == topic.id && change.partition == p) current = change.leader;
        }
        // A replica lost for good never leads: any other alive one is better.
        auto load = [&](NodeId node) { return partition.lost_on.count(node) != 0 ? kLostReplicaLoad : count_of(leaders, node); };
        NodeId best = current;
        for (NodeId node : partition.replicas) {
          if (metadata.nodes().count(node) == 0 || metadata.nodes().at(node).state != NodeState::alive) continue;
          if (partition.lost_on.count(node) != 0) continue;
          if (load(node) + 2 <= load(best)) best = node;
        }
        if (best == current) continue;
        --leaders[current];
        ++leaders[best];
        changes.push_back(SetPreferredLeader{topic.id, p, best});
        changed = true;
      }
    }
  }
  return changes;
}

}  // namespace sluice::controller
