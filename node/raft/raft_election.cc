// Timers, pre-vote and elections, check-quorum, leader transfer.
#include <set>

#include "node/base/coverage.h"
#include "node/base/hash.h"
#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace sluice::raft {

void Raft::tick() {
  if (quiesced_) return;
  if (role_ == Role::leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_ticks_;
  if (pre_vote_backing_ && --pre_vote_backing_->ticks_left == 0) pre_vote_backing_.reset();
  if (campaign_contested_ && election_elapsed_ticks_ >= pre_vote_window_ticks()) {
    back_off_split_campaign();
    return;
  }
  answer_deferred_pre_votes();
  // A node backing another pre-candidate waits for it (or for the window to end): campaigning
  // itself would compete with the candidate it just helped. A node that may not campaign (a
  // learner, a voter withholding its vote) pokes the voters instead (poke_voters).
  const bool may_campaign = promotable() && !vote_withheld_;
  if (may_campaign && election_elapsed_ticks_ >= election_timeout_randomized_ticks_ && !backs_other_candidate()) {
    election_elapsed_ticks_ = 0;
    hup(config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election);
  } else if (config_.quiesce && !may_campaign && election_elapsed_ticks_ >= election_timeout_randomized_ticks_) {
    election_elapsed_ticks_ = 0;
    if (promotable()) SLUICE_COVER("raft.withheld_voter_poked_voters");
    poke_voters();
  }
}

// Long enough for a pre-candidate to collect its grants, persist its term and vote and have its
// vote requests arrive (election timeouts are many round trips), short enough that a split
// campaign retries well within one election timeout.
uint32_t Raft::pre_vote_window_ticks() const { return std::max<uint32_t>(1, config_.election_timeout_ticks / 2); }

bool Raft::backs_other_candidate() const { return pre_vote_backing_ && pre_vote_backing_->candidate != config_.id; }

void Raft::back_pre_vote(NodeId candidate, Index last_index, Term last_term) {
  if (pre_vote_backing_ && pre_vote_backing_->candidate == candidate) return;  // the window is not extended
  pre_vote_backing_ = PreVoteBacking{candidate, last_index, last_term, pre_vote_window_ticks()};
}

// Within the window only the backed candidate, or one whose log is strictly more up to date
// (it is the better leader, and the backed one may not win its votes), gets a pre-vote. A
// pre-candidate backs itself but gives its pre-vote to a competitor that outranks it: of two
// concurrent pre-candidates exactly one then collects a quorum when the others back either of
// them (the lower one has its own vote, the higher one the lower one's and its backers'). Refusing
// a pre-vote is always safe: it binds nothing; the window bounds the cost if the backed one died.
bool Raft::pre_vote_allowed_by_backing(const Message& m) const {
  if (!pre_vote_backing_ || pre_vote_backing_->candidate == m.from) return true;
  const PreVoteBacking& backed = *pre_vote_backing_;
  if (m.log_term != backed.last_term) return m.log_term > backed.last_term;
  if (m.index != backed.last_index) return m.index > backed.last_index;
  return backed.candidate == config_.id && m.term == term_ + 1 && pre_vote_rank(m.from) > pre_vote_rank(config_.id);
}

// An order of the members that both sides of a pre-vote compute alike and that changes from one
// term to the next, so that no node is always the one preferred.
uint64_t Raft::pre_vote_rank(NodeId id) const { return hash_combine(mix64(term_ + 1), id); }

// Two campaigns overlap: whichever does not win within the window retries soon (see
// back_off_split_campaign). Only a competitor for the same round counts.
void Raft::note_competing_request(const Message& m) {
  if (role_ == Role::pre_candidate && m.type == MessageType::pre_vote_request && m.term == term_ + 1) {
    campaign_contested_ = true;
  } else if (role_ == Role::candidate && m.type == MessageType::vote_request && m.term == term_) {
    campaign_contested_ = true;
  }
}

// A split vote (Raft §5.2 resolves it with the next randomized timeout, 1-2 election timeouts
// later): nobody may win this round, since every competitor keeps its own vote (or pre-vote
// backing) to itself. The vote of this term stays; the node retries after a random backoff within
// one window, by then the voters' pre-vote backing has expired, and the first retry collects it.
void Raft::back_off_split_campaign() {
  become_follower(term_, kNoNode);
  election_timeout_randomized_ticks_ =
      static_cast<uint32_t>(1 + random_below([this] { return prng_.next(); }, pre_vote_window_ticks()));
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_ticks_;
  ++election_elapsed_ticks_;
  if (election_elapsed_ticks_ >= config_.election_timeout_ticks) {
    election_elapsed_ticks_ = 0;
    if (config_.check_quorum) {
      if (!quorum_active()) {
        // Followers stop voting for others only while they hear from a leader (the lease); a
        // leader that cannot reach a quorum steps down so it stops acting on stale authority.
        emit(EventKind::stepped_down, "check-quorum: no quorum heard within an election timeout");
        become_follower(term_, kNoNode);
        return;
      }
      for (auto& [id, progress] : progress_) {
        if (id != config_.id) progress.recent_active = false;
      }
    }
    if (lead_transferee_ != kNoNode) abort_leader_transfer("target did not take over within an election timeout");
  }
  maybe_hand_over_leadership();
  if (heartbeat_elapsed_ticks_ >= config_.heartbeat_interval_ticks) {
    heartbeat_elapsed_ticks_ = 0;
    if (ready_to_quiesce()) {
      quiesce();
      return;
    }
    broadcast_heartbeat(reads_.last_context());
  }
}

// Idle: every member holds the whole log, committed (so one heartbeat tells each the commit),
// answered within this check-quorum period, and nothing waits for a round (a read, a transfer, a
// membership change, an unapplied entry). A member that is down stays recent_active = false, so
// a group with a dead member keeps heartbeating: quiet is for healthy idle groups.
bool Raft::ready_to_quiesce() const {
  if (!config_.quiesce || role_ != Role::leader || lead_transferee_ != kNoNode || reads_.size() > 0) return false;
  if (conf_change_pending() || campaign_after_apply_ || !promotable()) return false;
  const Index last = log_.last_index();
  if (log_.committed() != last || log_.applied() != last || !committed_in_current_term()) return false;
  for (const auto& [id, progress] : progress_) {
    if (id == config_.id) continue;
    if (progress.match != last || !progress.recent_active || progress.state != ProgressState::replicate) return false;
  }
  return true;
}

// The last heartbeat carries the full commit (every match is the last index) and the quiesce
// mark; followers that hold it go quiet without answering (an answer would wake the leader).
void Raft::quiesce() {
  SLUICE_COVER("raft.quiesced");
  for (const auto& [id, progress] : progress_) {
    if (id == config_.id) continue;
    send_heartbeat(id, 0, /*quiesce=*/true);
  }
  quiesced_ = true;
}

// What a quiet member may receive without waking: the quiesce heartbeat again (duplicated or
// late) from its leader, and a follower's plain heartbeat answer.
bool Raft::keeps_quiet(const Message& m) const {
  if (m.term != term_) return false;
  if (m.type == MessageType::heartbeat) return m.quiesce && role_ == Role::follower && m.from == lead_;
  return m.type == MessageType::heartbeat_response && role_ == Role::leader && !m.reject && m.context == 0;
}

// A learner never campaigns, so after a restart (or a lost quiesce heartbeat) nothing it does would
// wake a quiet leader, and it would never learn the commit the group reached while it was down
// (found by the cluster simulation: a restarted node's controller learner kept stale metadata and
// never created the replica placed on it). Hearing no leader for an election timeout, it sends
// every voter (both halves of a joint configuration) an append answer; it wakes a quiet leader,
// whose heartbeats bring the learner up to date, and elsewhere it is ignored. It claims only the
// commit index: entries past it may be an old leader's, and an acknowledgement is a claim that
// they match. A voter withholding its vote cannot campaign either, and it needs a leader of a
// later term to end the withholding: its answer carries that term, so quiet followers of the old
// leader wake into it and elect one (cluster-swarm-faults seed 278: the controller's leader lost
// the tail of its log to a bit flip and restarted while the group was quiet; the other voters,
// quiet, never timed out, and the node never learned the metadata again).
void Raft::poke_voters() {
  SLUICE_COVER("raft.learner_poked_voters");
  std::set<NodeId> voters = conf_.voters;
  voters.insert(conf_.voters_outgoing.begin(), conf_.voters_outgoing.end());
  for (NodeId voter : voters) {
    if (voter != config_.id) poke(voter);
  }
}

// "My log holds the commit index": true of any member, and a message that wakes a quiet leader.
void Raft::poke(NodeId to) {
  Message m;
  m.type = MessageType::append_response;
  m.to = to;
  m.term = term_;
  m.index = log_.committed();
  send(std::move(m));
}

// A quiet follower woken by someone other than its leader (a candidate's pre-vote, say) wakes the
// leader too: the follower's lease now runs out after one election timeout, and a quiet leader
// would not renew it, so a candidate that reaches this follower but not the leader (a partial
// partition) would collect its vote and depose a healthy leader.
void Raft::wake_by(const Message& m) {
  wake();
  if (role_ == Role::follower && lead_ != kNoNode && m.from != lead_) {
    SLUICE_COVER("raft.follower_woke_leader");
    poke(lead_);
  }
}

// Fresh timers: a follower gives its leader a whole election timeout to be heard from (its lease
// holds meanwhile); a leader demands a fresh answer from a quorum by its next check.
void Raft::wake() {
  if (!quiesced_) return;
  SLUICE_COVER("raft.woken");
  quiesced_ = false;
  election_elapsed_ticks_ = 0;
  heartbeat_elapsed_ticks_ = 0;
  if (role_ != Role::leader) return;
  for (auto& [id, progress] : progress_) {
    if (id != config_.id) progress.recent_active = false;
  }
}

bool Raft::quorum_active() const {
  std::map<NodeId, bool> active;
  for (const auto& [id, progress] : progress_) active[id] = id == config_.id || progress.recent_active;
  return vote_result(conf_, active) == VoteResult::won;
}

Status Raft::campaign() {
  wake();
  if (!promotable()) return Status(Errc::invalid_argument, "only a voter can campaign");
  if (vote_withheld_) return Status(Errc::invalid_argument, "vote withheld: the log lost entries and has not caught up");
  hup(config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election);
  return Status();
}

void Raft::hup(CampaignKind kind) {
  if (role_ == Role::leader || !promotable()) return;
  if (vote_withheld_) {  // a self-vote is a vote (transfers too: timeout_now lands here)
    SLUICE_COVER("raft.campaign_withheld");
    return;
  }
  if (has_unapplied_conf_change()) {
    SLUICE_COVER("raft.campaign_waits_for_apply");
    emit(EventKind::campaign_deferred, "committed conf change not applied yet");
    campaign_after_apply_ = kind;
    return;
  }
  start_campaign(kind);
}

// A committed conf change after the applied index may change who votes; campaigning before it
// is applied would count votes against an outdated membership.
bool Raft::has_unapplied_conf_change() const {
  Index lo = std::max(log_.applied() + 1, log_.first_index());
  const Index hi = log_.committed() + 1;
  while (lo < hi) {
    Result<std::vector<Entry>> entries = log_.slice(lo, hi, config_.apply_bytes_max);
    if (!entries.ok()) return true;  // cannot tell; do not risk it
    for (const Entry& entry : *entries) {
      if (entry.type == EntryType::conf_change && entry.index > conf_.index) return true;
    }
    lo += entries->size();
  }
  return false;
}

void Raft::start_campaign(CampaignKind kind) {
  MessageType type = MessageType::vote_request;
  Term campaign_term = 0;
  if (election_timeout_randomized_ticks_ < config_.election_timeout_ticks) randomize_election_timeout();  // the backoff was for one retry
  if (kind == CampaignKind::pre_vote) {
    become_pre_candidate();
    back_pre_vote(config_.id, log_.last_index(), log_.last_term());
    type = MessageType::pre_vote_request;
    campaign_term = term_ + 1;
  } else {
    become_candidate();
    campaign_term = term_;
  }
  votes_[config_.id] = true;
  if (vote_result(conf_, votes_) == VoteResult::won) {
    // A single-voter group wins at once.
    if (kind == CampaignKind::pre_vote) {
      start_campaign(CampaignKind::election);
    } else {
      become_leader();
    }
    return;
  }
  std::set<NodeId> voters = conf_.voters;
  voters.insert(conf_.voters_outgoing.begin(), conf_.voters_outgoing.end());
  for (NodeId id : voters) {
    if (id != config_.id) send_vote_request(id, type, campaign_term, kind == CampaignKind::transfer);
  }
}

void Raft::send_vote_request(NodeId to, MessageType type, Term term, bool transfer) {
  Message m;
  m.type = type;
  m.to = to;
  m.term = term;
  m.index = log_.last_index();
  m.log_term = log_.last_term();
  m.transfer = transfer;
  stamp_commit(m);
  send(std::move(m));
}

// A pre-vote request that arrived during our leader lease was put aside; once the lease is over
// it gets the answer it would get now. The pre-candidate timed out on the same leader's last
// heartbeat as we did, so our lease usually ends within a tick or two of its request: dropping
// the request would make it wait a whole election timeout for a voter that says yes a tick later.
void Raft::answer_deferred_pre_votes() {
  if (pre_votes_deferred_.empty() || in_lease()) return;
  SLUICE_COVER("raft.pre_votes_answered_after_lease");
  std::map<NodeId, Message> deferred = std::exchange(pre_votes_deferred_, {});
  // A stale answer is harmless: a pre-candidate counts only responses for its current round.
  for (const auto& [from, request] : deferred) step(request);
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::pre_vote_request;
  // We may vote again for the node we already voted for (a retried request); otherwise only if
  // we have neither voted nor follow a leader in this term. A pre-vote is for a future term.
  const bool free_to_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) || (pre_vote && m.term > term_);
  const bool can_vote = free_to_vote && (!pre_vote || pre_vote_allowed_by_backing(m));
  Message response = reply(pre_vote ? MessageType::pre_vote_response : MessageType::vote_response, m);
  if (vote_withheld_) {
    response.reject = true;
    note_vote(m, VoteOutcome::refused, VoteRefusal::vote_withheld);
  } else if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // The response carries the candidate's term so that it counts there (a granted pre-vote
    // is for term + 1, which we have not moved to).
    response.term = m.term;
    if (pre_vote) {
      back_pre_vote(m.from, m.index, m.log_term);
    } else {
      election_elapsed_ticks_ = 0;
      vote_ = m.from;
    }
  } else {
    response.reject = true;
    note_vote_refusal(m, free_to_vote, can_vote);
  }
  note_competing_request(m);
  stamp_commit(response);
  send(std::move(response));
}

