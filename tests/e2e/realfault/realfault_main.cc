// sluice-realfault: the real-fault harness (docs/realfault.md). `run` starts N sluice-node
// processes in network namespaces, drives them with the real client library while a seeded
// nemesis injects faults, heals, and judges the history with the simulation's checkers and the
// replicas' sealed segments byte for byte. `check --history FILE` judges a recorded history.
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "node/base/planted_bug.h"
#include "tests/e2e/realfault/history.h"
#include "tests/e2e/realfault/nemesis.h"
#include "tests/e2e/realfault/run.h"

namespace sluice::realfault {
namespace {

const char kUsage[] = R"(usage: sluice-realfault [run] [OPTIONS]
       sluice-realfault check --history FILE
       sluice-realfault schedule --seed N [--nodes N] [--duration-s S] [--netem auto|off] [--bpf auto|off] [--overlap on|off]
                                [--clock auto|on|off] [--netdelay auto|on|off]

run (as root): N sluice-node processes, each in its own network namespace on a bridge; the real
client library produces and consumes while a nemesis made from --seed injects faults (tc qdiscs
and BPF programs, blackhole routes, link down, SIGKILL + restart, SIGSTOP/SIGCONT, wall-clock
skews and jumps, clock drifts); then the network heals and the history is judged by the simulation's partition
ledger, and the replicas' sealed segments are compared byte for byte. Exits 0 passed, 1 failed, 2 usage error, 77 skipped (not root, or no
network namespaces).

  --seed N          the nemesis and workload seed (default: from the clock; printed)
  --nodes N         nodes, 3..7 (default 3)
  --duration-s S    how long faults are injected, 5..3600 (default 20)
  --converge-s S    the deadline for convergence after healing (default 90)
  --netem MODE      auto (use netem faults where the kernel has sch_netem) or off (default auto)
  --bpf MODE        auto (without netem: loss and duplication by tc BPF programs where tc attaches
                    them) or off (default auto)
  --overlap MODE    on: half of the network faults of 1.5 s or more get a kill or pause of one
                    node inside their window; off: one fault at a time (default on)
  --clock MODE      auto, on or off (default auto: on where the clockshift preload library was
                    built, else off with a note; on without it fails): every node's wall clock
                    starts skewed by up to +-0.5 s and jumps by 0.05..3 s either way for 1..4 s,
                    mostly on a partition's leader; every node's clocks, wall and monotonic
                    alike, run up to +-1,000 ppm fast or slow (one drift_ppm for both; its
                    timers and waits follow); a partition's record timestamps must never go
                    back (timestamp_regressions=0)
  --netdelay MODE   auto, on or off (default auto: without netem, on where sluice-netdelay was
                    built (libnetfilter-queue) and iptables takes an NFQUEUE rule, else off with
                    a note; on without them fails): delay (5..200 ms, jitter up to half) and
                    reorder (10..100 ms, 10..50 % sent at once) faults on one node's link for
                    1..4 s, on top of the other faults; packets_delayed= and packets_reordered=
  --dir DIR         the run's directory: data dirs, node logs, history.jsonl (default: a fresh
                    one under $TMPDIR or /tmp; removed after a pass unless --keep)
  --keep            keep the run's directory after a pass
  --node-bin PATH   the sluice-node to run (default: next to this binary)
  --planted-bug B   every node runs with this known bug planted (sluice-node --test-planted-bug;
                    node/base/planted_bug.h): shows the checkers catch it against real nodes

check --history FILE: replays a history.jsonl through the same ledger; exit 0 passed, 1 failed.
schedule: prints the schedule a run with these flags would follow (--netem auto: as on a kernel
with netem; --netem off --bpf auto: as on one without netem whose tc attaches BPF programs;
--clock auto: as with the clockshift library; --netem off --netdelay auto: as with
sluice-netdelay), without root and without running anything.
)";

bool parse_int(const std::string& text, int64_t low, int64_t high, int64_t& out) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < low || value > high) return false;
  out = value;
  return true;
}

