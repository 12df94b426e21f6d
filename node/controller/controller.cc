#include "node/controller/controller.h"

#include <algorithm>
#include <utility>

#include "node/base/coverage.h"
#include "node/controller/placement.h"

namespace sluice::controller {
namespace {

namespace rt = runtime;

constexpr size_t kOutcomesMax = 4096;          // reserved slots whose submitter gave up
constexpr uint64_t kReplayBytesMax = 1 << 20;  // per storage read while replaying

Status from_host(const multiraft::HostStatus& status) {
  using multiraft::HostErrc;
  switch (status.code()) {
    case HostErrc::ok: return Status();
    case HostErrc::not_leader: return Status(Errc::not_leader, status.to_string());
    case HostErrc::leadership_lost:
    case HostErrc::timeout: return Status(Errc::timeout, status.to_string());
    case HostErrc::invalid_argument: return Status(Errc::invalid_request, status.to_string());
    default: return Status(Errc::unavailable, status.to_string());
  }
}

Status storage_status(const raft::Status& status, std::string_view what) {
  return Status(Errc::unavailable, std::string(what) + ": " + status.to_string());
}

}  // namespace

Controller::Controller(rt::Runtime& runtime, multiraft::RaftHost& host, ControllerConfig config)
    : runtime_(runtime), host_(host), config_(std::move(config)), metadata_(config_.limits, config_.planted_bug) {}

Controller::~Controller() { duties_.cancel(); }

Result<std::unique_ptr<Controller>> Controller::open(rt::Runtime& runtime, multiraft::RaftHost& host, ControllerConfig config) {
  if (config.dir.empty() || config.voters.empty() || config.raft.id == kNoNode) {
    return Result<std::unique_ptr<Controller>>(Errc::invalid_request, "the controller needs a dir, voters and this node's id");
  }
  config.storage.entries_are_batches = false;
  // A voter starts the group; any other node hosts it with no membership and waits until the
  // leader adds it as a learner (Controller::reconcile_learners).
  config.storage.bootstrap = raft::ConfState{};
  if (config.voters.count(config.raft.id) != 0) config.storage.bootstrap.voters = config.voters;
  std::unique_ptr<Controller> controller(new Controller(runtime, host, std::move(config)));
  SLUICE_TRY(controller->recover());
  Controller* self = controller.get();
  self->storage_ = self->opened_.get();
  multiraft::HostStatus added = host.add_group(
      kControllerGroup, self->config_.raft, std::move(self->opened_),
      [self](GroupId, const raft::Entry& entry) { self->apply(entry); },
      [self](const raft::RawNode& node, Bytes&) {
        // The entry this proposal becomes: its outcome is kept for the submitter.
        if (self->outcomes_.size() >= kOutcomesMax) self->outcomes_.erase(self->outcomes_.begin());
        self->outcomes_[node.raft().log().last_index() + 1] = std::nullopt;
        return multiraft::HostStatus();
      });
  if (!added.ok()) return Result<std::unique_ptr<Controller>>(from_host(added));
  self->added_to_host_ = true;
  SLUICE_ASSERT_EQ(host.group(kControllerGroup)->raft().log().applied(), self->restart_applied_);
  return controller;
}

// The core restarts applying after max(last membership change, log start - 1) (docs/raft.md,
// "Restart"); what the log holds committed up to there is applied here first.
Status Controller::recover() {
  raft::Result<std::unique_ptr<partition::LogRaftStorage>> opened =
      partition::LogRaftStorage::open(runtime_.fs(), config_.dir, config_.storage);
  if (!opened.ok()) return storage_status(opened.status(), "opening the controller's storage");
  opened_ = std::move(opened).value();
  const raft::InitialState initial = opened_->initial_state();
  if (opened_->first_index() > 1) return Status(Errc::unavailable, "the controller log lost its start: it needs repair");
  restart_applied_ = std::max(initial.conf_state.index, opened_->first_index() - 1);
  const raft::Index last = std::min(initial.hard_state.commit, restart_applied_);
  raft::Index next = 1;
  while (next <= last) {
    raft::Result<std::vector<raft::Entry>> entries = opened_->entries(next, last + 1, kReplayBytesMax);
    if (!entries.ok()) return storage_status(entries.status(), "replaying the controller log");
    for (const raft::Entry& entry : *entries) {
      apply(entry);
      ++next;
    }
  }
  if (last > 0) SLUICE_COVER("controller.replayed");
  return Status();
}

void Controller::apply(const raft::Entry& entry) {
  if (entry.index <= applied_index_) return;
  applied_index_ = entry.index;
  if (entry.type != raft::EntryType::normal || entry.data.empty()) return;  // a no-op, a membership change
  std::optional<Command> command = decode_command(entry.data);
  Result<Applied> outcome = command ? metadata_.apply(*command)
                                    : Result<Applied>(Errc::invalid_request, "entry " + std::to_string(entry.index) + " is no command");
  if (!command) SLUICE_COVER("controller.entry_skipped");
  auto slot = outcomes_.find(entry.index);
  if (slot != outcomes_.end()) slot->second = std::move(outcome);
}

Result<Applied> Controller::submit(const Command& command, rt::Instant deadline) {
  Result<Bytes> bytes = encode_command(command);
  if (!bytes.ok()) return Result<Applied>(bytes.status());
  if (!is_leader()) return Result<Applied>(Errc::not_leader, "leader is node " + std::to_string(leader()));
  if (submits_waiting_ >= config_.submits_waiting_max) return Result<Applied>(Errc::unavailable, "submits_waiting_max reached");
  ++submits_waiting_;
  auto reply = host_.propose(kControllerGroup, std::move(bytes).value()).receive(deadline);
  --submits_waiting_;
  if (!reply.ok()) return Result<Applied>(Errc::timeout, "waiting for commit: " + reply.status().to_string());
  if (!reply->ok()) return Result<Applied>(from_host(reply->status()));
  auto slot = outcomes_.find(reply->value());
  if (slot == outcomes_.end() || !slot->second) {
    if (slot != outcomes_.end()) outcomes_.erase(slot);
    return Result<Applied>(Errc::timeout, "the outcome of entry " + std::to_string(reply->value()) + " is unknown");
  }
  Result<Applied> outcome = std::move(*slot->second);
  outcomes_.erase(slot);
  return outcome;
}

bool Controller::is_leader() const {
  const raft::RawNode* node = host_.group(kControllerGroup);
  return node != nullptr && node->raft().role() == raft::Role::leader;
}

NodeId Controller::leader() const {
  const raft::RawNode* node = host_.group(kControllerGroup);
  return node == nullptr ? kNoNode : node->raft().soft_state().leader;
}

void Controller::start_duties(MembershipSource membership, rt::Duration interval) {
  SLUICE_ASSERT(!duties_.valid());
  duties_ = runtime_.spawn("controller-duties", [this, membership = std::move(membership), interval] { duties_loop(membership, interval); });
}

void Controller::duties_loop(const MembershipSource& membership, rt::Duration interval) {
  while (runtime_.sleep_for(interval).ok()) {
    if (!is_leader()) {
      dead_since_.clear();  // a later leadership counts the grace afresh
      absent_since_.clear();
      continue;
    }
    reconcile_members(membership());
    if (is_leader()) reconcile_learners();
    if (!is_leader()) continue;
    const std::set<NodeId> draining = draining_nodes();
    reconcile_voters(draining);
    if (is_leader()) reconcile_moves(draining);
  }
}

raft::Index Controller::durable_commit() const {
  return added_to_host_ ? storage_->durable_state().hard_state.commit : 0;
}

bool Controller::metadata_current() const {
  const raft::RawNode* node = host_.group(kControllerGroup);
  return node != nullptr && node->raft().leader() != kNoNode && applied_index_ >= node->raft().log().committed();
}

bool Controller::metadata_covers_own_log() const {
  const raft::RawNode* node = host_.group(kControllerGroup);
  return metadata_current() && applied_index_ >= node->raft().log().last_index();
}

// Dead past the grace (as this leader has watched them) and decommissioning nodes. A voter of the
// metadata group that the metadata has no record of counts as dead too: the first voters come from
// the bootstrap configuration, not from a registration, and one that stopped for good before any
// leader registered it (a crash 20 ms into the run, then both identity copies lost) would stay a
// voter forever, its vote never swapped away (cluster-corruption-minority seed 241). A voter that
// is merely slow to register does so within the grace: SWIM reports it alive long before.
std::set<NodeId> Controller::draining_nodes() {
  const rt::Instant now = runtime_.now();
  std::set<NodeId> dead;
  std::set<NodeId> draining;
  for (const auto& [id, record] : metadata_.nodes()) {
    if (record.state == NodeState::decommissioning) draining.insert(id);
    if (record.state == NodeState::dead) dead.insert(id);
  }
  for (NodeId voter : unregistered_voters()) dead.insert(voter);
  std::erase_if(dead_since_, [&dead](const auto& entry) { return dead.count(entry.first) == 0; });
  for (NodeId id : dead) {
    const rt::Instant since = dead_since_.try_emplace(id, now).first->second;
    if (now - since >= config_.moves.node_dead_grace) draining.insert(id);
  }
  return draining;
}

// The metadata group's voters (incoming and outgoing) without a record in the metadata.
std::set<NodeId> Controller::unregistered_voters() const {
  std::set<NodeId> unregistered;
  const raft::RawNode* node = host_.group(kControllerGroup);
  if (node == nullptr) return unregistered;
  const raft::ConfState& conf = node->raft().conf_state();
  for (const std::set<NodeId>* voters : {&conf.voters, &conf.voters_outgoing}) {
    for (NodeId voter : *voters) {
      if (!metadata_.nodes().contains(voter)) unregistered.insert(voter);
    }
  }
  return unregistered;
}

// Level-triggered like the rest of the duties: each round looks at the metadata as it is, so a new
// leader carries on with the moves an old one began (their state is in the metadata).
void Controller::reconcile_moves(const std::set<NodeId>& draining) {
  const rt::Instant deadline = runtime_.now() + std::chrono::seconds(5);
  std::vector<Command> commands;
  size_t in_flight = 0;
  for (const auto& [name, topic] : metadata_.topics()) {
    for (const PartitionRecord& partition : topic.partitions) in_flight += partition.move ? 1 : 0;
  }
  for (AbortMove& abort : plan_aborts(metadata_)) commands.push_back(std::move(abort));
  MoveRepairs repairs = plan_move_repairs(metadata_, draining);
  for (ResumeMove& resume : repairs.resumes) commands.push_back(std::move(resume));
  for (RedirectMove& redirect : repairs.redirects) commands.push_back(std::move(redirect));
  const size_t budget = config_.moves.moves_in_flight_max > in_flight ? config_.moves.moves_in_flight_max - in_flight : 0;
  for (const PlannedMove& planned : plan_moves(metadata_, draining, budget)) {
    commands.push_back(BeginMove{planned.topic, planned.partition, planned.move});
  }
  for (SetPreferredLeader& change : plan_leaders(metadata_, config_.moves.leader_changes_per_round_max)) {
    commands.push_back(std::move(change));
  }
  for (const Command& command : commands) {
    if (std::holds_alternative<AbortMove>(command)) SLUICE_COVER("controller.duties.move_aborted");
    if (std::holds_alternative<ResumeMove>(command)) SLUICE_COVER("controller.duties.move_resumed");
    if (std::holds_alternative<RedirectMove>(command)) SLUICE_COVER("controller.duties.move_redirected");
    if (const auto* begin = std::get_if<BeginMove>(&command)) {
      SLUICE_COVER("controller.duties.move_begun");
      const PartitionRecord* partition = metadata_.partition(PartitionId{begin->topic, begin->partition});
      if (partition != nullptr && partition->lost_on.count(begin->move.removing) != 0) SLUICE_COVER("controller.duties.lost_replica_moved");
    }
    if (std::holds_alternative<SetPreferredLeader>(command)) SLUICE_COVER("controller.duties.preferred_leader_changed");
    if (!submit(command, deadline).ok()) return;  // retried from the state of the next round
  }
}

// Every alive node the metadata knows follows the metadata group: one not in its membership yet
// is added as a learner (one change at a time; the next round adds the next).
void Controller::reconcile_learners() {
  const raft::RawNode* node = host_.group(kControllerGroup);
  if (node == nullptr) return;
  const raft::ConfState& conf = node->raft().conf_state();
  for (const auto& [id, record] : metadata_.nodes()) {
    if (record.state != NodeState::alive || conf.voters.count(id) != 0 || conf.learners.count(id) != 0) continue;
    raft::ConfChange change;
    change.items.push_back({raft::ConfChangeType::add_learner, id});
    SLUICE_COVER("controller.duties.learner_added");
    (void)host_.propose_conf_change(kControllerGroup, std::move(change)).receive(runtime_.now() + std::chrono::seconds(5));
    return;
  }
}

// The metadata group keeps its voter count through lost nodes (docs/controller.md, "Controller
// voters"): a voter dead past the grace, decommissioning or removed is swapped for a caught-up
// learner on an alive node; a leader that is itself such a voter hands leadership to a voter that
// can take over first.
void Controller::reconcile_voters(const std::set<NodeId>& draining) {
  const raft::RawNode* node = host_.group(kControllerGroup);
  if (node == nullptr) return;
  std::set<NodeId> unfit = draining;
  std::set<NodeId> fit;
  for (const auto& [id, record] : metadata_.nodes()) {
    if (record.state == NodeState::removed) unfit.insert(id);
    if (record.state == NodeState::alive && draining.count(id) == 0) fit.insert(id);
  }
  const GroupView group = group_view_of(node->raft());
  const NodeId self = config_.raft.id;
  if (unfit.count(self) > 0 && group.voters.count(self) > 0) {
    for (NodeId voter : group.voters) {
      if (voter == self || unfit.count(voter) > 0 || !ready_to_take_over(group, voter, config_.moves.voter_catch_up_lag_entries_max)) {
        continue;
      }
      SLUICE_COVER("controller.duties.leadership_handed_over");
      (void)host_.transfer_leadership(kControllerGroup, voter);
      return;
    }
  }
  const VoterSwap swap = plan_voter_swap(group, self, unfit, fit, config_.moves.voter_catch_up_lag_entries_max);
  if (swap.empty()) return;
  SLUICE_COVER("controller.duties.voter_replaced");
  (void)host_.propose_conf_change(kControllerGroup, conf_change_of(swap)).receive(runtime_.now() + std::chrono::seconds(5));
}

void Controller::reconcile_members(const std::vector<MemberView>& members) {
  const rt::Instant deadline = runtime_.now() + std::chrono::seconds(5);
  for (const MemberView& member : members) {
    auto known = metadata_.nodes().find(member.id);
    std::optional<Command> command;
    if (member.alive) {
      const bool stale = known == metadata_.nodes().end() || known->second.state == NodeState::dead ||
                         known->second.addresses != member.addresses;
      if (stale && (known == metadata_.nodes().end() || known->second.state != NodeState::removed)) {
        command = RegisterNode{member.id, member.addresses};
      }
    } else if (known != metadata_.nodes().end() && known->second.state == NodeState::alive) {
      command = SetNodeState{member.id, NodeState::dead};
    }
    if (!command) continue;
    if (member.alive) SLUICE_COVER("controller.duties.node_registered"); else SLUICE_COVER("controller.duties.node_dead");
    // A failure (leadership lost, timeout) is retried at the next round from the state then.
    if (!submit(*command, deadline).ok()) return;
  }
  mark_absent_dead(members, deadline);
}

// A node the metadata holds alive that membership does not list at all: SWIM forgot it (a dead
// member is dropped after a while) or never met it since this node started. Left alive, its
// dead grace never starts and its replicas and vote are never moved (cluster-swarm-leaders seed
// 1927: a node crash-looping on a lost controller state, long forgotten by SWIM when a new
// controller leader came). It is marked dead once absent from this leader's view for the dead
// grace: a member SWIM has not met again yet after a restart is listed long before that.
void Controller::mark_absent_dead(const std::vector<MemberView>& members, rt::Instant deadline) {
  const rt::Instant now = runtime_.now();
  std::set<NodeId> listed;
  for (const MemberView& member : members) listed.insert(member.id);
  std::erase_if(absent_since_, [&](const auto& entry) { return listed.count(entry.first) != 0; });
  for (const auto& [id, record] : metadata_.nodes()) {
    if (record.state != NodeState::alive || listed.count(id) != 0) continue;
    const rt::Instant since = absent_since_.try_emplace(id, now).first->second;
    if (now - since < config_.moves.node_dead_grace) continue;
    SLUICE_COVER("controller.duties.absent_node_dead");
    if (!submit(SetNodeState{id, NodeState::dead}, deadline).ok()) return;
  }
}

Status Controller::close() {
  duties_.cancel();
  (void)duties_.join();
  if (!added_to_host_) return Status();
  auto removed = host_.remove_group(kControllerGroup).receive();
  added_to_host_ = false;
  if (!removed.ok()) return Status(Errc::unavailable, "removing the group: " + removed.status().to_string());
  return removed->ok() || removed->code() == multiraft::HostErrc::unknown_group ? Status() : from_host(removed->status());
}

ReplicaView replica_view_of(const raft::Raft& replica, NodeId self) {
  const raft::ConfState& conf = replica.conf_state();
  ReplicaView view;
  view.member = conf.is_voter(self) || conf.is_learner(self);
  // A leader counts itself; a follower, the leader it heard from within its election timeout (a
  // quiet follower's timer stands still: its leader went quiet with it still a member).
  view.follows_leader = replica.role() == raft::Role::leader ||
                        (replica.leader() != raft::kNoNode && replica.election_elapsed_ticks() < replica.election_timeout_randomized_ticks());
  return view;
}

GroupView group_view_of(const raft::Raft& leader) {
  const raft::ConfState& conf = leader.conf_state();
  GroupView view;
  view.voters = conf.voters;
  view.learners = conf.learners;
  view.learners.insert(conf.learners_next.begin(), conf.learners_next.end());
  view.joint = conf.joint();
  view.change_pending = leader.conf_change_pending();
  for (const auto& [id, progress] : leader.progress()) {
    view.match[id] = progress.match;
    if (progress.recent_active) view.active.insert(id);
  }
  view.last_index = leader.log().last_index();
  view.conf_index = conf.index;
  return view;
}

raft::ConfChange conf_change_of(const ConfStep& step) {
  raft::ConfChange change;
  switch (step.kind) {
    case ConfStepKind::add_learner: change.items.push_back({raft::ConfChangeType::add_learner, step.node}); break;
    case ConfStepKind::remove_learner: change.items.push_back({raft::ConfChangeType::remove_node, step.node}); break;
    case ConfStepKind::promote:
      // Always joint, even for one voter: the outgoing voters keep deciding until it is left.
      change.transition = raft::ConfChangeTransition::joint_auto_leave;
      for (NodeId node : step.add_voters) change.items.push_back({raft::ConfChangeType::add_voter, node});
      for (NodeId node : step.remove_voters) change.items.push_back({raft::ConfChangeType::remove_node, node});
      break;
    case ConfStepKind::wait:
    case ConfStepKind::done: SLUICE_ASSERT(false && "no change to propose"); break;
  }
  return change;
}

raft::ConfChange conf_change_of(const VoterSwap& swap) {
  SLUICE_ASSERT(!swap.empty() && swap.promote.size() == swap.demote.size());
  raft::ConfChange change;
  change.transition = raft::ConfChangeTransition::joint_auto_leave;
  for (NodeId node : swap.promote) change.items.push_back({raft::ConfChangeType::add_voter, node});
  // A demoted voter keeps voting in the outgoing half until the joint configuration is left.
  for (NodeId node : swap.demote) change.items.push_back({raft::ConfChangeType::add_learner, node});
  return change;
}

}  // namespace sluice::controller
