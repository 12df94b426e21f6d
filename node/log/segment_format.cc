#include "node/log/segment_format.h"

#include <algorithm>
#include <charconv>

#include "node/log/crc32c.h"
#include "node/log/endian.h"

namespace sluice::log {
namespace {

using detail::get_le;
using detail::put_le;

constexpr size_t kOffsetDigits = 20;
constexpr std::string_view kDataSuffix = ".log";
constexpr std::string_view kIndexSuffix = ".index";
constexpr std::string_view kTemporarySuffix = ".index.tmp";

std::string padded_offset(uint64_t offset) {
  std::string digits = std::to_string(offset);
  return std::string(kOffsetDigits - digits.size(), '0') + digits;
}

// Mark field positions.
constexpr size_t kMarkMagicAt = 0;
constexpr size_t kMarkVersionAt = 4;
constexpr size_t kMarkSequenceAt = 8;
constexpr size_t kMarkBaseAt = 16;
constexpr size_t kMarkPrevTermAt = 24;
constexpr size_t kMarkSyncedAt = 32;
constexpr size_t kMarkCrcAt = 44;
static_assert(kMarkCrcAt + 4 == kMarkBytes);

// Index header field positions.
constexpr size_t kIndexMagicAt = 0;
constexpr size_t kIndexVersionAt = 4;
constexpr size_t kIndexBaseAt = 8;
constexpr size_t kIndexEndAt = 16;
constexpr size_t kIndexDataBytesAt = 24;
constexpr size_t kIndexFirstTimestampAt = 32;
constexpr size_t kIndexMaxTimestampAt = 40;
constexpr size_t kIndexTermCountAt = 48;
constexpr size_t kIndexEntryCountAt = 52;
constexpr size_t kIndexEntriesCrcAt = 56;
constexpr size_t kIndexHeaderCrcAt = 60;
static_assert(kIndexHeaderCrcAt + 4 == kIndexHeaderBytes);

Status bad_index(std::string message) { return Status(Errc::invalid_batch, "index file: " + std::move(message)); }

}  // namespace

std::string data_file_name(uint64_t base_offset) { return padded_offset(base_offset) + std::string(kDataSuffix); }
std::string index_file_name(uint64_t base_offset) { return padded_offset(base_offset) + std::string(kIndexSuffix); }
std::string temporary_index_file_name(uint64_t base_offset) {
  return padded_offset(base_offset) + std::string(kTemporarySuffix);
}

std::optional<SegmentFileName> parse_segment_file_name(std::string_view name) {
  if (name.size() <= kOffsetDigits) return std::nullopt;
  const std::string_view digits = name.substr(0, kOffsetDigits);
  const std::string_view suffix = name.substr(kOffsetDigits);
  SegmentFileName parsed;
  if (suffix == kDataSuffix) {
    parsed.kind = SegmentFileKind::data;
  } else if (suffix == kIndexSuffix) {
    parsed.kind = SegmentFileKind::index;
  } else if (suffix == kTemporarySuffix) {
    parsed.kind = SegmentFileKind::temporary;
  } else {
    return std::nullopt;
  }
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed.base_offset);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  if (padded_offset(parsed.base_offset) != digits) return std::nullopt;
  return parsed;
}

// --- marks -------------------------------------------------------------------------------------

Bytes encode_mark(const SegmentMark& mark) {
  Bytes out(kMarkBytes);
  put_le<uint32_t>(out.data() + kMarkMagicAt, kMarkMagic);
  put_le<uint16_t>(out.data() + kMarkVersionAt, kSegmentFormatVersion);
  put_le<uint64_t>(out.data() + kMarkSequenceAt, mark.sequence);
  put_le<uint64_t>(out.data() + kMarkBaseAt, mark.base_offset);
  put_le<uint64_t>(out.data() + kMarkPrevTermAt, mark.prev_term);
  put_le<uint64_t>(out.data() + kMarkSyncedAt, mark.synced_bytes);
  put_le<uint32_t>(out.data() + kMarkCrcAt, crc32c(ByteSpan(out).first(kMarkCrcAt)));
  return out;
}

