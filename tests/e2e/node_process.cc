#include "tests/e2e/node_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace sluice::e2e {
namespace {

constexpr uint16_t kPortMin = 20000;
constexpr uint16_t kPortLimit = 60000;  // exclusive; lowered to the ephemeral range's start
constexpr int kPortSearchAttemptsMax = 64;
constexpr auto kExitPollInterval = std::chrono::milliseconds(20);

// Binds `type` (SOCK_STREAM, SOCK_DGRAM) on 127.0.0.1:port and closes it again.
bool can_bind(int type, uint16_t port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return bound;
}

uint16_t ephemeral_ports_start() {
  std::ifstream file("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned first = 0;
  if (!(file >> first) || first <= kPortMin || first > kPortLimit) return kPortLimit;
  return static_cast<uint16_t>(first);
}

}  // namespace

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  path_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-e2e-XXXXXX";
  if (::mkdtemp(path_.data()) == nullptr) path_.clear();
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

bool loopback_usable() { return can_bind(SOCK_STREAM, 0) && can_bind(SOCK_DGRAM, 0); }

std::optional<uint16_t> free_port_range(size_t count) {
  const size_t span = ephemeral_ports_start() - kPortMin;
  if (count == 0 || span <= count) return std::nullopt;
  // Concurrent runs (ctest -j, several checkouts) start apart: the pid and the clock pick the base.
  uint64_t state = static_cast<uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
                   static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int attempt = 0; attempt < kPortSearchAttemptsMax; ++attempt) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const auto base = static_cast<uint16_t>(kPortMin + (state >> 33) % (span - count));
    bool free = true;
    for (size_t i = 0; i < count && free; ++i) {
      const auto port = static_cast<uint16_t>(base + i);
      free = can_bind(SOCK_STREAM, port) && can_bind(SOCK_DGRAM, port);
    }
    if (free) return base;
  }
  return std::nullopt;
}

NodeProcess::NodeProcess(std::string binary, std::vector<std::string> args, std::string log_path)
    : binary_(std::move(binary)), args_(std::move(args)), log_path_(std::move(log_path)) {}

NodeProcess::~NodeProcess() { kill_and_reap(); }

bool NodeProcess::start(std::string& error) {
  if (running()) {
    error = "already running";
    return false;
  }
  // Everything the child needs is prepared before fork: between fork and exec a child of a
  // threaded process may only make async-signal-safe calls.
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (std::string& arg : args_) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    error = "opening " + log_path_ + " or /dev/null: " + std::strerror(errno);
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return false;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Killed with the test process, whatever ends it (a crash, ctest's timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::close_range(3, ~0u, 0);  // the test's sockets and epoll are none of the node's business
    ::execv(binary_.c_str(), argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(fork_errno);
    return false;
  }
  pid_ = pid;
  return true;
}

void NodeProcess::signal(int signal_number) const {
  if (running()) ::kill(pid_, signal_number);
}

std::optional<int> NodeProcess::poll_exit() {
  if (!running()) return std::nullopt;
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped != pid_) return std::nullopt;
  pid_ = -1;
  return status;
}

std::optional<int> NodeProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::optional<int> status = poll_exit()) return status;
    if (std::chrono::steady_clock::now() >= give_up) return std::nullopt;
    std::this_thread::sleep_for(kExitPollInterval);
  }
  return std::nullopt;
}

void NodeProcess::kill_and_reap() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string NodeProcess::log() const { return read_file(log_path_); }

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

NodePorts node_ports(uint16_t base_port, size_t index) {
  const auto first = static_cast<uint16_t>(base_port + index * kPortsPerNode);
  return NodePorts{first, static_cast<uint16_t>(first + 1), static_cast<uint16_t>(first + 2), static_cast<uint16_t>(first + 3)};
}

