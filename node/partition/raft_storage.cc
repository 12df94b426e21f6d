#include "node/partition/raft_storage.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "node/base/coverage.h"
#include "node/log/crc32c.h"
#include "node/log/endian.h"
#include "node/log/segment_io.h"

namespace sluice::partition {
namespace {

bool differs_only_in_commit(const PersistedRaftState& a, const PersistedRaftState& b) {
  PersistedRaftState same = a;
  same.hard_state.commit = b.hard_state.commit;
  return same == b && a.hard_state.commit != b.hard_state.commit;
}

using log::detail::get_le;
using log::detail::put_le;
using raft::Errc;
using raft::Index;
using raft::Status;
using raft::Term;

constexpr uint32_t kStateMagic = 0x53524C53u;  // bytes "SLRS"
constexpr uint16_t kStateVersion = 3;          // written; versions 1 (no flags byte) and 2 (no base membership) are read
constexpr uint8_t kStateFlagVoteWithheld = 1;  // byte 77, version 2
constexpr size_t kStateFixedBytes = 80;  // up to the node sets
constexpr size_t kStateBaseConfFixedBytes = 12;  // version 3: base membership index, auto-leave, reserved
constexpr size_t kStateCrcBytes = 4;
constexpr char kStateFile[] = "raft-state";
constexpr char kStateTempFile[] = "raft-state.tmp";
constexpr char kLogDirPrefix[] = "log-";
// One Log::read while collecting entries; a batch above it still comes whole.
constexpr size_t kEntriesReadBytesMax = 256 * 1024;
// Header reads while rebuilding the offset map: sequential windows, one read per window.
constexpr size_t kScanWindowBytes = 64 * 1024;

Status from_log(const log::Status& status, std::string_view context) {
  if (status.ok()) return Status();
  const bool damaged = status.code() == log::Errc::corruption || status.code() == log::Errc::crc_mismatch ||
                       status.code() == log::Errc::invalid_batch || status.code() == log::Errc::truncated_batch;
  const Errc code = damaged                                         ? Errc::invalid_state
                    : status.code() == log::Errc::invalid_argument ? Errc::invalid_argument
                    : status.code() == log::Errc::no_space         ? Errc::no_space
                                                                   : Errc::io_error;
  return Status(code, std::string(context) + ": " + status.to_string());
}

Status from_runtime(const runtime::Status& status, std::string_view context) {
  if (status.ok()) return Status();
  const Errc code = status.code() == runtime::Errc::no_space ? Errc::no_space : Errc::io_error;
  return Status(code, std::string(context) + ": " + status.to_string());
}

std::string join(std::string_view dir, std::string_view name) { return log::join_path(dir, name); }

std::string log_dir_name(uint64_t generation) {
  char name[32];
  std::snprintf(name, sizeof name, "%s%020llu", kLogDirPrefix, static_cast<unsigned long long>(generation));
  return name;
}

// The node sets in file order.
std::array<const std::set<raft::NodeId>*, 4> node_sets(const raft::ConfState& conf) {
  return {&conf.voters, &conf.voters_outgoing, &conf.learners, &conf.learners_next};
}

Status damaged(std::string what) { return Status(Errc::invalid_state, std::string(LogRaftStorage::kDamagedStateMessage) + std::move(what)); }

}  // namespace

// --- state file codec ----------------------------------------------------------------------------

namespace {

size_t node_sets_bytes(const raft::ConfState& conf) {
  size_t bytes = 0;
  for (const std::set<raft::NodeId>* ids : node_sets(conf)) bytes += 4 + 8 * ids->size();
  return bytes;
}

size_t put_node_sets(std::byte* p, size_t at, const raft::ConfState& conf) {
  for (const std::set<raft::NodeId>* ids : node_sets(conf)) {
    put_le<uint32_t>(p + at, static_cast<uint32_t>(ids->size()));
    at += 4;
    for (raft::NodeId id : *ids) {
      put_le<uint64_t>(p + at, id);
      at += 8;
    }
  }
  return at;
}

// Reads the four node sets at `at` (advanced past them), not beyond `end`.
Status get_node_sets(const std::byte* p, size_t& at, size_t end, raft::ConfState& conf) {
  std::set<raft::NodeId>* sets[4] = {&conf.voters, &conf.voters_outgoing, &conf.learners, &conf.learners_next};
  for (std::set<raft::NodeId>* ids : sets) {
    if (end - at < 4) return damaged("node set runs past the end");
    const uint32_t count = get_le<uint32_t>(p + at);
    at += 4;
    if (count > raft::kConfNodesMax || (end - at) / 8 < count) return damaged("bad node count");
    for (uint32_t i = 0; i < count; ++i, at += 8) {
      const raft::NodeId id = get_le<uint64_t>(p + at);
      if (id == raft::kNoNode || (!ids->empty() && id <= *ids->rbegin())) return damaged("node ids not ascending");
      ids->insert(id);
    }
  }
  return Status();
}

}  // namespace

Bytes encode_raft_state(const PersistedRaftState& state) {
  const raft::ConfState& conf = state.conf_state;
  const raft::ConfState& base_conf = state.base_conf_state;
  const size_t total = kStateFixedBytes + node_sets_bytes(conf) + kStateBaseConfFixedBytes + node_sets_bytes(base_conf) +
                       kStateCrcBytes;
  Bytes out(total);
  std::byte* p = out.data();
  put_le<uint32_t>(p, kStateMagic);
  put_le<uint16_t>(p + 4, kStateVersion);
  put_le<uint16_t>(p + 6, 0);
  put_le<uint32_t>(p + 8, static_cast<uint32_t>(total));
  put_le<uint64_t>(p + 12, state.hard_state.term);
  put_le<uint64_t>(p + 20, state.hard_state.vote);
  put_le<uint64_t>(p + 28, state.hard_state.commit);
  put_le<uint64_t>(p + 36, state.generation);
  put_le<uint64_t>(p + 44, state.base_index);
  put_le<uint64_t>(p + 52, state.base_term);
  put_le<uint64_t>(p + 60, state.start_offset);
  put_le<uint64_t>(p + 68, conf.index);
  put_le<uint8_t>(p + 76, conf.auto_leave ? 1 : 0);
  put_le<uint8_t>(p + 77, state.hard_state.vote_withheld ? kStateFlagVoteWithheld : 0);  // bytes 78..79 stay 0
  size_t at = put_node_sets(p, kStateFixedBytes, conf);
  put_le<uint64_t>(p + at, base_conf.index);
  put_le<uint8_t>(p + at + 8, base_conf.auto_leave ? 1 : 0);  // 3 reserved bytes stay 0
  at = put_node_sets(p, at + kStateBaseConfFixedBytes, base_conf);
  put_le<uint32_t>(p + at, log::crc32c(ByteSpan(out).first(at)));
  return out;
}

raft::Result<PersistedRaftState> decode_raft_state(ByteSpan bytes) {
  if (bytes.size() < kStateFixedBytes + kStateCrcBytes) return damaged("shorter than its fixed part");
  if (bytes.size() > kStateFileBytesMax) return damaged("larger than " + std::to_string(kStateFileBytesMax) + " bytes");
  const std::byte* p = bytes.data();
  if (get_le<uint32_t>(p) != kStateMagic) return damaged("bad magic");
  if (get_le<uint32_t>(p + 8) != bytes.size()) return damaged("length field does not match the file size");
  const size_t crc_at = bytes.size() - kStateCrcBytes;
  if (get_le<uint32_t>(p + crc_at) != log::crc32c(bytes.first(crc_at))) return damaged("CRC mismatch");
  const uint16_t version = get_le<uint16_t>(p + 4);
  if (version < 1 || version > kStateVersion) return damaged("unknown version");
  // Version 1 had no flags: byte 77 was reserved, so it reads as "vote not withheld".
  const uint8_t flags = get_le<uint8_t>(p + 77);
  const uint8_t flags_known = version == 1 ? 0 : kStateFlagVoteWithheld;
  if (get_le<uint16_t>(p + 6) != 0 || (flags & ~flags_known) != 0 || get_le<uint16_t>(p + 78) != 0) {
    return damaged("reserved bytes set");
  }
  PersistedRaftState state;
  state.hard_state = {get_le<uint64_t>(p + 12), get_le<uint64_t>(p + 20), get_le<uint64_t>(p + 28),
                      (flags & kStateFlagVoteWithheld) != 0};
  state.generation = get_le<uint64_t>(p + 36);
  state.base_index = get_le<uint64_t>(p + 44);
  state.base_term = get_le<uint64_t>(p + 52);
  state.start_offset = get_le<uint64_t>(p + 60);
  state.conf_state.index = get_le<uint64_t>(p + 68);
  const uint8_t auto_leave = get_le<uint8_t>(p + 76);
  if (auto_leave > 1) return damaged("bad auto_leave flag");
  state.conf_state.auto_leave = auto_leave == 1;
  if (state.generation == 0) return damaged("generation 0");
  size_t at = kStateFixedBytes;
  SLUICE_TRY(get_node_sets(p, at, crc_at, state.conf_state));
  if (version < 3) {
    // Before version 3 a jump went to max(log base, membership index) and retention did not look
    // at membership: the membership held is the best there is for the base.
    state.base_conf_state = state.conf_state;
    state.base_conf_state.index = std::min(state.base_conf_state.index, state.base_index);
  } else {
    if (crc_at - at < kStateBaseConfFixedBytes) return damaged("base membership runs past the end");
    state.base_conf_state.index = get_le<uint64_t>(p + at);
    const uint8_t base_auto_leave = get_le<uint8_t>(p + at + 8);
    if (base_auto_leave > 1 || get_le<uint8_t>(p + at + 9) != 0 || get_le<uint16_t>(p + at + 10) != 0) {
      return damaged("bad base membership flags");
    }
    state.base_conf_state.auto_leave = base_auto_leave == 1;
    at += kStateBaseConfFixedBytes;
    SLUICE_TRY(get_node_sets(p, at, crc_at, state.base_conf_state));
    if (state.base_conf_state.index > state.base_index) return damaged("base membership after the base");
  }
  if (at != crc_at) return damaged("bytes after the node sets");
  return state;
}

Bytes encode_raft_state_file(const PersistedRaftState& state) {
  const Bytes record = encode_raft_state(state);
  Bytes out(2 * record.size());
  std::copy(record.begin(), record.end(), out.begin());
  std::copy(record.begin(), record.end(), out.begin() + static_cast<std::ptrdiff_t>(record.size()));
  return out;
}

raft::Result<RaftStateFile> decode_raft_state_file(ByteSpan bytes) {
  if (bytes.size() % 2 == 0) {
    const size_t half = bytes.size() / 2;
    raft::Result<PersistedRaftState> first = decode_raft_state(bytes.first(half));
    raft::Result<PersistedRaftState> second = decode_raft_state(bytes.subspan(half));
    if (first.ok() && second.ok()) {
      // Written together by one rename: two valid copies that differ are not a flipped bit.
      if (!(*first == *second)) return damaged("its two copies differ");
      return RaftStateFile{*std::move(first), false};
    }
    if (first.ok() || second.ok()) {
      SLUICE_COVER("partition.raft_storage.state_copy_damaged");
      return RaftStateFile{first.ok() ? *std::move(first) : *std::move(second), true};
    }
  }
  // One record: a file written before the copies. Failing that, the error describes the file as
  // its first length field does (one record, or the first of two copies).
  raft::Result<PersistedRaftState> single = decode_raft_state(bytes);
  if (single.ok()) return RaftStateFile{*std::move(single), false};
  const bool one_record = bytes.size() >= 12 && get_le<uint32_t>(bytes.data() + 8) == bytes.size();
  if (one_record || bytes.size() % 2 != 0) return single.status();
  return decode_raft_state(bytes.first(bytes.size() / 2)).status().with_context("both copies");
}

// --- open and recovery ---------------------------------------------------------------------------

LogRaftStorage::LogRaftStorage(runtime::Filesystem& fs, std::string dir, RaftStorageOptions options)
    : fs_(fs), dir_(std::move(dir)), options_(std::move(options)) {}

LogRaftStorage::~LogRaftStorage() = default;

raft::Result<std::unique_ptr<LogRaftStorage>> LogRaftStorage::open(runtime::Filesystem& fs, std::string dir,
                                                                   RaftStorageOptions options) {
  if (dir.empty()) return Status(Errc::invalid_argument, "raft storage needs its own directory");
  if (log::Status valid = log::validate(options.log); !valid.ok()) return from_log(valid, "log options");
  std::unique_ptr<LogRaftStorage> storage(new LogRaftStorage(fs, std::move(dir), std::move(options)));
  SLUICE_TRY(storage->recover());
  return storage;
}

namespace {
// A state file (or a tombstone) whole; invalid_state when it is too large to be one.
raft::Result<Bytes> read_state_bytes(runtime::Filesystem& fs, const std::string& path) {
  runtime::Result<uint64_t> size = fs.file_size(path);
  SLUICE_TRY(from_runtime(size.status(), path));
  if (*size > 2 * kStateFileBytesMax) return damaged(path + " is " + std::to_string(*size) + " bytes");
  runtime::Result<std::unique_ptr<runtime::File>> file = fs.open(path, runtime::OpenMode::read_only);
  SLUICE_TRY(from_runtime(file.status(), path));
  Bytes out(static_cast<size_t>(*size));
  SLUICE_TRY(from_log(log::read_fully(**file, path, 0, out), "read " + path));
  return out;
}
}  // namespace

Status LogRaftStorage::recover() {
  SLUICE_TRY(from_runtime(fs_.create_dirs(dir_), "create " + dir_));
  SLUICE_TRY(from_runtime(fs_.sync_dir(runtime::parent_dir(dir_)), "sync_dir of the parent of " + dir_));
  // A temporary file is a state write that never reached its rename: the old file is current.
  const std::string temp = join(dir_, kStateTempFile);
  runtime::Result<bool> temp_exists = fs_.exists(temp);
  SLUICE_TRY(from_runtime(temp_exists.status(), temp));
  if (*temp_exists) {
    SLUICE_COVER("partition.raft_storage.state_write_interrupted");
    SLUICE_TRY(from_runtime(fs_.remove(temp), "remove " + temp));
  }

  const std::string path = join(dir_, kStateFile);
  runtime::Result<bool> exists = fs_.exists(path);
  SLUICE_TRY(from_runtime(exists.status(), path));
  if (!*exists) return create_fresh();

  SLUICE_ASSIGN_OR_RETURN(Bytes bytes, read_state_file());
  raft::Result<RaftStateFile> file = decode_raft_state_file(bytes);
  if (!file.ok()) return file.status().with_context(path);
  durable_ = pending_ = file->state;
  // The good copy is the current state: rewritten whole, so a later flip in it is survived too.
  if (file->copy_damaged) SLUICE_TRY(write_state(durable_));
  SLUICE_TRY(remove_stale_generations(durable_.generation));

  // The log directory was made durable before the state file named it: missing means damage.
  const std::string log_dir = join(dir_, log_dir_name(durable_.generation));
  runtime::Result<bool> log_exists = fs_.exists(log_dir);
  SLUICE_TRY(from_runtime(log_exists.status(), log_dir));
  if (!*log_exists) return damaged(log_dir + " named by the state file is missing");
  bool data_damaged = false;
  const Status opened = open_live_log(false, data_damaged);
  if (opened.ok()) check_offsets();
  if (opened.ok()) return commit_within_log();
  return data_damaged ? repair_damaged_log(opened) : opened;
}

raft::Result<Bytes> LogRaftStorage::read_state_file() { return read_state_bytes(fs_, join(dir_, kStateFile)); }

// While the node runs, memory holds what the file should: a copy damaged now (a flipped bit, an
// unreadable sector) is rewritten before the other copy can rot too, which would leave the replica
// unable to open at its next start (a hard state is never guessed). Whatever keeps the file from
// reading back as written, an I/O error included, is answered by writing it again: a rewrite is
// also how a disk remaps a bad sector.
Status LogRaftStorage::scrub() {
  if (!state_file_settled_) return Status();  // a write failed part-way: the group is failing anyway
  raft::Result<Bytes> bytes = read_state_file();
  if (bytes.ok()) {
    raft::Result<RaftStateFile> file = decode_raft_state_file(*bytes);
    if (file.ok() && !file->copy_damaged && file->state == durable_) return Status();
  }
  SLUICE_COVER("partition.raft_storage.state_file_scrub_repaired");
  ++state_file_repairs_;
  return write_state(durable_);
}

// Opens the log the state file names and rebuilds the offset map. `repair`: the log opens in repair
// mode (log::LogOptions::cut_corrupt_tail), cutting damaged synced data off instead of failing.
// `data_damaged` is set when it failed on damaged log data (not on an I/O error or a log that
// contradicts the state file).
Status LogRaftStorage::open_live_log(bool repair, bool& data_damaged) {
  const std::string log_dir = join(dir_, log_dir_name(durable_.generation));
  raft::Result<std::unique_ptr<log::Log>> opened = open_log(durable_.generation, durable_.start_offset, repair);
  data_damaged = !opened.ok() && opened.code() == Errc::invalid_state;
  if (!opened.ok()) return opened.status();
  log_ = std::move(*opened);
  if (repair && log_->end_offset() < durable_.start_offset) return Status();  // all retained entries lost: the caller restarts the log
  // Retention writes the new start to the state file before cutting the log: finish a cut that a
  // crash interrupted.
  if (log_->start_offset() > durable_.start_offset || log_->end_offset() < durable_.start_offset) {
    return damaged("log " + log_dir + " holds offsets [" + std::to_string(log_->start_offset()) + ", " +
                   std::to_string(log_->end_offset()) + "), the state file starts at " + std::to_string(durable_.start_offset));
  }
  if (log_->start_offset() < durable_.start_offset) SLUICE_COVER("partition.raft_storage.retention_cut_finished");
  SLUICE_TRY(from_log(log_->truncate_prefix(durable_.start_offset), "finishing an interrupted retention cut"));
  const Status scanned = scan_batch_offsets();
  data_damaged = scanned.code() == Errc::invalid_state;  // a batch header a trusted index did not show
  return scanned;
}

// The log holds damaged data it had synced (a flipped bit on the disk): opened as it is, it would
// fail forever. The replica gives up its vote first, durably (it may have acknowledged entries it
// is about to lose; docs/raft.md, "Withheld vote"), then opens the log in repair mode, which cuts
// it at the first damaged batch, and re-learns the rest from the leader. Persisting the flag before
// the cut keeps a crash between the two from forgetting that entries were lost. A state file with
// both copies damaged is not this case: a hard state is never replaced by a guess.
Status LogRaftStorage::repair_damaged_log(const Status& damage) {
  SLUICE_COVER("partition.raft_storage.log_damage_repaired");
  log_.reset();
  batch_offsets_.clear();
  if (!durable_.hard_state.vote_withheld) {
    PersistedRaftState withheld = durable_;
    withheld.hard_state.vote_withheld = true;
    SLUICE_TRY(write_state(withheld));
    durable_ = pending_ = withheld;
  }
  bool still_damaged = false;
  const Status repaired = open_live_log(true, still_damaged);
  if (!repaired.ok()) {
    // Damage the repair cannot cut either: on-disk bytes do not heal, so every later open ends
    // here. Said so the node reports the replica lost, which moves it away for good (found by
    // cluster-swarm-leaders seed 1692: the replica named preferred leader never opened again, and
    // its node kept the partition's produce requests waiting). An I/O error stays one to retry.
    if (repaired.code() != Errc::invalid_state) return repaired.with_context("repairing after " + damage.to_string());
    SLUICE_COVER("partition.raft_storage.log_beyond_repair");
    return Status(Errc::invalid_state, std::string(kLogBeyondRepairMessage) + "repairing after " + damage.to_string() + ": " +
                                           repaired.to_string());
  }
  repair_notes_ = damage.to_string();
  if (log_->end_offset() < durable_.start_offset) {
    // Every retained entry was lost: restart the log empty after the base, like a log-start jump.
    SLUICE_COVER("partition.raft_storage.log_damage_lost_everything");
    SLUICE_TRY(apply_log_start_jump(raft::LogStartJump{durable_.base_index, durable_.base_term}, durable_.start_offset));
  }
  // The commit index may lie beyond what is left; so may the conf change the membership came from
  // (the membership itself stays: it was committed). Both come back from the leader.
  pending_.hard_state.commit = std::min(pending_.hard_state.commit, last_index());
  pending_.conf_state.index = std::min(pending_.conf_state.index, pending_.hard_state.commit);
  SLUICE_TRY(from_log(log_->sync(), "sync " + log_->dir()));
  SLUICE_TRY(write_state(pending_));
  const uint64_t old_generation = durable_.generation;
  durable_ = pending_;
  if (old_generation != durable_.generation) (void)remove_log_dir(log_dir_name(old_generation));
  check_offsets();
  return Status();
}

Status LogRaftStorage::create_fresh() {
  SLUICE_TRY(remove_stale_generations(std::nullopt));  // debris of a first open that crashed
  SLUICE_ASSIGN_OR_RETURN(const std::optional<Term> buried, buried_term());
  pending_ = PersistedRaftState{};
  pending_.conf_state = options_.bootstrap;
  pending_.base_conf_state = options_.bootstrap;
  pending_.start_offset = options_.log.initial_offset;
  if (buried) {
    // The core moves to the next term at once, without a vote (Raft::withhold_vote_after_loss).
    SLUICE_COVER("partition.raft_storage.created_over_tombstone");
    pending_.hard_state.term = *buried;
    pending_.hard_state.vote_withheld = true;
  }
  SLUICE_ASSIGN_OR_RETURN(log_, open_log(pending_.generation, pending_.start_offset));
  SLUICE_TRY(write_state(pending_));
  durable_ = pending_;
  if (buried) SLUICE_TRY(remove_tombstone(fs_, dir_));  // the state file holds its term now
  return Status();
}

std::string LogRaftStorage::tombstone_path(std::string_view dir) { return std::string(dir) + std::string(kTombstoneSuffix); }

// The term the tombstone of this directory holds. A tombstone that does not decode still says a
// replica was here: the vote is withheld from term 0 on (it is then held back only until a leader
// of a later term than any it knows has caught it up).
raft::Result<std::optional<Term>> LogRaftStorage::buried_term() {
  if (options_.planted_bug == PlantedBug::replica_forgets_deleted_term) return std::optional<Term>();
  const std::string path = tombstone_path(dir_);
  runtime::Result<bool> exists = fs_.exists(path);
  SLUICE_TRY(from_runtime(exists.status(), path));
  if (!*exists) return std::optional<Term>();
  raft::Result<Bytes> bytes = read_state_bytes(fs_, path);
  if (!bytes.ok() && bytes.status().code() != Errc::invalid_state) return bytes.status();
  raft::Result<RaftStateFile> decoded = bytes.ok() ? decode_raft_state_file(*bytes) : bytes.status();
  if (!decoded.ok()) {
    SLUICE_COVER("partition.raft_storage.tombstone_damaged");
    return std::optional<Term>(Term{0});
  }
  return std::optional<Term>(decoded->state.hard_state.term);
}

Status LogRaftStorage::bury(runtime::Filesystem& fs, const std::string& dir) {
  const std::string state = join(dir, kStateFile);
  runtime::Result<bool> exists = fs.exists(state);
  SLUICE_TRY(from_runtime(exists.status(), state));
  if (!*exists) return Status();
  const std::string tombstone = tombstone_path(dir);
  SLUICE_TRY(from_runtime(fs.rename(state, tombstone), "rename " + state + " to " + tombstone));
  SLUICE_TRY(from_runtime(fs.sync_dir(runtime::parent_dir(dir)), "sync_dir of the parent of " + dir));
  SLUICE_COVER("partition.raft_storage.buried");
  return from_runtime(fs.sync_dir(dir), "sync_dir " + dir);
}

Status LogRaftStorage::remove_tombstone(runtime::Filesystem& fs, const std::string& dir) {
  const std::string tombstone = tombstone_path(dir);
  runtime::Result<bool> exists = fs.exists(tombstone);
  SLUICE_TRY(from_runtime(exists.status(), tombstone));
  if (!*exists) return Status();
  SLUICE_TRY(from_runtime(fs.remove(tombstone), "remove " + tombstone));
  return from_runtime(fs.sync_dir(runtime::parent_dir(dir)), "sync_dir of the parent of " + dir);
}

// Log directories of other generations: an old one whose removal a crash interrupted, or a new
// one built for a log-start jump whose state file was never written.
Status LogRaftStorage::remove_stale_generations(std::optional<uint64_t> keep) {
  runtime::Result<std::vector<std::string>> names = fs_.list(dir_);
  SLUICE_TRY(from_runtime(names.status(), "list " + dir_));
  for (const std::string& name : *names) {
    if (!name.starts_with(kLogDirPrefix) || (keep && name == log_dir_name(*keep))) continue;
    SLUICE_COVER("partition.raft_storage.stale_generation_removed");
    SLUICE_TRY(remove_log_dir(name));
  }
  return Status();
}

Status LogRaftStorage::remove_log_dir(const std::string& name) {
  const std::string path = join(dir_, name);
  return from_runtime(runtime::remove_tree(fs_, path), "remove " + path);
}

raft::Result<std::unique_ptr<log::Log>> LogRaftStorage::open_log(uint64_t generation, uint64_t initial_offset, bool repair) {
  log::LogOptions options = options_.log;
  options.initial_offset = initial_offset;
  options.cut_corrupt_tail = repair;
  // Damage anywhere must be found now, while repair_damaged_log can still cut it off with the vote
  // withheld; found by a read later it would fail the group at every restart.
  options.verify_sealed_segments = true;
  const std::string path = join(dir_, log_dir_name(generation));
  log::Result<std::unique_ptr<log::Log>> opened = log::Log::open(fs_, path, options);
  if (!opened.ok()) return from_log(opened.status(), "open " + path);
  return std::move(*opened);
}

// Rebuilds batch_offsets_ from the batch headers of every segment. The Log verified the active
// segment at open; each header is CRC-checked again here, and offsets must run without gaps.
Status LogRaftStorage::scan_batch_offsets() {
  batch_offsets_.clear();
  conf_change_indexes_.clear();
  uint64_t expected = log_->start_offset();
  for (const log::SegmentInfo& segment : log_->segments()) {
    const std::string path = join(log_->dir(), log::data_file_name(segment.base_offset));
    runtime::Result<std::unique_ptr<runtime::File>> file = fs_.open(path, runtime::OpenMode::read_only);
    SLUICE_TRY(from_runtime(file.status(), path));
    log::FileWindow window(**file, path, segment.size_bytes, kScanWindowBytes);
    uint64_t position = log::kSegmentHeaderBytes;
    while (position < segment.size_bytes) {
      log::Result<ByteSpan> head = window.get(position, log::kBatchHeaderBytes);
      if (!head.ok()) return from_log(head.status(), "scan " + path);
      log::Result<log::BatchHeader> header = log::decode_batch_header(*head, options_.log.batch_bytes_max);
      if (!header.ok() || header->base_offset != expected) {
        return damaged(path + " at " + std::to_string(position) + ": batch header does not continue the log");
      }
      batch_offsets_.push_back(header->base_offset);
      if ((header->attributes & log::kAttributeEntryTypeMask) == static_cast<uint16_t>(raft::EntryType::conf_change)) {
        conf_change_indexes_.push_back(pending_.base_index + batch_offsets_.size());
      }
      expected = header->next_offset();
      position += header->batch_bytes;
    }
  }
  if (expected != log_->end_offset()) return damaged("batch headers end at " + std::to_string(expected));
  return Status();
}

// Temporary file, fsync, rename, sync_dir: a crash leaves the old file or the new one, whole.
Status LogRaftStorage::write_state(const PersistedRaftState& state) {
  // Until the rename and its sync_dir succeed the file holds the old state or the new one; the
  // caller makes durable_ the new one right after, on this fiber.
  state_file_settled_ = false;
  SLUICE_TRY(write_state_file(state));
  state_file_settled_ = true;
  return Status();
}

Status LogRaftStorage::write_state_file(const PersistedRaftState& state) {
  SLUICE_TRY(write_state_temp(fs_, dir_, state));
  // BUGGIFY: the new state is durable under its temporary name only; a crash keeps the old file.
  SLUICE_TRY(buggify_pause());
  return install_state_temp(fs_, dir_);
}

Status LogRaftStorage::write_state_temp(runtime::Filesystem& fs, const std::string& dir, const PersistedRaftState& state) {
  const Bytes bytes = encode_raft_state_file(state);
  const std::string temp = join(dir, kStateTempFile);
  runtime::Result<std::unique_ptr<runtime::File>> file = fs.open(temp, runtime::OpenMode::create);
  SLUICE_TRY(from_runtime(file.status(), temp));
  SLUICE_TRY(from_runtime((*file)->truncate(0), temp));
  SLUICE_TRY(from_runtime((*file)->write_at(0, bytes), temp));
  return from_runtime((*file)->sync(), temp);
}

Status LogRaftStorage::install_state_temp(runtime::Filesystem& fs, const std::string& dir) {
  const std::string temp = join(dir, kStateTempFile);
  SLUICE_TRY(from_runtime(fs.rename(temp, join(dir, kStateFile)), "rename " + temp));
  return from_runtime(fs.sync_dir(dir), "sync_dir " + dir);
}

// The scrub of a closed replica: a node restarting after a crash opens its partition replicas
// only once the controller's metadata says which it hosts, seconds later; a copy that rotted
// shortly before the crash (the running scrub had not come round to it) would meanwhile be the
// replica's only defence against a second flip (found by cluster-swarm-leaders seeds 168 and 391).
raft::Result<bool> LogRaftStorage::scrub_at_rest(runtime::Filesystem& fs, const std::string& dir) {
  const std::string path = join(dir, kStateFile);
  runtime::Result<bool> exists = fs.exists(path);
  SLUICE_TRY(from_runtime(exists.status(), path));
  if (!*exists) return false;
  SLUICE_ASSIGN_OR_RETURN(Bytes bytes, read_state_bytes(fs, path));
  raft::Result<RaftStateFile> file = decode_raft_state_file(bytes);
  if (!file.ok()) return file.status().with_context(path);  // both copies: open() reports it
  if (!file->copy_damaged) return false;
  SLUICE_TRY(write_state_temp(fs, dir, file->state));
  SLUICE_TRY(install_state_temp(fs, dir));
  SLUICE_COVER("partition.raft_storage.state_file_scrubbed_at_rest");
  return true;
}

// --- reads ---------------------------------------------------------------------------------------

raft::Result<Term> LogRaftStorage::term(Index index) {
  if (index < pending_.base_index) return Status(Errc::compacted, "index " + std::to_string(index) + " below the log base");
  if (index == pending_.base_index) return pending_.base_term;
  if (index > last_index()) return Status(Errc::unavailable, "index " + std::to_string(index) + " beyond the log");
  log::Result<uint64_t> term = log_->term_at(batch_offsets_[index - pending_.base_index - 1]);
  if (!term.ok()) return note_read_damage(from_log(term.status(), "term of " + std::to_string(index)));
  return *term;
}

// A read that finds damaged data (a bit flipped on the disk after open) fails every later sync(),
// so the host fails the group and the replica is reopened: open() finds the damage and repairs it
// with the vote withheld. Without this the entry could never be read again (a leader could never
// send it) for as long as the process runs.
Status LogRaftStorage::note_read_damage(Status status) {
  if (status.code() == Errc::invalid_state && !read_damage_) {
    SLUICE_COVER("partition.raft_storage.read_found_damage");
    read_damage_ = status.to_string();
  }
  return status;
}

log::Result<log::ReadResult> LogRaftStorage::read_batches(uint64_t from_offset, size_t bytes_max) {
  log::Result<log::ReadResult> read = log_->read(from_offset, bytes_max);
  if (!read.ok()) (void)note_read_damage(from_log(read.status(), "read at offset " + std::to_string(from_offset)));
  return read;
}

raft::Result<std::vector<raft::Entry>> LogRaftStorage::entries(Index lo, Index hi, uint64_t bytes_max) {
  raft::Result<std::vector<raft::Entry>> found = read_entries(lo, hi, bytes_max);
  if (!found.ok()) return note_read_damage(found.status());
  return found;
}

raft::Result<std::vector<raft::Entry>> LogRaftStorage::read_entries(Index lo, Index hi, uint64_t bytes_max) {
  if (lo <= pending_.base_index) return Status(Errc::compacted, "entry " + std::to_string(lo) + " below the log start");
  if (hi > last_index() + 1 || lo > hi) return Status(Errc::unavailable, "range beyond the log");
  std::vector<raft::Entry> out;
  uint64_t bytes = 0;
  if (!tail_.empty() && lo >= tail_.front().index) {
    SLUICE_ASSERT_EQ(tail_.back().index, last_index());
    for (Index index = lo; index < hi; ++index) {
      const raft::Entry& entry = tail_[index - tail_.front().index];
      bytes += raft::entry_bytes(entry);
      if (!out.empty() && bytes > bytes_max) return out;
      out.push_back(entry);
    }
    return out;
  }
  Index next = lo;
  while (next < hi) {
    const uint64_t offset = batch_offsets_[next - pending_.base_index - 1];
    // No more than the budget asks for (a log read returns at least its first batch anyway).
    const uint64_t budget_left = bytes_max > bytes ? bytes_max - bytes : 1;
    log::Result<log::ReadResult> read = log_->read(offset, static_cast<size_t>(std::min<uint64_t>(kEntriesReadBytesMax, budget_left)));
    if (!read.ok()) return from_log(read.status(), "read entry " + std::to_string(next));
    log::Result<std::vector<ByteSpan>> batches = log::split_batches(read->batches);
    if (!batches.ok()) return from_log(batches.status(), "read entry " + std::to_string(next));
    for (ByteSpan batch : *batches) {
      if (next == hi) break;
      SLUICE_ASSIGN_OR_RETURN(raft::Entry entry, decode_entry(batch, next));
      bytes += raft::entry_bytes(entry);
      if (!out.empty() && bytes > bytes_max) return out;
      out.push_back(std::move(entry));
      ++next;
    }
  }
  return out;
}

void LogRaftStorage::tail_push(const raft::Entry& entry) {
  if (options_.tail_bytes_max == 0) return;
  SLUICE_ASSERT(tail_.empty() || tail_.back().index + 1 == entry.index);
  tail_.push_back(entry);
  tail_bytes_ += raft::entry_bytes(entry);
  while (!tail_.empty() && tail_bytes_ > options_.tail_bytes_max) {
    tail_bytes_ -= raft::entry_bytes(tail_.front());
    tail_.pop_front();
  }
}

void LogRaftStorage::tail_drop_from(Index index) {
  while (!tail_.empty() && tail_.back().index >= index) {
    tail_bytes_ -= raft::entry_bytes(tail_.back());
    tail_.pop_back();
  }
}

void LogRaftStorage::tail_drop_through(Index index) {
  while (!tail_.empty() && tail_.front().index <= index) {
    tail_bytes_ -= raft::entry_bytes(tail_.front());
    tail_.pop_front();
  }
}

raft::Result<raft::Entry> LogRaftStorage::decode_entry(ByteSpan batch, Index index) const {
  const uint64_t offset = batch_offsets_[index - pending_.base_index - 1];
  log::Result<log::BatchHeader> header = log::verify_batch(batch);
  if (!header.ok() || header->base_offset != offset) return damaged("batch of entry " + std::to_string(index) + " is not where the map says");
  raft::Entry entry;
  entry.term = header->term;
  entry.index = index;
  entry.type = static_cast<raft::EntryType>(header->attributes & log::kAttributeEntryTypeMask);
  if (options_.entries_are_batches && entry.type == raft::EntryType::normal) {
    entry.data = SharedBytes(batch.first(header->batch_bytes));
    return entry;
  }
  log::Result<std::vector<log::RecordView>> records = log::decode_records(batch, *header);
  if (!records.ok() || records->size() != 1) return damaged("batch of entry " + std::to_string(index) + " is not one record");
  const ByteSpan value = records->front().value;
  entry.data = SharedBytes(value);
  return entry;
}

raft::Result<Index> LogRaftStorage::index_before_offset(uint64_t offset) const {
  if (offset == log_->end_offset()) return pending_.base_index + batch_offsets_.size();
  auto it = std::lower_bound(batch_offsets_.begin(), batch_offsets_.end(), offset);
  if (it == batch_offsets_.end() || *it != offset) {
    return Status(Errc::invalid_argument, "offset " + std::to_string(offset) + " does not start a retained batch");
  }
  return pending_.base_index + static_cast<Index>(it - batch_offsets_.begin());
}

raft::Result<uint64_t> LogRaftStorage::offset_of(Index index) const {
  if (index <= pending_.base_index) return Status(Errc::compacted, "entry " + std::to_string(index) + " below the log start");
  if (index > pending_.base_index + batch_offsets_.size()) return Status(Errc::unavailable, "entry beyond the log");
  return batch_offsets_[index - pending_.base_index - 1];
}

// --- writes --------------------------------------------------------------------------------------

Status LogRaftStorage::apply_log_start_jump(const raft::LogStartJump& jump, std::optional<uint64_t> start_offset) {
  SLUICE_COVER("partition.raft_storage.log_start_jump");
  // The new log is built beside the current one; sync() switches to it by writing the state file.
  const uint64_t generation = std::max(durable_.generation, pending_.generation) + 1;
  const std::string name = log_dir_name(generation);
  runtime::Result<bool> exists = fs_.exists(join(dir_, name));
  SLUICE_TRY(from_runtime(exists.status(), name));
  if (*exists) SLUICE_TRY(remove_log_dir(name));
  const uint64_t offset = start_offset.value_or(log_->end_offset());
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<log::Log> fresh, open_log(generation, offset));
  if (pending_.generation != durable_.generation) SLUICE_TRY(remove_log_dir(log_dir_name(pending_.generation)));
  log_ = std::move(fresh);
  batch_offsets_.clear();
  conf_change_indexes_.clear();
  tail_.clear();
  tail_bytes_ = 0;
  pending_.generation = generation;
  pending_.base_index = jump.index;
  pending_.base_term = jump.term;
  pending_.start_offset = offset;
  pending_.base_conf_state = jump.conf_state;
  return Status();
}

