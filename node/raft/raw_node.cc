#include "node/raft/raw_node.h"

namespace sluice::raft {

Result<std::unique_ptr<RawNode>> RawNode::create(const RaftConfig& config, RaftLogStorage& storage, Prng prng) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Raft> raft, Raft::create(config, storage, prng));
  const HardState hard = storage.initial_state().hard_state;
  const ConfState conf = raft->conf_state();
  return std::unique_ptr<RawNode>(new RawNode(std::move(raft), hard, conf));
}

void RawNode::tick() {
  assert_no_ready_in_flight();
  raft_->tick();
}

void RawNode::wake() {
  assert_no_ready_in_flight();
  if (raft_->config().planted_bug == PlantedBug::raft_ignore_wake) return;
  raft_->wake();
}

Status RawNode::step(const Message& message) {
  assert_no_ready_in_flight();
  if (message.to != raft_->id()) return Status(Errc::invalid_argument, "message for another node");
  if (message.from == kNoNode || message.from == raft_->id()) return Status(Errc::invalid_argument, "bad sender");
  raft_->step(message);
  return Status();
}

Status RawNode::propose(Bytes data) {
  assert_no_ready_in_flight();
  return raft_->propose(EntryType::normal, std::move(data));
}

Status RawNode::propose_conf_change(const ConfChange& change) {
  assert_no_ready_in_flight();
  return raft_->propose_conf_change(change);
}

Status RawNode::campaign() {
  assert_no_ready_in_flight();
  return raft_->campaign();
}

Status RawNode::transfer_leadership(NodeId target) {
  assert_no_ready_in_flight();
  return raft_->transfer_leadership(target);
}

Status RawNode::read_index(uint64_t context) {
  assert_no_ready_in_flight();
  return raft_->read_index(context);
}

bool RawNode::has_ready() const {
  if (in_flight_) return false;
  const LogUnstable& unstable = raft_->log().unstable();
  return raft_->soft_state() != prev_soft_ || raft_->hard_state() != prev_hard_ || raft_->conf_state() != prev_conf_ ||
         unstable.jump() || !unstable.entries().empty() || raft_->has_output() ||
         raft_->log().has_next_committed_entries();
}

Ready RawNode::ready() {
  assert_no_ready_in_flight();
  Ready rd;
  InFlight in_flight;
  RaftLog& log = raft_->log();
  rd.log_start_jump = log.unstable().jump();
  in_flight.jump = rd.log_start_jump;
  rd.entries = log.unstable().entries();
  if (!rd.entries.empty()) in_flight.last_entry = Entry{rd.entries.back().term, rd.entries.back().index};
  if (log.has_next_committed_entries()) {
    // A storage failure leaves them for the next Ready.
    Result<std::vector<Entry>> committed = log.next_committed_entries(raft_->config().apply_bytes_max);
    if (committed.ok()) rd.committed_entries = std::move(committed).value();
  }
  // Conf changes take effect as they are handed out, so the membership below is the one to
  // persist with this Ready's commit index.
  for (const Entry& entry : rd.committed_entries) raft_->apply_committed_entry(entry);
  raft_->release_uncommitted(rd.committed_entries);
  if (!rd.committed_entries.empty()) in_flight.applied = rd.committed_entries.back().index;

  if (raft_->soft_state() != prev_soft_) rd.soft_state = prev_soft_ = raft_->soft_state();
  if (raft_->hard_state() != prev_hard_) rd.hard_state = prev_hard_ = raft_->hard_state();
  if (rd.hard_state) in_flight.term = rd.hard_state->term;
  if (raft_->conf_state() != prev_conf_) rd.conf_state = prev_conf_ = raft_->conf_state();
  rd.messages = raft_->take_messages();
  rd.read_states = raft_->take_read_states();
  rd.events = raft_->take_events();
  in_flight_ = std::move(in_flight);
  return rd;
}

void RawNode::advance() {
  SLUICE_ASSERT(in_flight_ && "advance() without ready()");
  RaftLog& log = raft_->log();
  if (in_flight_->jump) {
    // The driver must have applied the jump before advancing.
    SLUICE_ASSERT_EQ(log.storage().first_index(), in_flight_->jump->index + 1);
    log.stable_jump_to(in_flight_->jump->index);
  }
  if (in_flight_->last_entry) {
    SLUICE_ASSERT_GE(log.storage().last_index(), in_flight_->last_entry->index);
    log.stable_to(in_flight_->last_entry->index, in_flight_->last_entry->term);
  }
  if (in_flight_->applied) log.applied_to(*in_flight_->applied);
  if (in_flight_->term) durable_term_ = *in_flight_->term;
  in_flight_.reset();
  raft_->after_advance();
}

std::vector<Message> RawNode::take_messages_before_sync(Ready& ready) const {
  SLUICE_ASSERT(in_flight_ && "take_messages_before_sync() outside ready() ... advance()");
  std::vector<Message> early;
  if (raft_->role() != Role::leader) return early;
  // Planted bug (tests only): the leader's term need not be durable.
  const bool any_term = raft_->config().planted_bug == PlantedBug::raft_early_send_unsynced_term;
  if (raft_->term() != durable_term_ && !any_term) return early;
  std::erase_if(ready.messages, [&early](Message& m) {
    const bool leader_only = m.type == MessageType::append || m.type == MessageType::heartbeat;
    if (leader_only) early.push_back(std::move(m));
    return leader_only;
  });
  return early;
}

NodeStatus RawNode::status() const {
  NodeStatus status;
  status.id = raft_->id();
  status.role = raft_->role();
  status.term = raft_->term();
  status.vote = raft_->vote();
  status.leader = raft_->leader();
  status.first_index = raft_->log().first_index();
  status.last_index = raft_->log().last_index();
  status.commit = raft_->log().committed();
  status.applied = raft_->log().applied();
  status.conf_state = raft_->conf_state();
  if (raft_->role() == Role::leader) status.progress = raft_->progress();
  status.lead_transferee = raft_->lead_transferee();
  status.uncommitted_bytes = raft_->uncommitted_bytes();
  status.reads_pending = raft_->reads_pending();
  return status;
}

}  // namespace sluice::raft
