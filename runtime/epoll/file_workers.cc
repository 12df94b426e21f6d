#include "runtime/epoll/file_workers.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "node/base/assert.h"

namespace sluice::runtime::epoll {

Result<std::unique_ptr<FileWorkers>> FileWorkers::create(Reactor& reactor, size_t thread_count) {
  if (thread_count == 0 || thread_count > kThreadsMax) {
    return Status(Errc::invalid_argument, "file_workers must be 1.." + std::to_string(kThreadsMax));
  }
  UniqueFd event_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event_fd.valid()) return errno_status("eventfd", "", errno);
  const int event_raw = event_fd.get();
  std::unique_ptr<FileWorkers> workers(new FileWorkers(reactor, std::move(event_fd)));
  SLUICE_TRY(reactor.add(event_raw, *workers, EPOLLIN));  // level-triggered: drained on each event
  for (size_t i = 0; i < thread_count; ++i) {
    // std::thread reports failure by throwing; this is the boundary where it becomes a value.
    try {
      workers->threads_.emplace_back([raw = workers.get()] { raw->worker_loop(); });
    } catch (const std::system_error& error) {
      return Status(Errc::limit_exceeded, std::string("starting a file worker thread: ") + error.what());
    }
  }
  return workers;
}

FileWorkers::FileWorkers(Reactor& reactor, UniqueFd event_fd) : reactor_(reactor), event_fd_(std::move(event_fd)) {}

FileWorkers::~FileWorkers() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  // Jobs left in either queue belong to fibers that no longer exist; dropping them here keeps
  // every job destruction on this (the reactor's) thread.
  queued_.clear();
  completed_.clear();
}

Status FileWorkers::run(const std::shared_ptr<FileJob>& job) {
  Scheduler& scheduler = reactor_.scheduler();
  Status refusal;
  if (scheduler.cancel_requested()) refusal = Status(Errc::cancelled, "file operation cancelled");
  {
    std::lock_guard lock(mutex_);
    if (refusal.ok() && queued_.size() >= kQueuedJobsMax) {
      refusal = Status(Errc::limit_exceeded, "file job queue full (" + std::to_string(kQueuedJobsMax) + ")");
    }
    if (refusal.ok()) queued_.push_back(job);
  }
  if (!refusal.ok()) {
    if (job->on_complete) job->on_complete();
    return refusal;
  }
  work_available_.notify_one();
  ++jobs_in_flight_;
  while (!job->done) {
    // Leaving early is safe: the job owns its buffers, and the reactor still completes it.
    if (scheduler.cancel_requested()) return Status(Errc::cancelled, "file operation cancelled while running");
    job->waiter = scheduler.current_token();
    scheduler.park();
  }
  return Status();
}

void FileWorkers::worker_loop() {
  while (true) {
    std::shared_ptr<FileJob> job;
    {
      std::unique_lock lock(mutex_);
      work_available_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (stopping_) return;
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    job->work();
    bool was_empty = false;
    {
      std::lock_guard lock(mutex_);
      was_empty = completed_.empty();
      completed_.push_back(std::move(job));  // the reactor holds the last reference from here
    }
    // One signal per batch: the reactor drains the whole queue after reading the eventfd.
    if (was_empty) {
      const uint64_t one = 1;
      (void)!::write(event_fd_.get(), &one, sizeof one);
    }
  }
}

void FileWorkers::on_events(uint32_t /*events*/) {
  uint64_t signals = 0;
  (void)!::read(event_fd_.get(), &signals, sizeof signals);  // reset before draining
  std::deque<std::shared_ptr<FileJob>> completed;
  {
    std::lock_guard lock(mutex_);
    completed.swap(completed_);
  }
  for (const std::shared_ptr<FileJob>& job : completed) {
    job->done = true;
    --jobs_in_flight_;
    if (job->on_complete) job->on_complete();
    reactor_.scheduler().wake(job->waiter);  // stale when the fiber left early: a no-op
  }
}

}  // namespace sluice::runtime::epoll
