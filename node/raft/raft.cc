// Roles, the term rules every message passes first, and dispatch by role.
#include "node/raft/raft.h"

#include <algorithm>

#include "node/base/coverage.h"

namespace sluice::raft {

namespace {

// Messages queued between two Ready calls; a driver that never drains would otherwise grow the
// queue without bound. Dropping is safe: Raft tolerates any message loss.
constexpr size_t kMessagesPendingMax = 1 << 16;

bool from_leader(MessageType type) {
  return type == MessageType::append || type == MessageType::heartbeat || type == MessageType::log_start_jump;
}

}  // namespace

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::became_leader: return "became-leader";
    case EventKind::stepped_down: return "stepped-down";
    case EventKind::removed_from_voters: return "removed-from-voters";
    case EventKind::campaign_deferred: return "campaign-deferred";
    case EventKind::leader_transfer_aborted: return "leader-transfer-aborted";
    case EventKind::conf_change_applied: return "conf-change-applied";
    case EventKind::conf_change_skipped: return "conf-change-skipped";
    case EventKind::log_start_jump_sent: return "log-start-jump-sent";
    case EventKind::log_start_jump_applied: return "log-start-jump-applied";
    case EventKind::log_shorter_than_leader_knows: return "log-shorter-than-leader-knows";
    case EventKind::follower_log_lost: return "follower-log-lost";
    case EventKind::vote_withheld: return "vote-withheld";
    case EventKind::vote_restored: return "vote-restored";
  }
  return "unknown";
}

std::string to_string(const VoteNote& note) {
  const auto position = [](Index index, Term term) { return std::to_string(index) + "/" + std::to_string(term); };
  std::string text;
  switch (note.outcome) {
    case VoteOutcome::refused: text = "refused "; break;
    case VoteOutcome::ignored: text = "ignored "; break;
    case VoteOutcome::deferred: text = "deferred "; break;
  }
  text += std::string(note.type == MessageType::pre_vote_request ? "pre-vote" : "vote") + " for " +
          std::to_string(note.candidate) + " at t" + std::to_string(note.term) + ": ";
  switch (note.reason) {
    case VoteRefusal::stale_term: return text + "stale term (ours t" + std::to_string(note.our_term) + ")";
    case VoteRefusal::leader_lease: return text + "leader lease (leader " + std::to_string(note.other) + ")";
    case VoteRefusal::already_voted: return text + "already voted for " + std::to_string(note.other);
    case VoteRefusal::has_leader: return text + "follows leader " + std::to_string(note.other);
    case VoteRefusal::vote_withheld: return text + "vote withheld (log lost entries, not caught up)";
    case VoteRefusal::log_behind:
      return text + "log behind (ours " + position(note.our_last_index, note.our_last_term) + ", theirs " +
             position(note.their_last_index, note.their_last_term) + ")";
    case VoteRefusal::pre_vote_backing:
      return text + "backing " + (note.other == kNoNode ? std::string("itself") : std::to_string(note.other)) + " (log " +
             position(note.our_last_index, note.our_last_term) + ", theirs " +
             position(note.their_last_index, note.their_last_term) + ")";
  }
  return text + "unknown";
}

Raft::Raft(const RaftConfig& config, RaftLogStorage& storage, Prng prng)
    : config_(config), prng_(prng), log_(storage) {
  if (config.planted_bug == PlantedBug::raft_keep_conflicting_suffix) log_.plant_keep_conflicting_suffix();
}

Result<std::unique_ptr<Raft>> Raft::create(const RaftConfig& config, RaftLogStorage& storage, Prng prng) {
  SLUICE_TRY(validate(config));
  const InitialState initial = storage.initial_state();
  const HardState& hard = initial.hard_state;
  const Index first = storage.first_index();
  const Index last = storage.last_index();
  if (hard.commit > last) return Status(Errc::invalid_state, "commit beyond the last entry");
  if (hard.commit + 1 < first) return Status(Errc::invalid_state, "the log starts after the commit index");
  if (initial.conf_state.index > hard.commit) return Status(Errc::invalid_state, "membership from an uncommitted entry");
  if (!storage.term(last).ok() || !storage.term(first - 1).ok()) {
    return Status(Errc::invalid_state, "storage cannot tell the terms of its base and last entry");
  }

  std::unique_ptr<Raft> raft(new Raft(config, storage, prng));
  raft->log_.commit_to(hard.commit);
  raft->commit_superseded_conf_changes();
  raft->log_.applied_to(std::max(initial.conf_state.index, first - 1));
  raft->term_ = hard.term;
  raft->vote_ = hard.vote;
  raft->switch_to_conf(initial.conf_state);
  raft->become_follower(hard.term, kNoNode);
  if (hard.vote_withheld) raft->withhold_vote_after_loss();
  return raft;
}

