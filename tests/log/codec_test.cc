// Unit tests of the pure codec: CRC32C (both implementations, known vectors), batch round trips,
// and that every corruption of a batch is detected: each single-bit flip, each truncation, and
// fields that are wrong yet carry valid CRCs.
#include "node/log/codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "node/log/crc32c.h"
#include "node/log/endian.h"

namespace sluice::log {

inline void PrintTo(Errc code, std::ostream* out) { *out << to_string(code); }

namespace {

using detail::get_le;
using detail::put_le;

// --- CRC32C ------------------------------------------------------------------------------------

struct CrcVector {
  std::string input;
  uint32_t crc;
};

std::vector<CrcVector> crc_vectors() {
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
  return {
      {"", 0x00000000u},
      {"123456789", 0xE3069283u},
      {"The quick brown fox jumps over the lazy dog", 0x22620404u},
      {std::string(32, '\0'), 0x8A9136AAu},      // RFC 3720 B.4
      {std::string(32, '\xff'), 0x62A8AB43u},    // RFC 3720 B.4
      {ascending, 0x46DD794Eu},                  // RFC 3720 B.4
      {descending, 0x113FDB5Cu},                 // RFC 3720 B.4
  };
}

TEST(Crc32c, TableMatchesKnownVectors) {
  for (const CrcVector& v : crc_vectors()) EXPECT_EQ(crc32c_table(as_bytes(v.input)), v.crc) << v.input.size() << " bytes";
}

TEST(Crc32c, HardwareMatchesKnownVectors) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (const CrcVector& v : crc_vectors()) EXPECT_EQ(crc32c_hardware(as_bytes(v.input)), v.crc) << v.input.size() << " bytes";
}

TEST(Crc32c, DispatcherMatchesKnownVectors) {
  for (const CrcVector& v : crc_vectors()) EXPECT_EQ(crc32c(as_bytes(v.input)), v.crc);
}

TEST(Crc32c, ImplementationsAgreeOnEveryLengthAndAlignmentAndContinue) {
  Prng prng(3);
  Bytes buffer(300);
  for (std::byte& b : buffer) b = static_cast<std::byte>(prng.next());
  for (size_t start = 0; start < 8; ++start) {
    for (size_t length = 0; start + length <= buffer.size(); length += 1 + length / 8) {
      const ByteSpan bytes = ByteSpan(buffer).subspan(start, length);
      const uint32_t table = crc32c_table(bytes);
      if (crc32c_hardware_available()) {
        ASSERT_EQ(crc32c_hardware(bytes), table) << start << "+" << length;
      }
      for (size_t split : {size_t{0}, length / 3, length}) {
        ASSERT_EQ(crc32c(bytes.subspan(split), crc32c(bytes.first(split))), table);
        ASSERT_EQ(crc32c_table(bytes.subspan(split), crc32c_table(bytes.first(split))), table);
      }
    }
  }
}

// Long inputs take the hardware path's three-lane loop (12 KiB blocks): every block count and
// remainder must agree with the table.
TEST(Crc32c, HardwareLanesAgreeWithTheTableOnLongInputs) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  Prng prng(5);
  Bytes buffer(3 * 12288 + 100);
  for (std::byte& b : buffer) b = static_cast<std::byte>(prng.next());
  for (size_t length : {size_t{12287}, size_t{12288}, size_t{12289}, size_t{24576 + 7}, buffer.size() - 3}) {
    for (size_t start : {size_t{0}, size_t{3}}) {
      const ByteSpan bytes = ByteSpan(buffer).subspan(start, length);
      ASSERT_EQ(crc32c_hardware(bytes), crc32c_table(bytes)) << start << "+" << length;
      ASSERT_EQ(crc32c_hardware(bytes, 0xDEADBEEF), crc32c_table(bytes, 0xDEADBEEF)) << start << "+" << length;
    }
  }
}

// --- batches -----------------------------------------------------------------------------------

struct OwnedRecord {
  int64_t timestamp_ms = 0;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Keeps the RecordHeader arrays alive for the Records that point at them.
struct Records {
  std::vector<OwnedRecord> owned;
  std::vector<std::vector<RecordHeader>> header_spans;
  std::vector<Record> records;