Status LogRaftStorage::append(std::span<const raft::Entry> entries) {
  if (entries.empty()) return Status();
  const Index first = entries.front().index;
  if (first <= pending_.base_index || first > last_index() + 1) {
    return Status(Errc::invalid_argument, "append at " + std::to_string(first) + " leaves a gap or rewrites the base");
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != first + i) return Status(Errc::invalid_argument, "append with non-consecutive indexes");
  }
  if (first <= last_index()) {
    // A follower's conflicting suffix (entries of a deposed leader) gives way to the new leader's.
    SLUICE_COVER("partition.raft_storage.suffix_replaced");
    const size_t keep = first - pending_.base_index - 1;
    SLUICE_TRY(from_log(log_->truncate_suffix(batch_offsets_[keep]), "replacing the suffix from " + std::to_string(first)));
    batch_offsets_.resize(keep);
    std::erase_if(conf_change_indexes_, [first](Index index) { return index >= first; });
    tail_drop_from(first);
  }
  for (const raft::Entry& entry : entries) {
    Bytes wrapped;
    ByteSpan batch = entry.data;
    if (options_.entries_are_batches && entry.type == raft::EntryType::normal) {
      // The header is enough to check the stamp; Log::append verifies the whole batch.
      log::Result<log::BatchHeader> header = log::decode_batch_header(entry.data, options_.log.batch_bytes_max);
      if (!header.ok() || header->base_offset != log_->end_offset() || header->term != entry.term ||
          (header->attributes & log::kAttributeEntryTypeMask) != 0 || header->batch_bytes != entry.data.size()) {
        return Status(Errc::invalid_argument, "entry " + std::to_string(entry.index) + " is not a batch stamped for offset " +
                                                  std::to_string(log_->end_offset()) + " in term " + std::to_string(entry.term));
      }
    } else {
      SLUICE_ASSIGN_OR_RETURN(wrapped, entry_batch(entry));
      batch = wrapped;
    }
    log::Result<log::AppendResult> appended = log_->append(batch);
    if (!appended.ok()) return from_log(appended.status(), "append entry " + std::to_string(entry.index));
    // Offsets strictly ascend: index_before_offset's binary search and the Raft indexes rely on it.
    if (!batch_offsets_.empty()) SLUICE_ASSERT_LT(batch_offsets_.back(), appended->base_offset);
    batch_offsets_.push_back(appended->base_offset);
    if (entry.type == raft::EntryType::conf_change) conf_change_indexes_.push_back(entry.index);
    tail_push(entry);
  }
  SLUICE_ASSERT_EQ(last_index(), entries.back().index);
  return Status();
}

