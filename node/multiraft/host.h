// The multi-Raft host: runs many Raft groups (one RawNode + storage per group) on one node, over
// the RaftTransport. One fiber, the host fiber, is the only code that touches the cores: it steps
// inbound messages, takes proposals, ticks every group each tick_interval, and then processes
// every group's Ready strictly in the order of ready.h: persist (log-start jump, entries, hard
// state + membership) and sync for ALL ready groups (concurrently, one fiber per group) → send →
// apply → advance. So nothing leaves the node that depends on state not yet durable, and a round
// costs one sync latency however many groups it persists.
//
// A single fiber (rather than a tick fiber plus workers) because a RawNode must see no call
// between ready() and advance(), and persisting blocks: any second fiber would need a lock per
// group for nothing, since the cores are CPU-cheap and the time goes to I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "node/base/planted_bug.h"
#include "node/multiraft/group_storage.h"
#include "node/multiraft/transport.h"
#include "node/raft/raw_node.h"
#include "runtime/runtime.h"

namespace sluice::multiraft {

// Called on the host fiber for every committed entry, in order; must not block for long (the
// whole node's Raft traffic waits). Committed entries after the last applied membership change
// are handed out again after a restart (docs/raft.md, "Restart"), so applying must be idempotent.
using ApplyFn = std::function<void(GroupId group, const raft::Entry& entry)>;
// Called on the host fiber right before `data` is proposed to a group this node leads: the entry
// will be `node.raft().log().last_index() + 1` of term `node.raft().term()` if the core takes it.
// It may rewrite `data` in place (a partition stamps its batch with the entry's record offset,
// term and time); an error fails the proposal with that status. Must not block.
using PrepareFn = std::function<HostStatus(const raft::RawNode& node, Bytes& data)>;
// Called on the host fiber when a group's role, leader or term changes.
using RoleFn = std::function<void(GroupId group, raft::Role role, raft::NodeId leader, raft::Term term)>;

// What the host does with each group, for a checker (the simulator's Raft safety checker,
// sim/checkers/raft_safety.h, says what each call means to it). Every call comes from the host
// fiber (persisted: from the group's persist fiber), in the order the host acts, and refers to
// this node. The host makes no call when no observer is set.
// Why a node deletes a group's data: the checker holds a deletion to different rules.
enum class DeleteCause : uint8_t {
  left_group,  // the replica moved away: the group goes on without this node
  group_ended,  // the group is gone everywhere (its topic was deleted): no replica is needed
};

class HostObserver {
 public:
  virtual ~HostObserver() = default;
  // The group's replica (re)starts from `storage`, before its core is built.
  virtual void started(GroupId group, raft::RaftLogStorage& storage) = 0;
  // The group was removed from this node and its data is about to be deleted (the replica moved
  // away, or its topic is gone): a later replica of the group here starts with no state.
  virtual void deleting(GroupId group, DeleteCause cause) = 0;
  // The core right before the host takes its Ready (role, term, commit, membership, unstable tail).
  virtual void observe(GroupId group, const raft::Raft& core) = 0;
  // The Ready's log-start jump, entries, hard state and membership are durable: its sync returned.
  virtual void persisted(GroupId group, const raft::Ready& ready) = 0;
  // The messages leave the node now.
  virtual void sent(GroupId group, std::span<const raft::Message> messages) = 0;
  // Committed entries handed to the group's ApplyFn, in order.
  virtual void applied(GroupId group, std::span<const raft::Entry> entries) = 0;
  // A read barrier got core context `context` / its confirmation (or drop) / was answered at `index`.
  virtual void read_requested(GroupId group, uint64_t context) = 0;
  virtual void read_answered(GroupId group, const raft::ReadState& read) = 0;
  virtual void read_served(GroupId group, raft::Index index) = 0;
  // The group's storage failed: it stopped on this node until it is removed and added again
  // (the partition router reopens it; a node restart does too).
  virtual void group_failed(GroupId group, const std::string& why) = 0;
};

struct RaftHostConfig {
  TransportConfig transport;
  runtime::Duration tick_interval = std::chrono::milliseconds(10);
  size_t groups_max = 100'000;
  size_t proposals_queued_max = 4096;    // waiting for the host fiber
  size_t proposals_pending_max = 65536;  // proposed, waiting for commit, across groups
  // Waiting, across groups, for a leadership transfer to end (the leader proposes nothing while
  // it hands over): then proposed, or answered not_leader naming the new leader. Beyond this,
  // queue_full.
  size_t proposals_held_max = 4096;
  runtime::Duration proposal_timeout = std::chrono::seconds(5);
  size_t reads_pending_max = 65536;      // read barriers waiting for confirmation or apply, across groups
  runtime::Duration read_timeout = std::chrono::seconds(5);
  size_t inbound_steps_per_round_max = 65536;  // then Readies are processed before stepping on
  // Every group's storage is scrubbed (GroupStorage::scrub) about once per period, one group at a
  // time, at most one per tick (so with more groups than ticks in a period a round takes longer).
  // It bounds how long a damaged copy of a state file waits for repair. Zero: never.
  runtime::Duration state_scrub_period = std::chrono::seconds(10);
  // Idle groups go quiet (raft::RaftConfig::quiesce, docs/raft.md "Quiescence"): no heartbeats,
  // no ticks. Only for a host whose node has a failure detector that calls wake_groups_with()
  // when it suspects a peer (the node's SWIM membership does).
  bool quiesce_idle_groups = false;
  // A leader's appends and heartbeats leave before its own Ready is durable, so its sync overlaps
  // the followers' (Raft thesis §10.2.1; docs/raft.md "Driver and transport"). Off: every message
  // waits for the round's syncs.
  bool leader_sends_before_sync = true;
  // Followers learn a new commit index from the leader's next append or heartbeat instead of an
  // announcement of its own (raft::RaftConfig::lazy_commit; docs/raft.md "Lazy commit").
  bool lazy_commit = true;
  // Not owned; must outlive the host. Null: nothing is reported (production).
  HostObserver* observer = nullptr;
  // Test-only (node/base/planted_bug.h): raft_send_before_persist, raft_skip_sync.
  PlantedBug planted_bug = PlantedBug::none;
};

struct HostStats {
  uint64_t ticks = 0;
  uint64_t rounds = 0;          // Ready processing rounds
  uint64_t readies = 0;
  uint64_t syncs = 0;
  uint64_t steps = 0;
  uint64_t step_errors = 0;     // messages the core refused (addressed elsewhere, ...)
  uint64_t unknown_group_messages = 0;
  uint64_t proposals_committed = 0;
  uint64_t proposals_failed = 0;
  uint64_t reads_served = 0;
  uint64_t reads_failed = 0;
  uint64_t groups_failed = 0;   // storage failed: the group stopped
  uint64_t ticks_skipped = 0;   // the host fiber was starved past a whole tick interval
  uint64_t leaderships_won = 0;   // a group's core became leader here (elections and transfers)
  uint64_t leaderships_lost = 0;  // a group led here stepped down
  uint64_t jumps_dropped = 0;     // log-start jumps not sent: the storage had no state for them yet
  uint64_t proposals_held = 0;    // held while leadership moved away (RaftHostConfig::proposals_held_max)
  uint64_t scrubs = 0;            // group storages scrubbed (RaftHostConfig::state_scrub_period)
  uint64_t groups_woken = 0;      // quiet groups woken because a member was suspected
};

class RaftHost {
 public:
  RaftHost(runtime::Runtime& runtime, RaftHostConfig config);
  RaftHost(const RaftHost&) = delete;
  RaftHost& operator=(const RaftHost&) = delete;