// The log lost entries this node may have acknowledged (storage cut a corrupted tail), so a quorum
// that counted it may no longer hold an entry it committed: its vote could elect a leader lacking
// that entry, and a self-vote is a vote, so it neither votes nor campaigns until it has caught up.
// It moves to the next term at once (no vote): every entry it acknowledged before the loss was
// then acknowledged in an earlier term than the one it ends the withholding in (below).
void Raft::withhold_vote_after_loss() {
  vote_withheld_ = true;
  become_follower(term_ + 1, kNoNode);
  emit(EventKind::vote_withheld, "log lost entries it may have acknowledged; term moved to " + std::to_string(term_));
}

// Caught up: it follows a leader and the entry at its commit index has the current term. That
// leader, of a term above any in which this node acknowledged an entry before the loss, was
// elected without this node's vote by a quorum of nodes that kept their logs, so it holds every
// entry committed in earlier terms (Leader Completeness), and it commits an entry of its own term
// only after all of them. This node holds that entry at its commit index, so by Log Matching it
// holds the leader's log up to it: every entry a quorum acknowledged before the loss. (In the term
// of the loss itself this would not do: the leader may commit entries of its term that this node
// acknowledged and lost past the point it has caught up to.)
void Raft::maybe_restore_vote() {
  if (!vote_withheld_ || lead_ == kNoNode) return;
  const Result<Term> committed_term = log_.term(log_.committed());
  if (!committed_term.ok() || *committed_term != term_) return;
  SLUICE_COVER("raft.vote_restored");
  vote_withheld_ = false;
  emit(EventKind::vote_restored, "caught up to commit " + std::to_string(log_.committed()) + " of term " + std::to_string(term_));
}

bool Raft::promotable() const { return conf_.is_voter(config_.id); }

bool Raft::in_lease() const {
  return config_.check_quorum && lead_ != kNoNode && election_elapsed_ticks_ < config_.election_timeout_ticks;
}

void Raft::emit(EventKind kind, std::string detail) {
  if (events_.size() >= kEventsPendingMax) {
    events_.erase(events_.begin());
    ++events_dropped_;
  }
  events_.push_back(RaftEvent{kind, term_, std::move(detail)});
}

void Raft::note_vote(const Message& m, VoteOutcome outcome, VoteRefusal reason, NodeId other) {
  if (vote_notes_.size() >= kVoteNotesMax) vote_notes_.pop_front();
  VoteNote note;
  note.type = m.type;
  note.candidate = m.from;
  note.term = m.term;
  note.outcome = outcome;
  note.reason = reason;
  note.our_term = term_;
  note.other = other;
  note.our_last_index = log_.last_index();
  note.our_last_term = log_.last_term();
  if (reason == VoteRefusal::pre_vote_backing && pre_vote_backing_) {
    note.our_last_index = pre_vote_backing_->last_index;
    note.our_last_term = pre_vote_backing_->last_term;
  }
  note.their_last_index = m.index;
  note.their_last_term = m.log_term;
  vote_notes_.push_back(note);
}

std::vector<VoteNote> Raft::take_vote_notes() {
  std::vector<VoteNote> notes(vote_notes_.begin(), vote_notes_.end());
  vote_notes_.clear();
  return notes;
}

std::vector<NodeId> Raft::deferred_pre_votes() const {
  std::vector<NodeId> ids;
  for (const auto& [from, request] : pre_votes_deferred_) ids.push_back(from);
  return ids;
}

std::optional<std::string_view> Raft::campaign_waiting_for_apply() const {
  if (!campaign_after_apply_) return std::nullopt;
  switch (*campaign_after_apply_) {
    case CampaignKind::pre_vote: return "pre-vote";
    case CampaignKind::election: return "election";
    case CampaignKind::transfer: return "transfer";
  }
  return std::nullopt;
}

void Raft::set_randomized_election_timeout(uint32_t ticks) {
  SLUICE_ASSERT_GE(ticks, 1u);
  election_timeout_randomized_ticks_ = ticks;
}