// An entry the storage wraps: its data as the one record of a batch with no time (timestamp 0, which
// the log leaves out of a segment's first timestamp and its age: docs/formats/log.md). Every replica
// must build the same bytes, and nothing but the entry is the same everywhere: the newest time in
// the log, used before, is not, since retention or a log-start jump removes a different prefix on
// each replica (found by cluster-move-after-retention seed 56: a no-op right after a jump was
// stamped 0 on the jumped replica and with the newest time on the others, and a sealed segment
// differed).
raft::Result<Bytes> LogRaftStorage::entry_batch(const raft::Entry& entry) const {
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = entry.data, .headers = {}};
  log::Result<Bytes> batch = log::encode_batch(log_->end_offset(), entry.term, std::span(&record, 1),
                                               options_.log.batch_bytes_max, static_cast<uint16_t>(entry.type));
  if (!batch.ok()) return from_log(batch.status(), "encode entry " + std::to_string(entry.index));
  return std::move(batch).value();
}

void LogRaftStorage::save_state(const std::optional<raft::HardState>& hard_state,
                                const std::optional<raft::ConfState>& conf_state) {
  // A term never goes back; the state written last is the one a restart finds.
  if (hard_state) SLUICE_ASSERT_GE(hard_state->term, pending_.hard_state.term);
  if (hard_state) pending_.hard_state = *hard_state;
  if (conf_state) pending_.conf_state = *conf_state;
}