  explicit Records(std::vector<OwnedRecord> input) : owned(std::move(input)) {
    header_spans.reserve(owned.size());
    for (const OwnedRecord& r : owned) {
      std::vector<RecordHeader>& headers = header_spans.emplace_back();
      for (const auto& [name, value] : r.headers) headers.push_back({as_bytes(name), as_bytes(value)});
      records.push_back({r.timestamp_ms, as_bytes(r.key), as_bytes(r.value), headers});
    }
  }
};

Records sample_records() {
  return Records({
      {1'700'000'000'000, "k1", "first value", {{"trace", "abc"}, {"", ""}}},
      {1'700'000'000'005, "", "", {}},
      {1'699'999'999'000, "key-three", std::string(300, 'v'), {{"h", std::string(200, 'x')}}},  // earlier: negative delta
  });
}

Bytes sample_batch(uint64_t base_offset = 100, uint64_t term = 7) {
  Records records = sample_records();
  Result<Bytes> batch = encode_batch(base_offset, term, records.records);
  SLUICE_ASSERT(batch.ok());
  return *batch;
}

// Recomputes both CRCs after a test changed header fields or records on purpose.
void reseal(Bytes& batch) {
  put_le<uint32_t>(batch.data() + 48, crc32c(ByteSpan(batch).first(48)));
  put_le<uint32_t>(batch.data() + 52, crc32c(ByteSpan(batch).subspan(kBatchHeaderBytes), crc32c(ByteSpan(batch).first(52))));
}

TEST(BatchCodec, RoundTripsEveryField) {
  Records input = sample_records();
  Result<Bytes> batch = encode_batch(100, 7, input.records);
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  Result<BatchHeader> header = verify_batch(*batch);
  ASSERT_TRUE(header.ok()) << header.status().to_string();
  EXPECT_EQ(header->batch_bytes, batch->size());
  EXPECT_EQ(header->base_offset, 100u);
  EXPECT_EQ(header->last_offset(), 102u);
  EXPECT_EQ(header->record_count, 3u);
  EXPECT_EQ(header->term, 7u);
  EXPECT_EQ(header->first_timestamp_ms, 1'700'000'000'000);
  EXPECT_EQ(header->max_timestamp_ms, 1'700'000'000'005);
  Result<std::vector<RecordView>> records = decode_records(*batch, *header);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), input.owned.size());
  for (size_t i = 0; i < input.owned.size(); ++i) {
    const OwnedRecord& want = input.owned[i];
    const RecordView& got = (*records)[i];
    EXPECT_EQ(got.timestamp_ms, want.timestamp_ms);
    EXPECT_EQ(as_string_view(got.key), want.key);
    EXPECT_EQ(as_string_view(got.value), want.value);
    ASSERT_EQ(got.headers.size(), want.headers.size());
    for (size_t h = 0; h < want.headers.size(); ++h) {
      EXPECT_EQ(as_string_view(got.headers[h].name), want.headers[h].first);
      EXPECT_EQ(as_string_view(got.headers[h].value), want.headers[h].second);
    }
  }
}

TEST(BatchCodec, ReencodingADecodedBatchGivesTheSameBytes) {
  const Bytes batch = sample_batch();
  const BatchHeader header = *verify_batch(batch);
  std::vector<RecordView> views = *decode_records(batch, header);
  std::vector<Record> records;
  for (const RecordView& view : views) records.push_back({view.timestamp_ms, view.key, view.value, view.headers});
  EXPECT_EQ(*encode_batch(header.base_offset, header.term, records), batch);
}

TEST(BatchCodec, HeaderAloneDecodesWithoutThePayload) {
  const Bytes batch = sample_batch();
  Result<BatchHeader> header = decode_batch_header(ByteSpan(batch).first(kBatchHeaderBytes));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->batch_bytes, batch.size());
  EXPECT_EQ(verify_batch(ByteSpan(batch).first(kBatchHeaderBytes)).code(), Errc::truncated_batch);
}

TEST(BatchCodec, EveryBitFlipIsDetected) {
  const Bytes batch = sample_batch();
  for (size_t byte = 0; byte < batch.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes damaged = batch;
      damaged[byte] ^= static_cast<std::byte>(1 << bit);
      Result<BatchHeader> verified = verify_batch(damaged);
      ASSERT_FALSE(verified.ok()) << "flip of bit " << bit << " of byte " << byte << " went unnoticed";
      ASSERT_TRUE(verified.code() == Errc::crc_mismatch || verified.code() == Errc::invalid_batch ||
                  verified.code() == Errc::truncated_batch)
          << to_string(verified.code());
    }
  }
}

