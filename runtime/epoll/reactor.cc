#include "runtime/epoll/reactor.h"

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>

#include "node/base/assert.h"

namespace sluice::runtime::epoll {

namespace {

int64_t monotonic_ns() {
  timespec now{};
  // CLOCK_MONOTONIC cannot fail with a valid clock id and pointer.
  SLUICE_ASSERT_EQ(::clock_gettime(CLOCK_MONOTONIC, &now), 0);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace

// --- IoHandle ---

Status IoHandle::register_fd() {
  return reactor_.add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

Status IoHandle::wait(Direction direction, Instant deadline) {
  Scheduler& scheduler = reactor_.scheduler();
  if (closed()) return Status(Errc::closed, "socket closed");
  if (scheduler.cancel_requested()) return Status(Errc::cancelled, "socket wait cancelled");
  if (reactor_.now() >= deadline) return Status(Errc::timeout, "deadline passed");
  {
    WaitNode node(direction == Direction::read ? readers_ : writers_, scheduler.current_token());
    scheduler.park_until(deadline);
  }
  // Closed while parked: the descriptor number may already belong to someone else.
  if (closed()) return Status(Errc::closed, "socket closed");
  return Status();
}

void IoHandle::close() {
  if (!fd_.valid()) return;
  reactor_.remove(fd_.get());
  fd_.reset();
  readers_.wake_all(reactor_.scheduler());
  writers_.wake_all(reactor_.scheduler());
}

void IoHandle::on_events(uint32_t events) {
  // Errors and hang-ups wake both sides: each retries its call and reads the error from it.
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
    maybe_readable_ = true;
    readers_.wake_all(reactor_.scheduler());
  }
  if ((events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) writers_.wake_all(reactor_.scheduler());
}

// --- Reactor ---

Result<std::unique_ptr<Reactor>> Reactor::create() {
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd.valid()) return errno_status("epoll_create1", "", errno);
  UniqueFd timer_fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd.valid()) return errno_status("timerfd_create", "", errno);
  const int timer_raw = timer_fd.get();
  std::unique_ptr<Reactor> reactor(new Reactor(std::move(epoll_fd), std::move(timer_fd), monotonic_ns()));
  // Level-triggered: stays readable until on_events() reads the expiration count.
  SLUICE_TRY(reactor->add(timer_raw, *reactor, EPOLLIN));
  return reactor;
}

Reactor::Reactor(UniqueFd epoll_fd, UniqueFd timer_fd, int64_t start_ns)
    : epoll_fd_(std::move(epoll_fd)), timer_fd_(std::move(timer_fd)), start_ns_(start_ns), scheduler_(*this) {}

Reactor::~Reactor() { scheduler_.shutdown(); }

Instant Reactor::now() { return instant_from_ns(monotonic_ns() - start_ns_); }

void Reactor::wake_at(Instant deadline, WakeToken token) {
  if (timers_.size() >= timers_compaction_threshold_) compact_timers();
  timers_.push_back(TimerEntry{deadline, timer_sequence_++, token});
  std::push_heap(timers_.begin(), timers_.end(), TimerLater{});
}

void Reactor::compact_timers() {
  std::erase_if(timers_, [this](const TimerEntry& entry) { return !scheduler_.token_live(entry.token); });
  std::make_heap(timers_.begin(), timers_.end(), TimerLater{});
  timers_compaction_threshold_ = std::max(kTimersCompactionFloor, 2 * timers_.size());
}

Status Reactor::add(int fd, ReadinessSink& sink, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = &sink;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) != 0) return errno_status("epoll_ctl add", "", errno);
  return Status();
}

void Reactor::remove(int fd) {
  // Fails only for a descriptor that is not registered, which then has nothing to remove.
  (void)::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Reactor::on_events(uint32_t /*events*/) {
  uint64_t expirations = 0;
  // EAGAIN (a spurious wake-up) is harmless: due timers are found by comparing deadlines.
  (void)!::read(timer_fd_.get(), &expirations, sizeof expirations);
  timerfd_armed_for_ = kInstantMax;
}

void Reactor::fire_due_timers() {
  if (timers_.empty()) return;
  const Instant current = now();
  while (!timers_.empty() && timers_.front().deadline <= current) {
    std::pop_heap(timers_.begin(), timers_.end(), TimerLater{});
    scheduler_.wake(timers_.back().token);  // a stale token is a no-op
    timers_.pop_back();
  }
}

Status Reactor::arm_timerfd() {
  if (timers_.empty()) return Status();
  const Instant next = timers_.front().deadline;
  // Armed for an earlier (or the same) deadline already: that expiry re-arms for this one.
  if (next >= timerfd_armed_for_) return Status();
  const int64_t next_ns = to_ns(next);
  const int64_t absolute_ns =
      next_ns > std::numeric_limits<int64_t>::max() - start_ns_ ? std::numeric_limits<int64_t>::max() : start_ns_ + next_ns;
  itimerspec spec{};
  spec.it_value.tv_sec = absolute_ns / 1'000'000'000;
  spec.it_value.tv_nsec = absolute_ns % 1'000'000'000;
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
  if (::timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    return errno_status("timerfd_settime", "", errno);
  }
  timerfd_armed_for_ = next;
  return Status();
}

Status Reactor::poll(bool block) {
  if (block) SLUICE_TRY(arm_timerfd());
  std::array<epoll_event, kEventsPerPollMax> events;
  const int count = ::epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()), block ? -1 : 0);
  if (count < 0) {
    if (errno == EINTR) return Status();
    return errno_status("epoll_wait", "", errno);
  }
  // Dispatch only wakes fibers (none runs here), so no sink can be destroyed mid-batch.
  for (int i = 0; i < count; ++i) static_cast<ReadinessSink*>(events[i].data.ptr)->on_events(events[i].events);
  return Status();
}

Status Reactor::run_until(const bool& done) {
  while (!done) {
    scheduler_.run_ready(kResumesPerPollMax);
    if (done) break;
    fire_due_timers();
    SLUICE_TRY(poll(/*block=*/!scheduler_.has_ready()));
  }
  return Status();
}

}  // namespace sluice::runtime::epoll
