// Log: truncating the suffix (Raft conflicts) and the prefix (retention).
#include <algorithm>

#include "node/base/coverage.h"
#include "node/log/log.h"
#include "node/log/io_errors.h"
#include "node/log/segment_io.h"

namespace sluice::log {
namespace {

constexpr size_t kHeaderWindowBytes = 8 * 1024;

}  // namespace

// Index first: a crash between the two removals leaves a data file without an index (rebuilt on
// demand), never an index that outlives its data and could be mistaken for current.
Status Log::remove_segment_files(uint64_t base_offset, bool data_too) {
  const std::string index_path = join_path(dir_, index_file_name(base_offset));
  const runtime::Status index_removed = fs_.remove(index_path);
  if (!index_removed.ok() && index_removed.code() != runtime::Errc::not_found) return from_runtime(index_removed, index_path);
  if (data_too) SLUICE_LOG_TRY_IO(fs_.remove(data_path(base_offset)), data_path(base_offset));
  return Status();
}

Status Log::truncate_suffix(uint64_t from_offset) {
  SLUICE_TRY(check_usable());
  if (from_offset < start_offset() || from_offset > end_offset()) {
    return Status(Errc::offset_out_of_range, "truncate_suffix at " + std::to_string(from_offset) + ": log holds [" +
                                                 std::to_string(start_offset()) + ", " + std::to_string(end_offset()) + ")");
  }
  if (from_offset == end_offset()) return Status();
  const size_t cut_segment = segment_for(from_offset);
  Segment& segment = segments_[cut_segment];
  SLUICE_TRY(ensure_open(segment));
  SLUICE_ASSIGN_OR_RETURN(Located cut, locate(segment, from_offset, segment.index.scan_position(from_offset)));
  if (cut.header.base_offset != from_offset) {
    return Status(Errc::invalid_argument, "truncate_suffix at " + std::to_string(from_offset) + ": inside the batch [" +
                                              std::to_string(cut.header.base_offset) + ", " +
                                              std::to_string(cut.header.last_offset()) + "]");
  }
  // Later segments go first, durably, so a crash can never leave the cut segment shorter while a
  // later one still exists (a gap in the offsets).
  const bool was_active = cut_segment + 1 == segments_.size();
  while (segments_.size() > cut_segment + 1) {
    Segment& last = segments_.back();
    if (last.file) close_file(last);
    if (Status removed = remove_segment_files(last.index.base_offset, true); !removed.ok()) return fail(removed);
    segments_.pop_back();
  }
  if (was_active) SLUICE_COVER("log.truncate_suffix_active"); else SLUICE_COVER("log.truncate_suffix_into_sealed");
  if (!was_active) {
    // Its index describes the segment before the cut; an active segment has none.
    if (Status removed = remove_segment_files(segment.index.base_offset, false); !removed.ok()) return fail(removed);
    if (runtime::Status synced = fs_.sync_dir(dir_); !synced.ok()) return fail(from_runtime(synced, "sync_dir " + dir_));
  }
  return reactivate(cut_segment, cut);
}

// Makes segments_[index] (now the last) the active segment, cut at `cut`.
Status Log::reactivate(size_t segment_index, const Located& cut) {
  SLUICE_ASSERT_EQ(segment_index + 1, segments_.size());
  Segment& segment = segments_.back();
  const std::string path = data_path(segment.index.base_offset);
  if (segment.file) close_file(segment);  // possibly a read-only handle
  runtime::Result<std::unique_ptr<runtime::File>> opened = fs_.open(path, runtime::OpenMode::read_write);
  if (!opened.ok()) return fail(from_runtime(opened.status(), path));
  segment.file = std::move(*opened);
  ++open_files_;
  Result<MarkPair> marks = read_marks(*segment.file, path);
  if (!marks.ok()) return fail(marks.status());
  if (!marks->newest) return fail(Status(Errc::corruption, path + ": no valid sync mark"));
  // The mark may only shrink before the data does: a crash in between then keeps the old batches
  // past the cut as an unsynced tail (the log as it was), never a mark beyond the file's end.
  const SegmentMark mark{marks->newest->sequence + 1, segment.index.base_offset, segment.prev_term,
                         std::min(marks->newest->synced_bytes, cut.position)};
  Status status = write_mark(*segment.file, path, mark);
  if (status.ok()) status = from_runtime(truncate_active(segment, cut.position), path);
  if (status.ok()) status = from_runtime(segment.file->sync(), path);
  if (!status.ok()) return fail(status);
  mark_sequence_ = mark.sequence;
  synced_bytes_ = mark.synced_bytes;
  active_dirty_ = false;
  if (Status cut_index = cut_active_index(cut.header.base_offset, cut.position); !cut_index.ok()) return fail(cut_index);
  check_segments();
  return sync();
}

// Cuts the active segment's in-memory index back to the last entry before the cut and re-adds
// the batches between that entry and the cut from their headers (at most one index interval).
Status Log::cut_active_index(uint64_t from_offset, uint64_t position) {
  Segment& segment = segments_.back();
  SegmentIndex& index = segment.index;
  const uint64_t relative = from_offset - index.base_offset;
  auto after = std::upper_bound(index.entries.begin(), index.entries.end(), relative,
                                [](uint64_t value, const IndexEntry& entry) { return value < entry.relative_offset; });
  SLUICE_ASSERT(after != index.entries.begin());
  cut_index_at_entry(index, static_cast<size_t>(std::prev(after) - index.entries.begin()));
  const std::string path = data_path(index.base_offset);
  FileWindow window(*segment.file, path, position, kHeaderWindowBytes);
  while (index.data_bytes < position) {
    SLUICE_ASSIGN_OR_RETURN(ByteSpan head, window.get(index.data_bytes, kBatchHeaderBytes));
    Result<BatchHeader> header = decode_batch_header(head, options_.batch_bytes_max);
    if (!header.ok() || header->base_offset != index.end_offset) {
      return Status(Errc::corruption, path + " at byte " + std::to_string(index.data_bytes) + ": batch header changed");
    }
    add_batch(index, *header, index.data_bytes, options_.index_interval_bytes);
  }
  if (index.end_offset != from_offset || index.data_bytes != position) {
    return Status(Errc::corruption, path + ": batches do not end at the cut");
  }
  return Status();
}

Status Log::truncate_prefix(uint64_t new_start_offset) {
  SLUICE_TRY(check_usable());
  if (new_start_offset == start_offset()) return Status();
  if (new_start_offset < start_offset() || new_start_offset > end_offset() ||
      segments_[segment_for(new_start_offset)].index.base_offset != new_start_offset) {
    return Status(Errc::invalid_argument, "truncate_prefix at " + std::to_string(new_start_offset) +
                                              ": not the base offset of a segment");
  }
  // Oldest first, so whatever a failure or crash leaves is still a log without gaps.
  Status status;
  while (segments_.front().index.base_offset < new_start_offset) {
    Segment& front = segments_.front();
    if (front.file) close_file(front);
    status = remove_segment_files(front.index.base_offset, true);
    if (!status.ok()) break;
    segments_.pop_front();
  }
  if (runtime::Status synced = fs_.sync_dir(dir_); !synced.ok()) return fail(from_runtime(synced, "sync_dir " + dir_));
  SLUICE_COVER("log.truncate_prefix");
  check_segments();
  return status;
}

}  // namespace sluice::log
