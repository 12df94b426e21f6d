// Fiber synchronisation primitives, written once over the Scheduler and so shared by both
// runtimes: Task (join/cancel), bounded Channel<T> with close, Event, Oneshot<T>, Mutex,
// WaitGroup and select over channels with a deadline.
//
// Every blocking call takes a deadline (kInstantMax = none) and returns a Status: ok, timeout,
// closed or cancelled. A wake means "look again": each wait loops until its condition holds, its
// deadline passes or its fiber is cancelled, so spurious or stale wakes are harmless.
#pragma once

#include <cstddef>
#include <deque>
#include <initializer_list>
#include <memory>
#include <optional>
#include <utility>

#include "node/base/assert.h"
#include "runtime/errors.h"
#include "runtime/scheduler.h"
#include "runtime/time.h"

namespace sluice::runtime {

// Shared wait loop: waits on `list` until `ready()` holds. Returns ok, timeout or cancelled.
template <typename Ready>
Status wait_until(Scheduler& scheduler, WaitList& list, Instant deadline, Ready ready) {
  while (!ready()) {
    if (scheduler.cancel_requested()) return Status(Errc::cancelled, "wait cancelled");
    if (scheduler.timers().now() >= deadline) return Status(Errc::timeout, "deadline passed");
    WaitNode node(list, scheduler.current_token());
    scheduler.park_until(deadline);
  }
  return Status();
}

// Handle to a spawned fiber. Dropping it detaches the fiber.
class Task {
 public:
  Task() = default;
  Task(Scheduler* scheduler, std::shared_ptr<TaskState> state)
      : scheduler_(scheduler), state_(std::move(state)) {}

  bool valid() const { return state_ != nullptr; }
  bool finished() const { return state_ == nullptr || state_->finished; }
  FiberId id() const { return state_ ? state_->id : 0; }
  // Asks the fiber to stop: its blocking calls return `cancelled` from now on.
  void cancel() {
    if (state_ && !state_->finished) scheduler_->cancel(state_->id);
  }
  // Waits for the fiber to return. Call from a fiber.
  Status join(Instant deadline = kInstantMax) {
    if (finished()) return Status();
    return wait_until(*scheduler_, state_->joiners, deadline, [this] { return state_->finished; });
  }

 private:
  Scheduler* scheduler_ = nullptr;
  std::shared_ptr<TaskState> state_;
};

// Something a fiber can wait on in select().
class Selectable {
 public:
  virtual ~Selectable() = default;
  virtual bool receive_ready() const = 0;  // a receive would not block
  virtual WaitList& receive_waiters() = 0;
};

// Waits until one of `sources` can receive without blocking (an item or closed). Returns the
// index of the first ready one, or timeout / cancelled.
Result<size_t> select(Scheduler& scheduler, std::initializer_list<Selectable*> sources,
                      Instant deadline = kInstantMax);

// Bounded multi-producer multi-consumer FIFO. close() refuses further sends; receivers drain what
// is buffered, then get `closed`.
template <typename T>
class Channel final : public Selectable {
 public:
  Channel(Scheduler& scheduler, size_t capacity_max) : scheduler_(scheduler), capacity_max_(capacity_max) {
    SLUICE_ASSERT_GT(capacity_max, 0u);
  }

  Status send(T value, Instant deadline = kInstantMax) {
    Status status = wait_until(scheduler_, senders_, deadline, [this] { return closed_ || buffer_.size() < capacity_max_; });
    if (!status.ok()) {
      pass_on_senders();
      return status;
    }
    if (closed_) return Status(Errc::closed, "channel closed");
    push(std::move(value));
    return Status();
  }

  // Moves `value` in only on success: limit_exceeded when full, closed when closed.
  Status try_send(T&& value) {
    if (closed_) return Status(Errc::closed, "channel closed");
    if (buffer_.size() >= capacity_max_) return Status(Errc::limit_exceeded, "channel full");
    push(std::move(value));
    return Status();
  }

  Result<T> receive(Instant deadline = kInstantMax) {
    Status status = wait_until(scheduler_, receivers_, deadline, [this] { return receive_ready(); });
    if (!status.ok()) {
      pass_on_receivers();
      return status;
    }
    std::optional<T> value = try_receive();
    if (!value) return Status(Errc::closed, "channel closed");
    return std::move(*value);
  }

  std::optional<T> try_receive() {
    if (buffer_.empty()) return std::nullopt;
    T value = std::move(buffer_.front());
    buffer_.pop_front();
    senders_.wake_one(scheduler_);
    pass_on_receivers();
    return value;
  }

  void close() {
    closed_ = true;
    senders_.wake_all(scheduler_);
    receivers_.wake_all(scheduler_);
  }