Status LogRaftStorage::sync() {
  if (read_damage_) return Status(Errc::invalid_state, "a read found damaged log data; reopen to repair: " + *read_damage_);
  // Entries first: a state file naming a commit index must never precede the entries it covers.
  SLUICE_TRY(from_log(log_->sync(), "sync " + log_->dir()));
  SLUICE_ASSERT_EQ(log_->durable_end_offset(), log_->end_offset());
  if (!batch_offsets_.empty()) SLUICE_ASSERT_LT(batch_offsets_.back(), log_->end_offset());
  if (pending_ == durable_) return Status();
  // A new commit index alone is not worth a state file write and its fsyncs (several per produce
  // otherwise): Raft keeps the commit index volatile, a restart relearns it from the leader, and
  // the file is rewritten, with the newest commit, at the next change that must be durable.
  if (differs_only_in_commit(pending_, durable_)) {
    SLUICE_COVER("partition.raft_storage.commit_left_unwritten");
    return Status();
  }
  // BUGGIFY: the entries are durable, the state naming them (commit, vote, a new log generation)
  // is not: a restart finds the new entries with the old state.
  SLUICE_TRY(buggify_pause());
  // The pending state only moves forward from the durable one.
  SLUICE_ASSERT_GE(pending_.generation, durable_.generation);
  SLUICE_ASSERT_GE(pending_.hard_state.term, durable_.hard_state.term);
  SLUICE_TRY(write_state(pending_));
  const uint64_t old_generation = durable_.generation;
  durable_ = pending_;
  // The old log is garbage now; if removing it fails, open() removes it later.
  if (old_generation != durable_.generation) (void)remove_log_dir(log_dir_name(old_generation));
  return Status();
}

