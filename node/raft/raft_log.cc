#include "node/raft/raft_log.h"

#include <algorithm>
#include <string>

namespace sluice::raft {

RaftLog::RaftLog(RaftLogStorage& storage)
    : storage_(&storage),
      unstable_(storage.last_index() + 1),
      committed_(storage.first_index() - 1),
      applied_(storage.first_index() - 1) {}

Index RaftLog::first_index() const {
  if (auto index = unstable_.maybe_first_index()) return *index;
  return storage_->first_index();
}

Index RaftLog::last_index() const {
  if (auto index = unstable_.maybe_last_index()) return *index;
  return storage_->last_index();
}

Term RaftLog::last_term() const {
  Result<Term> term = this->term(last_index());
  // The storage contract: the term of the last entry (and of the base) is always readable.
  SLUICE_ASSERT(term.ok());
  return *term;
}

Result<Term> RaftLog::term(Index index) const {
  const Index base = first_index() - 1;
  if (index < base) return Status(Errc::compacted, "index " + std::to_string(index) + " below the log base");
  if (index > last_index()) return Status(Errc::unavailable, "index " + std::to_string(index) + " beyond the log");
  if (auto term = unstable_.maybe_term(index)) return *term;
  return storage_->term(index);
}

bool RaftLog::match_term(Index index, Term term) const {
  Result<Term> found = this->term(index);
  return found.ok() && *found == term;
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term, Index commit,
                                           std::span<const Entry> entries) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  const Index last_new = prev_index + entries.size();
  const Index conflict = find_conflict(entries);
  if (conflict != 0) {
    // Committed entries never conflict; if they did, an earlier decision would be undone.
    SLUICE_ASSERT_GT(conflict, committed_);
    // Planted bug: what conflicts stays; only entries past our last index are taken.
    const Index from = keep_conflicting_suffix_ ? std::max(conflict, last_index() + 1) : conflict;
    if (from <= last_new) append(entries.subspan(from - (prev_index + 1)));
  }
  commit_to(std::min(commit, last_new));
  return last_new;
}

Index RaftLog::append(std::span<const Entry> entries) {
  if (entries.empty()) return last_index();
  SLUICE_ASSERT_GE(entries.front().index - 1, committed_);
  unstable_.truncate_and_append(entries);
  return last_index();
}

Index RaftLog::find_conflict(std::span<const Entry> entries) const {
  for (const Entry& entry : entries) {
    if (!match_term(entry.index, entry.term)) return entry.index;
  }
  return 0;
}

std::pair<Index, Term> RaftLog::find_conflict_by_term(Index index, Term term) const {
  for (;;) {
    Result<Term> found = this->term(index);
    if (!found.ok()) return {index, 0};
    if (*found <= term || index == 0) return {index, *found};
    --index;
  }
}

bool RaftLog::is_up_to_date(Index last_index, Term last_term) const {
  const Term our_term = this->last_term();
  return last_term > our_term || (last_term == our_term && last_index >= this->last_index());
}

Result<std::vector<Entry>> RaftLog::slice(Index lo, Index hi, uint64_t bytes_max) const {
  SLUICE_ASSERT_LE(lo, hi);
  if (lo < first_index()) return Status(Errc::compacted, "entry " + std::to_string(lo) + " below the log start");
  SLUICE_ASSERT_LE(hi, last_index() + 1);
  std::vector<Entry> out;
  if (lo == hi) return out;
  const Index offset = unstable_.offset();
  if (lo < offset) {
    const Index stable_hi = std::min(hi, offset);
    SLUICE_ASSIGN_OR_RETURN(out, storage_->entries(lo, stable_hi, bytes_max));
    if (out.size() < stable_hi - lo) return out;  // the byte limit stopped it
  }
  if (hi > offset) {
    uint64_t bytes = 0;
    for (const Entry& entry : out) bytes += entry_bytes(entry);
    for (const Entry& entry : unstable_.slice(std::max(lo, offset), hi)) {
      bytes += entry_bytes(entry);
      if (!out.empty() && bytes > bytes_max) break;
      out.push_back(entry);
    }
  }
  return out;
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;
  SLUICE_ASSERT_LE(index, last_index());
  committed_ = index;
}

bool RaftLog::maybe_commit(Index index, Term term) {
  if (index <= committed_ || !match_term(index, term)) return false;
  commit_to(index);
  return true;
}

void RaftLog::applied_to(Index index) {
  SLUICE_ASSERT_LE(applied_, index);
  SLUICE_ASSERT_LE(index, committed_);
  applied_ = index;
}

bool RaftLog::has_next_committed_entries() const { return committed_ > std::max(applied_, first_index() - 1); }

Result<std::vector<Entry>> RaftLog::next_committed_entries(uint64_t bytes_max) const {
  const Index lo = std::max(applied_ + 1, first_index());
  if (lo > committed_) return std::vector<Entry>();
  return slice(lo, committed_ + 1, bytes_max);
}

void RaftLog::restore(const LogStartJump& jump) {
  SLUICE_ASSERT_GT(jump.index, committed_);
  committed_ = jump.index;
  applied_ = jump.index;
  unstable_.restore(jump);
}

}  // namespace sluice::raft
