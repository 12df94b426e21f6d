// Filesystem of the runtime seam. Paths are relative to the node's data directory, use '/', and
// may not contain "." or ".." components or start with '/'. Durability follows POSIX as databases
// must assume it: written data is durable only after File::sync(), and a created, renamed or
// removed directory entry only after sync_dir() of its parent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "runtime/errors.h"

namespace sluice::runtime {

enum class OpenMode {
  read_only,   // must exist
  read_write,  // must exist
  create,      // read-write; created empty if missing
  create_new,  // read-write; already_exists if present
};

class File {
 public:
  virtual ~File() = default;
  // Reads up to out.size() bytes at `offset`; fewer only at end of file.
  virtual Result<size_t> read_at(uint64_t offset, MutableByteSpan out) = 0;
  // Writes all bytes at `offset`, extending the file as needed.
  virtual Status write_at(uint64_t offset, ByteSpan bytes) = 0;
  // Writes at the current end; returns the offset written at.
  virtual Result<uint64_t> append(ByteSpan bytes) = 0;
  // Makes every write so far durable. On failure nothing is known about unsynced data.
  virtual Status sync() = 0;
  // write_at(offset, bytes) then sync(), as one step where the runtime can make it one: the epoll
  // runtime runs both in one file-worker job, saving a thread hand-off on the path every
  // acknowledged append waits on (Log::sync's mark). Same outcome and same failure rules as the
  // two calls; a crash in between is the same crash as between the two calls.
  virtual Status write_at_and_sync(uint64_t offset, ByteSpan bytes) {
    if (Status written = write_at(offset, bytes); !written.ok()) return written;
    return sync();
  }
  virtual Status truncate(uint64_t size_bytes) = 0;
  virtual Result<uint64_t> size() = 0;
  // Writes zeros over [offset, offset + length_bytes) and syncs the file, so that later writes
  // inside the range change no metadata: the size already covers them and their blocks are
  // allocated and written (not unwritten extents, whose first write is a journalled conversion).
  // The fdatasync after such a write then flushes data alone (docs/log.md, "Space preallocated
  // ahead"). The file's size grows to at least offset + length_bytes. Failures are those of
  // write_at and sync: a full disk fails the write (maybe after part of the zeros landed), and a
  // failed sync leaves every earlier unsynced write of the file unknown, as sync() does.
  virtual Status preallocate(uint64_t offset, uint64_t length_bytes);
  // Idempotent; the destructor closes.
  virtual Status close() = 0;
};

class Filesystem {
 public:
  virtual ~Filesystem() = default;
  virtual Result<std::unique_ptr<File>> open(std::string_view path, OpenMode mode) = 0;
  // Creates the directory and any missing parents; ok if it exists.
  virtual Status create_dirs(std::string_view path) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status rename(std::string_view from, std::string_view to) = 0;
  // Removes a file or an empty directory.
  virtual Status remove(std::string_view path) = 0;
  // Entry names (not paths) in the directory, sorted.
  virtual Result<std::vector<std::string>> list(std::string_view dir) = 0;
  virtual Result<bool> exists(std::string_view path) = 0;
  virtual Result<uint64_t> file_size(std::string_view path) = 0;
  // Makes the directory's entries durable. "" is the data directory itself.
  virtual Status sync_dir(std::string_view dir) = 0;
};

// Removes `path` and, if it is a directory, everything under it (at most `depth_max` levels),
// then syncs its parent. ok if it does not exist. Not atomic: rename a directory aside first if
// a crash must not leave a half-removed one where a live one was.
Status remove_tree(Filesystem& fs, std::string_view path, int depth_max = 8);

// Checks the path rules above; invalid_argument names the problem.
Status validate_path(std::string_view path);
// "a/b/c" -> "a/b"; "c" -> "".
std::string_view parent_dir(std::string_view path);

}  // namespace sluice::runtime