Status LogRaftStorage::truncate_prefix_to(Index index) {
  if (pending_.generation != durable_.generation) return Status(Errc::invalid_argument, "a log-start jump awaits sync()");
  if (index <= pending_.base_index) return Status();
  if (index > last_index()) return Status(Errc::unavailable, "retention beyond the last entry");
  const uint64_t start = index == last_index() ? log_->end_offset() : batch_offsets_[index - pending_.base_index];
  const std::vector<log::SegmentInfo> segments = log_->segments();
  if (std::none_of(segments.begin(), segments.end(), [&](const log::SegmentInfo& s) { return s.base_offset == start; })) {
    return Status(Errc::invalid_argument, "entry " + std::to_string(index + 1) + " does not start a segment");
  }
  SLUICE_ASSIGN_OR_RETURN(const Term base_term, term(index));
  SLUICE_ASSIGN_OR_RETURN(raft::ConfState base_conf, conf_state_at(index));
  // State file first: after a crash open() sees the new start and finishes the cut.
  PersistedRaftState state = durable_;
  // With the newest commit index sync() left unwritten (its entries are durable: it is between
  // Readies), so the file never names a base above its commit.
  if (differs_only_in_commit(pending_, durable_)) state.hard_state.commit = pending_.hard_state.commit;
  state.base_index = index;
  state.base_term = base_term;
  state.start_offset = start;
  state.base_conf_state = base_conf;
  SLUICE_TRY(write_state(state));
  const size_t removed = index - pending_.base_index;
  batch_offsets_.erase(batch_offsets_.begin(), batch_offsets_.begin() + static_cast<std::ptrdiff_t>(removed));
  std::erase_if(conf_change_indexes_, [index](Index conf_index) { return conf_index <= index; });
  tail_drop_through(index);
  durable_ = state;
  pending_.base_index = index;
  pending_.base_term = base_term;
  pending_.start_offset = start;
  pending_.base_conf_state = std::move(base_conf);
  return from_log(log_->truncate_prefix(start), "retention cut at " + std::to_string(start));
}