Result<SegmentMark> decode_mark(ByteSpan slot) {
  if (slot.size() < kMarkBytes) return Status(Errc::truncated_batch, "mark slot cut short");
  const std::byte* p = slot.data();
  if (get_le<uint32_t>(p + kMarkMagicAt) != kMarkMagic) return Status(Errc::invalid_batch, "bad mark magic");
  if (crc32c(slot.first(kMarkCrcAt)) != get_le<uint32_t>(p + kMarkCrcAt)) {
    return Status(Errc::crc_mismatch, "mark CRC mismatch");
  }
  if (get_le<uint16_t>(p + kMarkVersionAt) != kSegmentFormatVersion) return Status(Errc::invalid_batch, "unknown mark version");
  SegmentMark mark;
  mark.sequence = get_le<uint64_t>(p + kMarkSequenceAt);
  mark.base_offset = get_le<uint64_t>(p + kMarkBaseAt);
  mark.prev_term = get_le<uint64_t>(p + kMarkPrevTermAt);
  mark.synced_bytes = get_le<uint64_t>(p + kMarkSyncedAt);
  if (mark.synced_bytes < kSegmentHeaderBytes) return Status(Errc::invalid_batch, "mark synced_bytes inside the header");
  return mark;
}

MarkPair decode_marks(ByteSpan header) {
  std::vector<SegmentMark> valid;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    const uint64_t at = slot * kMarkSlotBytes;
    if (header.size() < at + kMarkBytes) continue;
    Result<SegmentMark> mark = decode_mark(header.subspan(at, kMarkBytes));
    // A mark in the wrong slot was not written by us: treat it as damage.
    if (mark.ok() && mark_slot_position(mark->sequence) == at) valid.push_back(*mark);
  }
  std::sort(valid.begin(), valid.end(), [](const SegmentMark& a, const SegmentMark& b) { return a.sequence > b.sequence; });
  MarkPair pair;
  if (!valid.empty()) pair.newest = valid[0];
  if (valid.size() > 1) pair.older = valid[1];
  return pair;
}

// --- in-memory index ---------------------------------------------------------------------------

uint64_t SegmentIndex::term_at(uint64_t offset) const {
  SLUICE_ASSERT(offset >= base_offset && offset < end_offset);
  auto after = std::upper_bound(terms.begin(), terms.end(), offset,
                                [](uint64_t value, const TermStart& start) { return value < start.first_offset; });
  SLUICE_ASSERT(after != terms.begin());
  return std::prev(after)->term;
}

uint64_t SegmentIndex::scan_position(uint64_t offset) const {
  const uint64_t relative = offset - base_offset;
  auto after = std::upper_bound(entries.begin(), entries.end(), relative,
                                [](uint64_t value, const IndexEntry& entry) { return value < entry.relative_offset; });
  return after == entries.begin() ? kSegmentHeaderBytes : std::prev(after)->position;
}

uint64_t SegmentIndex::scan_position_for_time(int64_t timestamp_ms) const {
  // Every batch before an entry whose max_timestamp_before_ms < t is below t: start at the last
  // such entry.
  auto reaching = std::lower_bound(entries.begin(), entries.end(), timestamp_ms, [](const IndexEntry& entry, int64_t value) {
    return entry.max_timestamp_before_ms < value;
  });
  if (reaching == entries.begin()) return kSegmentHeaderBytes;
  return std::prev(reaching)->position;
}

void cut_index_at_entry(SegmentIndex& index, size_t entry) {
  SLUICE_ASSERT_LT(entry, index.entries.size());
  const IndexEntry cut = index.entries[entry];
  if (entry == 0) {
    index = empty_segment_index(index.base_offset);
    return;
  }
  index.entries.resize(entry);
  index.end_offset = index.base_offset + cut.relative_offset;
  index.data_bytes = cut.position;
  index.max_timestamp_ms = cut.max_timestamp_before_ms;
  while (!index.terms.empty() && index.terms.back().first_offset >= index.end_offset) index.terms.pop_back();
}

SegmentIndex empty_segment_index(uint64_t base_offset) {
  SegmentIndex index;
  index.base_offset = base_offset;
  index.end_offset = base_offset;
  return index;
}

