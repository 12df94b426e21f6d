#include "tests/e2e/realfault/run.h"

#include <algorithm>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "sim/checkers/sealed_segments.h"
#include "tests/e2e/node_process.h"
#include "tests/e2e/realfault/history.h"
#include "tests/e2e/realfault/nemesis.h"
#include "tests/e2e/realfault/topology.h"
#include "tests/e2e/realfault/workload.h"

namespace sluice::realfault {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

#ifndef SLUICE_REALFAULT_BPF_OBJ
#define SLUICE_REALFAULT_BPF_OBJ ""  // built without BPF: loss and duplication need netem
#endif
#ifndef SLUICE_REALFAULT_CLOCKSHIFT_LIB
#define SLUICE_REALFAULT_CLOCKSHIFT_LIB ""  // built without the preload library: no clock faults
#endif
#ifndef SLUICE_REALFAULT_NETDELAY
#define SLUICE_REALFAULT_NETDELAY ""  // built without libnetfilter-queue: no delay or reorder without netem
#endif

constexpr uint16_t kSwimPort = 7946;
constexpr uint16_t kRaftPort = 7947;
constexpr uint16_t kRpcPort = 7948;
constexpr uint16_t kHttpPort = 8080;
constexpr auto kPoll = std::chrono::milliseconds(20);
constexpr auto kStopTimeout = std::chrono::milliseconds(15'000);
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr int kOwnExitRestartsMax = 3;  // a node crashing more often stays down (no crash loop)
constexpr size_t kFileBytesMax = 1ull << 30;  // a segment bigger than this is not read

std::atomic<int> g_signal{0};
extern "C" void on_signal(int number) { g_signal = number; }

void print_figures(const std::vector<std::pair<std::string, std::string>>& figures) {
  for (const auto& [key, value] : figures) std::cout << key << "=" << value << "\n";
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

std::string self_path() {
  std::error_code error;
  fs::path path = fs::read_symlink("/proc/self/exe", error);
  return error ? "sluice-realfault" : path.string();
}

// The replica's data dir read through std::filesystem, for the sealed-segment comparison.
checkers::ReplicaFiles files_under(const std::string& root) {
  return checkers::ReplicaFiles{
      [root](const std::string& path) -> std::optional<std::vector<std::string>> {
        std::error_code error;
        fs::directory_iterator it(root + "/" + path, error);
        if (error) return std::nullopt;
        std::vector<std::string> names;
        for (const fs::directory_entry& entry : it) names.push_back(entry.path().filename().string());
        return names;
      },
      [root](const std::string& path) -> std::optional<Bytes> {
        std::ifstream in(root + "/" + path, std::ios::binary);
        if (!in) return std::nullopt;
        Bytes bytes;
        char buffer[64 * 1024];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
          const auto* begin = reinterpret_cast<const std::byte*>(buffer);
          bytes.insert(bytes.end(), begin, begin + in.gcount());
          if (bytes.size() > kFileBytesMax) return std::nullopt;
        }
        return bytes;
      }};
}

class Run {
 public:
  explicit Run(RunOptions options) : options_(std::move(options)) {}
  ~Run() {
    stop_workload();
    if (history_file_ != nullptr) std::fclose(history_file_);
  }
  int execute();

 private:
  bool prepare(int& exit_code);
  std::vector<std::string> node_args(int node) const;
  bool start_node(int node);
  // Waits until `until`, watching the nodes; false when a signal asks the harness to stop.
  bool wait_until(Clock::time_point until);
  void watch_nodes();
  void resolve_target(Fault& fault) const;
  std::string clock_file(int node) const { return dir_ + "/n" + std::to_string(node) + ".clock_ms"; }
  // The node's wall-clock offset and its clocks' drift, for its clockshift library to read
  // (temp + rename: never torn).
  void set_clock(int node, int64_t offset_ms);
  bool decide_clock(int& exit_code);
  bool decide_netdelay(int& exit_code);
  void begin_fault(const Fault& fault, size_t index);
  void end_fault(const Fault& fault);
  void heal();
  bool run_schedule();
  void stop_workload();
  void stop_nodes();
  void compare_segments(const WorkloadOutcome& outcome);
  void fail(const std::string& checker, const std::string& message);
  void plan();
  bool start();
  int finish(bool schedule_completed);
  int report(const WorkloadOutcome& outcome);
  std::string rerun_command() const;
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  RunOptions options_;
  std::string dir_;
  bool dir_made_ = false;
  bool netem_ = false;
  bool bpf_ = false;  // loss and duplication by the BPF programs (no netem)
  bool clock_ = false;  // nodes run under the clockshift library: skews and clock jumps
  std::vector<ClockSkew> skews_;  // per node (index node - 1), with clock_
  int64_t clock_since_ns_ = 0;     // steady_clock at the schedule's making: where the drifts start
  uint64_t clock_faults_ = 0;   // clock jumps begun
  bool netdelay_ = false;       // delay and reorder by sluice-netdelay (no netem)
  uint64_t delay_faults_ = 0;   // delay and reorder faults begun
  std::unique_ptr<Topology> topology_;
  std::vector<std::unique_ptr<e2e::NodeProcess>> nodes_;
  std::vector<bool> down_;  // killed by the nemesis, not restarted yet
  std::vector<int> own_exits_;  // per node: exits the nemesis did not cause
  std::vector<Fault> schedule_;
  std::FILE* history_file_ = nullptr;
  std::unique_ptr<HistoryRecorder> history_;
  WorkloadControl control_;
  WorkloadOutcome outcome_;
  std::thread workload_;
  Clock::time_point start_ = Clock::now();
  std::string checker_;  // the first failure: which checker, and what it found
  std::string violation_;
  uint64_t sealed_compared_ = 0;
  uint64_t sealed_differing_ = 0;
  uint64_t node_crashes_ = 0;
};

void Run::fail(const std::string& checker, const std::string& message) {
  std::cout << "failure: " << checker << ": " << message << std::endl;
  if (!checker_.empty()) return;
  checker_ = checker;
  violation_ = message;
}

// `--netem off` when this run drew no netem faults, so the command names the very schedule on
// any kernel (and `schedule` with the same flags prints it).
std::string Run::rerun_command() const {
  return self_path() + " run --seed " + std::to_string(options_.seed) + " --nodes " + std::to_string(options_.nodes) +
         " --duration-s " + std::to_string(options_.duration_s) + " --converge-s " + std::to_string(options_.converge_s) +
         " --netem " + (netem_ ? "auto" : "off") + " --bpf " + (bpf_ ? "auto" : "off") +
 " --overlap " + (options_.overlap ? "on" : "off") +
         " --clock " + (clock_ ? "on" : "off") + " --netdelay " + (netdelay_ ? "on" : "off") + " --node-bin " + options_.node_bin +
         (options_.planted_bug.empty() ? "" : " --planted-bug " + options_.planted_bug);
}

// Root, leftovers, the run's directory, the topology, the node binary. False with the exit code.
bool Run::prepare(int& exit_code) {
  exit_code = kExitFailed;
  if (::geteuid() != 0) {
    std::cout << "realfault: skipped: network namespaces need root (run as root, or ctest skips this)" << std::endl;
    exit_code = kExitSkipped;
    return false;
  }
  if (options_.node_bin.empty()) options_.node_bin = (fs::path(self_path()).parent_path() / "sluice-node").string();
  if (::access(options_.node_bin.c_str(), X_OK) != 0) {
    std::cerr << "sluice-realfault: no sluice-node at " << options_.node_bin << " (--node-bin)\n";
    return false;
  }
  if (!decide_clock(exit_code)) return false;
  remove_leftovers();
  dir_ = options_.dir;
  if (dir_.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    dir_ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-realfault-" + std::to_string(::getpid());
  }
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) return std::cerr << "sluice-realfault: cannot create " << dir_ << ": " << error.message() << "\n", false;
  dir_made_ = options_.dir.empty();
  std::string why;
  topology_ = Topology::create(options_.nodes, why);
  if (topology_ == nullptr) {
    std::cout << "realfault: " << (why.find("not permitted") != std::string::npos ? "skipped: network namespaces unusable: " : "topology: ")
              << why << std::endl;
    if (why.find("not permitted") != std::string::npos) exit_code = kExitSkipped;
    return false;
  }
  netem_ = options_.netem_auto && topology_->netem_available();
  bpf_ = !netem_ && options_.bpf_auto && topology_->bpf_available(SLUICE_REALFAULT_BPF_OBJ);
  topology_->use(netem_, bpf_ ? SLUICE_REALFAULT_BPF_OBJ : "");
  return decide_netdelay(exit_code);
}

// Delay and reorder by sluice-netdelay where there is no netem, it was built and iptables takes
// an NFQUEUE rule (--netdelay auto), or as --netdelay says.
bool Run::decide_netdelay(int& exit_code) {
  using NetDelay = RunOptions::NetDelay;
  if (netem_ || options_.netdelay == NetDelay::off) return true;
  topology_->use_netdelay(SLUICE_REALFAULT_NETDELAY);
  netdelay_ = topology_->nfqueue_available();
  if (!netdelay_) topology_->use_netdelay("");
  if (netdelay_ || options_.netdelay == NetDelay::auto_) {
    if (!netdelay_) std::cout << "realfault: note: no sluice-netdelay or no NFQUEUE rule here: no delay or reorder faults (--netdelay off)" << std::endl;
    return true;
  }
  std::cout << "realfault: --netdelay on, but sluice-netdelay ('" << SLUICE_REALFAULT_NETDELAY
            << "', needs libnetfilter-queue) or iptables' NFQUEUE target is missing" << std::endl;
  exit_code = kExitFailed;
  return false;
}

// Clock faults where the clockshift library was built (--clock auto), or as --clock says.
bool Run::decide_clock(int& exit_code) {
  const std::string library = SLUICE_REALFAULT_CLOCKSHIFT_LIB;
  const bool present = !library.empty() && ::access(library.c_str(), R_OK) == 0;
  clock_ = options_.clock != RunOptions::Clock::off && present;
  if (options_.clock == RunOptions::Clock::on && !present) {
    std::cout << "realfault: --clock on, but no clockshift library at '" << library << "' (build target sluice_clockshift)" << std::endl;
    exit_code = kExitFailed;
    return false;
  }
  if (options_.clock == RunOptions::Clock::auto_ && !present) {
    std::cout << "realfault: note: no clockshift library at '" << library << "': no clock faults (--clock off)" << std::endl;
  }
  return true;
}

void Run::set_clock(int node, int64_t offset_ms) {
  const std::string path = clock_file(node);
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    // The drift runs from the run's start on this machine's CLOCK_MONOTONIC (steady_clock), which
    // the nodes' clockshift reads too: a rewrite for a jump continues it where it was, and keeps
    // the monotonic clock's rate (the library anchors it at SINCE_NS at a node's first reading).
    const ClockSkew& skew = skews_[static_cast<size_t>(node - 1)];
    out << offset_ms << " " << skew.drift_ppm << " " << clock_since_ns_ << "\n";
    if (!out.flush()) return fail("harness", "cannot write " + temp);
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) fail("harness", "cannot rename " + temp + ": " + error.message());
}

