#include "tests/e2e/realfault/topology.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace sluice::realfault {
namespace {

constexpr const char* kNamePrefix = "slrf";
constexpr std::chrono::milliseconds kReapPoll{5};

// Reads what is available on `fd` into `out` (non-blocking), up to a bound.
void drain(int fd, std::string& out) {
  char buffer[4096];
  while (out.size() < 64 * 1024) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) return;
    out.append(buffer, static_cast<size_t>(got));
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool pid_alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// Figures "key=N" of a sluice-netdelay's output.
uint64_t figure_of(const std::string& output, const std::string& key) {
  const size_t at = output.find(key + "=");
  return at == std::string::npos ? 0 : std::strtoull(output.c_str() + at + key.size() + 1, nullptr, 10);
}

}  // namespace

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(std::string(path != nullptr ? path : "") + ":/usr/sbin:/sbin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

namespace {

// Forks `argv` (argv[0] a full path; the child dies with the harness); its stdout, and its
// stderr too when `with_stderr`, on a non-blocking pipe whose read end goes to `read_fd`. The
// pid, or -1 with `error` set.
pid_t spawn(std::vector<std::string> argv, bool with_stderr, int& read_fd, std::string& error) {
  std::vector<char*> raw;
  for (std::string& arg : argv) raw.push_back(arg.data());
  raw.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return error = std::string("pipe: ") + std::strerror(errno), -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    if (with_stderr) ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return error = std::string("fork: ") + std::strerror(errno), -1;
  }
  read_fd = pipe_fds[0];
  return pid;
}

}  // namespace

bool run_command(const std::vector<std::string>& argv, std::string& output, std::chrono::milliseconds timeout) {
  output.clear();
  std::vector<std::string> args = argv;
  args.at(0) = find_program(argv.at(0));
  if (args[0].empty()) return output = argv[0] + ": not found in PATH", false;
  int read_fd = -1;
  const pid_t pid = spawn(std::move(args), true, read_fd, output);
  if (pid < 0) return false;
  // Polled with a deadline: a wedged ip or tc must not hang the harness.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    drain(read_fd, output);
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ::close(read_fd);
      output += " (killed after " + std::to_string(timeout.count()) + " ms)";
      return false;
    }
    std::this_thread::sleep_for(kReapPoll);
  }
  drain(read_fd, output);
  ::close(read_fd);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string name_prefix(int pid) { return kNamePrefix + std::to_string(pid); }

void remove_leftovers() {
  std::string output;
  const std::regex owned(std::string("^") + kNamePrefix + "([0-9]+)[-a-z]");
  std::set<std::string> dead;  // prefixes of harnesses no longer running
  auto judge = [&](const std::string& name) {
    std::smatch match;
    if (!std::regex_search(name, match, owned)) return false;
    const int pid = std::atoi(match[1].str().c_str());
    if (pid == ::getpid() || pid_alive(pid)) return false;
    dead.insert(name_prefix(pid));
    return true;
  };
  if (run_command({"ip", "netns", "list"}, output)) {
    for (const std::string& line : lines_of(output)) {
      const std::string name = line.substr(0, line.find(' '));
      if (!judge(name)) continue;
      std::string pids;
      if (run_command({"ip", "netns", "pids", name}, pids)) {
        for (const std::string& pid : lines_of(pids)) {
          if (!pid.empty()) ::kill(std::atoi(pid.c_str()), SIGKILL);
        }
      }
      std::string ignored;
      run_command({"ip", "netns", "delete", name}, ignored);
      std::fprintf(stderr, "realfault: removed namespace %s of a dead harness\n", name.c_str());
    }
  }
  if (run_command({"ip", "-o", "link", "show"}, output)) {
    const std::regex link(std::string(": (") + kNamePrefix + "[0-9]+[a-z]+[0-9]*)[@:]");
    for (const std::string& line : lines_of(output)) {
      std::smatch match;
      if (!std::regex_search(line, match, link) || !judge(match[1].str())) continue;
      std::string ignored;  // a veth end may have gone with its namespace already
      if (run_command({"ip", "link", "delete", match[1].str()}, ignored)) {
        std::fprintf(stderr, "realfault: removed link %s of a dead harness\n", match[1].str().c_str());
      }
    }
  }
}

std::unique_ptr<Topology> Topology::create(int nodes, std::string& error) {
  std::unique_ptr<Topology> topology(new Topology(nodes, name_prefix(::getpid())));
  if (!topology->build(error)) {
    topology->teardown();
    return nullptr;
  }
  return topology;
}

Topology::~Topology() { teardown(); }