TEST(BatchCodec, EveryTruncationIsDetected) {
  const Bytes batch = sample_batch();
  for (size_t size = 0; size < batch.size(); ++size) {
    EXPECT_EQ(verify_batch(ByteSpan(batch).first(size)).code(), Errc::truncated_batch) << size;
  }
}

TEST(BatchCodec, BytesAfterTheBatchAreNotPartOfIt) {
  Bytes two = sample_batch(0);
  const Bytes second = sample_batch(3);
  two.insert(two.end(), second.begin(), second.end());
  Result<BatchHeader> first = verify_batch(two);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->base_offset, 0u);
  Result<std::vector<ByteSpan>> split = split_batches(two);
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->size(), 2u);
  EXPECT_EQ(verify_batch((*split)[1])->base_offset, 3u);
  two.pop_back();
  EXPECT_EQ(split_batches(two).code(), Errc::truncated_batch);
}

// The entry-type attribute (Raft storage) round-trips; reserved values are refused on encode.
TEST(BatchCodec, EntryTypeAttributeRoundTrips) {
  Records records = sample_records();
  for (uint16_t attributes = 0; attributes <= kAttributeEntryTypeMax; ++attributes) {
    Result<Bytes> batch = encode_batch(5, 2, records.records, kBatchBytesLimit, attributes);
    ASSERT_TRUE(batch.ok());
    Result<BatchHeader> header = verify_batch(*batch);
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(header->attributes, attributes);
  }
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, 3).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, 16).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, kAttributeControl | 1).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, kAttributeProducer).code(), Errc::invalid_argument);
  EXPECT_TRUE(encode_batch(5, 2, records.records, kBatchBytesLimit, kAttributeControl).ok());
}

TEST(BatchCodec, ProducerBlockRoundTripsAndIsChecked) {
  Records records = sample_records();
  const ProducerStamp producer{0x1122334455667788ULL, 3, 41};
  Bytes batch = encode_batch(5, 2, records.records, kBatchBytesLimit, 0, producer).value();
  BatchHeader header = verify_batch(batch).value();
  EXPECT_EQ(header.attributes, kAttributeProducer);
  EXPECT_EQ(header.records_begin(), kBatchHeaderBytes + kProducerBlockBytes);
  EXPECT_EQ(decode_producer(batch, header).value(), producer);
  EXPECT_EQ(decode_records(batch, header)->size(), records.records.size());
  EXPECT_EQ(decode_producer(sample_batch(), verify_batch(sample_batch()).value()).value(), std::nullopt);
  // Encode refuses what verify would refuse.
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, 0, ProducerStamp{0, 0, 0}).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, 0, ProducerStamp{1, 0, UINT32_MAX - 1}).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, kAttributeControl, producer).code(), Errc::invalid_argument);
  EXPECT_EQ(encode_batch(5, 2, records.records, kBatchBytesLimit, 2, producer).code(), Errc::invalid_argument);  // a no-op
  auto expect_invalid = [&](const char* what, auto&& damage) {
    Bytes damaged = batch;
    damage(damaged);
    reseal(damaged);
    EXPECT_EQ(verify_batch(damaged).code(), Errc::invalid_batch) << what;
  };
  expect_invalid("producer id 0", [](Bytes& b) { put_le<uint64_t>(b.data() + kBatchHeaderBytes, 0); });
  expect_invalid("reserved field", [](Bytes& b) { put_le<uint16_t>(b.data() + kBatchHeaderBytes + 10, 1); });
  expect_invalid("sequence overflow", [](Bytes& b) { put_le<uint32_t>(b.data() + kBatchHeaderBytes + 12, UINT32_MAX); });
  expect_invalid("producer and control", [](Bytes& b) { put_le<uint16_t>(b.data() + 10, kAttributeProducer | kAttributeControl); });
  expect_invalid("flag dropped", [](Bytes& b) { put_le<uint16_t>(b.data() + 10, 0); });
}