std::vector<std::string> Run::node_args(int node) const {
  std::vector<std::string> args = {"netns", "exec", topology_->netns(node)};
  if (clock_) {  // env execs in place too: the process stays the node
    args.insert(args.end(), {find_program("env"), "LD_PRELOAD=" + std::string(SLUICE_REALFAULT_CLOCKSHIFT_LIB),
                             "SLUICE_CLOCKSHIFT_FILE=" + clock_file(node)});
  }
  args.insert(args.end(), {options_.node_bin,
                                   "--node-id", std::to_string(node), "--cluster-id", std::to_string(options_.seed % 1'000'000'007 + 1),
                                   "--data-dir", dir_ + "/n" + std::to_string(node), "--host", topology_->node_address(node),
                                   "--port", std::to_string(kSwimPort), "--raft-port", std::to_string(kRaftPort),
                                   "--rpc-port", std::to_string(kRpcPort), "--http-port", std::to_string(kHttpPort),
                                   "--controller-voters", "1,2,3", "--xdp", "off", "--anonymous", "admin"});
  if (!options_.planted_bug.empty()) {
    args.push_back("--test-planted-bug");
    args.push_back(options_.planted_bug);
  }
  for (int other = 1; other <= options_.nodes; ++other) {
    if (other == node) continue;
    args.push_back("--seed");
    args.push_back(topology_->node_address(other) + ":" + std::to_string(kSwimPort));
  }
  return args;
}

// `ip netns exec` execs the node in place (no fork), so the process is the node: signals reach it.
bool Run::start_node(int node) {
  auto& process = nodes_.at(static_cast<size_t>(node - 1));
  if (process == nullptr) {
    process = std::make_unique<e2e::NodeProcess>(find_program("ip"), node_args(node), dir_ + "/n" + std::to_string(node) + ".log");
  }
  std::string error;
  if (process->start(error)) return true;
  fail("harness", "starting node " + std::to_string(node) + ": " + error);
  return false;
}

// A node that exits without the nemesis killing it crashed: a finding. It is restarted so the run
// goes on (as a service manager would), up to kOwnExitRestartsMax times.
void Run::watch_nodes() {
  for (int node = 1; node <= options_.nodes; ++node) {
    const size_t i = static_cast<size_t>(node - 1);
    if (down_[i] || nodes_[i] == nullptr) continue;
    std::optional<int> status = nodes_[i]->poll_exit();
    if (!status) continue;
    ++node_crashes_;
    fail("process", "node " + std::to_string(node) + " exited on its own (" + e2e::describe_wait_status(*status) + ") at " +
                        std::to_string(elapsed_s()) + " s; its log: " + nodes_[i]->log_path());
    if (++own_exits_[i] <= kOwnExitRestartsMax) start_node(node);
  }
}

bool Run::wait_until(Clock::time_point until) {
  while (Clock::now() < until) {
    if (g_signal.load() != 0) return false;
    watch_nodes();
    std::this_thread::sleep_for(kPoll);
  }
  return g_signal.load() == 0;
}

// A fault aimed at a partition's leader hits the node the workload last saw leading it.
void Run::resolve_target(Fault& fault) const {
  if (fault.leader_of < 0 || static_cast<size_t>(fault.leader_of) >= kLeadersWatchedMax) return;
  const uint64_t leader = control_.leaders[fault.leader_of].load();
  if (leader >= 1 && leader <= static_cast<uint64_t>(options_.nodes)) fault.node = static_cast<int>(leader);
}

void Run::begin_fault(const Fault& fault, size_t index) {
  std::cout << "t=" << elapsed_s() << "s begin fault " << index << " " << fault_name(fault.kind);
  if (fault.kind != FaultKind::partition && fault.kind != FaultKind::kill_all) std::cout << " node=" << fault.node;
  if (fault.kind == FaultKind::clock_jump) std::cout << " clock_ms=" << skews_[static_cast<size_t>(fault.node - 1)].offset_ms + fault.jump_ms;
  std::cout << std::endl;
  const size_t i = static_cast<size_t>(fault.node - 1);
  if (fault.kind == FaultKind::kill || fault.kind == FaultKind::kill_all) {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (fault.kind == FaultKind::kill_all || n == i) {
        nodes_[n]->kill_and_reap();
        down_[n] = true;
      }
    }
    return;
  }
  if (fault.kind == FaultKind::pause) return nodes_[i]->signal(SIGSTOP);
  if (fault.kind == FaultKind::clock_jump) {
    ++clock_faults_;
    return set_clock(fault.node, skews_[i].offset_ms + fault.jump_ms);
  }
  if (fault.kind == FaultKind::delay || fault.kind == FaultKind::reorder) ++delay_faults_;
  std::string error;
  if (!topology_->apply(fault, error)) fail("harness", "applying fault " + std::to_string(index) + ": " + error);
}

