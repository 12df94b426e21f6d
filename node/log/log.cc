// Log: construction, queries, the open-file cache and the read path.
#include "node/log/log.h"
#include "node/log/io_errors.h"

#include <algorithm>

#include "node/base/coverage.h"

#include "node/log/segment_io.h"

namespace sluice::log {
namespace {

// Small: a locate() reads batch headers only, jumping over payloads.
constexpr size_t kHeaderWindowBytes = 8 * 1024;

bool is_data_error(Errc code) {
  return code == Errc::truncated_batch || code == Errc::invalid_batch || code == Errc::crc_mismatch;
}

Status corruption_at(std::string_view path, uint64_t position, const Status& cause) {
  return Status(Errc::corruption, std::string(path) + " at byte " + std::to_string(position) + ": " + cause.to_string());
}

}  // namespace

Status validate(const LogOptions& options) {
  auto bad = [](const char* what) { return Status(Errc::invalid_argument, std::string("log options: ") + what); };
  if (options.batch_bytes_max < kBatchHeaderBytes + 5 || options.batch_bytes_max > kBatchBytesLimit) {
    return bad("batch_bytes_max must hold a one-record batch and fit 32 bits");
  }
  if (options.segment_bytes_max < kSegmentHeaderBytes + options.batch_bytes_max || options.segment_bytes_max > UINT32_MAX) {
    return bad("segment_bytes_max must hold the header plus one largest batch, and fit 32 bits");
  }
  if (options.segment_age_ms_max <= 0) return bad("segment_age_ms_max must be positive");
  if (options.read_bytes_max == 0) return bad("read_bytes_max must be positive");
  if (options.open_files_max < 2) return bad("open_files_max must be at least 2 (the active segment and one reader)");
  if (options.index_interval_bytes == 0) return bad("index_interval_bytes must be positive");
  if (options.segments_max == 0) return bad("segments_max must be positive");
  if (options.initial_offset >= kOffsetLimit) return bad("initial_offset must be below 2^63");
  if ((options.clock == nullptr) != (options.sync_stats == nullptr)) return bad("clock and sync_stats go together");
  return Status();
}

Log::Log(runtime::Filesystem& fs, std::string dir, LogOptions options)
    : fs_(fs), dir_(std::move(dir)), options_(options) {}

Log::~Log() {
  for (Segment& segment : segments_) {
    if (segment.file) close_file(segment);
  }
}

int64_t Log::last_timestamp_ms() const {
  for (auto segment = segments_.rbegin(); segment != segments_.rend(); ++segment) {
    if (!segment->index.empty() && segment->index.max_timestamp_ms != 0) return segment->index.max_timestamp_ms;
  }
  return 0;
}

std::optional<uint64_t> Log::last_offset() const {
  if (end_offset() == start_offset()) return std::nullopt;
  return end_offset() - 1;
}

uint64_t Log::last_term() const {
  const Segment& active = segments_.back();
  return active.index.empty() ? active.prev_term : active.index.last_term();
}

Result<uint64_t> Log::term_at(uint64_t offset) const {
  const uint64_t start = start_offset();
  if (start > 0 && offset == start - 1) return segments_.front().prev_term;
  if (offset < start || offset >= end_offset()) {
    return Status(Errc::offset_out_of_range, "term_at " + std::to_string(offset) + ": log holds [" +
                                                 std::to_string(start) + ", " + std::to_string(end_offset()) + ")");
  }
  return segments_[segment_for(offset)].index.term_at(offset);
}

std::vector<SegmentInfo> Log::segments() const {
  std::vector<SegmentInfo> infos;
  infos.reserve(segments_.size());
  for (const Segment& segment : segments_) {
    const SegmentIndex& index = segment.index;
    infos.push_back({index.base_offset, index.end_offset, index.data_bytes, index.first_timestamp_ms,
                     index.max_timestamp_ms, &segment == &segments_.back()});
  }
  return infos;
}

Status Log::check_usable() const {
  if (closed_) return Status(Errc::closed, "log " + dir_ + " is closed");
  if (failed_) return Status(Errc::failed, "log " + dir_ + ": an earlier I/O failure left it in an unknown state; reopen it");
  return Status();
}

// Every segment starts where the one before it ends, and terms never go back across segments:
// reads (segment_for) and the Raft storage's offset map rely on both. A walk over every segment,
// hence simulation-only.
void Log::check_segments() const {
  if (!coverage::expensive_assertions()) return;
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    const SegmentIndex& here = segments_[i].index;
    const SegmentIndex& next = segments_[i + 1].index;
    SLUICE_ASSERT_EQ(here.end_offset, next.base_offset);
    SLUICE_ASSERT(!here.empty());
    SLUICE_ASSERT_EQ(here.last_term(), segments_[i + 1].prev_term);
  }
}

