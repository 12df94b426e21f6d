// The simulated disk. Inodes hold file bytes and directory entries; each keeps a "now" view and
// a durable view, and a crash rebuilds the now view from the durable one (plus, for file data, a
// random in-order prefix of the unsynced changes). The Filesystem view on top adds latency, fault
// injection and tracing; all logic here is synchronous and deterministic given the Prng.
#include "sim/disk.h"

#include <algorithm>
#include <limits>
#include <span>
#include <utility>

#include "node/base/hash.h"

namespace sluice::sim {

using runtime::Errc;
using runtime::OpenMode;
using runtime::Status;
template <typename T>
using Result = runtime::Result<T>;

namespace {

constexpr uint64_t kRootInode = 1;  // 0 means "no inode" in lookups

enum class InodeKind { file, directory };

// One unsynced change of a file's data, kept so a crash can replay an in-order prefix of them.
struct PendingChange {
  bool is_truncate = false;
  uint64_t offset = 0;  // write: where it starts; truncate: the new size
  Bytes bytes;          // write only
};

void apply_write(Bytes& data, uint64_t offset, ByteSpan bytes) {
  if (bytes.empty()) return;
  const uint64_t end = offset + bytes.size();
  if (data.size() < end) data.resize(end);  // a write past the end leaves a zero-filled hole
  std::copy(bytes.begin(), bytes.end(), data.begin() + static_cast<std::ptrdiff_t>(offset));
}

void apply_change(Bytes& data, const PendingChange& change) {
  if (change.is_truncate) {
    data.resize(change.offset);
  } else {
    apply_write(data, change.offset, change.bytes);
  }
}

// Path components; "" has none. Paths were validated by the caller.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::string joined(std::string_view dir, std::string_view name) {
  return dir.empty() ? std::string(name) : std::string(dir) + "/" + std::string(name);
}

}  // namespace

struct SimDisk::Inode {
  InodeKind kind = InodeKind::file;
  // Files. Invariant: durable with `pending` replayed equals `data`, except that bit flips hit
  // both copies in place.
  Bytes data;                          // what reads see now
  Bytes durable;                       // as of the last successful sync
  std::vector<PendingChange> pending;  // writes and truncates since then, in order
  // Directories: entry name -> inode id. std::map keeps list() sorted and iteration stable.
  std::map<std::string, uint64_t, std::less<>> entries;          // what lookups see now
  std::map<std::string, uint64_t, std::less<>> durable_entries;  // as of the last sync_dir
  // The inode is freed once nothing names it, durably or not, and no handle has it open.
  uint32_t links = 0;
  uint32_t durable_links = 0;
  uint32_t open_handles = 0;

  bool live() const { return links > 0 || open_handles > 0; }
};

// Where a path leads: its parent directory and, when the entry exists, its inode.
struct PathLookup {
  uint64_t parent = 0;
  std::string_view name;
  uint64_t inode = 0;  // 0: no such entry
};

struct SimDisk::State {
  State(const DiskConfig& disk_config, DiskFaults& disk_faults) : config(disk_config), faults(disk_faults) {
    inodes[kRootInode].kind = InodeKind::directory;
  }

  const DiskConfig& config;
  DiskFaults& faults;
  std::map<uint64_t, Inode> inodes;
  uint64_t inode_next = kRootInode + 1;
  uint64_t used_bytes = 0;  // sum of data sizes of live files (named now, or open)
  size_t open_files = 0;

  Inode& inode(uint64_t id) {
    auto it = inodes.find(id);
    SLUICE_ASSERT(it != inodes.end());
    return it->second;
  }

  // --- Namespace ---------------------------------------------------------------------------

  // Resolves every component of `parts` as a directory, starting at the root.
  Result<uint64_t> walk(std::span<const std::string_view> parts, std::string_view path) {
    uint64_t dir = kRootInode;
    for (std::string_view part : parts) {
      const Inode& current = inode(dir);
      auto it = current.entries.find(part);
      if (it == current.entries.end()) {
        return Status(Errc::not_found, "missing directory '" + std::string(part) + "' in " + std::string(path));
      }
      if (inode(it->second).kind != InodeKind::directory) {
        return Status(Errc::not_found, "'" + std::string(part) + "' is a file, in " + std::string(path));
      }
      dir = it->second;
    }
    return dir;
  }