TEST(BatchCodec, RestampGivesWhatEncodingAtTheStampsGives) {
  Records records = sample_records();
  const ProducerStamp producer{9, 1, 0};
  Bytes batch = encode_batch(0, 0, records.records, kBatchBytesLimit, 0, producer).value();
  const int64_t shift_ms = 1'800'000'000'000 - records.records.front().timestamp_ms;
  ASSERT_TRUE(restamp_batch(batch, 1234, 9, 1'800'000'000'000).ok());
  Records shifted = sample_records();
  for (Record& record : shifted.records) record.timestamp_ms += shift_ms;
  EXPECT_EQ(batch, encode_batch(1234, 9, shifted.records, kBatchBytesLimit, 0, producer).value());
  BatchHeader header = verify_batch(batch).value();
  EXPECT_EQ(header.base_offset, 1234u);
  EXPECT_EQ(header.term, 9u);
  // Refusals leave the batch as it was.
  const Bytes before = batch;
  EXPECT_EQ(restamp_batch(batch, kOffsetLimit - 1, 9, 0).code(), Errc::offset_out_of_range);
  EXPECT_EQ(restamp_batch(batch, 0, 9, INT64_MAX).code(), Errc::invalid_argument);
  // The third record is a second older than the first: it would fall below INT64_MIN.
  EXPECT_EQ(restamp_batch(batch, 0, 9, INT64_MIN + 500).code(), Errc::invalid_argument);
  EXPECT_EQ(batch, before);
  Bytes longer = batch;
  longer.push_back(std::byte{0});
  EXPECT_EQ(restamp_batch(longer, 0, 1, 0).code(), Errc::invalid_batch);
  // A damaged header is refused; damaged records are not looked at by CRC: the batch CRC is
  // carried over, so it stays wrong and the log refuses the batch.
  Bytes damaged_header = batch;
  damaged_header[20] ^= std::byte{1};
  EXPECT_EQ(restamp_batch(damaged_header, 0, 1, 0).code(), Errc::crc_mismatch);
  Bytes damaged = batch;
  damaged[batch.size() - 1] ^= std::byte{1};
  ASSERT_EQ(verify_batch(damaged).code(), Errc::crc_mismatch);
  ASSERT_TRUE(restamp_batch(damaged, 77, 10, 1'900'000'000'000).ok());
  EXPECT_EQ(verify_batch(damaged).code(), Errc::crc_mismatch);
  damaged[batch.size() - 1] ^= std::byte{1};  // undone: now it is a right batch with the new stamps
  EXPECT_EQ(verify_batch(damaged).value().base_offset, 77u);
}

