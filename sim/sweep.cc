#include "sim/sweep.h"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "sim/simulation.h"

namespace sluice::sim {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kPollTimeoutMs = 200;       // the progress line's ETA refreshes this often at least
constexpr double kProgressIntervalS = 0.1;  // and at most this often
constexpr size_t kReadBytesMax = 64 << 10;

// Wall time since construction: the runner's own figures, never seen by a simulation.
class Stopwatch {
 public:
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;  // determinism-ok: runner figures (seeds_per_s, ETA), not simulation input
  Clock::time_point start_ = Clock::now();
};

// "seeds 12/100  3.2 seeds/s  failures 0  ETA 28s" on stderr, rewritten in place (\r) when stderr
// is a terminal; nothing otherwise (a log file would fill with carriage returns).
class Progress {
 public:
  Progress(bool enabled, uint64_t total) : enabled_(enabled), total_(total) {}

  void update(uint64_t done, uint64_t failures, double elapsed_s, bool force = false) {
    if (!enabled_ || (!force && elapsed_s - shown_at_s_ < kProgressIntervalS)) return;
    shown_at_s_ = elapsed_s;
    const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
    char line[160];
    if (rate > 0) {
      std::snprintf(line, sizeof line, "\rseeds %llu/%llu  %.2f seeds/s  failures %llu  ETA %.0fs   ",
                    static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_), rate,
                    static_cast<unsigned long long>(failures), static_cast<double>(total_ - done) / rate);
    } else {
      std::snprintf(line, sizeof line, "\rseeds %llu/%llu  failures %llu  ETA -   ", static_cast<unsigned long long>(done),
                    static_cast<unsigned long long>(total_), static_cast<unsigned long long>(failures));
    }
    std::cerr << line << std::flush;
  }
  void finish() {
    if (enabled_) std::cerr << "\n" << std::flush;
  }

 private:
  bool enabled_;
  uint64_t total_;
  double shown_at_s_ = -1;
};

// Takes results in any order (k: position in the shard) and prints them, and adds them to the
// summary, in seed order, so the output does not depend on the number of workers.
class Collector {
 public:
  Collector(std::ostream& out, SweepSummary& summary) : out_(out), summary_(summary) {}

  void deliver(uint64_t k, SeedResult result) {
    ++received_;
    if (!result.passed) ++failures_;
    pending_.emplace(k, std::move(result));
    for (auto it = pending_.begin(); it != pending_.end() && it->first == printed_; it = pending_.erase(it), ++printed_) {
      print(it->second);
      summary_.add(it->second);
    }
  }
  uint64_t received() const { return received_; }
  uint64_t failures() const { return failures_; }

 private:
  void print(const SeedResult& result) {
    out_ << "seed=" << result.seed << " result=" << (result.passed ? "passed" : "FAILED")
         << " trace_hash=" << hex16(result.trace_hash) << "\n";
    if (!result.passed) {
      out_ << "  failure=" << result.failure << "\n  replay=" << replay_command(summary_.scenario_path, result.seed) << "\n";
    }
    out_ << std::flush;
  }

  std::ostream& out_;
  SweepSummary& summary_;
  std::map<uint64_t, SeedResult> pending_;  // arrived ahead of an earlier seed
  uint64_t printed_ = 0;
  uint64_t received_ = 0;
  uint64_t failures_ = 0;
};

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

// One seed; with check_determinism twice (the second run's hash must match the first's).
SeedResult run_seed(const Scenario& scenario, uint64_t seed, bool check_determinism) {
  SeedResult result = seed_result_of(run_simulation(scenario, SimulationOptions{seed, false}));
  if (!check_determinism || !result.passed) return result;
  const uint64_t again = run_simulation(scenario, SimulationOptions{seed, false}).trace_hash;
  if (again != result.trace_hash) {
    result.passed = false;
    result.failure = "determinism: trace_hash " + hex16(result.trace_hash) + " on the first run, " + hex16(again) +
                     " on the second (the replay command with --check-determinism names the first divergent event)";
  }
  return result;
}

