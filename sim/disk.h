// The simulated disk of one node: a page-cache model where data and directory entries are
// volatile until synced, with injectable faults. A SimDisk outlives crashes of its node (it is
// the node's persistent state); the Filesystem view is rebuilt with each restart.
//
// Durability model (what a crash keeps):
//  - File data: a File::sync() makes every earlier write/truncate of that file durable. At a
//    crash, unsynced operations of each file survive only as an in-order prefix, and the first
//    lost write may instead be torn: a prefix of its 512-byte sectors lands.
//  - Directory entries: create, rename and remove become durable only with sync_dir(parent).
//    At a crash each directory reverts to its last synced entries; a file no durable entry names
//    is gone. A rename across directories needs sync_dir of both parents; with only one synced a
//    crash may leave the file under both names (one inode) or under neither.
//  - Directories are entries too: a directory created by create_dirs needs sync_dir of its
//    parent, or it (and everything in it) is gone after a crash.
//  - Handles are inode-based: an open File keeps reading and writing after its path is renamed
//    or removed; a removed file's space is freed when its last handle closes.
//  - Capacity counts the current size of every file that is named or open; a write or truncate
//    that would grow past it fails whole with no_space.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/random.h"
#include "runtime/fs.h"
#include "runtime/time.h"

namespace sluice::sim {

// What a node's filesystem view needs from the simulated world.
class DiskEnvironment {
 public:
  virtual ~DiskEnvironment() = default;
  // Randomness for latency and fault decisions (seeded; part of the world's determinism).
  virtual Prng& disk_prng() = 0;
  // Parks the calling fiber for a simulated I/O latency. Returns cancelled when the node is
  // shutting down (the operation then has no effect).
  virtual runtime::Status disk_delay(runtime::Duration latency) = 0;
  // Folds one disk event into the trace hash.
  virtual void disk_trace(std::string_view operation, uint64_t detail) = 0;
};

struct DiskConfig {
  uint64_t capacity_bytes = 1ULL << 30;  // sum of file sizes (volatile view); beyond it: no_space
  size_t open_files_max = 1024;
  uint32_t sector_bytes = 512;           // tearing granularity
  runtime::Duration read_latency_min = std::chrono::microseconds(20);
  runtime::Duration read_latency_max = std::chrono::microseconds(200);
  runtime::Duration write_latency_min = std::chrono::microseconds(10);
  runtime::Duration write_latency_max = std::chrono::microseconds(100);
  runtime::Duration sync_latency_min = std::chrono::microseconds(500);
  runtime::Duration sync_latency_max = std::chrono::milliseconds(5);
};

// Probabilistic faults, changeable at any time (the scenario's fault schedule sets them).
struct DiskFaults {
  double read_error_probability = 0;   // read_at fails with io_error
  double write_error_probability = 0;  // write_at/append fail with io_error, nothing written
  double sync_error_probability = 0;   // sync fails with io_error; data stays unsynced
  double torn_write_probability = 0.5; // at a crash: the first lost write is torn, not dropped
  bool full = false;                   // every growth fails with no_space (a full disk)
};

class SimDisk {
 public:
  explicit SimDisk(DiskConfig config = {});
  ~SimDisk();
  SimDisk(const SimDisk&) = delete;
  SimDisk& operator=(const SimDisk&) = delete;

  const DiskConfig& config() const { return config_; }
  DiskFaults& faults() { return faults_; }

  // Power loss: reverts to durable state as described above. Every open file of the old
  // Filesystem view must be closed first (the node's fibers and objects are gone by then);
  // asserts otherwise. The destructor asserts the same: a File must not outlive its disk.
  void crash(Prng& prng);

  // Flips one bit of durable-and-current data, as a bad sector or cosmic ray would: reads see it
  // at once and it survives a crash (unless an unsynced write of that byte lands over it).
  // Returns false if the path is invalid, missing, a directory, or the offset is past its end.
  bool flip_bit(std::string_view path, uint64_t offset, uint8_t bit);
  // Flips a random bit of a random stored byte (every byte of every file equally likely); returns
  // "path@offset" or "" when no file holds data.
  std::string flip_random_bit(Prng& prng);

  // For checkers, outside simulated time: what reads see now (no latency, no faults). nullopt if
  // the path is invalid, missing or not of that kind.
  std::optional<Bytes> peek_file(std::string_view path) const;
  std::optional<std::vector<std::string>> peek_dir(std::string_view path) const;

  uint64_t used_bytes() const;  // what capacity_bytes limits
  size_t open_files() const;    // handles open now, over all views

 private:
  friend class SimFilesystem;
  friend class SimFile;
  friend struct DiskAccess;
  struct Inode;
  struct State;

  // The file at `path` as reads see it now; null if the path is invalid, missing or not a file.
  const Inode* peek_file_inode(std::string_view path) const;

  DiskConfig config_;
  DiskFaults faults_;
  std::unique_ptr<State> state_;
};

// The runtime::Filesystem a node sees, over its SimDisk. Every operation except File::close
// costs simulated latency (disk_delay, drawn before anything happens; a failed delay means the
// operation had no effect) and is then traced. Invalid paths fail first, with no latency. The
// view must not outlive `disk` or `environment`.
std::unique_ptr<runtime::Filesystem> make_sim_filesystem(SimDisk& disk, DiskEnvironment& environment);

}  // namespace sluice::sim