// 10.213.X.0/24 with X from the pid, moved on while an address of this machine already uses it.
bool Topology::pick_subnet(std::string& error) {
  std::string addresses;
  if (!run_command({"ip", "-4", "-o", "addr", "show"}, addresses)) return error = "ip addr show: " + addresses, false;
  for (int attempt = 0; attempt < 200; ++attempt) {
    const std::string subnet = "10.213." + std::to_string(20 + (::getpid() + attempt) % 200) + ".";
    if (addresses.find(" " + subnet) == std::string::npos) return subnet_ = subnet, true;
  }
  error = "no free 10.213.X.0/24 subnet";
  return false;
}

bool Topology::build(std::string& error) {
  if (!pick_subnet(error)) return false;
  bridge_ = prefix_ + "br";
  hub_ = prefix_ + "-hub";
  std::string output;
  if (!run_command({"ip", "netns", "add", hub_}, output)) return error = "ip netns add " + hub_ + ": " + output, false;
  hub_made_ = true;
  const std::string harness_veth = prefix_ + "h";
  const std::string harness_peer = prefix_ + "hb";
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "-n", hub_, "link", "add", bridge_, "type", "bridge"},
      {"ip", "-n", hub_, "link", "set", bridge_, "up"},
      {"ip", "link", "add", harness_veth, "type", "veth", "peer", "name", harness_peer},
      {"ip", "link", "set", harness_peer, "netns", hub_},
      {"ip", "-n", hub_, "link", "set", harness_peer, "master", bridge_},
      {"ip", "-n", hub_, "link", "set", harness_peer, "up"},
      {"ip", "addr", "add", harness_address() + "/24", "dev", harness_veth},
      {"ip", "link", "set", harness_veth, "up"},
  };
  for (const auto& step : steps) {
    if (run_command(step, output)) continue;
    std::string command;
    for (const std::string& word : step) command += (command.empty() ? "" : " ") + word;
    return error = command + ": " + output, false;
  }
  for (int node = 1; node <= nodes_; ++node) {
    if (!build_node(node, error)) return false;
  }
  return true;
}

// The node's namespace, its veth pair (the namespace end renamed eth0) on the bridge, and lo up
// (a node reaches its own address through it).
bool Topology::build_node(int node, std::string& error) {
  const std::string ns = prefix_ + "-n" + std::to_string(node);
  const std::string peer = prefix_ + "p" + std::to_string(node);
  std::string output;
  if (!run_command({"ip", "netns", "add", ns}, output)) return error = "ip netns add " + ns + ": " + output, false;
  netns_.push_back(ns);
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "link", "add", host_veth(node), "type", "veth", "peer", "name", peer},
      {"ip", "link", "set", host_veth(node), "netns", hub_},
      {"ip", "link", "set", peer, "netns", ns},
      {"ip", "-n", ns, "link", "set", peer, "name", "eth0"},
      {"ip", "-n", ns, "addr", "add", node_address(node) + "/24", "dev", "eth0"},
      {"ip", "-n", ns, "link", "set", "eth0", "up"},
      {"ip", "-n", ns, "link", "set", "lo", "up"},
      {"ip", "-n", hub_, "link", "set", host_veth(node), "master", bridge_},
      {"ip", "-n", hub_, "link", "set", host_veth(node), "up"},
  };
  for (const auto& step : steps) {
    if (run_command(step, output)) continue;
    std::string command;
    for (const std::string& word : step) command += (command.empty() ? "" : " ") + word;
    error = command + ": " + output;
    return false;
  }
  return true;
}

bool Topology::tc(int node, bool outbound, std::vector<std::string> args, std::string& error) const {
  std::vector<std::string> argv = {"tc", "-n", outbound ? netns(node) : hub_};
  for (std::string& arg : args) argv.push_back(arg == "DEV" ? (outbound ? "eth0" : host_veth(node)) : std::move(arg));
  std::string output;
  if (run_command(argv, output)) return true;
  std::string command;
  for (const std::string& word : argv) command += (command.empty() ? "" : " ") + word;
  error = command + ": " + output;
  return false;
}

bool Topology::netem_available() const {
  std::string output;
  if (!run_command({"tc", "-n", hub_, "qdisc", "add", "dev", bridge_, "root", "netem", "delay", "1ms"}, output)) return false;
  run_command({"tc", "-n", hub_, "qdisc", "del", "dev", bridge_, "root"}, output);
  return true;
}

bool Topology::bpf_available(const std::string& object) const {
  if (object.empty() || ::access(object.c_str(), R_OK) != 0) return false;
  std::string output;
  if (!run_command({"tc", "-n", hub_, "qdisc", "add", "dev", bridge_, "clsact"}, output)) return false;
  const bool attached =
      run_command({"tc", "-n", hub_, "filter", "add", "dev", bridge_, "egress", "bpf", "da", "obj", object, "sec", "tc/loss5"}, output);
  run_command({"tc", "-n", hub_, "qdisc", "del", "dev", bridge_, "clsact"}, output);
  return attached;
}

