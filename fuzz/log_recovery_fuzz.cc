// Fuzzes log recovery (Log::open) from arbitrary segment bytes on a simulated disk. Whatever the
// files hold, open and verify must not crash; if open succeeds the log must serve only batches
// that verify, with contiguous offsets, and keep working: an append, a sync, and a reopen that
// finds the same end.
//
// Input: byte 0 chooses the layout (raw data file, or a valid header and sync mark followed by
// the input; optionally after a valid sealed segment; optionally with an index file from the
// input), bytes 1..4 the mark's synced length. Batch CRCs in the input are recomputed when bit 3
// of byte 0 is set, so the fuzzer gets past them to lengths, offsets, terms and records.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "node/base/assert.h"
#include "node/log/codec.h"
#include "node/log/crc32c.h"
#include "node/log/endian.h"
#include "node/log/log.h"
#include "node/log/segment_format.h"
#include "node/log/verify.h"
#include "sim/disk.h"

namespace {

using sluice::Bytes;
using sluice::ByteSpan;
namespace log = sluice::log;
namespace runtime = sluice::runtime;

class NoWaitEnvironment final : public sluice::sim::DiskEnvironment {
 public:
  sluice::Prng& disk_prng() override { return prng_; }
  runtime::Status disk_delay(runtime::Duration /*latency*/) override { return runtime::Status(); }
  void disk_trace(std::string_view /*operation*/, uint64_t /*detail*/) override {}

 private:
  sluice::Prng prng_{1};
};

// Recomputes the CRCs of every batch the lengths in `bytes` lay out from `position`.
void reseal_batches(Bytes& bytes, size_t position) {
  while (bytes.size() - position >= log::kBatchHeaderBytes) {
    std::byte* at = bytes.data() + position;
    const size_t length = std::min<size_t>(bytes.size() - position, log::detail::get_le<uint32_t>(at + 4));
    log::detail::put_le<uint32_t>(at + 48, log::crc32c(ByteSpan(at, 48)));
    if (length < log::kBatchHeaderBytes) return;
    const ByteSpan batch(at, length);
    log::detail::put_le<uint32_t>(at + 52, log::crc32c(batch.subspan(log::kBatchHeaderBytes), log::crc32c(batch.first(52))));
    position += length;
  }
}

void write_file(runtime::Filesystem& fs, const std::string& path, ByteSpan bytes) {
  auto file = fs.open(path, runtime::OpenMode::create);
  SLUICE_ASSERT(file.ok());
  SLUICE_ASSERT((*file)->write_at(0, bytes).ok());
  SLUICE_ASSERT((*file)->sync().ok());
}

// A valid sealed segment of three batches at offsets 0..8, term 1.
uint64_t write_sealed_segment(runtime::Filesystem& fs) {
  Bytes file(log::kSegmentHeaderBytes);
  for (uint64_t base = 0; base < 9; base += 3) {
    const std::string value = "value " + std::to_string(base);
    const log::Record records[3] = {{1000, {}, sluice::as_bytes(value), {}}, {1001, {}, {}, {}}, {1002, {}, {}, {}}};
    const Bytes batch = *log::encode_batch(base, 1, records);
    file.insert(file.end(), batch.begin(), batch.end());
  }
  const Bytes mark = log::encode_mark({1, 0, 0, file.size()});
  std::memcpy(file.data() + log::mark_slot_position(1), mark.data(), mark.size());
  write_file(fs, "p/" + log::data_file_name(0), file);
  return 9;
}

void exercise(log::Log& log) {
  uint64_t offset = log.start_offset();
  while (offset < log.end_offset()) {
    auto read = log.read(offset, 4096);
    if (!read.ok()) {
      SLUICE_ASSERT(read.code() == log::Errc::corruption);
      return;
    }
    auto batches = log::split_batches(read->batches);
    SLUICE_ASSERT(batches.ok());
    SLUICE_ASSERT_GT(read->next_offset, offset);
    offset = read->next_offset;
  }
  const log::Record record{2000, {}, sluice::as_bytes("appended"), {}};
  const auto appended = log.append(log.last_term() + 1, std::span(&record, 1));
  if (appended.ok()) SLUICE_ASSERT(log.sync().ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t layout = data[0];
  uint32_t synced_bytes = 0;
  std::memcpy(&synced_bytes, data + 1, 4);
  Bytes input(reinterpret_cast<const std::byte*>(data) + 5, reinterpret_cast<const std::byte*>(data) + size);

  sluice::sim::SimDisk disk;
  NoWaitEnvironment environment;
  auto fs = sluice::sim::make_sim_filesystem(disk, environment);
  SLUICE_ASSERT(fs->create_dirs("p").ok());
  const uint64_t base = (layout & 2) != 0 ? write_sealed_segment(*fs) : 0;
  Bytes file;
  if ((layout & 1) != 0) {
    file.resize(log::kSegmentHeaderBytes);
    const Bytes mark = log::encode_mark({7, base, (layout & 2) != 0 ? 1u : 0u, synced_bytes % (input.size() + 2048)});
    std::memcpy(file.data() + log::mark_slot_position(7), mark.data(), mark.size());
  }
  file.insert(file.end(), input.begin(), input.end());
  if ((layout & 8) != 0) reseal_batches(file, (layout & 1) != 0 ? log::kSegmentHeaderBytes : 0);
  write_file(*fs, "p/" + log::data_file_name(base), file);
  if ((layout & 4) != 0 && base > 0) write_file(*fs, "p/" + log::index_file_name(0), input);

  (void)log::verify_log(*fs, "p");
  log::LogOptions options;
  options.segment_bytes_max = 64 * 1024;
  options.batch_bytes_max = 16 * 1024;
  options.index_interval_bytes = 128;
  uint64_t end = 0;
  {
    auto opened = log::Log::open(*fs, "p", options);
    if (!opened.ok()) return 0;
    exercise(**opened);
    end = (*opened)->end_offset();
    if (!(*opened)->close().ok()) return 0;
  }
  auto reopened = log::Log::open(*fs, "p", options);
  SLUICE_ASSERT(reopened.ok());
  SLUICE_ASSERT_EQ((*reopened)->end_offset(), end);
  return 0;
}