// Why handle_vote_request refused: the first of its conditions that failed.
void Raft::note_vote_refusal(const Message& m, bool free_to_vote, bool can_vote) {
  if (!free_to_vote) {
    const bool voted = vote_ != kNoNode;
    note_vote(m, VoteOutcome::refused, voted ? VoteRefusal::already_voted : VoteRefusal::has_leader, voted ? vote_ : lead_);
  } else if (!can_vote) {
    const NodeId backed = pre_vote_backing_ ? pre_vote_backing_->candidate : kNoNode;
    note_vote(m, VoteOutcome::refused, VoteRefusal::pre_vote_backing, backed == config_.id ? kNoNode : backed);
  } else {
    note_vote(m, VoteOutcome::refused, VoteRefusal::log_behind);
  }
}

void Raft::handle_vote_response(const Message& m) {
  const bool pre_vote = role_ == Role::pre_candidate;
  if (m.type != (pre_vote ? MessageType::pre_vote_response : MessageType::vote_response)) return;
  votes_.emplace(m.from, !m.reject);  // the first answer of each voter counts
  switch (vote_result(conf_, votes_)) {
    case VoteResult::won:
      if (pre_vote) {
        start_campaign(CampaignKind::election);
      } else {
        become_leader();
        broadcast_append();
      }
      break;
    case VoteResult::lost:
      become_follower(term_, kNoNode);
      break;
    case VoteResult::pending:
      break;
  }
}

