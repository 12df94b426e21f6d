// Fuzzes the real-fault harness's history parser (tests/e2e/realfault/history.h, docs/realfault.md
// "History"): `sluice-realfault check --history FILE` judges a file another run wrote, so its lines
// are outside bytes. Every line is accepted or refused with a message, without a crash. An accepted
// event is written back as the recorder writes it (to_json_line) and must parse again to the same
// line (when that line is within the length limit: a number written in full may be longer than
// its input), and feeding it to a fresh ledger must not crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "node/base/assert.h"
#include "sim/checkers/partition_ledger.h"
#include "tests/e2e/realfault/history.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::realfault::HistoryEvent;
  const std::string line(reinterpret_cast<const char*>(data), size);
  std::string error;
  const std::optional<HistoryEvent> event = sluice::realfault::parse_history_line(line, error);
  if (!event) {
    SLUICE_ASSERT(!error.empty());  // a refusal always says why
    return 0;
  }
  const std::string written = sluice::realfault::to_json_line(*event);
  if (written.size() <= sluice::realfault::kHistoryLineBytesMax) {
    std::string again_error;
    const std::optional<HistoryEvent> again = sluice::realfault::parse_history_line(written, again_error);
    if (!again) sluice::detail::assert_failed("a written history line parses again", again_error, __FILE__, __LINE__);
    SLUICE_ASSERT(sluice::realfault::to_json_line(*again) == written);
  }
  sluice::checkers::PartitionLedger ledger(event->idempotent);
  sluice::realfault::feed(*event, ledger);
  return 0;
}
