// sluice-sim's `shrink` and `replay` subcommands (the runner side of sim/shrink.h and
// sim/replay.h: files, the wall clock, printing), and the --timeline file `run` and `replay` write.
// The *_main functions return the process exit code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <ostream>
#include <string>

#include "sim/sweep_summary.h"
#include "sim/timeline.h"

namespace sluice::sim {

struct SimulationReport;

// --timeline's page (docs/simulation.md, "Timeline"). The file is opened before the run, so an
// unwritable path fails at once rather than after it; a failed run writes its page too.
class TimelineOutput {
 public:
  // An empty path asks for no page. False, with the reason on stderr, when it cannot be opened.
  bool open(const std::string& path);
  // Where the run records its timeline: nullptr when no page was asked for.
  Timeline* timeline() { return path_.empty() ? nullptr : &timeline_; }
  // Writes the page; true when done or none was asked for, false (reason on stderr) otherwise.
  bool write(const SimulationReport& report);

 private:
  std::string path_;
  std::ofstream file_;
  Timeline timeline_;
};

// Shrinks seed `seed` of the scenario at `scenario_path`, writes the replay file to `out_path`
// (default when empty: <scenario name>-seed<N>.replay.toml) and prints the figures.
int shrink_main(const std::string& scenario_path, uint64_t seed, std::string out_path, size_t runs_max);

// `sweep --shrink DIR`: after the sweep, each failing seed (the first failures_max) shrunk with
// at most runs_max runs, its replay file written to DIR/<scenario name>-seed<N>.replay.toml,
// one line per seed on `text`: `shrunk seed=N checker=... faults=A->B events=C->D
// client_ops=E->F seed_after=S shrink_s=T replay=...` (or `shrunk seed=N error=...`).
struct SweepShrinkOptions {
  std::string dir;  // "": no shrinking
  size_t failures_max = 3;
  size_t runs_max = 200;
};
void shrink_sweep_failures(const std::string& scenario_path, const SweepSummary& summary, const SweepShrinkOptions& options,
                           std::ostream& text);

// Runs a replay file and prints the report, the expected and the actual checker; writes the run's
// timeline page to `timeline_path` unless it is empty.
int replay_main(const std::string& path, const std::string& timeline_path);

}  // namespace sluice::sim
