#include "node/controller/reconciler.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <utility>

#include "node/base/coverage.h"

namespace sluice::controller {

namespace rt = runtime;

namespace {

bool contains(const std::vector<NodeId>& nodes, NodeId node) { return std::find(nodes.begin(), nodes.end(), node) != nodes.end(); }

}  // namespace

partition::PartitionConfig partition_config_of(const TopicConfig& config) {
  partition::PartitionConfig state;
  state.retention_ms = config.retention_ms < 0 ? INT64_MAX : config.retention_ms;
  state.retention_bytes = config.retention_bytes < 0 ? UINT64_MAX : static_cast<uint64_t>(config.retention_bytes);
  return state;
}

Reconciler::Reconciler(rt::Runtime& runtime, const Controller& controller, partition::PartitionRouter& router,
                       multiraft::RaftHost& host, NodeId self, ReconcilerConfig config, SubmitFn submit)
    : runtime_(runtime),
      controller_(controller),
      router_(router),
      host_(host),
      self_(self),
      config_(std::move(config)),
      submit_(std::move(submit)) {}

Reconciler::~Reconciler() { task_.cancel(); }

void Reconciler::start() {
  SLUICE_ASSERT(!task_.valid());
  task_ = runtime_.spawn("replica-reconciler", [this] { loop(); });
}

void Reconciler::stop() {
  task_.cancel();
  (void)task_.join();
}

void Reconciler::loop() {
  rt::Instant next_scrub = runtime_.now();
  while (true) {
    if (config_.closed_replica_scrub_period.count() > 0 && runtime_.now() >= next_scrub) {
      scrub_closed_replicas();
      next_scrub = runtime_.now() + config_.closed_replica_scrub_period;
    }
    if (!runtime_.sleep_for(config_.interval).ok()) return;
    round();
  }
}

// The running scrub (RaftHost) covers open replicas only. A replica directory stays closed at a
// node's start until the metadata says which replicas it hosts, seconds when the controller has no
// leader, and for good when nothing here hosts it any more: two flips in its state file meanwhile,
// one in each copy, would leave the replica unable to open (found by cluster-swarm-leaders seeds
// 168 and 391). One whose copies are both damaged is left to fail its open, which says so.
void Reconciler::scrub_closed_replicas() {
  rt::Result<std::vector<std::string>> names = runtime_.fs().list("");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    const std::optional<PartitionId> partition = parse_replica_dir(name);
    if (partition) router_.scrub_closed(*partition, name);
  }
}

// The replica cannot open and never will: its Raft state file is damaged beyond what its two
// copies cover (two flips, one in each, before a scrub came round). Its term and vote are unknown
// and are not guessed, so it may never vote again: the controller moves the replica to another
// node, or, with none to take it, the partition goes on without it (docs/controller.md, "Lost
// replicas"). The report is tried again each round until the metadata records it.
void Reconciler::report_lost(PartitionId partition) {
  SLUICE_COVER("controller.reconciler.replica_lost_reported");
  if (!submit_) return;
  (void)submit_(ReportReplicaLost{partition.topic, partition.index, self_}, runtime_.now() + config_.report_timeout);
}

// The topic id, not its name, names the directory: a re-created name starts afresh.
std::string replica_dir(PartitionId partition) {
  return "partition-" + std::to_string(partition.topic) + "-" + std::to_string(partition.index);
}

std::optional<PartitionId> parse_replica_dir(std::string_view name) {
  constexpr std::string_view kPrefix = "partition-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  PartitionId partition;
  const char* end = name.data() + name.size();
  auto [after_topic, topic_error] = std::from_chars(name.data(), end, partition.topic);
  if (topic_error != std::errc() || after_topic == end || *after_topic != '-') return std::nullopt;
  auto [after_index, index_error] = std::from_chars(after_topic + 1, end, partition.index);
  if (index_error != std::errc() || after_index != end) return std::nullopt;
  if (replica_dir(partition) != std::string(kPrefix) + std::string(name)) return std::nullopt;  // canonical digits only
  return partition;
}

partition::ReplicaConfig Reconciler::replica_config(const TopicRecord& topic, uint32_t index, const PartitionRecord& partition) const {
  partition::ReplicaConfig config = config_.replica;
  config.partition = PartitionId{topic.id, index};
  config.group = partition.group;
  config.dir = replica_dir(config.partition);
  const PlantedBug planted_bug = config.state.planted_bug;
  config.state = partition_config_of(topic.config);
  config.state.planted_bug = planted_bug;
  config.raft.id = self_;
  config.storage.log.segment_bytes_max = static_cast<uint64_t>(topic.config.segment_bytes);
  config.storage.log.batch_bytes_max = std::min<uint64_t>(config_.replica.storage.log.batch_bytes_max, config.storage.log.segment_bytes_max / 2);
  config.storage.bootstrap = raft::ConfState{};
  // A replica a move brings here starts with no membership: the group's leader adds it as a learner.
  if (contains(partition.replicas, self_)) config.storage.bootstrap.voters.insert(partition.replicas.begin(), partition.replicas.end());
  return config;
}

