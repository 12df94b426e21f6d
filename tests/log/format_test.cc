// Unit tests of the segment formats: file names, sync marks, the in-memory index and index files
// (round trips, and every single-bit flip of a mark or index file is detected).
#include "node/log/segment_format.h"

#include <gtest/gtest.h>

namespace sluice::log {

inline void PrintTo(Errc code, std::ostream* out) { *out << to_string(code); }

namespace {

BatchHeader batch_at(uint64_t base_offset, uint32_t records, uint64_t term, int64_t timestamp_ms, uint32_t bytes) {
  BatchHeader header;
  header.base_offset = base_offset;
  header.record_count = records;
  header.term = term;
  header.first_timestamp_ms = timestamp_ms;
  header.max_timestamp_ms = timestamp_ms + 3;
  header.batch_bytes = bytes;
  return header;
}

// Ten batches of 100 bytes, terms 1,1,1,2,2,2,2,5,5,5, timestamps out of order.
SegmentIndex sample_index(uint32_t interval_bytes) {
  SegmentIndex index = empty_segment_index(1000);
  const uint64_t terms[] = {1, 1, 1, 2, 2, 2, 2, 5, 5, 5};
  const int64_t times[] = {50, 40, 60, 60, 70, 10, 80, 90, 90, 95};
  for (int i = 0; i < 10; ++i) {
    add_batch(index, batch_at(index.end_offset, 3, terms[i], times[i], 100), index.data_bytes, interval_bytes);
  }
  return index;
}

TEST(SegmentFormat, FileNamesAreZeroPaddedAndParseBack) {
  EXPECT_EQ(data_file_name(42), "00000000000000000042.log");
  EXPECT_EQ(index_file_name(UINT64_MAX), "18446744073709551615.index");
  EXPECT_EQ(temporary_index_file_name(7), "00000000000000000007.index.tmp");
  for (uint64_t base : {uint64_t{0}, uint64_t{42}, UINT64_MAX}) {
    auto parsed = parse_segment_file_name(data_file_name(base));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->base_offset, base);
    EXPECT_EQ(parsed->kind, SegmentFileKind::data);
    EXPECT_EQ(parse_segment_file_name(index_file_name(base))->kind, SegmentFileKind::index);
    EXPECT_EQ(parse_segment_file_name(temporary_index_file_name(base))->kind, SegmentFileKind::temporary);
  }
  for (const char* name : {"42.log", "0000000000000000004x.log", "00000000000000000042.txt", "99999999999999999999.log",
                           "00000000000000000042", "notes"}) {
    EXPECT_FALSE(parse_segment_file_name(name)) << name;
  }
}

TEST(SegmentFormat, MarksRoundTripAndEveryFlipIsDetected) {
  const SegmentMark mark{5, 1000, 3, 123456};
  const Bytes encoded = encode_mark(mark);
  ASSERT_EQ(encoded.size(), kMarkBytes);
  Result<SegmentMark> decoded = decode_mark(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->sequence, 5u);
  EXPECT_EQ(decoded->base_offset, 1000u);
  EXPECT_EQ(decoded->prev_term, 3u);
  EXPECT_EQ(decoded->synced_bytes, 123456u);
  for (size_t bit = 0; bit < kMarkBytes * 8; ++bit) {
    Bytes damaged = encoded;
    damaged[bit / 8] ^= static_cast<std::byte>(1 << (bit % 8));
    EXPECT_FALSE(decode_mark(damaged).ok()) << "bit " << bit;
  }
  EXPECT_FALSE(decode_mark(Bytes(kMarkBytes)).ok());  // a blank slot
}

TEST(SegmentFormat, NewestValidMarkWinsAndMarksMustSitInTheirSlot) {
  Bytes header(kSegmentHeaderBytes);
  auto put = [&header](const SegmentMark& mark, uint64_t at) {
    const Bytes encoded = encode_mark(mark);
    std::copy(encoded.begin(), encoded.end(), header.begin() + static_cast<std::ptrdiff_t>(at));
  };
  put({6, 0, 0, 2000}, mark_slot_position(6));
  put({7, 0, 0, 3000}, mark_slot_position(7));
  MarkPair pair = decode_marks(header);
  ASSERT_TRUE(pair.newest && pair.older);
  EXPECT_EQ(pair.newest->sequence, 7u);
  EXPECT_EQ(pair.older->sequence, 6u);
  header[mark_slot_position(7) + 20] ^= std::byte{1};  // newest damaged: the older one remains
  pair = decode_marks(header);
  EXPECT_EQ(pair.newest->sequence, 6u);
  EXPECT_FALSE(pair.older);
  put({8, 0, 0, 4000}, mark_slot_position(7));  // sequence 8 belongs in slot 0
  EXPECT_EQ(decode_marks(header).newest->sequence, 6u);
  EXPECT_FALSE(decode_marks(ByteSpan(header).first(100)).older);  // short file: slot 1 absent
}

TEST(SegmentIndex, TracksOffsetsTermsTimestampsAndSparseEntries) {
  const SegmentIndex index = sample_index(250);
  EXPECT_EQ(index.end_offset, 1030u);
  EXPECT_EQ(index.data_bytes, kSegmentHeaderBytes + 1000);
  EXPECT_EQ(index.first_timestamp_ms, 50);
  EXPECT_EQ(index.max_timestamp_ms, 98);
  ASSERT_EQ(index.terms.size(), 3u);
  EXPECT_EQ(index.term_at(1000), 1u);
  EXPECT_EQ(index.term_at(1008), 1u);
  EXPECT_EQ(index.term_at(1009), 2u);
  EXPECT_EQ(index.term_at(1029), 5u);
  // Entries at batches 0, 3, 6, 9 (every 300 bytes with a 250-byte interval).
  ASSERT_EQ(index.entries.size(), 4u);
  EXPECT_EQ(index.entries[1].relative_offset, 9u);
  EXPECT_EQ(index.entries[1].max_timestamp_before_ms, 63);
  EXPECT_EQ(index.scan_position(1000), kSegmentHeaderBytes);
  EXPECT_EQ(index.scan_position(1010), kSegmentHeaderBytes + 300);
  EXPECT_EQ(index.scan_position(1029), kSegmentHeaderBytes + 900);
  EXPECT_EQ(index.scan_position_for_time(0), kSegmentHeaderBytes);
  EXPECT_EQ(index.scan_position_for_time(73), kSegmentHeaderBytes + 300);
  EXPECT_EQ(index.scan_position_for_time(1000), kSegmentHeaderBytes + 900);
}

TEST(SegmentIndex, CuttingAtAnEntryAndReaddingRestoresTheSameIndex) {
  const SegmentIndex full = sample_index(250);
  for (size_t entry = 0; entry < full.entries.size(); ++entry) {
    SegmentIndex cut = full;
    cut_index_at_entry(cut, entry);
    EXPECT_EQ(cut.data_bytes, full.entries[entry].position);
    // Re-add the batches from the cut, as truncation does.
    const uint64_t terms[] = {1, 1, 1, 2, 2, 2, 2, 5, 5, 5};
    const int64_t times[] = {50, 40, 60, 60, 70, 10, 80, 90, 90, 95};
    for (size_t i = (cut.end_offset - 1000) / 3; i < 10; ++i) {
      add_batch(cut, batch_at(cut.end_offset, 3, terms[i], times[i], 100), cut.data_bytes, 250);
    }
    EXPECT_EQ(encode_index_file(cut), encode_index_file(full)) << "cut at entry " << entry;
  }
}

TEST(IndexFile, RoundTripsAndEveryFlipIsDetected) {
  const SegmentIndex index = sample_index(1);
  const Bytes file = encode_index_file(index);
  Result<uint64_t> header_bytes = index_header_and_terms_bytes(file);
  ASSERT_TRUE(header_bytes.ok());
  Result<IndexFileHeader> header = decode_index_header(ByteSpan(file).first(*header_bytes));
  ASSERT_TRUE(header.ok()) << header.status().to_string();
  EXPECT_EQ(header->summary.end_offset, index.end_offset);
  EXPECT_EQ(header->summary.max_timestamp_ms, index.max_timestamp_ms);
  EXPECT_EQ(header->summary.terms.size(), 3u);
  Result<std::vector<IndexEntry>> entries = decode_index_entries(*header, ByteSpan(file).subspan(header->entries_position));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 10u);
  EXPECT_EQ((*entries)[4].position, kSegmentHeaderBytes + 400);
  for (size_t bit = 0; bit < file.size() * 8; ++bit) {
    Bytes damaged = file;
    damaged[bit / 8] ^= static_cast<std::byte>(1 << (bit % 8));
    Result<IndexFileHeader> h = decode_index_header(damaged);
    const bool caught = !h.ok() || h->entries_position != header->entries_position ||
                        !decode_index_entries(*h, ByteSpan(damaged).subspan(h->entries_position)).ok();
    EXPECT_TRUE(caught) << "bit " << bit;
  }
}

}  // namespace
}  // namespace sluice::log
