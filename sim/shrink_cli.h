// sluice-sim's `shrink` and `replay` subcommands (the runner side of sim/shrink.h and
// sim/replay.h: files, the wall clock, printing). Return the process exit code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::sim {

// Shrinks seed `seed` of the scenario at `scenario_path`, writes the replay file to `out_path`
// (default when empty: <scenario name>-seed<N>.replay.toml) and prints the figures.
int shrink_main(const std::string& scenario_path, uint64_t seed, std::string out_path, size_t runs_max);

// Runs a replay file and prints the report, the expected and the actual checker.
int replay_main(const std::string& path);

}  // namespace sluice::sim