  // Starts the transport and the host fiber.
  runtime::Status start();
  // Hosts a group. `config.id` must be this node's id; the storage's initial state says whether
  // the group is new (bootstrap membership) or restarting.
  HostStatus add_group(GroupId group, const raft::RaftConfig& config, std::unique_ptr<GroupStorage> storage, ApplyFn apply,
                       PrepareFn prepare = {});
  using RemoveReply = runtime::Oneshot<HostResult<raft::Index>>;
  // Stops hosting a group (its storage is closed, its files stay): pending proposals and reads
  // fail with unknown_group. Done by the host fiber between rounds; the reply (the group's last
  // applied index) says when it is gone. unknown_group if it was not hosted.
  RemoveReply::Receiver remove_group(GroupId group);
  void set_role_observer(RoleFn observer) { role_observer_ = std::move(observer); }
  // Stops `group` on this node as a failed sync does (pending work fails with group_failed, the
  // observer hears group_failed): for a group whose applying hit a storage failure. Call on the
  // host fiber, from its ApplyFn; no later entry of the Ready is applied.
  // `code`: group_failed, or storage_full when the disk is full.
  void fail_group(GroupId group, HostErrc code, const std::string& why);
  // True once the group's storage failed here (a failed sync or fail_group): it answers nothing
  // until it is removed and added again.
  bool group_failed(GroupId group) const;

