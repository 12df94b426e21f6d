// The file worker pool: blocking file system calls (fsync above all, but also open, pread,
// pwrite, rename, readdir, ...) run on a few threads so the reactor thread never stalls on a disk.
//
// Why threads and not io_uring: io_uring does not cover every call we need (there is no readdir
// operation, and ftruncate only arrived in Linux 6.9), it is often switched off
// (kernel.io_uring_disabled, the seccomp profiles of container runtimes), and what it would save -
// one thread hand-off of a few microseconds per call - is noise next to the milliseconds of an
// fsync. A pool is portable and easy to reason about; a ring can replace it later behind the same
// FileWorkers::run().
//
// Protocol: a fiber submits a job (mutex-protected queue + condition variable); a worker runs its
// `work`, pushes it onto the completion queue and writes the eventfd; the reactor, seeing the
// eventfd readable, marks it done, runs `on_complete` and wakes the fiber. Jobs own everything
// `work` touches (paths, buffers, a shared descriptor) because their fiber may be cancelled or
// unwound while a worker still runs them. Jobs are only ever destroyed on the reactor thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/epoll/posix.h"
#include "runtime/epoll/reactor.h"
#include "runtime/errors.h"

namespace sluice::runtime::epoll {

struct FileJob {
  std::function<void()> work;         // on a worker thread; writes its result into state it owns
  // On the reactor thread, exactly once: after `work` returned, or at once if the job was never
  // submitted (cancelled or queue full). Skipped only for jobs dropped when the pool is destroyed.
  std::function<void()> on_complete;
  bool done = false;                  // reactor thread only
  WakeToken waiter{};                 // reactor thread only: the parked fiber to wake
};

class FileWorkers final : private ReadinessSink {
 public:
  static constexpr size_t kThreadsMax = 64;
  // Jobs queued but not yet taken by a worker; beyond it run() returns limit_exceeded.
  static constexpr size_t kQueuedJobsMax = 65536;

  static Result<std::unique_ptr<FileWorkers>> create(Reactor& reactor, size_t thread_count);
  // Stops and joins the workers (each finishes the job it is running); queued jobs are dropped.
  // Destroy only after the scheduler has shut down (no fiber waits any more).
  ~FileWorkers();
  FileWorkers(const FileWorkers&) = delete;
  FileWorkers& operator=(const FileWorkers&) = delete;

  // Runs `job->work` on a worker and parks the calling fiber until it completed. Returns cancelled
  // without submitting if the fiber is already cancelled; cancelled also if it is cancelled while
  // the job runs - the job then still completes (its effect may or may not have happened).
  Status run(const std::shared_ptr<FileJob>& job);

  size_t jobs_in_flight() const { return jobs_in_flight_; }

 private:
  FileWorkers(Reactor& reactor, UniqueFd event_fd);
  void worker_loop();
  void on_events(uint32_t events) override;  // completions are waiting

  Reactor& reactor_;
  UniqueFd event_fd_;
  std::vector<std::thread> threads_;
  size_t jobs_in_flight_ = 0;  // reactor thread only

  std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::shared_ptr<FileJob>> queued_;     // guarded by mutex_
  std::deque<std::shared_ptr<FileJob>> completed_;  // guarded by mutex_
  bool stopping_ = false;                           // guarded by mutex_
};

// Runs `fn` (returning a Status or Result) on a worker and returns what it returned, or the
// cancelled / limit_exceeded status of FileWorkers::run. `fn` must own what it captures.
template <typename Fn>
auto run_on_worker(FileWorkers& workers, Fn fn, std::function<void()> on_complete = nullptr) -> decltype(fn()) {
  using Outcome = decltype(fn());
  auto outcome = std::make_shared<std::optional<Outcome>>();
  auto job = std::make_shared<FileJob>();
  job->work = [outcome, fn = std::move(fn)]() mutable { outcome->emplace(fn()); };
  job->on_complete = std::move(on_complete);
  Status status = workers.run(job);
  if (!status.ok()) return status;
  return std::move(**outcome);
}

}  // namespace sluice::runtime::epoll