  // "" is the root.
  Result<uint64_t> directory(std::string_view path) {
    if (path.empty()) return kRootInode;
    SLUICE_ASSIGN_OR_RETURN(PathLookup found, lookup(path));
    if (found.inode == 0) return Status(Errc::not_found, "no directory " + std::string(path));
    if (inode(found.inode).kind != InodeKind::directory) {
      return Status(Errc::not_found, "not a directory: " + std::string(path));  // ENOTDIR, as epoll maps it
    }
    return found.inode;
  }

  // `path` is non-empty: finds its parent directory (which must exist) and its entry (which may not).
  Result<PathLookup> lookup(std::string_view path) {
    const std::vector<std::string_view> parts = split_path(path);
    SLUICE_ASSERT(!parts.empty());
    SLUICE_ASSIGN_OR_RETURN(uint64_t parent, walk(std::span(parts).first(parts.size() - 1), path));
    PathLookup found{parent, parts.back(), 0};
    const Inode& dir = inode(parent);
    if (auto it = dir.entries.find(found.name); it != dir.entries.end()) found.inode = it->second;
    return found;
  }

  uint64_t create_inode(InodeKind kind) {
    const uint64_t id = inode_next++;
    inodes[id].kind = kind;
    return id;
  }

  // Points `dir`/`name` at `id`, replacing (and unlinking) whatever it named before.
  void link(uint64_t dir, std::string_view name, uint64_t id) {
    ++inode(id).links;  // first, so relinking an inode under its own name cannot free it
    auto [it, inserted] = inode(dir).entries.try_emplace(std::string(name), id);
    if (!inserted) {
      const uint64_t replaced = std::exchange(it->second, id);
      drop_link(replaced);
    }
  }

  void unlink(uint64_t dir, std::string_view name) {
    Inode& parent = inode(dir);
    auto it = parent.entries.find(name);
    SLUICE_ASSERT(it != parent.entries.end());
    const uint64_t id = it->second;
    parent.entries.erase(it);
    drop_link(id);
  }

  void drop_link(uint64_t id) {
    Inode& target = inode(id);
    SLUICE_ASSERT_GT(target.links, 0u);
    --target.links;
    if (!target.live()) became_unreachable(id);
  }

  // Nothing can read or write the inode any more: its bytes no longer count, and it is freed
  // unless a durable entry still names it (a crash may bring it back).
  void became_unreachable(uint64_t id) {
    Inode& target = inode(id);
    if (target.kind == InodeKind::file) used_bytes -= target.data.size();
    free_if_unreferenced(id);
  }

  void free_if_unreferenced(uint64_t id) {
    auto it = inodes.find(id);
    SLUICE_ASSERT(it != inodes.end());
    Inode& target = it->second;
    if (id == kRootInode || target.live() || target.durable_links > 0) return;
    SLUICE_ASSERT(target.entries.empty());  // only empty directories lose their last name
    const auto children = std::move(target.durable_entries);
    inodes.erase(it);
    for (const auto& [name, child] : children) {
      --inode(child).durable_links;
      free_if_unreferenced(child);
    }
  }

  // True if `dir_path` (an existing directory) is `id` or lies inside it.
  bool passes_through(std::string_view dir_path, uint64_t id) {
    uint64_t dir = kRootInode;
    if (dir == id) return true;
    for (std::string_view part : split_path(dir_path)) {
      dir = inode(dir).entries.find(part)->second;
      if (dir == id) return true;
    }
    return false;
  }