  bool closed() const { return closed_; }
  size_t size() const { return buffer_.size(); }
  size_t capacity_max() const { return capacity_max_; }
  bool receive_ready() const override { return !buffer_.empty() || closed_; }
  WaitList& receive_waiters() override { return receivers_; }

 private:
  void push(T&& value) {
    buffer_.push_back(std::move(value));
    receivers_.wake_one(scheduler_);
  }
  // A woken waiter that leaves without acting hands its wake to the next one, so no wake is lost.
  void pass_on_receivers() {
    if (!buffer_.empty()) receivers_.wake_one(scheduler_);
  }
  void pass_on_senders() {
    if (buffer_.size() < capacity_max_) senders_.wake_one(scheduler_);
  }

  Scheduler& scheduler_;
  size_t capacity_max_;
  std::deque<T> buffer_;
  bool closed_ = false;
  WaitList senders_;
  WaitList receivers_;
};

// A latch: once set it stays set and every wait returns at once.
class Event final : public Selectable {
 public:
  explicit Event(Scheduler& scheduler) : scheduler_(scheduler) {}
  void set() {
    set_ = true;
    waiters_.wake_all(scheduler_);
  }
  bool is_set() const { return set_; }
  Status wait(Instant deadline = kInstantMax) {
    return wait_until(scheduler_, waiters_, deadline, [this] { return set_; });
  }
  bool receive_ready() const override { return set_; }
  WaitList& receive_waiters() override { return waiters_; }

 private:
  Scheduler& scheduler_;
  bool set_ = false;
  WaitList waiters_;
};

// One value from one sender to one receiver: the reply channel of a request. If the sender is
// dropped without sending, the receiver gets `closed`.
template <typename T>
class Oneshot {
  struct State {
    explicit State(Scheduler& s) : scheduler(s) {}
    Scheduler& scheduler;
    std::optional<T> value;
    bool sender_gone = false;
    WaitList waiters;
  };

 public:
  class Sender {
   public:
    explicit Sender(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Sender(Sender&&) noexcept = default;
    Sender& operator=(Sender&&) noexcept = default;
    ~Sender() { release(); }
    void send(T value) {
      SLUICE_ASSERT(state_ != nullptr);
      state_->value = std::move(value);
      release();
    }

   private:
    void release() {
      if (!state_) return;
      state_->sender_gone = true;
      state_->waiters.wake_all(state_->scheduler);
      state_.reset();
    }
    std::shared_ptr<State> state_;
  };

  class Receiver {
   public:
    explicit Receiver(std::shared_ptr<State> state) : state_(std::move(state)) {}
    Result<T> receive(Instant deadline = kInstantMax) {
      Status status = wait_until(state_->scheduler, state_->waiters, deadline, [this] { return state_->sender_gone; });
      if (!status.ok()) return status;
      if (!state_->value) return Status(Errc::closed, "reply sender dropped");
      T value = std::move(*state_->value);
      state_->value.reset();
      return value;
    }

   private:
    std::shared_ptr<State> state_;
  };

  static std::pair<Sender, Receiver> make(Scheduler& scheduler) {
    auto state = std::make_shared<State>(scheduler);
    return {Sender(state), Receiver(state)};
  }
};

// Fiber mutex with FIFO hand-off: unlock passes ownership straight to the longest-parked waiter,
// so a running fiber cannot barge past fibers that are already waiting.
class Mutex {
 public:
  explicit Mutex(Scheduler& scheduler) : scheduler_(scheduler) {}
  ~Mutex() { SLUICE_ASSERT(!locked_); }
  Status lock(Instant deadline = kInstantMax);
  bool try_lock();
  void unlock();
  bool locked() const { return locked_; }

 private:
  Scheduler& scheduler_;
  bool locked_ = false;
  FiberId handed_to_ = 0;  // the waiter unlock() woke and gave the lock to
  WaitList waiters_;
};

class MutexGuard {
 public:
  explicit MutexGuard(Mutex& mutex) : mutex_(&mutex) {}
  ~MutexGuard() { mutex_->unlock(); }
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;

 private:
  Mutex* mutex_;
};

// Counts outstanding work; wait() returns when the count is zero.
class WaitGroup {
 public:
  explicit WaitGroup(Scheduler& scheduler) : scheduler_(scheduler) {}
  void add(size_t count = 1) { outstanding_ += count; }
  void done() {
    SLUICE_ASSERT_GT(outstanding_, 0u);
    if (--outstanding_ == 0) waiters_.wake_all(scheduler_);
  }
  size_t outstanding() const { return outstanding_; }
  Status wait(Instant deadline = kInstantMax) {
    return wait_until(scheduler_, waiters_, deadline, [this] { return outstanding_ == 0; });
  }

 private:
  Scheduler& scheduler_;
  size_t outstanding_ = 0;
  WaitList waiters_;
};

}  // namespace sluice::runtime
