#include "tests/raft/safety_checker.h"

#include <algorithm>
#include <limits>

namespace sluice::raft::testing {

namespace {

std::string where(NodeId id, Index index) {
  return "node " + std::to_string(id) + " index " + std::to_string(index);
}

}  // namespace

const Entry* SafetyChecker::LogView::at(Index index) const {
  if (index < first || index > last() || entries.empty()) return nullptr;
  return &entries[index - first];
}

// An up node's log as its core sees it (stable + unstable); a crashed node's persisted log.
SafetyChecker::LogView SafetyChecker::view(ClusterNode& node) {
  LogView log;
  if (!node.raft) {
    log.first = node.storage.first_index();
    log.entries = node.storage.all_entries();
    return log;
  }
  const RaftLog& raft_log = node.raft->raft().log();
  log.first = raft_log.first_index();
  Result<std::vector<Entry>> entries =
      raft_log.slice(log.first, raft_log.last_index() + 1, std::numeric_limits<uint64_t>::max());
  SLUICE_ASSERT(entries.ok());
  log.entries = std::move(entries).value();
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
    const Index commit = node.raft->raft().log().committed();
    const Term term = node.raft->raft().term();
    const bool leader = node.raft->raft().role() == Role::leader;
    const LogView& log = logs.at(id);
    for (Index index = log.first; index <= commit; ++index) {
      const Entry* entry = log.at(index);
      if (entry == nullptr) return "commit beyond the log: " + where(id, index);
      auto [it, inserted] = committed_.try_emplace(index, *entry);
      if (!inserted && it->second != *entry) {
        return "two entries committed at " + where(id, index) + ": " + to_string(it->second) + " vs " + to_string(*entry);
      }
      auto [by, fresh] = committed_by_term_.try_emplace(index, term);
      if (!fresh) by->second = std::min(by->second, term);
      if (leader) committed_under_.try_emplace(index, node.raft->raft().conf_state());
    }
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
    auto previous = leader_logs_.find({id, term});
    if (previous != leader_logs_.end()) {
      const LogView& old = previous->second;
      if (!old.entries.empty() && log.last() < old.last()) return "leader append-only: log shrank at node " + std::to_string(id);
      for (Index index = std::max(old.first, log.first); !old.entries.empty() && index <= old.last(); ++index) {
        if (*old.at(index) != *log.at(index)) return "leader append-only: " + where(id, index) + " overwritten";
      }
    }
    leader_logs_[{id, term}] = log;
    for (const auto& [index, entry] : committed_) {
      if (committed_by_term_.at(index) >= term || index < log.first) continue;
      const Entry* held = log.at(index);
      if (held == nullptr || *held != entry) {
        return "leader completeness: leader of term " + std::to_string(term) + " lacks committed " + where(id, index) +
               " " + to_string(entry);
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
      if (x.entries.empty() || y.entries.empty()) continue;
      const Index lo = std::max(x.first, y.first);
      const Index hi = std::min(x.last(), y.last());
      // The highest common index with equal terms; everything at or below it must be equal.
      Index top = hi;
      while (top >= lo && top > 0 && x.at(top)->term != y.at(top)->term) --top;
      for (Index index = lo; index <= top && top >= lo; ++index) {
        if (*x.at(index) != *y.at(index)) {
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
    for (const auto& [index, entry] : cluster.node(id).applied) {
      auto [it, fresh] = applied_.try_emplace(index, entry);
      if (!fresh && it->second != entry) {
        return "state machine safety: " + where(id, index) + " applied " + to_string(entry) + ", another node " +
               to_string(it->second);
      }
      auto committed = committed_.find(index);
      if (committed != committed_.end() && committed->second != entry) return "applied an uncommitted entry at " + where(id, index);
    }
  }
  return std::nullopt;
}

std::optional<std::string> SafetyChecker::check_durability(Cluster& cluster) const {
  for (const auto& [index, entry] : committed_) {
    auto conf = committed_under_.find(index);
    if (conf == committed_under_.end()) continue;
    for (const std::set<NodeId>* voters : {&conf->second.voters, &conf->second.voters_outgoing}) {
      if (voters->empty()) continue;
      size_t durable = 0;
      for (NodeId id : *voters) {
        MemoryLogStorage& storage = cluster.node(id).storage;
        if (index <= storage.base_index()) {
          ++durable;  // removed by retention after being applied there
        } else if (index <= storage.last_index() && storage.all_entries()[index - storage.first_index()] == entry) {
          ++durable;
        }
      }
      if (durable < voters->size() / 2 + 1) {
        return "durability: committed entry " + to_string(entry) + " persisted on " + std::to_string(durable) +
               " of the voters " + to_string(conf->second);
      }
    }
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