void Run::end_fault(const Fault& fault) {
  const size_t i = static_cast<size_t>(fault.node - 1);
  if (fault.kind == FaultKind::kill || fault.kind == FaultKind::kill_all) {
    for (int node = 1; node <= options_.nodes; ++node) {
      if (!down_[static_cast<size_t>(node - 1)]) continue;
      down_[static_cast<size_t>(node - 1)] = false;
      start_node(node);
    }
    return;
  }
  if (fault.kind == FaultKind::pause) return nodes_[i]->signal(SIGCONT);
  if (fault.kind == FaultKind::clock_jump) return set_clock(fault.node, skews_[i].offset_ms);
  std::string error;
  // A delay by sluice-netdelay comes on top of the other faults: it ends alone.
  if (topology_->delayed_by_netdelay(fault)) {
    if (!topology_->stop_delay(fault.node, error)) fail("harness", "ending a delay: " + error);
    return;
  }
  if (!topology_->heal(error)) fail("harness", "healing: " + error);
}

// Everything back: links, routes, paused and killed nodes.
void Run::heal() {
  std::string error;
  if (!topology_->heal(error)) fail("harness", "healing: " + error);
  if (!topology_->stop_delays(error)) fail("harness", "ending the delays: " + error);
  for (int node = 1; node <= options_.nodes; ++node) {
    const size_t i = static_cast<size_t>(node - 1);
    if (clock_) set_clock(node, skews_[i].offset_ms);  // a jump cut short: back to the skew
    nodes_[i]->signal(SIGCONT);
    if (down_[i]) {
      down_[i] = false;
      start_node(node);
    }
  }
}