  using ProposeReply = runtime::Oneshot<HostResult<raft::Index>>;
  // Proposes `data` to `group`; the reply is the entry's index once it is committed and applied
  // here, or not_leader (naming the leader), leadership_lost, timeout, queue_full, unknown_group.
  ProposeReply::Receiver propose(GroupId group, Bytes data);
  // Proposes a membership change of `group` (docs/raft.md, "Membership"): the reply is the
  // entry's index once committed and applied here, or not_leader, invalid_argument (a change
  // pending, or one the core refuses), leadership_lost, timeout, queue_full, unknown_group.
  ProposeReply::Receiver propose_conf_change(GroupId group, raft::ConfChange change);
  // Starts an election in `group` now (tests, leader placement).
  HostStatus campaign(GroupId group);
  // Asks this node, if it leads `group`, to hand leadership to `target` (raft::transfer_leadership:
  // the target campaigns once caught up). Fire and forget; a refusal is silent.
  HostStatus transfer_leadership(GroupId group, raft::NodeId target);
  // Before a graceful stop: every group this node leads hands leadership to its most caught-up
  // other voter, so clients see one short election-free handover instead of an election timeout.
  // Fire and forget; leaders_here() says when it is done.
  // The node's failure detector suspects `peer` (or declared it dead): every quiet group it is a
  // member of ticks again, so a dead leader's followers elect another and a leader cut off from
  // its followers finds out by its quorum check (RaftHostConfig::quiesce_idle_groups). Never
  // lost: the peer is noted for the host fiber's next round (at most one note per peer), and only
  // the doorbell that wakes the fiber goes through the bounded queue.
  void wake_groups_with(raft::NodeId peer);
  HostStatus transfer_all_leaderships();
  // Groups this node leads now.
  size_t leaders_here() const;
  // Over the groups led here: the largest count of entries appended but not committed yet.
  uint64_t commit_lag_max() const;
  using ReadReply = runtime::Oneshot<HostResult<raft::Index>>;
  // A linearizable read barrier (read index, thesis §6.4): the reply is an index such that this
  // node was still the leader when the call was made and has applied every entry up to it, so a
  // read of the group's applied state made right after the reply observes every write committed
  // before the call. Errors: not_leader (naming the leader), leadership_lost (retry on the new
  // leader), timeout, queue_full, unknown_group. No entry is written: a read costs one heartbeat
  // round, shared by all reads that arrive while it is in flight.
  ReadReply::Receiver read_index(GroupId group);

  // The core of a group for inspection (null if not hosted). Do not call mutating methods.
  const raft::RawNode* group(GroupId group) const;
  size_t group_count() const { return groups_.size(); }
  size_t groups_quiesced() const;  // a scan of every group
  const HostStats& stats() const { return stats_; }
  const RaftTransport& transport() const { return transport_; }
  // Tells the observer that a removed group's data is about to be deleted (HostObserver::deleting).
  void note_deleting(GroupId group, DeleteCause cause) {
    if (config_.observer != nullptr) config_.observer->deleting(group, cause);
  }
  // A peer learned at run time (membership): RaftTransport::set_peer.
  void set_peer(raft::NodeId id, runtime::Address address) { transport_.set_peer(id, std::move(address)); }

