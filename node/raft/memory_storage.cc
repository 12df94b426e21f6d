#include "node/raft/memory_storage.h"

#include <string>

namespace sluice::raft {

Result<Term> MemoryLogStorage::term(Index index) {
  if (index < base_index_) return Status(Errc::compacted, "index " + std::to_string(index) + " below the log base");
  if (index == base_index_) return base_term_;
  if (index > last_index()) return Status(Errc::unavailable, "index " + std::to_string(index) + " beyond the log");
  return entries_[index - base_index_ - 1].term;
}

Result<std::vector<Entry>> MemoryLogStorage::entries(Index lo, Index hi, uint64_t bytes_max) {
  if (lo <= base_index_) return Status(Errc::compacted, "entry " + std::to_string(lo) + " below the log start");
  if (hi > last_index() + 1 || lo > hi) return Status(Errc::unavailable, "range beyond the log");
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (Index index = lo; index < hi; ++index) {
    const Entry& entry = entries_[index - base_index_ - 1];
    bytes += entry_bytes(entry);
    if (!out.empty() && bytes > bytes_max) break;
    out.push_back(entry);
  }
  return out;
}

Status MemoryLogStorage::append(std::span<const Entry> entries) {
  if (entries.empty()) return Status();
  const Index first = entries.front().index;
  if (first <= base_index_ || first > last_index() + 1) {
    return Status(Errc::invalid_argument, "append at " + std::to_string(first) + " leaves a gap or rewrites the base");
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != first + i) return Status(Errc::invalid_argument, "append with non-consecutive indexes");
  }
  entries_.resize(first - base_index_ - 1);
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return Status();
}

void MemoryLogStorage::reset_to(Index index, Term term, ConfState base_conf) {
  entries_.clear();
  base_index_ = index;
  base_term_ = term;
  base_conf_ = std::move(base_conf);
}

Status MemoryLogStorage::trim_to(Index index) {
  if (index <= base_index_) return Status();
  if (index > last_index()) return Status(Errc::unavailable, "trim beyond the last entry");
  const Term term = entries_[index - base_index_ - 1].term;
  for (Index i = index; i > base_index_; --i) {
    const Entry& entry = entries_[i - base_index_ - 1];
    if (entry.type != EntryType::conf_change) continue;
    Result<ConfChangeEntry> decoded = decode_conf_change_entry(entry.data);
    if (!decoded.ok()) continue;  // the core skips an undecodable change too
    base_conf_ = std::move(decoded->result);
    base_conf_.index = i;
    break;
  }
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index - base_index_));
  base_index_ = index;
  base_term_ = term;
  return Status();
}

}  // namespace sluice::raft
