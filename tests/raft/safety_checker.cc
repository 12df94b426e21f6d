#include "tests/raft/safety_checker.h"

#include <algorithm>

#include "node/base/hash.h"

namespace sluice::raft::testing {

namespace {

std::string where(NodeId id, Index index) { return "node " + std::to_string(id) + " index " + std::to_string(index); }

}  // namespace

const SafetyChecker::Signature* SafetyChecker::LogView::at(Index index) const {
  if (signatures.empty() || index < first || index > last()) return nullptr;
  return &signatures[index - first];
}

SafetyChecker::Signature SafetyChecker::signature(const Entry& entry) {
  return Signature{entry.term, entry.type, hash_bytes(entry.data)};
}

std::string SafetyChecker::describe(Index index, const Signature& s) {
  return std::to_string(index) + "/" + std::to_string(s.term) + " " + std::string(to_string(s.type)) + " #" +
         std::to_string(s.payload_hash % 100000);
}

// An up node's log as its core sees it (stable below the unstable tail, then the tail); a
// crashed node's persisted log.
SafetyChecker::LogView SafetyChecker::view(ClusterNode& node) {
  LogView log;
  const std::vector<Entry>& stable = node.storage.all_entries();
  const Index stable_first = node.storage.first_index();
  if (!node.raft) {
    log.first = stable_first;
    for (const Entry& entry : stable) log.signatures.push_back(signature(entry));
    return log;
  }
  const RaftLog& raft_log = node.raft->raft().log();
  const LogUnstable& unstable = raft_log.unstable();
  log.first = raft_log.first_index();
  if (!unstable.jump()) {
    for (Index index = log.first; index < unstable.offset(); ++index) {
      log.signatures.push_back(signature(stable[index - stable_first]));
    }
  }
  for (const Entry& entry : unstable.entries()) log.signatures.push_back(signature(entry));
  SLUICE_ASSERT_EQ(log.first + log.signatures.size() - 1, raft_log.last_index());
  return log;
}

std::optional<std::string> SafetyChecker::check(Cluster& cluster) {
  std::map<NodeId, LogView> logs;
  for (NodeId id : cluster.ids()) logs[id] = view(cluster.node(id));
  if (auto violation = observe_commits(cluster, logs)) return violation;
  if (auto violation = check_leaders(cluster, logs)) return violation;
  if (auto violation = check_log_matching(logs)) return violation;
  if (auto violation = check_applied(cluster)) return violation;
  if (auto violation = check_durability(cluster)) return violation;
  return check_reads(cluster);
}

std::optional<std::string> SafetyChecker::observe_commits(Cluster& cluster, const std::map<NodeId, LogView>& logs) {
  for (NodeId id : cluster.ids()) {
    ClusterNode& node = cluster.node(id);
    if (!node.raft) continue;
    const Raft& raft = node.raft->raft();
    const Index commit = raft.log().committed();
    const LogView& log = logs.at(id);
    // Committed entries never change, so what was checked once stays checked.
    for (Index index = std::max(log.first, commit_observed_[id] + 1); index <= commit; ++index) {
      const Signature* entry = log.at(index);
      if (entry == nullptr) return "commit beyond the log: " + where(id, index);
      auto [it, inserted] = committed_.try_emplace(index, *entry);
      if (!inserted && !(it->second == *entry)) {
        return "two entries committed at " + where(id, index) + ": " + describe(index, it->second) + " vs " +
               describe(index, *entry);
      }
      if (inserted) durability_unverified_.insert(index);
      auto [by, fresh] = committed_by_term_.try_emplace(index, raft.term());
      if (!fresh) by->second = std::min(by->second, raft.term());
      if (raft.role() == Role::leader) committed_under_.try_emplace(index, raft.conf_state());
    }
    commit_observed_[id] = std::max(commit_observed_[id], commit);
  }
  return std::nullopt;
}

std::optional<std::string> SafetyChecker::check_leaders(Cluster& cluster, const std::map<NodeId, LogView>& logs) {
  for (NodeId id : cluster.ids()) {
    ClusterNode& node = cluster.node(id);
    if (!node.raft || node.raft->raft().role() != Role::leader) continue;
    const Term term = node.raft->raft().term();
    auto [leader, fresh] = leader_of_term_.try_emplace(term, id);
    if (!fresh && leader->second != id) {
      return "election safety: nodes " + std::to_string(leader->second) + " and " + std::to_string(id) +
             " both lead term " + std::to_string(term);
    }
    const LogView& log = logs.at(id);
    const auto key = std::make_tuple(id, term, node.incarnation);
    auto previous = leader_logs_.find(key);
    if (previous != leader_logs_.end() && !previous->second.signatures.empty()) {
      const LogView& old = previous->second;
      if (log.last() < old.last()) return "leader append-only: log shrank at node " + std::to_string(id);
      for (Index index = std::max(old.first, log.first); index <= old.last(); ++index) {
        if (!(*old.at(index) == *log.at(index))) return "leader append-only: " + where(id, index) + " overwritten";
      }
    }
    leader_logs_[key] = log;
    for (const auto& [index, entry] : committed_) {
      if (committed_by_term_.at(index) >= term || index < log.first) continue;
      const Signature* held = log.at(index);
      if (held == nullptr || !(*held == entry)) {
        return "leader completeness: leader of term " + std::to_string(term) + " lacks committed " + where(id, index);
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> SafetyChecker::check_log_matching(const std::map<NodeId, LogView>& logs) const {
  for (auto a = logs.begin(); a != logs.end(); ++a) {
    for (auto b = std::next(a); b != logs.end(); ++b) {
      const LogView& x = a->second;
      const LogView& y = b->second;
      if (x.signatures.empty() || y.signatures.empty()) continue;
      const Index lo = std::max(x.first, y.first);
      const Index hi = std::min(x.last(), y.last());
      if (lo > hi) continue;
      // The highest common index with equal terms; everything from lo up to it must be equal.
      Index top = hi + 1;
      for (Index index = hi; index >= lo; --index) {
        if (x.at(index)->term == y.at(index)->term) {
          top = index;
          break;
        }
        if (index == lo) break;
      }
      if (top > hi) continue;
      for (Index index = lo; index <= top; ++index) {
        if (!(*x.at(index) == *y.at(index))) {
          return "log matching: nodes " + std::to_string(a->first) + " and " + std::to_string(b->first) +
                 " agree at " + std::to_string(top) + " but differ at " + std::to_string(index);
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> SafetyChecker::check_applied(Cluster& cluster) {
  for (NodeId id : cluster.ids()) {
    const std::vector<Entry>& applications = cluster.node(id).applications;
    for (size_t i = applications_seen_[id]; i < applications.size(); ++i) {
      const Entry& entry = applications[i];
      const Signature s = signature(entry);
      auto [it, fresh] = applied_.try_emplace(entry.index, s);
      if (!fresh && !(it->second == s)) {
        return "state machine safety: " + where(id, entry.index) + " applied " + describe(entry.index, s) +
               ", another node " + describe(entry.index, it->second);
      }
      auto committed = committed_.find(entry.index);
      if (committed != committed_.end() && !(committed->second == s)) {
        return "applied an uncommitted entry at " + where(id, entry.index);
      }
    }
    applications_seen_[id] = applications.size();
  }
  return std::nullopt;
}

// Once durable on a quorum a committed entry stays so: storage only loses committed entries to
// retention (counted as durable) or to a log-start jump past them (likewise).
std::optional<std::string> SafetyChecker::check_durability(Cluster& cluster) {
  for (auto it = durability_unverified_.begin(); it != durability_unverified_.end();) {
    const Index index = *it;
    auto conf = committed_under_.find(index);
    if (conf == committed_under_.end()) {
      it = durability_unverified_.erase(it);  // no leader seen committing it: nothing to hold it to
      continue;
    }
    const Signature& entry = committed_.at(index);
    for (const std::set<NodeId>* voters : {&conf->second.voters, &conf->second.voters_outgoing}) {
      if (voters->empty()) continue;
      size_t durable = 0;
      for (NodeId id : *voters) {
        MemoryLogStorage& storage = cluster.node(id).storage;
        if (index <= storage.base_index()) {
          ++durable;
        } else if (index <= storage.last_index() &&
                   signature(storage.all_entries()[index - storage.first_index()]) == entry) {
          ++durable;
        }
      }
      if (durable < voters->size() / 2 + 1) {
        return "durability: committed entry " + describe(index, entry) + " persisted on " + std::to_string(durable) +
               " of the voters " + to_string(conf->second);
      }
    }
    it = durability_unverified_.erase(it);
  }
  return std::nullopt;
}

std::optional<std::string> SafetyChecker::check_reads(Cluster& cluster) {
  for (NodeId id : cluster.ids()) {
    const std::vector<ReadState>& reads = cluster.node(id).reads;
    for (size_t i = reads_seen_[id]; i < reads.size(); ++i) {
      const ReadState& read = reads[i];
      if (read.dropped) continue;
      auto floor = read_floor_.find(read.context);
      if (floor == read_floor_.end()) return "read state for an unknown context " + std::to_string(read.context);
      if (read.index < floor->second) {
        return "read index " + std::to_string(read.index) + " for ctx " + std::to_string(read.context) +
               " misses entries committed before the read (up to " + std::to_string(floor->second) + ")";
      }
    }
    reads_seen_[id] = reads.size();
  }
  return std::nullopt;
}

}  // namespace sluice::raft::testing