// nullopt (after saying why on stderr) on a usage error.
std::optional<RunOptions> parse_run(const std::vector<std::string>& args) {
  RunOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    std::optional<std::string> text;
    int64_t number = 0;
    if (flag == "--keep") {
      options.keep = true;
      continue;
    }
    if (flag != "--seed" && flag != "--nodes" && flag != "--duration-s" && flag != "--converge-s" && flag != "--netem" && flag != "--bpf" &&
        flag != "--dir" && flag != "--node-bin" && flag != "--planted-bug" && flag != "--overlap" && flag != "--clock" &&
        flag != "--netdelay") {
      std::cerr << "sluice-realfault: unknown option '" << flag << "'\n";
      return std::nullopt;
    }
    if (!(text = value())) {
      std::cerr << "sluice-realfault: " << flag << " needs a value\n";
      return std::nullopt;
    }
    bool good = true;
    if (flag == "--seed") {
      char* end = nullptr;
      errno = 0;
      options.seed = std::strtoull(text->c_str(), &end, 10);
      good = !text->empty() && *end == '\0' && errno == 0 && (*text)[0] != '-';
      options.seed_given = true;
    } else if (flag == "--nodes") {
      good = parse_int(*text, 3, kNodesMax, number);
      options.nodes = static_cast<int>(number);
    } else if (flag == "--duration-s") {
      good = parse_int(*text, 5, kDurationSMax, options.duration_s);
    } else if (flag == "--converge-s") {
      good = parse_int(*text, 10, kDurationSMax, options.converge_s);
    } else if (flag == "--netem") {
      good = *text == "auto" || *text == "off";
      options.netem_auto = *text == "auto";
    } else if (flag == "--bpf") {
      good = *text == "auto" || *text == "off";
      options.bpf_auto = *text == "auto";
    } else if (flag == "--dir") {
      options.dir = *text;
    } else if (flag == "--overlap") {
      good = *text == "on" || *text == "off";
      options.overlap = *text == "on";
    } else if (flag == "--clock") {
      good = *text == "auto" || *text == "on" || *text == "off";
      options.clock = *text == "on" ? RunOptions::Clock::on : *text == "off" ? RunOptions::Clock::off : RunOptions::Clock::auto_;
    } else if (flag == "--netdelay") {
      good = *text == "auto" || *text == "on" || *text == "off";
      options.netdelay = *text == "on" ? RunOptions::NetDelay::on : *text == "off" ? RunOptions::NetDelay::off : RunOptions::NetDelay::auto_;
    } else if (flag == "--planted-bug") {
      good = parse_planted_bug(*text).has_value();
      options.planted_bug = *text;
    } else {
      options.node_bin = *text;
    }
    if (!good) {
      std::cerr << "sluice-realfault: " << flag << ": bad value '" << *text << "'\n";
      return std::nullopt;
    }
  }
  return options;
}

void print_figures(const std::vector<std::pair<std::string, std::string>>& figures) {
  for (const auto& [key, value] : figures) std::cout << key << "=" << value << "\n";
}

// `schedule`: the run's flags, the schedule printed without running anything (no root needed).
int run_schedule(const std::vector<std::string>& args) {
  std::optional<RunOptions> options = parse_run(args);
  if (!options || !options->seed_given) {
    std::cerr << "sluice-realfault: schedule wants --seed N\n" << kUsage;
    return kExitUsage;
  }
  ScheduleShape shape;
  shape.nodes = options->nodes;
  shape.faults_stop_ms = options->duration_s * 1000;
  shape.netem = options->netem_auto;  // "auto" prints the schedule of a kernel with netem
  shape.bpf = options->bpf_auto;
  shape.overlap = options->overlap;
  shape.clock = options->clock != RunOptions::Clock::off;  // "auto" prints the schedule of a build with clockshift
  shape.nfqueue = options->netdelay != RunOptions::NetDelay::off;  // likewise with sluice-netdelay (only without netem)
  const std::vector<Fault> faults = make_schedule(options->seed, shape);
  const std::vector<ClockSkew> skews = make_skews(options->seed, shape);
  for (size_t i = 0; i < skews.size(); ++i) std::cout << describe_skew(static_cast<int>(i + 1), skews[i]) << "\n";
  for (size_t i = 0; i < faults.size(); ++i) std::cout << describe(faults[i], i, options->nodes) << "\n";
  return kExitPassed;
}

int run_check(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "--history") {
    std::cerr << "sluice-realfault: check wants --history FILE\n" << kUsage;
    return kExitUsage;
  }
  std::string error;
  std::optional<checkers::PartitionLedger> ledger = replay_history(args[1], error);
  if (!ledger) {
    std::cerr << "sluice-realfault: " << error << "\n";
    return kExitFailed;
  }
  const LedgerVerdict verdict = judge(*ledger);
  print_figures(verdict.figures);
  if (!verdict.violation.empty()) {  // "<checker>: <what>", printed as `run` prints them
    const size_t colon = verdict.violation.find(": ");
    const std::string what = colon == std::string::npos ? verdict.violation : verdict.violation.substr(colon + 2);
    std::cout << "checker=" << verdict.violation.substr(0, colon) << "\nfirst_violation=" << what << "\n";
  }
  std::cout << "result=" << (verdict.violation.empty() ? "passed" : "failed") << "\n";
  return verdict.violation.empty() ? kExitPassed : kExitFailed;
}

}  // namespace
}  // namespace sluice::realfault

int main(int argc, char** argv) {
  using namespace sluice::realfault;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return kExitPassed;
    }
  }
  if (!args.empty() && args[0] == "check") return run_check({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "schedule") return run_schedule({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "run") args.erase(args.begin());
  std::optional<RunOptions> options = parse_run(args);
  if (!options) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  return run_realfault(*options);
}