// One pass: create what the metadata places here and this node lacks; remove what it hosts that
// the metadata no longer places here (the topic is gone, or the replica moved away).
void Reconciler::round() {
  // A copy behind what this node knows to be committed (just restarted: the metadata is replayed
  // only up to the group's last membership change) may place replicas where they have moved
  // away from: acting on it would create a stale one (found by controller-failover, seed 1).
  if (!controller_.metadata_current()) return;
  const Metadata& metadata = controller_.metadata();
  std::set<PartitionId> wanted;
  std::vector<partition::ReplicaConfig> to_create;
  for (const auto& [name, topic] : metadata.topics()) {
    for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
      const PartitionRecord& partition = topic.partitions[p];
      // A rolling-back move's target keeps its replica (hosts_replica): deleting it at the abort
      // lost the joint configuration its quorum for good (cluster-swarm seed 969, replication 2).
      if (!hosts_replica(partition, self_)) continue;
      const PartitionId id{topic.id, p};
      wanted.insert(id);
      if (partition.lost_on.count(self_) != 0) continue;  // lost here: it moves away (docs/controller.md)
      if (hosted_.count(id) == 0 && to_create.size() < config_.creates_per_round_max) to_create.push_back(replica_config(topic, p, partition));
    }
  }
  for (partition::ReplicaConfig& config : to_create) {
    const PartitionId id = config.partition;
    auto reply = router_.route(id, partition::CreateReplicaRequest{std::move(config)}).receive();
    if (!reply.ok()) return;  // cancelled: the node stops
    if (reply->status.ok()) {
      hosted_.insert(id);
      SLUICE_COVER("controller.reconciler.replica_created");
    }
  }
  for (const PartitionId& id : wanted) {
    // Its create, or its reopen after a failure, found the state lost. (The metadata may have
    // moved on while the creates ran: the topic may be gone.)
    const PartitionRecord* partition = metadata.partition(id);
    if (partition != nullptr && partition->lost_on.count(self_) == 0 && router_.state_lost(id)) report_lost(id);
  }
  restore_preferred_leaders(metadata);
  drive_moves(metadata);
  if (++rounds_ % kOrphanScanEveryRounds == 1) remove_orphaned_data(metadata);
  std::vector<PartitionId> gone;
  for (const PartitionId& id : hosted_) {
    if (wanted.count(id) == 0) gone.push_back(id);
  }
  for (const PartitionId& id : gone) {
    // Neither this topic nor this placement will need the data again (a re-created topic gets a
    // new id, a replica moved back starts afresh).
    const PartitionRecord* partition = metadata.partition(id);
    const multiraft::DeleteCause cause = partition == nullptr ? multiraft::DeleteCause::group_ended : multiraft::DeleteCause::left_group;
    // Moved away by this copy, but the group still replicates to the replica as a member: this
    // copy is behind the group's leader (may_delete_replica). The next round looks again.
    const raft::RawNode* group = partition == nullptr ? nullptr : host_.group(partition->group);
    if (group != nullptr && !may_delete_replica(replica_view_of(group->raft(), self_))) {
      SLUICE_COVER("controller.reconciler.removal_deferred");
      continue;
    }
    auto reply = router_.route(id, partition::RemoveReplicaRequest{true, cause}).receive();
    if (!reply.ok()) return;
    if (reply->status.ok()) {
      hosted_.erase(id);
      SLUICE_COVER("controller.reconciler.replica_removed");
    }
  }
}

// Replica directories no placement needs (found while this node was down, or left before it
// removed them): `partition-<topic id>-<index>` of a topic deleted meanwhile (its id below
// next_topic_id, and gone; ids are never reused), or of a partition moved away from this node
// (neither a replica nor a move's target here). Only on a current metadata copy (round()).
void Reconciler::remove_orphaned_data(const Metadata& metadata) {
  rt::Result<std::vector<std::string>> names = runtime_.fs().list("");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (name.ends_with(partition::LogRaftStorage::kTombstoneSuffix)) {
      remove_orphaned_tombstone(metadata, name);
      continue;
    }
    const std::optional<PartitionId> partition = parse_replica_dir(name);
    if (!partition) continue;
    const TopicId topic = partition->topic;
    if (topic == 0 || topic >= metadata.next_topic_id()) continue;
    if (hosted_.count(*partition) != 0 || router_.replica(*partition) != nullptr) continue;
    const PartitionRecord* record = metadata.partition(*partition);
    if (record != nullptr) {
      if (hosts_replica(*record, self_)) continue;
      // Moved away only by a copy at least as new as the one that placed it here.
      if (!controller_.metadata_covers_own_log()) continue;
      host_.note_deleting(record->group, multiraft::DeleteCause::left_group);  // the group may come back here: it starts afresh then
    } else if (metadata.topic_by_id(topic) != nullptr) {
      continue;  // an index the topic does not have: not ours to judge
    }
    if (!router_.delete_dir(name).ok()) continue;
    if (record != nullptr) {
      SLUICE_COVER("controller.reconciler.moved_away_data_removed");
    } else {
      SLUICE_COVER("controller.reconciler.deleted_topic_data_removed");
    }
  }
}

