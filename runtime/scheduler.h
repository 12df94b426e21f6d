// The fiber scheduler shared by both runtimes. It owns fibers (Boost.Context stacks), a FIFO ready
// queue, and parking with generation-checked wake tokens. It knows nothing about I/O or clocks:
// each runtime feeds it wake-ups (timers, sockets, the simulator's event queue) through wake().
//
// Wake tokens make every race benign: a token names one park of one fiber; waking a fiber that has
// already been woken (by a timer, another channel, a cancel) is a no-op, so a parked fiber can be
// registered with many wakers at once (select, deadlines) without bookkeeping at the wakers.
//
// Crash semantics: shutdown() destroys every fiber, which unwinds its stack (RAII destructors run)
// and frees it. While shutting down, park() returns at once and every fiber reads as cancelled, so
// code in destructors cannot block.
#pragma once

#include <boost/context/fiber.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "node/base/unique_function.h"
#include "runtime/errors.h"
#include "runtime/time.h"

namespace sluice::runtime {

using FiberId = uint64_t;

struct WakeToken {
  FiberId fiber = 0;
  uint64_t generation = 0;
};

// Implemented by each runtime: the clock and one-shot timers the scheduler's deadlines use.
class TimerSource {
 public:
  virtual ~TimerSource() = default;
  virtual Instant now() = 0;
  // Wakes `token` at or after `deadline`; a stale token is ignored when the timer fires.
  virtual void wake_at(Instant deadline, WakeToken token) = 0;
};

struct TaskState;

class Scheduler {
 public:
  static constexpr size_t kStackBytesDefault = 256 * 1024;
  static constexpr size_t kFibersMax = 1'000'000;

  explicit Scheduler(TimerSource& timers, size_t stack_bytes = kStackBytesDefault);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Creates a fiber, ready to run. Callable from inside or outside fibers. During shutdown it
  // creates nothing and returns a task that reads as finished.
  std::shared_ptr<TaskState> spawn(std::string_view name, UniqueFunction<void()> body);

  // Runs ready fibers until none is ready, or until `resumes_max` resumes were made (a reactor
  // passes a bound so fibers that keep yielding cannot starve its I/O polling). Call only from
  // outside fibers. Returns resumes made.
  size_t run_ready(size_t resumes_max = SIZE_MAX);
  bool has_ready() const { return !ready_.empty(); }

  // --- inside a fiber ---
  bool in_fiber() const { return current_ != nullptr; }
  FiberId current_id() const;
  std::string_view current_name() const;
  // The token that wakes the calling fiber's next park.
  WakeToken current_token() const;
  // Suspends the calling fiber until its token is woken (or at once during shutdown). Callers
  // re-check their own condition afterwards: a wake means "look again", nothing more.
  void park();
  // As park(), and also arms a timer for `deadline` (none when deadline is kInstantMax).
  void park_until(Instant deadline);
  // Requeues the calling fiber behind every ready fiber.
  void yield();
  // True once the calling fiber was cancelled or the scheduler is shutting down.
  bool cancel_requested() const;
  Status sleep_until(Instant deadline);

  // --- anywhere ---
  // Wakes the fiber if the token is current and the fiber is parked; returns whether it woke.
  bool wake(WakeToken token);
  // False once `token` can never wake its fiber again (woken since, or the fiber is gone), so a
  // runtime may drop the timers armed for it instead of keeping them until their deadlines.
  bool token_live(WakeToken token) const;
  // Marks the fiber cancelled and wakes it if parked. Unknown or finished ids are ignored.
  void cancel(FiberId id);
  // Destroys every fiber, unwinding stacks. Idempotent; the scheduler stays usable only for
  // destruction afterwards.
  void shutdown();
  bool shutting_down() const { return shutting_down_; }

  TimerSource& timers() { return timers_; }
  size_t fiber_count() const { return fibers_.size(); }
  uint64_t resumes_total() const { return resumes_total_; }
  // Called before every resume; the simulator folds it into the trace hash.
  void set_resume_hook(std::function<void(FiberId)> hook) { resume_hook_ = std::move(hook); }

 private:
  enum class FiberState { ready, running, parked, finished };
  struct Fiber;

  void resume(Fiber& fiber);
  void run_body(Fiber& fiber);
  void switch_to_scheduler();
  void finish(Fiber& fiber);
  Fiber* find(FiberId id);
  Fiber& current_fiber() const;

  TimerSource& timers_;
  size_t stack_bytes_;
  std::map<FiberId, std::unique_ptr<Fiber>> fibers_;  // ordered: deterministic shutdown order
  std::deque<Fiber*> ready_;
  Fiber* current_ = nullptr;
  boost::context::fiber scheduler_context_;  // where a running fiber returns to
  // The scheduler's own stack, for AddressSanitizer's fiber-switch annotations.
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_stack_bottom_ = nullptr;
  size_t scheduler_stack_bytes_ = 0;
  FiberId next_id_ = 1;
  uint64_t resumes_total_ = 0;
  bool shutting_down_ = false;
  std::function<void(FiberId)> resume_hook_;
};

// Intrusive list of parked fibers waiting for one condition. Nodes live on the waiters' stacks and
// unlink themselves when they go out of scope, so a timed-out or cancelled waiter leaves nothing
// behind.
class WaitList;

class WaitNode {
 public:
  WaitNode(WaitList& list, WakeToken token);
  ~WaitNode();
  WaitNode(const WaitNode&) = delete;
  WaitNode& operator=(const WaitNode&) = delete;

 private:
  friend class WaitList;
  void unlink();

  WaitList* list_;
  WaitNode* prev_ = nullptr;
  WaitNode* next_ = nullptr;
  WakeToken token_;
};

class WaitList {
 public:
  WaitList() = default;
  ~WaitList();
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  bool empty() const { return head_ == nullptr; }
  // Wakes the first waiter still parked on this wait, dropping stale ones. Returns the id of the
  // fiber it woke, or 0 when none was parked.
  FiberId wake_one(Scheduler& scheduler);
  void wake_all(Scheduler& scheduler);

 private:
  friend class WaitNode;
  WaitNode* head_ = nullptr;
  WaitNode* tail_ = nullptr;
};

// Shared between a Task handle and its fiber.
struct TaskState {
  FiberId id = 0;
  std::string name;
  bool finished = false;
  WaitList joiners;
};

}  // namespace sluice::runtime