size_t Log::segment_for(uint64_t offset) const {
  auto after = std::upper_bound(segments_.begin(), segments_.end(), offset,
                                [](uint64_t value, const Segment& segment) { return value < segment.index.base_offset; });
  SLUICE_ASSERT(after != segments_.begin());
  return static_cast<size_t>(std::prev(after) - segments_.begin());
}

std::string Log::data_path(uint64_t base_offset) const { return join_path(dir_, data_file_name(base_offset)); }

// --- open files --------------------------------------------------------------------------------

Status Log::ensure_open(Segment& segment) {
  segment.last_used = ++use_counter_;
  if (segment.file) return load_entries(segment);
  while (open_files_ >= options_.open_files_max) close_least_recently_used();
  const std::string path = data_path(segment.index.base_offset);
  runtime::Result<std::unique_ptr<runtime::File>> file = fs_.open(path, runtime::OpenMode::read_only);
  if (!file.ok()) return from_runtime(file.status(), path);
  segment.file = std::move(*file);
  ++open_files_;
  Status loaded = load_entries(segment);
  if (!loaded.ok()) close_file(segment);
  return loaded;
}

// Sealed segments keep only their summary in memory while closed; the entries come from the
// index file, or from the data when that file is missing or damaged (and it is rewritten).
Status Log::load_entries(Segment& segment) {
  // The active segment's entries live in memory from open() on (none while it is empty).
  if (!segment.index.entries.empty() || &segment == &segments_.back()) return Status();
  const SegmentIndex& summary = segment.index;
  Result<IndexFileHeader> header = read_index_header(fs_, dir_, summary.base_offset);
  if (header.ok() && header->summary.end_offset == summary.end_offset && header->summary.data_bytes == summary.data_bytes) {
    Result<std::vector<IndexEntry>> entries = read_index_entries(fs_, dir_, *header);
    if (entries.ok()) {
      segment.index.entries = std::move(*entries);
      return Status();
    }
    if (!is_data_error(entries.code())) return entries.status();
  } else if (!header.ok() && !is_data_error(header.code())) {
    return header.status();
  }
  return rebuild_sealed_index(segment, *segment.file, data_path(summary.base_offset), summary.data_bytes);
}

void Log::close_least_recently_used() {
  SLUICE_COVER("log.file_cache_evicted");
  Segment* oldest = nullptr;
  for (size_t i = 0; i + 1 < segments_.size(); ++i) {
    Segment& segment = segments_[i];
    if (segment.file && (oldest == nullptr || segment.last_used < oldest->last_used)) oldest = &segment;
  }
  SLUICE_ASSERT(oldest != nullptr);  // open_files_max >= 2 and only the active file is pinned
  close_file(*oldest);
}

void Log::close_file(Segment& segment) {
  (void)segment.file->close();  // read handle or already synced: nothing to lose
  segment.file.reset();
  --open_files_;
  if (&segment != &segments_.back()) {
    segment.index.entries.clear();
    segment.index.entries.shrink_to_fit();
  }
}

// --- reads -------------------------------------------------------------------------------------

Result<Log::Located> Log::locate(Segment& segment, uint64_t offset, uint64_t scan_from) {
  const std::string path = data_path(segment.index.base_offset);
  FileWindow window(*segment.file, path, segment.index.data_bytes, kHeaderWindowBytes);
  uint64_t position = scan_from;
  while (position < segment.index.data_bytes) {
    SLUICE_ASSIGN_OR_RETURN(ByteSpan head, window.get(position, kBatchHeaderBytes));
    Result<BatchHeader> header = decode_batch_header(head, options_.batch_bytes_max);
    if (!header.ok()) return corruption_at(path, position, header.status());
    if (offset < header->next_offset()) {
      if (header->base_offset > offset) {
        return corruption_at(path, position, Status(Errc::offset_mismatch, "index points past offset " + std::to_string(offset)));
      }
      return Located{position, *header};
    }
    position += header->batch_bytes;
  }
  return corruption_at(path, position, Status(Errc::offset_mismatch, "offset " + std::to_string(offset) + " not found"));
}

