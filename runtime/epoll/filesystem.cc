#include "runtime/epoll/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/sync.h"

namespace sluice::runtime::epoll {

namespace {

// A directory path: "" (the data directory) or a valid relative path.
Status validate_dir(std::string_view dir) { return dir.empty() ? Status() : validate_path(dir); }

Status pwrite_all(int fd, const std::string& path, uint64_t offset, const Bytes& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + written, bytes.size() - written, static_cast<off_t>(offset + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("pwrite", path, errno);
    }
    written += static_cast<size_t>(n);
  }
  return Status();
}

// Reads until `size` bytes or end of file.
Result<Bytes> pread_full(int fd, const std::string& path, uint64_t offset, size_t size) {
  Bytes buffer(size);
  size_t filled = 0;
  while (filled < size) {
    const ssize_t n = ::pread(fd, buffer.data() + filled, size - filled, static_cast<off_t>(offset + filled));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("pread", path, errno);
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  buffer.resize(filled);
  return buffer;
}

Result<uint64_t> fstat_size(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return errno_status("fstat", path, errno);
  return static_cast<uint64_t>(info.st_size);
}

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::read_only: return O_RDONLY;
    case OpenMode::read_write: return O_RDWR;
    case OpenMode::create: return O_RDWR | O_CREAT;
    case OpenMode::create_new: return O_RDWR | O_CREAT | O_EXCL;
  }
  SLUICE_UNREACHABLE();
}

Result<UniqueFd> open_regular_file(const std::string& path, OpenMode mode) {
  UniqueFd fd(::open(path.c_str(), open_flags(mode) | O_CLOEXEC, 0644));
  if (!fd.valid()) return errno_status("open", path, errno);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return errno_status("fstat", path, errno);
  if (!S_ISREG(info.st_mode)) return Status(Errc::invalid_argument, "open " + path + ": not a regular file");
  return fd;
}

// mkdir -p: creates each missing component in turn.
Status make_dirs(const std::string& root, std::string_view relative) {
  std::string path = root;
  size_t start = 0;
  while (start < relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) slash = relative.size();
    path += '/';
    path += relative.substr(start, slash - start);
    start = slash + 1;
    if (::mkdir(path.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) return errno_status("mkdir", path, errno);
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return errno_status("stat", path, errno);
    if (!S_ISDIR(info.st_mode)) return Status(Errc::already_exists, "mkdir " + path + ": exists and is not a directory");
  }
  return Status();
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return errno_status("opendir", path, errno);
  std::vector<std::string> names;
  Status status;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) status = errno_status("readdir", path, errno);
      break;
    }
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    if (names.size() >= EpollFilesystem::kListEntriesMax) {
      status = Status(Errc::limit_exceeded,
                      "list " + path + ": more than " + std::to_string(EpollFilesystem::kListEntriesMax) + " entries");
      break;
    }
    names.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  if (!status.ok()) return status;
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

// An open file. Its descriptor is shared with in-flight jobs, so closing the File (or a cancelled
// caller leaving early) never closes a descriptor a worker still uses. Writes, appends and
// truncates of one File run one at a time in call order - append must read the size and write
// there without another append in between - while reads and syncs run freely.
class EpollFile final : public File {
 public:
  struct Shared {
    Shared(UniqueFd fd_in, std::string path_in) : fd(std::move(fd_in)), path(std::move(path_in)) {}
    UniqueFd fd;
    std::string path;
    bool mutation_running = false;  // cleared on the reactor thread when the job completes
    WaitList mutation_waiters;
  };

  EpollFile(EpollFilesystem& fs, std::shared_ptr<Shared> shared, bool writable)
      : fs_(fs), shared_(std::move(shared)), writable_(writable) {}
  ~EpollFile() override { (void)close(); }