  Result<uint64_t> open(std::string_view path, OpenMode mode) {
    if (open_files >= config.open_files_max) {
      return Status(Errc::limit_exceeded, "open_files_max reached: " + std::to_string(config.open_files_max));
    }
    SLUICE_ASSIGN_OR_RETURN(PathLookup found, lookup(path));
    if (found.inode != 0) {
      if (mode == OpenMode::create_new) return Status(Errc::already_exists, std::string(path));
      if (inode(found.inode).kind == InodeKind::directory) {
        return Status(Errc::invalid_argument, "is a directory: " + std::string(path));
      }
    } else {
      if (mode == OpenMode::read_only || mode == OpenMode::read_write) {
        return Status(Errc::not_found, std::string(path));
      }
      found.inode = create_inode(InodeKind::file);
      link(found.parent, found.name, found.inode);
    }
    ++inode(found.inode).open_handles;
    ++open_files;
    return found.inode;
  }

  void close(uint64_t id) {
    Inode& file = inode(id);
    SLUICE_ASSERT_GT(file.open_handles, 0u);
    SLUICE_ASSERT_GT(open_files, 0u);
    --file.open_handles;
    --open_files;
    if (!file.live()) became_unreachable(id);
  }

  Status create_dirs(std::string_view path) {
    uint64_t dir = kRootInode;
    for (std::string_view part : split_path(path)) {
      auto it = inode(dir).entries.find(part);
      if (it == inode(dir).entries.end()) {
        const uint64_t created = create_inode(InodeKind::directory);
        link(dir, part, created);
        dir = created;
      } else if (inode(it->second).kind != InodeKind::directory) {
        return Status(Errc::already_exists, "a file named '" + std::string(part) + "' is in the way of " +
                                                std::string(path));
      } else {
        dir = it->second;
      }
    }
    return Status();
  }

  Status remove(std::string_view path) {
    SLUICE_ASSIGN_OR_RETURN(PathLookup found, lookup(path));
    if (found.inode == 0) return Status(Errc::not_found, std::string(path));
    const Inode& target = inode(found.inode);
    if (target.kind == InodeKind::directory && !target.entries.empty()) {
      return Status(Errc::invalid_argument, "directory not empty: " + std::string(path));
    }
    unlink(found.parent, found.name);
    return Status();
  }

  Status rename(std::string_view from, std::string_view to) {
    SLUICE_ASSIGN_OR_RETURN(PathLookup source, lookup(from));
    if (source.inode == 0) return Status(Errc::not_found, std::string(from));
    SLUICE_ASSIGN_OR_RETURN(PathLookup target, lookup(to));
    if (source.inode == target.inode) return Status();  // the same file: POSIX does nothing
    const InodeKind kind = inode(source.inode).kind;
    if (target.inode != 0) {
      const Inode& replaced = inode(target.inode);
      // As Linux: a directory over a file is ENOTDIR (not_found), a file over a directory EISDIR.
      if (kind == InodeKind::directory && replaced.kind == InodeKind::file) {
        return Status(Errc::not_found, "not a directory: " + std::string(to));
      }
      if (kind == InodeKind::file && replaced.kind == InodeKind::directory) {
        return Status(Errc::invalid_argument, "is a directory: " + std::string(to));
      }
      if (kind == InodeKind::directory && !replaced.entries.empty()) {
        return Status(Errc::invalid_argument, "directory not empty: " + std::string(to));
      }
    }
    if (kind == InodeKind::directory && passes_through(runtime::parent_dir(to), source.inode)) {
      return Status(Errc::invalid_argument, "cannot move a directory into itself: " + std::string(to));
    }
    link(target.parent, target.name, source.inode);  // first, so the inode never loses its last name
    unlink(source.parent, source.name);
    return Status();
  }

