#include "node/log/codec.h"

#include <algorithm>
#include <optional>
#include <string>

#include "node/log/crc32c.h"
#include "node/log/endian.h"

namespace sluice::log {
namespace {

using detail::get_le;
using detail::put_le;
using detail::put_varint;
using detail::take_varint;
using detail::varint_bytes;

// Field positions in the fixed header.
constexpr size_t kMagicAt = 0;
constexpr size_t kBatchBytesAt = 4;
constexpr size_t kVersionAt = 8;
constexpr size_t kAttributesAt = 10;
constexpr size_t kRecordCountAt = 12;
constexpr size_t kBaseOffsetAt = 16;
constexpr size_t kTermAt = 24;
constexpr size_t kFirstTimestampAt = 32;
constexpr size_t kMaxTimestampAt = 40;
constexpr size_t kHeaderCrcAt = 48;
constexpr size_t kBatchCrcAt = 52;
static_assert(kBatchCrcAt + 4 == kBatchHeaderBytes);

// The smallest record: body length, timestamp delta, key length, value length, header count.
constexpr size_t kRecordBytesMin = 5;

Status invalid(std::string message) { return Status(Errc::invalid_batch, std::move(message)); }

// Producer block fields, from the end of the fixed header.
constexpr size_t kProducerIdAt = 0;
constexpr size_t kProducerEpochAt = 8;
constexpr size_t kProducerReservedAt = 10;
constexpr size_t kProducerSequenceAt = 12;
static_assert(kProducerSequenceAt + 4 == kProducerBlockBytes);

constexpr uint16_t kAttributesKnown = kAttributeEntryTypeMask | kAttributeProducer | kAttributeControl;

bool attributes_valid(uint16_t attributes) {
  if ((attributes & ~kAttributesKnown) != 0 || (attributes & kAttributeEntryTypeMask) > kAttributeEntryTypeMax) return false;
  const bool data = (attributes & kAttributeEntryTypeMask) == 0;
  const bool producer = (attributes & kAttributeProducer) != 0;
  const bool control = (attributes & kAttributeControl) != 0;
  return !(producer && control) && (data || (!producer && !control));
}

bool producer_valid(const ProducerStamp& producer, uint32_t record_count) {
  return producer.producer_id != 0 && uint64_t{producer.first_sequence} + record_count - 1 <= UINT32_MAX;
}

void put_producer(std::byte* out, const ProducerStamp& producer) {
  put_le<uint64_t>(out + kProducerIdAt, producer.producer_id);
  put_le<uint16_t>(out + kProducerEpochAt, producer.epoch);
  put_le<uint16_t>(out + kProducerReservedAt, 0);
  put_le<uint32_t>(out + kProducerSequenceAt, producer.first_sequence);
}

// The block of a batch whose header says it has one and whose length covers it.
Result<ProducerStamp> take_producer(ByteSpan batch, const BatchHeader& header) {
  const std::byte* p = batch.data() + kBatchHeaderBytes;
  if (get_le<uint16_t>(p + kProducerReservedAt) != 0) return invalid("producer block reserved field set");
  ProducerStamp producer{get_le<uint64_t>(p + kProducerIdAt), get_le<uint16_t>(p + kProducerEpochAt),
                         get_le<uint32_t>(p + kProducerSequenceAt)};
  if (!producer_valid(producer, header.record_count)) return invalid("producer id 0 or sequence range past 2^32 - 1");
  return producer;
}

size_t sized_bytes(size_t size) { return varint_bytes(size) + size; }

// The record's bytes after its length prefix.
size_t record_body_bytes(const Record& record, uint64_t delta_zigzag) {
  size_t bytes = varint_bytes(delta_zigzag) + sized_bytes(record.key.size()) + sized_bytes(record.value.size()) +
                 varint_bytes(record.headers.size());
  for (const RecordHeader& header : record.headers) bytes += sized_bytes(header.name.size()) + sized_bytes(header.value.size());
  return bytes;
}

std::byte* put_sized(std::byte* out, ByteSpan bytes) {
  out = put_varint(out, bytes.size());
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}

uint32_t header_crc_of(ByteSpan batch) { return crc32c(batch.first(kHeaderCrcAt)); }

uint32_t batch_crc_of(ByteSpan batch) {
  return crc32c(batch.subspan(kBatchHeaderBytes), crc32c(batch.first(kBatchCrcAt)));
}

void put_header(std::byte* out, const BatchHeader& header) {
  put_le<uint32_t>(out + kMagicAt, kBatchMagic);
  put_le<uint32_t>(out + kBatchBytesAt, header.batch_bytes);
  put_le<uint16_t>(out + kVersionAt, header.version);
  put_le<uint16_t>(out + kAttributesAt, header.attributes);
  put_le<uint32_t>(out + kRecordCountAt, header.record_count);
  put_le<uint64_t>(out + kBaseOffsetAt, header.base_offset);
  put_le<uint64_t>(out + kTermAt, header.term);
  put_le<int64_t>(out + kFirstTimestampAt, header.first_timestamp_ms);
  put_le<int64_t>(out + kMaxTimestampAt, header.max_timestamp_ms);
}

// Timestamp deltas (zigzag) of each record against the first; nullopt if one overflows.
std::optional<std::vector<uint64_t>> timestamp_deltas(std::span<const Record> records) {
  std::vector<uint64_t> deltas;
  deltas.reserve(records.size());
  for (const Record& record : records) {
    int64_t delta = 0;
    if (__builtin_sub_overflow(record.timestamp_ms, records.front().timestamp_ms, &delta)) return std::nullopt;
    deltas.push_back(detail::zigzag_encode(delta));
  }
  return deltas;
}

// Parses one record from the front of `in`. `out` may be null (verification only).
Status take_record(ByteSpan& in, int64_t first_timestamp_ms, int64_t& timestamp_ms, RecordView* out) {
  const std::optional<uint64_t> body_bytes = take_varint(in);
  if (!body_bytes || *body_bytes > in.size()) return invalid("record length runs past the batch");
  ByteSpan body = in.first(*body_bytes);
  in = in.subspan(*body_bytes);
  const std::optional<uint64_t> delta = take_varint(body);
  if (!delta) return invalid("bad record timestamp delta");
  if (__builtin_add_overflow(first_timestamp_ms, detail::zigzag_decode(*delta), &timestamp_ms)) {
    return invalid("record timestamp overflows");
  }
  auto take_sized = [&body](ByteSpan& field) {
    const std::optional<uint64_t> size = take_varint(body);
    if (!size || *size > body.size()) return false;
    field = body.first(*size);
    body = body.subspan(*size);
    return true;
  };
  ByteSpan key, value;
  if (!take_sized(key) || !take_sized(value)) return invalid("record key or value runs past the record");
  const std::optional<uint64_t> header_count = take_varint(body);
  if (!header_count || *header_count > body.size() / 2) return invalid("bad record header count");
  if (out != nullptr) {
    out->timestamp_ms = timestamp_ms;
    out->key = key;
    out->value = value;
    out->headers.clear();
    out->headers.reserve(*header_count);
  }
  for (uint64_t i = 0; i < *header_count; ++i) {
    RecordHeader header;
    if (!take_sized(header.name) || !take_sized(header.value)) return invalid("record header runs past the record");
    if (out != nullptr) out->headers.push_back(header);
  }
  if (!body.empty()) return invalid("record has bytes after its last field");
  return Status();
}

// Walks every record of a verified-length batch, checking the structure and the timestamps the
// header claims; the smallest record timestamp goes to `min_timestamp_ms` when given (a record may
// be older than the first: only the max is in the header).
Status parse_records(ByteSpan batch, const BatchHeader& header, std::vector<RecordView>* out,
                     int64_t* min_timestamp_ms = nullptr) {
  ByteSpan in = batch.subspan(header.records_begin(), header.batch_bytes - header.records_begin());
  int64_t max_timestamp_ms = header.first_timestamp_ms;
  int64_t smallest_ms = header.first_timestamp_ms;
  for (uint32_t i = 0; i < header.record_count; ++i) {
    RecordView view;
    int64_t timestamp_ms = 0;
    SLUICE_TRY(take_record(in, header.first_timestamp_ms, timestamp_ms, out != nullptr ? &view : nullptr));
    if (i == 0 && timestamp_ms != header.first_timestamp_ms) return invalid("first record's timestamp is not the batch's");
    max_timestamp_ms = std::max(max_timestamp_ms, timestamp_ms);
    smallest_ms = std::min(smallest_ms, timestamp_ms);
    if (out != nullptr) out->push_back(std::move(view));
  }
  if (!in.empty()) return invalid("bytes after the last record");
  if (max_timestamp_ms != header.max_timestamp_ms) return invalid("max timestamp does not match the records");
  if (min_timestamp_ms != nullptr) *min_timestamp_ms = smallest_ms;
  return Status();
}

}  // namespace

Result<Bytes> encode_batch(uint64_t base_offset, uint64_t term, std::span<const Record> records, size_t batch_bytes_max,
                           uint16_t attributes, std::optional<ProducerStamp> producer) {
  if (records.empty()) return Status(Errc::empty_batch, "a batch needs at least one record");
  if ((attributes & kAttributeProducer) != 0) return Status(Errc::invalid_argument, "pass the producer, not its attribute bit");
  if (producer) {
    if (!producer_valid(*producer, records.size() > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(records.size()))) {
      return Status(Errc::invalid_argument, "producer id 0 or sequence range past 2^32 - 1");
    }
    attributes |= kAttributeProducer;
  }
  if (!attributes_valid(attributes)) return Status(Errc::invalid_argument, "reserved batch attributes");
  if (base_offset >= kOffsetLimit || records.size() > kOffsetLimit - base_offset) {
    return Status(Errc::offset_out_of_range, "batch offsets would pass 2^63");
  }
  const std::optional<std::vector<uint64_t>> deltas = timestamp_deltas(records);
  if (!deltas) return Status(Errc::invalid_argument, "record timestamps differ by more than 64 bits can hold");
  const size_t limit = std::min(batch_bytes_max, kBatchBytesLimit);
  size_t total = kBatchHeaderBytes + (producer ? kProducerBlockBytes : 0);
  for (size_t i = 0; i < records.size(); ++i) {
    total += sized_bytes(record_body_bytes(records[i], (*deltas)[i]));
    if (total > limit) return Status(Errc::batch_too_large, "batch exceeds " + std::to_string(limit) + " bytes");
  }
  BatchHeader header;
  header.batch_bytes = static_cast<uint32_t>(total);
  header.attributes = attributes;
  header.record_count = static_cast<uint32_t>(records.size());
  header.base_offset = base_offset;
  header.term = term;
  header.first_timestamp_ms = records.front().timestamp_ms;
  header.max_timestamp_ms = header.first_timestamp_ms;
  for (const Record& record : records) header.max_timestamp_ms = std::max(header.max_timestamp_ms, record.timestamp_ms);

  Bytes out(total);
  put_header(out.data(), header);
  if (producer) put_producer(out.data() + kBatchHeaderBytes, *producer);
  std::byte* at = out.data() + header.records_begin();
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& record = records[i];
    at = put_varint(at, record_body_bytes(record, (*deltas)[i]));
    at = put_varint(at, (*deltas)[i]);
    at = put_sized(at, record.key);
    at = put_sized(at, record.value);
    at = put_varint(at, record.headers.size());
    for (const RecordHeader& h : record.headers) at = put_sized(put_sized(at, h.name), h.value);
  }
  SLUICE_ASSERT_EQ(static_cast<size_t>(at - out.data()), total);
  put_le<uint32_t>(out.data() + kHeaderCrcAt, header_crc_of(out));
  put_le<uint32_t>(out.data() + kBatchCrcAt, batch_crc_of(out));
  return out;
}

