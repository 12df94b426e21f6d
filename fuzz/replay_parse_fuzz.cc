// Fuzzes sluice-sim's replay-file parser (sim/replay.h, docs/formats/replay.md): a replay file is
// handed from one engineer to another, so it is outside bytes. Any input is accepted or refused
// with a message naming the file, without a crash. An accepted one is written back the way
// `sluice-sim shrink` writes a file (replay_text) and must parse again to the same [replay]
// header: a shrink must never write a file its own replay refuses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/base/assert.h"
#include "sim/replay.h"
#include "sim/scenario.h"

namespace {

constexpr std::string_view kSource = "fuzz.replay.toml";

void check_round_trip(std::string_view text, const sluice::sim::Replay& replay) {
  const sluice::sim::ReplayHeader& header = replay.header;
  auto table = sluice::sim::parse_toml(text, kSource);
  SLUICE_ASSERT(table.ok());  // parse_replay accepted the same text
  table->erase("replay");
  const auto written = sluice::sim::replay_text(header, *table);
  SLUICE_ASSERT(written.ok());  // the seed was read as at most INT64_MAX
  const auto again = sluice::sim::parse_replay(*written, kSource);
  if (!again.ok()) {
    sluice::detail::assert_failed("the written replay text parses again", again.status().message(), __FILE__, __LINE__);
  }
  SLUICE_ASSERT_EQ(again->header.seed, header.seed);
  SLUICE_ASSERT(again->header.checker == header.checker);
  SLUICE_ASSERT(again->scenario.buggify.sites == replay.scenario.buggify.sites);
  SLUICE_ASSERT_EQ(again->scenario.events.size(), replay.scenario.events.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = sluice::sim::parse_replay(text, kSource);
  if (!parsed.ok()) {
    SLUICE_ASSERT(parsed.status().message().find(kSource) != std::string::npos);
    return 0;
  }
  SLUICE_ASSERT(!parsed->header.checker.empty());
  check_round_trip(text, *parsed);
  return 0;
}
