// The cluster metadata: the controller's replicated state machine (docs/controller.md). A pure
// core like node/raft and node/partition: no runtime, no clock, no I/O. Every node holds a copy
// built from the same committed commands, so every node answers "who holds partition p of topic
// t" from its own copy; the controller leader decides what to propose.
//
// Applying a command is deterministic: the same commands in the same order give the same state
// on every node, placement of a new topic included (it is computed here, from the state, not by
// the proposer). A refused command changes nothing and says why.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "node/base/ids.h"
#include "node/base/planted_bug.h"
#include "node/controller/errors.h"

namespace sluice::controller {

enum class NodeState : uint8_t {
  alive = 0,            // takes new replicas
  dead = 1,             // SWIM declared it dead; its replicas move after node_dead_grace_ms
  decommissioning = 2,  // being drained: its replicas move away, it takes none
  removed = 3,          // drained and gone for good; its id is never reused
};
std::string_view to_string(NodeState state);

struct NodeAddresses {
  std::string membership;  // "host:port" of SWIM
  std::string raft;        // inter-node Raft transport
  std::string api;         // where clients reach it

  friend bool operator==(const NodeAddresses&, const NodeAddresses&) = default;
};

struct NodeRecord {
  NodeId id = kNoNode;
  NodeAddresses addresses;
  NodeState state = NodeState::alive;

  friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

// Per-topic settings a replica runs with; -1: no limit.
struct TopicConfig {
  int64_t retention_ms = -1;
  int64_t retention_bytes = -1;
  int64_t segment_bytes = 128 << 20;

  friend bool operator==(const TopicConfig&, const TopicConfig&) = default;
};

// A replica moving from `removing` to `adding`: `adding` joins the partition's group as a
// learner, catches up, is promoted with joint consensus, and `removing` leaves (docs/controller.md,
// "Moves"). The metadata records the move so that a new controller leader finishes or undoes it.
struct Move {
  NodeId adding = kNoNode;
  NodeId removing = kNoNode;
  // Which attempt at moving the partition this is (PartitionRecord::move_generation). Resuming a
  // rollback or redirecting a move starts a new attempt of the same move entry, and a report the
  // group's leader judged against an earlier attempt (finish_move, finish_rollback) must not be
  // taken for the later one. 0 in a command: written before generations existed
  // (docs/formats/controller.md); it matches whatever attempt is in flight, as it did then.
  uint64_t generation = 0;

  friend bool operator==(const Move&, const Move&) = default;
};

struct PartitionRecord {
  GroupId group = 0;
  std::vector<NodeId> replicas;  // the voters once no move is in flight; never a node twice
  NodeId preferred_leader = kNoNode;  // one of replicas
  std::optional<Move> move;
  // The move was aborted (abort_move) and the group goes back to `replicas`. Until its leader
  // reports that (finish_rollback), `adding` may still be a voter the group needs for a quorum
  // (a joint configuration is left only with a majority of both halves), so its node keeps the
  // replica and no other move begins. Only set while `move` is.
  bool move_rolling_back = false;
  // The generation of the newest move attempt of the partition (0: it never moved); it never goes
  // down, so a generation names one attempt for as long as the topic exists.
  uint64_t move_generation = 0;
  // Targets of earlier attempts of the move in flight that a redirect_move replaced. Each keeps its
  // replica until the move ends (finish_move or finish_rollback): the group may have made it a
  // voter, and one it cannot do without (with two replicas, the only other voter of the incoming
  // half), so deleting its data on its return could leave the group without a quorum for good.
  // Only non-empty while `move` is.
  std::set<NodeId> move_replaced_targets;
  // Nodes whose replica of the partition lost its Raft state (both copies of its state file
  // damaged: its term and vote are unknown, so it may never vote again; docs/controller.md, "Lost
  // replicas"). Each is moved away like a replica of a dead node and never placed there again.
  std::set<NodeId> lost_on;

  friend bool operator==(const PartitionRecord&, const PartitionRecord&) = default;
};

// The node holds (or is to hold) a replica of the partition: placed there, or the target of its
// move, also while that move rolls back or after a redirect replaced it (the group may still count
// the target's vote).
bool hosts_replica(const PartitionRecord& partition, NodeId node);

struct TopicRecord {
  TopicId id = 0;
  std::string name;
  uint32_t replication = 0;
  TopicConfig config;
  std::vector<PartitionRecord> partitions;  // index = partition index