// crc32c_combine gives the CRC of a concatenation from the parts' CRCs, for every split.
TEST(Crc32c, CombineMatchesTheCrcOfTheConcatenation) {
  Bytes bytes(3000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte{static_cast<uint8_t>(i * 131 + 7)};
  const ByteSpan all(bytes);
  for (size_t split : {size_t{0}, size_t{1}, size_t{52}, size_t{1000}, size_t{2999}, size_t{3000}}) {
    const ByteSpan a = all.first(split);
    const ByteSpan b = all.subspan(split);
    EXPECT_EQ(crc32c_combine(crc32c(a), crc32c(b), b.size()), crc32c(all)) << split;
  }
  // Lengths far beyond memory: x^(8n) is reached by squaring, and a zero-length b changes nothing.
  EXPECT_EQ(crc32c_combine(0x12345678u, 0, 0), 0x12345678u);
  EXPECT_NE(crc32c_combine(0x12345678u, 0, uint64_t{1} << 60), crc32c_combine(0x12345678u, 0, (uint64_t{1} << 60) + 1));
}

// Wrong fields with valid CRCs: what a buggy or hostile writer could produce.
TEST(BatchCodec, ResealedBadFieldsAreInvalid) {
  auto expect_invalid = [](const char* what, auto&& damage) {
    Bytes batch = sample_batch();
    damage(batch);
    reseal(batch);
    EXPECT_EQ(verify_batch(batch).code(), Errc::invalid_batch) << what;
  };
  expect_invalid("magic", [](Bytes& b) { b[0] = std::byte{'X'}; });
  expect_invalid("version", [](Bytes& b) { put_le<uint16_t>(b.data() + 8, 2); });
  expect_invalid("attribute entry type 3", [](Bytes& b) { put_le<uint16_t>(b.data() + 10, 3); });
  expect_invalid("reserved attribute bit", [](Bytes& b) { put_le<uint16_t>(b.data() + 10, 16); });
  expect_invalid("control on a no-op", [](Bytes& b) { put_le<uint16_t>(b.data() + 10, kAttributeControl | 2); });
  expect_invalid("zero records", [](Bytes& b) { put_le<uint32_t>(b.data() + 12, 0); });
  expect_invalid("more records than bytes", [](Bytes& b) { put_le<uint32_t>(b.data() + 12, 4); });
  expect_invalid("fewer records than bytes", [](Bytes& b) { put_le<uint32_t>(b.data() + 12, 2); });
  expect_invalid("offset overflow", [](Bytes& b) { put_le<uint64_t>(b.data() + 16, kOffsetLimit - 1); });
  expect_invalid("first timestamp", [](Bytes& b) { put_le<int64_t>(b.data() + 32, get_le<int64_t>(b.data() + 32) - 1); });
  expect_invalid("max timestamp high", [](Bytes& b) { put_le<int64_t>(b.data() + 40, get_le<int64_t>(b.data() + 40) + 1); });
  expect_invalid("max below first", [](Bytes& b) { put_le<int64_t>(b.data() + 40, 0); });
  expect_invalid("length too small", [](Bytes& b) { put_le<uint32_t>(b.data() + 4, kBatchHeaderBytes); });
  expect_invalid("record length past the end", [](Bytes& b) { b[kBatchHeaderBytes] = std::byte{0x7f}; });
  // The first record's length as a two-byte varint with a redundant zero group.
  expect_invalid("non-canonical varint", [](Bytes& b) {
    const std::byte length = b[kBatchHeaderBytes];
    b[kBatchHeaderBytes] = length | std::byte{0x80};
    b.insert(b.begin() + kBatchHeaderBytes + 1, std::byte{0});
    put_le<uint32_t>(b.data() + 4, static_cast<uint32_t>(b.size()));
  });
}

TEST(BatchCodec, OversizeLengthIsRejectedFromTheHeader) {
  const Bytes batch = sample_batch();
  EXPECT_EQ(verify_batch(batch, batch.size() - 1).code(), Errc::invalid_batch);
  EXPECT_TRUE(verify_batch(batch, batch.size()).ok());
}

TEST(BatchCodec, EncodeRejectsBadInput) {
  EXPECT_EQ(encode_batch(0, 1, {}).code(), Errc::empty_batch);
  Records records = sample_records();
  const size_t size = sample_batch().size();
  EXPECT_EQ(encode_batch(100, 7, records.records, size - 1).code(), Errc::batch_too_large);
  EXPECT_TRUE(encode_batch(100, 7, records.records, size).ok());
  EXPECT_EQ(encode_batch(kOffsetLimit - 2, 7, records.records).code(), Errc::offset_out_of_range);
  EXPECT_TRUE(encode_batch(kOffsetLimit - 3, 7, records.records).ok());
  Records extreme({{INT64_MIN, "", "", {}}, {INT64_MAX, "", "", {}}});
  EXPECT_EQ(encode_batch(0, 1, extreme.records).code(), Errc::invalid_argument);
}

TEST(BatchCodec, VarintsRoundTripAndRejectNonCanonicalForms) {
  for (uint64_t value : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{300}, UINT64_MAX >> 1, UINT64_MAX}) {
    std::byte buffer[detail::kVarintBytesMax];
    const std::byte* end = detail::put_varint(buffer, value);
    ASSERT_EQ(static_cast<size_t>(end - buffer), detail::varint_bytes(value));
    ByteSpan in(buffer, static_cast<size_t>(end - buffer));
    EXPECT_EQ(detail::take_varint(in), value);
    EXPECT_TRUE(in.empty());
  }
  const std::byte redundant[] = {std::byte{0x81}, std::byte{0x00}};
  ByteSpan in(redundant);
  EXPECT_FALSE(detail::take_varint(in).has_value());
  std::byte too_long[11];
  std::memset(too_long, 0xff, sizeof too_long);
  ByteSpan long_in(too_long);
  EXPECT_FALSE(detail::take_varint(long_in).has_value());
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, INT64_MIN, INT64_MAX}) EXPECT_EQ(detail::zigzag_decode(detail::zigzag_encode(v)), v);
}

}  // namespace
}  // namespace sluice::log
