// `sluice-sim sweep` and `sluice-sim merge`: the runner around run_simulation. A sweep runs a
// shard of a seed range in `jobs` worker processes (fork; each sends compact per-seed results back
// over a pipe), prints one line per seed in seed order whatever the number of workers, a progress
// line on stderr when it is a terminal, coverage and BUGGIFY figures and a summary with every
// failing seed and its replay command; optionally the JSON summary of docs/formats/sweep-json.md.
//
// This is the one place in sim/ that reads the wall clock and forks: the figures it measures
// (seeds_per_s, wall_s, ETA) describe the runner, and no simulation ever sees them.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "sim/scenario.h"
#include "sim/sweep_summary.h"

namespace sluice::sim {

struct SweepOptions {
  static constexpr uint64_t kJobsMax = 256;
  SeedRange range;
  Shard shard;
  uint64_t jobs = 1;      // 1: in this process; more: that many worker processes
  std::string json_path;  // "": none; "-": stdout (the text report then goes to stderr)
  bool check_determinism = false;  // run every seed twice; a seed whose trace_hash differs fails
  // Called with the summary once it is printed (before the JSON), with the text report's stream:
  // `--shrink` shrinks the failing seeds there (sim/shrink_cli.h). May be empty.
  std::function<void(const SweepSummary&, std::ostream&)> after_summary;
};

// Runs the sweep; returns the process exit code (0 passed, 1 a seed failed or a required coverage
// mark was never hit, 2 the JSON file cannot be written).
int run_sweep(const Scenario& scenario, const SweepOptions& options);

// Reads shards' JSON summaries, writes the merged summary as JSON to `out`; 0 when the merged
// sweep passed, 1 when it has failures or missing coverage, 2 when a file is unreadable or the
// summaries do not belong together (the message goes to `errors`).
int run_merge(const std::vector<std::string>& paths, std::ostream& out, std::ostream& errors);

}  // namespace sluice::sim