 private:
  struct Proposal {
    raft::Index index = 0;
    raft::Term term = 0;
    runtime::Instant deadline{};
    ProposeReply::Sender reply;
  };
  struct Read {
    runtime::Instant deadline{};
    ReadReply::Sender reply;
  };
  struct Queued {
    GroupId group = 0;
    Bytes data;
    ProposeReply::Sender reply;
    enum class Kind : uint8_t { propose, campaign, read, remove, conf_change, transfer, hand_over_all, wake };
    Kind kind = Kind::propose;
    raft::ConfChange change;  // conf_change only
    raft::NodeId target = raft::kNoNode;  // transfer only (wake: a doorbell, suspected_peers_ says who)
  };
  struct Held {
    Queued queued;
    runtime::Instant deadline;
  };
  struct Group {
    std::unique_ptr<GroupStorage> storage;
    std::unique_ptr<raft::RawNode> node;
    ApplyFn apply;
    PrepareFn prepare;
    std::deque<Proposal> pending;  // by index
    std::map<uint64_t, Read> reads;  // by context: waiting for the leader's confirmation round
    std::multimap<raft::Index, Read> reads_confirmed;  // by index: waiting for apply
    std::deque<Held> held;  // proposals that arrived while leadership was moving away
    raft::Index applied = 0;
    raft::SoftState soft;
    raft::Term term = 0;
    HostErrc failure = HostErrc::ok;  // once its storage failed: group_failed or storage_full
    bool failed() const { return failure != HostErrc::ok; }
  };

  void run();
  bool hold_for_transfer(GroupId id, Group& group, Queued& queued);
  void release_held();
  void expire_held();
  void fail_held(Group& group, HostErrc code, const std::string& why);
  void scrub_next_group();
  void step_inbound(runtime::Instant tick_due);
  void take_proposals();
  void propose_now(Group& group, Queued& queued);
  void conf_change_now(Group& group, Queued& queued);
  void hand_over_all();
  void wake_now(raft::NodeId peer);
  raft::NodeId handover_target(const raft::Raft& core) const;
  void track(Group& group, Queued& queued);
  void remove_now(GroupId id, Queued& queued);
  void read_now(GroupId id, Group& group, Queued& queued);
  void answer_reads(GroupId id, Group& group, const std::vector<raft::ReadState>& read_states);
  void serve_applied_reads(GroupId id, Group& group);
  void tick_all();
  // A call changed the group's core: it may have a Ready, and it may have woken.
  void touched(GroupId id) {
    ready_candidates_.insert(id);
    awake_.insert(id);
  }
  void check_ready_candidates() const;
  bool process_readies();
  bool persist(GroupId id, Group& group, const raft::Ready& ready);
  void apply(GroupId id, Group& group, const raft::Ready& ready);
  void note_role(GroupId id, Group& group);
  void complete(GroupId id, Group& group, const raft::Entry& entry);
  void fail_pending(Group& group, HostErrc code, const std::string& why);
  void fail_now(GroupId id, Group& group, HostErrc code, const std::string& why);
  void expire_proposals();
  void expire_reads();
  void send_leader_appends(std::vector<std::pair<GroupId, raft::Ready>>& readies);
  void send_all(std::vector<std::pair<GroupId, raft::Ready>>& readies, const std::vector<char>& durable);
  bool attach_app_state(GroupId id, raft::Message& jump);
  runtime::Status buggify_pause(runtime::Duration max);
  void buggify_limits();
  void check_counters() const;

  runtime::Runtime& runtime_;
  RaftHostConfig config_;
  RaftTransport transport_;
  std::map<GroupId, Group> groups_;
  runtime::Instant last_scrub_at_{};
  GroupId last_scrubbed_ = 0;
  runtime::Channel<Queued> proposals_;
  size_t proposals_pending_ = 0;
  size_t reads_pending_ = 0;
  size_t proposals_held_ = 0;
  std::set<GroupId> groups_holding_;  // groups with held proposals
  // Groups that may have a Ready: every call that can change a core (step, tick, propose, ...)
  // puts its group here, so a round looks at these instead of asking every group (with 1,000
  // groups, asking all of them on every wakeup was a third of an idle node's CPU). Ordered by id,
  // so Readies are taken in the same order as when all groups were asked.
  std::set<GroupId> ready_candidates_;
  // Groups that may not be quiet: only these are ticked (a quiet core does nothing on a tick, and
  // with 1,000 quiet groups ticking them all was most of an idle node's CPU). The same calls put
  // a group here; a tick that finds it quiet takes it out.
  std::set<GroupId> awake_;
  std::set<raft::NodeId> suspected_peers_;  // wake_groups_with, for the next round
  uint64_t next_read_context_ = 1;  // 0 is reserved by the core
  RoleFn role_observer_;
  HostStats stats_;
};

}  // namespace sluice::multiraft