  Result<std::vector<std::string>> list(std::string_view path) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t dir, directory(path));
    std::vector<std::string> names;
    for (const auto& [name, id] : inode(dir).entries) names.push_back(name);
    return names;
  }

  bool exists(std::string_view path) {
    Result<PathLookup> found = lookup(path);
    return found.ok() && found->inode != 0;  // a missing parent means "no" too
  }

  Result<uint64_t> file_size(std::string_view path) {
    SLUICE_ASSIGN_OR_RETURN(PathLookup found, lookup(path));
    if (found.inode == 0) return Status(Errc::not_found, std::string(path));
    const Inode& target = inode(found.inode);
    if (target.kind != InodeKind::file) return Status(Errc::invalid_argument, "is a directory: " + std::string(path));
    return static_cast<uint64_t>(target.data.size());
  }

  Status sync_dir(std::string_view path) {
    SLUICE_ASSIGN_OR_RETURN(uint64_t dir, directory(path));
    Inode& synced = inode(dir);
    for (const auto& [name, id] : synced.entries) ++inode(id).durable_links;
    const auto previous = std::exchange(synced.durable_entries, synced.entries);
    for (const auto& [name, id] : previous) {
      --inode(id).durable_links;
      free_if_unreferenced(id);
    }
    return Status();
  }

  // --- File data ---------------------------------------------------------------------------

  // Fails whole when `growth_bytes` more would not fit (or the disk is marked full).
  Status reserve(uint64_t growth_bytes) const {
    if (growth_bytes == 0) return Status();
    if (faults.full) return Status(Errc::no_space, "disk full (fault)");
    if (used_bytes >= config.capacity_bytes || growth_bytes > config.capacity_bytes - used_bytes) {
      return Status(Errc::no_space, "capacity_bytes " + std::to_string(config.capacity_bytes) + " reached");
    }
    return Status();
  }

  size_t read(uint64_t id, uint64_t offset, MutableByteSpan out) {
    const Bytes& data = inode(id).data;
    if (offset >= data.size()) return 0;
    const size_t count = std::min<uint64_t>(out.size(), data.size() - offset);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), count, out.begin());
    return count;
  }

  Status write(uint64_t id, uint64_t offset, ByteSpan bytes) {
    if (bytes.empty()) return Status();  // like write(2) of 0 bytes: does not extend the file
    if (bytes.size() > std::numeric_limits<uint64_t>::max() - offset) {
      return Status(Errc::invalid_argument, "write past the largest offset");
    }
    Inode& file = inode(id);
    const uint64_t end = offset + bytes.size();
    const uint64_t growth = end > file.data.size() ? end - file.data.size() : 0;
    SLUICE_TRY(reserve(growth));
    apply_write(file.data, offset, bytes);
    used_bytes += growth;
    file.pending.push_back(PendingChange{false, offset, Bytes(bytes.begin(), bytes.end())});
    return Status();
  }

  Status truncate(uint64_t id, uint64_t size_bytes) {
    Inode& file = inode(id);
    const uint64_t size_before = file.data.size();
    SLUICE_TRY(reserve(size_bytes > size_before ? size_bytes - size_before : 0));
    file.data.resize(size_bytes);
    used_bytes = used_bytes - size_before + size_bytes;
    file.pending.push_back(PendingChange{true, size_bytes, {}});
    return Status();
  }

  // Makes `data` durable, copying only what the pending changes touched (a sync after each
  // append must not cost the whole file).
  void sync(uint64_t id) {
    Inode& file = inode(id);
    uint64_t unchanged_end = file.durable.size();  // below it only pending writes changed bytes
    for (const PendingChange& change : file.pending) {
      if (change.is_truncate) unchanged_end = std::min(unchanged_end, change.offset);
    }
    const uint64_t size = file.data.size();
    unchanged_end = std::min(unchanged_end, size);
    file.durable.resize(size);
    const auto copy_range = [&file](uint64_t begin, uint64_t end) {
      std::copy(file.data.begin() + static_cast<std::ptrdiff_t>(begin),
                file.data.begin() + static_cast<std::ptrdiff_t>(end),
                file.durable.begin() + static_cast<std::ptrdiff_t>(begin));
    };
    copy_range(unchanged_end, size);
    for (const PendingChange& change : file.pending) {
      if (change.is_truncate || change.offset >= unchanged_end) continue;
      copy_range(change.offset, std::min<uint64_t>(change.offset + change.bytes.size(), unchanged_end));
    }
    file.pending.clear();
  }

  // --- Crash -------------------------------------------------------------------------------

  void crash(Prng& prng) {
    SLUICE_ASSERT_EQ(open_files, 0u);
    for (auto& [id, node] : inodes) node.entries = node.durable_entries;
    free_unreachable();
    used_bytes = 0;
    for (auto& [id, node] : inodes) {
      if (node.kind != InodeKind::file) continue;
      replay_pending(node, prng);
      used_bytes += node.data.size();
    }
  }

  // Frees every inode the (reverted) namespace no longer reaches and recounts the links.
  void free_unreachable() {
    std::set<uint64_t> reached{kRootInode};
    std::vector<uint64_t> to_visit{kRootInode};
    while (!to_visit.empty()) {
      const uint64_t dir = to_visit.back();
      to_visit.pop_back();
      for (const auto& [name, id] : inode(dir).entries) {
        if (reached.insert(id).second && inode(id).kind == InodeKind::directory) to_visit.push_back(id);
      }
    }
    std::erase_if(inodes, [&reached](const auto& entry) { return !reached.contains(entry.first); });
    for (auto& [id, node] : inodes) node.links = node.durable_links = 0;
    for (auto& [id, node] : inodes) {
      for (const auto& [name, child] : node.entries) {
        ++inode(child).links;
        ++inode(child).durable_links;
      }
    }
  }

  // Keeps a random in-order prefix of the unsynced changes; the first lost one, if a write over
  // more than one sector, may land torn.
  void replay_pending(Inode& file, Prng& prng) {
    Bytes data = std::move(file.durable);
    if (!file.pending.empty()) {
      auto next = [&prng] { return prng.next(); };
      const uint64_t kept = random_below(next, file.pending.size() + 1);
      for (uint64_t i = 0; i < kept; ++i) apply_change(data, file.pending[i]);
      if (kept < file.pending.size()) tear(data, file.pending[kept], prng);
    }
    file.pending.clear();
    file.durable = data;
    file.data = std::move(data);
  }

  void tear(Bytes& data, const PendingChange& change, Prng& prng) {
    if (change.is_truncate || change.bytes.empty()) return;
    const uint64_t sector = config.sector_bytes;
    const uint64_t first = change.offset / sector;
    const uint64_t sectors = (change.offset + change.bytes.size() - 1) / sector - first + 1;
    if (sectors < 2) return;  // a single sector is written atomically
    auto next = [&prng] { return prng.next(); };
    if (!random_chance(next, faults.torn_write_probability)) return;
    const uint64_t landed = static_cast<uint64_t>(random_range(next, 1, static_cast<int64_t>(sectors - 1)));
    const uint64_t landed_end = (first + landed) * sector;
    apply_write(data, change.offset, ByteSpan(change.bytes).first(landed_end - change.offset));
  }

  // --- Bit flips -----------------------------------------------------------------------------

  // Non-empty files the namespace names now, in path order (a set guards against the cycles a
  // crash between directory renames can leave).
  std::vector<std::pair<std::string, uint64_t>> named_files() {
    std::vector<std::pair<std::string, uint64_t>> files;
    std::set<uint64_t> visited{kRootInode};
    collect_files(kRootInode, "", visited, files);
    return files;
  }

  void collect_files(uint64_t dir, const std::string& dir_path, std::set<uint64_t>& visited,
                     std::vector<std::pair<std::string, uint64_t>>& files) {
    for (const auto& [name, id] : inode(dir).entries) {
      const Inode& node = inode(id);
      if (node.kind == InodeKind::file) {
        if (!node.data.empty()) files.emplace_back(joined(dir_path, name), id);
      } else if (visited.insert(id).second) {
        collect_files(id, joined(dir_path, name), visited, files);
      }
    }
  }

  void flip(uint64_t id, uint64_t offset, uint8_t bit) {
    SLUICE_ASSERT_LT(bit, 8u);
    Inode& file = inode(id);
    const auto mask = static_cast<std::byte>(1u << bit);
    file.data[offset] ^= mask;
    if (offset < file.durable.size()) file.durable[offset] ^= mask;
  }
};