bool Topology::bpf_both(int node, const std::string& section, std::string& error) const {
  for (bool outbound : {true, false}) {
    if (!tc(node, outbound, {"qdisc", "add", "dev", "DEV", "clsact"}, error)) return false;
    if (!tc(node, outbound, {"filter", "add", "dev", "DEV", "egress", "bpf", "da", "obj", bpf_object_, "sec", section}, error)) return false;
  }
  return true;
}

// The same root qdisc on both ends of the node's veth.
bool Topology::qdisc_both(int node, const std::vector<std::string>& qdisc, std::string& error) const {
  for (bool outbound : {true, false}) {
    std::vector<std::string> args = {"qdisc", "replace", "dev", "DEV", "root"};
    args.insert(args.end(), qdisc.begin(), qdisc.end());
    if (!tc(node, outbound, args, error)) return false;
  }
  return true;
}

bool Topology::drop_to(int node, const std::vector<int>& others, std::string& error) const {
  std::string output;
  for (int other : others) {
    const std::vector<std::string> argv = {"ip", "-n", netns(node), "route", "add", "blackhole", node_address(other) + "/32"};
    if (!run_command(argv, output)) return error = "ip -n " + netns(node) + " route add blackhole " + node_address(other) + ": " + output, false;
  }
  return true;
}

bool Topology::apply(const Fault& fault, std::string& error) {
  const int node = fault.node;
  std::vector<int> others;  // partition: the nodes off `side`; else every node but `node`
  for (int i = 1; i <= nodes_; ++i) {
    const bool on_side = fault.kind == FaultKind::partition ? std::find(fault.side.begin(), fault.side.end(), i) != fault.side.end() : i == node;
    if (!on_side) others.push_back(i);
  }
  switch (fault.kind) {
    case FaultKind::delay:
      if (delayed_by_netdelay(fault)) return start_delay(fault, error);
      return qdisc_both(node, {"netem", "delay", std::to_string(fault.delay_ms) + "ms", std::to_string(fault.jitter_ms) + "ms"}, error);
    case FaultKind::loss:
      if (!netem_) return bpf_both(node, "tc/loss" + std::to_string(fault.percent), error);
      return qdisc_both(node, {"netem", "loss", std::to_string(fault.percent) + "%"}, error);
    case FaultKind::duplicate:
      if (!netem_) return bpf_both(node, "tc/duplicate" + std::to_string(fault.percent), error);
      return qdisc_both(node, {"netem", "duplicate", std::to_string(fault.percent) + "%"}, error);
    case FaultKind::reorder:
      if (delayed_by_netdelay(fault)) return start_delay(fault, error);
      return qdisc_both(node, {"netem", "delay", std::to_string(fault.delay_ms) + "ms", "reorder", std::to_string(100 - fault.percent) + "%", "50%"},
                        error);
    case FaultKind::throttle:
      return qdisc_both(node, {"tbf", "rate", std::to_string(fault.rate_kbit) + "kbit", "burst", "16kb", "latency", std::to_string(fault.delay_ms) + "ms"},
                        error);
    case FaultKind::isolate: {
      std::string output;
      if (run_command({"ip", "-n", hub_, "link", "set", host_veth(node), "down"}, output)) return true;
      return error = "ip -n " + hub_ + " link set " + host_veth(node) + " down: " + output, false;
    }
    case FaultKind::one_way: {
      if (fault.outbound) return drop_to(node, others, error);
      for (int other : others) {
        if (!drop_to(other, {node}, error)) return false;
      }
      return true;
    }
    case FaultKind::partition: {
      for (int i : fault.side) {
        if (!drop_to(i, others, error)) return false;
      }
      for (int i : others) {
        if (!drop_to(i, fault.side, error)) return false;
      }
      return true;
    }
    case FaultKind::kill:
    case FaultKind::kill_all:
    case FaultKind::pause:
    case FaultKind::clock_jump: break;
  }
  error = std::string("not a network fault: ") + fault_name(fault.kind);
  return false;
}

bool Topology::nfqueue_rules(int node, const std::string& action, std::string& error) const {
  const std::string queue = std::to_string(node);
  for (const auto& [chain, direction] : {std::pair{"OUTPUT", "-o"}, std::pair{"INPUT", "-i"}}) {
    const std::vector<std::string> argv = {"ip", "netns", "exec", netns(node), "iptables", "-w", action, chain, direction, "eth0",
                                           "-j", "NFQUEUE", "--queue-num", queue, "--queue-bypass"};
    std::string output;
    if (!run_command(argv, output)) return error = "iptables " + action + " " + chain + " in " + netns(node) + ": " + output, false;
  }
  return true;
}