Result<ReadResult> Log::read(uint64_t from_offset, size_t bytes_max) {
  SLUICE_TRY(check_usable());
  if (from_offset < start_offset() || from_offset > end_offset()) {
    return Status(Errc::offset_out_of_range, "read from " + std::to_string(from_offset) + ": log holds [" +
                                                 std::to_string(start_offset()) + ", " + std::to_string(end_offset()) + ")");
  }
  ReadResult result;
  result.next_offset = from_offset;
  const size_t limit = std::min(bytes_max, options_.read_bytes_max);
  while (result.next_offset < end_offset()) {
    bool full = false;
    SLUICE_TRY(read_segment(segments_[segment_for(result.next_offset)], result.next_offset, limit, result, full));
    if (full) break;
  }
  return result;
}

// Reads whole batches of one segment from the batch holding `from_offset` straight into the
// result (one copy: file to caller), then checks each. `full` says the byte limit stopped it.
Status Log::read_segment(Segment& segment, uint64_t from_offset, size_t bytes_max, ReadResult& result, bool& full) {
  SLUICE_TRY(ensure_open(segment));
  SLUICE_ASSIGN_OR_RETURN(Located first, locate(segment, from_offset, segment.index.scan_position(from_offset)));
  const std::string path = data_path(segment.index.base_offset);
  const uint64_t end = segment.index.data_bytes;
  const size_t room = bytes_max > result.batches.size() ? bytes_max - result.batches.size() : 0;
  size_t want = static_cast<size_t>(std::min<uint64_t>(room, end - first.position));
  if (result.batches.empty()) want = std::max<size_t>(want, first.header.batch_bytes);  // at least one batch
  if (want < first.header.batch_bytes) {
    full = true;
    return Status();
  }
  const size_t old_size = result.batches.size();
  result.batches.resize(old_size + want);
  const MutableByteSpan chunk = MutableByteSpan(result.batches).subspan(old_size, want);
  if (Status got = read_fully(*segment.file, path, first.position, chunk); !got.ok()) {
    result.batches.resize(old_size);
    return got;
  }
  const bool cut_by_limit = first.position + want < end;
  size_t kept = 0;
  uint64_t next_offset = first.header.base_offset;
  while (kept < want) {
    const ByteSpan rest = ByteSpan(chunk).subspan(kept);
    const uint64_t position = first.position + kept;
    Result<BatchHeader> batch = verify_batch(rest, options_.batch_bytes_max);
    // The chunk may end inside a batch only where the byte limit, not the segment, ended it.
    if (batch.code() == Errc::truncated_batch && kept > 0 && cut_by_limit) {
      Result<BatchHeader> header = decode_batch_header(rest, options_.batch_bytes_max);
      if (!header.ok() ? header.code() == Errc::truncated_batch : position + header->batch_bytes <= end) break;
    }
    Status problem = batch.status();
    if (batch.ok() && batch->base_offset != next_offset) problem = Status(Errc::offset_mismatch, "offsets not contiguous");
    if (!problem.ok()) {
      result.batches.resize(old_size);
      return corruption_at(path, position, problem);
    }
    kept += batch->batch_bytes;
    next_offset = batch->next_offset();
  }
  result.batches.resize(old_size + kept);
  result.next_offset = next_offset;
  full = first.position + kept < end;
  return Status();
}

Result<uint64_t> Log::offset_for_timestamp(int64_t timestamp_ms) {
  SLUICE_TRY(check_usable());
  for (Segment& segment : segments_) {
    if (segment.index.empty() || segment.index.max_timestamp_ms < timestamp_ms) continue;
    SLUICE_TRY(ensure_open(segment));
    const std::string path = data_path(segment.index.base_offset);
    FileWindow window(*segment.file, path, segment.index.data_bytes, kHeaderWindowBytes);
    uint64_t position = segment.index.scan_position_for_time(timestamp_ms);
    while (position < segment.index.data_bytes) {
      SLUICE_ASSIGN_OR_RETURN(ByteSpan head, window.get(position, kBatchHeaderBytes));
      Result<BatchHeader> header = decode_batch_header(head, options_.batch_bytes_max);
      if (!header.ok()) return corruption_at(path, position, header.status());
      if (header->max_timestamp_ms >= timestamp_ms) return header->base_offset;
      position += header->batch_bytes;
    }
    return corruption_at(path, position, Status(Errc::invalid_batch, "segment max timestamp not found in its batches"));
  }
  return end_offset();
}

}  // namespace sluice::log