void add_batch(SegmentIndex& index, const BatchHeader& batch, uint64_t position, uint32_t index_interval_bytes) {
  SLUICE_ASSERT_EQ(batch.base_offset, index.end_offset);
  SLUICE_ASSERT_EQ(position, index.data_bytes);
  if (index.entries.empty() || position - index.entries.back().position >= index_interval_bytes) {
    index.entries.push_back({static_cast<uint32_t>(batch.base_offset - index.base_offset), static_cast<uint32_t>(position),
                             index.empty() ? INT64_MIN : index.max_timestamp_ms});
  }
  // Timestamp 0 is "no time" (a batch the partition's Raft storage built for a no-op or membership
  // change): the segment's first timestamp is its first timed batch's.
  if (index.empty() || index.first_timestamp_ms == 0) index.first_timestamp_ms = batch.first_timestamp_ms;
  index.max_timestamp_ms = index.empty() ? batch.max_timestamp_ms : std::max(index.max_timestamp_ms, batch.max_timestamp_ms);
  if (index.terms.empty() || index.terms.back().term != batch.term) {
    SLUICE_ASSERT(index.terms.empty() || index.terms.back().term < batch.term);
    index.terms.push_back({batch.term, batch.base_offset});
  }
  index.end_offset = batch.next_offset();
  index.data_bytes = position + batch.batch_bytes;
}

// --- index file --------------------------------------------------------------------------------

Bytes encode_index_file(const SegmentIndex& index) {
  const size_t terms_bytes = index.terms.size() * kTermStartBytes;
  Bytes out(kIndexHeaderBytes + terms_bytes + index.entries.size() * kIndexEntryBytes);
  std::byte* p = out.data();
  put_le<uint32_t>(p + kIndexMagicAt, kIndexMagic);
  put_le<uint16_t>(p + kIndexVersionAt, kSegmentFormatVersion);
  put_le<uint64_t>(p + kIndexBaseAt, index.base_offset);
  put_le<uint64_t>(p + kIndexEndAt, index.end_offset);
  put_le<uint64_t>(p + kIndexDataBytesAt, index.data_bytes);
  put_le<int64_t>(p + kIndexFirstTimestampAt, index.first_timestamp_ms);
  put_le<int64_t>(p + kIndexMaxTimestampAt, index.max_timestamp_ms);
  put_le<uint32_t>(p + kIndexTermCountAt, static_cast<uint32_t>(index.terms.size()));
  put_le<uint32_t>(p + kIndexEntryCountAt, static_cast<uint32_t>(index.entries.size()));
  std::byte* at = p + kIndexHeaderBytes;
  for (const TermStart& start : index.terms) {
    put_le<uint64_t>(at, start.term);
    put_le<uint64_t>(at + 8, start.first_offset);
    at += kTermStartBytes;
  }
  const std::byte* entries_begin = at;
  for (const IndexEntry& entry : index.entries) {
    put_le<uint32_t>(at, entry.relative_offset);
    put_le<uint32_t>(at + 4, entry.position);
    put_le<int64_t>(at + 8, entry.max_timestamp_before_ms);
    at += kIndexEntryBytes;
  }
  const ByteSpan all(out);
  put_le<uint32_t>(p + kIndexEntriesCrcAt, crc32c(all.subspan(static_cast<size_t>(entries_begin - p))));
  const uint32_t header_crc = crc32c(all.subspan(kIndexHeaderBytes, terms_bytes), crc32c(all.first(kIndexHeaderCrcAt)));
  put_le<uint32_t>(p + kIndexHeaderCrcAt, header_crc);
  return out;
}

namespace {

// Checks that the term list is strictly ascending in both fields and inside the segment.
Status check_terms(const SegmentIndex& summary) {
  for (size_t i = 0; i < summary.terms.size(); ++i) {
    const TermStart& start = summary.terms[i];
    if (start.first_offset < summary.base_offset || start.first_offset >= summary.end_offset) {
      return bad_index("term start outside the segment");
    }
    if (i == 0 ? start.first_offset != summary.base_offset
               : (start.term <= summary.terms[i - 1].term || start.first_offset <= summary.terms[i - 1].first_offset)) {
      return bad_index("term list out of order");
    }
  }
  if (summary.terms.empty()) return bad_index("no terms");
  return Status();
}

}  // namespace

Result<uint64_t> index_header_and_terms_bytes(ByteSpan bytes) {
  if (bytes.size() < kIndexHeaderBytes) return Status(Errc::truncated_batch, "index file: header cut short");
  return kIndexHeaderBytes + uint64_t{get_le<uint32_t>(bytes.data() + kIndexTermCountAt)} * kTermStartBytes;
}

