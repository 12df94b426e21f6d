// The tail of the log that is not durable yet: entries appended since the last Ready was
// persisted, and a log-start jump the driver has not applied yet. Indexes >= offset() are served
// from here even if stable storage still holds an older (to be overwritten) suffix.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "node/raft/storage.h"
#include "node/raft/types.h"

namespace sluice::raft {

class LogUnstable {
 public:
  explicit LogUnstable(Index offset) : offset_(offset) {}

  // With a pending jump, the log starts after the jump index whatever storage holds.
  std::optional<Index> maybe_first_index() const;
  std::optional<Index> maybe_last_index() const;
  std::optional<Term> maybe_term(Index index) const;

  // Entries up to `index` are durable, provided the entry there still has `term` (it may have
  // been replaced meanwhile, and then the newer one is not durable).
  void stable_to(Index index, Term term);
  // The driver applied the jump to `index`.
  void stable_jump_to(Index index);
  void restore(const LogStartJump& jump);
  // `entries` must start at or before the end of the log; a conflicting suffix is replaced.
  void truncate_and_append(std::span<const Entry> entries);
  // Entries [lo, hi) with offset() <= lo <= hi <= offset() + entries().size().
  std::span<const Entry> slice(Index lo, Index hi) const;

  Index offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::optional<LogStartJump>& jump() const { return jump_; }

 private:
  Index offset_;  // index of entries_[0]
  std::vector<Entry> entries_;
  std::optional<LogStartJump> jump_;
};

}  // namespace sluice::raft