// A worker process: runs seeds first_k, first_k + stride, ... of the shard and sends each result
// as a frame. It leaves by _exit: the parent's buffered output must not be flushed twice.
[[noreturn]] void worker_main(const Scenario& scenario, const SweepOptions& options, uint64_t first_k, int fd) {
  const uint64_t total = shard_size(options.range, options.shard);
  for (uint64_t k = first_k; k < total; k += options.jobs) {
    const uint64_t seed = shard_seed(options.range, options.shard, k);
    if (!write_all(fd, encode_seed_result(run_seed(scenario, seed, options.check_determinism)))) ::_exit(kExitFailed);
  }
  ::_exit(0);
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;          // read end of its pipe; -1 once it is done
  uint64_t next_k = 0;  // the position of the seed it runs now
  std::string buffer;   // bytes of a frame not yet whole
};

// Out of processes or descriptors the sweep cannot go on; its workers die with it (PDEATHSIG).
[[noreturn]] void cannot_start_worker(const char* call) {
  std::cerr << "sluice-sim: cannot start a worker process: " << call << ": " << std::strerror(errno) << "\n";
  std::exit(kExitFailed);
}

Worker spawn_worker(const Scenario& scenario, const SweepOptions& options, uint64_t first_k) {
  int fds[2];
  if (::pipe(fds) != 0) cannot_start_worker("pipe");
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) cannot_start_worker("fork");
  if (pid == 0) {
    // A worker must not outlive an interrupted sweep (Ctrl-C, a killed CI job).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    worker_main(scenario, options, first_k, fds[1]);
  }
  ::close(fds[1]);
  return Worker{pid, fds[0], first_k, ""};
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "stopped";
}

// Runs the shard's seeds in options.jobs worker processes; results go to `collector`.
class WorkerPool {
 public:
  WorkerPool(const Scenario& scenario, const SweepOptions& options, Collector& collector)
      : scenario_(scenario), options_(options), collector_(collector), total_(shard_size(options.range, options.shard)) {
    for (uint64_t w = 0; w < options.jobs && w < total_; ++w) workers_.push_back(spawn_worker(scenario, options, w));
  }

  // Waits for output from any worker (at most kPollTimeoutMs) and takes it; false once all are done.
  bool step() {
    std::vector<pollfd> fds;
    std::vector<Worker*> polled;
    for (Worker& worker : workers_) {
      if (worker.fd < 0) continue;
      fds.push_back(pollfd{worker.fd, POLLIN, 0});
      polled.push_back(&worker);
    }
    if (fds.empty()) return false;
    if (::poll(fds.data(), fds.size(), kPollTimeoutMs) < 0) SLUICE_ASSERT(errno == EINTR);
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) read_from(*polled[i]);
    }
    return true;
  }

 private:
  void read_from(Worker& worker) {
    char bytes[kReadBytesMax];
    const ssize_t got = ::read(worker.fd, bytes, sizeof bytes);
    if (got < 0 && errno == EINTR) return;
    if (got <= 0) return on_exit(worker);
    worker.buffer.append(bytes, static_cast<size_t>(got));
    while (true) {
      Result<std::optional<SeedResult>> frame = take_seed_result(worker.buffer);
      const bool expected = frame.ok() && (!frame->has_value() || (*frame)->seed == shard_seed(options_.range, options_.shard, worker.next_k));
      if (!expected) {
        std::cerr << "sluice-sim: worker " << worker.pid << " sent a malformed or unexpected result; stopping it\n";
        ::kill(worker.pid, SIGKILL);
        return on_exit(worker);
      }
      if (!frame->has_value()) return;
      collector_.deliver(worker.next_k, std::move(**frame));
      worker.next_k += options_.jobs;
    }
  }

  // A worker closed its pipe: done, or it died running worker.next_k (an assertion aborts the
  // process): that seed fails and a fresh worker carries on with the rest of its seeds.
  void on_exit(Worker& worker) {
    ::close(worker.fd);
    worker.fd = -1;
    int status = 0;
    while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (worker.next_k >= total_) return;
    SeedResult died;
    died.seed = shard_seed(options_.range, options_.shard, worker.next_k);
    died.passed = false;
    died.failure = "worker died: the process running this seed " + describe_exit(status) +
                   "; a failed assertion prints its message on stderr";
    collector_.deliver(worker.next_k, std::move(died));
    const uint64_t next = worker.next_k + options_.jobs;
    if (next < total_) worker = spawn_worker(scenario_, options_, next);
  }

  const Scenario& scenario_;
  const SweepOptions& options_;
  Collector& collector_;
  uint64_t total_;
  std::vector<Worker> workers_;
};