// --- SimDisk -----------------------------------------------------------------------------------

SimDisk::SimDisk(DiskConfig config) : config_(config), state_(std::make_unique<State>(config_, faults_)) {
  SLUICE_ASSERT_GT(config_.sector_bytes, 0u);
  SLUICE_ASSERT_LE(config_.read_latency_min, config_.read_latency_max);
  SLUICE_ASSERT_LE(config_.write_latency_min, config_.write_latency_max);
  SLUICE_ASSERT_LE(config_.sync_latency_min, config_.sync_latency_max);
}

SimDisk::~SimDisk() {
  // An open SimFile points into this disk; it must not outlive it.
  SLUICE_ASSERT_EQ(state_->open_files, 0u);
}

void SimDisk::crash(Prng& prng) { state_->crash(prng); }

bool SimDisk::flip_bit(std::string_view path, uint64_t offset, uint8_t bit) {
  if (!runtime::validate_path(path).ok()) return false;
  Result<PathLookup> found = state_->lookup(path);
  if (!found.ok() || found->inode == 0) return false;
  const Inode& file = state_->inode(found->inode);
  if (file.kind != InodeKind::file || offset >= file.data.size()) return false;
  state_->flip(found->inode, offset, bit);
  return true;
}

std::string SimDisk::flip_random_bit(Prng& prng) {
  const auto files = state_->named_files();
  if (files.empty()) return "";
  auto next = [&prng] { return prng.next(); };
  // Every stored byte is equally likely to rot, as on a real disk: a file is hit in proportion to
  // its size (small metadata files rarely, which their own copies and checksums must survive).
  uint64_t total_bytes = 0;
  for (const auto& [path, id] : files) total_bytes += state_->inode(id).data.size();
  uint64_t offset = random_below(next, total_bytes);
  for (const auto& [path, id] : files) {
    const uint64_t size = state_->inode(id).data.size();
    if (offset < size) {
      state_->flip(id, offset, static_cast<uint8_t>(random_below(next, 8)));
      return path + "@" + std::to_string(offset);
    }
    offset -= size;
  }
  SLUICE_UNREACHABLE();
}