Message Raft::reply(MessageType type, const Message& to) const {
  Message m;
  m.type = type;
  m.to = to.from;
  m.term = term_;
  return m;
}

void Raft::send(Message m) {
  m.from = config_.id;
  if (messages_.size() >= kMessagesPendingMax) messages_.erase(messages_.begin());
  messages_.push_back(std::move(m));
}

void Raft::reset(Term term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ticks_ = 0;
  heartbeat_elapsed_ticks_ = 0;
  quiesced_ = false;
  randomize_election_timeout();
  lead_transferee_ = kNoNode;
  campaign_after_apply_.reset();
  pre_vote_backing_.reset();
  campaign_contested_ = false;
  pre_votes_deferred_.clear();
  votes_.clear();
  reset_progress();
  pending_conf_index_ = 0;
  uncommitted_bytes_ = 0;
  for (ReadState& dropped : reads_.drop_all()) read_states_.push_back(dropped);
}

// Randomized in [T, 2T) so that split votes resolve (§5.2).
void Raft::randomize_election_timeout() {
  const uint64_t timeout = config_.election_timeout_ticks;
  election_timeout_randomized_ticks_ =
      static_cast<uint32_t>(timeout + random_below([this] { return prng_.next(); }, timeout));
}

void Raft::reset_progress() {
  const Index last = log_.last_index();
  for (auto& [id, progress] : progress_) {
    const bool learner = progress.is_learner;
    progress = Progress(last + 1, config_.inflight_msgs_max, config_.inflight_bytes_max);
    progress.is_learner = learner;
    progress.recent_active = id == config_.id;
    if (id == config_.id) progress.match = log_.durable_index();
  }
}

void Raft::become_follower(Term term, NodeId leader) {
  reset(term);
  lead_ = leader;
  role_ = Role::follower;
}

void Raft::become_pre_candidate() {
  SLUICE_ASSERT(role_ != Role::leader);
  // Neither term nor vote change: a pre-vote that fails must leave no trace.
  votes_.clear();
  lead_ = kNoNode;
  role_ = Role::pre_candidate;
  election_elapsed_ticks_ = 0;
  campaign_contested_ = false;
  quiesced_ = false;
}

void Raft::become_candidate() {
  SLUICE_ASSERT(role_ != Role::leader);
  reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::candidate;
}

void Raft::become_leader() {
  SLUICE_ASSERT(role_ != Role::follower);
  reset(term_);
  lead_ = config_.id;
  role_ = Role::leader;
  Progress& self = progress_.at(config_.id);
  self.become_replicate();
  self.recent_active = true;
  // Any entry up to here may be an unapplied conf change; allow no new one before it is applied.
  pending_conf_index_ = log_.last_index();
  emit(EventKind::became_leader, "");
  // An entry of the new term: committing it commits everything before it (§5.4.2) and
  // lets reads proceed.
  Entry empty;
  empty.type = EntryType::empty;
  const Status appended = append_entries({empty});
  SLUICE_ASSERT(appended.ok());
}

// The term rules (§5.1) plus pre-vote and lease exceptions. False: drop the message.
bool Raft::handle_message_term(const Message& m) {
  const bool vote_request = m.type == MessageType::vote_request || m.type == MessageType::pre_vote_request;
  if (m.term > term_) {
    if (vote_request && in_lease() && !m.transfer) {
      // Leader lease: while we hear from a leader, a higher-term candidate is a disruptive node
      // (e.g. one that was partitioned), unless the leader itself asked for the transfer. A
      // pre-vote is answered when the lease ends (answer_deferred_pre_votes).
      const bool deferred = m.type == MessageType::pre_vote_request && conf_.is_voter(m.from);
      if (deferred) pre_votes_deferred_[m.from] = m;
      note_vote(m, deferred ? VoteOutcome::deferred : VoteOutcome::ignored, VoteRefusal::leader_lease, lead_);
      return false;
    }
    if (m.type == MessageType::pre_vote_request) {
      // Pre-votes never move our term.
    } else if (m.type == MessageType::pre_vote_response && !m.reject) {
      // A granted pre-vote carries the term we would campaign for; we move there when we win.
    } else {
      become_follower(m.term, from_leader(m.type) ? m.from : kNoNode);
    }
    return true;
  }
  if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote || !promotable() || vote_withheld_) &&
        (m.type == MessageType::append || m.type == MessageType::heartbeat)) {
      // A stale leader. With check-quorum or pre-vote our higher term may never reach it through
      // vote requests (they are ignored in the lease, or never sent), and a learner never
      // campaigns at all; so tell the old leader our term directly, or we would ignore it
      // forever while it keeps leading. A node withholding its vote never campaigns either.
      send(reply(MessageType::append_response, m));
    } else if (m.type == MessageType::pre_vote_request) {
      note_vote(m, VoteOutcome::refused, VoteRefusal::stale_term);
      Message response = reply(MessageType::pre_vote_response, m);
      response.reject = true;
      stamp_commit(response);
      send(std::move(response));
    } else if (m.type == MessageType::vote_request) {
      note_vote(m, VoteOutcome::ignored, VoteRefusal::stale_term);
    }
    return false;
  }
  return true;
}