  friend bool operator==(const TopicRecord&, const TopicRecord&) = default;
};

struct MetadataLimits {
  size_t nodes_max = 1024;
  size_t topics_max = 10'000;
  uint32_t partitions_per_topic_max = 4096;
  uint32_t replication_max = 7;
  size_t topic_name_bytes_max = 249;  // what Kafka allows, so names move between the two
  uint64_t producer_ids_per_request_max = 1 << 20;

  friend bool operator==(const MetadataLimits&, const MetadataLimits&) = default;
};

// --- commands (encoded by command.h, docs/formats/controller.md) ---------------------------------

struct RegisterNode {  // a node joined (or came back with new addresses)
  NodeId id = kNoNode;
  NodeAddresses addresses;
  friend bool operator==(const RegisterNode&, const RegisterNode&) = default;
};
struct SetNodeState {  // alive <-> dead, as SWIM reports; decommissioning and removed by their commands
  NodeId id = kNoNode;
  NodeState state = NodeState::alive;
  friend bool operator==(const SetNodeState&, const SetNodeState&) = default;
};
struct CreateTopic {
  std::string name;
  uint32_t partitions = 0;
  uint32_t replication = 0;
  TopicConfig config;
  friend bool operator==(const CreateTopic&, const CreateTopic&) = default;
};
struct DeleteTopic {
  std::string name;
  friend bool operator==(const DeleteTopic&, const DeleteTopic&) = default;
};
struct AlterTopicConfig {
  std::string name;
  TopicConfig config;
  friend bool operator==(const AlterTopicConfig&, const AlterTopicConfig&) = default;
};
struct AllocateProducerIds {
  uint64_t count = 0;
  friend bool operator==(const AllocateProducerIds&, const AllocateProducerIds&) = default;
};
struct DecommissionNode {
  NodeId id = kNoNode;
  friend bool operator==(const DecommissionNode&, const DecommissionNode&) = default;
};
struct BeginMove {
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;
  friend bool operator==(const BeginMove&, const BeginMove&) = default;
};
struct FinishMove {  // the group's membership holds `adding` and not `removing` now
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;
  friend bool operator==(const FinishMove&, const FinishMove&) = default;
};
struct AbortMove {  // `adding` no longer takes replicas: the group is to go back to the replicas
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;
  friend bool operator==(const AbortMove&, const AbortMove&) = default;
};
struct FinishRollback {  // the group's membership is back to the replicas, without `adding`
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;
  friend bool operator==(const FinishRollback&, const FinishRollback&) = default;
};
// The rollback cannot end: its `removing` is gone for good (dead past the grace, lost its replica).
// The move goes on toward `adding` (alive) as a new attempt (generation + 1).
struct ResumeMove {
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;  // the rolling-back move, generation included
  friend bool operator==(const ResumeMove&, const ResumeMove&) = default;
};
// Both ends of the move are gone for good: `to` takes `adding`'s place as a new attempt
// (generation + 1), forward, from the same `removing`; `adding` keeps its replica until the move
// ends (PartitionRecord::move_replaced_targets).
struct RedirectMove {
  TopicId topic = 0;
  uint32_t partition = 0;
  Move move;  // the move in flight (rolling back or not), generation included
  NodeId to = kNoNode;
  friend bool operator==(const RedirectMove&, const RedirectMove&) = default;
};
struct SetPreferredLeader {
  TopicId topic = 0;
  uint32_t partition = 0;
  NodeId leader = kNoNode;
  friend bool operator==(const SetPreferredLeader&, const SetPreferredLeader&) = default;
};

struct ReportReplicaLost {  // `node`'s replica of the partition cannot open: its Raft state is lost
  TopicId topic = 0;
  uint32_t partition = 0;
  NodeId node = kNoNode;
  friend bool operator==(const ReportReplicaLost&, const ReportReplicaLost&) = default;
};

using Command = std::variant<RegisterNode, SetNodeState, CreateTopic, DeleteTopic, AlterTopicConfig, AllocateProducerIds,
                             DecommissionNode, BeginMove, FinishMove, AbortMove, SetPreferredLeader, FinishRollback,
                             ReportReplicaLost, ResumeMove, RedirectMove>;

// What an applied command produced, for the proposer's reply.
struct Applied {
  TopicId topic = 0;           // create_topic: the new topic's id
  uint64_t first_producer_id = 0;  // allocate_producer_ids: the block [first, first + count)
};

class Metadata {
 public:
  // planted_bug: test-only (node/base/planted_bug.h), controller_place_ignores_load.
  explicit Metadata(MetadataLimits limits = {}, PlantedBug planted_bug = PlantedBug::none)
      : limits_(limits), planted_bug_(planted_bug) {}

