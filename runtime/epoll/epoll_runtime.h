// The production Runtime: one thread, one epoll reactor, Boost.Context fibers (the shared
// Scheduler), real sockets and real files.
//
// Blocking file calls never run on the reactor thread: a small pool of worker threads executes
// them (fsync, pread, pwrite, open, rename, readdir, ...) and posts completions back through an
// eventfd. Threads rather than io_uring because io_uring lacks some calls we need (readdir), is
// often disabled in containers, and would only save a thread hand-off that fsync latency dwarfs;
// see file_workers.h and docs/runtime.md.
//
// Lifetime: everything the runtime hands out (sockets, files, tasks) must be destroyed before it;
// fibers own their objects, and run() unwinds every fiber when `main` returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "node/base/random.h"
#include "runtime/runtime.h"

namespace sluice::runtime::epoll {

class Reactor;
class FileWorkers;
class EpollFilesystem;

struct EpollOptions {
  std::string data_dir;            // must exist: the root of fs()
  std::string host = "127.0.0.1";  // numeric address that listen() and bind_datagram() bind to
  size_t file_workers = 2;         // threads running blocking file calls, 1..kFileWorkersMax
  size_t open_files_max = 1024;    // open File objects; one more open() is limit_exceeded
};

class EpollRuntime final : public Runtime {
 public:
  static constexpr size_t kFileWorkersMax = 64;

  static Result<std::unique_ptr<EpollRuntime>> create(EpollOptions options);
  ~EpollRuntime() override;
  EpollRuntime(const EpollRuntime&) = delete;
  EpollRuntime& operator=(const EpollRuntime&) = delete;

  // Runs `main` as a fiber and drives the reactor until it returns; then cancels, unwinds and frees
  // the remaining fibers (scheduler().shutdown()). Once per runtime. Errors only if epoll fails.
  Status run(std::function<void()> main);

  Instant now() override;
  void wake_at(Instant deadline, WakeToken token) override;
  WallTime wall_now() override;
  uint64_t random() override;
  Result<std::unique_ptr<DatagramSocket>> bind_datagram(uint16_t port) override;
  // Wraps `fd`, a bound UDP socket this runtime now owns (closed on failure too): the membership
  // socket an sk_lookup program steers to (bpf/loader.h).
  Result<std::unique_ptr<DatagramSocket>> adopt_datagram(int fd);
  // Parks the calling fiber until one of `signals` arrives and returns its number. The caller
  // blocks them in every thread first (pthread_sigmask before create(), so the file workers
  // inherit the mask); they then arrive through a signalfd. For a node's SIGINT/SIGTERM.
  Result<int> wait_signal(std::initializer_list<int> signals);
  Result<std::unique_ptr<Listener>> listen(uint16_t port) override;
  // A connection not established within `timeout` is `unreachable`.
  Result<std::unique_ptr<Stream>> connect(const Address& to, Duration timeout) override;
  std::string_view host() const override { return options_.host; }
  Filesystem& fs() override;
  bool buggify(SiteId /*site*/) override { return false; }
  Scheduler& scheduler() override;

  // Diagnostics for tests and metrics.
  size_t timers_pending() const;
  size_t file_jobs_in_flight() const;

 private:
  EpollRuntime(EpollOptions options, uint64_t seed);

  EpollOptions options_;
  Prng prng_;
  bool ran_ = false;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<FileWorkers> workers_;
  std::unique_ptr<EpollFilesystem> fs_;
};

}  // namespace sluice::runtime::epoll
