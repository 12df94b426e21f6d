#include "runtime/sync.h"

#include <array>
#include <optional>

namespace sluice::runtime {

Result<size_t> select(Scheduler& scheduler, std::initializer_list<Selectable*> sources, Instant deadline) {
  SLUICE_ASSERT_GT(sources.size(), 0u);
  while (true) {
    size_t index = 0;
    for (Selectable* source : sources) {
      if (source->receive_ready()) return index;
      ++index;
    }
    if (scheduler.cancel_requested()) return Status(Errc::cancelled, "select cancelled");
    if (scheduler.timers().now() >= deadline) return Status(Errc::timeout, "deadline passed");
    // One park, registered with every source: whichever fires first wakes us, the rest go stale.
    // The nodes live in a small fixed array on this stack and unlink on scope exit (also when a
    // shutdown unwinds this fiber).
    constexpr size_t kSourcesMax = 16;
    SLUICE_ASSERT_LE(sources.size(), kSourcesMax);
    WakeToken token = scheduler.current_token();
    std::array<std::optional<WaitNode>, kSourcesMax> nodes;
    size_t linked = 0;
    for (Selectable* source : sources) nodes[linked++].emplace(source->receive_waiters(), token);
    scheduler.park_until(deadline);
  }
}

Status Mutex::lock(Instant deadline) {
  // Unlocked means no live waiter was queued at the last unlock, so taking it is fair.
  if (!locked_) {
    locked_ = true;
    return Status();
  }
  FiberId self = scheduler_.current_id();
  while (true) {
    if (handed_to_ == self) {
      handed_to_ = 0;
      return Status();
    }
    if (scheduler_.cancel_requested()) return Status(Errc::cancelled, "lock cancelled");
    if (scheduler_.timers().now() >= deadline) return Status(Errc::timeout, "deadline passed");
    WaitNode node(waiters_, scheduler_.current_token());
    scheduler_.park_until(deadline);
  }
}

bool Mutex::try_lock() {
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() {
  SLUICE_ASSERT(locked_);
  SLUICE_ASSERT_EQ(handed_to_, 0u);
  FiberId next = waiters_.wake_one(scheduler_);
  if (next != 0) {
    handed_to_ = next;  // stays locked: ownership moves to `next`
  } else {
    locked_ = false;
  }
}

}  // namespace sluice::runtime
