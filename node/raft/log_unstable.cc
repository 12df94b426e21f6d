#include "node/raft/log_unstable.h"

namespace sluice::raft {

std::optional<Index> LogUnstable::maybe_first_index() const {
  if (jump_) return jump_->index + 1;
  return std::nullopt;
}

std::optional<Index> LogUnstable::maybe_last_index() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (jump_) return jump_->index;
  return std::nullopt;
}

std::optional<Term> LogUnstable::maybe_term(Index index) const {
  if (index < offset_) {
    if (jump_ && jump_->index == index) return jump_->term;
    return std::nullopt;
  }
  if (index - offset_ >= entries_.size()) return std::nullopt;
  return entries_[index - offset_].term;
}

void LogUnstable::stable_to(Index index, Term term) {
  const std::optional<Term> current = maybe_term(index);
  if (!current || *current != term || index < offset_) return;
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index + 1 - offset_));
  offset_ = index + 1;
}

void LogUnstable::stable_jump_to(Index index) {
  if (jump_ && jump_->index == index) jump_.reset();
}

void LogUnstable::restore(const LogStartJump& jump) {
  offset_ = jump.index + 1;
  entries_.clear();
  jump_ = jump;
}

void LogUnstable::truncate_and_append(std::span<const Entry> entries) {
  if (entries.empty()) return;
  const Index first = entries.front().index;
  if (first == offset_ + entries_.size()) {
    // Continues the tail.
  } else if (first <= offset_) {
    // Replaces the whole tail (and hides the stable suffix from `first` on until it is rewritten).
    SLUICE_ASSERT(!jump_ || first > jump_->index);
    offset_ = first;
    entries_.clear();
  } else {
    SLUICE_ASSERT_LT(first, offset_ + entries_.size());
    entries_.resize(first - offset_);
  }
  entries_.insert(entries_.end(), entries.begin(), entries.end());
}

std::span<const Entry> LogUnstable::slice(Index lo, Index hi) const {
  SLUICE_ASSERT_LE(offset_, lo);
  SLUICE_ASSERT_LE(lo, hi);
  SLUICE_ASSERT_LE(hi, offset_ + entries_.size());
  return std::span<const Entry>(entries_).subspan(lo - offset_, hi - lo);
}

}  // namespace sluice::raft
