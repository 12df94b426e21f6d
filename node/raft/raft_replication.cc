// Log replication: proposals, appends with flow control, commit, the follower side of appends
// and heartbeats, and the log-start jump for followers behind the leader's log start.
#include <algorithm>

#include "node/base/coverage.h"
#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace sluice::raft {

Status Raft::propose(EntryType type, Bytes data) {
  wake();
  if (role_ != Role::leader) return Status(Errc::not_leader, "leader is " + std::to_string(lead_));
  if (lead_transferee_ != kNoNode) {
    return Status(Errc::leader_transfer_pending, "leadership is moving to " + std::to_string(lead_transferee_));
  }
  Entry entry;
  entry.type = type;
  entry.data = std::move(data);
  SLUICE_TRY(append_entries({std::move(entry)}));
  broadcast_append();
  return Status();
}

// Leader only: stamps term and index and appends. The leader counts itself for these entries only
// once they are durable (after_advance), so the commit index never runs ahead of what a quorum
// holds durably, even when the leader alone is a quorum. Messages follow from broadcast_append().
Status Raft::append_entries(std::vector<Entry> entries) {
  uint64_t bytes = 0;
  for (const Entry& entry : entries) bytes += entry_bytes(entry);
  // One proposal always fits into an empty tail, however large, so progress is never blocked.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + bytes > config_.uncommitted_bytes_max) {
    return Status(Errc::uncommitted_too_large, std::to_string(uncommitted_bytes_) + " bytes not committed yet");
  }
  Index index = log_.last_index();
  for (Entry& entry : entries) {
    entry.term = term_;
    entry.index = ++index;
  }
  uncommitted_bytes_ += bytes;
  log_.append(entries);
  return Status();
}

void Raft::release_uncommitted(const std::vector<Entry>& entries) {
  if (role_ != Role::leader) return;
  uint64_t bytes = 0;
  for (const Entry& entry : entries) {
    if (entry.term == term_) bytes += entry_bytes(entry);
  }
  uncommitted_bytes_ -= std::min(bytes, uncommitted_bytes_);
}

bool Raft::maybe_commit() {
  std::map<NodeId, Index> acked;
  for (const auto& [id, progress] : progress_) acked[id] = progress.match;
  const Index index = committed_index(conf_, acked);
  const bool first_of_term = !committed_in_current_term();
  if (config_.planted_bug == PlantedBug::raft_commit_previous_term && index > log_.committed()) {
    log_.commit_to(index);  // planted: a replica count commits an earlier term's entry too
  } else if (!log_.maybe_commit(index, term_)) {
    return false;
  }
  if (first_of_term && committed_in_current_term()) on_first_commit_of_term();
  return true;
}

