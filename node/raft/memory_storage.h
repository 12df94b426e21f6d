// RaftLogStorage in memory: for tests and the simulator's reference. Writes model what the
// driver does with a Ready (append, jump, retention) and are all checked.
#pragma once

#include <span>
#include <vector>

#include "node/raft/storage.h"

namespace sluice::raft {

class MemoryLogStorage final : public RaftLogStorage {
 public:
  MemoryLogStorage() = default;
  // A new group member's storage: empty log, bootstrap configuration.
  explicit MemoryLogStorage(ConfState bootstrap) : base_conf_(bootstrap) { state_.conf_state = std::move(bootstrap); }

  InitialState initial_state() override { return state_; }
  Index first_index() override { return base_index_ + 1; }
  Index last_index() override { return base_index_ + entries_.size(); }
  Result<Term> term(Index index) override;
  Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t bytes_max) override;
  ConfState base_conf_state() override { return base_conf_; }

  // Appends entries that continue the log at or before its end; entries from the first one's
  // index on are replaced (a follower's conflicting suffix). Indexes must be consecutive and
  // above the base.
  Status append(std::span<const Entry> entries);
  // Log-start jump: discards the whole log; it restarts empty after base `index`/`term`, where
  // the membership was `base_conf`.
  void reset_to(Index index, Term term, ConfState base_conf);
  // Retention: drops entries up to `index` (<= last_index), which becomes the base; the base
  // membership becomes the result of the last conf-change entry dropped, if any.
  Status trim_to(Index index);

  void set_hard_state(const HardState& state) { state_.hard_state = state; }
  void set_conf_state(const ConfState& state) { state_.conf_state = state; }

  Index base_index() const { return base_index_; }
  Term base_term() const { return base_term_; }
  const std::vector<Entry>& all_entries() const { return entries_; }

 private:
  InitialState state_;
  Index base_index_ = 0;
  Term base_term_ = 0;
  ConfState base_conf_;
  std::vector<Entry> entries_;  // entries_[i] has index base_index_ + 1 + i
};

}  // namespace sluice::raft
