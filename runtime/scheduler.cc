#include "runtime/scheduler.h"

#include <boost/context/protected_fixedsize_stack.hpp>
#include <map>
#include <utility>
#include <vector>

#include "node/base/assert.h"
#include "runtime/fiber_sanitizer.h"

namespace sluice::runtime {

namespace ctx = boost::context;

namespace {
// Freed fiber stacks kept for reuse, per thread (every scheduler of a thread runs on it alone).
// Mapping a guard-paged stack costs an mmap, an mprotect, page faults and later an munmap: in the
// simulator, where fibers come and go by the million and a crashed node frees all of its stacks,
// that was a fifth of the run time. A cache of memory only: which stack a fiber gets changes
// nothing it can observe.
class StackPool {
 public:
  static constexpr size_t kStacksMax = 512;

  ~StackPool() {
    for (auto& [bytes, stacks] : free_) {
      for (ctx::stack_context& stack : stacks) ctx::protected_fixedsize_stack(bytes).deallocate(stack);
    }
  }
  ctx::stack_context take(size_t bytes) {
    std::vector<ctx::stack_context>& stacks = free_[bytes];
    if (stacks.empty()) return ctx::protected_fixedsize_stack(bytes).allocate();
    ctx::stack_context stack = stacks.back();
    stacks.pop_back();
    --count_;
    return stack;
  }
  void give(size_t bytes, ctx::stack_context& stack) noexcept {
    if (count_ >= kStacksMax) return ctx::protected_fixedsize_stack(bytes).deallocate(stack);
    free_[bytes].push_back(stack);
    ++count_;
  }

 private:
  std::map<size_t, std::vector<ctx::stack_context>> free_;  // by stack size
  size_t count_ = 0;
};

StackPool& stack_pool() {
  thread_local StackPool pool;
  return pool;
}

// A guard-paged stack from the pool that also records where it is, for the sanitizer annotations.
struct RecordingStack {
  size_t bytes;
  ctx::stack_context* record;
  ctx::stack_context allocate() {
    *record = stack_pool().take(bytes);
    return *record;
  }
  void deallocate(ctx::stack_context& stack) noexcept { stack_pool().give(bytes, stack); }
};
}  // namespace

struct Scheduler::Fiber {
  FiberId id = 0;
  FiberState state = FiberState::ready;
  uint64_t generation = 0;  // bumped on every wake: older tokens go stale
  bool cancel_requested = false;
  bool started = false;
  UniqueFunction<void()> body;
  std::shared_ptr<TaskState> task;
  ctx::stack_context stack;  // for sanitizer annotations
  void* fake_stack = nullptr;
  ctx::fiber context;