std::vector<std::string> node_args(uint64_t node_id, uint64_t cluster_id, const std::string& data_dir, const NodePorts& ports,
                                   const std::string& controller_voters, uint16_t seed_membership_port) {
  std::vector<std::string> args = {"--node-id", std::to_string(node_id), "--cluster-id", std::to_string(cluster_id),
                                   "--data-dir", data_dir, "--host", "127.0.0.1",
                                   "--port", std::to_string(ports.membership), "--raft-port", std::to_string(ports.raft),
                                   "--rpc-port", std::to_string(ports.rpc), "--http-port", std::to_string(ports.http),
                                   "--controller-voters", controller_voters,
                                   "--xdp", "off"};
  if (seed_membership_port != 0) {
    args.push_back("--seed");
    args.push_back("127.0.0.1:" + std::to_string(seed_membership_port));
  }
  return args;
}

void print_log_tail(const NodeProcess& process, const std::string& name, size_t bytes_max) {
  std::string log = process.log();
  if (log.size() > bytes_max) log = "[...]\n" + log.substr(log.size() - bytes_max);
  std::cerr << "---- " << name << " (" << process.log_path() << ")\n" << log << "---- end of " << name << "\n";
}

std::unique_ptr<LocalCluster> LocalCluster::create(LocalClusterOptions options, std::string& error) {
  const size_t ports = static_cast<size_t>(options.nodes) * kPortsPerNode;
  const std::optional<uint16_t> base = free_port_range(ports);
  if (!base) {
    error = "no " + std::to_string(ports) + " consecutive free ports on 127.0.0.1";
    return nullptr;
  }
  return std::make_unique<LocalCluster>(std::move(options), *base);
}

LocalCluster::LocalCluster(LocalClusterOptions options, uint16_t base_port) : options_(std::move(options)), base_port_(base_port) {
  for (int id = 1; id <= options_.nodes; ++id) {
    const int seed = options_.seed ? options_.seed(id) : id == 1 ? 0 : 1;
    const std::string data_dir = options_.dir + "/n" + std::to_string(id);
    std::vector<std::string> args = node_args(static_cast<uint64_t>(id), options_.cluster_id, data_dir, ports(id),
                                              options_.controller_voters, seed == 0 ? 0 : ports(seed).membership);
    if (!options_.anonymous.empty()) args.insert(args.end(), {"--anonymous", options_.anonymous});
    if (options_.extra_args) {
      std::vector<std::string> extra = options_.extra_args(id);
      args.insert(args.end(), extra.begin(), extra.end());
    }
    processes_.push_back(std::make_unique<NodeProcess>(options_.binary, std::move(args), data_dir + ".log"));
  }
}

std::string LocalCluster::name(int id) const { return options_.name ? options_.name(id) : "node " + std::to_string(id); }

bool LocalCluster::start(int id, std::string& error) {
  if (node(id).start(error)) return true;
  error = "starting " + name(id) + ": " + error;
  return false;
}

bool LocalCluster::start_all(std::string& error) {
  for (int id = 1; id <= size(); ++id) {
    if (!start(id, error)) return false;
  }
  return true;
}

void LocalCluster::signal_all(int signal_number) {
  for (auto& process : processes_) process->signal(signal_number);
}

void LocalCluster::kill_all() {
  for (auto& process : processes_) process->kill_and_reap();
}

const std::string& LocalCluster::unexpected_exit() {
  for (int id = 1; id <= size(); ++id) {
    const std::optional<int> status = node(id).poll_exit();  // reaps it: it no longer runs()
    if (status && died_.empty()) died_ = name(id) + " exited on its own: " + describe_wait_status(*status);
  }
  return died_;
}

std::string LocalCluster::wait_until(std::chrono::milliseconds within, std::chrono::milliseconds interval,
                                     const std::function<std::string()>& condition) {
  const auto give_up = std::chrono::steady_clock::now() + within;
  std::string waiting = "not tried";
  while (std::chrono::steady_clock::now() < give_up) {
    if (!unexpected_exit().empty()) return unexpected_exit();
    waiting = condition();
    if (waiting.empty()) return "";
    std::this_thread::sleep_for(interval);
  }
  return "not within " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(within).count()) + " s; " + waiting;
}

void LocalCluster::print_logs() const {
  for (int id = 1; id <= size(); ++id) print_log_tail(node(id), name(id));
}

void LocalCluster::finish(bool test_failed) {
  kill_all();
  const char* print = std::getenv("SLUICE_E2E_PRINT_LOGS");
  if (test_failed || (print != nullptr && *print != '\0')) print_logs();
}

}  // namespace sluice::e2e
