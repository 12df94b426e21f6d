// The real-fault harness's history (docs/realfault.md, "History"): what producers were told and
// what consumers read, one JSON object per line, written as the run goes and fed to the very
// checker the simulation uses (checkers::PartitionLedger). `sluice-realfault check --history F`
// replays a file through the same feed, so a real run's history is judged offline alike.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sim/checkers/partition_ledger.h"

namespace sluice::realfault {

// One line of the history. `kind` decides which fields mean something:
//   header:   idempotent (the producers were idempotent: duplicates are violations)
//   acked:    partition, offset (of records[0]), records
//   consumed: partition, consumer, expected (where the consumer asked from), offset, records,
//             first_timestamp_ms, max_timestamp_ms
//   skipped:  partition, consumer, offset (moved on to, retention removed what lies before)
//   end:      partition, consumer, offset (a confirmed high watermark the consumer learned in a
//             poll), acked_before (the highest offset acknowledged when that poll began; absent:
//             none was)
struct HistoryEvent {
  enum class Kind { header, acked, consumed, skipped, end };
  Kind kind = Kind::header;
  bool idempotent = true;
  uint32_t partition = 0;
  uint64_t consumer = 0;
  uint64_t expected = 0;
  uint64_t offset = 0;
  std::vector<uint64_t> records;  // record ids: a hash of each record's value (unique per record)
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  std::optional<uint64_t> acked_before;
};

inline constexpr size_t kHistoryLineBytesMax = 64 * 1024;
inline constexpr size_t kHistoryRecordsPerEventMax = 4096;

std::string to_json_line(const HistoryEvent& event);  // without the newline
// nullopt with `error` set for a line that is not a history event.
std::optional<HistoryEvent> parse_history_line(const std::string& line, std::string& error);

// What the ledger is told of an event (a header tells it nothing).
void feed(const HistoryEvent& event, checkers::PartitionLedger& ledger);

// A history being recorded: every event is written (and flushed, so a killed harness leaves
// what it saw) and fed to the ledger, in that order.
class HistoryRecorder {
 public:
  HistoryRecorder(std::FILE* out, bool idempotent);  // writes the header; `out` may be null
  void record(const HistoryEvent& event);
  checkers::PartitionLedger& ledger() { return ledger_; }
  const checkers::PartitionLedger& ledger() const { return ledger_; }

 private:
  std::FILE* out_;
  checkers::PartitionLedger ledger_;
};

// Replays a history file into a fresh ledger (idempotent as its header says). nullopt with
// `error` ("line 7: ...") when the file cannot be read or a line is malformed.
std::optional<checkers::PartitionLedger> replay_history(const std::string& path, std::string& error);

// The checker's figures and verdict as key=value lines, and the first violation ("" when it
// passed). A history passes with no violation and no lost acknowledged record.
struct LedgerVerdict {
  std::vector<std::pair<std::string, std::string>> figures;
  std::string violation;  // "partition_ledger: <first violation>" or "lost_acked: <first lost>"
};
LedgerVerdict judge(const checkers::PartitionLedger& ledger);

}  // namespace sluice::realfault