  // Applies one committed command. A refusal leaves the state as it was.
  Result<Applied> apply(const Command& command);

  const std::map<NodeId, NodeRecord>& nodes() const { return nodes_; }
  const std::map<std::string, TopicRecord>& topics() const { return topics_; }
  const TopicRecord* topic(std::string_view name) const;
  const TopicRecord* topic_by_id(TopicId id) const;
  const PartitionRecord* partition(PartitionId id) const;
  const MetadataLimits& limits() const { return limits_; }
  // Nodes that take new replicas: alive ones (not dead, decommissioning or removed).
  std::vector<NodeId> eligible_nodes() const;
  // Replicas per node over every partition (a moving partition counts both ends), and preferred
  // leaderships per node: what placement balances.
  std::map<NodeId, uint32_t> replica_counts() const;
  std::map<NodeId, uint32_t> leader_counts() const;
  uint64_t next_producer_id() const { return next_producer_id_; }
  GroupId next_group() const { return next_group_; }
  TopicId next_topic_id() const { return next_topic_id_; }

  friend bool operator==(const Metadata&, const Metadata&) = default;

 private:
  Result<Applied> apply_one(const RegisterNode& c);
  Result<Applied> apply_one(const SetNodeState& c);
  Result<Applied> apply_one(const CreateTopic& c);
  Result<Applied> apply_one(const DeleteTopic& c);
  Result<Applied> apply_one(const AlterTopicConfig& c);
  Result<Applied> apply_one(const AllocateProducerIds& c);
  Result<Applied> apply_one(const DecommissionNode& c);
  Result<Applied> apply_one(const BeginMove& c);
  Result<Applied> apply_one(const FinishMove& c);
  Result<Applied> apply_one(const AbortMove& c);
  Result<Applied> apply_one(const SetPreferredLeader& c);
  Result<Applied> apply_one(const FinishRollback& c);
  Result<Applied> apply_one(const ReportReplicaLost& c);
  Result<Applied> apply_one(const ResumeMove& c);
  Result<Applied> apply_one(const RedirectMove& c);
  PartitionRecord* find_partition(TopicId topic, uint32_t partition);
  // The partition of a move command: its move is `move` (of the same generation unless the
  // command's is 0, written before generations), rolling back or not as asked (nullopt: either);
  // else the refusal (conflict).
  Result<PartitionRecord*> partition_moving(TopicId topic, uint32_t partition, const Move& move, std::optional<bool> rolling_back);
  // Whether `node` may become the target of the partition's move: alive, not holding (or about to
  // hold) a replica of it, and not one that lost its replica of it. Else the refusal.
  Status may_take_move(const PartitionRecord& partition, NodeId node) const;
  void maybe_finish_decommission(NodeId id);
  void end_replaced_targets(PartitionRecord& partition);

  MetadataLimits limits_;
  PlantedBug planted_bug_ = PlantedBug::none;
  std::map<NodeId, NodeRecord> nodes_;
  std::map<std::string, TopicRecord> topics_;
  TopicId next_topic_id_ = 1;
  GroupId next_group_ = kControllerGroup + 1;
  uint64_t next_producer_id_ = 1;
};

// Checks a topic name: 1..limit bytes of [a-zA-Z0-9._-], not "." or "..".
Status validate_topic_name(std::string_view name, size_t bytes_max);
Status validate_topic_config(const TopicConfig& config);

}  // namespace sluice::controller
