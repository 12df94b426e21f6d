#include "node/raft/progress.h"

#include <algorithm>

namespace sluice::raft {

void Inflights::add(Index last_index, uint64_t bytes) {
  SLUICE_ASSERT(!full());
  if (!records_.empty()) SLUICE_ASSERT_GT(last_index, records_.back().last_index);
  records_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::free_le(Index index) {
  while (!records_.empty() && records_.front().last_index <= index) free_first_one();
}

void Inflights::free_first_one() {
  if (records_.empty()) return;
  bytes_ -= records_.front().bytes;
  records_.pop_front();
}

void Inflights::reset() {
  records_.clear();
  bytes_ = 0;
}

std::string_view to_string(ProgressState state) {
  switch (state) {
    case ProgressState::probe: return "probe";
    case ProgressState::replicate: return "replicate";
    case ProgressState::jump: return "jump";
  }
  return "unknown";
}

void Progress::become_probe() {
  // After a jump the follower's log restarts after jump_index; probing continues from there.
  if (state == ProgressState::jump) {
    next = std::max(match + 1, jump_index + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::probe;
  jump_index = 0;
  probe_sent = false;
  inflights.reset();
}

void Progress::become_replicate() {
  state = ProgressState::replicate;
  next = match + 1;
  jump_index = 0;
  probe_sent = false;
  inflights.reset();
}

void Progress::become_jump(Index index) {
  state = ProgressState::jump;
  jump_index = index;
  next = index + 1;
  probe_sent = false;
  inflights.reset();
}

void Progress::forget_match(Index last) {
  SLUICE_ASSERT_LT(last, match);
  match = last;
  become_probe();
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (index > match) {
    match = index;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  switch (state) {
    case ProgressState::replicate:
      // Everything up to match is acknowledged; a rejection at or below it is old news.
      if (rejected <= match) return false;
      next = match + 1;
      return true;
    case ProgressState::probe:
      // Only the answer to the outstanding probe counts.
      if (next == 0 || next - 1 != rejected) return false;
      next = std::max(std::min(rejected, hint + 1), match + 1);
      probe_sent = false;
      return true;
    case ProgressState::jump:
      return false;
  }
  return false;
}

void Progress::sent_entries(Index last_index, uint64_t bytes) {
  switch (state) {
    case ProgressState::replicate:
      next = last_index + 1;
      inflights.add(last_index, bytes);
      break;
    case ProgressState::probe:
      probe_sent = true;
      break;
    case ProgressState::jump:
      SLUICE_UNREACHABLE();
  }
}

bool Progress::paused() const {
  switch (state) {
    case ProgressState::probe: return probe_sent;
    case ProgressState::replicate: return inflights.full();
    case ProgressState::jump: return true;
  }
  return true;
}

std::string Progress::to_string() const {
  std::string text = std::string(raft::to_string(state)) + " match=" + std::to_string(match) +
                     " next=" + std::to_string(next);
  if (is_learner) text += " learner";
  if (state == ProgressState::jump) text += " jump=" + std::to_string(jump_index);
  if (probe_sent) text += " paused";
  if (inflights.count() > 0) {
    text += " inflight=" + std::to_string(inflights.count()) + "/" + std::to_string(inflights.bytes()) + "B";
    if (inflights.full()) text += "[full]";
  }
  if (!recent_active) text += " inactive";
  return text;
}

}  // namespace sluice::raft
