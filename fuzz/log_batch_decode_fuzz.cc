// Fuzzes the record-batch decoder (node/log/codec.h). Any input must be accepted or rejected
// without a crash; an accepted batch must decode (records and producer block) and re-encode to
// exactly its bytes; restamping it must keep it valid.
//
// Both CRCs would stop the fuzzer at the header, so when the first input byte is odd the CRCs of
// the rest are recomputed first: that lets it explore lengths, counts, varints and records.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/base/assert.h"
#include "node/log/codec.h"
#include "node/log/crc32c.h"
#include "node/log/endian.h"

namespace {

using sluice::Bytes;
using sluice::ByteSpan;
namespace log = sluice::log;

void reseal(Bytes& bytes) {
  if (bytes.size() < log::kBatchHeaderBytes) return;
  const size_t length = std::min<size_t>(bytes.size(), log::detail::get_le<uint32_t>(bytes.data() + 4));
  log::detail::put_le<uint32_t>(bytes.data() + 48, log::crc32c(ByteSpan(bytes).first(48)));
  if (length < log::kBatchHeaderBytes) return;
  const ByteSpan batch = ByteSpan(bytes).first(length);
  log::detail::put_le<uint32_t>(bytes.data() + 52, log::crc32c(batch.subspan(log::kBatchHeaderBytes), log::crc32c(batch.first(52))));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes bytes(reinterpret_cast<const std::byte*>(data) + 1, reinterpret_cast<const std::byte*>(data) + size);
  if ((data[0] & 1) != 0) reseal(bytes);

  const auto header = log::decode_batch_header(bytes);
  const auto verified = log::verify_batch(bytes);
  (void)log::split_batches(bytes);
  if (!verified.ok()) return 0;

  SLUICE_ASSERT(header.ok());
  SLUICE_ASSERT_LE(verified->batch_bytes, bytes.size());
  const auto records = log::decode_records(bytes, *verified);
  SLUICE_ASSERT(records.ok());
  SLUICE_ASSERT_EQ(records->size(), verified->record_count);
  std::vector<log::Record> input;
  for (const log::RecordView& view : *records) input.push_back({view.timestamp_ms, view.key, view.value, view.headers});
  const auto producer = log::decode_producer(bytes, *verified);
  SLUICE_ASSERT(producer.ok());
  // encode_batch takes the producer block as `producer` and sets its attribute bit itself (it
  // refuses the bit passed in), so the bit is cleared from the attributes handed back.
  const auto attributes = static_cast<uint16_t>(verified->attributes & ~log::kAttributeProducer);
  const auto encoded =
      log::encode_batch(verified->base_offset, verified->term, input, log::kBatchBytesLimit, attributes, *producer);
  SLUICE_ASSERT(encoded.ok());
  SLUICE_ASSERT(*encoded == Bytes(bytes.begin(), bytes.begin() + verified->batch_bytes));

  // A leader's restamp: whatever it accepts must verify with exactly the new fields.
  Bytes stamped(bytes.begin(), bytes.begin() + verified->batch_bytes);
  const uint64_t base = verified->base_offset ^ uint64_t{data[0]} << 8;
  const int64_t first_ms = verified->first_timestamp_ms + (int64_t{data[0]} - 128) * 1000;
  if (log::restamp_batch(stamped, base, verified->term + 1, first_ms).ok()) {
    const auto restamped = log::verify_batch(stamped);
    SLUICE_ASSERT(restamped.ok());
    SLUICE_ASSERT_EQ(restamped->base_offset, base);
    SLUICE_ASSERT_EQ(restamped->term, verified->term + 1);
    SLUICE_ASSERT_EQ(restamped->first_timestamp_ms, first_ms);
    SLUICE_ASSERT_EQ(restamped->record_count, verified->record_count);
  }
  return 0;
}
