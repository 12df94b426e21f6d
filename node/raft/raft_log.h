// The log as the protocol sees it: stable storage plus the unstable tail, with the commit and
// apply positions. All Raft log rules (matching, conflicts, up-to-date checks) live here.
#pragma once

#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "node/raft/log_unstable.h"
#include "node/raft/storage.h"
#include "node/raft/types.h"

namespace sluice::raft {

class RaftLog {
 public:
  // Starts with everything below the storage's log start counted as committed and applied.
  explicit RaftLog(RaftLogStorage& storage);
  // Tests only (PlantedBug::raft_keep_conflicting_suffix): maybe_append keeps a conflicting suffix.
  void plant_keep_conflicting_suffix() { keep_conflicting_suffix_ = true; }

  Index first_index() const;
  Index last_index() const;
  Term last_term() const;
  // Defined for [first_index - 1, last_index]: `compacted` below, `unavailable` above.
  Result<Term> term(Index index) const;
  bool match_term(Index index, Term term) const;

  // Follower side of an append: when the log has `prev_index` with `prev_term`, writes `entries`
  // after it (replacing a conflicting suffix), advances commit to min(commit, last new index)
  // and returns that last new index; otherwise nullopt.
  std::optional<Index> maybe_append(Index prev_index, Term prev_term, Index commit, std::span<const Entry> entries);
  // Appends entries continuing the log at or after the commit point; returns the new last index.
  Index append(std::span<const Entry> entries);
  // The first entry whose index exists here with another term, or that is new; 0 if none.
  Index find_conflict(std::span<const Entry> entries) const;
  // The largest index <= `index` whose term is <= `term` (and that term). Used both to build a
  // rejection hint and, on the leader, to jump over a whole term of mismatches at once.
  // Below the log base it answers {index, 0}.
  std::pair<Index, Term> find_conflict_by_term(Index index, Term term) const;
  // §5.4.1: a candidate's log is at least as up to date as ours.
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Entries [lo, hi), at least one when lo < hi, stopping before `bytes_max` is exceeded.
  Result<std::vector<Entry>> slice(Index lo, Index hi, uint64_t bytes_max) const;

  void commit_to(Index index);
  // Commits `index` only if its entry has `term` (§5.4.2: a leader counts replicas only for
  // entries of its own term).
  bool maybe_commit(Index index, Term term);
  void applied_to(Index index);
  bool has_next_committed_entries() const;
  Result<std::vector<Entry>> next_committed_entries(uint64_t bytes_max) const;

  void restore(const LogStartJump& jump);
  void stable_to(Index index, Term term) { unstable_.stable_to(index, term); }
  void stable_jump_to(Index index) { unstable_.stable_jump_to(index); }

  // The last index known durable and part of this log: everything below the unstable tail (0
  // while a log-start jump is not durable yet, as the stable log is about to be discarded).
  Index durable_index() const { return unstable_.jump() ? 0 : unstable_.offset() - 1; }

  Index committed() const { return committed_; }
  Index applied() const { return applied_; }
  const LogUnstable& unstable() const { return unstable_; }
  RaftLogStorage& storage() const { return *storage_; }

 private:
  RaftLogStorage* storage_;
  LogUnstable unstable_;
  Index committed_;
  Index applied_;
  bool keep_conflicting_suffix_ = false;
};

}  // namespace sluice::raft
