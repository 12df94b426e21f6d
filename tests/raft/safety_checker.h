// Raft's safety properties (§5.4, Figure 3), checked against a Cluster after every step:
//   Election Safety      at most one leader per term;
//   Leader Append-Only   a leader never overwrites or deletes entries of its log;
//   Log Matching         two logs with an entry of the same index and term agree up to it;
//   Leader Completeness  a leader holds every entry committed in an earlier term;
//   State Machine Safety no two nodes apply different entries at one index;
// plus: every committed entry is durable (persisted, or removed by retention) on a quorum of the
// membership it was committed under, and a read index covers every entry committed before the
// read was requested.
//
// Entries are compared by signature (term, type, payload hash), built without copying payloads,
// and everything that cannot change once checked (commits, applications, durability) is checked
// incrementally, so checking after every step stays cheap.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/raft/cluster.h"

namespace sluice::raft::testing {

class SafetyChecker {
 public:
  // The first violation found, described; nullopt when all hold. Call after every step.
  std::optional<std::string> check(Cluster& cluster);

  // A read was requested now: its answer must cover everything committed so far.
  void read_requested(uint64_t context) { read_floor_[context] = committed_max(); }
  Index committed_max() const { return committed_.empty() ? 0 : committed_.rbegin()->first; }

 private:
  struct Signature {
    Term term = 0;
    EntryType type = EntryType::normal;
    uint64_t payload_hash = 0;

    friend bool operator==(const Signature&, const Signature&) = default;
  };
  struct LogView {
    Index first = 1;  // signatures[0] is the entry at this index
    std::vector<Signature> signatures;
    Index last() const { return first + signatures.size() - 1; }  // first - 1 when empty
    const Signature* at(Index index) const;
  };

  static Signature signature(const Entry& entry);
  static std::string describe(Index index, const Signature& s);
  static LogView view(ClusterNode& node);
  std::optional<std::string> observe_commits(Cluster& cluster, const std::map<NodeId, LogView>& logs);
  std::optional<std::string> check_leaders(Cluster& cluster, const std::map<NodeId, LogView>& logs);
  std::optional<std::string> check_log_matching(const std::map<NodeId, LogView>& logs) const;
  std::optional<std::string> check_applied(Cluster& cluster);
  std::optional<std::string> check_durability(Cluster& cluster);
  std::optional<std::string> check_reads(Cluster& cluster);

  std::map<Term, NodeId> leader_of_term_;
  // Per (node, term, incarnation): a node that crashed before anything of its term became
  // durable (a sole voter wins without sending a message) may lead the same term again after a
  // restart, with another log; nothing of the first one ever left the node.
  std::map<std::tuple<NodeId, Term, uint64_t>, LogView> leader_logs_;
  std::map<Index, Signature> committed_;
  // The lowest term any node had when it knew the entry committed: the entry was committed in
  // that term or earlier, so every leader of a later term must hold it.
  std::map<Index, Term> committed_by_term_;
  // The leader's membership when it committed the entry: a majority of it (of both halves when
  // joint) must hold the entry durably. Unknown for entries no leader was seen committing.
  std::map<Index, ConfState> committed_under_;
  std::set<Index> durability_unverified_;
  std::map<NodeId, Index> commit_observed_;  // per node: commits up to here were checked
  std::map<Index, Signature> applied_;
  std::map<NodeId, size_t> applications_seen_;
  std::map<uint64_t, Index> read_floor_;
  std::map<NodeId, size_t> reads_seen_;
};

}  // namespace sluice::raft::testing
