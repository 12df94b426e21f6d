// The epoll runtime's Filesystem: real files under the node's data directory, every potentially
// blocking call offloaded to the FileWorkers so the reactor never waits for a disk.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/epoll/file_workers.h"
#include "runtime/fs.h"

namespace sluice::runtime::epoll {

class EpollFilesystem final : public Filesystem {
 public:
  // Entries list() returns at most; a larger directory is limit_exceeded.
  static constexpr size_t kListEntriesMax = 1'000'000;

  // `root` must exist. Files it opens must be closed or destroyed before it is.
  EpollFilesystem(std::string root, size_t open_files_max, Scheduler& scheduler, FileWorkers& workers);

  Result<std::unique_ptr<File>> open(std::string_view path, OpenMode mode) override;
  Status create_dirs(std::string_view path) override;
  Status rename(std::string_view from, std::string_view to) override;
  Status remove(std::string_view path) override;
  // "" lists the data directory itself.
  Result<std::vector<std::string>> list(std::string_view dir) override;
  Result<bool> exists(std::string_view path) override;
  Result<uint64_t> file_size(std::string_view path) override;
  Status sync_dir(std::string_view dir) override;

  size_t open_files() const { return open_files_; }

 private:
  friend class EpollFile;
  // The absolute path of a validated relative one; "" is the root.
  std::string full_path(std::string_view path) const;

  std::string root_;
  size_t open_files_max_;
  size_t open_files_ = 0;  // open File objects, plus opens in flight (reserved up front)
  Scheduler& scheduler_;
  FileWorkers& workers_;
};

}  // namespace sluice::runtime::epoll
