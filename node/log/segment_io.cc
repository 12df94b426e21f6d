#include "node/log/segment_io.h"
#include "node/log/io_errors.h"
#include "node/base/coverage.h"

#include <algorithm>
#include <cstring>

namespace sluice::log {
namespace {

using runtime::File;
using runtime::Filesystem;
using runtime::OpenMode;

bool all_zero(ByteSpan bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; });
}

// A batch at file offset `position` whose bytes from some 512-byte sector boundary on are zeros:
// the sectors a write did not get to before a crash, inside preallocated zeros (the file's length
// already covered them), just as a write past the end of the file leaves it short. A sector is
// what a disk writes whole, and a bit flip cannot clear one; but a batch whose own last bytes are
// zeros across a sector boundary, damaged elsewhere, passes for torn (docs/log.md names the price).
bool unwritten_suffix(ByteSpan batch, uint64_t position) {
  constexpr uint64_t kSectorBytes = 512;
  size_t zeros = 0;
  while (zeros < batch.size() && batch[batch.size() - 1 - zeros] == std::byte{0}) ++zeros;
  const uint64_t end = position + batch.size();
  const uint64_t zero_from = end - zeros;
  const uint64_t boundary = (zero_from + kSectorBytes - 1) / kSectorBytes * kSectorBytes;  // first one in the zeros
  if (boundary >= end) return false;
  SLUICE_COVER("log.scan_unwritten_sectors");
  return true;
}

ScanStop stop_at(uint64_t position, const Status& status, bool torn) {
  return ScanStop{position, status.code(), status.message(), torn};
}

void remove_quietly(Filesystem& fs, const std::string& path) {
  (void)fs.remove(path);  // cleanup after another failure: that failure is what gets reported
}

}  // namespace

std::string join_path(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string path(dir);
  path += '/';
  path += name;
  return path;
}

Status read_fully(File& file, std::string_view path, uint64_t position, MutableByteSpan out) {
  Result<size_t> got = [&]() -> Result<size_t> {
    runtime::Result<size_t> read = file.read_at(position, out);
    if (!read.ok()) return from_runtime(read.status(), path);
    return *read;
  }();
  if (!got.ok()) return got.status();
  if (*got != out.size()) {
    return Status(Errc::io_error, std::string(path) + ": file ends at " + std::to_string(position + *got) +
                                      ", inside bytes it should hold");
  }
  return Status();
}

FileWindow::FileWindow(File& file, std::string_view path, uint64_t file_bytes, size_t window_bytes)
    : file_(file), path_(path), file_bytes_(file_bytes), window_bytes_(window_bytes) {}

Result<ByteSpan> FileWindow::get(uint64_t position, size_t size) {
  if (position >= window_position_ && position - window_position_ <= window_.size() &&
      window_.size() - (position - window_position_) >= size) {
    return ByteSpan(window_).subspan(position - window_position_, size);
  }
  const uint64_t available = position < file_bytes_ ? file_bytes_ - position : 0;
  const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(size, window_bytes_), available));
  window_.resize(want);
  window_position_ = position;
  runtime::Result<size_t> got = file_.read_at(position, window_);
  if (!got.ok()) {
    window_.clear();
    return from_runtime(got.status(), path_);
  }
  window_.resize(*got);
  return ByteSpan(window_).first(std::min(size, window_.size()));
}

Result<ScanStop> scan_segment(File& file, std::string_view path, uint64_t file_bytes, uint64_t prev_term,
                              SegmentIndex& index, const ScanLimits& limits) {
  FileWindow window(file, path, file_bytes, limits.window_bytes);
  uint64_t position = index.data_bytes;
  while (position < file_bytes) {
    SLUICE_ASSIGN_OR_RETURN(ByteSpan head, window.get(position, kBatchHeaderBytes));
    Result<BatchHeader> header = decode_batch_header(head, limits.batch_bytes_max);
    if (!header.ok()) {
      const bool zeros = all_zero(head);
      ScanStop stop = stop_at(position, header.status(), header.code() == Errc::truncated_batch || zeros);
      stop.zero_header = zeros;
      return stop;
    }
    SLUICE_ASSIGN_OR_RETURN(ByteSpan batch, window.get(position, header->batch_bytes));
    Result<BatchHeader> verified = verify_batch(batch, limits.batch_bytes_max);
    if (!verified.ok()) {
      const Status where(verified.code(), verified.status().message() + " (batch at bytes " + std::to_string(position) + ".." +
                                              std::to_string(position + header->batch_bytes) + ")");
      return stop_at(position, where, verified.code() == Errc::truncated_batch || unwritten_suffix(batch, position));
    }
    if (verified->base_offset != index.end_offset) {
      return stop_at(position,
                     Status(Errc::offset_mismatch, "batch base offset " + std::to_string(verified->base_offset) +
                                                       ", expected " + std::to_string(index.end_offset)),
                     false);
    }
    const uint64_t term_floor = index.empty() ? prev_term : index.last_term();
    if (verified->term < term_floor) {
      return stop_at(position,
                     Status(Errc::term_regression, "batch term " + std::to_string(verified->term) + " below " +
                                                       std::to_string(term_floor)),
                     false);
    }
    add_batch(index, *verified, position, limits.index_interval_bytes);
    position += verified->batch_bytes;
  }
  return ScanStop{position, Errc::ok, "", false};
}

Result<uint64_t> written_end(File& file, std::string_view path, uint64_t from, uint64_t to) {
  constexpr uint64_t kChunkBytes = 64 << 10;
  uint64_t end = from;
  Bytes chunk;
  for (uint64_t at = from; at < to; at += chunk.size()) {
    chunk.resize(static_cast<size_t>(std::min(kChunkBytes, to - at)));
    SLUICE_TRY(read_fully(file, path, at, chunk));
    for (size_t i = chunk.size(); i > 0; --i) {
      if (chunk[i - 1] != std::byte{0}) {
        end = at + i;
        break;
      }
    }
  }
  return end;
}

