// Test helpers for the log: a simulated disk whose environment never parks (so log code runs
// straight from a test, no fibers needed; crash() is a power loss and a fresh Filesystem view)
// and batch builders.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "node/log/codec.h"
#include "node/log/log.h"
#include "sim/disk.h"
#include "tests/testing/sim_rig.h"

namespace sluice::log {

inline void PrintTo(Errc code, std::ostream* out) { *out << to_string(code); }

namespace testing {

using sluice::testing::DiskRig;
using sluice::testing::NoWaitEnvironment;

// A batch of `count` records whose values encode (base offset + i) and `salt`, so any mix-up of
// offsets or contents shows.
inline Bytes make_batch(uint64_t base_offset, uint64_t term, uint32_t count, int64_t timestamp_ms, size_t value_bytes = 20,
                        uint64_t salt = 0) {
  std::vector<std::string> values;
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < count; ++i) {
    std::string value = "v" + std::to_string(base_offset + i) + "/" + std::to_string(salt) + "/";
    value.resize(std::max(value.size(), value_bytes), '.');
    values.push_back(std::move(value));
    keys.push_back("k" + std::to_string(i));
  }
  std::vector<Record> records;
  for (uint32_t i = 0; i < count; ++i) records.push_back({timestamp_ms + i % 3, as_bytes(keys[i]), as_bytes(values[i]), {}});
  Result<Bytes> batch = encode_batch(base_offset, term, records);
  SLUICE_ASSERT(batch.ok());
  return std::move(*batch);
}

inline LogOptions small_options() {
  LogOptions options;
  options.segment_bytes_max = 4096;
  options.batch_bytes_max = 2048;
  options.index_interval_bytes = 256;
  options.open_files_max = 3;
  return options;
}

// Status has no status(); Result has. This adapter lets LOG_ASSERT_OK take both.
inline const Status& status_of(const Status& status) { return status; }
template <typename T>
Status status_of(const Result<T>& result) {
  return result.status();
}

#define LOG_ASSERT_OK(expression)                                                                 \
  do {                                                                                            \
    const ::sluice::log::Status log_status_ = ::sluice::log::testing::status_of(expression);      \
    ASSERT_TRUE(log_status_.ok()) << #expression << ": " << log_status_.to_string();              \
  } while (false)

}  // namespace testing
}  // namespace sluice::log