  const void* stack_bottom() const { return static_cast<const char*>(stack.sp) - stack.size; }
};

Scheduler::Scheduler(TimerSource& timers, size_t stack_bytes) : timers_(timers), stack_bytes_(stack_bytes) {}

Scheduler::~Scheduler() { shutdown(); }

std::shared_ptr<TaskState> Scheduler::spawn(std::string_view name, UniqueFunction<void()> body) {
  auto task = std::make_shared<TaskState>();
  task->name = std::string(name);
  if (shutting_down_) {
    task->finished = true;
    return task;
  }
  SLUICE_ASSERT_LT(fibers_.size(), kFibersMax);
  auto fiber = std::make_unique<Fiber>();
  Fiber* raw = fiber.get();
  raw->id = next_id_++;
  raw->body = std::move(body);
  raw->task = task;
  task->id = raw->id;
  raw->context = ctx::fiber(std::allocator_arg, RecordingStack{stack_bytes_, &raw->stack},
                            [this, raw](ctx::fiber&& scheduler_context) {
                              sanitizer_finish_switch(nullptr, &scheduler_stack_bottom_, &scheduler_stack_bytes_);
                              scheduler_context_ = std::move(scheduler_context);
                              run_body(*raw);
                              sanitizer_start_switch(nullptr, scheduler_stack_bottom_, scheduler_stack_bytes_);
                              return std::move(scheduler_context_);
                            });
  fibers_.emplace(raw->id, std::move(fiber));
  ready_.push_back(raw);
  return task;
}

void Scheduler::run_body(Fiber& fiber) {
  fiber.started = true;
  if (shutting_down_) return;  // resumed by shutdown() only to end: the body never runs
  try {
    fiber.body();
  } catch (const ctx::detail::forced_unwind&) {
    // shutdown() is unwinding this stack; it ends here for good.
    sanitizer_start_switch(nullptr, scheduler_stack_bottom_, scheduler_stack_bytes_);
    throw;
  }
  finish(fiber);
}

void Scheduler::finish(Fiber& fiber) {
  fiber.state = FiberState::finished;
  fiber.body = {};  // release captures while the fiber still runs
  fiber.task->finished = true;
  fiber.task->joiners.wake_all(*this);
}

size_t Scheduler::run_ready(size_t resumes_max) {
  SLUICE_ASSERT(!in_fiber());
  size_t resumes = 0;
  while (!ready_.empty() && resumes < resumes_max) {
    Fiber* fiber = ready_.front();
    ready_.pop_front();
    resume(*fiber);
    ++resumes;
  }
  return resumes;
}

void Scheduler::resume(Fiber& fiber) {
  SLUICE_ASSERT(fiber.state == FiberState::ready);
  if (resume_hook_) resume_hook_(fiber.id);
  ++resumes_total_;
  fiber.state = FiberState::running;
  current_ = &fiber;
  sanitizer_start_switch(&scheduler_fake_stack_, fiber.stack_bottom(), fiber.stack.size);
  fiber.context = std::move(fiber.context).resume();
  sanitizer_finish_switch(scheduler_fake_stack_, nullptr, nullptr);
  current_ = nullptr;
  if (fiber.state == FiberState::finished) {
    SLUICE_ASSERT(!fiber.context);
    fibers_.erase(fiber.id);  // frees the stack: the fiber has switched away for good
  }
}

void Scheduler::switch_to_scheduler() {
  Fiber& fiber = current_fiber();
  // The guard also runs when shutdown() unwinds this fiber: the resume below then throws.
  struct Arrived {
    Scheduler& scheduler;
    Fiber& fiber;
    ~Arrived() {
      sanitizer_finish_switch(fiber.fake_stack, &scheduler.scheduler_stack_bottom_, &scheduler.scheduler_stack_bytes_);
    }
  };
  sanitizer_start_switch(&fiber.fake_stack, scheduler_stack_bottom_, scheduler_stack_bytes_);
  Arrived arrived{*this, fiber};
  scheduler_context_ = std::move(scheduler_context_).resume();
}

Scheduler::Fiber& Scheduler::current_fiber() const {
  SLUICE_ASSERT(current_ != nullptr);
  return *current_;
}

FiberId Scheduler::current_id() const { return current_fiber().id; }

std::string_view Scheduler::current_name() const { return current_fiber().task->name; }

WakeToken Scheduler::current_token() const {
  const Fiber& fiber = current_fiber();
  return WakeToken{fiber.id, fiber.generation};
}

void Scheduler::park() {
  Fiber& fiber = current_fiber();
  if (shutting_down_ || fiber.cancel_requested) {
    // A cancelled fiber must not sleep: every blocking call returns `cancelled` promptly.
    return;
  }
  fiber.state = FiberState::parked;
  switch_to_scheduler();
  SLUICE_ASSERT(fiber.state == FiberState::running);
}

void Scheduler::park_until(Instant deadline) {
  if (deadline != kInstantMax) timers_.wake_at(deadline, current_token());
  park();
}

void Scheduler::yield() {
  Fiber& fiber = current_fiber();
  if (shutting_down_) return;
  fiber.state = FiberState::ready;
  ready_.push_back(&fiber);
  switch_to_scheduler();
}

bool Scheduler::cancel_requested() const { return shutting_down_ || current_fiber().cancel_requested; }

Status Scheduler::sleep_until(Instant deadline) {
  while (timers_.now() < deadline) {
    if (cancel_requested()) return Status(Errc::cancelled, "sleep cancelled");
    park_until(deadline);
  }
  return cancel_requested() ? Status(Errc::cancelled, "sleep cancelled") : Status();
}

Scheduler::Fiber* Scheduler::find(FiberId id) {
  auto it = fibers_.find(id);
  return it == fibers_.end() ? nullptr : it->second.get();
}

bool Scheduler::wake(WakeToken token) {
  if (shutting_down_) return false;
  Fiber* fiber = find(token.fiber);
  if (fiber == nullptr || fiber->state != FiberState::parked || fiber->generation != token.generation) {
    return false;
  }
  ++fiber->generation;
  fiber->state = FiberState::ready;
  ready_.push_back(fiber);
  return true;
}

bool Scheduler::token_live(WakeToken token) const {
  auto it = fibers_.find(token.fiber);
  if (it == fibers_.end()) return false;
  const Fiber& fiber = *it->second;
  return fiber.state != FiberState::finished && fiber.generation == token.generation;
}

void Scheduler::cancel(FiberId id) {
  Fiber* fiber = find(id);
  if (fiber == nullptr || fiber->state == FiberState::finished) return;
  fiber->cancel_requested = true;
  wake(WakeToken{fiber->id, fiber->generation});
}

void Scheduler::shutdown() {
  SLUICE_ASSERT(!in_fiber());
  if (shutting_down_) return;
  shutting_down_ = true;
  ready_.clear();
  // Destroying a started Boost.Context fiber unwinds its stack with a forced_unwind exception,
  // so destructors on that stack run; a fiber that never ran is resumed once and returns at once.
  // current_ is set so code on the stack may ask who it is.
  while (!fibers_.empty()) {
    auto node = fibers_.extract(fibers_.begin());
    Fiber& fiber = *node.mapped();
    current_ = &fiber;
    sanitizer_start_switch(&scheduler_fake_stack_, fiber.stack_bottom(), fiber.stack.size);
    if (fiber.started) {
      fiber.context = ctx::fiber();
    } else {
      fiber.context = std::move(fiber.context).resume();
    }
    sanitizer_finish_switch(scheduler_fake_stack_, nullptr, nullptr);
    current_ = nullptr;
    fiber.task->finished = true;
  }
}

// --- WaitList ---

WaitNode::WaitNode(WaitList& list, WakeToken token) : list_(&list), token_(token) {
  prev_ = list.tail_;
  if (list.tail_ != nullptr) {
    list.tail_->next_ = this;
  } else {
    list.head_ = this;
  }
  list.tail_ = this;
}

WaitNode::~WaitNode() { unlink(); }

void WaitNode::unlink() {
  if (list_ == nullptr) return;
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    list_->head_ = next_;
  }
  if (next_ != nullptr) {
    next_->prev_ = prev_;
  } else {
    list_->tail_ = prev_;
  }
  list_ = nullptr;
  prev_ = next_ = nullptr;
}

WaitList::~WaitList() {
  // A waiter outliving what it waits on is a lifetime bug (fibers must be shut down first).
  SLUICE_ASSERT(empty());
}

FiberId WaitList::wake_one(Scheduler& scheduler) {
  while (head_ != nullptr) {
    WaitNode* node = head_;
    WakeToken token = node->token_;
    node->unlink();
    if (scheduler.wake(token)) return token.fiber;
  }
  return 0;
}

void WaitList::wake_all(Scheduler& scheduler) {
  while (head_ != nullptr) wake_one(scheduler);
}

}  // namespace sluice::runtime