const SimDisk::Inode* SimDisk::peek_file_inode(std::string_view path) const {
  if (path.empty() || !runtime::validate_path(path).ok()) return nullptr;
  Result<PathLookup> found = state_->lookup(path);
  if (!found.ok() || found->inode == 0 || state_->inode(found->inode).kind != InodeKind::file) return nullptr;
  return &state_->inode(found->inode);
}

std::optional<Bytes> SimDisk::peek_file(std::string_view path) const {
  const Inode* file = peek_file_inode(path);
  if (file == nullptr) return std::nullopt;
  return file->data;
}

std::optional<std::vector<std::string>> SimDisk::peek_dir(std::string_view path) const {
  if (!path.empty() && !runtime::validate_path(path).ok()) return std::nullopt;
  Result<uint64_t> dir = state_->directory(path);
  if (!dir.ok()) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& [name, id] : state_->inode(*dir).entries) names.push_back(name);
  return names;
}

uint64_t SimDisk::used_bytes() const { return state_->used_bytes; }

size_t SimDisk::open_files() const { return state_->open_files; }

// --- The Filesystem view -----------------------------------------------------------------------

enum class Cost { read, write, sync };

// What the view and its files share: latency, fault draws and tracing.
struct DiskAccess {
  SimDisk::State* state;
  const DiskConfig* config;
  DiskFaults* faults;
  DiskEnvironment* environment;

  // Waits out a random latency; not ok means the operation must have no effect.
  Status wait(Cost cost) const {
    runtime::Duration low = config->read_latency_min;
    runtime::Duration high = config->read_latency_max;
    if (cost == Cost::write) {
      low = config->write_latency_min;
      high = config->write_latency_max;
    } else if (cost == Cost::sync) {
      low = config->sync_latency_min;
      high = config->sync_latency_max;
    }
    auto next = [this] { return environment->disk_prng().next(); };
    return environment->disk_delay(runtime::Duration(random_range(next, low.count(), high.count())));
  }

