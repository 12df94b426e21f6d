// Real sluice-node processes for end-to-end tests (ctest label e2e): a fresh directory, free ports
// on 127.0.0.1, and a child process with its output in a log file that is signalled, reaped with a
// deadline and never left behind (the destructor kills it; the kernel kills it if the test process
// dies first).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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

// The whole file ("" when it cannot be read).
std::string read_file(const std::string& path);

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

// ---- a cluster of sluice-node processes on 127.0.0.1 -------------------------------------------

struct LocalClusterOptions {
  std::string binary;                       // the sluice-node to run
  std::string dir;                          // node N keeps its data in <dir>/nN and its output in <dir>/nN.log
  uint64_t cluster_id = 0;                  // a test's own (e.g. from its pid): concurrent runs cannot merge
  int nodes = 3;                            // ids 1..nodes
  std::string controller_voters = "1,2,3";  // --controller-voters
  std::string anonymous;                    // --anonymous for every node ("admin"); "" leaves it out
  // The node whose SWIM address node `id` joins through (0: none). Unset: node 1, for all but node 1.
  std::function<int(int id)> seed;
  // More flags for node `id`, after the common ones. Unset: none.
  std::function<std::vector<std::string>(int id)> extra_args;
  // How messages and log tails call node `id`. Unset: "node <id>".
  std::function<std::string(int id)> name;
};

// The nodes of a test: ports for all of them from one free range (kPortsPerNode each, in id
// order), their flags (the same for a restart) and their processes, started one by one by the test.
// Nodes are numbered from 1.
class LocalCluster {
 public:
  // Picks the ports; nullptr with `error` set when no free range is found.
  static std::unique_ptr<LocalCluster> create(LocalClusterOptions options, std::string& error);
  LocalCluster(LocalClusterOptions options, uint16_t base_port);
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  int size() const { return options_.nodes; }
  NodeProcess& node(int id) { return *processes_.at(static_cast<size_t>(id - 1)); }
  const NodeProcess& node(int id) const { return *processes_.at(static_cast<size_t>(id - 1)); }
  std::string name(int id) const;
  NodePorts ports(int id) const { return node_ports(base_port_, static_cast<size_t>(id - 1)); }
  uint16_t http_port(int id) const { return ports(id).http; }

  bool start(int id, std::string& error);  // false with `error` set ("starting node 2: ...")
  bool start_all(std::string& error);      // nodes 1..size() in order; stops at the first failure
  void signal_all(int signal_number);
  void kill_all();

  // Reaps the nodes that exited without being killed by the test: "" or what happened to the
  // first one ("node 2 exited on its own: killed by signal 6"); once set it stays set.
  const std::string& unexpected_exit();
  // Polls `condition` ("" when met, else what it still waits for) every `interval` until it is
  // met (""), `within` passes ("not within N s; <what it still waited for>") or a node exits on its
  // own (what unexpected_exit() says). Blocks the calling thread.
  std::string wait_until(std::chrono::milliseconds within, std::chrono::milliseconds interval,
                         const std::function<std::string()>& condition);
  bool log_has(int id, const std::string& text) const { return node(id).log().find(text) != std::string::npos; }

  void print_logs() const;
  // A test's teardown: kills every node and prints the log tails when the test failed or
  // $SLUICE_E2E_PRINT_LOGS is set.
  void finish(bool test_failed);

 private:
  LocalClusterOptions options_;
  uint16_t base_port_;
  std::vector<std::unique_ptr<NodeProcess>> processes_;
  std::string died_;
};

}  // namespace sluice::e2e