// A deleted replica's tombstone (LogRaftStorage::bury) outlives its data until a replica is created
// in its place or its topic is deleted and this node cannot forget that: its controller replica has
// durably recorded a commit index covering the metadata that says so. Before, a restart could
// replay the metadata only to a point where the topic still exists and create the replica again
// (found by cluster-membership-churn seeds 57 and 86 under another name); the tombstone keeps
// such a replica from voting until the metadata catches up and it is deleted again.
void Reconciler::remove_orphaned_tombstone(const Metadata& metadata, const std::string& name) {
  const std::string dir = name.substr(0, name.size() - partition::LogRaftStorage::kTombstoneSuffix.size());
  const std::optional<PartitionId> partition = parse_replica_dir(dir);
  if (!partition || partition->topic == 0 || partition->topic >= metadata.next_topic_id()) return;
  if (metadata.topic_by_id(partition->topic) != nullptr) return;
  if (controller_.durable_commit() < controller_.applied_index()) return;
  if (partition::LogRaftStorage::remove_tombstone(runtime_.fs(), dir).ok()) SLUICE_COVER("controller.reconciler.tombstone_removed");
}

// A partition this node leads whose preferred leader is another alive replica: leadership goes
// back there once that replica answers and has caught up (ready_to_take_over: an alive node may
// still have no open replica, and a transfer to it would only hold produces), so leaderships stay
// spread as placement planned them after a node's return.
void Reconciler::restore_preferred_leaders(const Metadata& metadata) {
  for (const PartitionId& id : hosted_) {
    const PartitionRecord* partition = metadata.partition(id);
    const partition::Replica* replica = router_.replica(id);
    if (partition == nullptr || replica == nullptr || !replica->is_leader() || partition->preferred_leader == self_) continue;
    auto preferred = metadata.nodes().find(partition->preferred_leader);
    if (preferred == metadata.nodes().end() || preferred->second.state != NodeState::alive) continue;
    const raft::RawNode* node = host_.group(partition->group);
    if (node == nullptr || node->raft().role() != raft::Role::leader) continue;
    if (!ready_to_take_over(group_view_of(node->raft()), partition->preferred_leader, config_.catch_up_lag_entries_max)) {
      SLUICE_COVER("controller.reconciler.leader_transfer_deferred");
      continue;
    }
    if (host_.transfer_leadership(partition->group, partition->preferred_leader).ok()) {
      SLUICE_COVER("controller.reconciler.leader_transfer_asked");
    }
  }
}

// Partitions led here whose group's voters differ from the metadata's: the next membership change
// is proposed (fire and forget: the next round sees whether it applied). A move whose membership
// change is complete is reported to the controller, which then updates the replicas.
void Reconciler::drive_moves(const Metadata& metadata) {
  std::vector<Command> finished;
  for (const PartitionId& id : hosted_) {
    const PartitionRecord* partition = metadata.partition(id);
    const raft::RawNode* node = partition == nullptr ? nullptr : host_.group(partition->group);
    if (node == nullptr || node->raft().role() != raft::Role::leader) continue;
    const ConfStep step = next_conf_step(group_view_of(node->raft()), wanted_voters(*partition), config_.catch_up_lag_entries_max);
    if (step.kind == ConfStepKind::wait) continue;
    if (step.kind == ConfStepKind::done) {
      if (partition->move && partition->move_rolling_back) {
        finished.push_back(FinishRollback{id.topic, id.index, *partition->move});
      } else if (partition->move) {
        finished.push_back(FinishMove{id.topic, id.index, *partition->move});
      }
      continue;
    }
    if (step.kind == ConfStepKind::add_learner) {
      SLUICE_COVER("controller.reconciler.learner_added");
    } else if (step.kind == ConfStepKind::promote) {
      SLUICE_COVER("controller.reconciler.voters_changed");
    } else {
      SLUICE_COVER("controller.reconciler.learner_removed");
    }
    (void)host_.propose_conf_change(partition->group, conf_change_of(step));
  }
  // Submitting blocks (the metadata may change meanwhile): after the walk over it.
  for (const Command& finish : finished) {
    if (!submit_) break;
    if (!submit_(finish, runtime_.now() + config_.report_timeout).ok()) continue;
    if (std::holds_alternative<FinishMove>(finish)) {
      SLUICE_COVER("controller.reconciler.move_finished");
    } else {
      SLUICE_COVER("controller.reconciler.rollback_finished");
    }
  }
}

}  // namespace sluice::controller
