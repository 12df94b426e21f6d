// The partition log as the Raft log (docs/partition.md). One Raft entry is one record batch of a
// log::Log: the batch's term is the entry's term, attribute bits 0-1 its type, and its one record's
// value the entry's data. Raft indexes are consecutive while record offsets advance by the
// records of each batch, so the storage keeps, in memory, the base offset of every retained
// entry's batch (rebuilt at open from the batch headers alone).
//
// What cannot be derived from the batches lives in the state file (docs/formats/raft-state.md),
// written atomically: hard state, membership, the log base (index and term before the first
// retained batch, and that batch's record offset) and the generation of the log directory. A
// log-start jump builds an empty log in a new generation directory; the state file naming it is
// the commit point, so a crash leaves either the old log with the old state or the new one.
//
// Directory `dir`: `raft-state` (state file), `raft-state.tmp` (being written; removed on open),
// `log-<generation, 20 digits>/` (the log; others are removed on open).
//
// Driven by one fiber (the partition's), like the Log. Errors are raft::Status values: io_error
// (file system, full disk included), invalid_state (persisted data is damaged or contradicts
// itself: the replica needs repair, it is never reset), invalid_argument (a call that breaks the
// rules below), compacted / unavailable (reads outside the log).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "node/base/planted_bug.h"
#include "node/log/log.h"
#include "node/multiraft/group_storage.h"
#include "node/raft/storage.h"
#include "runtime/fs.h"

namespace sluice::partition {

struct RaftStorageOptions {
  log::LogOptions log;
  // The membership of a group member created from nothing (no state file yet).
  raft::ConfState bootstrap;
  // A partition's storage: a normal entry's data is a record batch stamped for its place (base
  // offset = the log's end, term = the entry's), stored as is and read back as is. Otherwise (and
  // always for no-ops and membership changes) an entry's data is the one record of a batch the
  // storage builds.
  bool entries_are_batches = false;
  // The newest entries kept in memory (up to this many payload bytes; 0: none): committed entries
  // handed to apply and the entries a leader sends a follower that is nearly caught up come from
  // here instead of a read of the log (a disk round trip, a CRC pass and a decode each).
  uint64_t tail_bytes_max = 8 << 20;
  // Test only: replica_forgets_deleted_term ignores a tombstone (bury()).
  PlantedBug planted_bug = PlantedBug::none;
};

// What is (or will be, after sync) in the state file.
struct PersistedRaftState {
  raft::HardState hard_state;
  raft::ConfState conf_state;
  uint64_t generation = 1;         // the log lives in log-<generation>/
  raft::Index base_index = 0;      // first retained entry is base_index + 1
  raft::Term base_term = 0;        // term of entry base_index
  uint64_t start_offset = 0;       // record offset of entry base_index + 1's batch
  raft::ConfState base_conf_state; // the membership in force at base_index (index <= base_index)

  friend bool operator==(const PersistedRaftState&, const PersistedRaftState&) = default;
};

class LogRaftStorage final : public multiraft::GroupStorage {
 public:
  // Opens (recovering) or creates the storage in `dir` (created if missing; "" is not allowed).
  static raft::Result<std::unique_ptr<LogRaftStorage>> open(runtime::Filesystem& fs, std::string dir,
                                                            RaftStorageOptions options);
  // Tombstones (docs/partition.md "Tombstones"). A node may delete its replica of a group
  // that goes on without it and later host the group again under the same node id. The new
  // replica must not vote in a term the old one voted in, nor count as a voter before it has
  // caught up (a quorum may have counted the old one's acknowledgements), so before the directory
  // goes its state file is moved to `<dir>.tombstone`; storage created afresh in `dir` then starts
  // in the tombstone's term with its vote withheld (as after a log loss) and removes it.
  // Nothing to do when `dir` has no state file (it never voted or acknowledged anything).
  static raft::Status bury(runtime::Filesystem& fs, const std::string& dir);
  // Removes `dir`'s tombstone (the group ended everywhere: no replica of it will come back).
  static raft::Status remove_tombstone(runtime::Filesystem& fs, const std::string& dir);
  // Rewrites a damaged copy of `dir`'s state file from the other while no storage has `dir` open
  // (docs/formats/raft-state.md "Scrub"). True when it rewrote one; false when there was nothing to
  // do (no file, both copies good); an error when the file cannot be read or both are damaged.
  static raft::Result<bool> scrub_at_rest(runtime::Filesystem& fs, const std::string& dir);
  static std::string tombstone_path(std::string_view dir);
  static constexpr std::string_view kTombstoneSuffix = ".tombstone";  // tombstone_path's
  // What every invalid_state error about a damaged state file starts with (the simulator tells a
  // node that cannot start for that reason from other failures by it).
  static constexpr std::string_view kDamagedStateMessage = "raft state file: ";
  // What an invalid_state error about log damage that repair mode cannot cut starts with (a gap
  // between sealed segments, a sync mark naming another segment): no retry opens that log either.
  static constexpr std::string_view kLogBeyondRepairMessage = "log beyond repair: ";
  // The error (of open(), or wrapped by a caller) says the replica's durable state is lost for good:
  // no retry opens it, its term and vote may not be guessed, and entries it acknowledged may be gone
  // (docs/controller.md, "Lost replicas").
  static bool state_lost(std::string_view error_message) {
    return error_message.find(kDamagedStateMessage) != std::string_view::npos ||
           error_message.find(kLogBeyondRepairMessage) != std::string_view::npos;
  }
  ~LogRaftStorage() override;
  LogRaftStorage(const LogRaftStorage&) = delete;
  LogRaftStorage& operator=(const LogRaftStorage&) = delete;