// The membership in force at `index` (base_index <= index <= last_index): what the last conf-change
// entry up to there resulted in (membership.h: the entry carries it), else the base's. An entry the
// core could not decode changed nothing there either.
raft::Result<raft::ConfState> LogRaftStorage::conf_state_at(Index index) {
  auto after = std::upper_bound(conf_change_indexes_.begin(), conf_change_indexes_.end(), index);
  while (after != conf_change_indexes_.begin()) {
    const Index conf_index = *--after;
    if (conf_index <= pending_.base_index) break;
    SLUICE_ASSIGN_OR_RETURN(std::vector<raft::Entry> found, entries(conf_index, conf_index + 1, 1));
    SLUICE_ASSERT(found.size() == 1 && found.front().type == raft::EntryType::conf_change);
    raft::Result<raft::ConfChangeEntry> decoded = raft::decode_conf_change_entry(found.front().data);
    if (!decoded.ok()) continue;
    raft::ConfState conf = std::move(decoded->result);
    conf.index = conf_index;
    return conf;
  }
  return pending_.base_conf_state;
}

// BUGGIFY: a pause inside a durability window of the storage (a slow disk), so that a crash can
// land in it. Needs options.log.buggify_runtime (the node's runtime; null outside simulations).
Status LogRaftStorage::buggify_pause() {
  runtime::Runtime* runtime = options_.log.buggify_runtime;
  if (runtime == nullptr || !SLUICE_BUGGIFY(*runtime)) return Status();
  SLUICE_COVER("partition.raft_storage.paused");
  return from_runtime(runtime->sleep_for(std::chrono::milliseconds(1 + static_cast<int64_t>(runtime->random_below(5)))),
                      "pause");
}

