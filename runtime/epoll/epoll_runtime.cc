// EpollRuntime: wires the reactor (epoll, timers, fibers), the sockets, and the file worker pool
// into the Runtime seam. Why a thread pool and not io_uring for files: see file_workers.h.
#include "runtime/epoll/epoll_runtime.h"

#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "node/base/assert.h"
#include "runtime/epoll/file_workers.h"
#include "runtime/epoll/filesystem.h"
#include "runtime/epoll/reactor.h"
#include "runtime/epoll/sockets.h"

namespace sluice::runtime::epoll {

namespace {

// The one seed of this runtime's Prng. getrandom() only fails without a kernel entropy source.
Result<uint64_t> os_random_seed() {
  uint64_t seed = 0;
  while (true) {
    const ssize_t n = ::getrandom(&seed, sizeof seed, 0);
    if (n == static_cast<ssize_t>(sizeof seed)) return seed;
    if (n < 0 && errno != EINTR) return errno_status("getrandom", "", errno);
  }
}

Status check_options(const EpollOptions& options) {
  if (options.data_dir.empty()) return Status(Errc::invalid_argument, "data_dir is empty");
  struct stat info {};
  if (::stat(options.data_dir.c_str(), &info) != 0) return errno_status("stat data_dir", options.data_dir, errno);
  if (!S_ISDIR(info.st_mode)) return Status(Errc::invalid_argument, "data_dir is not a directory: " + options.data_dir);
  if (options.file_workers == 0 || options.file_workers > EpollRuntime::kFileWorkersMax) {
    return Status(Errc::invalid_argument, "file_workers must be 1.." + std::to_string(EpollRuntime::kFileWorkersMax));
  }
  if (options.open_files_max == 0) return Status(Errc::invalid_argument, "open_files_max must be positive");
  return Status();
}

}  // namespace

Result<std::unique_ptr<EpollRuntime>> EpollRuntime::create(EpollOptions options) {
  SLUICE_TRY(check_options(options));
  SLUICE_ASSIGN_OR_RETURN(uint64_t seed, os_random_seed());
  std::unique_ptr<EpollRuntime> runtime(new EpollRuntime(std::move(options), seed));
  SLUICE_ASSIGN_OR_RETURN(runtime->reactor_, Reactor::create());
  SLUICE_ASSIGN_OR_RETURN(runtime->workers_, FileWorkers::create(*runtime->reactor_, runtime->options_.file_workers));
  runtime->fs_ = std::make_unique<EpollFilesystem>(runtime->options_.data_dir, runtime->options_.open_files_max,
                                                   runtime->reactor_->scheduler(), *runtime->workers_);
  return runtime;
}

EpollRuntime::EpollRuntime(EpollOptions options, uint64_t seed) : options_(std::move(options)), prng_(seed) {}

EpollRuntime::~EpollRuntime() {
  // Fibers first: their stacks hold sockets and files that point into the reactor, the worker
  // pool and the filesystem. Then the workers (joined), then the reactor.
  if (reactor_) reactor_->scheduler().shutdown();
  fs_.reset();
  workers_.reset();
  reactor_.reset();
}

Status EpollRuntime::run(std::function<void()> main) {
  SLUICE_ASSERT(!ran_);  // the scheduler is single-use: shutdown() is final
  ran_ = true;
  bool main_returned = false;
  scheduler().spawn("main", [&main_returned, main = std::move(main)] {
    main();
    main_returned = true;
  });
  Status status = reactor_->run_until(main_returned);
  scheduler().shutdown();
  return status;
}

Instant EpollRuntime::now() { return reactor_->now(); }

void EpollRuntime::wake_at(Instant deadline, WakeToken token) { reactor_->wake_at(deadline, token); }

WallTime EpollRuntime::wall_now() {
  timespec now{};
  SLUICE_ASSERT_EQ(::clock_gettime(CLOCK_REALTIME, &now), 0);
  return WallTime(Duration(int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec));
}

uint64_t EpollRuntime::random() { return prng_.next(); }

Result<std::unique_ptr<DatagramSocket>> EpollRuntime::bind_datagram(uint16_t port) {
  return bind_udp(*reactor_, options_.host, port);
}

Result<std::unique_ptr<DatagramSocket>> EpollRuntime::adopt_datagram(int fd) {
  return adopt_udp(*reactor_, UniqueFd(fd));
}

Result<int> EpollRuntime::wait_signal(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (const int signal : signals) sigaddset(&set, signal);
  UniqueFd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd.valid()) return errno_status("signalfd", "", errno);
  IoHandle handle(*reactor_, std::move(fd));
  SLUICE_TRY(handle.register_fd());
  while (true) {
    signalfd_siginfo info{};
    const ssize_t n = ::read(handle.fd(), &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return errno_status("read", "signalfd", errno);
    SLUICE_TRY(handle.wait(IoHandle::Direction::read, kInstantMax));
  }
}

Result<std::unique_ptr<Listener>> EpollRuntime::listen(uint16_t port) {
  return listen_tcp(*reactor_, options_.host, port);
}

Result<std::unique_ptr<Stream>> EpollRuntime::connect(const Address& to, Duration timeout) {
  return connect_tcp(*reactor_, to, timeout);
}

Filesystem& EpollRuntime::fs() { return *fs_; }

Scheduler& EpollRuntime::scheduler() { return reactor_->scheduler(); }

size_t EpollRuntime::timers_pending() const { return reactor_->timers_pending(); }

size_t EpollRuntime::file_jobs_in_flight() const { return workers_->jobs_in_flight(); }

}  // namespace sluice::runtime::epoll