Result<BatchHeader> decode_batch_header(ByteSpan bytes, size_t batch_bytes_max) {
  if (bytes.size() < kBatchHeaderBytes) return Status(Errc::truncated_batch, "bytes end inside a batch header");
  const std::byte* p = bytes.data();
  if (get_le<uint32_t>(p + kMagicAt) != kBatchMagic) return invalid("bad batch magic");
  BatchHeader header;
  header.header_crc = get_le<uint32_t>(p + kHeaderCrcAt);
  if (header_crc_of(bytes) != header.header_crc) return Status(Errc::crc_mismatch, "batch header CRC mismatch");
  header.batch_bytes = get_le<uint32_t>(p + kBatchBytesAt);
  header.version = get_le<uint16_t>(p + kVersionAt);
  header.attributes = get_le<uint16_t>(p + kAttributesAt);
  header.record_count = get_le<uint32_t>(p + kRecordCountAt);
  header.base_offset = get_le<uint64_t>(p + kBaseOffsetAt);
  header.term = get_le<uint64_t>(p + kTermAt);
  header.first_timestamp_ms = get_le<int64_t>(p + kFirstTimestampAt);
  header.max_timestamp_ms = get_le<int64_t>(p + kMaxTimestampAt);
  header.batch_crc = get_le<uint32_t>(p + kBatchCrcAt);
  if (header.version != kBatchVersion) return invalid("unknown batch version " + std::to_string(header.version));
  if (!attributes_valid(header.attributes)) return invalid("reserved batch attributes");
  if (header.record_count == 0) return invalid("batch has no records");
  if (header.batch_bytes < header.records_begin() + uint64_t{header.record_count} * kRecordBytesMin) {
    return invalid("batch length too small for its records");
  }
  if (header.batch_bytes > batch_bytes_max) {
    return invalid("batch length " + std::to_string(header.batch_bytes) + " above the limit");
  }
  if (header.base_offset >= kOffsetLimit || header.record_count > kOffsetLimit - header.base_offset) {
    return invalid("batch offsets pass 2^63");
  }
  if (header.max_timestamp_ms < header.first_timestamp_ms) return invalid("max timestamp below the first");
  return header;
}