// The offset map and the log agree: one batch of one record per entry, offsets strictly
// ascending from the log's start to its end. A scan of the whole map, hence simulation-only.
void LogRaftStorage::check_offsets() const {
  if (!coverage::expensive_assertions()) return;
  if (batch_offsets_.empty()) {
    SLUICE_ASSERT_EQ(log_->start_offset(), log_->end_offset());
    return;
  }
  SLUICE_ASSERT_EQ(batch_offsets_.front(), log_->start_offset());
  for (size_t i = 1; i < batch_offsets_.size(); ++i) SLUICE_ASSERT_LT(batch_offsets_[i - 1], batch_offsets_[i]);
  SLUICE_ASSERT_LT(batch_offsets_.back(), log_->end_offset());
}

// repair_damaged_log cuts the log (durably, inside log::Log::open) before it lowers the commit
// index in the state file; a failure or crash in between (a full disk: cluster-swarm-faults seed
// 463) left a clean log ending below the commit index, which the Raft core refuses at every open
// ("commit beyond the last entry"), so the replica never came back. Such a log is repaired again:
// the vote withheld (it was already, before the cut), the commit lowered to the log's end.
Status LogRaftStorage::commit_within_log() {
  if (durable_.hard_state.commit <= last_index()) return Status();
  SLUICE_COVER("partition.raft_storage.commit_beyond_log_repaired");
  return repair_damaged_log(damaged("the log ends at entry " + std::to_string(last_index()) + ", below the commit index " +
                                    std::to_string(durable_.hard_state.commit) + " (a repair that did not finish)"));
}

}  // namespace sluice::partition
