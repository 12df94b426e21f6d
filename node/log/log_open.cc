// Log::open: finding the segments, checking what must be intact, cutting off a torn tail and
// rebuilding missing or damaged indexes.
#include <map>
#include <set>

#include "node/base/coverage.h"
#include "node/log/log.h"
#include "node/log/io_errors.h"
#include "node/log/segment_io.h"

namespace sluice::log {
namespace {

constexpr size_t kScanWindowBytes = 1 << 20;

bool is_data_error(Errc code) {
  return code == Errc::truncated_batch || code == Errc::invalid_batch || code == Errc::crc_mismatch;
}

Status corruption_at(std::string_view path, uint64_t position, const std::string& what) {
  return Status(Errc::corruption, std::string(path) + " at byte " + std::to_string(position) + ": " + what);
}

struct DirectoryListing {
  std::map<uint64_t, bool> data_files;  // base offset -> has an index file
  std::vector<std::string> debris;      // temporary files and indexes without data
};

DirectoryListing classify(const std::vector<std::string>& names) {
  DirectoryListing listing;
  std::set<uint64_t> indexes;
  for (const std::string& name : names) {
    const std::optional<SegmentFileName> parsed = parse_segment_file_name(name);
    if (!parsed) continue;  // not ours: left alone
    if (parsed->kind == SegmentFileKind::data) listing.data_files[parsed->base_offset] = false;
    if (parsed->kind == SegmentFileKind::index) indexes.insert(parsed->base_offset);
    if (parsed->kind == SegmentFileKind::temporary) listing.debris.push_back(name);
  }
  for (uint64_t base_offset : indexes) {
    auto data = listing.data_files.find(base_offset);
    if (data != listing.data_files.end()) {
      data->second = true;
    } else {
      listing.debris.push_back(index_file_name(base_offset));
    }
  }
  return listing;
}

}  // namespace

Result<std::unique_ptr<Log>> Log::open(runtime::Filesystem& fs, std::string dir, LogOptions options) {
  SLUICE_TRY(validate(options));
  if (!dir.empty()) {
    SLUICE_LOG_TRY_IO(runtime::validate_path(dir), "log directory");
    runtime::Result<bool> exists = fs.exists(dir);
    SLUICE_LOG_TRY_IO(exists, dir);
    if (!*exists) SLUICE_LOG_TRY_IO(fs.create_dirs(dir), dir);
    // Always: an earlier open may have created it and failed before this sync.
    SLUICE_LOG_TRY_IO(fs.sync_dir(runtime::parent_dir(dir)), "sync_dir of the parent of " + dir);
  }
  std::unique_ptr<Log> log(new Log(fs, std::move(dir), options));
  SLUICE_TRY(log->recover());
  return log;
}

Status Log::recover() {
  runtime::Result<std::vector<std::string>> names = fs_.list(dir_);
  SLUICE_LOG_TRY_IO(names, "list " + dir_);
  DirectoryListing listing = classify(*names);
  for (const std::string& name : listing.debris) {
    const runtime::Status removed = fs_.remove(join_path(dir_, name));
    if (!removed.ok() && removed.code() != runtime::Errc::not_found) return from_runtime(removed, join_path(dir_, name));
    SLUICE_COVER("log.recovery_debris_removed");
    ++recovery_.files_removed;
  }
  if (listing.data_files.size() > options_.segments_max) {
    return Status(Errc::limit_exceeded, dir_ + ": more than segments_max segments");
  }
  if (listing.data_files.empty()) {
    Result<std::unique_ptr<runtime::File>> created = create_data_file(fs_, dir_, options_.initial_offset, 0);
    if (!created.ok()) return created.status();
    SLUICE_LOG_TRY_IO(fs_.sync_dir(dir_), "sync_dir " + dir_);
    Segment segment;
    segment.index = empty_segment_index(options_.initial_offset);
    segment.file = std::move(*created);
    segments_.push_back(std::move(segment));
    ++open_files_;
    mark_sequence_ = 1;
    synced_bytes_ = kSegmentHeaderBytes;
  } else {
    std::vector<uint64_t> bases;
    for (const auto& [base_offset, has_index] : listing.data_files) bases.push_back(base_offset);
    uint64_t active_base = bases.back();
    bool demoted = false;  // repair mode: a damaged sealed segment becomes the active one
    for (uint64_t base_offset : bases) {
      if (base_offset == bases.back()) break;
      const Status sealed = recover_sealed(base_offset, listing.data_files[base_offset]);
      if (sealed.ok()) continue;
      if (!options_.cut_corrupt_tail || sealed.code() != Errc::corruption ||
          (!segments_.empty() && base_offset != segments_.back().index.end_offset)) {
        return sealed;
      }
      SLUICE_COVER("log.recovery_sealed_segment_damaged");
      SLUICE_TRY(remove_segments_after(bases, base_offset));
      active_base = base_offset;
      demoted = true;
      break;
    }
    SLUICE_TRY(recover_active(active_base, demoted));
    if (listing.data_files[active_base]) {  // an active segment's index is always stale
      const std::string path = join_path(dir_, index_file_name(active_base));
      const runtime::Status removed = fs_.remove(path);
      if (!removed.ok() && removed.code() != runtime::Errc::not_found) return from_runtime(removed, path);
      ++recovery_.files_removed;
    }
    if (recovery_.tail_cut) recovery_.tail_cut->segments_removed = bases.size() - segments_.size();
  }
  // What was read may exist only in the page cache (a previous process died, or its fsync or
  // sync_dir failed and it gave up): make the directory and the active segment durable before
  // anyone relies on them. Sealed segments were synced before their successors existed.
  SLUICE_LOG_TRY_IO(fs_.sync_dir(dir_), "sync_dir " + dir_);
  recovery_.segments = segments_.size();
  active_dirty_ = true;
  check_segments();
  return sync();
}

// A sealed segment was fully synced before the next one was created, so it must be intact. Its
// index file (if valid and matching the data file's size) gives its summary without reading the
// data; otherwise the data is scanned, which also verifies every batch.
Status Log::recover_sealed(uint64_t base_offset, bool has_index) {
  const std::string path = data_path(base_offset);
  const bool first = segments_.empty();
  if (!first && base_offset != segments_.back().index.end_offset) {
    return corruption_at(path, 0, "segment starts at offset " + std::to_string(base_offset) +
                                      " but the one before it ends at " + std::to_string(segments_.back().index.end_offset));
  }
  runtime::Result<uint64_t> size_bytes = fs_.file_size(path);
  SLUICE_LOG_TRY_IO(size_bytes, path);
  Segment segment;
  segment.index = empty_segment_index(base_offset);
  segment.prev_term = first ? 0 : segments_.back().index.last_term();
  bool trusted = false;
  // Repair mode verifies every batch: damage must be found now, while it can still be cut off.
  if (has_index && !options_.cut_corrupt_tail && !options_.verify_sealed_segments) {
    Result<IndexFileHeader> header = read_index_header(fs_, dir_, base_offset);
    if (!header.ok() && !is_data_error(header.code())) return header.status();
    trusted = header.ok() && header->summary.base_offset == base_offset && header->summary.data_bytes == *size_bytes &&
              header->summary.terms.front().term >= segment.prev_term;
    if (trusted) segment.index = header->summary;
  }
  if (!trusted || first) {
    runtime::Result<std::unique_ptr<runtime::File>> file = fs_.open(path, runtime::OpenMode::read_only);
    SLUICE_LOG_TRY_IO(file, path);
    SLUICE_ASSIGN_OR_RETURN(MarkPair marks, read_marks(**file, path));
    if (!marks.newest || marks.newest->base_offset != base_offset || marks.newest->synced_bytes != *size_bytes) {
      return corruption_at(path, 0, "sealed segment's sync mark is missing or does not cover its " +
                                        std::to_string(*size_bytes) + " bytes");
    }
    if (first) segment.prev_term = marks.newest->prev_term;
    if (!trusted) SLUICE_TRY(rebuild_sealed_index(segment, **file, path, *size_bytes));
    segment.index.entries.clear();  // loaded again when the segment is read
  }
  if (segment.index.empty()) return corruption_at(path, 0, "a sealed segment holds no batches");
  segments_.push_back(std::move(segment));
  return Status();
}

// Rebuilds a sealed segment's index from its data; any batch that fails is corruption.
Status Log::rebuild_sealed_index(Segment& segment, runtime::File& file, const std::string& path, uint64_t size_bytes) {
  SegmentIndex index = empty_segment_index(segment.index.base_offset);
  const ScanLimits limits{options_.batch_bytes_max, options_.index_interval_bytes, kScanWindowBytes};
  SLUICE_ASSIGN_OR_RETURN(ScanStop stop, scan_segment(file, path, size_bytes, segment.prev_term, index, limits));
  if (stop.reason != Errc::ok || stop.position != size_bytes) {
    return corruption_at(path, stop.position, std::string(to_string(stop.reason)) + ": " + stop.message);
  }
  if (!segment.index.empty() && (index.end_offset != segment.index.end_offset || index.data_bytes != segment.index.data_bytes)) {
    return corruption_at(path, 0, "data does not match the segment's recorded extent");
  }
  segment.index = std::move(index);
  SLUICE_COVER("log.recovery_index_rebuilt");
  ++recovery_.indexes_rebuilt;
  // A cache: if it cannot be written or made durable it is only rebuilt again next time.
  if (write_index_file(fs_, dir_, segment.index).ok()) (void)fs_.sync_dir(dir_);
  return Status();
}

// Repair mode, a damaged sealed segment: every later segment goes, last first, durably. Each crash
// point leaves a prefix of the segments still ending in the damaged one or an intact later one,
// so the next open finds the same damage and repeats the cut.
Status Log::remove_segments_after(const std::vector<uint64_t>& bases, uint64_t keep_through) {
  for (auto it = bases.rbegin(); it != bases.rend() && *it > keep_through; ++it) {
    SLUICE_TRY(remove_segment_files(*it, true));
    SLUICE_LOG_TRY_IO(fs_.sync_dir(dir_), "sync_dir " + dir_);
  }
  return Status();
}

// Scans every batch of the segment (verifying it). The first that fails ends the scan and
// everything from it on is cut off if it lies beyond the newest sync mark, or was a write the
// newest mark's fsync never finished (bytes missing, not damaged, and past the older mark).
// Anything else is corruption, or in repair mode (LogOptions::cut_corrupt_tail) cut off too and
// reported as RecoveryReport::tail_cut. `all_synced`: a sealed segment made the active one by a
// repair; it was wholly synced, so any cut loses synced data whatever its marks say.
Status Log::recover_active(uint64_t base_offset, bool all_synced) {
  const std::string path = data_path(base_offset);
  const bool first = segments_.empty();
  if (!first && base_offset != segments_.back().index.end_offset) {
    return corruption_at(path, 0, "segment starts at offset " + std::to_string(base_offset) +
                                      " but the one before it ends at " + std::to_string(segments_.back().index.end_offset));
  }
  runtime::Result<std::unique_ptr<runtime::File>> opened = fs_.open(path, runtime::OpenMode::read_write);
  SLUICE_LOG_TRY_IO(opened, path);
  Segment segment;
  segment.file = std::move(*opened);
  segment.index = empty_segment_index(base_offset);
  segment.prev_term = first ? 0 : segments_.back().index.last_term();
  runtime::Result<uint64_t> size_bytes = segment.file->size();
  SLUICE_LOG_TRY_IO(size_bytes, path);
  SLUICE_ASSIGN_OR_RETURN(MarkPair marks, read_marks(*segment.file, path));
  if (!marks.newest) {
    // Without a mark nothing in the file was ever synced (the mark is synced before any data is
    // written), so only a file cut short while it was being created is acceptable.
    if (*size_bytes > kSegmentHeaderBytes) {
      const std::string detail = "no valid sync mark in front of " + std::to_string(*size_bytes) + " bytes";
      if (!options_.cut_corrupt_tail) return corruption_at(path, 0, detail);
      // Both marks damaged (a flip in each): how much was synced, and so which batches can be
      // trusted, is unknown. Repair mode cuts the whole segment, as a tail cut at its first batch
      // (found by cluster-swarm-leaders seed 1631: a node's controller log, and the node never
      // started again).
      SLUICE_COVER("log.recovery_marks_lost_cut");
      recovery_.tail_cut = TailCut{base_offset, base_offset, kSegmentHeaderBytes, 0, path + ": " + detail};
      recovery_.truncated_bytes += *size_bytes - kSegmentHeaderBytes;
    }
    SLUICE_TRY(initialize_data_file(*segment.file, path, base_offset, segment.prev_term));
    mark_sequence_ = 1;
    synced_bytes_ = kSegmentHeaderBytes;
  } else {
    const SegmentMark& mark = *marks.newest;
    if (mark.base_offset != base_offset || (!first && mark.prev_term != segment.prev_term)) {
      return corruption_at(path, mark_slot_position(mark.sequence), "sync mark names another segment or term");
    }
    segment.prev_term = mark.prev_term;
    const ScanLimits limits{options_.batch_bytes_max, options_.index_interval_bytes, kScanWindowBytes};
    SLUICE_ASSIGN_OR_RETURN(ScanStop stop, scan_segment(*segment.file, path, *size_bytes, mark.prev_term, segment.index, limits));
    const uint64_t older_synced_bytes = marks.older ? marks.older->synced_bytes : kSegmentHeaderBytes;
    const bool missing_not_damaged = stop.torn || stop.reason == Errc::ok;
    const bool synced_data_lost = (all_synced && stop.position < *size_bytes) ||
                                  (stop.position < mark.synced_bytes && !(missing_not_damaged && stop.position >= older_synced_bytes));
    if (synced_data_lost) {
      const std::string what = stop.reason == Errc::ok ? std::string("file ends before its synced length")
                                                       : std::string(to_string(stop.reason)) + ": " + stop.message;
      const uint64_t synced = all_synced ? *size_bytes : mark.synced_bytes;
      const std::string detail = what + " (data up to byte " + std::to_string(synced) + " was synced)";
      if (!options_.cut_corrupt_tail) return corruption_at(path, stop.position, detail);
      SLUICE_COVER("log.recovery_corrupt_tail_cut");
      recovery_.tail_cut = TailCut{segment.index.end_offset, base_offset, stop.position, 0, path + ": " + detail};
    } else if (stop.position < mark.synced_bytes) {
      // Missing, not damaged, past the older mark: the newest mark's fsync never finished.
      SLUICE_COVER("log.recovery_mark_ahead_of_data");
    }
    if (stop.position < *size_bytes) {
      // Preallocated zeros no append reached are not data: only written bytes count as cut. They
      // begin where a header would be; a tail that starts with anything else counts whole.
      uint64_t written = *size_bytes;
      if (stop.zero_header) {
        SLUICE_ASSIGN_OR_RETURN(written, written_end(*segment.file, path, stop.position, *size_bytes));
      }
      if (written > stop.position) {
        SLUICE_COVER("log.recovery_tail_cut");
      } else {
        SLUICE_COVER("log.recovery_preallocated_cut");
      }
      SLUICE_LOG_TRY_IO(segment.file->truncate(stop.position), path);
      recovery_.truncated_bytes += written - stop.position;
    }
    mark_sequence_ = mark.sequence;
    synced_bytes_ = mark.synced_bytes;  // if it differs from the recovered length, sync() writes a new mark
  }
  segment.last_used = ++use_counter_;
  segments_.push_back(std::move(segment));
  ++open_files_;
  return Status();
}

}  // namespace sluice::log
