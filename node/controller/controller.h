// The controller's driver (docs/controller.md, "The metadata group"): the cluster metadata
// (metadata.h) as the state machine of one Raft group, kControllerGroup, hosted on the node's
// RaftHost like a partition. Its log is a LogRaftStorage whose normal entries are commands
// (command.h). Every member applies every committed command to its own Metadata, so any node of
// the group answers metadata questions locally; commands are submitted on the leader.
//
// Recovery: the metadata is not snapshotted yet; open() replays the committed log from its start
// before adding the group, and the log is never cut (docs/controller.md, "Known limits").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/controller/command.h"
#include "node/controller/metadata.h"
#include "node/controller/moves.h"
#include "node/multiraft/host.h"
#include "node/partition/raft_storage.h"
#include "runtime/runtime.h"

namespace sluice::controller {

// A member as the node's membership (SWIM) sees it: what the controller leader keeps the
// metadata's nodes in line with.
struct MemberView {
  NodeId id = kNoNode;
  NodeAddresses addresses;
  bool alive = true;  // alive or suspect; false: dead or left
};
using MembershipSource = std::function<std::vector<MemberView>()>;

// What the controller leader moves and when (docs/controller.md, "Moves").
struct MovesConfig {
  // A node SWIM holds dead this long (as the current controller leader has seen it) has its
  // replicas moved to live nodes. A new controller leader starts the count afresh.
  runtime::Duration node_dead_grace = std::chrono::seconds(10);
  size_t moves_in_flight_max = 4;           // partitions moving at once, cluster-wide
  size_t leader_changes_per_round_max = 16;  // preferred-leader changes proposed per duties round
  // A learner of the metadata group within this many entries of the leader's log may replace a
  // voter that is dead past the grace, decommissioning or removed (docs/controller.md,
  // "Controller voters").
  uint64_t voter_catch_up_lag_entries_max = 64;
};

struct ControllerConfig {
  std::string dir = "controller";  // the group's storage, under the node's data directory
  // The metadata group's voters (1, 3 or 5 nodes). A voter bootstraps the group; every other node
  // hosts it with no membership until the leader adds it as a learner.
  std::set<NodeId> voters;
  raft::RaftConfig raft;           // id = this node
  partition::RaftStorageOptions storage;  // bootstrap and entries_are_batches are set from the above
  MetadataLimits limits;
  size_t submits_waiting_max = 1024;  // commands proposed here and not answered yet
  MovesConfig moves;
  PlantedBug planted_bug = PlantedBug::none;  // test-only (node/base/planted_bug.h)
};

class Controller {
 public:
  static Result<std::unique_ptr<Controller>> open(runtime::Runtime& runtime, multiraft::RaftHost& host, ControllerConfig config);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Proposes `command` (call on a fiber of this node) and waits until it is committed and applied
  // here: what apply decided (a refusal's error, or what it produced). not_leader (naming the
  // leader when known) off the leader; timeout at `deadline` (it may still commit); unavailable
  // when the group cannot take it; invalid_request if it cannot be encoded.
  Result<Applied> submit(const Command& command, runtime::Instant deadline);

  const Metadata& metadata() const { return metadata_; }
  bool is_leader() const;
  NodeId leader() const;  // kNoNode when unknown
  raft::Index applied_index() const { return applied_index_; }
  // The commit index the controller replica's state file holds: after a restart the metadata is
  // replayed at least this far before it counts as current.
  raft::Index durable_commit() const;
  // True when this node has applied every metadata command it knows to be committed and knows
  // the group's leader: a node whose copy lags does not act on it (Reconciler's moves).
  bool metadata_current() const;
  // Current, and applied as far as this node's own controller log reaches: at least as new as any
  // metadata this node applied before a restart. The commit index a restart recovers may lag
  // what was applied (a commit-only change is not synced), so a copy that is merely current may
  // predate a placement this node already acted on: removing "moved away" data on such a copy
  // would delete a replica just placed here (cluster-swarm seed 559: RF 1, its only copy).
  bool metadata_covers_own_log() const;
  // Starts the leader's duties fiber: every `interval`, while this node leads, the metadata's
  // nodes are brought in line with `membership` (register_node for a member it does not know, or
  // knows dead or at other addresses; set_node_state dead for a member it knows alive that
  // membership holds dead or gone). Level-triggered, so a new leader repairs what an old one
  // missed.
  // Then the metadata group's voters: one dead past the grace (or, for as long, unknown to the
  // metadata: a bootstrap voter lost before it ever registered), decommissioning or removed is
  // swapped for a caught-up learner (the voter count stays).
  // Then moves: a move whose adding node no longer takes replicas is rolled back; up to
  // moves.moves_in_flight_max moves begin (drain dead-past-grace and decommissioning nodes, then
  // balance: controller/placement.h); preferred leaders are evened out.
  void start_duties(MembershipSource membership, runtime::Duration interval);
  // Stops the duties and removes the group from the host (the files stay). Call on a fiber.
  Status close();

 private:
  Controller(runtime::Runtime& runtime, multiraft::RaftHost& host, ControllerConfig config);
  Status recover();
  void apply(const raft::Entry& entry);
  void duties_loop(const MembershipSource& membership, runtime::Duration interval);
  void reconcile_members(const std::vector<MemberView>& members);
  void reconcile_learners();
  void reconcile_voters(const std::set<NodeId>& draining);
  void reconcile_moves(const std::set<NodeId>& draining);
  std::set<NodeId> draining_nodes();
  std::set<NodeId> unregistered_voters() const;
  void mark_absent_dead(const std::vector<MemberView>& members, runtime::Instant deadline);

  runtime::Runtime& runtime_;
  multiraft::RaftHost& host_;
  ControllerConfig config_;
  Metadata metadata_;
  std::unique_ptr<partition::LogRaftStorage> opened_;  // until handed to the host
  const partition::LogRaftStorage* storage_ = nullptr;  // the host's, while added_to_host_
  raft::Index applied_index_ = 0;
  raft::Index restart_applied_ = 0;
  std::map<raft::Index, std::optional<Result<Applied>>> outcomes_;  // for submitters waiting here
  size_t submits_waiting_ = 0;
  bool added_to_host_ = false;
  std::map<NodeId, runtime::Instant> absent_since_;  // nodes the metadata holds alive that membership does not list
  std::map<NodeId, runtime::Instant> dead_since_;  // nodes the metadata holds dead, and voters it does not know, since when (this leader's view)
  runtime::Task duties_;
};

// A partition group's membership as its leader's core holds it (the input of next_conf_step).
GroupView group_view_of(const raft::Raft& leader);
// What a replica's core on node `self` knows of its group (the input of may_delete_replica).
ReplicaView replica_view_of(const raft::Raft& replica, NodeId self);
// The membership change a step proposes (promote: a joint change, left automatically).
raft::ConfChange conf_change_of(const ConfStep& step);
// The joint change (left automatically) that carries out a voter swap of the metadata group.
raft::ConfChange conf_change_of(const VoterSwap& swap);

}  // namespace sluice::controller
