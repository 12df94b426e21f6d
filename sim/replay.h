// Replay files (docs/formats/replay.md): a shrunk failing run, self-contained. The file is a
// scenario (every scenario table, its fault schedule as explicit [[events]]) plus a [replay]
// table naming the seed and the checker the run fails, so `sluice-sim replay FILE` needs nothing
// else. Outside input: every field is checked and errors name the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "sim/errors.h"
#include "sim/scenario.h"

namespace sluice::sim {

struct ReplayHeader {
  uint64_t seed = 0;
  std::string checker;  // failure_class (sim/shrink.h) the run is expected to fail with
  std::string failure;  // the failure message when it was written (informational)
  std::string source;   // the scenario it was shrunk from (informational)
  int64_t events_before = -1, events_after = -1;  // informational; -1: absent
  int64_t faults_before = -1, faults_after = -1;
  int64_t source_seed = -1;  // the seed that was shrunk, when the minimal run has another; -1: absent
};

struct Replay {
  ReplayHeader header;
  Scenario scenario;
};

// The text of a replay file: a comment naming the format, [replay], then the scenario table.
// Seeds above INT64_MAX cannot be written as TOML integers: an error.
Result<std::string> replay_text(const ReplayHeader& header, const toml::table& scenario);

Result<Replay> parse_replay(std::string_view text, std::string_view source_name);
Result<Replay> load_replay(const std::string& path);
Status write_replay(const std::string& path, const std::string& text);

// `build/bin/sluice-sim replay PATH`
std::string replay_file_command(const std::string& path);

}  // namespace sluice::sim
