#include "tests/e2e/realfault/delay_queue.h"

#include <algorithm>

#include "node/base/assert.h"

namespace sluice::realfault {

DelayQueue::DelayQueue(const DelayConfig& config, uint64_t seed) : config_(config), prng_(seed) {
  SLUICE_ASSERT(config_.delay_us >= 0 && config_.jitter_us >= 0);
  SLUICE_ASSERT(config_.delay_us + config_.jitter_us <= kDelayUsMax);
  SLUICE_ASSERT(config_.reorder_percent <= 100);
}

bool DelayQueue::arrive(uint32_t id, int64_t now_us) {
  auto next = [this] { return prng_.next(); };
  ++stats_.arrived;
  const uint64_t arrival = arrivals_++;
  // Drawn for every packet, so one packet's fate does not shift the next one's delay.
  const bool at_once = random_below(next, 100) < config_.reorder_percent;
  const int64_t low = std::max<int64_t>(0, config_.delay_us - config_.jitter_us);
  const int64_t delay_us = random_range(next, low, config_.delay_us + config_.jitter_us);
  if (at_once || by_release_.size() >= config_.held_max) {
    ++(at_once ? stats_.sent_at_once : stats_.over_limit);
    if (!held_arrivals_.empty()) ++stats_.reordered;  // it overtakes every held packet
    return false;
  }
  by_release_.emplace(now_us + delay_us, Held{arrival, id});
  held_arrivals_.insert(arrival);
  return true;
}

void DelayQueue::release_first(std::vector<uint32_t>& out) {
  const auto first = by_release_.begin();
  const Held held = first->second;
  by_release_.erase(first);
  if (*held_arrivals_.begin() < held.arrival) ++stats_.reordered;  // an earlier packet is still held
  held_arrivals_.erase(held.arrival);
  ++stats_.delayed;
  out.push_back(held.id);
}

void DelayQueue::due(int64_t now_us, std::vector<uint32_t>& out) {
  while (!by_release_.empty() && by_release_.begin()->first <= now_us) release_first(out);
}

std::optional<int64_t> DelayQueue::next_due_us() const {
  if (by_release_.empty()) return std::nullopt;
  return by_release_.begin()->first;
}

void DelayQueue::drain(std::vector<uint32_t>& out) {
  while (!by_release_.empty()) release_first(out);
}

}  // namespace sluice::realfault