Status Raft::transfer_leadership(NodeId target) {
  wake();
  if (role_ != Role::leader) return Status(Errc::not_leader, "leader is " + std::to_string(lead_));
  if (target == config_.id) return Status();
  auto it = progress_.find(target);
  if (it == progress_.end() || !conf_.is_voter(target)) {
    return Status(Errc::invalid_argument, "transfer target " + std::to_string(target) + " is not a voter");
  }
  if (lead_transferee_ == target) return Status();
  if (lead_transferee_ != kNoNode) abort_leader_transfer("superseded by a transfer to " + std::to_string(target));
  lead_transferee_ = target;
  // The transfer must finish within one election timeout, counted from now.
  election_elapsed_ticks_ = 0;
  if (it->second.match == log_.last_index()) {
    send_timeout_now(target);
  } else {
    maybe_send_append(target, true);
  }
  return Status();
}

void Raft::send_timeout_now(NodeId to) {
  Message m;
  m.type = MessageType::timeout_now;
  m.to = to;
  m.term = term_;
  send(std::move(m));
}

void Raft::abort_leader_transfer(const std::string& why) {
  emit(EventKind::leader_transfer_aborted, "to " + std::to_string(lead_transferee_) + ": " + why);
  lead_transferee_ = kNoNode;
}

}  // namespace sluice::raft