  // --- raft::RaftLogStorage (reads) ---
  // The hard state and membership as last saved (durable only after sync()).
  raft::InitialState initial_state() override { return {pending_.hard_state, pending_.conf_state}; }
  raft::Index first_index() override { return pending_.base_index + 1; }
  raft::Index last_index() override { return pending_.base_index + batch_offsets_.size(); }
  raft::Result<raft::Term> term(raft::Index index) override;
  raft::Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi, uint64_t bytes_max) override;
  raft::ConfState base_conf_state() override { return pending_.base_conf_state; }

  // --- writes, in the order of the Ready contract (node/raft/ready.h) ---
  // 1. Discards the log: it restarts empty after jump.index / jump.term, its first record at
  //    `start_offset` (default: the current end offset). Takes effect durably at sync().
  raft::Status apply_log_start_jump(const raft::LogStartJump& jump, std::optional<uint64_t> start_offset = {});
  raft::Status reset_to(const raft::LogStartJump& jump) override { return apply_log_start_jump(jump); }
  // 2. Appends entries continuing the log at or before its end; the stable suffix from
  //    entries[0].index on is removed first (durably, as a conflict requires).
  raft::Status append(std::span<const raft::Entry> entries) override;
  // 3. Records hard state and membership (either may be absent: unchanged).
  void save_state(const std::optional<raft::HardState>& hard_state,
                  const std::optional<raft::ConfState>& conf_state) override;
  // 4. Everything above is durable when this returns ok: the log is synced, then the state file
  //    written. After a failure the storage may be unusable (log `failed`): reopen it.
  raft::Status sync() override;

  // Retention: removes entries up to `index`, which becomes the log base. Entry index + 1 must
  // start a segment (whole segments only: see index_before_offset). Durable when it returns.
  // Not allowed while a log-start jump awaits sync().
  raft::Status truncate_prefix_to(raft::Index index);
  // The index of the last entry before record offset `offset`, which must start a batch or be the
  // log's end: maps log::retention_cut's offset to the argument of truncate_prefix_to.
  raft::Result<raft::Index> index_before_offset(uint64_t offset) const;
  // Record offset of entry `index`'s batch (first_index <= index <= last_index).
  raft::Result<uint64_t> offset_of(raft::Index index) const;

  // Reads for the partition (fetch, list offsets), by record offset; log::Errc errors.
  // Damage found here fails later sync() calls, like damage found by entries() (see there).
  log::Result<log::ReadResult> read_batches(uint64_t from_offset, size_t bytes_max);
  // A read found damaged data since open: the replica is to be reopened (Replica::needs_reopen).
  bool read_damaged() const { return read_damage_.has_value(); }
  log::Result<uint64_t> offset_for_timestamp(int64_t timestamp_ms) { return log_->offset_for_timestamp(timestamp_ms); }

  const log::Log& log() const { return *log_; }
  // Set when open() found damaged synced data in the log and cut it off (the vote is withheld
  // until the replica caught up): what was damaged. For a log line and tests.
  const std::optional<std::string>& repaired_damage() const { return repair_notes_; }
  const PersistedRaftState& durable_state() const { return durable_; }

