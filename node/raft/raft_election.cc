// Timers, pre-vote and elections, check-quorum, leader transfer.
#include <set>

#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace sluice::raft {

void Raft::tick() {
  if (role_ == Role::leader) {
    tick_heartbeat();
  } else {
    tick_election();
  }
}

void Raft::tick_election() {
  ++election_elapsed_ticks_;
  if (promotable() && election_elapsed_ticks_ >= election_timeout_randomized_ticks_) {
    election_elapsed_ticks_ = 0;
    hup(config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election);
  }
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
    broadcast_heartbeat(reads_.last_context());
  }
}

bool Raft::quorum_active() const {
  std::map<NodeId, bool> active;
  for (const auto& [id, progress] : progress_) active[id] = id == config_.id || progress.recent_active;
  return vote_result(conf_, active) == VoteResult::won;
}

Status Raft::campaign() {
  if (!promotable()) return Status(Errc::invalid_argument, "only a voter can campaign");
  hup(config_.pre_vote ? CampaignKind::pre_vote : CampaignKind::election);
  return Status();
}

void Raft::hup(CampaignKind kind) {
  if (role_ == Role::leader || !promotable()) return;
  if (has_unapplied_conf_change()) {
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
  if (kind == CampaignKind::pre_vote) {
    become_pre_candidate();
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
    if (id == config_.id) continue;
    Message m;
    m.type = type;
    m.to = id;
    m.term = campaign_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = kind == CampaignKind::transfer;
    stamp_commit(m);
    send(std::move(m));
  }
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::pre_vote_request;
  // We may vote again for the node we already voted for (a retried request); otherwise only if
  // we have neither voted nor follow a leader in this term. A pre-vote is for a future term.
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) || (pre_vote && m.term > term_);
  Message response = reply(pre_vote ? MessageType::pre_vote_response : MessageType::vote_response, m);
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // The response carries the candidate's term so that it counts there (a granted pre-vote
    // is for term + 1, which we have not moved to).
    response.term = m.term;
    if (!pre_vote) {
      election_elapsed_ticks_ = 0;
      vote_ = m.from;
    }
  } else {
    response.reject = true;
  }
  stamp_commit(response);
  send(std::move(response));
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