Result<MarkPair> read_marks(File& file, std::string_view path) {
  Bytes header(kSegmentHeaderBytes);
  runtime::Result<size_t> got = file.read_at(0, header);
  if (!got.ok()) return from_runtime(got.status(), path);
  return decode_marks(ByteSpan(header).first(*got));
}

Status write_mark(File& file, std::string_view path, const SegmentMark& mark) {
  SLUICE_LOG_TRY_IO(file.write_at(mark_slot_position(mark.sequence), encode_mark(mark)), path);
  return Status();
}

Status initialize_data_file(File& file, std::string_view path, uint64_t base_offset, uint64_t prev_term) {
  const SegmentMark mark{1, base_offset, prev_term, kSegmentHeaderBytes};
  Bytes header(kSegmentHeaderBytes);
  const Bytes encoded = encode_mark(mark);
  std::memcpy(header.data() + mark_slot_position(mark.sequence), encoded.data(), encoded.size());
  SLUICE_LOG_TRY_IO(file.truncate(0), path);
  SLUICE_LOG_TRY_IO(file.write_at(0, header), path);
  SLUICE_LOG_TRY_IO(file.sync(), path);
  return Status();
}

Result<std::unique_ptr<File>> create_data_file(Filesystem& fs, std::string_view dir, uint64_t base_offset,
                                                uint64_t prev_term) {
  const std::string path = join_path(dir, data_file_name(base_offset));
  // `create`, not `create_new`: a file of that name beyond the log's end is debris of a creation
  // that failed (its removal failed too), never data.
  runtime::Result<std::unique_ptr<File>> opened = fs.open(path, OpenMode::create);
  if (!opened.ok()) return from_runtime(opened.status(), path);
  std::unique_ptr<File> file = std::move(*opened);
  const Status status = initialize_data_file(*file, path, base_offset, prev_term);
  if (!status.ok()) {
    (void)file->close();
    remove_quietly(fs, path);
    return status;
  }
  return file;
}

Status write_index_file(Filesystem& fs, std::string_view dir, const SegmentIndex& index) {
  const std::string temporary = join_path(dir, temporary_index_file_name(index.base_offset));
  const Bytes bytes = encode_index_file(index);
  runtime::Status status;
  {
    runtime::Result<std::unique_ptr<File>> file = fs.open(temporary, OpenMode::create);
    if (!file.ok()) return from_runtime(file.status(), temporary);
    status = (*file)->truncate(0);
    if (status.ok()) status = (*file)->write_at(0, bytes);
    if (status.ok()) status = (*file)->sync();
    runtime::Status closed = (*file)->close();
    if (status.ok()) status = closed;
  }
  if (status.ok()) status = fs.rename(temporary, join_path(dir, index_file_name(index.base_offset)));
  if (!status.ok()) {
    remove_quietly(fs, temporary);
    return from_runtime(status, temporary);
  }
  return Status();
}

Result<IndexFileHeader> read_index_header(Filesystem& fs, std::string_view dir, uint64_t base_offset) {
  const std::string path = join_path(dir, index_file_name(base_offset));
  runtime::Result<std::unique_ptr<File>> file = fs.open(path, OpenMode::read_only);
  if (!file.ok() && file.code() == runtime::Errc::not_found) return Status(Errc::truncated_batch, path + ": missing");
  if (!file.ok()) return from_runtime(file.status(), path);
  runtime::Result<uint64_t> file_bytes = (*file)->size();
  if (!file_bytes.ok()) return from_runtime(file_bytes.status(), path);
  Bytes bytes(static_cast<size_t>(std::min<uint64_t>(*file_bytes, kIndexHeaderBytes)));
  SLUICE_TRY(read_fully(**file, path, 0, bytes));
  Result<uint64_t> needed = index_header_and_terms_bytes(bytes);
  if (!needed.ok()) return needed.status().with_context(path);
  if (*needed > *file_bytes) return Status(Errc::truncated_batch, path + ": terms cut short");
  bytes.resize(static_cast<size_t>(*needed));
  SLUICE_TRY(read_fully(**file, path, 0, bytes));
  Result<IndexFileHeader> header = decode_index_header(bytes);
  if (!header.ok()) return header.status().with_context(path);
  return header;
}

Result<std::vector<IndexEntry>> read_index_entries(Filesystem& fs, std::string_view dir, const IndexFileHeader& header) {
  const std::string path = join_path(dir, index_file_name(header.summary.base_offset));
  runtime::Result<std::unique_ptr<File>> file = fs.open(path, OpenMode::read_only);
  if (!file.ok() && file.code() == runtime::Errc::not_found) return Status(Errc::truncated_batch, path + ": missing");
  if (!file.ok()) return from_runtime(file.status(), path);
  runtime::Result<uint64_t> file_bytes = (*file)->size();
  if (!file_bytes.ok()) return from_runtime(file_bytes.status(), path);
  const uint64_t entries_bytes = uint64_t{header.entry_count} * kIndexEntryBytes;
  if (header.entries_position + entries_bytes != *file_bytes) {
    return Status(Errc::truncated_batch, path + ": size does not match its entry count");
  }
  Bytes entries(static_cast<size_t>(entries_bytes));
  runtime::Result<size_t> got = (*file)->read_at(header.entries_position, entries);
  if (!got.ok()) return from_runtime(got.status(), path);
  entries.resize(*got);
  Result<std::vector<IndexEntry>> decoded = decode_index_entries(header, entries);
  if (!decoded.ok()) return decoded.status().with_context(path);
  return decoded;
}

}  // namespace sluice::log