  // Reads the state file back and rewrites it from memory when it does not hold what was written
  // last (GroupStorage::scrub). An error: the rewrite failed.
  raft::Status scrub() override;
  // State files the scrub found damaged and rewrote.
  uint64_t state_file_repairs() const { return state_file_repairs_; }

 private:
  LogRaftStorage(runtime::Filesystem& fs, std::string dir, RaftStorageOptions options);

  raft::Status recover();
  raft::Status create_fresh();
  raft::Result<std::optional<raft::Term>> buried_term();
  raft::Status remove_stale_generations(std::optional<uint64_t> keep);
  raft::Status scan_batch_offsets();
  raft::Status write_state(const PersistedRaftState& state);
  raft::Status write_state_file(const PersistedRaftState& state);
  // A state write in two steps: the temporary file written and synced, then renamed over the file.
  static raft::Status write_state_temp(runtime::Filesystem& fs, const std::string& dir, const PersistedRaftState& state);
  static raft::Status install_state_temp(runtime::Filesystem& fs, const std::string& dir);
  raft::Result<Bytes> read_state_file();
  raft::Result<std::unique_ptr<log::Log>> open_log(uint64_t generation, uint64_t initial_offset, bool repair = false);
  raft::Status open_live_log(bool repair, bool& data_damaged);
  raft::Status note_read_damage(raft::Status status);
  raft::Result<std::vector<raft::Entry>> read_entries(raft::Index lo, raft::Index hi, uint64_t bytes_max);
  raft::Status repair_damaged_log(const raft::Status& damage);
  raft::Status commit_within_log();
  raft::Status remove_log_dir(const std::string& name);
  raft::Result<raft::Entry> decode_entry(ByteSpan batch, raft::Index index) const;
  raft::Result<Bytes> entry_batch(const raft::Entry& entry) const;
  raft::Result<raft::ConfState> conf_state_at(raft::Index index);
  raft::Status buggify_pause();
  void check_offsets() const;

  runtime::Filesystem& fs_;
  std::string dir_;
  RaftStorageOptions options_;
  std::unique_ptr<log::Log> log_;
  PersistedRaftState durable_;  // what the state file holds
  PersistedRaftState pending_;  // what sync() will write
  // batch_offsets_[i]: base offset of entry pending_.base_index + 1 + i. Memory: 8 bytes/entry.
  std::vector<uint64_t> batch_offsets_;
  // Indexes of the conf-change entries in the log, ascending: retention finds the membership in
  // force at its new base from the last one it removes (a handful; rebuilt by the open scan).
  std::vector<raft::Index> conf_change_indexes_;
  std::optional<std::string> repair_notes_;
  std::optional<std::string> read_damage_;  // a read found damaged data: sync() fails from then on
  bool state_file_settled_ = true;  // false after a state write that failed part-way
  uint64_t state_file_repairs_ = 0;
  // The in-memory tail: entries [tail_.front().index, last_index()], exactly as appended.
  std::deque<raft::Entry> tail_;
  uint64_t tail_bytes_ = 0;
  void tail_push(const raft::Entry& entry);
  void tail_drop_from(raft::Index index);
  void tail_drop_through(raft::Index index);
};

// The state record's bytes (docs/formats/raft-state.md); pure, for tests and tools.
inline constexpr size_t kStateFileBytesMax = 32 * 1024;  // one record
Bytes encode_raft_state(const PersistedRaftState& state);
raft::Result<PersistedRaftState> decode_raft_state(ByteSpan bytes);

// The state file holds the record twice, back to back (docs/formats/raft-state.md, "Two
// copies"): one flipped bit on the disk would otherwise make the replica unopenable for good,
// since a hard state is never replaced by a guess. Both copies are written by one atomic rename,
// so they never differ in time: a valid copy is the current state. A file of one record (written
// before the copies) still reads. `copy_damaged`: one copy was unusable (rewrite the file).
struct RaftStateFile {
  PersistedRaftState state;
  bool copy_damaged = false;
};
Bytes encode_raft_state_file(const PersistedRaftState& state);
raft::Result<RaftStateFile> decode_raft_state_file(ByteSpan bytes);

}  // namespace sluice::partition
