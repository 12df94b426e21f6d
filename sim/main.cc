// sluice-sim: runs seeded cluster simulations from scenario files.
//   sluice-sim run --scenario FILE --seed N [--check-determinism] [--timeline OUT.html]
//   sluice-sim sweep --scenario FILE --seeds A..B [--jobs J] [--shard i/n] [--json FILE|-] [--check-determinism]
//                    (also: which coverage marks and BUGGIFY sites the seeds reached; fails when a
//                    [coverage] required mark was never hit; sim/sweep.h)
//   sluice-sim merge FILE...   (several shards' --json summaries as one, on stdout)
//   sluice-sim shrink --scenario FILE --seed N [--out REPLAY] [--shrink-runs-max R]
//   sluice-sim replay REPLAY [--timeline OUT.html]    (docs/simulation.md, "Shrinking and replay")
// Exit codes: 0 passed, 1 a check failed or a run was not deterministic, 2 usage or scenario error.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "sim/shrink_cli.h"
#include "sim/simulation.h"
#include "sim/sweep.h"
#include "sim/timeline_page.h"

namespace {

using sluice::sim::SimulationOptions;
using sluice::sim::SimulationReport;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// The runner may read the real clock: only to report how fast the simulation ran.
SimulationReport timed_run(const sluice::sim::Scenario& scenario, const SimulationOptions& options) {
  const auto start = std::chrono::steady_clock::now();  // determinism-ok: wall time of the run, reported only
  SimulationReport report = run_simulation(scenario, options);
  report.wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)  // determinism-ok: as above
                       .count();
  return report;
}

int run_once(const sluice::sim::Scenario& scenario, uint64_t seed, bool check_determinism, const std::string& timeline_path) {
  sluice::sim::TimelineOutput timeline;
  if (!timeline.open(timeline_path)) return kExitUsage;
  SimulationReport first = timed_run(scenario, SimulationOptions{seed, check_determinism, timeline.timeline()});
  print_report(first, std::cout);
  if (!timeline.write(first)) return kExitUsage;
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

int sweep(const sluice::sim::Scenario& scenario, const std::string& seeds, const std::string& shard,
          sluice::sim::SweepOptions options) {
  const auto range = sluice::sim::parse_seed_range(seeds);
  if (!range) {
    std::cerr << "sluice-sim: --seeds: expected A..B with A <= B, got '" << seeds << "'\n";
    return kExitUsage;
  }
  options.range = *range;
  if (!shard.empty()) {
    auto parsed = sluice::sim::parse_shard(shard);
    if (!parsed.ok()) {
      std::cerr << "sluice-sim: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    options.shard = *parsed;
  }
  return sluice::sim::run_sweep(scenario, options);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sluice-sim: seeded, deterministic cluster simulations (same seed => same trace_hash)");
  app.require_subcommand(1);
  std::string scenario_path;
  uint64_t seed = 1;
  bool check_determinism = false;
  std::string timeline_path;
  std::string seeds;
  CLI::App* run = app.add_subcommand("run", "run one scenario with one seed and print key=value figures");
  run->add_option("--scenario", scenario_path, "scenario TOML file")->required();
  run->add_option("--seed", seed, "PRNG seed (unsigned 64-bit)")->required();
  run->add_flag("--check-determinism", check_determinism,
                "run the seed twice and compare every trace event; on a mismatch print the first divergent one");
  run->add_option("--timeline", timeline_path, "also write the run as a space-time diagram: one self-contained HTML page");
  CLI::App* sweep_command = app.add_subcommand("sweep", "run one scenario for a range of seeds; print failing seeds");
  sweep_command->add_option("--scenario", scenario_path, "scenario TOML file")->required();
  sweep_command->add_option("--seeds", seeds, "seed range A..B (inclusive)")->required();
  sluice::sim::SweepOptions sweep_options;
  std::string shard;
  sweep_command->add_option("--jobs", sweep_options.jobs, "worker processes (seeds run in parallel; output is the same)")
      ->check(CLI::Range(uint64_t{1}, sluice::sim::SweepOptions::kJobsMax));
  sweep_command->add_option("--shard", shard, "run only seeds s with (s - A) % n == i (0-based i/n)");
  sweep_command->add_flag("--check-determinism", sweep_options.check_determinism,
                          "run every seed twice; a seed whose trace_hash differs fails");
  sweep_command->add_option("--json", sweep_options.json_path, "write the JSON summary (docs/formats/sweep-json.md) to FILE, or - for stdout");
  sluice::sim::SweepShrinkOptions sweep_shrink;
  sweep_command->add_option("--shrink", sweep_shrink.dir, "after the sweep, shrink each failing seed; write its replay file into DIR");
  sweep_command->add_option("--shrink-max", sweep_shrink.failures_max, "failing seeds to shrink at most (default 3)")
      ->check(CLI::Range(size_t{1}, size_t{1'000}));
  sweep_command->add_option("--shrink-runs-max", sweep_shrink.runs_max, "simulation runs per shrink at most (default 200)")
      ->check(CLI::Range(size_t{2}, size_t{100'000}));
  std::vector<std::string> merge_files;
  CLI::App* merge = app.add_subcommand("merge", "merge shards' sweep --json summaries into one (JSON on stdout)");
  merge->add_option("files", merge_files, "JSON summaries")->required();
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
  replay->add_option("--timeline", timeline_path, "also write the run as a space-time diagram: one self-contained HTML page");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (*merge) return sluice::sim::run_merge(merge_files, std::cout, std::cerr);
  if (*shrink_command) return sluice::sim::shrink_main(scenario_path, seed, out_path, shrink_runs_max);
  if (*replay) return sluice::sim::replay_main(replay_path, timeline_path);
  auto scenario = sluice::sim::load_scenario(scenario_path);
  if (!scenario.ok()) {
    std::cerr << "sluice-sim: " << scenario.status().message() << "\n";
    return kExitUsage;
  }
  if (*sweep_command) {
    if (!sweep_shrink.dir.empty()) {
      std::error_code error;
      std::filesystem::create_directories(sweep_shrink.dir, error);
      if (error || !std::filesystem::is_directory(sweep_shrink.dir)) {
        std::cerr << "sluice-sim: --shrink: cannot make directory '" << sweep_shrink.dir << "'\n";
        return kExitUsage;
      }
      sweep_options.after_summary = [&](const sluice::sim::SweepSummary& summary, std::ostream& text) {
        sluice::sim::shrink_sweep_failures(scenario_path, summary, sweep_shrink, text);
      };
    }
    return sweep(*scenario, seeds, shard, sweep_options);
  }
  return run_once(*scenario, seed, check_determinism, timeline_path);
}