Result<IndexFileHeader> decode_index_header(ByteSpan bytes) {
  if (bytes.size() < kIndexHeaderBytes) return Status(Errc::truncated_batch, "index file: header cut short");
  const std::byte* p = bytes.data();
  if (get_le<uint32_t>(p + kIndexMagicAt) != kIndexMagic) return bad_index("bad magic");
  if (get_le<uint16_t>(p + kIndexVersionAt) != kSegmentFormatVersion) return bad_index("unknown version");
  const uint32_t term_count = get_le<uint32_t>(p + kIndexTermCountAt);
  const uint64_t terms_bytes = uint64_t{term_count} * kTermStartBytes;
  if (bytes.size() - kIndexHeaderBytes < terms_bytes) return Status(Errc::truncated_batch, "index file: terms cut short");
  const uint32_t header_crc = crc32c(bytes.subspan(kIndexHeaderBytes, terms_bytes), crc32c(bytes.first(kIndexHeaderCrcAt)));
  if (header_crc != get_le<uint32_t>(p + kIndexHeaderCrcAt)) return Status(Errc::crc_mismatch, "index file: header CRC mismatch");
  IndexFileHeader header;
  SegmentIndex& summary = header.summary;
  summary.base_offset = get_le<uint64_t>(p + kIndexBaseAt);
  summary.end_offset = get_le<uint64_t>(p + kIndexEndAt);
  summary.data_bytes = get_le<uint64_t>(p + kIndexDataBytesAt);
  summary.first_timestamp_ms = get_le<int64_t>(p + kIndexFirstTimestampAt);
  summary.max_timestamp_ms = get_le<int64_t>(p + kIndexMaxTimestampAt);
  header.entry_count = get_le<uint32_t>(p + kIndexEntryCountAt);
  header.entries_crc = get_le<uint32_t>(p + kIndexEntriesCrcAt);
  header.entries_position = kIndexHeaderBytes + terms_bytes;
  if (summary.end_offset <= summary.base_offset || summary.end_offset > kOffsetLimit) return bad_index("bad offsets");
  if (summary.data_bytes <= kSegmentHeaderBytes || summary.data_bytes > UINT32_MAX) return bad_index("bad data size");
  if (summary.max_timestamp_ms < summary.first_timestamp_ms) return bad_index("bad timestamps");
  summary.terms.reserve(term_count);
  for (uint32_t i = 0; i < term_count; ++i) {
    const std::byte* at = p + kIndexHeaderBytes + i * kTermStartBytes;
    summary.terms.push_back({get_le<uint64_t>(at), get_le<uint64_t>(at + 8)});
  }
  SLUICE_TRY(check_terms(summary));
  return header;
}

Result<std::vector<IndexEntry>> decode_index_entries(const IndexFileHeader& header, ByteSpan entry_bytes) {
  if (entry_bytes.size() != uint64_t{header.entry_count} * kIndexEntryBytes) {
    return Status(Errc::truncated_batch, "index file: entries cut short or followed by junk");
  }
  if (crc32c(entry_bytes) != header.entries_crc) return Status(Errc::crc_mismatch, "index file: entries CRC mismatch");
  const SegmentIndex& summary = header.summary;
  std::vector<IndexEntry> entries;
  entries.reserve(header.entry_count);
  for (uint32_t i = 0; i < header.entry_count; ++i) {
    const std::byte* at = entry_bytes.data() + i * kIndexEntryBytes;
    IndexEntry entry{get_le<uint32_t>(at), get_le<uint32_t>(at + 4), get_le<int64_t>(at + 8)};
    const bool first = entries.empty();
    if (first ? (entry.relative_offset != 0 || entry.position != kSegmentHeaderBytes ||
                 entry.max_timestamp_before_ms != INT64_MIN)
              : (entry.relative_offset <= entries.back().relative_offset || entry.position <= entries.back().position ||
                 entry.max_timestamp_before_ms < entries.back().max_timestamp_before_ms)) {
      return bad_index("entries out of order");
    }
    if (entry.relative_offset >= summary.end_offset - summary.base_offset || entry.position >= summary.data_bytes ||
        entry.max_timestamp_before_ms > summary.max_timestamp_ms) {
      return bad_index("entry outside the segment");
    }
    entries.push_back(entry);
  }
  if (entries.empty()) return bad_index("no entries");
  return entries;
}

}  // namespace sluice::log