bool Raft::maybe_send_append(NodeId to, bool send_if_empty) {
  Progress& progress = progress_.at(to);
  if (progress.paused()) return false;
  const Index prev = progress.next - 1;
  Result<Term> prev_term = log_.term(prev);
  if (!prev_term.ok()) {
    // Below our log start: the follower needs entries retention removed.
    if (prev_term.code() == Errc::compacted) return send_log_start_jump(to, progress);
    return false;  // storage trouble: retried on the next heartbeat answer
  }
  std::vector<Entry> entries;
  if (progress.next <= log_.last_index()) {
    // A probe only looks for where the follower's log matches and is often refused, and every
    // heartbeat answer from a probed follower sends one: it carries one entry (a byte budget of
    // 0 still yields the first), not append_bytes_max read from storage each time. Found by the
    // partitions-retention sweep, seed 125: a leader spent 80 ms of disk reads on each of 1700
    // queued heartbeat answers from a lagging follower and starved every group of its node.
    const uint64_t bytes_max = progress.state == ProgressState::probe ? 0 : config_.append_bytes_max;
    Result<std::vector<Entry>> found = log_.slice(progress.next, log_.last_index() + 1, bytes_max);
    if (!found.ok()) {
      if (found.code() == Errc::compacted) return send_log_start_jump(to, progress);
      return false;
    }
    entries = std::move(found).value();
  }
  if (entries.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::append;
  m.to = to;
  m.term = term_;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (!entries.empty()) {
    uint64_t bytes = 0;
    for (const Entry& entry : entries) bytes += entry_bytes(entry);
    progress.sent_entries(entries.back().index, bytes);
  } else if (progress.state == ProgressState::probe) {
    progress.probe_sent = true;
  }
  m.entries = std::move(entries);
  send(std::move(m));
  return true;
}

// The jump target is the log base, with the membership in force there (the storage keeps it like
// a snapshot's metadata): the follower's log then starts exactly where ours does, and membership
// changes after the base reach it as entries.
bool Raft::send_log_start_jump(NodeId to, Progress& progress) {
  const Index index = log_.first_index() - 1;
  SLUICE_ASSERT_LE(index, log_.committed());
  Result<Term> term = log_.term(index);
  if (!term.ok()) return false;
  Message m;
  m.type = MessageType::log_start_jump;
  m.to = to;
  m.term = term_;
  m.index = index;
  m.log_term = *term;
  m.commit = log_.committed();
  m.conf_state = log_.storage().base_conf_state();
  SLUICE_ASSERT_LE(m.conf_state.index, index);
  progress.become_jump(index);
  emit(EventKind::log_start_jump_sent, "to " + std::to_string(to) + " after " + std::to_string(index));
  send(std::move(m));
  return true;
}

void Raft::broadcast_append() {
  for (const auto& [id, progress] : progress_) {
    if (id != config_.id) maybe_send_append(id, true);
  }
}

void Raft::send_heartbeat(NodeId to, uint64_t context, bool quiesce) {
  Message m;
  m.type = MessageType::heartbeat;
  m.to = to;
  m.term = term_;
  // Never more than the follower is known to hold: its log beyond match may still diverge. The
  // term lets the follower commit only an entry it holds as ours (see handle_heartbeat).
  m.commit = std::min(progress_.at(to).match, log_.committed());
  Result<Term> commit_term = log_.term(m.commit);
  if (!commit_term.ok()) m.commit = 0;  // compacted: appends or a jump carry the commit instead
  m.commit_term = commit_term.ok() ? *commit_term : 0;
  m.context = context;
  m.quiesce = quiesce;
  send(std::move(m));
}

void Raft::broadcast_heartbeat(uint64_t context) {
  for (const auto& [id, progress] : progress_) {
    if (id != config_.id) send_heartbeat(id, context);
  }
}

void Raft::handle_append(const Message& m) {
  Message response = reply(MessageType::append_response, m);
  if (m.index < log_.committed()) {
    // Old news: everything up to our commit index matches the leader's log anyway.
    response.index = log_.committed();
    send(std::move(response));
    return;
  }
  if (std::optional<Index> last = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    response.index = *last;
    send(std::move(response));
    return;
  }
  // The hint lets the leader skip every entry of a term we cannot match in one round trip.
  const auto [hint_index, hint_term] = log_.find_conflict_by_term(std::min(m.index, log_.last_index()), m.log_term);
  response.reject = true;
  response.index = m.index;
  response.reject_hint_index = hint_index;
  response.reject_hint_term = hint_term;
  send(std::move(response));
}

// The leader sends the commit index up to what it believes we hold. We commit it only if we hold
// that entry with its term: a replica whose data was deleted and created afresh under the same
// node id (moved away and back), or cut short by recovery from corruption, holds less than the
// leader remembers, and a stale leader may have filled it with entries that never committed.
// Holding less, we say where our log ends, so the leader sends from there again.
void Raft::handle_heartbeat(const Message& m) {
  Message response = reply(MessageType::heartbeat_response, m);
  response.context = m.context;
  if (m.commit > log_.last_index()) {
    SLUICE_COVER("raft.heartbeat_beyond_log");
    emit(EventKind::log_shorter_than_leader_knows,
         "leader's commit " + std::to_string(m.commit) + " beyond our last " + std::to_string(log_.last_index()));
    response.reject = true;
    response.index = log_.last_index();
  } else if (log_.match_term(m.commit, m.commit_term)) {
    log_.commit_to(m.commit);
    // The leader went quiet with this commit as its whole log: holding it, go quiet too, without
    // an answer (it would wake the leader). Otherwise answer: the leader stays quiet, and this
    // follower's election timer (still running) wakes the group if it never hears more.
    if (m.quiesce && config_.quiesce && log_.committed() == m.commit && m.context == 0) {
      SLUICE_COVER("raft.follower_quiesced");
      quiesced_ = true;
      return;
    }
  }
  send(std::move(response));
}

void Raft::handle_log_start_jump(const Message& m) {
  Message response = reply(MessageType::append_response, m);
  if (m.index <= log_.committed()) {
    response.index = log_.committed();
  } else if (log_.match_term(m.index, m.log_term)) {
    // We hold the entry already, so our log matches the leader's up to there: no need to
    // discard anything, just learn that it is committed.
    log_.commit_to(m.index);
    response.index = m.index;
  } else {
    SLUICE_COVER("raft.log_start_jump_applied");
    log_.restore(LogStartJump{m.index, m.log_term, m.conf_state, m.app_state});
    switch_to_conf(m.conf_state);
    emit(EventKind::log_start_jump_applied, "log restarts after " + std::to_string(m.index));
    response.index = m.index;
  }
  send(std::move(response));
}

void Raft::handle_append_response(const Message& m, Progress& progress) {
  progress.recent_active = true;
  if (m.reject) {
    Index hint = m.reject_hint_index;
    // The follower's hint term tells us where our own log can first match it.
    if (m.reject_hint_term > 0) {
      SLUICE_COVER("raft.append_rejected_with_term_hint");
      hint = log_.find_conflict_by_term(m.reject_hint_index, m.reject_hint_term).first;
    }
    if (progress.maybe_decrease_to(m.index, hint)) {
      if (progress.state == ProgressState::replicate) progress.become_probe();
      maybe_send_append(m.from, true);
    }
    return;
  }
  const bool was_paused = progress.paused();
  const bool probe_answered = progress.state == ProgressState::probe && progress.match == m.index;
  if (!progress.maybe_update(m.index) && !probe_answered) return;
  switch (progress.state) {
    case ProgressState::probe:
      progress.become_replicate();
      break;
    case ProgressState::jump:
      if (progress.match + 1 >= log_.first_index()) progress.become_replicate();
      break;
    case ProgressState::replicate:
      progress.inflights.free_le(m.index);
      break;
  }
  const bool committed = maybe_commit();
  if (committed && !config_.lazy_commit) {
    broadcast_append();  // carries the new commit index to everyone
  } else if (was_paused) {
    maybe_send_append(m.from, true);
  }
  // Pipeline: send as much as flow control allows.
  while (maybe_send_append(m.from, false)) {
  }
  if (m.from == lead_transferee_ && progress.match == log_.last_index()) send_timeout_now(m.from);
}

void Raft::handle_heartbeat_response(const Message& m, Progress& progress) {
  progress.recent_active = true;
  progress.probe_sent = false;
  // The follower holds less than we knew it to (its data was lost or deleted): replicate from
  // where its log ends. A late answer only costs a probe: the follower answers with its commit.
  if (m.reject && m.index < progress.match) {
    SLUICE_COVER("raft.follower_log_lost");
    emit(EventKind::follower_log_lost,
         "node " + std::to_string(m.from) + " holds " + std::to_string(m.index) + " of matched " + std::to_string(progress.match));
    progress.forget_match(m.index);
  }
  // The jump or its answer may have been lost; probing after the jump point finds out.
  if (progress.state == ProgressState::jump) progress.become_probe();
  // An append or its answer may have been lost; free one slot so the pipeline moves again.
  if (progress.state == ProgressState::replicate && progress.inflights.full()) progress.inflights.free_first_one();
  if (progress.match < log_.last_index() || progress.state == ProgressState::probe) maybe_send_append(m.from, true);
  if (m.context != 0) handle_read_ack(m);
}

}  // namespace sluice::raft
