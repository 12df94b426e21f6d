// Membership changes: proposing one (one at a time), applying a committed one, and keeping the
// progress table in step with the configuration.
#include "node/raft/raft.h"

namespace sluice::raft {

Status Raft::propose_conf_change(const ConfChange& change) {
  wake();
  if (role_ != Role::leader) return Status(Errc::not_leader, "leader is " + std::to_string(lead_));
  if (pending_conf_index_ > log_.applied()) {
    return Status(Errc::conf_change_pending, "conf change at " + std::to_string(pending_conf_index_) + " not applied yet");
  }
  if (change.items.size() > kConfChangeItemsMax) return Status(Errc::invalid_conf_change, "too many items");
  // No conf change is unapplied, so conf_ is the membership the change will meet when applied.
  Result<ConfState> result = apply_conf_change(conf_, change);
  if (!result.ok()) return result.status();
  for (const ConfChangeItem& item : change.items) {
    if (item.type != ConfChangeType::add_voter || !conf_.is_learner(item.node)) continue;
    const Index match = progress_.at(item.node).match;
    // Also below the membership's own entry: a learner holding nothing passes the lag bound while
    // the whole log is shorter than it (cluster-swarm seed 1425, docs/controller.md "Moves").
    if (match < conf_.index || match + config_.learner_promotion_lag_entries_max < log_.last_index()) {
      return Status(Errc::learner_not_caught_up,
                    "learner " + std::to_string(item.node) + " has " + std::to_string(match) + " of " +
                        std::to_string(log_.last_index()));
    }
  }
  SLUICE_TRY(propose(EntryType::conf_change, encode_conf_change_entry(ConfChangeEntry{change, *result})));
  pending_conf_index_ = log_.last_index();
  return Status();
}

void Raft::apply_committed_entry(const Entry& entry) {
  // At or below conf_.index the membership already reflects the entry (it came with a jump).
  if (entry.type != EntryType::conf_change || entry.index <= conf_.index) return;
  Result<ConfChangeEntry> decoded = decode_conf_change_entry(entry.data);
  if (!decoded.ok()) {
    // Every member holds the same bytes, so every member skips the entry alike.
    emit(EventKind::conf_change_skipped, "entry " + std::to_string(entry.index) + ": " + decoded.status().to_string());
    return;
  }
  ConfState next = std::move(decoded->result);
  next.index = entry.index;
  switch_to_conf(next);
  emit(EventKind::conf_change_applied, to_string(conf_));
}

void Raft::after_advance() {
  if (campaign_after_apply_) {
    const CampaignKind kind = *campaign_after_apply_;
    campaign_after_apply_.reset();
    hup(kind);
  }
  if (role_ != Role::leader) return;
  Progress& self = progress_.at(config_.id);
  if (self.maybe_update(log_.durable_index()) && maybe_commit() && !config_.lazy_commit) broadcast_append();
  if (!conf_.joint() || !conf_.auto_leave) return;
  if (pending_conf_index_ > log_.applied()) return;
  // Failing here (transfer in progress, tail full) is retried after the next advance.
  const Status proposed = propose_conf_change(ConfChange{});
  (void)proposed;
}

void Raft::switch_to_conf(const ConfState& conf) {
  conf_ = conf;
  std::set<NodeId> nodes = conf_.all_nodes();
  // A leader that left the voters keeps its own progress while it still leads (below).
  if (role_ == Role::leader) nodes.insert(config_.id);
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = nodes.count(it->first) > 0 ? std::next(it) : progress_.erase(it);
  }
  std::set<NodeId> added;
  for (NodeId id : nodes) {
    auto [it, fresh] =
        progress_.try_emplace(id, log_.last_index() + 1, config_.inflight_msgs_max, config_.inflight_bytes_max);
    if (fresh) added.insert(id);
    // learners_next still vote in the outgoing half until the joint configuration is left.
    it->second.is_learner = !conf_.is_voter(id);
  }
  if ((role_ == Role::candidate || role_ == Role::pre_candidate) && !conf_.is_voter(config_.id)) {
    become_follower(term_, kNoNode);  // no longer entitled to campaign
    return;
  }
  if (role_ != Role::leader) return;
  if (!conf_.is_voter(config_.id)) emit(EventKind::removed_from_voters, "handing leadership over");
  if (lead_transferee_ != kNoNode && !conf_.is_voter(lead_transferee_)) {
    abort_leader_transfer("target left the voters");
  }
  // The quorum changed, so the commit index may move. New members are probed at once rather
  // than at the next heartbeat, so they start catching up.
  if (maybe_commit()) {
    broadcast_append();
  } else {
    for (const auto& [id, progress] : progress_) {
      if (id != config_.id) maybe_send_append(id, added.count(id) > 0);
    }
  }
  maybe_hand_over_leadership();
}

// A leader proposes a conf change only after applying every earlier one, so a conf-change
// entry followed by another one in the log is committed (the log equals the proposer's up to the
// later one). Normally the commit index persisted with the entries already says so; this also
// covers a driver that made entries durable before the hard state and crashed in between, so a
// node never campaigns with a membership more than one change behind (etcd issue 7625).
void Raft::commit_superseded_conf_changes() {
  Index lo = log_.committed() + 1;
  const Index hi = log_.last_index() + 1;
  Index previous = 0;  // the last conf change seen so far
  Index superseded = 0;
  while (lo < hi) {
    Result<std::vector<Entry>> entries = log_.slice(lo, hi, config_.apply_bytes_max);
    if (!entries.ok()) return;
    for (const Entry& entry : *entries) {
      if (entry.type != EntryType::conf_change) continue;
      if (previous != 0) superseded = previous;
      previous = entry.index;
    }
    lo += entries->size();
  }
  log_.commit_to(superseded);
}

// A leader that is no longer a voter keeps leading, without counting itself, until a voter takes
// over: stepping down at once could strand the voters, since none of them may know yet that the
// change is committed, and a voter that does not know still needs the old leader's vote, which
// the old leader (with the longer log) would refuse. It hands over to the most up-to-date voter
// through a leader transfer, retried every tick until one succeeds (thesis §4.2.2).
void Raft::maybe_hand_over_leadership() {
  if (role_ != Role::leader || conf_.is_voter(config_.id) || lead_transferee_ != kNoNode) return;
  NodeId best = kNoNode;
  Index best_match = 0;
  for (const auto& [id, progress] : progress_) {
    if (id == config_.id || !conf_.is_voter(id)) continue;
    if (best == kNoNode || progress.match > best_match) {
      best = id;
      best_match = progress.match;
    }
  }
  if (best != kNoNode) (void)transfer_leadership(best);
}

}  // namespace sluice::raft
