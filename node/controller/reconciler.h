// Replicas from the metadata (docs/controller.md, "Replicas on every node"): each node creates
// the replicas the metadata places on it (or moves to it) and removes those it no longer places
// there, through the node's partition router, and hands the leadership of a partition it leads to
// the partition's preferred leader when that one is alive. For a partition it leads, it brings the
// group's membership to the voters the metadata wants, one change at a time (controller/moves.h),
// and reports a finished move to the controller. Level-triggered: every round compares the metadata with what this
// reconciler has created, so missed rounds and restarts repair themselves.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <set>

#include "node/controller/controller.h"
#include "node/partition/router.h"
#include "runtime/runtime.h"

namespace sluice::controller {

struct ReconcilerConfig {
  runtime::Duration interval = std::chrono::milliseconds(200);
  // Template of every replica this node creates: what the metadata names (partition, group,
  // directory, retention, segment size, voters) and raft.id are filled in; the rest is kept.
  partition::ReplicaConfig replica;
  size_t creates_per_round_max = 64;  // bounded work per round; the rest waits for the next
  // A moving partition's learner is promoted once its log is within this many entries of the
  // leader's (below the core's learner_promotion_lag_entries_max, which refuses a laggard).
  uint64_t catch_up_lag_entries_max = 64;
  runtime::Duration report_timeout = std::chrono::seconds(2);  // a finished move, to the controller
  // How often the state files of replica directories no replica has open are scrubbed (also at
  // start); 0: never.
  runtime::Duration closed_replica_scrub_period = std::chrono::seconds(10);
};

// How a node reaches the controller leader: submits `command` there (locally or forwarded) and
// returns what it decided (controller::Controller::submit's errors, not_leader when unknown).
using SubmitFn = std::function<Result<Applied>(const Command& command, runtime::Instant deadline)>;

class Reconciler {
 public:
  Reconciler(runtime::Runtime& runtime, const Controller& controller, partition::PartitionRouter& router,
             multiraft::RaftHost& host, NodeId self, ReconcilerConfig config, SubmitFn submit);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  void start();
  void stop();  // call on a fiber
  // Partitions this reconciler has a replica of (created and not removed).
  const std::set<PartitionId>& hosted() const { return hosted_; }

 private:
  void loop();
  void scrub_closed_replicas();
  void report_lost(PartitionId partition);
  void round();
  void restore_preferred_leaders(const Metadata& metadata);
  void drive_moves(const Metadata& metadata);
  void remove_orphaned_data(const Metadata& metadata);
  void remove_orphaned_tombstone(const Metadata& metadata, const std::string& name);
  static constexpr uint64_t kOrphanScanEveryRounds = 10;  // a directory listing: not every round
  partition::ReplicaConfig replica_config(const TopicRecord& topic, uint32_t index, const PartitionRecord& partition) const;

  runtime::Runtime& runtime_;
  const Controller& controller_;
  partition::PartitionRouter& router_;
  multiraft::RaftHost& host_;
  NodeId self_;
  ReconcilerConfig config_;
  SubmitFn submit_;
  std::set<PartitionId> hosted_;
  uint64_t rounds_ = 0;
  runtime::Task task_;
};

// A replica's directory under the data directory, `partition-<topic id>-<index>`, and back
// (nullopt for any other name).
std::string replica_dir(PartitionId partition);
std::optional<PartitionId> parse_replica_dir(std::string_view name);

// How a topic's config reads as a partition's state-machine config (-1: no limit).
partition::PartitionConfig partition_config_of(const TopicConfig& config);

}  // namespace sluice::controller
