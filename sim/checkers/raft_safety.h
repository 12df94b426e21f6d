// Raft's safety properties (§5.4, Figure 3) for many groups at once, fed by whatever drives the
// cores (the test Cluster of tests/raft, the simulator's multi-Raft hosts):
//   Election Safety      at most one leader per (group, term);
//   Leader Append-Only   a leader never overwrites or removes entries of its log;
//   Log Matching         entries with the same (group, index, term) are one entry, with one
//                        predecessor term (so two logs agreeing at an index agree up to it);
//   Leader Completeness  a leader holds every entry committed in an earlier term;
//   State Machine Safety no two nodes commit or apply different entries at one index;
// plus durability and the driver contract:
//   - every committed entry is durable (persisted, or removed by retention) on a quorum of the
//     membership it was committed under (both halves when joint);
//   - a restart finds what was durable: the term never goes back, a vote never changes within its
//     term, no committed entry is lost, nor an entry it acknowledged in the term it restarts in;
//   - nothing leaves a node ahead of its durable state: a message's term, a vote granted, an
//     append acknowledged are all durable when sent;
//   - a read index covers every entry committed before the read was requested, and a read is
//     served only once the node applied that far.
//
// Cost. Logs are mirrored as runs of terms (term_log.h); entries are kept once per group, by
// (index, term), as a signature (type, payload hash). Everything is incremental: an
// observation costs the core's unstable tail plus what was newly committed, a persisted Ready
// its entries, a restart one read of the recovered log. Nothing rebuilds or compares whole logs.
//
// Feeding it (every call names the group and the node; NodeId is the Raft member id):
//   started(g, n, storage)      the replica (re)starts from `storage`, on creation and after every
//                               crash, before the core is built (or right after; before observe)
//   persisted(g, n, ready)      a Ready's jump, entries, hard and conf state are durable (after the
//                               sync, before any of its messages leave)
//   sent(g, n, messages)        messages leave the node now (the host: right before transport send)
//   applied(g, n, entries)      Ready::committed_entries handed to the state machine, in order
//   read_requested(g, n, ctx)   read_index(ctx) was called on n
//   read_answered(g, n, state)  a Ready's read state for ctx (dropped ones too)
//   read_served(g, n, index)    a read confirmed at `index` is answered from n's state now
//   compacted(g, n, first)      retention made the durable log start at `first`
//   crashed(n)                  power loss: everything not reported persisted is gone (all groups)
//   observe(g, n, core)         look at an up replica: role, term, commit, membership, unstable tail;
//                               cheap, as often as liked (tests/raft: after every step), but at the
//                               latest before each ready(): the conf changes a Ready hands out take
//                               effect in ready(), and a leader's commit is judged against the
//                               membership observed with it
//   replaced(g, n, storage)     tests only: storage edited by hand, taken as it is
// For the simulator's multi-Raft host (node/partition/raft_host.cc, process_readies): after each
// group's storage sync -> persisted; before transport_.send of a group's messages -> sent; in
// apply() -> applied, read_answered for each read state, read_served when a confirmed read is
// answered; read() -> read_requested; add_group after opening storage -> started; the world's
// crash of a node -> crashed; at the start of each round, before taking the Readys, observe every
// group of the node (the workload may observe more often, e.g. from its control loop). Node code
// must not include sim/: the host offers an observer interface with these calls, and the sim's
// workload forwards them here. Durable means durable on the simulated disk: a host that skips its
// sync still reports persisted, and the restart (started) then shows what was really kept.
//
// The first violation is kept (violation()); later calls still update the mirrors but report
// nothing new. Messages name the group, the node, the index and the term.
#pragma once

#include <cstdint>
#include <map>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "node/raft/raft.h"
#include "node/raft/ready.h"
#include "node/raft/storage.h"
#include "sim/checkers/term_log.h"

namespace sluice::checkers {

using GroupId = uint64_t;

// Moments of a leader's term the fault injector may strike at (sim/faults.h).
enum class LeaderMoment : uint8_t {
  elected,       // first observed leading in this term
  first_commit,  // first observed advancing its commit index in this term
};

class RaftSafety {
 public:
  void started(GroupId group, raft::NodeId node, raft::RaftLogStorage& storage) { start(group, node, storage, true); }
  // The replica's storage was replaced by hand (a test presetting a state): taken as it is,
  // without holding it to what was durable before.
  void replaced(GroupId group, raft::NodeId node, raft::RaftLogStorage& storage) { start(group, node, storage, false); }
  // The node deleted its replica's data: the checker forgets it, so a replica the group later adds
  // there again starts afresh. `group_ended`: the group is gone everywhere (its topic was
  // deleted); otherwise the node left the group's membership (a replica moved away), and a
  // commit that needed its copy is a durability violation.
  void deleted(GroupId group, raft::NodeId node, bool group_ended);
  void persisted(GroupId group, raft::NodeId node, const raft::Ready& ready);
  void sent(GroupId group, raft::NodeId node, std::span<const raft::Message> messages);
  void applied(GroupId group, raft::NodeId node, std::span<const raft::Entry> entries);
  void read_requested(GroupId group, raft::NodeId node, uint64_t context);
  void read_answered(GroupId group, raft::NodeId node, const raft::ReadState& read);
  void read_served(GroupId group, raft::NodeId node, raft::Index read_index);
  void compacted(GroupId group, raft::NodeId node, raft::Index first);
  void crashed(raft::NodeId node);
  void observe(GroupId group, raft::NodeId node, const raft::Raft& core);