namespace {

Result<BatchHeader> verify(ByteSpan bytes, size_t batch_bytes_max, int64_t* min_timestamp_ms) {
  SLUICE_ASSIGN_OR_RETURN(BatchHeader header, decode_batch_header(bytes, batch_bytes_max));
  if (bytes.size() < header.batch_bytes) return Status(Errc::truncated_batch, "bytes end inside a batch");
  const ByteSpan batch = bytes.first(header.batch_bytes);
  if (batch_crc_of(batch) != header.batch_crc) return Status(Errc::crc_mismatch, "batch CRC mismatch");
  if ((header.attributes & kAttributeProducer) != 0) SLUICE_TRY(take_producer(batch, header).status());
  SLUICE_TRY(parse_records(batch, header, nullptr, min_timestamp_ms));
  return header;
}

}  // namespace

Result<BatchHeader> verify_batch(ByteSpan bytes, size_t batch_bytes_max) { return verify(bytes, batch_bytes_max, nullptr); }

Result<std::optional<ProducerStamp>> decode_producer(ByteSpan batch, const BatchHeader& header) {
  SLUICE_ASSERT_GE(batch.size(), header.batch_bytes);
  if ((header.attributes & kAttributeProducer) == 0) return std::optional<ProducerStamp>();
  SLUICE_ASSIGN_OR_RETURN(ProducerStamp producer, take_producer(batch, header));
  return std::optional<ProducerStamp>(producer);
}

