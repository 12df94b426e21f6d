// The pure record-batch codec: encode, decode and verify batches (docs/formats/log.md). No I/O.
//
// A batch is the unit the log appends, replicates (one Raft entry) and serves: a 56-byte header
// (magic, length, version, attributes, record count, base offset, Raft term, first and max
// leader-assigned timestamps, two CRC32Cs) followed by its records. The header CRC covers the
// fixed fields, so a reader can trust lengths, offsets and the term from the header alone (index
// rebuilds, term lookups) and recovery can tell a torn write (header intact, bytes missing) from
// damage. The batch CRC covers every byte except itself: header and records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "node/base/bytes.h"
#include "node/log/errors.h"

namespace sluice::log {

inline constexpr uint32_t kBatchMagic = 0x54424C53u;  // bytes "SLBT"
inline constexpr uint16_t kBatchVersion = 1;
inline constexpr size_t kBatchHeaderBytes = 56;
// Offsets stay below 2^63 so they fit every signed 64-bit consumer (JSON, Java clients).
inline constexpr uint64_t kOffsetLimit = uint64_t{1} << 63;
// The format stores batch_bytes in 32 bits.
inline constexpr size_t kBatchBytesLimit = UINT32_MAX;

// Attribute bits 0-1: what the batch is as a Raft entry (raft::EntryType: 0 data, 1 conf change,
// 2 no-op). The log stores and checks them; only the partition's Raft storage gives them meaning.
// Value 3 is reserved and invalid.
inline constexpr uint16_t kAttributeEntryTypeMask = 0x3;
inline constexpr uint16_t kAttributeEntryTypeMax = 2;
// Bit 2: a producer block (ProducerStamp, kProducerBlockBytes) follows the header, before the
// records: the batch comes from an idempotent producer. Data batches (type 0) only.
inline constexpr uint16_t kAttributeProducer = 1u << 2;
// Bit 3: a partition control batch (its one record's value is a partition command,
// docs/formats/partition.md), not user data. Type 0 only, never with a producer block.
inline constexpr uint16_t kAttributeControl = 1u << 3;
// Bits 4-15 are reserved and invalid.
inline constexpr size_t kProducerBlockBytes = 16;

// An idempotent producer's identity for one batch: records get sequence numbers first_sequence,
// first_sequence + 1, ... (the range must fit 32 bits).
struct ProducerStamp {
  uint64_t producer_id = 0;  // never 0 in a batch
  uint16_t epoch = 0;
  uint32_t first_sequence = 0;

  friend bool operator==(const ProducerStamp&, const ProducerStamp&) = default;
};

struct RecordHeader {
  ByteSpan name;
  ByteSpan value;
};

// What a producer hands in; spans must outlive the encode call only.
struct Record {
  int64_t timestamp_ms = 0;  // leader-assigned
  ByteSpan key;
  ByteSpan value;
  std::span<const RecordHeader> headers;
};

// A decoded record: spans point into the batch bytes it came from.
struct RecordView {
  int64_t timestamp_ms = 0;
  ByteSpan key;
  ByteSpan value;
  std::vector<RecordHeader> headers;
};

struct BatchHeader {
  uint32_t batch_bytes = 0;
  uint16_t version = kBatchVersion;
  uint16_t attributes = 0;
  uint32_t record_count = 0;
  uint64_t base_offset = 0;
  uint64_t term = 0;
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
  uint32_t header_crc = 0;
  uint32_t batch_crc = 0;

  uint64_t last_offset() const { return base_offset + record_count - 1; }
  uint64_t next_offset() const { return base_offset + record_count; }
  // Where the records start: after the header and the producer block, if any.
  size_t records_begin() const { return kBatchHeaderBytes + ((attributes & kAttributeProducer) != 0 ? kProducerBlockBytes : 0); }
};

// Encodes `records` as one batch. Errors: empty_batch; batch_too_large above batch_bytes_max;
// offset_out_of_range if the offsets would reach kOffsetLimit; invalid_argument if a timestamp
// delta does not fit 64 bits or `attributes` sets a reserved bit or value.
// With `producer`, the batch gets a producer block (kAttributeProducer is set here): invalid_argument
// if its id is 0 or its sequence range passes 2^32 - 1.
Result<Bytes> encode_batch(uint64_t base_offset, uint64_t term, std::span<const Record> records,
                           size_t batch_bytes_max = kBatchBytesLimit, uint16_t attributes = 0,
                           std::optional<ProducerStamp> producer = std::nullopt);

// Parses and checks the fixed header at the front of `bytes` (which may hold just the header):
// truncated_batch if shorter than a header; invalid_batch for a bad magic, version, attributes or
// field; crc_mismatch if the header CRC fails. Checks batch_bytes <= batch_bytes_max.
Result<BatchHeader> decode_batch_header(ByteSpan bytes, size_t batch_bytes_max = kBatchBytesLimit);

// Everything decode_batch_header checks, plus: the whole batch is present (truncated_batch), the
// batch CRC (crc_mismatch) and the record structure (invalid_batch). Bytes after the batch are
// ignored. A batch that verifies is exactly what encode_batch produces for its records.
Result<BatchHeader> verify_batch(ByteSpan bytes, size_t batch_bytes_max = kBatchBytesLimit);

// The records of a batch that verify_batch accepted (`header` is its result).
Result<std::vector<RecordView>> decode_records(ByteSpan batch, const BatchHeader& header);

// The producer block of a batch that verify_batch accepted (nullopt without one).
Result<std::optional<ProducerStamp>> decode_producer(ByteSpan batch, const BatchHeader& header);

// Rewrites, in place and without allocating, the fields a partition leader stamps on a batch that
// verify_batch accepted: base offset, term, and the first timestamp (the max timestamp moves by
// the same amount, so the records' deltas stay valid); then the header CRC, and the batch CRC
// by carrying the header's change over (no pass over the records: the batch CRC is not checked
// here, a wrong one stays wrong). invalid_argument if a timestamp would overflow,
// offset_out_of_range if the offsets would pass 2^63, and the verify_batch errors but
// crc_mismatch of the records if `batch` is not one batch exactly.
Status restamp_batch(MutableByteSpan batch, uint64_t base_offset, uint64_t term, int64_t first_timestamp_ms);

// Splits bytes holding whole batches back to back (as Log::read returns them) into one span per
// batch, verifying each.
Result<std::vector<ByteSpan>> split_batches(ByteSpan bytes, size_t batch_bytes_max = kBatchBytesLimit);

}  // namespace sluice::log