// Times printed from here on are offsets from the schedule's start, as in its printed lines.
// Begins and ends in time order (an end before a begin at the same time): a fault inside another's
// window (Fault::overlaps) begins and ends while its host is on.
bool Run::run_schedule() {
  const Clock::time_point t0 = Clock::now();
  start_ = t0;
  struct Step {
    int64_t at_ms;
    bool begin;
    size_t index;
  };
  std::vector<Step> steps;
  for (size_t index = 0; index < schedule_.size(); ++index) {
    steps.push_back(Step{schedule_[index].start_ms, true, index});
    steps.push_back(Step{schedule_[index].end_ms, false, index});
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : (!a.begin && b.begin);
  });
  std::vector<Fault> resolved = schedule_;  // targets as they were when each fault began
  for (const Step& step : steps) {
    if (!wait_until(t0 + std::chrono::milliseconds(step.at_ms))) return false;
    if (step.begin) {
      resolve_target(resolved[step.index]);
      begin_fault(resolved[step.index], step.index);
    } else {
      end_fault(resolved[step.index]);
    }
  }
  return wait_until(t0 + std::chrono::seconds(options_.duration_s));
}

void Run::stop_workload() {
  if (!workload_.joinable()) return;
  control_.abort = true;
  workload_.join();
}

// SIGTERM, a bounded wait, SIGKILL for the ones that overrun (a finding: a node must stop on it).
void Run::stop_nodes() {
  for (auto& process : nodes_) {
    if (process != nullptr) process->signal(SIGTERM);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == nullptr || !nodes_[i]->running()) continue;
    std::optional<int> status = nodes_[i]->wait_exit(kStopTimeout);
    if (!status) {
      fail("shutdown", "node " + std::to_string(i + 1) + " did not exit within 15 s of SIGTERM");
      nodes_[i]->kill_and_reap();
    } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      fail("shutdown", "node " + std::to_string(i + 1) + " stopped with " + e2e::describe_wait_status(*status));
    }
  }
}

