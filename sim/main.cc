// sluice-sim: runs seeded cluster simulations from scenario files.
//   sluice-sim run --scenario FILE --seed N [--check-determinism]
//   sluice-sim sweep --scenario FILE --seeds A..B   (also: which coverage marks the seeds reached;
//                                                     fails when a [coverage] required mark was never hit)
//   sluice-sim shrink --scenario FILE --seed N [--out REPLAY] [--shrink-runs-max R]
//   sluice-sim replay REPLAY                          (docs/simulation.md, "Shrinking and replay")
// Exit codes: 0 passed, 1 a check failed or a run was not deterministic, 2 usage or scenario error.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include "sim/shrink_cli.h"
#include "sim/simulation.h"

namespace {

using sluice::sim::SimulationOptions;
using sluice::sim::SimulationReport;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int run_once(const sluice::sim::Scenario& scenario, uint64_t seed, bool check_determinism) {
  SimulationReport first = run_simulation(scenario, SimulationOptions{seed, check_determinism});
  print_report(first, std::cout);
  if (!first.passed) {
    std::cerr << "simulation FAILED (seed " << seed << "): " << first.failure << "\n"
              << "replay: " << sluice::sim::replay_command(scenario.path, seed) << "\n"
              << "shrink: build/bin/sluice-sim shrink --scenario " << scenario.path << " --seed " << seed << "\n";
    return kExitFailed;
  }
  if (!check_determinism) return 0;
  SimulationReport second = run_simulation(scenario, SimulationOptions{seed, true});
  const auto divergence = sluice::sim::first_divergence(first.trace, second.trace);
  if (!divergence && first.trace_hash == second.trace_hash) {
    std::cout << "determinism=ok\n";
    return 0;
  }
  std::cout << "determinism=FAILED\n";
  const size_t index = divergence.value_or(std::min(first.trace.size(), second.trace.size()));
  auto describe = [index](const SimulationReport& report) {
    return index < report.trace.size() ? report.trace[index].to_string() : std::string("(no event)");
  };
  std::cerr << "runs diverge at event " << index << ":\n  first:  " << describe(first)
            << "\n  second: " << describe(second) << "\n"
            << "replay: " << sluice::sim::replay_command(scenario.path, seed) << " --check-determinism\n";
  return kExitFailed;
}

// "A..B" or a single seed.
bool parse_seed_range(const std::string& text, uint64_t& first, uint64_t& last) {
  const size_t dots = text.find("..");
  auto parse = [](std::string_view part, uint64_t& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  if (dots == std::string::npos) return parse(text, first) && parse(text, last);
  return parse(std::string_view(text).substr(0, dots), first) && parse(std::string_view(text).substr(dots + 2), last) &&
         first <= last;
}

// Which coverage marks a sweep reached, in how many seeds; required marks it never reached.
struct SweepCoverage {
  std::map<std::string, uint64_t> seeds_hit;

  void add(const SimulationReport& report) {
    for (const auto& [name, hits] : report.coverage) seeds_hit[name] += 1;
  }
  // Prints every mark reached; returns false when a required one was never reached.
  bool print(const sluice::sim::Scenario& scenario, uint64_t seeds) const {
    for (const auto& [name, count] : seeds_hit) std::cout << "coverage " << name << " seeds=" << count << "/" << seeds << "\n";
    bool complete = true;
    for (const std::string& name : scenario.coverage_required) {
      if (seeds_hit.count(name) == 0) {
        std::cout << "coverage_missing=" << name << "\n";
        complete = false;
      }
    }
    return complete;
  }
};

int sweep(const sluice::sim::Scenario& scenario, uint64_t first, uint64_t last) {
  uint64_t failed = 0;
  SweepCoverage coverage;
  for (uint64_t seed = first; seed <= last; ++seed) {
    SimulationReport report = run_simulation(scenario, SimulationOptions{seed, false});
    coverage.add(report);
    std::cout << "seed=" << seed << " result=" << (report.passed ? "passed" : "FAILED")
              << " trace_hash=" << sluice::sim::hex16(report.trace_hash) << "\n";
    if (!report.passed) {
      ++failed;
      std::cout << "  failure=" << report.failure << "\n  replay=" << sluice::sim::replay_command(scenario.path, seed) << "\n";
    }
    if (seed == UINT64_MAX) break;
  }
  const bool covered = coverage.print(scenario, last - first + 1);
  std::cout << "seeds=" << (last - first + 1) << " failed=" << failed << " coverage=" << (covered ? "complete" : "INCOMPLETE")
            << "\n";
  return failed == 0 && covered ? 0 : kExitFailed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sluice-sim: seeded, deterministic cluster simulations (same seed => same trace_hash)");
  app.require_subcommand(1);
  std::string scenario_path;
  uint64_t seed = 1;
  bool check_determinism = false;
  std::string seeds;
  CLI::App* run = app.add_subcommand("run", "run one scenario with one seed and print key=value figures");
  run->add_option("--scenario", scenario_path, "scenario TOML file")->required();
  run->add_option("--seed", seed, "PRNG seed (unsigned 64-bit)")->required();
  run->add_flag("--check-determinism", check_determinism,
                "run the seed twice and compare every trace event; on a mismatch print the first divergent one");
  CLI::App* sweep_command = app.add_subcommand("sweep", "run one scenario for a range of seeds; print failing seeds");
  sweep_command->add_option("--scenario", scenario_path, "scenario TOML file")->required();
  sweep_command->add_option("--seeds", seeds, "seed range A..B (inclusive)")->required();
  std::string out_path, replay_path;
  size_t shrink_runs_max = 200;
  CLI::App* shrink_command = app.add_subcommand("shrink", "shrink one failing seed to a minimal run; write a replay file");
  shrink_command->add_option("--scenario", scenario_path, "scenario TOML file")->required();
  shrink_command->add_option("--seed", seed, "the failing seed")->required();
  shrink_command->add_option("--out", out_path, "replay file to write (default: <name>-seed<N>.replay.toml)");
  shrink_command->add_option("--shrink-runs-max", shrink_runs_max, "simulation runs at most, the first included")
      ->check(CLI::Range(size_t{2}, size_t{100'000}));
  CLI::App* replay = app.add_subcommand("replay", "run a replay file (written by shrink) and print the report");
  replay->add_option("file", replay_path, "replay file")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (*shrink_command) return sluice::sim::shrink_main(scenario_path, seed, out_path, shrink_runs_max);
  if (*replay) return sluice::sim::replay_main(replay_path);
  auto scenario = sluice::sim::load_scenario(scenario_path);
  if (!scenario.ok()) {
    std::cerr << "sluice-sim: " << scenario.status().message() << "\n";
    return kExitUsage;
  }
  if (*sweep_command) {
    uint64_t first = 0, last = 0;
    if (!parse_seed_range(seeds, first, last)) {
      std::cerr << "sluice-sim: --seeds: expected A..B with A <= B, got '" << seeds << "'\n";
      return kExitUsage;
    }
    return sweep(*scenario, first, last);
  }
  return run_once(*scenario, seed, check_determinism);
}
