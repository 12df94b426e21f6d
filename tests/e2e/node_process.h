// Real sluice-node processes for end-to-end tests (ctest label e2e): a fresh directory, free ports
// on 127.0.0.1, and a child process with its output in a log file that is signalled, reaped with a
// deadline and never left behind (the destructor kills it; the kernel kills it if the test process
// dies first).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::e2e {

// A fresh directory under $TMPDIR (or /tmp); the destructor removes it with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }  // empty when it could not be created

 private:
  std::string path_;
};

// Whether this machine lets a process bind TCP and UDP sockets on 127.0.0.1 (a sandbox without
// loopback cannot run these tests; they skip).
bool loopback_usable();

// The first of `count` consecutive ports that are free on 127.0.0.1 for both TCP and UDP right now,
// from a pseudo-random base below the kernel's ephemeral range (so no outgoing connection takes
// one while the node owning it is down). nullopt when none is found within a bounded search.
std::optional<uint16_t> free_port_range(size_t count);

class NodeProcess {
 public:
  NodeProcess(std::string binary, std::vector<std::string> args, std::string log_path);
  ~NodeProcess();  // kills and reaps the process if it still runs
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Forks and execs the binary with stdin from /dev/null and stdout and stderr appended to the
  // log (a restart keeps the earlier run's lines). False with `error` set when it cannot.
  bool start(std::string& error);
  bool running() const { return pid_ > 0; }
  void signal(int signal_number) const;
  // Reaps the process if it has exited and returns its wait status; nullopt while it runs.
  std::optional<int> poll_exit();
  // Polls until the process exits (its wait status) or `timeout` passes (nullopt, still running).
  // Blocks the calling thread: not for use inside a runtime's fibers.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // SIGKILL, then waits for it (the kernel ends a killed process at once).
  void kill_and_reap();
  std::string log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// "exit 0", "killed by signal 9": a wait status for messages.
std::string describe_wait_status(int status);

// ---- sluice-node on 127.0.0.1 ---------------------------------------------------------------------

// A node's ports: consecutive, kPortsPerNode of them per node from a free_port_range() base.
inline constexpr uint16_t kPortsPerNode = 4;
struct NodePorts {
  uint16_t membership = 0;  // SWIM, UDP and TCP (push-pull)
  uint16_t raft = 0;
  uint16_t rpc = 0;
  uint16_t http = 0;
};
// The ports of the node at `index` (0 for the first) of a range starting at `base_port`.
NodePorts node_ports(uint16_t base_port, size_t index);

// sluice-node's flags for node `node_id` of cluster `cluster_id` on 127.0.0.1 with `ports` and its
// data in `data_dir`, with the controller run by `controller_voters` ("1,2,3") and XDP off;
// `--seed 127.0.0.1:<seed_membership_port>` unless that port is 0 (the first node).
std::vector<std::string> node_args(uint64_t node_id, uint64_t cluster_id, const std::string& data_dir, const NodePorts& ports,
                                   const std::string& controller_voters, uint16_t seed_membership_port);

// The last `bytes_max` bytes of the process's log on stderr, framed by `name`: what a failed test
// prints per node.
void print_log_tail(const NodeProcess& process, const std::string& name, size_t bytes_max = 64 * 1024);

}  // namespace sluice::e2e