void Run::compare_segments(const WorkloadOutcome& outcome) {
  if (outcome.topic_id == 0) return;
  for (size_t p = 0; p < outcome.replicas.size(); ++p) {
    std::vector<checkers::ReplicaFiles> replicas;
    for (uint64_t node : outcome.replicas[p]) replicas.push_back(files_under(dir_ + "/n" + std::to_string(node)));
    const checkers::SegmentsCompared result =
        checkers::compare_sealed_segments(replicas, "partition-" + std::to_string(outcome.topic_id) + "-" + std::to_string(p));
    sealed_compared_ += result.compared;
    sealed_differing_ += result.differing;
    if (result.differing > 0) fail("sealed_segments", result.first_difference);
  }
}

int Run::report(const WorkloadOutcome& outcome) {
  const LedgerVerdict verdict = judge(history_->ledger());
  if (!verdict.violation.empty()) {  // "<checker>: <what>": the checker is named once, as for the others
    const size_t colon = verdict.violation.find(": ");
    fail(verdict.violation.substr(0, colon), colon == std::string::npos ? verdict.violation : verdict.violation.substr(colon + 2));
  }
  std::cout << "seed=" << options_.seed << "\nfaults=" << schedule_.size() << "\n";
  print_figures(verdict.figures);
  std::cout << "records_sent=" << outcome.records_sent << "\ndeliveries_failed=" << outcome.deliveries_failed
            << "\nproducer_retries=" << outcome.producer_retries << "\nduplicates_answered=" << outcome.duplicates_answered
            << "\nclock_faults=" << clock_faults_ << "\ndelay_faults=" << delay_faults_ << "\npackets_delayed=" << topology_->packets_delayed()
            << "\npackets_reordered=" << topology_->packets_reordered() << "\nnode_crashes=" << node_crashes_ << "\nsealed_segments_compared=" << sealed_compared_
            << "\nsealed_segments_differing=" << sealed_differing_ << "\nconverge_s=" << outcome.converge_s << "\nrun_dir=" << dir_
            << "\n";
  const bool passed = checker_.empty();
  if (!passed) {
    std::cout << "checker=" << checker_ << "\nfirst_violation=" << violation_ << "\nhistory=" << dir_ << "/history.jsonl\n"
              << "rerun: " << rerun_command() << "\n";
  }
  std::cout << "result=" << (passed ? "passed" : "failed") << std::endl;
  return passed ? kExitPassed : kExitFailed;
}

