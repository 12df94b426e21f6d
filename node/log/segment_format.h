// Pure formats of a segment's files (docs/formats/log.md): file names, the sync marks at the
// front of each data file, the index file, and the in-memory index that both the append path and
// recovery build batch by batch. No I/O.
//
// A data file starts with a 1024-byte header holding two mark slots (one per 512-byte sector so a
// torn sector can damage only one). A mark says "data up to synced_bytes is durable". Log::sync
// writes the next mark into the other slot and then fsyncs, so when sync returns the mark is exact;
// after a crash the newest valid mark bounds the data that must be intact (damage there is
// corruption) from the unsynced tail (where a torn write is simply cut off).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/log/codec.h"
#include "node/log/errors.h"

namespace sluice::log {

inline constexpr uint32_t kMarkMagic = 0x47534C53u;   // bytes "SLSG"
inline constexpr uint32_t kIndexMagic = 0x58494C53u;  // bytes "SLIX"
inline constexpr uint16_t kSegmentFormatVersion = 1;
inline constexpr size_t kMarkSlotBytes = 512;
inline constexpr size_t kMarkBytes = 48;
inline constexpr uint64_t kSegmentHeaderBytes = 2 * kMarkSlotBytes;  // batches start here
inline constexpr size_t kIndexHeaderBytes = 64;
inline constexpr size_t kIndexEntryBytes = 16;
inline constexpr size_t kTermStartBytes = 16;

// --- file names --------------------------------------------------------------------------------

enum class SegmentFileKind { data, index, temporary };

// "00000000000000000042.log" / ".index" / ".index.tmp": 20 digits hold any 64-bit offset and
// sort by offset.
std::string data_file_name(uint64_t base_offset);
std::string index_file_name(uint64_t base_offset);
std::string temporary_index_file_name(uint64_t base_offset);

struct SegmentFileName {
  uint64_t base_offset = 0;
  SegmentFileKind kind = SegmentFileKind::data;
};
// nullopt for a name that is not one of ours.
std::optional<SegmentFileName> parse_segment_file_name(std::string_view name);

// --- sync marks --------------------------------------------------------------------------------

struct SegmentMark {
  uint64_t sequence = 0;      // higher is newer; slot = sequence % 2
  uint64_t base_offset = 0;   // must match the file name
  uint64_t prev_term = 0;     // term of the batch just before base_offset (0: none)
  uint64_t synced_bytes = 0;  // data file bytes known durable, >= kSegmentHeaderBytes
};

constexpr uint64_t mark_slot_position(uint64_t sequence) { return (sequence % 2) * kMarkSlotBytes; }
Bytes encode_mark(const SegmentMark& mark);  // kMarkBytes
// invalid_batch or crc_mismatch for a slot that holds no valid mark (e.g. zeros).
Result<SegmentMark> decode_mark(ByteSpan slot);

struct MarkPair {
  std::optional<SegmentMark> newest;
  std::optional<SegmentMark> older;
};
// The valid marks of a data file's header bytes (fewer than kSegmentHeaderBytes is fine).
MarkPair decode_marks(ByteSpan header);

// --- in-memory index ---------------------------------------------------------------------------

struct IndexEntry {
  uint32_t relative_offset = 0;  // batch base offset - segment base offset
  uint32_t position = 0;         // of the batch in the data file
  // Max timestamp of the segment's batches before this one (INT64_MIN for the first): the state
  // to resume from when the index is cut back to this entry, and a time index (ascending).
  int64_t max_timestamp_before_ms = 0;
};

struct TermStart {
  uint64_t term = 0;
  uint64_t first_offset = 0;
};

// What is known about a segment's contents; built by adding its batches in order.
struct SegmentIndex {
  uint64_t base_offset = 0;
  uint64_t end_offset = 0;                   // one past the last record
  uint64_t data_bytes = kSegmentHeaderBytes;  // data file size
  int64_t first_timestamp_ms = 0;            // of the first batch; meaningless while empty
  int64_t max_timestamp_ms = 0;              // over all batches; meaningless while empty
  std::vector<TermStart> terms;              // where each term starts, ascending
  std::vector<IndexEntry> entries;           // sparse: one per index_interval_bytes of data

  bool empty() const { return end_offset == base_offset; }
  uint64_t last_term() const { return terms.empty() ? 0 : terms.back().term; }
  // Term of the record at `offset` (base_offset <= offset < end_offset).
  uint64_t term_at(uint64_t offset) const;
  // Data file position from which scanning batch headers reaches the batch holding `offset`.
  uint64_t scan_position(uint64_t offset) const;
  // Position of the first batch whose max timestamp may be >= `timestamp_ms`.
  uint64_t scan_position_for_time(int64_t timestamp_ms) const;
};

SegmentIndex empty_segment_index(uint64_t base_offset);
// Cuts the index back to just before the batch of entries[entry]: as if only the batches before
// it had been added. Re-adding the batches from that entry's position restores any later state.
void cut_index_at_entry(SegmentIndex& index, size_t entry);
// Accounts for `batch` written at `position` (== index.data_bytes). The caller has checked that
// its base offset is index.end_offset and its term is not below the last.
void add_batch(SegmentIndex& index, const BatchHeader& batch, uint64_t position, uint32_t index_interval_bytes);

// --- index file --------------------------------------------------------------------------------

// Header and term list are covered by one CRC, the entries by another: opening a log reads only
// the (small) header and terms of each sealed segment; entries are read when the segment is read.
Bytes encode_index_file(const SegmentIndex& index);

struct IndexFileHeader {
  SegmentIndex summary;  // everything but the entries
  uint32_t entry_count = 0;
  uint32_t entries_crc = 0;
  size_t entries_position = 0;  // where the entries start in the file
};
// Bytes of header plus term list, from at least the first kIndexHeaderBytes of an index file
// (truncated_batch if fewer). Lets a reader fetch exactly what decode_index_header needs.
Result<uint64_t> index_header_and_terms_bytes(ByteSpan bytes);
// Decodes header and term list from the front of `bytes`; truncated_batch if they are not all
// there, invalid_batch / crc_mismatch if damaged.
Result<IndexFileHeader> decode_index_header(ByteSpan bytes);
// Decodes and checks (CRC, ordering, bounds) the entry bytes that follow the header.
Result<std::vector<IndexEntry>> decode_index_entries(const IndexFileHeader& header, ByteSpan entry_bytes);

// A segment as the log reports it (Log::segments()); retention decides from these alone.
struct SegmentInfo {
  uint64_t base_offset = 0;
  uint64_t end_offset = 0;  // one past its last record
  uint64_t size_bytes = 0;  // data file size
  int64_t first_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;  // persisted in the batches: segment ages survive restarts
  bool active = false;

  bool empty() const { return end_offset == base_offset; }
};

}  // namespace sluice::log
