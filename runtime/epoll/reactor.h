// The reactor of the epoll runtime: one epoll instance, a timer heap behind one timerfd, and the
// loop that alternates between running ready fibers and waiting for the kernel. Single-threaded:
// everything here runs on the thread that calls run_until(); only the file workers' completion
// eventfd is written from other threads.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/epoll/posix.h"
#include "runtime/errors.h"
#include "runtime/scheduler.h"
#include "runtime/time.h"

namespace sluice::runtime::epoll {

// Receives the epoll events of one registered descriptor (epoll_event.data.ptr points at it).
class ReadinessSink {
 public:
  virtual void on_events(uint32_t events) = 0;

 protected:
  ~ReadinessSink() = default;
};

class Reactor;

// A non-blocking socket and the fibers waiting for it to become readable or writable. Registered
// edge-triggered for both directions once, so one reader and one writer fiber can block on the
// same socket at the same time without re-arming anything.
class IoHandle final : public ReadinessSink {
 public:
  enum class Direction { read, write };

  IoHandle(Reactor& reactor, UniqueFd fd) : reactor_(reactor), fd_(std::move(fd)) {}
  ~IoHandle() { close(); }
  IoHandle(const IoHandle&) = delete;
  IoHandle& operator=(const IoHandle&) = delete;

  int fd() const { return fd_.get(); }
  bool closed() const { return !fd_.valid(); }
  // Adds the descriptor to the reactor's epoll set.
  Status register_fd();
  // Parks the calling fiber until `direction` may have become ready. Call after the system call
  // returned EAGAIN. ok means "try the call again"; otherwise closed, cancelled or timeout.
  Status wait(Direction direction, Instant deadline);
  // Leaves the epoll set, closes the descriptor and wakes every waiter, who then reads `closed`.
  // Idempotent.
  void close();

  // Edge-triggered read readiness, for stream sockets: a reader that saw the receive queue
  // drained (a short read or EAGAIN) calls note_drained(); the next EPOLLIN edge sets it again.
  // While drained, a reader parks at once instead of making a recv that can only say EAGAIN —
  // one system call less per request on a keep-alive connection. Starts true: unknown.
  bool maybe_readable() const { return maybe_readable_; }
  void note_drained() { maybe_readable_ = false; }

  void on_events(uint32_t events) override;

 private:
  Reactor& reactor_;
  UniqueFd fd_;
  bool maybe_readable_ = true;
  WaitList readers_;
  WaitList writers_;
};

class Reactor final : public TimerSource, private ReadinessSink {
 public:
  static constexpr size_t kEventsPerPollMax = 256;
  // Fiber resumes between two polls of the kernel: fibers that keep yielding cannot starve I/O.
  static constexpr size_t kResumesPerPollMax = 1024;
  // The timer heap is compacted (entries for parks that already ended dropped) when it grows past
  // max(this, twice its size after the last compaction): amortised O(1) per timer.
  static constexpr size_t kTimersCompactionFloor = 4096;

  static Result<std::unique_ptr<Reactor>> create();
  ~Reactor() override;
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // CLOCK_MONOTONIC nanoseconds since this reactor was created.
  Instant now() override;
  void wake_at(Instant deadline, WakeToken token) override;

  Scheduler& scheduler() { return scheduler_; }
  // Registers `fd` with `sink`; `sink` must outlive the registration (closing the fd ends it).
  Status add(int fd, ReadinessSink& sink, uint32_t events);
  // Deregisters `fd`; call before closing it. (close() alone deregisters only when no other
  // descriptor - say one inherited by a forked child - shares the open file, and a later event
  // would then reach a destroyed sink.)
  void remove(int fd);
  // Runs fibers and dispatches kernel events until `done` becomes true (checked between
  // batches). Errors only if epoll itself fails.
  Status run_until(const bool& done);

  size_t timers_pending() const { return timers_.size(); }

 private:
  struct TimerEntry {
    Instant deadline;
    uint64_t sequence;  // FIFO among equal deadlines
    WakeToken token;
  };
  struct TimerLater {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const {
      return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
    }
  };

  Reactor(UniqueFd epoll_fd, UniqueFd timer_fd, int64_t start_ns);
  void on_events(uint32_t events) override;  // the timerfd fired
  void fire_due_timers();
  void compact_timers();
  Status arm_timerfd();
  Status poll(bool block);

  UniqueFd epoll_fd_;
  UniqueFd timer_fd_;
  int64_t start_ns_;  // CLOCK_MONOTONIC at creation
  std::vector<TimerEntry> timers_;  // a min-heap under TimerLater
  uint64_t timer_sequence_ = 0;
  size_t timers_compaction_threshold_ = kTimersCompactionFloor;
  Instant timerfd_armed_for_ = kInstantMax;  // kInstantMax: not armed (or already fired)
  // Last member: destroyed first, so fibers unwound by its shutdown still find the reactor whole.
  Scheduler scheduler_;
};

}  // namespace sluice::runtime::epoll