// The schedule from the seed, printed in full with the command that re-runs it.
void Run::plan() {
  ScheduleShape shape;
  shape.nodes = options_.nodes;
  shape.faults_stop_ms = options_.duration_s * 1000;
  shape.netem = netem_;
  shape.bpf = bpf_;
  shape.overlap = options_.overlap;
  shape.clock = clock_;
  shape.nfqueue = netdelay_;
  shape.partitions = static_cast<int>(WorkloadConfig{}.partitions);
  schedule_ = make_schedule(options_.seed, shape);
  skews_ = make_skews(options_.seed, shape);
  clock_since_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  std::cout << "realfault seed=" << options_.seed << " nodes=" << options_.nodes << " duration_s=" << options_.duration_s
            << " netem=" << (netem_ ? "on" : "off") << " bpf_faults=" << (bpf_ ? "on" : "off") << " clock_faults=" << (clock_ ? "on" : "off")
            << " netdelay=" << (netdelay_ ? "on" : "off") << " run_dir=" << dir_ << "\n";
  for (size_t i = 0; i < skews_.size(); ++i) std::cout << describe_skew(static_cast<int>(i + 1), skews_[i]) << "\n";
  for (size_t i = 0; i < schedule_.size(); ++i) std::cout << describe(schedule_[i], i, options_.nodes) << "\n";
  std::cout << "rerun: " << rerun_command() << std::endl;
}