  Result<size_t> read_at(uint64_t offset, MutableByteSpan out) override {
    SLUICE_TRY(check_open());
    Result<Bytes> got = run_on_worker(fs_.workers_, [shared = shared_, offset, size = out.size()] {
      return pread_full(shared->fd.get(), shared->path, offset, size);
    });
    if (!got.ok()) return got.status();
    std::copy(got->begin(), got->end(), out.begin());
    return got->size();
  }

  Status write_at(uint64_t offset, ByteSpan bytes) override {
    SLUICE_TRY(check_writable());
    return run_mutation([shared = shared_, offset, copy = Bytes(bytes.begin(), bytes.end())] {
      return pwrite_all(shared->fd.get(), shared->path, offset, copy);
    });
  }

  Result<uint64_t> append(ByteSpan bytes) override {
    SLUICE_TRY(check_writable());
    return run_mutation([shared = shared_, copy = Bytes(bytes.begin(), bytes.end())]() -> Result<uint64_t> {
      SLUICE_ASSIGN_OR_RETURN(uint64_t end, fstat_size(shared->fd.get(), shared->path));
      SLUICE_TRY(pwrite_all(shared->fd.get(), shared->path, end, copy));
      return end;
    });
  }

  Status sync() override {
    SLUICE_TRY(check_open());
    // fdatasync also flushes the size and whatever else is needed to read the data back; only
    // timestamps are left behind, and nothing reads them.
    return run_on_worker(fs_.workers_, [shared = shared_] {
      if (::fdatasync(shared->fd.get()) != 0) return errno_status("fdatasync", shared->path, errno);
      return Status();
    });
  }

  Status write_at_and_sync(uint64_t offset, ByteSpan bytes) override {
    SLUICE_TRY(check_writable());
    return run_mutation([shared = shared_, offset, copy = Bytes(bytes.begin(), bytes.end())] {
      SLUICE_TRY(pwrite_all(shared->fd.get(), shared->path, offset, copy));
      if (::fdatasync(shared->fd.get()) != 0) return errno_status("fdatasync", shared->path, errno);
      return Status();
    });
  }

  Status truncate(uint64_t size_bytes) override {
    SLUICE_TRY(check_writable());
    return run_mutation([shared = shared_, size_bytes] {
      if (::ftruncate(shared->fd.get(), static_cast<off_t>(size_bytes)) != 0) {
        return errno_status("ftruncate", shared->path, errno);
      }
      return Status();
    });
  }

  Result<uint64_t> size() override {
    SLUICE_TRY(check_open());
    return run_on_worker(fs_.workers_, [shared = shared_] { return fstat_size(shared->fd.get(), shared->path); });
  }

  Status close() override {
    if (shared_ == nullptr) return Status();
    shared_.reset();  // the descriptor closes once no in-flight job holds it
    --fs_.open_files_;
    return Status();
  }

 private:
  Status check_open() const {
    if (shared_ == nullptr) return Status(Errc::closed, "file closed");
    return Status();
  }
  Status check_writable() const {
    SLUICE_TRY(check_open());
    if (!writable_) return Status(Errc::invalid_argument, shared_->path + " was opened read-only");
    return Status();
  }

  // Runs a write-side job once every earlier one of this file completed.
  template <typename Fn>
  auto run_mutation(Fn fn) -> decltype(fn()) {
    Scheduler& scheduler = fs_.scheduler_;
    std::shared_ptr<Shared> shared = shared_;
    SLUICE_TRY(wait_until(scheduler, shared->mutation_waiters, kInstantMax, [&] { return !shared->mutation_running; }));
    shared->mutation_running = true;
    return run_on_worker(fs_.workers_, std::move(fn), [shared, &scheduler] {
      shared->mutation_running = false;
      shared->mutation_waiters.wake_all(scheduler);  // all: a woken waiter may leave cancelled
    });
  }

  EpollFilesystem& fs_;
  std::shared_ptr<Shared> shared_;  // null once closed
  bool writable_;
};