  bool fault(double probability) const {
    auto next = [this] { return environment->disk_prng().next(); };
    return random_chance(next, probability);
  }

  // Traces the operation with its result and passes the result through.
  template <typename R>
  R traced(std::string_view operation, uint64_t detail, R result) const {
    environment->disk_trace(operation, hash_combine(detail, static_cast<uint64_t>(result.code())));
    return result;
  }
};

namespace {

uint64_t detail_of(std::string_view path, uint64_t a = 0, uint64_t b = 0) {
  return hash_combine(hash_combine(hash_bytes(path), a), b);
}

}  // namespace

class SimFile final : public runtime::File {
 public:
  SimFile(DiskAccess access, uint64_t inode, uint64_t path_hash, bool writable)
      : access_(access), inode_(inode), path_hash_(path_hash), writable_(writable) {}
  ~SimFile() override { (void)close(); }
  SimFile(const SimFile&) = delete;
  SimFile& operator=(const SimFile&) = delete;

  Result<size_t> read_at(uint64_t offset, MutableByteSpan out) override {
    SLUICE_TRY(usable(false));
    SLUICE_TRY(access_.wait(Cost::read));
    const uint64_t detail = hash_combine(path_hash_, offset);
    if (access_.fault(access_.faults->read_error_probability)) {
      return access_.traced("read", detail, Result<size_t>(Errc::io_error, "read error (fault)"));
    }
    return access_.traced("read", detail, Result<size_t>(access_.state->read(inode_, offset, out)));
  }

  Status write_at(uint64_t offset, ByteSpan bytes) override {
    SLUICE_TRY(usable(true));
    SLUICE_TRY(access_.wait(Cost::write));
    return access_.traced("write", hash_combine(hash_combine(path_hash_, offset), bytes.size()), write(offset, bytes));
  }

  Result<uint64_t> append(ByteSpan bytes) override {
    SLUICE_TRY(usable(true));
    SLUICE_TRY(access_.wait(Cost::write));
    const uint64_t offset = access_.state->inode(inode_).data.size();
    Status written = write(offset, bytes);
    const uint64_t detail = hash_combine(hash_combine(path_hash_, offset), bytes.size());
    if (!written.ok()) return access_.traced("append", detail, Result<uint64_t>(written));
    return access_.traced("append", detail, Result<uint64_t>(offset));
  }

  Status sync() override {
    SLUICE_TRY(usable(false));
    SLUICE_TRY(access_.wait(Cost::sync));
    // Like Linux: a failed fsync makes nothing durable; the data stays as unsynced as it was.
    if (access_.fault(access_.faults->sync_error_probability)) {
      return access_.traced("sync", path_hash_, Status(Errc::io_error, "sync error (fault)"));
    }
    access_.state->sync(inode_);
    return access_.traced("sync", path_hash_, Status());
  }

  Status truncate(uint64_t size_bytes) override {
    SLUICE_TRY(usable(true));
    SLUICE_TRY(access_.wait(Cost::write));
    return access_.traced("truncate", hash_combine(path_hash_, size_bytes),
                          access_.state->truncate(inode_, size_bytes));
  }

  Result<uint64_t> size() override {
    SLUICE_TRY(usable(false));
    SLUICE_TRY(access_.wait(Cost::read));
    const uint64_t size_bytes = access_.state->inode(inode_).data.size();
    return access_.traced("size", path_hash_, Result<uint64_t>(size_bytes));
  }

  // No latency and no trace: it also runs from destructors while a crashed node is torn down.
  Status close() override {
    if (!open_) return Status();
    open_ = false;
    access_.state->close(inode_);
    return Status();
  }

 private:
  Status usable(bool for_writing) const {
    if (!open_) return Status(Errc::closed, "file is closed");
    if (for_writing && !writable_) return Status(Errc::invalid_argument, "file is open read-only");
    return Status();
  }