// The nodes, then the workload on its thread; true once it runs (the topic exists).
bool Run::start() {
  const std::string history_path = dir_ + "/history.jsonl";
  history_file_ = std::fopen(history_path.c_str(), "w");
  if (history_file_ == nullptr) return fail("harness", "cannot write " + history_path), false;
  history_ = std::make_unique<HistoryRecorder>(history_file_, /*idempotent=*/true);
  nodes_.resize(static_cast<size_t>(options_.nodes));
  down_.assign(static_cast<size_t>(options_.nodes), false);
  own_exits_.assign(static_cast<size_t>(options_.nodes), 0);
  for (int node = 1; node <= options_.nodes; ++node) {
    if (clock_) set_clock(node, skews_[static_cast<size_t>(node - 1)].offset_ms);
    if (!start_node(node)) return false;
  }
  WorkloadConfig config;
  for (int node = 1; node <= options_.nodes; ++node) config.brokers.push_back(rt::Address{topology_->node_address(node), kHttpPort});
  config.converge_timeout = std::chrono::seconds(options_.converge_s);
  config.ready_timeout = kReadyTimeout;
  workload_ = std::thread([this, config] {
    sigset_t block;  // signals are the harness thread's
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &block, nullptr);
    outcome_ = run_workload(config, *history_, control_);
  });
  const Clock::time_point ready_deadline = Clock::now() + kReadyTimeout + std::chrono::seconds(10);
  while (control_.phase.load() == WorkloadControl::starting && !control_.setup_failed.load()) {
    if (!wait_until(std::min(ready_deadline, Clock::now() + kPoll)) || Clock::now() >= ready_deadline) break;
  }
  if (control_.phase.load() == WorkloadControl::running) return true;
  stop_workload();
  fail("setup", outcome_.error.empty() ? "the workload did not start within the deadline" : outcome_.error);
  return false;
}

// After the schedule: heal, wait for the workload's verdict on convergence, stop the nodes,
// compare their segments and report.
int Run::finish(bool schedule_completed) {
  heal();
  control_.phase = WorkloadControl::healed;
  std::cout << "t=" << elapsed_s() << "s healed" << std::endl;
  while (schedule_completed && control_.phase.load() != WorkloadControl::done && g_signal.load() == 0) {
    watch_nodes();
    std::this_thread::sleep_for(kPoll);
  }
  stop_workload();
  if (g_signal.load() != 0) {
    std::cout << "realfault: interrupted by signal " << g_signal.load() << "; tearing down" << std::endl;
    return 128 + g_signal.load();
  }
  if (!outcome_.converged) fail("liveness", outcome_.error);
  stop_nodes();
  compare_segments(outcome_);
  const int code = report(outcome_);
  if (code == kExitPassed && dir_made_ && !options_.keep) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  return code;
}

int Run::execute() {
  if (!options_.seed_given) options_.seed = static_cast<uint64_t>(std::time(nullptr)) ^ (static_cast<uint64_t>(::getpid()) << 32);
  install_signal_handlers();
  int exit_code = kExitFailed;
  if (!prepare(exit_code)) return exit_code;
  plan();
  if (!start()) return report(outcome_);
  std::cout << "workload running after " << elapsed_s() << " s; the schedule starts" << std::endl;
  return finish(run_schedule());
}

}  // namespace

int run_realfault(const RunOptions& options) {
  Run run(options);
  return run.execute();
}

}  // namespace sluice::realfault
