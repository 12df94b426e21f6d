// A Raft log mirrored as runs of terms: the term of every index, without the entries. The entries
// themselves live once per group in the checker's registry, keyed by (index, term), which Raft's
// Log Matching makes a unique name for an entry. A log of thousands of entries with a handful of
// leader changes is a handful of runs, so copying or comparing logs costs next to nothing.
#pragma once

#include <span>
#include <vector>

#include "node/raft/types.h"

namespace sluice::checkers {

class TermLog {
 public:
  // An empty log after base `base_index`/`base_term` (what a log-start jump leaves).
  TermLog(raft::Index base_index = 0, raft::Term base_term = 0)
      : first_(base_index + 1), last_(base_index), base_term_(base_term) {}

  raft::Index first() const { return first_; }
  raft::Index last() const { return last_; }  // first() - 1 when empty
  // Defined on [first() - 1, last()]: the base keeps its term.
  bool holds(raft::Index index) const { return index + 1 >= first_ && index <= last_; }
  raft::Term term_at(raft::Index index) const;

  // Replaces everything from entries[0].index on (which must be in [first(), last() + 1]) with
  // `entries`. True when an entry the log held was removed or got another term.
  bool truncate_and_append(std::span<const raft::Entry> entries);
  void append(raft::Index index, raft::Term term);
  // Log-start jump. True when entries were removed or the base changed.
  bool reset(raft::Index base_index, raft::Term base_term);
  // Retention: the log now starts at `first` (no-op when it already starts there or later).
  void compact(raft::Index first);

  // The lowest index in [from, last()] at which the two logs' terms differ, or one ends
  // (min(last) + 1 when they agree that far).
  raft::Index first_difference(const TermLog& other, raft::Index from) const;

 private:
  struct Run {
    raft::Index start = 0;  // the run covers [start, next run's start) or [start, last_]
    raft::Term term = 0;
  };

  void cut(raft::Index from);  // drops [from, last_]

  raft::Index first_;
  raft::Index last_;
  raft::Term base_term_;
  std::vector<Run> runs_;  // ascending starts; runs_[0].start == first_ when not empty
};

}  // namespace sluice::checkers