  // The write fault comes first: a failed write changes nothing, whatever the space.
  Status write(uint64_t offset, ByteSpan bytes) {
    if (access_.fault(access_.faults->write_error_probability)) return Status(Errc::io_error, "write error (fault)");
    return access_.state->write(inode_, offset, bytes);
  }

  DiskAccess access_;
  uint64_t inode_;
  uint64_t path_hash_;  // of the path it was opened by; folded into trace details
  bool writable_;
  bool open_ = true;
};

class SimFilesystem final : public runtime::Filesystem {
 public:
  SimFilesystem(SimDisk& disk, DiskEnvironment& environment)
      : access_{disk.state_.get(), &disk.config_, &disk.faults_, &environment} {}

  Result<std::unique_ptr<runtime::File>> open(std::string_view path, OpenMode mode) override {
    SLUICE_TRY(runtime::validate_path(path));
    const bool creates = mode == OpenMode::create || mode == OpenMode::create_new;
    SLUICE_TRY(access_.wait(creates ? Cost::write : Cost::read));
    Result<uint64_t> opened = access_.state->open(path, mode);
    access_.environment->disk_trace("open", hash_combine(detail_of(path, static_cast<uint64_t>(mode)),
                                                         static_cast<uint64_t>(opened.code())));
    if (!opened.ok()) return opened.status();
    std::unique_ptr<runtime::File> file =
        std::make_unique<SimFile>(access_, *opened, hash_bytes(path), mode != OpenMode::read_only);
    return Result<std::unique_ptr<runtime::File>>(std::move(file));
  }

  Status create_dirs(std::string_view path) override {
    SLUICE_TRY(runtime::validate_path(path));  // "" (the root) always exists: not a path to create
    SLUICE_TRY(access_.wait(Cost::write));
    return access_.traced("create_dirs", detail_of(path), access_.state->create_dirs(path));
  }

  Status rename(std::string_view from, std::string_view to) override {
    SLUICE_TRY(runtime::validate_path(from));
    SLUICE_TRY(runtime::validate_path(to));
    SLUICE_TRY(access_.wait(Cost::write));
    return access_.traced("rename", detail_of(from, hash_bytes(to)), access_.state->rename(from, to));
  }

  Status remove(std::string_view path) override {
    SLUICE_TRY(runtime::validate_path(path));
    SLUICE_TRY(access_.wait(Cost::write));
    return access_.traced("remove", detail_of(path), access_.state->remove(path));
  }

  Result<std::vector<std::string>> list(std::string_view dir) override {
    if (!dir.empty()) SLUICE_TRY(runtime::validate_path(dir));
    SLUICE_TRY(access_.wait(Cost::read));
    Result<std::vector<std::string>> names = access_.state->list(dir);
    return access_.traced("list", detail_of(dir, names.ok() ? names->size() : 0), std::move(names));
  }

  Result<bool> exists(std::string_view path) override {
    SLUICE_TRY(runtime::validate_path(path));
    SLUICE_TRY(access_.wait(Cost::read));
    const bool found = access_.state->exists(path);
    return access_.traced("exists", detail_of(path, found), Result<bool>(found));
  }

  Result<uint64_t> file_size(std::string_view path) override {
    SLUICE_TRY(runtime::validate_path(path));
    SLUICE_TRY(access_.wait(Cost::read));
    Result<uint64_t> size_bytes = access_.state->file_size(path);
    return access_.traced("file_size", detail_of(path, size_bytes.ok() ? *size_bytes : 0), std::move(size_bytes));
  }

  Status sync_dir(std::string_view dir) override {
    if (!dir.empty()) SLUICE_TRY(runtime::validate_path(dir));
    SLUICE_TRY(access_.wait(Cost::sync));
    return access_.traced("sync_dir", detail_of(dir), access_.state->sync_dir(dir));
  }

 private:
  DiskAccess access_;
};

std::unique_ptr<runtime::Filesystem> make_sim_filesystem(SimDisk& disk, DiskEnvironment& environment) {
  return std::make_unique<SimFilesystem>(disk, environment);
}

}  // namespace sluice::sim
