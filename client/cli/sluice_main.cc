// sluice: the command-line client (docs/cli.md). The composition root: it reads the arguments and
// the environment, resolves broker host names, builds the epoll runtime and runs the parsed
// command (client/cli/commands.h) as its main fiber, with stdin as produce's input. The commands
// themselves know nothing of the process.
//
//   sluice topic create orders --partitions 3 --replication 3
//   seq 1 1000 | sluice produce orders
//   sluice consume orders --from earliest --format '{partition}:{offset} {value}'
//
// Exit codes: 0 ok (and --help), 1 a failed operation, 2 a usage error.
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "client/cli/args.h"
#include "client/cli/commands.h"
#include "runtime/epoll/epoll_runtime.h"

namespace {

namespace rt = sluice::runtime;
namespace cli = sluice::client::cli;

// stdin is polled, not waited on (the runtime has no stdin stream): when nothing is there the
// fiber sleeps this long, so the producer's fibers run and typed lines go out promptly.
constexpr rt::Duration kStdinPollInterval = std::chrono::milliseconds(1);
constexpr size_t kStdinReadBytes = 64 << 10;  // one read()
// A longer line is an error, not a buffer that grows without end (the server's record limit is
// far below anyway).
constexpr size_t kLineBytesMax = 16 << 20;

// Lines of stdin, read without blocking the reactor: poll() with no wait, then a read() that
// cannot block (the fd is readable, or at its end), else a fiber sleep.
class StdinLines final : public cli::LineSource {
 public:
  explicit StdinLines(rt::Runtime& runtime) : runtime_(runtime) {}

  bool next(std::string& line, std::string& error) override {
    while (true) {
      const size_t newline = buffer_.find('\n', scanned_);
      if (newline != std::string::npos) {
        line.assign(buffer_, start_, newline - start_);
        start_ = scanned_ = newline + 1;
        return true;
      }
      scanned_ = buffer_.size();
      if (ended_) {
        if (start_ == buffer_.size()) return false;
        line.assign(buffer_, start_);  // a last line without its '\n'
        start_ = scanned_ = buffer_.size();
        return true;
      }
      if (buffer_.size() - start_ > kLineBytesMax) {
        error = "a line is longer than " + std::to_string(kLineBytesMax) + " bytes";
        return false;
      }
      if (!fill(error)) return false;
    }
  }

 private:
  // More bytes (or the end) in the buffer; false with `error` when stdin cannot be read.
  bool fill(std::string& error) {
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&fd, 1, 0);
    if (ready == 0) {
      if (runtime_.sleep_for(kStdinPollInterval).ok()) return true;
      error = "cancelled";
      return false;
    }
    if (ready < 0) return errno == EINTR || failed("poll", error);
    compact();
    const size_t filled = buffer_.size();
    buffer_.resize(filled + kStdinReadBytes);
    const ssize_t got = ::read(STDIN_FILENO, buffer_.data() + filled, kStdinReadBytes);
    const int saved_errno = errno;
    buffer_.resize(filled + static_cast<size_t>(std::max<ssize_t>(got, 0)));
    if (got == 0) ended_ = true;
    if (got >= 0) return true;
    errno = saved_errno;
    return errno == EINTR || errno == EAGAIN || failed("read", error);
  }

  static bool failed(const char* call, std::string& error) {
    error = std::string(call) + ": " + std::strerror(errno);
    return false;
  }

  // Drops the lines already handed out once they are most of the buffer.
  void compact() {
    if (start_ < kStdinReadBytes || start_ < buffer_.size() / 2) return;
    buffer_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }

  rt::Runtime& runtime_;
  std::string buffer_;
  size_t start_ = 0;    // the first byte not handed out
  size_t scanned_ = 0;  // no '\n' in [start_, scanned_)
  bool ended_ = false;
};

// The runtime connects to numeric addresses only: a broker named by host name is looked up here,
// once, before the runtime starts (the first address the resolver gives).
bool resolve_brokers(std::vector<rt::Address>& brokers) {
  for (rt::Address& broker : brokers) {
    in6_addr numeric{};
    if (::inet_pton(AF_INET, broker.host.c_str(), &numeric) == 1 || ::inet_pton(AF_INET6, broker.host.c_str(), &numeric) == 1) continue;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int error = ::getaddrinfo(broker.host.c_str(), nullptr, &hints, &found); error != 0 || found == nullptr) {
      std::cerr << "sluice: broker " << broker.to_string() << ": " << ::gai_strerror(error) << "\n";
      return false;
    }
    char text[INET6_ADDRSTRLEN] = {};
    const void* address = found->ai_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                                                       : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
    ::inet_ntop(found->ai_family, address, text, sizeof(text));
    ::freeaddrinfo(found);
    broker.host = text;
  }
  return true;
}

std::optional<std::string> environment_value(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);  // stdout buffered: consume prints many short lines
  const std::vector<std::string> args(argv + 1, argv + argc);
  cli::ParseResult parsed = cli::parse_args(args, {environment_value("SLUICE_BROKERS"), environment_value("SLUICE_TOKEN")});
  if (parsed.outcome == cli::ParseResult::Outcome::help) {
    std::cout << parsed.text;
    return cli::kExitOk;
  }
  if (parsed.outcome == cli::ParseResult::Outcome::usage_error) {
    std::cerr << parsed.text;
    return cli::kExitUsage;
  }
  if (!resolve_brokers(parsed.command.global.brokers)) return cli::kExitFailed;
  // No files: the root is only required to exist. One file worker is plenty for none.
  auto runtime = rt::epoll::EpollRuntime::create({.data_dir = "/", .file_workers = 1});
  if (!runtime.ok()) {
    std::cerr << "sluice: runtime: " << runtime.status().to_string() << "\n";
    return cli::kExitFailed;
  }
  int code = cli::kExitFailed;
  const rt::Status ran = (*runtime)->run([&] {
    StdinLines input(**runtime);
    const cli::CommandIo io{&input, &std::cout, &std::cerr, ::isatty(STDERR_FILENO) == 1};
    code = cli::run_command(**runtime, parsed.command, io);
  });
  if (!ran.ok()) {
    std::cerr << "sluice: runtime: " << ran.to_string() << "\n";
    return cli::kExitFailed;
  }
  std::cout.flush();
  return code;
}
