// File operations on one segment, all through runtime::Filesystem so the simulator's disk faults
// apply: reading batches through a window, scanning and verifying a data file, writing sync marks,
// creating data files, and reading and writing index files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "node/base/bytes.h"
#include "node/log/codec.h"
#include "node/log/errors.h"
#include "node/log/segment_format.h"
#include "runtime/fs.h"

namespace sluice::log {

// "dir/name", or "name" when dir is "" (the data directory itself).
std::string join_path(std::string_view dir, std::string_view name);

// Reads exactly out.size() bytes at `position` (io_error naming `path` if the file ends first).
Status read_fully(runtime::File& file, std::string_view path, uint64_t position, MutableByteSpan out);

// A read window over a file: sequential parsing costs one read per window, not one per header.
class FileWindow {
 public:
  FileWindow(runtime::File& file, std::string_view path, uint64_t file_bytes, size_t window_bytes);
  // Bytes [position, position + size), or fewer if the file ends first. Valid until the next get.
  Result<ByteSpan> get(uint64_t position, size_t size);

 private:
  runtime::File& file_;
  std::string_view path_;
  uint64_t file_bytes_;
  size_t window_bytes_;
  uint64_t window_position_ = 0;
  Bytes window_;
};

struct ScanLimits {
  size_t batch_bytes_max = kBatchBytesLimit;
  uint32_t index_interval_bytes = 4096;
  size_t window_bytes = 1 << 20;
};

// Why a scan stopped. reason ok: it reached the end of the file on a batch boundary.
struct ScanStop {
  uint64_t position = 0;
  Errc reason = Errc::ok;
  std::string message;
  // The bytes at `position` look never written (zeros), the file ends inside the batch with its
  // header intact, or the batch's bytes from a 512-byte sector boundary on are zeros (a write that
  // landed only in part inside preallocated space): what a torn or lost write leaves, as opposed
  // to damaged bytes.
  bool torn = false;
  // The bytes at `position` are zeros where a batch header would be: where appends into
  // preallocated space stopped (or a write that never landed).
  bool zero_header = false;
};

// Scans and fully verifies the batches of a data file from index.data_bytes to `file_bytes`,
// adding each to `index`. Batches must continue the index's offsets and never lower its term
// (nor `prev_term`). Stops at the first batch that fails; errors are I/O failures only.
Result<ScanStop> scan_segment(runtime::File& file, std::string_view path, uint64_t file_bytes, uint64_t prev_term,
                              SegmentIndex& index, const ScanLimits& limits);

// Where the written bytes of [from, to) end: the end of the last byte that is not zero, or `from`
// when all are zeros (preallocated space no append reached).
Result<uint64_t> written_end(runtime::File& file, std::string_view path, uint64_t from, uint64_t to);

// Reads the header region (both mark slots) of a data file.
Result<MarkPair> read_marks(runtime::File& file, std::string_view path);
// Writes `mark` into its slot (in place; needs no space).
Status write_mark(runtime::File& file, std::string_view path, const SegmentMark& mark);

// Makes `file` an empty data file: truncates it, writes the header with mark 1, syncs it.
Status initialize_data_file(runtime::File& file, std::string_view path, uint64_t base_offset, uint64_t prev_term);
// Creates a new data file holding only its header with mark 1, and syncs it. The caller syncs the
// directory. On failure the file is removed again (best effort).
Result<std::unique_ptr<runtime::File>> create_data_file(runtime::Filesystem& fs, std::string_view dir,
                                                         uint64_t base_offset, uint64_t prev_term);

// Writes the index of a sealed segment to a temporary file, syncs it and renames it into place.
// The caller syncs the directory. On failure the temporary file is removed (best effort).
Status write_index_file(runtime::Filesystem& fs, std::string_view dir, const SegmentIndex& index);
// Header and terms of an index file (entries are read separately, when needed).
Result<IndexFileHeader> read_index_header(runtime::Filesystem& fs, std::string_view dir, uint64_t base_offset);
Result<std::vector<IndexEntry>> read_index_entries(runtime::Filesystem& fs, std::string_view dir,
                                                   const IndexFileHeader& header);

}  // namespace sluice::log
