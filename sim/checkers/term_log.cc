#include "sim/checkers/term_log.h"

#include <algorithm>

#include "node/base/assert.h"

namespace sluice::checkers {

raft::Term TermLog::term_at(raft::Index index) const {
  SLUICE_ASSERT(holds(index));
  if (index + 1 == first_) return base_term_;
  auto after = std::upper_bound(runs_.begin(), runs_.end(), index,
                                [](raft::Index i, const Run& run) { return i < run.start; });
  return std::prev(after)->term;
}

void TermLog::cut(raft::Index from) {
  SLUICE_ASSERT_GE(from, first_);
  if (from > last_) return;
  while (!runs_.empty() && runs_.back().start >= from) runs_.pop_back();
  last_ = from - 1;
}

void TermLog::append(raft::Index index, raft::Term term) {
  SLUICE_ASSERT_EQ(index, last_ + 1);
  if (runs_.empty() || runs_.back().term != term) runs_.push_back(Run{index, term});
  last_ = index;
}

bool TermLog::truncate_and_append(std::span<const raft::Entry> entries) {
  if (entries.empty()) return false;
  const raft::Index from = entries.front().index;
  SLUICE_ASSERT_GE(from, first_);
  SLUICE_ASSERT_LE(from, last_ + 1);
  bool replaced = last_ > entries.back().index;
  for (const raft::Entry& entry : entries) {
    if (entry.index > last_) break;
    if (term_at(entry.index) != entry.term) {
      replaced = true;
      break;
    }
  }
  cut(from);
  for (const raft::Entry& entry : entries) append(entry.index, entry.term);
  return replaced;
}

bool TermLog::reset(raft::Index base_index, raft::Term base_term) {
  const bool changed = last_ > base_index || !holds(base_index) || term_at(base_index) != base_term;
  *this = TermLog(base_index, base_term);
  return changed;
}

void TermLog::compact(raft::Index first) {
  if (first <= first_) return;
  SLUICE_ASSERT_LE(first, last_ + 1);
  base_term_ = term_at(first - 1);
  auto keep = std::upper_bound(runs_.begin(), runs_.end(), first,
                               [](raft::Index i, const Run& run) { return i < run.start; });
  if (keep != runs_.begin()) --keep;  // the run holding `first` stays, starting at `first`
  runs_.erase(runs_.begin(), keep);
  if (!runs_.empty()) runs_.front().start = std::max(runs_.front().start, first);
  if (first > last_) runs_.clear();
  first_ = first;
}

raft::Index TermLog::first_difference(const TermLog& other, raft::Index from) const {
  const raft::Index end = std::min(last_, other.last_);
  // Neither log changes term inside [index, next), so comparing at `index` settles the stretch:
  // the walk costs the number of runs, not of entries.
  raft::Index index = std::max({from, first_ - 1, other.first_ - 1});
  while (index <= end) {
    if (term_at(index) != other.term_at(index)) return index;
    raft::Index next = end + 1;
    for (const TermLog* log : {this, &other}) {
      auto after = std::upper_bound(log->runs_.begin(), log->runs_.end(), index,
                                    [](raft::Index i, const Run& run) { return i < run.start; });
      if (after != log->runs_.end()) next = std::min(next, after->start);
    }
    index = next;
  }
  return end + 1;
}

}  // namespace sluice::checkers