// Checks everything verify_batch checks but the batch CRC, which it updates instead of
// recomputing: only the header changes, so the new CRC follows from the old one and the two
// headers (crc32c_combine) without another pass over the records. A batch whose CRC was right
// stays right and one whose CRC was wrong stays wrong, for Log::append to refuse.
Status restamp_batch(MutableByteSpan batch, uint64_t base_offset, uint64_t term, int64_t first_timestamp_ms) {
  SLUICE_ASSIGN_OR_RETURN(BatchHeader header, decode_batch_header(batch, kBatchBytesLimit));
  if (batch.size() < header.batch_bytes) return Status(Errc::truncated_batch, "bytes end inside a batch");
  if (header.batch_bytes != batch.size()) return invalid("bytes after the batch");
  if ((header.attributes & kAttributeProducer) != 0) SLUICE_TRY(take_producer(batch, header).status());
  int64_t min_timestamp_ms = 0;
  SLUICE_TRY(parse_records(batch, header, nullptr, &min_timestamp_ms));
  if (base_offset >= kOffsetLimit || header.record_count > kOffsetLimit - base_offset) {
    return Status(Errc::offset_out_of_range, "batch offsets would pass 2^63");
  }
  // Every record moves by the same amount: the newest and the oldest must both stay in range.
  int64_t spread_ms = 0;
  int64_t max_timestamp_ms = 0;
  int64_t below_ms = 0;
  int64_t min_stamped_ms = 0;
  if (__builtin_sub_overflow(header.max_timestamp_ms, header.first_timestamp_ms, &spread_ms) ||
      __builtin_add_overflow(first_timestamp_ms, spread_ms, &max_timestamp_ms) ||
      __builtin_sub_overflow(min_timestamp_ms, header.first_timestamp_ms, &below_ms) ||
      __builtin_add_overflow(first_timestamp_ms, below_ms, &min_stamped_ms)) {
    return Status(Errc::invalid_argument, "stamped timestamps overflow");
  }
  header.base_offset = base_offset;
  header.term = term;
  header.first_timestamp_ms = first_timestamp_ms;
  header.max_timestamp_ms = max_timestamp_ms;
  // The batch CRC covers [0, kBatchCrcAt) (header and header CRC), then the records: the change
  // in the first part, carried past the records' length, is the change in the CRC.
  const uint32_t old_prefix_crc = crc32c(ByteSpan(batch).first(kBatchCrcAt));
  put_header(batch.data(), header);
  put_le<uint32_t>(batch.data() + kHeaderCrcAt, header_crc_of(batch));
  const uint32_t new_prefix_crc = crc32c(ByteSpan(batch).first(kBatchCrcAt));
  const uint32_t carried = crc32c_combine(old_prefix_crc ^ new_prefix_crc, 0, batch.size() - kBatchHeaderBytes);
  put_le<uint32_t>(batch.data() + kBatchCrcAt, header.batch_crc ^ carried);
  return Status();
}

Result<std::vector<RecordView>> decode_records(ByteSpan batch, const BatchHeader& header) {
  SLUICE_ASSERT_GE(batch.size(), header.batch_bytes);
  std::vector<RecordView> records;
  records.reserve(header.record_count);
  SLUICE_TRY(parse_records(batch, header, &records));
  return records;
}

Result<std::vector<ByteSpan>> split_batches(ByteSpan bytes, size_t batch_bytes_max) {
  std::vector<ByteSpan> batches;
  while (!bytes.empty()) {
    SLUICE_ASSIGN_OR_RETURN(BatchHeader header, verify_batch(bytes, batch_bytes_max));
    batches.push_back(bytes.first(header.batch_bytes));
    bytes = bytes.subspan(header.batch_bytes);
  }
  return batches;
}

}  // namespace sluice::log
