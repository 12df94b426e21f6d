// Offline verification of a log directory: every sync mark, every batch CRC and structure, the
// offsets across segments, and every index file against the data. Changes nothing, so it can
// inspect a log exactly as a crash or a bad disk left it (sluice-log verify).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/log/codec.h"
#include "node/log/errors.h"
#include "runtime/fs.h"

namespace sluice::log {

struct Damage {
  std::string file;       // path relative to the data directory
  uint64_t position = 0;  // byte offset in that file
  std::string what;
};

struct VerifyReport {
  uint64_t segments = 0;
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t data_bytes = 0;
  std::vector<Damage> damage;      // anything here means the log is damaged
  std::vector<std::string> notes;  // harmless findings open() would tidy (an unsynced torn tail, debris)

  bool ok() const { return damage.empty(); }
};

// I/O failures are errors; damage is reported in the VerifyReport.
Result<VerifyReport> verify_log(runtime::Filesystem& fs, std::string_view dir, size_t batch_bytes_max = kBatchBytesLimit);

}  // namespace sluice::log