  const std::optional<std::string>& violation() const { return violation_; }
  // Told of each leader's moments in each term (the leader faults of sim/faults.h); empty: nobody
  // is told.
  void set_leader_moment_listener(std::function<void(GroupId, raft::NodeId, LeaderMoment)> listener) {
    leader_moment_listener_ = std::move(listener);
  }
  // The highest index known committed in the group (0 when none).
  raft::Index committed_max(GroupId group) const;
  // Per group (in group order) that has one, the running node that leads it in the highest term
  // as last observed (a deposed leader not yet told is not it once a later leader was seen).
  std::vector<raft::NodeId> group_leaders() const;

 private:
  // An entry without its payload.
  struct Signature {
    raft::EntryType type = raft::EntryType::normal;
    uint64_t payload_hash = 0;
    friend bool operator==(const Signature&, const Signature&) = default;
  };
  // One entry of a group, named by (index, term).
  struct Record {
    Signature signature;
    raft::Term prev_term = 0;  // the term at index - 1 in every log holding the entry
    bool durable = false;      // persisted on some node
    // While not durable: the only node (and its incarnation) whose core holds it.
    raft::NodeId origin = raft::kNoNode;
    uint64_t origin_incarnation = 0;
  };
  struct Commit {
    raft::Term term = 0;
    Signature signature;
    // The lowest term a node had when it knew the entry committed: the entry was committed in
    // that term or earlier, so every leader of a later term must hold it. kNoTerm: known only
    // from an application.
    raft::Term by_term = 0;
  };
  // One node's copy of a group.
  struct Replica {
    bool up = false;
    uint64_t incarnation = 0;
    TermLog durable;              // what a crash keeps
    raft::HardState hard;         // durable
    TermLog log;                  // the core's log (durable below its unstable tail, then the tail)
    bool log_rewritten = false;   // since the last observation: entries of `log` replaced or removed
    bool leading = false;         // at the last observation, in `term`, this incarnation
    raft::Term term = 0;
    raft::Index commit_checked = 0;  // its log was compared with the committed entries up to here
    // The last append it acknowledged (sent): the entry there, and the term it acknowledged in.
    raft::Index acked_index = 0;
    raft::Term acked_entry_term = 0;
    raft::Term acked_in_term = 0;
    raft::Index applied = 0;
    raft::Term first_commit_term = 0;  // the last term in which it was seen leading and advancing its commit
  };
  struct Group {
    std::map<std::pair<raft::Index, raft::Term>, Record> entries;
    std::map<raft::Index, Commit> committed;
    std::map<raft::Term, raft::NodeId> leader_of_term;
    std::map<raft::NodeId, raft::Term> leaders;  // leading at their last observation
    std::map<raft::NodeId, Replica> replicas;
    std::map<std::pair<raft::NodeId, uint64_t>, raft::Index> read_floor;  // (node, context)
    raft::Index committed_max = 0;  // survives pruning
    // Every vote granted, by (voter, term): one candidate each. Survives crashes and deletions: a
    // node that deletes its replica and hosts the group again must not vote twice in a term.
    std::map<std::pair<raft::NodeId, raft::Term>, raft::NodeId> votes;
    std::map<raft::NodeId, raft::Term> deleted_terms;  // the durable term of each node's deleted replica
    // A node deleted its copy because the group is gone everywhere: replicas that have not heard
    // yet may still commit, on a quorum that counted the deleted copies; nobody reads it.
    bool ended = false;
  };
  static constexpr raft::Term kNoTerm = ~raft::Term{0};

  static Signature signature(const raft::Entry& entry);
  void fail(std::string message);
  void start(GroupId group, raft::NodeId node, raft::RaftLogStorage& storage, bool check);
  Replica* replica(GroupId group, raft::NodeId node, const char* call);
  void register_entry(GroupId group, raft::NodeId node, const raft::Entry& entry, raft::Term prev_term, bool durable);
  void register_entries(GroupId group, raft::NodeId node, const TermLog& log, std::span<const raft::Entry> entries,
                        bool durable);
  void check_recreated(GroupId group, raft::NodeId node, const raft::HardState& hard);
  void check_restart(GroupId group, raft::NodeId node, const Replica& before, const raft::InitialState& state,
                     const TermLog& recovered);
  bool follow_tail(GroupId group, raft::NodeId node, Replica& r, const raft::RaftLog& log);
  void observe_commits(GroupId group, raft::NodeId node, Replica& r, const raft::Raft& core);
  void record_commit(GroupId group, raft::NodeId node, raft::Index index, raft::Term term, raft::Term by_term);
  void check_durable_on_quorum(GroupId group, raft::Index index, raft::Term term, const raft::ConfState& conf);
  void check_leader(GroupId group, raft::NodeId node, Replica& r, const raft::Raft& core);
  void check_holds(GroupId group, raft::NodeId node, const Replica& r, raft::Index index, const Commit& commit);
  void check_message(GroupId group, raft::NodeId node, Replica& r, const raft::Message& m);
  void prune(GroupId group);

  std::map<GroupId, Group> groups_;
  std::map<raft::NodeId, uint64_t> incarnations_;  // crashes so far, per node
  std::optional<std::string> violation_;
  std::function<void(GroupId, raft::NodeId, LeaderMoment)> leader_moment_listener_;
};

}  // namespace sluice::checkers
