#include "node/log/verify.h"
#include "node/log/io_errors.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "node/log/segment_format.h"
#include "node/log/segment_io.h"

namespace sluice::log {
namespace {

constexpr size_t kScanWindowBytes = 1 << 20;

struct Listing {
  std::map<uint64_t, bool> data_files;  // base offset -> has an index file
  std::vector<std::string> others;
};

Listing list_segments(const std::vector<std::string>& names) {
  Listing listing;
  std::set<uint64_t> indexes;
  for (const std::string& name : names) {
    const std::optional<SegmentFileName> parsed = parse_segment_file_name(name);
    if (parsed && parsed->kind == SegmentFileKind::data) listing.data_files[parsed->base_offset] = false;
    if (parsed && parsed->kind == SegmentFileKind::index) indexes.insert(parsed->base_offset);
    if (parsed && parsed->kind == SegmentFileKind::temporary) listing.others.push_back(name + ": temporary file");
  }
  for (uint64_t base : indexes) {
    if (listing.data_files.count(base) != 0) {
      listing.data_files[base] = true;
    } else {
      listing.others.push_back(index_file_name(base) + ": index without a data file");
    }
  }
  return listing;
}

// Both slots must hold a valid mark or be all zeros (never written), with zero padding.
std::optional<SegmentMark> check_marks(ByteSpan header, const std::string& path, VerifyReport& report) {
  for (uint64_t slot = 0; slot < 2; ++slot) {
    const uint64_t at = slot * kMarkSlotBytes;
    if (header.size() < at + kMarkSlotBytes) continue;
    const ByteSpan mark = header.subspan(at, kMarkBytes);
    const bool blank = std::all_of(mark.begin(), mark.end(), [](std::byte b) { return b == std::byte{0}; });
    Result<SegmentMark> decoded = decode_mark(mark);
    if (!blank && (!decoded.ok() || mark_slot_position(decoded->sequence) != at)) {
      report.damage.push_back({path, at, "damaged sync mark: " + (decoded.ok() ? std::string("wrong slot") : decoded.status().to_string())});
    }
    const ByteSpan padding = header.subspan(at + kMarkBytes, kMarkSlotBytes - kMarkBytes);
    auto stray = std::find_if(padding.begin(), padding.end(), [](std::byte b) { return b != std::byte{0}; });
    if (stray != padding.end()) {
      report.damage.push_back({path, at + kMarkBytes + static_cast<uint64_t>(stray - padding.begin()), "non-zero header padding"});
    }
  }
  return decode_marks(header).newest;
}

// Every entry of the index file must match the batch at its position, and the summary the data.
void check_index_file(runtime::Filesystem& fs, std::string_view dir, const SegmentIndex& every_batch, VerifyReport& report) {
  const std::string path = join_path(dir, index_file_name(every_batch.base_offset));
  Result<IndexFileHeader> header = read_index_header(fs, dir, every_batch.base_offset);
  if (!header.ok()) {
    report.damage.push_back({path, 0, header.status().to_string()});
    return;
  }
  const SegmentIndex& summary = header->summary;
  if (summary.base_offset != every_batch.base_offset || summary.end_offset != every_batch.end_offset ||
      summary.data_bytes != every_batch.data_bytes || summary.first_timestamp_ms != every_batch.first_timestamp_ms ||
      summary.max_timestamp_ms != every_batch.max_timestamp_ms || summary.terms.size() != every_batch.terms.size() ||
      !std::equal(summary.terms.begin(), summary.terms.end(), every_batch.terms.begin(),
                  [](const TermStart& a, const TermStart& b) { return a.term == b.term && a.first_offset == b.first_offset; })) {
    report.damage.push_back({path, 0, "index summary does not match the data file"});
    return;
  }
  Result<std::vector<IndexEntry>> entries = read_index_entries(fs, dir, *header);
  if (!entries.ok()) {
    report.damage.push_back({path, header->entries_position, entries.status().to_string()});
    return;
  }
  for (size_t i = 0; i < entries->size(); ++i) {
    const IndexEntry& entry = (*entries)[i];
    auto batch = std::lower_bound(every_batch.entries.begin(), every_batch.entries.end(), entry.position,
                                  [](const IndexEntry& e, uint32_t position) { return e.position < position; });
    if (batch == every_batch.entries.end() || batch->position != entry.position ||
        batch->relative_offset != entry.relative_offset || batch->max_timestamp_before_ms != entry.max_timestamp_before_ms) {
      report.damage.push_back({path, header->entries_position + i * kIndexEntryBytes, "index entry does not match a batch"});
      return;
    }
  }
}

struct SegmentVerdict {
  SegmentIndex index;  // with an entry for every batch
  bool intact = false;
};

SegmentVerdict verify_segment(runtime::Filesystem& fs, std::string_view dir, uint64_t base_offset, bool active,
                              uint64_t prev_term, size_t batch_bytes_max, VerifyReport& report, Status& io) {
  SegmentVerdict verdict;
  verdict.index = empty_segment_index(base_offset);
  const std::string path = join_path(dir, data_file_name(base_offset));
  runtime::Result<std::unique_ptr<runtime::File>> file = fs.open(path, runtime::OpenMode::read_only);
  runtime::Result<uint64_t> size_bytes = file.ok() ? (*file)->size() : runtime::Result<uint64_t>(file.status());
  if (!size_bytes.ok()) {
    io = from_runtime(size_bytes.status(), path);
    return verdict;
  }
  Bytes header(static_cast<size_t>(std::min<uint64_t>(*size_bytes, kSegmentHeaderBytes)));
  if (io = read_fully(**file, path, 0, header); !io.ok()) return verdict;
  const std::optional<SegmentMark> mark = check_marks(header, path, report);
  if (*size_bytes < kSegmentHeaderBytes || !mark) {
    if (active && *size_bytes <= kSegmentHeaderBytes) {
      report.notes.push_back(path + ": header never completed (a crash while creating it; open() rewrites it)");
    } else {
      report.damage.push_back({path, 0, "no valid sync mark"});
    }
    return verdict;
  }
  if (mark->base_offset != base_offset) report.damage.push_back({path, mark_slot_position(mark->sequence), "mark names another segment"});
  if (!active && mark->synced_bytes != *size_bytes) {
    report.damage.push_back({path, 0, "sealed segment's mark covers " + std::to_string(mark->synced_bytes) + " of " +
                                          std::to_string(*size_bytes) + " bytes"});
  }
  const ScanLimits limits{batch_bytes_max, 1, kScanWindowBytes};  // an entry per batch, to check index files
  Result<ScanStop> stop = scan_segment(**file, path, *size_bytes, std::max(prev_term, mark->prev_term), verdict.index, limits);
  if (!stop.ok()) {
    io = stop.status();
    return verdict;
  }
  const bool tail = active && stop->torn && stop->position >= mark->synced_bytes;
  // Preallocated zeros past the data begin where a batch header would be, and hold nothing else.
  bool zeros_only = false;
  if (stop->reason != Errc::ok && tail && stop->zero_header) {
    Result<uint64_t> written = written_end(**file, path, stop->position, *size_bytes);
    if (!written.ok()) {
      io = written.status();
      return verdict;
    }
    zeros_only = *written == stop->position;
  }
  if (zeros_only) {
    report.notes.push_back(path + ": " + std::to_string(*size_bytes - stop->position) + " preallocated bytes of zeros from byte " +
                           std::to_string(stop->position) + " (open() cuts them)");
  } else if (stop->reason != Errc::ok && tail) {
    report.notes.push_back(path + ": unsynced torn tail at byte " + std::to_string(stop->position) + " (open() cuts " +
                           std::to_string(*size_bytes - stop->position) + " bytes)");
  } else if (stop->reason != Errc::ok) {
    report.damage.push_back({path, stop->position, std::string(to_string(stop->reason)) + ": " + stop->message});
  } else if (stop->position < mark->synced_bytes) {
    report.damage.push_back({path, stop->position, "file ends before its synced length " + std::to_string(mark->synced_bytes)});
  }
  verdict.intact = stop->reason == Errc::ok && stop->position >= mark->synced_bytes;
  return verdict;
}

}  // namespace

Result<VerifyReport> verify_log(runtime::Filesystem& fs, std::string_view dir, size_t batch_bytes_max) {
  runtime::Result<std::vector<std::string>> names = fs.list(dir);
  if (!names.ok()) return from_runtime(names.status(), "list " + std::string(dir));
  const Listing listing = list_segments(*names);
  VerifyReport report;
  for (const std::string& other : listing.others) report.notes.push_back(join_path(dir, other));
  std::optional<uint64_t> expected_base;
  uint64_t prev_term = 0;
  for (const auto& [base_offset, has_index] : listing.data_files) {
    const bool active = base_offset == listing.data_files.rbegin()->first;
    const std::string path = join_path(dir, data_file_name(base_offset));
    if (expected_base && *expected_base != base_offset) {
      report.damage.push_back({path, 0, "segment starts at offset " + std::to_string(base_offset) + ", the one before ends at " +
                                            std::to_string(*expected_base)});
    }
    Status io;
    const SegmentVerdict verdict = verify_segment(fs, dir, base_offset, active, prev_term, batch_bytes_max, report, io);
    if (!io.ok()) return io;
    ++report.segments;
    report.batches += verdict.index.entries.size();
    report.records += verdict.index.end_offset - verdict.index.base_offset;
    report.data_bytes += verdict.index.data_bytes;
    if (!active && verdict.intact && verdict.index.empty()) report.damage.push_back({path, 0, "a sealed segment holds no batches"});
    if (has_index && active) report.notes.push_back(join_path(dir, index_file_name(base_offset)) + ": stale index of the active segment");
    if (has_index && !active && verdict.intact) check_index_file(fs, dir, verdict.index, report);
    // After damage the segment's true end is unknown: do not also blame the next one for a gap.
    expected_base = verdict.intact ? std::optional<uint64_t>(verdict.index.end_offset) : std::nullopt;
    if (!verdict.index.empty()) prev_term = verdict.index.last_term();
  }
  return report;
}

}  // namespace sluice::log