bool Topology::nfqueue_available() const {
  if (netdelay_.empty() || ::access(netdelay_.c_str(), X_OK) != 0 || nodes_ < 1) return false;
  std::string error;
  if (!nfqueue_rules(1, "-I", error)) return false;
  return nfqueue_rules(1, "-D", error);
}

// sluice-netdelay in the node's namespace (`ip netns exec`), its stdout on a pipe read when it
// stops; the rules go in after it started (until it binds the queue, --queue-bypass lets packets by).
bool Topology::start_delay(const Fault& fault, std::string& error) {
  const int node = fault.node;
  if (!stop_delay(node, error)) return false;
  const uint64_t seed = static_cast<uint64_t>(fault.start_ms) * 31 + static_cast<uint64_t>(node);
  std::vector<std::string> args = {find_program("ip"), "netns", "exec", netns(node), netdelay_, "--queue", std::to_string(node),
                                   "--delay-ms", std::to_string(fault.delay_ms), "--jitter-ms", std::to_string(fault.jitter_ms),
                                   "--reorder-pct", std::to_string(fault.kind == FaultKind::reorder ? fault.percent : 0),
                                   "--seed", std::to_string(seed), "--duration-s", "600"};
  int output_fd = -1;
  const pid_t pid = spawn(std::move(args), false, output_fd, error);
  if (pid < 0) return false;
  delayers_[static_cast<size_t>(node - 1)] = Delayer{pid, output_fd};
  return nfqueue_rules(node, "-I", error);
}

bool Topology::stop_delay(int node, std::string& error) {
  Delayer& delayer = delayers_.at(static_cast<size_t>(node - 1));
  if (delayer.pid < 0) return true;
  const bool removed = nfqueue_rules(node, "-D", error);
  ::kill(delayer.pid, SIGTERM);
  int status = 0;
  bool reaped = false;
  for (int waited_ms = 0; waited_ms < 3'000 && !reaped; waited_ms += 5) {
    reaped = ::waitpid(delayer.pid, &status, WNOHANG) == delayer.pid;
    if (!reaped) std::this_thread::sleep_for(kReapPoll);
  }
  if (!reaped) {
    ::kill(delayer.pid, SIGKILL);
    ::waitpid(delayer.pid, &status, 0);
  }
  std::string output;
  drain(delayer.output_fd, output);
  ::close(delayer.output_fd);
  delayer = Delayer{};
  packets_delayed_ += figure_of(output, "packets_delayed");
  packets_reordered_ += figure_of(output, "packets_reordered");
  if (!reaped || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (removed) error = "sluice-netdelay on node " + std::to_string(node) + " did not exit cleanly (status " + std::to_string(status) + ")";
    return false;
  }
  return removed;
}

bool Topology::stop_delays(std::string& error) {
  bool stopped = true;
  for (int node = 1; node <= static_cast<int>(delayers_.size()); ++node) {
    std::string failure;
    if (!stop_delay(node, failure) && stopped) error = failure, stopped = false;
  }
  return stopped;
}

// Deletes the root qdisc of both ends of every veth ("no qdisc" answers are fine: nothing to heal),
// flushes the blackhole routes and sets the host ends up.
bool Topology::heal(std::string& error) {
  bool healed = true;
  auto failed = [&](const std::string& what) {
    if (healed) error = what;
    healed = false;
  };
  for (int node = 1; node <= nodes_; ++node) {
    for (bool outbound : {true, false}) {
      std::string output;
      if (!tc(node, outbound, {"qdisc", "del", "dev", "DEV", "root"}, output) && output.find("handle of zero") == std::string::npos &&
          output.find("such file") == std::string::npos) {
        failed(output);
      }
      // No clsact to delete reads "Invalid handle" (a veth without qdisc) or "Cannot find".
      if (!tc(node, outbound, {"qdisc", "del", "dev", "DEV", "clsact"}, output) && output.find("Invalid handle") == std::string::npos &&
          output.find("Cannot find specified qdisc") == std::string::npos) {
        failed(output);
      }
    }
    std::string output;
    if (!run_command({"ip", "-n", netns(node), "route", "flush", "type", "blackhole"}, output)) failed("ip route flush: " + output);
    if (!run_command({"ip", "-n", hub_, "link", "set", host_veth(node), "up"}, output)) failed("ip link set up: " + output);
  }
  return healed;
}

// Deleting the namespaces removes their veth ends and with them the host ends.
void Topology::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  std::string ignored;
  stop_delays(ignored);
  for (const std::string& ns : netns_) run_command({"ip", "netns", "delete", ns}, ignored);
  if (hub_made_) run_command({"ip", "netns", "delete", hub_}, ignored);  // the bridge and the host ends with it
  run_command({"ip", "link", "delete", prefix_ + "h"}, ignored);
  for (int node = 1; node <= nodes_; ++node) run_command({"ip", "link", "delete", host_veth(node)}, ignored);
}

}  // namespace sluice::realfault