EpollFilesystem::EpollFilesystem(std::string root, size_t open_files_max, Scheduler& scheduler, FileWorkers& workers)
    : root_(std::move(root)), open_files_max_(open_files_max), scheduler_(scheduler), workers_(workers) {}

std::string EpollFilesystem::full_path(std::string_view path) const {
  if (path.empty()) return root_;
  std::string full = root_;
  full += '/';
  full += path;
  return full;
}

Result<std::unique_ptr<File>> EpollFilesystem::open(std::string_view path, OpenMode mode) {
  SLUICE_TRY(validate_path(path));
  if (open_files_ >= open_files_max_) {
    return Status(Errc::limit_exceeded, "open " + std::string(path) + ": open_files_max (" +
                                            std::to_string(open_files_max_) + ") files are open");
  }
  ++open_files_;  // reserved now, so concurrent opens cannot overshoot the limit
  std::string full = full_path(path);
  Result<UniqueFd> fd = run_on_worker(workers_, [full, mode] { return open_regular_file(full, mode); });
  if (!fd.ok()) {
    --open_files_;
    return fd.status();
  }
  auto shared = std::make_shared<EpollFile::Shared>(std::move(fd).value(), std::move(full));
  return std::unique_ptr<File>(std::make_unique<EpollFile>(*this, std::move(shared), mode != OpenMode::read_only));
}

Status EpollFilesystem::create_dirs(std::string_view path) {
  SLUICE_TRY(validate_path(path));
  return run_on_worker(workers_, [root = root_, relative = std::string(path)] { return make_dirs(root, relative); });
}

Status EpollFilesystem::rename(std::string_view from, std::string_view to) {
  SLUICE_TRY(validate_path(from));
  SLUICE_TRY(validate_path(to));
  return run_on_worker(workers_, [from_full = full_path(from), to_full = full_path(to)] {
    if (::rename(from_full.c_str(), to_full.c_str()) != 0) return errno_status("rename", from_full + " -> " + to_full, errno);
    return Status();
  });
}

Status EpollFilesystem::remove(std::string_view path) {
  SLUICE_TRY(validate_path(path));
  return run_on_worker(workers_, [full = full_path(path)] {
    if (::unlink(full.c_str()) == 0) return Status();
    if (errno != EISDIR) return errno_status("unlink", full, errno);
    if (::rmdir(full.c_str()) != 0) return errno_status("rmdir", full, errno);
    return Status();
  });
}

Result<std::vector<std::string>> EpollFilesystem::list(std::string_view dir) {
  SLUICE_TRY(validate_dir(dir));
  return run_on_worker(workers_, [full = full_path(dir)] { return list_dir(full); });
}

Result<bool> EpollFilesystem::exists(std::string_view path) {
  SLUICE_TRY(validate_path(path));
  return run_on_worker(workers_, [full = full_path(path)]() -> Result<bool> {
    struct stat info {};
    if (::stat(full.c_str(), &info) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return errno_status("stat", full, errno);
  });
}

Result<uint64_t> EpollFilesystem::file_size(std::string_view path) {
  SLUICE_TRY(validate_path(path));
  return run_on_worker(workers_, [full = full_path(path)]() -> Result<uint64_t> {
    struct stat info {};
    if (::stat(full.c_str(), &info) != 0) return errno_status("stat", full, errno);
    if (S_ISDIR(info.st_mode)) return Status(Errc::invalid_argument, "file_size " + full + ": is a directory");
    return static_cast<uint64_t>(info.st_size);
  });
}

Status EpollFilesystem::sync_dir(std::string_view dir) {
  SLUICE_TRY(validate_dir(dir));
  return run_on_worker(workers_, [full = full_path(dir)] {
    UniqueFd fd(::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return errno_status("open", full, errno);
    if (::fsync(fd.get()) != 0) return errno_status("fsync", full, errno);
    return Status();
  });
}

}  // namespace sluice::runtime::epoll