void Raft::stamp_commit(Message& m) const {
  m.commit = log_.committed();
  Result<Term> term = log_.term(log_.committed());
  m.commit_term = term.ok() ? *term : 0;
}

// Elections carry commit knowledge both ways. A committed index is a fact of the group: if we
// hold the entry at that index with the same term, our log equals the sender's up to it (Log
// Matching), so it is committed here too. Without this, a voter that does not know a conf
// change committed may keep using the old membership and need the vote of a node that refuses
// it (its log is longer), or the only node that knows may be a learner that cannot campaign
// (etcd issue 12359). A candidate that learns of a committed conf change it has not applied
// abandons its campaign: counting votes with a stale membership is unsafe (etcd issue 7625);
// it campaigns again once the change is applied.
void Raft::learn_commit(const Message& m) {
  if (m.commit <= log_.committed() || !log_.match_term(m.commit, m.commit_term)) return;
  log_.commit_to(m.commit);
  if ((role_ == Role::candidate || role_ == Role::pre_candidate) && has_unapplied_conf_change()) {
    const CampaignKind kind = role_ == Role::pre_candidate || config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election;
    become_follower(term_, kNoNode);
    campaign_after_apply_ = kind;
  }
}

void Raft::step(const Message& m) {
  if (quiesced_ && !keeps_quiet(m)) wake_by(m);
  if (m.type == MessageType::pre_vote_request || m.type == MessageType::vote_request ||
      m.type == MessageType::pre_vote_response || m.type == MessageType::vote_response) {
    learn_commit(m);
  }
  if (!handle_message_term(m)) return;
  if (m.type == MessageType::vote_request || m.type == MessageType::pre_vote_request) {
    handle_vote_request(m);
    return;
  }
  switch (role_) {
    case Role::leader: step_leader(m); break;
    case Role::pre_candidate:
    case Role::candidate: step_candidate(m); break;
    case Role::follower: step_follower(m); break;
  }
}

void Raft::step_leader(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;  // not (or no longer) a member
  switch (m.type) {
    case MessageType::append_response:
      handle_append_response(m, it->second);
      break;
    case MessageType::heartbeat_response:
      handle_heartbeat_response(m, it->second);
      break;
    default:
      break;  // stale votes; an append at our own term cannot come from another leader
  }
}

void Raft::step_candidate(const Message& m) {
  switch (m.type) {
    case MessageType::append:
      become_follower(m.term, m.from);
      handle_append(m);
      break;
    case MessageType::heartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      break;
    case MessageType::log_start_jump:
      become_follower(m.term, m.from);
      handle_log_start_jump(m);
      break;
    case MessageType::pre_vote_response:
    case MessageType::vote_response:
      handle_vote_response(m);
      break;
    default:
      break;
  }
}

void Raft::heard_from_leader(NodeId leader) {
  election_elapsed_ticks_ = 0;
  lead_ = leader;
  pre_votes_deferred_.clear();  // the leader is alive: the lease goes on
  // A deferred election is moot now; a deferred transfer is what this leader asked for.
  if (campaign_after_apply_ && *campaign_after_apply_ != CampaignKind::transfer) campaign_after_apply_.reset();
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::append:
      heard_from_leader(m.from);
      handle_append(m);
      break;
    case MessageType::heartbeat:
      heard_from_leader(m.from);
      handle_heartbeat(m);
      break;
    case MessageType::log_start_jump:
      heard_from_leader(m.from);
      handle_log_start_jump(m);
      break;
    case MessageType::timeout_now:
      hup(CampaignKind::transfer);
      break;
    default:
      break;
  }
  maybe_restore_vote();  // only a follower's commit index or leader changes here
}

}  // namespace sluice::raft
