#include "sim/checkers/raft_safety.h"

#include <algorithm>

#include "node/base/coverage.h"
#include "node/base/hash.h"

namespace sluice::checkers {

using raft::Entry;
using raft::Index;
using raft::NodeId;
using raft::Term;

namespace {

// A restart reads the recovered log in chunks of about this much payload.
constexpr uint64_t kRecoveryReadBytesMax = 1 << 20;

std::string at(GroupId group, NodeId node) {
  return "group " + std::to_string(group) + " node " + std::to_string(node);
}

std::string entry_name(Index index, Term term) {
  return "index " + std::to_string(index) + " term " + std::to_string(term);
}

}  // namespace

RaftSafety::Signature RaftSafety::signature(const Entry& entry) { return Signature{entry.type, hash_bytes(entry.data)}; }

void RaftSafety::fail(std::string message) {
  if (!violation_) violation_ = std::move(message);
}

RaftSafety::Replica* RaftSafety::replica(GroupId group, NodeId node, const char* call) {
  Group& g = groups_[group];
  auto it = g.replicas.find(node);
  if (it == g.replicas.end()) {
    fail(std::string("checker feed: ") + call + " for " + at(group, node) + " before started()");
    return nullptr;
  }
  return &it->second;
}

Index RaftSafety::committed_max(GroupId group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second.committed_max;
}

std::vector<NodeId> RaftSafety::group_leaders() const {
  std::vector<NodeId> out;
  for (const auto& [id, g] : groups_) {
    std::optional<std::pair<Term, NodeId>> latest;
    for (const auto& [node, term] : g.leaders) {
      auto replica = g.replicas.find(node);
      if (replica == g.replicas.end() || !replica->second.up) continue;
      if (!latest || term > latest->first) latest = std::pair(term, node);
    }
    if (latest) out.push_back(latest->second);
  }
  return out;
}

void RaftSafety::register_entry(GroupId group, NodeId node, const Entry& entry, Term prev_term, bool durable) {
  Group& g = groups_[group];
  const uint64_t incarnation = g.replicas.at(node).incarnation;
  const Record fresh{signature(entry), prev_term, durable, node, incarnation};
  auto [it, inserted] = g.entries.try_emplace({entry.index, entry.term}, fresh);
  if (inserted) return;
  Record& known = it->second;
  if (known.signature == fresh.signature && known.prev_term == prev_term) {
    known.durable = known.durable || durable;
    return;
  }
  // A sole voter may win a term, append, crash before anything of it is durable and win the same
  // term again with another entry there: the first one never left the dead incarnation.
  if (!known.durable && known.origin == node && known.origin_incarnation != incarnation) {
    known = fresh;
    return;
  }
  fail("log matching: group " + std::to_string(group) + " " + entry_name(entry.index, entry.term) + ": node " +
       std::to_string(node) + " holds " + std::string(raft::to_string(entry.type)) + " #" +
       std::to_string(fresh.signature.payload_hash % 100000) + " after term " + std::to_string(prev_term) + ", node " +
       std::to_string(known.origin) + " held " + std::string(raft::to_string(known.signature.type)) + " #" +
       std::to_string(known.signature.payload_hash % 100000) + " after term " + std::to_string(known.prev_term));
}

// `entries` continue `log` (before it takes them): the first one's predecessor is in `log`.
void RaftSafety::register_entries(GroupId group, NodeId node, const TermLog& log, std::span<const Entry> entries,
                                  bool durable) {
  if (entries.empty()) return;
  Term prev = log.term_at(entries.front().index - 1);
  for (const Entry& entry : entries) {
    register_entry(group, node, entry, prev, durable);
    prev = entry.term;
  }
}

void RaftSafety::start(GroupId group, NodeId node, raft::RaftLogStorage& storage, bool check) {
  const raft::InitialState state = storage.initial_state();
  const Index first = storage.first_index();
  const Index last = storage.last_index();
  raft::Result<Term> base = storage.term(first - 1);
  if (!base.ok()) return fail("checker feed: " + at(group, node) + " storage has no term at its base " + std::to_string(first - 1));
  Group& g = groups_[group];
  auto [it, fresh] = g.replicas.try_emplace(node);
  Replica& r = it->second;
  const Replica before = r;
  r.incarnation = incarnations_[node];
  TermLog recovered(first - 1, *base);
  for (Index lo = first; lo <= last;) {
    raft::Result<std::vector<Entry>> chunk = storage.entries(lo, last + 1, kRecoveryReadBytesMax);
    if (!chunk.ok() && chunk.code() == raft::Errc::invalid_state) {
      // Damage that appeared after the storage's open checked every batch (a bit flipped on the
      // disk of a replica starting up; cluster-corruption-minority seed 23 after the state-file
      // copies changed its draws): the product meets it at its next read, fails the group and
      // reopens it, which cuts the log with the vote withheld (then this is called again). Until
      // then the terms, which the storage holds in memory, are the log; the entries' payloads
      // were registered when they were appended.
      SLUICE_COVER("checkers.raft_safety.start_read_damaged");
      for (; lo <= last; ++lo) {
        raft::Result<Term> term = storage.term(lo);
        if (!term.ok()) return fail("checker feed: " + at(group, node) + " storage has no term at " + std::to_string(lo));
        recovered.append(lo, *term);
      }
      break;
    }
    if (!chunk.ok() || chunk->empty()) {
      return fail("checker feed: " + at(group, node) + " storage unreadable at " + std::to_string(lo) +
                  (chunk.ok() ? std::string(": no entry") : ": " + chunk.status().to_string()));
    }
    std::span<const Entry> entries(*chunk);
    register_entries(group, node, recovered, entries, /*durable=*/true);
    recovered.truncate_and_append(entries);
    lo += chunk->size();
  }
  if (!fresh && check) check_restart(group, node, before, state, recovered);
  if (fresh && check) check_recreated(group, node, state.hard_state);
  if (!check) {  // replaced by hand: what it acknowledged before is not held against the new storage
    r.acked_index = 0;
    r.acked_entry_term = 0;
    r.acked_in_term = 0;
  }
  r.up = true;
  r.durable = recovered;
  r.hard = state.hard_state;
  r.log = recovered;
  r.log_rewritten = false;
  r.leading = false;
  r.term = state.hard_state.term;
  // Its log up to here still equals the committed entries (check_restart made sure).
  r.commit_checked = std::min(r.commit_checked, recovered.last());
  r.applied = 0;
  g.leaders.erase(node);
}

// What was durable before the crash must be found again.
void RaftSafety::check_restart(GroupId group, NodeId node, const Replica& before, const raft::InitialState& state,
                               const TermLog& recovered) {
  const raft::HardState& hard = state.hard_state;
  if (hard.term < before.hard.term) {
    return fail("durability: " + at(group, node) + " restarted at term " + std::to_string(hard.term) +
                ", below its durable term " + std::to_string(before.hard.term));
  }
  if (hard.term == before.hard.term && before.hard.vote != raft::kNoNode && hard.vote != before.hard.vote) {
    return fail("durability: " + at(group, node) + " restarted with a vote for " + std::to_string(hard.vote) + " in term " +
                std::to_string(hard.term) + ", having durably voted for " + std::to_string(before.hard.vote));
  }
  // A replica that restarts with its vote withheld declares that its log lost entries (storage cut
  // damaged data off, docs/raft.md "Withheld vote"): its log is not held to what it acknowledged or
  // held before. What that loss could break (an election without a committed entry) is what the
  // other checks watch.
  if (hard.vote_withheld) return;
  // Within the term it acknowledged in, a follower only ever appends what that leader sends.
  if (hard.term == before.acked_in_term && before.acked_index + 1 >= recovered.first() &&
      (!recovered.holds(before.acked_index) || recovered.term_at(before.acked_index) != before.acked_entry_term)) {
    return fail("durability: " + at(group, node) + " lost " + entry_name(before.acked_index, before.acked_entry_term) +
                ", which it acknowledged in term " + std::to_string(before.acked_in_term) + ", in a crash");
  }
  const TermLog& old = before.durable;
  const Index differs = old.first_difference(recovered, std::max(old.first(), recovered.first()));
  const Group& g = groups_.at(group);
  for (auto c = g.committed.lower_bound(differs); c != g.committed.end() && c->first <= old.last(); ++c) {
    if (c->first < old.first() || old.term_at(c->first) != c->second.term) continue;  // it held another entry there
    if (c->first < recovered.first()) continue;                                      // removed by retention
    return fail("durability: " + at(group, node) + " lost committed " + entry_name(c->first, c->second.term) +
                " in a crash (its log now ends at " + std::to_string(recovered.last()) + ")");
  }
}

void RaftSafety::persisted(GroupId group, NodeId node, const raft::Ready& ready) {
  Replica* r = replica(group, node, "persisted");
  if (r == nullptr) return;
  if (!r->up) return fail("checker feed: persisted for crashed " + at(group, node));
  if (const auto& jump = ready.log_start_jump) {
    r->durable.reset(jump->index, jump->term);
    // observe() may have followed the core through the jump already.
    if (r->log.first() != jump->index + 1 || r->log.term_at(jump->index) != jump->term) {
      r->log_rewritten = r->log.reset(jump->index, jump->term) || r->log_rewritten;
    }
  }
  if (!ready.entries.empty()) {
    const Index from = ready.entries.front().index;
    for (const TermLog* log : {&r->durable, &r->log}) {
      if (from < log->first() || from > log->last() + 1) {
        return fail("checker feed: " + at(group, node) + " persisted entries from " + std::to_string(from) +
                    ", not continuing its log [" + std::to_string(log->first()) + ", " + std::to_string(log->last()) + "]");
      }
    }
    register_entries(group, node, r->durable, ready.entries, /*durable=*/true);
    r->durable.truncate_and_append(ready.entries);
    r->log_rewritten = r->log.truncate_and_append(ready.entries) || r->log_rewritten;
  }
  if (ready.hard_state) {
    if (ready.hard_state->term < r->hard.term) {
      fail("driver contract: " + at(group, node) + " persisted term " + std::to_string(ready.hard_state->term) +
           " below its durable term " + std::to_string(r->hard.term));
    }
    r->hard = *ready.hard_state;
  }
}

void RaftSafety::sent(GroupId group, NodeId node, std::span<const raft::Message> messages) {
  Replica* r = replica(group, node, "sent");
  if (r == nullptr) return;
  if (!r->up) return fail("checker feed: sent for crashed " + at(group, node));
  for (const raft::Message& m : messages) check_message(group, node, *r, m);
}

// Everything a message claims about its sender must survive the sender's crash. A vote or an
// acknowledgement of an older term may leave after the node moved on within the same Ready (its
// log may even have dropped the acknowledged entries since): what it granted then was true then,
// and the newer term it persisted keeps it from granting anything else in the older one.
void RaftSafety::check_message(GroupId group, NodeId node, Replica& r, const raft::Message& m) {
  using raft::MessageType;
  // Pre-votes speak of a term nobody holds yet, and change nothing.
  if (m.type == MessageType::pre_vote_request || m.type == MessageType::pre_vote_response || m.term == 0) return;
  const std::string what = at(group, node) + " sent " + std::string(raft::to_string(m.type)) + " to " + std::to_string(m.to) +
                           " at term " + std::to_string(m.term);
  if (m.term > r.hard.term) return fail("durability: " + what + " before that term was durable (durable term " + std::to_string(r.hard.term) + ")");
  if (m.term < r.hard.term || m.reject) return;
  if (m.type == MessageType::vote_response && r.hard.vote != m.to) {
    return fail("durability: " + what + " granting its vote before the vote was durable (durable: vote for " +
                std::to_string(r.hard.vote) + ")");
  }
  if (m.type == MessageType::vote_response) {
    auto [vote, first] = groups_[group].votes.try_emplace({node, m.term}, m.to);
    if (!first && vote->second != m.to) {
      return fail("election safety: " + at(group, node) + " granted its vote in term " + std::to_string(m.term) + " to " +
                  std::to_string(vote->second) + " and then to " + std::to_string(m.to) +
                  " (a replica deleted and created again that forgot its term?)");
    }
  }
  if (m.type != MessageType::append_response) return;
  if (m.index > r.durable.last()) {
    return fail("durability: " + what + " acknowledging index " + std::to_string(m.index) +
                " before it was durable (durable log ends at " + std::to_string(r.durable.last()) + ")");
  }
  if (m.index + 1 >= r.durable.first()) {
    r.acked_index = m.index;
    r.acked_entry_term = r.durable.term_at(m.index);
    r.acked_in_term = m.term;
  }
  // What it acknowledged is the leader's log up to there (in one term a leader only appends).
  const Group& g = groups_.at(group);
  auto leader = g.leaders.find(m.to);
  if (leader == g.leaders.end() || leader->second != m.term || !r.durable.holds(m.index)) return;
  const TermLog& theirs = g.replicas.at(m.to).log;
  if (m.index + 1 < theirs.first()) return;  // below the leader's log: unknown
  const Term expected = m.index <= theirs.last() ? theirs.term_at(m.index) : m.term;
  if (r.durable.term_at(m.index) != expected) {
    fail("durability: " + what + " acknowledging " + entry_name(m.index, expected) +
         " before it was durable (durable: term " + std::to_string(r.durable.term_at(m.index)) + " there)");
  }
}

void RaftSafety::applied(GroupId group, NodeId node, std::span<const Entry> entries) {
  Replica* r = replica(group, node, "applied");
  if (r == nullptr) return;
  Group& g = groups_.at(group);
  for (const Entry& entry : entries) {
    const Signature s = signature(entry);
    auto [it, fresh] = g.committed.try_emplace(entry.index, Commit{entry.term, s, kNoTerm});
    if (!fresh && (it->second.term != entry.term || !(it->second.signature == s))) {
      fail("state machine safety: " + at(group, node) + " applied " + entry_name(entry.index, entry.term) + " #" +
           std::to_string(s.payload_hash % 100000) + ", but index " + std::to_string(entry.index) + " was committed as term " +
           std::to_string(it->second.term) + " #" + std::to_string(it->second.signature.payload_hash % 100000));
    }
    g.committed_max = std::max(g.committed_max, entry.index);
    r->applied = std::max(r->applied, entry.index);
  }
}

void RaftSafety::read_requested(GroupId group, NodeId node, uint64_t context) {
  Group& g = groups_[group];
  g.read_floor[{node, context}] = g.committed_max;
}

void RaftSafety::read_answered(GroupId group, NodeId node, const raft::ReadState& read) {
  Group& g = groups_[group];
  auto floor = g.read_floor.find({node, read.context});
  if (floor == g.read_floor.end()) {
    return fail("checker feed: " + at(group, node) + " answered read context " + std::to_string(read.context) +
                " that was never reported requested");
  }
  if (!read.dropped && read.index < floor->second) {
    fail("linearizable reads: " + at(group, node) + " read context " + std::to_string(read.context) + " at index " +
         std::to_string(read.index) + " misses index " + std::to_string(floor->second) +
         ", committed before the read was requested");
  }
  g.read_floor.erase(floor);
}

void RaftSafety::read_served(GroupId group, NodeId node, Index read_index) {
  const Replica* r = replica(group, node, "read_served");
  if (r != nullptr && r->applied < read_index) {
    fail("linearizable reads: " + at(group, node) + " served a read at index " + std::to_string(read_index) +
         " having applied only up to " + std::to_string(r->applied));
  }
}

void RaftSafety::compacted(GroupId group, NodeId node, Index first) {
  Replica* r = replica(group, node, "compacted");
  if (r == nullptr || first <= r->durable.first()) return;
  if (first > r->durable.last() + 1) {
    return fail("checker feed: " + at(group, node) + " compacted to " + std::to_string(first) + ", beyond its log end " +
                std::to_string(r->durable.last()));
  }
  r->durable.compact(first);
  if (first <= r->log.last() + 1) r->log.compact(first);
  prune(group);
}

// Entries below every replica's log start are in no log any more.
void RaftSafety::prune(GroupId group) {
  Group& g = groups_.at(group);
  Index floor = ~Index{0};
  for (const auto& [id, r] : g.replicas) floor = std::min({floor, r.durable.first(), r.log.first()});
  while (!g.entries.empty() && g.entries.begin()->first.first < floor) g.entries.erase(g.entries.begin());
  while (!g.committed.empty() && g.committed.begin()->first < floor) g.committed.erase(g.committed.begin());
}

void RaftSafety::deleted(GroupId group, NodeId node, bool group_ended) {
  auto found = groups_.find(group);
  if (found == groups_.end()) return;
  found->second.ended = found->second.ended || group_ended;
  if (auto deleted = found->second.replicas.find(node); deleted != found->second.replicas.end()) {
    raft::Term& term = found->second.deleted_terms[node];
    term = std::max(term, deleted->second.hard.term);
  }
  found->second.replicas.erase(node);
  found->second.leaders.erase(node);
}

// A replica created where one was deleted is the same voter to the group: it must start at least
// in the term the deleted one reached (it may have voted there), or withhold its vote until a
// leader of a later term has caught it up (a tombstone that did not decode). Otherwise it can vote
// twice in a term; the vote record catches that too, but only when a second candidate asks.
void RaftSafety::check_recreated(GroupId group, NodeId node, const raft::HardState& hard) {
  const Group& g = groups_[group];
  auto deleted = g.deleted_terms.find(node);
  if (deleted == g.deleted_terms.end() || hard.term >= deleted->second || hard.vote_withheld) return;
  fail("durability: " + at(group, node) + " created again at term " + std::to_string(hard.term) + " with its vote free, below term " +
       std::to_string(deleted->second) + " its deleted replica reached");
}

void RaftSafety::crashed(NodeId node) {
  ++incarnations_[node];
  for (auto& [id, g] : groups_) {
    auto it = g.replicas.find(node);
    if (it == g.replicas.end()) continue;
    Replica& r = it->second;
    r.up = false;
    r.log = r.durable;
    r.log_rewritten = false;
    r.leading = false;
    g.leaders.erase(node);
  }
}

void RaftSafety::observe(GroupId group, NodeId node, const raft::Raft& core) {
  Replica* r = replica(group, node, "observe");
  if (r == nullptr) return;
  if (!r->up) return fail("checker feed: observe of crashed " + at(group, node) + " (started() not reported?)");
  if (!follow_tail(group, node, *r, core.log())) return;
  const Index commit_before = r->commit_checked;
  observe_commits(group, node, *r, core);
  check_leader(group, node, *r, core);
  r->log_rewritten = false;
  const bool first_commit_of_term = r->leading && r->commit_checked > commit_before && r->first_commit_term != core.term();
  if (first_commit_of_term) {
    r->first_commit_term = core.term();
    if (leader_moment_listener_) leader_moment_listener_(group, node, LeaderMoment::first_commit);
  }
}

// The core's log is the mirrored log below its unstable tail, then the tail.
bool RaftSafety::follow_tail(GroupId group, NodeId node, Replica& r, const raft::RaftLog& log) {
  const raft::LogUnstable& unstable = log.unstable();
  if (const auto& jump = unstable.jump()) {
    if (r.log.first() != jump->index + 1 || r.log.term_at(jump->index) != jump->term) {
      r.log_rewritten = r.log.reset(jump->index, jump->term) || r.log_rewritten;
    }
  }
  const std::vector<Entry>& tail = unstable.entries();
  if (!tail.empty()) {
    const Index from = tail.front().index;
    if (from < r.log.first() || from > r.log.last() + 1) {
      fail("checker feed: " + at(group, node) + " unstable tail starts at " + std::to_string(from) +
           ", outside the mirrored log [" + std::to_string(r.log.first()) + ", " + std::to_string(r.log.last()) +
           "] (a persisted Ready not reported?)");
      return false;
    }
    register_entries(group, node, r.log, tail, /*durable=*/false);
    r.log_rewritten = r.log.truncate_and_append(tail) || r.log_rewritten;
  }
  if (r.log.last() != log.last_index()) {
    fail("checker feed: " + at(group, node) + " mirrored log ends at " + std::to_string(r.log.last()) +
         ", the core's at " + std::to_string(log.last_index()) + " (a persisted Ready or restart not reported?)");
    return false;
  }
  return true;
}

// Committed entries never change, so what was compared once stays compared.
void RaftSafety::observe_commits(GroupId group, NodeId node, Replica& r, const raft::Raft& core) {
  const Index commit = core.log().committed();
  if (commit > r.log.last()) {
    return fail("commit beyond the log: " + at(group, node) + " commit index " + std::to_string(commit) +
                ", log ends at " + std::to_string(r.log.last()));
  }
  if (commit <= r.commit_checked) return;
  for (Index index = std::max(r.commit_checked + 1, r.log.first()); index <= commit; ++index) {
    record_commit(group, node, index, r.log.term_at(index), core.term());
  }
  r.commit_checked = commit;
  // A leader decides only commits of its own term's entries (the rest it learned, or they are a
  // prefix of it): that entry, hence by Log Matching everything before it, must be durable on a
  // quorum of the membership it decided under.
  if (core.role() == raft::Role::leader && commit >= r.log.first() && r.log.term_at(commit) == core.term()) {
    check_durable_on_quorum(group, commit, core.term(), core.conf_state());
  }
}

void RaftSafety::record_commit(GroupId group, NodeId node, Index index, Term term, Term by_term) {
  Group& g = groups_.at(group);
  auto entry = g.entries.find({index, term});
  if (entry == g.entries.end()) {
    return fail("checker feed: " + at(group, node) + " holds " + entry_name(index, term) + ", never reported");
  }
  auto [it, fresh] = g.committed.try_emplace(index, Commit{term, entry->second.signature, by_term});
  Commit& commit = it->second;
  if (!fresh) {
    if (commit.term != term || !(commit.signature == entry->second.signature)) {
      return fail("state machine safety: " + at(group, node) + " committed " + entry_name(index, term) +
                  ", but index " + std::to_string(index) + " was committed as term " + std::to_string(commit.term));
    }
    if (by_term >= commit.by_term) return;
    commit.by_term = by_term;
  }
  g.committed_max = std::max(g.committed_max, index);
  // Now known committed by `by_term`: every leader of a later term must hold it.
  for (const auto& [leader, leader_term] : g.leaders) {
    if (leader_term > commit.by_term) check_holds(group, leader, g.replicas.at(leader), index, commit);
  }
}

// Acknowledgements are sent only after persisting, so by the time a leader counts a quorum the
// entry is durable on it. The membership must be the one the leader decided under: the driver
// observes before taking a Ready, since the conf changes a Ready hands out take effect then.
void RaftSafety::check_durable_on_quorum(GroupId group, Index index, Term term, const raft::ConfState& conf) {
  const Group& g = groups_.at(group);
  // cluster-move-after-retention seed 20: a topic deleted, one voter deleted its copy of an entry
  // it had acknowledged, and the leader, still unaware, counted it.
  if (g.ended) return;
  for (const std::set<NodeId>* voters : {&conf.voters, &conf.voters_outgoing}) {
    if (voters->empty()) continue;
    size_t durable = 0;
    for (NodeId id : *voters) {
      auto it = g.replicas.find(id);
      if (it == g.replicas.end()) continue;
      const TermLog& log = it->second.durable;
      if (index < log.first() || (index <= log.last() && log.term_at(index) == term)) ++durable;
    }
    if (durable < voters->size() / 2 + 1) {
      return fail("durability: group " + std::to_string(group) + " committed " + entry_name(index, term) +
                  " is durable on " + std::to_string(durable) + " of the voters " + raft::to_string(conf));
    }
  }
}

void RaftSafety::check_leader(GroupId group, NodeId node, Replica& r, const raft::Raft& core) {
  Group& g = groups_.at(group);
  const Term term = core.term();
  if (core.role() != raft::Role::leader) {
    r.leading = false;
    r.term = term;
    g.leaders.erase(node);
    return;
  }
  auto [leader, fresh] = g.leader_of_term.try_emplace(term, node);
  if (!fresh && leader->second != node) {
    fail("election safety: group " + std::to_string(group) + " term " + std::to_string(term) + " has two leaders: node " +
         std::to_string(leader->second) + " and node " + std::to_string(node));
  }
  const bool continuing = r.leading && r.term == term;  // a crash ends leading
  r.leading = true;
  r.term = term;
  g.leaders[node] = term;
  if (continuing && r.log_rewritten) {
    fail("leader append-only: " + at(group, node) + ", leader of term " + std::to_string(term) +
         ", replaced or removed entries of its log (it now ends at " + std::to_string(r.log.last()) + ")");
  }
  if (!continuing) {
    // Entries up to its own commit index were compared already; the rest committed elsewhere.
    for (auto c = g.committed.upper_bound(r.commit_checked); c != g.committed.end(); ++c) {
      if (c->second.by_term < term) check_holds(group, node, r, c->first, c->second);
    }
    if (leader_moment_listener_) leader_moment_listener_(group, node, LeaderMoment::elected);
  }
}

void RaftSafety::check_holds(GroupId group, NodeId node, const Replica& r, Index index, const Commit& commit) {
  if (index < r.log.first()) return;  // removed by retention
  if (index <= r.log.last() && r.log.term_at(index) == commit.term) return;
  const std::string has = index <= r.log.last() ? "term " + std::to_string(r.log.term_at(index)) + " there"
                                                 : "a log ending at " + std::to_string(r.log.last());
  fail("leader completeness: " + at(group, node) + ", leader of term " + std::to_string(r.term) + ", lacks committed " +
       entry_name(index, commit.term) + " (committed by term " + std::to_string(commit.by_term) + "; it has " + has + ")");
}

}  // namespace sluice::checkers