void print_coverage_and_buggify(const SweepSummary& summary, std::ostream& out) {
  for (const auto& [name, count] : summary.coverage) out << "coverage " << name << " seeds=" << count << "/" << summary.seeds << "\n";
  for (const std::string& name : summary.coverage_missing()) out << "coverage_missing=" << name << "\n";
  for (const auto& [site, counts] : summary.buggify) {
    out << "buggify " << site << " seeds_enabled=" << counts.seeds_enabled << " seeds_fired=" << counts.seeds_fired
        << " fires=" << counts.fires << "\n";
  }
}

void print_summary(const SweepSummary& summary, std::ostream& out) {
  // This first line's shape predates the rest; ctest's pass expressions match it.
  out << "seeds=" << summary.seeds << " failed=" << summary.failures.size()
      << " coverage=" << (summary.coverage_missing().empty() ? "complete" : "INCOMPLETE") << "\n";
  out << "failures=" << summary.failures.size() << "\n";
  out << "seeds_per_s=" << format_figure(summary.seeds_per_s(), 3) << "\n";
  out << "wall_s=" << format_figure(summary.wall_s, 3) << "\n";
  out << "jobs=" << summary.jobs << "\nshard=" << summary.shards.front().to_string() << "\n";
  for (const SweepFailure& failure : summary.failures) {
    out << "failed_seed=" << failure.seed << " checker=" << failure.checker << " failure=" << failure.failure
        << "\n  replay=" << failure.replay << "\n";
  }
}

SweepSummary empty_summary(const Scenario& scenario, const SweepOptions& options) {
  SweepSummary summary;
  summary.scenario = scenario.name;
  summary.scenario_path = scenario.path;
  summary.range = options.range;
  summary.shards = {options.shard};
  summary.jobs = options.jobs;
  summary.swarm = scenario.swarm.enabled;
  summary.coverage_required = scenario.coverage_required;
  return summary;
}

}  // namespace

int run_sweep(const Scenario& scenario, const SweepOptions& options) {
  const bool json_to_stdout = options.json_path == "-";
  std::ofstream json_file;
  if (!options.json_path.empty() && !json_to_stdout) {
    json_file.open(options.json_path, std::ios::binary | std::ios::trunc);
    if (!json_file) {
      std::cerr << "sluice-sim: --json: cannot write '" << options.json_path << "'\n";
      return kExitUsage;
    }
  }
  std::ostream& text = json_to_stdout ? std::cerr : std::cout;
  SweepSummary summary = empty_summary(scenario, options);
  Collector collector(text, summary);
  const uint64_t total = shard_size(options.range, options.shard);
  Progress progress(!json_to_stdout && ::isatty(STDERR_FILENO) == 1, total);
  const Stopwatch stopwatch;
  WorkerPool pool(scenario, options, collector);
  while (pool.step()) progress.update(collector.received(), collector.failures(), stopwatch.elapsed_s());
  progress.update(collector.received(), collector.failures(), stopwatch.elapsed_s(), true);
  progress.finish();
  summary.wall_s = stopwatch.elapsed_s();
  print_coverage_and_buggify(summary, text);
  print_summary(summary, text);
  if (options.check_determinism) text << "determinism=checked\n";
  if (options.after_summary) options.after_summary(summary, text);
  if (json_to_stdout) std::cout << to_json(summary) << std::flush;
  if (json_file.is_open()) json_file << to_json(summary);
  return summary.passed() ? 0 : kExitFailed;
}

int run_merge(const std::vector<std::string>& paths, std::ostream& out, std::ostream& errors) {
  std::vector<SweepSummary> summaries;
  for (const std::string& path : paths) {
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    if (file.is_open()) text << file.rdbuf();
    if (!file.is_open() || file.bad()) {
      errors << "sluice-sim merge: " << path << ": cannot read\n";
      return kExitUsage;
    }
    Result<SweepSummary> summary = summary_from_json(text.str());
    if (!summary.ok()) {
      errors << "sluice-sim merge: " << path << ": " << summary.status().message() << "\n";
      return kExitUsage;
    }
    summaries.push_back(std::move(*summary));
  }
  Result<SweepSummary> merged = merge_summaries(summaries);
  if (!merged.ok()) {
    errors << "sluice-sim merge: " << merged.status().message() << "\n";
    return kExitUsage;
  }
  out << to_json(*merged);
  return merged->passed() ? 0 : kExitFailed;
}

}  // namespace sluice::sim
