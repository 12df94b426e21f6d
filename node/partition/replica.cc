#include "node/partition/replica.h"

#include <algorithm>
#include <utility>

#include "node/base/assert.h"
#include "node/base/coverage.h"
#include "node/log/codec.h"
#include "node/log/segment_io.h"
#include "node/partition/command.h"

namespace sluice::partition {
namespace {

namespace rt = runtime;

// The host persists through this while fetches read the same log: a fiber mutex keeps one of
// them at a time inside the storage (a Log is driven by one fiber at a time). Reads of what is
// in memory (terms, indexes) need no lock: fibers switch only where they block.
class LockedStorage final : public multiraft::GroupStorage {
 public:
  // The jump hooks carry the partition's state along a log-start jump (Replica::jump_app_state,
  // Replica::install_jump); install runs with the lock held.
  using JumpStateFn = std::function<raft::Result<SharedBytes>(raft::Index index)>;
  using InstallJumpFn = std::function<raft::Status(const raft::LogStartJump& jump)>;
  LockedStorage(std::unique_ptr<LogRaftStorage> storage, rt::Mutex& mutex, JumpStateFn jump_state, InstallJumpFn install_jump)
      : storage_(std::move(storage)), mutex_(mutex), jump_state_(std::move(jump_state)), install_jump_(std::move(install_jump)) {}

  raft::InitialState initial_state() override { return storage_->initial_state(); }
  raft::Index first_index() override { return storage_->first_index(); }
  raft::Index last_index() override { return storage_->last_index(); }
  raft::Result<raft::Term> term(raft::Index index) override { return storage_->term(index); }
  raft::Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi, uint64_t bytes_max) override {
    SLUICE_TRY(lock());
    rt::MutexGuard guard(mutex_);
    return storage_->entries(lo, hi, bytes_max);
  }
  raft::ConfState base_conf_state() override { return storage_->base_conf_state(); }
  raft::Result<SharedBytes> jump_app_state(raft::Index index) override { return jump_state_(index); }
  raft::Status reset_to(const raft::LogStartJump& jump) override {
    SLUICE_TRY(lock());
    rt::MutexGuard guard(mutex_);
    return install_jump_(jump);
  }
  raft::Status append(std::span<const raft::Entry> entries) override {
    SLUICE_TRY(lock());
    rt::MutexGuard guard(mutex_);
    return storage_->append(entries);
  }
  void save_state(const std::optional<raft::HardState>& hard, const std::optional<raft::ConfState>& conf) override {
    storage_->save_state(hard, conf);
  }
  raft::Status sync() override {
    SLUICE_TRY(lock());
    rt::MutexGuard guard(mutex_);
    return storage_->sync();
  }
  raft::Status scrub() override {
    SLUICE_TRY(lock());
    rt::MutexGuard guard(mutex_);
    return storage_->scrub();
  }

 private:
  raft::Status lock() {
    rt::Status locked = mutex_.lock();
    return locked.ok() ? raft::Status() : raft::Status(raft::Errc::io_error, "storage lock: " + locked.to_string());
  }

  std::unique_ptr<LogRaftStorage> storage_;
  rt::Mutex& mutex_;
  JumpStateFn jump_state_;
  InstallJumpFn install_jump_;
};

int64_t wall_ms(rt::Runtime& runtime) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(runtime.wall_now().time_since_epoch()).count();
}

Status storage_status(const raft::Status& status, std::string_view context) {
  return Status(Errc::storage_error, std::string(context) + ": " + status.to_string());
}

Status log_status(const log::Status& status, std::string_view context) {
  const Errc code = status.code() == log::Errc::no_space ? Errc::storage_full : Errc::storage_error;
  return Status(code, std::string(context) + ": " + status.to_string());
}

// Log offsets an entry takes: a partition batch one per record, anything the storage wraps one.
uint64_t log_records_of(const raft::Entry& entry) {
  if (entry.type != raft::EntryType::normal) return 1;
  log::Result<log::BatchHeader> header = log::decode_batch_header(entry.data);
  SLUICE_ASSERT(header.ok() && "a proposed partition entry is a stamped batch");
  return header->record_count;
}

constexpr size_t kReplayBytesMax = 4 << 20;
constexpr size_t kOutcomesMax = 1 << 16;

}  // namespace

Status from_host(const multiraft::HostStatus& status) {
  using multiraft::HostErrc;
  switch (status.code()) {
    case HostErrc::ok: return Status();
    case HostErrc::not_leader:
    case HostErrc::leadership_lost: return Status(Errc::not_leader, status.to_string());
    case HostErrc::timeout: return Status(Errc::timeout, status.to_string());
    case HostErrc::storage_full: return Status(Errc::storage_full, status.to_string());
    case HostErrc::queue_full: return Status(Errc::overloaded, status.to_string());
    case HostErrc::unknown_group: return Status(Errc::unknown_partition, status.to_string());
    case HostErrc::invalid_argument: return Status(Errc::invalid_request, status.to_string());
    case HostErrc::storage_error:
    case HostErrc::group_failed:
    case HostErrc::malformed:
    case HostErrc::group_exists:
    case HostErrc::stopped: break;
  }
  return Status(Errc::storage_error, status.to_string());
}

Replica::Replica(rt::Runtime& runtime, multiraft::RaftHost& host, ReplicaConfig config)
    : runtime_(runtime),
      host_(host),
      config_(std::move(config)),
      storage_mutex_(runtime.scheduler()),
      state_(config_.state),
      records_arrived_(std::make_shared<rt::Event>(runtime.scheduler())) {}

Replica::~Replica() {
  retention_task_.cancel();
}

Result<std::unique_ptr<Replica>> Replica::open(rt::Runtime& runtime, multiraft::RaftHost& host, ReplicaConfig config) {
  if (config.dir.empty() || config.group == 0) return Result<std::unique_ptr<Replica>>(Errc::invalid_request, "replica needs a dir and a group");
  config.storage.entries_are_batches = true;
  std::unique_ptr<Replica> replica(new Replica(runtime, host, std::move(config)));
  SLUICE_TRY(replica->recover());
  Replica* self = replica.get();
  auto storage = std::make_unique<LockedStorage>(
      std::move(replica->opened_), replica->storage_mutex_, [self](raft::Index index) { return self->jump_app_state(index); },
      [self](const raft::LogStartJump& jump) { return self->install_jump(jump); });
  multiraft::HostStatus added = host.add_group(
      self->config_.group, self->config_.raft, std::move(storage),
      [self](GroupId, const raft::Entry& entry) { self->apply(entry); },
      [self](const raft::RawNode& node, Bytes& data) { return self->prepare(node, data); });
  if (!added.ok()) return Result<std::unique_ptr<Replica>>(from_host(added));
  self->added_to_host_ = true;
  // The host hands out committed entries after its applied index; recover() replayed up to it.
  // recover() replayed up to where it computed the core restarts; the core must agree.
  const raft::Index core_applied = host.group(self->config_.group)->raft().log().applied();
  SLUICE_ASSERT_EQ(core_applied, self->restart_applied_);
  self->retention_task_ = runtime.spawn("partition-retention", [self] { self->retention_loop(); });
  return replica;
}

Status Replica::close() {
  retention_task_.cancel();
  (void)retention_task_.join();
  if (!added_to_host_) return Status();
  auto removed = host_.remove_group(config_.group).receive();
  added_to_host_ = false;
  if (!removed.ok()) return Status(Errc::storage_error, "removing the group: " + removed.status().to_string());
  return removed->ok() || removed->code() == multiraft::HostErrc::unknown_group ? Status() : from_host(removed->status());
}

void plant_bug(ReplicaConfig& config, PlantedBug bug) {
  config.state.planted_bug = bug;
  config.raft.planted_bug = bug;
  config.storage.planted_bug = bug;
  config.storage.log.planted_bug = bug;
  config.planted_bug = bug;
}

// --- recovery ------------------------------------------------------------------------------------

Status Replica::recover() {
  raft::Result<std::unique_ptr<LogRaftStorage>> opened = LogRaftStorage::open(runtime_.fs(), config_.dir, config_.storage);
  if (!opened.ok()) return storage_status(opened.status(), "opening the replica's storage");
  opened_ = std::move(opened).value();
  storage_ = opened_.get();
  const std::string path = log::join_path(config_.dir, kSnapshotFile);
  rt::Result<bool> exists = runtime_.fs().exists(path);
  if (!exists.ok()) return Status(Errc::storage_error, "snapshot: " + exists.status().to_string());
  const PersistedRaftState& durable = storage_->durable_state();
  if (*exists) {
    SLUICE_TRY(load_snapshot(path));
  } else if (durable.base_index > 0) {
    // A removed prefix is always covered by a snapshot written first; a log-start jump is not.
    return Status(Errc::storage_error, "the log starts after entry " + std::to_string(durable.base_index) +
                                           " but there is no partition snapshot: the replica needs repair");
  } else {
    state_ = PartitionState(config_.state, durable.start_offset);
  }
  if (state_.applied_index() + 1 < storage_->first_index()) {
    return Status(Errc::storage_error, "the snapshot ends before the log starts: the replica needs repair");
  }
  // The core restarts with applied = max(last membership change, log start - 1) and hands out
  // only what follows (docs/raft.md, "Restart"): what lies before is replayed from the log here.
  const raft::InitialState initial = storage_->initial_state();
  restart_applied_ = std::max(initial.conf_state.index, storage_->first_index() - 1);
  return replay(state_.applied_index() + 1, std::min(initial.hard_state.commit, restart_applied_));
}

Status Replica::load_snapshot(const std::string& path) {
  rt::Result<uint64_t> size = runtime_.fs().file_size(path);
  if (!size.ok() || *size > kSnapshotBytesMax) return Status(Errc::storage_error, "snapshot " + path + " unreadable or too large");
  rt::Result<std::unique_ptr<rt::File>> file = runtime_.fs().open(path, rt::OpenMode::read_only);
  if (!file.ok()) return Status(Errc::storage_error, "snapshot: " + file.status().to_string());
  Bytes bytes(*size);
  rt::Result<size_t> read = (*file)->read_at(0, bytes);
  if (!read.ok() || *read != bytes.size()) return Status(Errc::storage_error, "snapshot " + path + ": short read");
  Result<PartitionState::Snapshot> snapshot = decode_snapshot(bytes);
  if (!snapshot.ok()) return snapshot.status();
  if (!state_.restore(std::move(snapshot).value())) return Status(Errc::storage_error, "snapshot " + path + " contradicts itself");
  SLUICE_COVER("partition.replica.snapshot_loaded");
  return Status();
}

Status Replica::replay(raft::Index from, raft::Index to) {
  raft::Index next = from;
  while (next <= to) {
    raft::Result<std::vector<raft::Entry>> entries = storage_->entries(next, to + 1, kReplayBytesMax);
    if (!entries.ok()) return storage_status(entries.status(), "replaying the log");
    for (const raft::Entry& entry : *entries) {
      SLUICE_TRY(apply_committed(entry));
      ++next;
    }
  }
  if (to >= from) SLUICE_COVER("partition.replica.replayed");
  return Status();
}

Status Replica::write_snapshot() { return write_snapshot_bytes(encode_snapshot(state_.snapshot())); }

Status Replica::write_snapshot_bytes(ByteSpan bytes) {
  const std::string temp = log::join_path(config_.dir, std::string(kSnapshotFile) + ".tmp");
  const std::string path = log::join_path(config_.dir, kSnapshotFile);
  rt::Filesystem& fs = runtime_.fs();
  auto check = [](const rt::Status& status, std::string_view what) {
    return status.ok() ? Status() : Status(status.code() == rt::Errc::no_space ? Errc::storage_full : Errc::storage_error,
                                           std::string(what) + ": " + status.to_string());
  };
  {
    rt::Result<std::unique_ptr<rt::File>> file = fs.open(temp, rt::OpenMode::create);
    SLUICE_TRY(check(file.status(), temp));
    SLUICE_TRY(check((*file)->truncate(0), temp));
    SLUICE_TRY(check((*file)->write_at(0, bytes), temp));
    SLUICE_TRY(check((*file)->sync(), temp));
  }
  SLUICE_TRY(check(fs.rename(temp, path), "rename " + temp));
  return check(fs.sync_dir(config_.dir), "sync_dir " + config_.dir);
}

// --- log-start jumps ---------------------------------------------------------------------------------

// Leader (host fiber): a follower's log is to restart after our log base `index`. It gets our
// state as applied now, which covers the base and more: the offset map whose start is where our
// log starts, and the producer table. Refused while the storage's base is not `index` (a retention
// cut came between the core's decision and this send): the core jumps again later.
raft::Result<SharedBytes> Replica::jump_app_state(raft::Index index) {
  const PersistedRaftState& durable = storage_->durable_state();
  if (!healthy() || durable.base_index != index || state_.applied_index() < index ||
      state_.offsets().log_start() != durable.start_offset) {
    return raft::Status(raft::Errc::unavailable, "no partition state for a jump to " + std::to_string(index));
  }
  Bytes bytes = encode_snapshot(state_.snapshot());
  if (bytes.size() > kSnapshotBytesMax) return raft::Status(raft::Errc::unavailable, "partition snapshot too large to send");
  SLUICE_COVER("partition.replica.jump_state_sent");
  return SharedBytes(std::move(bytes));
}

// Follower (a persist fiber, storage lock held): the log restarts after jump.index with the
// leader's state. The snapshot is made durable before the storage switches logs, so a restart
// finds either the old log or a snapshot covering the new one's base; the state may run ahead of
// the log (entries up to its applied index are then appended but not applied again).
raft::Status Replica::install_jump(const raft::LogStartJump& jump) {
  auto refuse = [&](const std::string& why) {
    return raft::Status(raft::Errc::invalid_argument, "log-start jump to " + std::to_string(jump.index) + ": " + why);
  };
  Result<PartitionState::Snapshot> snapshot = decode_snapshot(jump.app_state);
  if (!snapshot.ok()) return refuse("no partition state with it: " + snapshot.status().to_string());
  if (snapshot->applied_index < jump.index) return refuse("the partition state ends before the jump");
  const uint64_t start_offset = snapshot->offsets.log_start;
  PartitionState restored = state_;
  if (!restored.restore(*snapshot)) return refuse("the partition state contradicts itself");
  const Status written = write_snapshot_bytes(jump.app_state);
  if (!written.ok()) return raft::Status(written.code() == Errc::storage_full ? raft::Errc::no_space : raft::Errc::io_error,
                                         "log-start jump: " + written.to_string());
  SLUICE_TRY(storage_->apply_log_start_jump(jump, start_offset));
  state_ = std::move(restored);
  SLUICE_COVER("partition.replica.jump_state_installed");
  return raft::Status();
}

// --- the host's hooks (host fiber) ---------------------------------------------------------------

multiraft::HostStatus Replica::prepare(const raft::RawNode& node, Bytes& data) {
  using multiraft::HostErrc;
  using multiraft::HostStatus;
  if (!healthy()) return HostStatus(HostErrc::storage_error, failure_);
  const raft::RaftLog& log = node.raft().log();
  const raft::LogUnstable& unstable = log.unstable();
  // The batch goes where the log will end once the core's unstable tail (this leader's no-op and
  // proposals of this round, not yet persisted) is stored behind what the storage holds.
  if (unstable.jump() || log.last_index() != storage_->last_index() + unstable.entries().size() ||
      (!unstable.entries().empty() && unstable.offset() != storage_->last_index() + 1)) {
    SLUICE_COVER("partition.replica.prepare_unsettled");
    return HostStatus(HostErrc::not_leader, "the leader's log is not settled yet");
  }
  uint64_t log_offset = storage_->log().end_offset();
  for (const raft::Entry& entry : unstable.entries()) log_offset += log_records_of(entry);
  log::Result<log::BatchHeader> header = log::decode_batch_header(data);
  if (!header.ok()) return HostStatus(HostErrc::invalid_argument, "not a batch: " + header.status().to_string());
  // A new leader's log may end in batches its predecessor stamped and it has not applied yet: its
  // stamps start above them (its own unstable batches already raised the floor when stamped).
  state_.note_log_timestamp(storage_->log().last_timestamp_ms());
  Result<int64_t> stamp_ms = state_.stamp(header->max_timestamp_ms - header->first_timestamp_ms, wall_ms(runtime_));
  if (!stamp_ms.ok()) return HostStatus(HostErrc::invalid_argument, stamp_ms.status().to_string());
  log::Status stamped = log::restamp_batch(data, log_offset, node.raft().term(), *stamp_ms);
  if (!stamped.ok()) return HostStatus(HostErrc::invalid_argument, "stamping: " + stamped.to_string());
  if (outcomes_.size() >= kOutcomesMax) outcomes_.erase(outcomes_.begin());  // an abandoned slot
  outcomes_[log.last_index() + 1] = std::nullopt;
  return HostStatus();
}

void Replica::apply(const raft::Entry& entry) {
  if (!healthy() || entry.index <= state_.applied_index()) return;
  Status applied = apply_committed(entry);
  if (applied.ok()) return;
  fail(applied.to_string());
  // The group stops with it (its proposals fail now, not at their timeout), as a failed sync stops
  // it: the node's supervisor hears group_failed (docs/partition.md, "Errors").
  host_.fail_group(config_.group, applied.code() == Errc::storage_full ? multiraft::HostErrc::storage_full : multiraft::HostErrc::group_failed,
                   failure_);
}

Status Replica::apply_committed(const raft::Entry& entry) {
  if (entry.index <= state_.applied_index()) return Status();
  SLUICE_ASSIGN_OR_RETURN(CommittedEntry summary, summarise(entry));
  if (summary.log_offset != state_.offsets().log_end()) {
    return Status(Errc::storage_error, "entry " + std::to_string(entry.index) + " is at log offset " +
                                           std::to_string(summary.log_offset) + " but the partition ends at " +
                                           std::to_string(state_.offsets().log_end()));
  }
  ApplyOutcome outcome = state_.apply(summary);
  return on_outcome(entry, outcome);
}

Result<CommittedEntry> Replica::summarise(const raft::Entry& entry) const {
  CommittedEntry summary;
  summary.index = entry.index;
  raft::Result<uint64_t> offset = storage_->offset_of(entry.index);
  if (!offset.ok()) return Result<CommittedEntry>(storage_status(offset.status(), "offset of a committed entry"));
  summary.log_offset = *offset;
  if (entry.type != raft::EntryType::normal) return summary;  // a no-op or membership change: one offset
  log::Result<log::BatchHeader> header = log::verify_batch(entry.data);
  if (!header.ok()) return Result<CommittedEntry>(log_status(header.status(), "committed entry " + std::to_string(entry.index)));
  summary.log_records = header->record_count;
  summary.first_timestamp_ms = header->first_timestamp_ms;
  summary.max_timestamp_ms = header->max_timestamp_ms;
  if ((header->attributes & log::kAttributeControl) != 0) {
    summary.kind = CommittedEntry::Kind::command;
    log::Result<std::vector<log::RecordView>> records = log::decode_records(entry.data, *header);
    if (records.ok() && records->size() == 1) summary.command = decode_command(records->front().value);
    return summary;
  }
  summary.kind = CommittedEntry::Kind::data;
  log::Result<std::optional<log::ProducerStamp>> producer = log::decode_producer(entry.data, *header);
  if (!producer.ok()) return Result<CommittedEntry>(log_status(producer.status(), "producer of entry " + std::to_string(entry.index)));
  if (*producer) summary.producer = ProducerId{(*producer)->producer_id, (*producer)->epoch, (*producer)->first_sequence};
  return summary;
}

Status Replica::on_outcome(const raft::Entry& entry, const ApplyOutcome& outcome) {
  switch (outcome.kind) {
    case ApplyOutcome::Kind::appended:
      ++stats_.produced_batches;
      stats_.produced_records += outcome.last_offset - outcome.base_offset + 1;
      records_arrived_->set();  // wakes every fetch parked at the old end
      records_arrived_ = std::make_shared<rt::Event>(runtime_.scheduler());
      break;
    case ApplyOutcome::Kind::duplicate: ++stats_.duplicates; break;
    case ApplyOutcome::Kind::refused: ++stats_.refused; break;
    case ApplyOutcome::Kind::retention_cut: SLUICE_TRY(cut_prefix(outcome.cut_log_offset)); break;
    case ApplyOutcome::Kind::stale:
    case ApplyOutcome::Kind::hole: break;
  }
  auto slot = outcomes_.find(entry.index);
  if (slot != outcomes_.end()) slot->second = outcome;
  return Status();
}

// The state after the cut is durable first, so a restart never needs the entries the cut removes.
Status Replica::cut_prefix(uint64_t cut_log_offset) {
  SLUICE_TRY(write_snapshot());
  if (!storage_mutex_.lock().ok()) return Status(Errc::storage_error, "retention: storage lock cancelled");
  rt::MutexGuard guard(storage_mutex_);
  raft::Result<raft::Index> before = storage_->index_before_offset(cut_log_offset);
  if (!before.ok()) return storage_status(before.status(), "retention cut");
  raft::Status cut = storage_->truncate_prefix_to(*before);
  if (!cut.ok()) return storage_status(cut, "retention cut");
  ++stats_.retention_cuts;
  SLUICE_COVER("partition.replica.retention_cut");
  return Status();
}

void Replica::fail(std::string why) {
  SLUICE_COVER("partition.replica.failed");
  failure_ = std::move(why);
  records_arrived_->set();  // parked fetches see the failure
}

// --- requests --------------------------------------------------------------------------------------

bool Replica::is_leader() const {
  const raft::RawNode* node = host_.group(config_.group);
  return node != nullptr && node->raft().role() == raft::Role::leader;
}

NotLeader Replica::leader() const {
  const raft::RawNode* node = host_.group(config_.group);
  NotLeader leader{node == nullptr ? kNoNode : node->raft().soft_state().leader, {}};
  auto known = addresses_.find(leader.leader);
  if (known != addresses_.end()) leader.address = known->second;
  return leader;
}

void Replica::note_membership(const MembershipEvent& event) {
  if (event.alive && !event.address.empty()) {
    addresses_[event.node] = event.address;
  } else {
    addresses_.erase(event.node);
  }
}

Result<ProduceReply> Replica::produce(Bytes batch, rt::Instant deadline) {
  if (!healthy()) return Result<ProduceReply>(Errc::storage_error, failure_);
  if (batch.size() > config_.storage.log.batch_bytes_max) {
    return Result<ProduceReply>(Errc::record_too_large, std::to_string(batch.size()) + " bytes, above batch_bytes_max " +
                                                            std::to_string(config_.storage.log.batch_bytes_max));
  }
  log::Result<log::BatchHeader> header = log::verify_batch(batch, config_.storage.log.batch_bytes_max);
  if (!header.ok()) return Result<ProduceReply>(Errc::invalid_request, "batch: " + header.status().to_string());
  if ((header->attributes & (log::kAttributeEntryTypeMask | log::kAttributeControl)) != 0 || header->batch_bytes != batch.size()) {
    return Result<ProduceReply>(Errc::invalid_request, "a produced batch is plain data, alone");
  }
  log::Result<std::optional<log::ProducerStamp>> stamp = log::decode_producer(batch, *header);
  if (!stamp.ok()) return Result<ProduceReply>(Errc::invalid_request, "producer: " + stamp.status().to_string());
  ProducerId producer;
  if (*stamp) producer = ProducerId{(*stamp)->producer_id, (*stamp)->epoch, (*stamp)->first_sequence};
  if (!is_leader()) return Result<ProduceReply>(Errc::not_leader, "leader is node " + std::to_string(leader().leader));
  // Only a duplicate is answered here: the table holds committed batches only, so one found there
  // was written. A refusal waits for apply, which sees every entry before the batch: a new leader
  // may not have applied its predecessor's last batches yet, and would refuse their successors.
  Result<ProduceDecision> checked = state_.check_produce(producer, header->record_count);
  if (!checked.ok() && checked.code() == Errc::invalid_request) return Result<ProduceReply>(checked.status());
  if (checked.ok() && checked->duplicate) {
    const ProduceDecision& decision = *checked;
    ++stats_.duplicates;
    SLUICE_COVER("partition.replica.retry_answered");
    return ProduceReply{decision.base_offset, decision.last_offset, decision.timestamp_ms, true};
  }
  if (produces_waiting_ >= config_.produces_waiting_max) return Result<ProduceReply>(Errc::overloaded, "produces_waiting_max reached");
  ++produces_waiting_;
  auto reply = host_.propose(config_.group, std::move(batch)).receive(deadline);
  --produces_waiting_;
  if (!reply.ok()) return Result<ProduceReply>(Errc::timeout, "waiting for commit: " + reply.status().to_string());
  if (!reply->ok()) return Result<ProduceReply>(from_host(reply->status()));
  return take_outcome(reply->value());
}

Result<ProduceReply> Replica::take_outcome(raft::Index index) {
  auto slot = outcomes_.find(index);
  if (slot == outcomes_.end() || !slot->second) {
    if (slot != outcomes_.end()) outcomes_.erase(slot);
    return Result<ProduceReply>(Errc::timeout, "the outcome of entry " + std::to_string(index) + " is unknown");
  }
  ApplyOutcome outcome = *slot->second;
  outcomes_.erase(slot);
  switch (outcome.kind) {
    case ApplyOutcome::Kind::appended:
    case ApplyOutcome::Kind::duplicate:
      return ProduceReply{outcome.base_offset, outcome.last_offset, outcome.timestamp_ms,
                          outcome.kind == ApplyOutcome::Kind::duplicate};
    case ApplyOutcome::Kind::refused: return Result<ProduceReply>(outcome.error, "refused when applied");
    default: return Result<ProduceReply>(Errc::storage_error, "entry " + std::to_string(index) + " applied as no data");
  }
}

Result<FetchReply> Replica::fetch(uint64_t offset, size_t bytes_max, rt::Duration wait, bool confirm_end) {
  Result<FetchReply> reply = fetch_records(offset, bytes_max, wait);
  if (confirm_end && reply.ok()) reply->high_watermark = confirmed_end();
  return reply;
}

Result<FetchReply> Replica::fetch_records(uint64_t offset, size_t bytes_max, rt::Duration wait) {
  ++stats_.fetches;
  bytes_max = std::clamp<size_t>(bytes_max, 1, config_.fetch_bytes_max);
  const rt::Instant deadline = runtime_.now() + std::min(wait, config_.fetch_wait_max);
  while (true) {
    if (!healthy()) return Result<FetchReply>(Errc::storage_error, failure_);
    const uint64_t start = state_.start_offset();
    const uint64_t end = state_.end_offset();
    if (offset < start || offset > end) {
      return Result<FetchReply>(Errc::offset_out_of_range, "offset " + std::to_string(offset) + " outside [" +
                                                               std::to_string(start) + ", " + std::to_string(end) + "]");
    }
    if (offset < end && log_holds(offset)) return read_committed(offset, bytes_max);
    if (runtime_.now() >= deadline) return FetchReply{{}, {}, vouched_end(), start};
    if (fetches_waiting_ >= config_.fetches_waiting_max) return Result<FetchReply>(Errc::overloaded, "fetches_waiting_max reached");
    std::shared_ptr<rt::Event> arrived = records_arrived_;
    ++fetches_waiting_;
    rt::Status woken = arrived->wait(deadline);
    --fetches_waiting_;
    if (!woken.ok() && woken.code() != rt::Errc::timeout) return FetchReply{{}, {}, vouched_end(), start};  // cancelled
  }
}

// After a log-start jump the state runs ahead of the log until the entries it covers arrive: a
// fetch in between waits like one at the end (an empty answer at once would make a consumer spin).
bool Replica::log_holds(uint64_t offset) const {
  if (storage_->log().end_offset() >= state_.offsets().log_end()) return true;
  SLUICE_COVER("partition.replica.fetch_waits_for_jumped_log");
  return state_.offsets().log_offset_of(offset) < storage_->log().end_offset();
}

// Every entry committed before this leader's term precedes the entry it appended on election, so
// once an entry of its term is applied every acknowledged record is. A leader cut off from its
// quorum still vouches until check-quorum steps it down (an election timeout): the price of not
// running a read-index round per fetch (docs/partition.md, "Fetch").
std::optional<uint64_t> Replica::vouched_end() const {
  const raft::RawNode* node = host_.group(config_.group);
  if (node == nullptr || node->raft().role() != raft::Role::leader) return std::nullopt;
  raft::Result<raft::Term> applied_term = node->raft().log().term(state_.applied_index());
  if (!applied_term.ok() || *applied_term != node->raft().term()) {
    SLUICE_COVER("partition.replica.fetch_end_not_vouched");
    return std::nullopt;
  }
  return state_.end_offset();
}

// The end after a read-index round: the round confirms this replica still leads at an index at
// least the commit index of any leader when the request arrived, and the host answers once that
// index is applied here, so the end covers every record acknowledged before the request (a
// linearizable end, which a leader cut off from its quorum cannot give: vouched_end).
std::optional<uint64_t> Replica::confirmed_end() {
  if (config_.planted_bug == PlantedBug::fetch_end_unconfirmed) return state_.end_offset();
  if (!is_leader()) return std::nullopt;
  auto index = host_.read_index(config_.group).receive(runtime_.now() + config_.end_confirm_timeout);
  // The host answers once its applied index reaches the read's; this replica's state is behind it
  // only when applying failed (the replica then fails and reports no end).
  if (!index.ok() || !index->ok() || state_.applied_index() < index->value() || !healthy()) {
    SLUICE_COVER("partition.replica.fetch_end_not_confirmed");
    return std::nullopt;
  }
  SLUICE_COVER("partition.replica.fetch_end_confirmed");
  return state_.end_offset();
}

Result<FetchReply> Replica::read_committed(uint64_t offset, size_t bytes_max) {
  if (!storage_mutex_.lock().ok()) return Result<FetchReply>(Errc::storage_error, "storage lock cancelled");
  rt::MutexGuard guard(storage_mutex_);
  // Map the offset only now: while the lock was awaited a retention cut may have been applied
  // and the log's prefix removed (found by the partitions-retention sweep, seed 42: a fetch read
  // from a log offset the cut had passed and got later records than it asked for).
  const OffsetMap& offsets = state_.offsets();
  if (offset < offsets.start_offset()) {
    SLUICE_COVER("partition.replica.fetch_overtaken_by_retention");
    return Result<FetchReply>(Errc::offset_out_of_range, "offset " + std::to_string(offset) + " was removed by retention");
  }
  FetchReply reply;
  reply.high_watermark = vouched_end();
  reply.start_offset = offsets.start_offset();
  // After a log-start jump the state may run ahead of the log until the entries it covers arrive.
  const uint64_t committed_end = std::min(offsets.log_end(), storage_->log().end_offset());
  uint64_t next = offsets.log_offset_of(offset);
  while (next < committed_end) {
    log::Result<log::ReadResult> read = storage_->read_batches(next, bytes_max - std::min(bytes_max - 1, reply.batches.size()));
    if (!read.ok()) return Result<FetchReply>(log_status(read.status(), "fetch"));
    // The read may have waited for the disk while a retention command was applied: the state's
    // start may now lie past these batches, which it can no longer number (found by the
    // partitions-retention sweep, seed 9: a batch past the cut was returned for an offset before it).
    if (state_.offsets().log_start() > next) {
      SLUICE_COVER("partition.replica.fetch_read_overtaken_by_retention");
      if (reply.base_offsets.empty()) {
        return Result<FetchReply>(Errc::offset_out_of_range, "offset " + std::to_string(offset) + " was removed by retention");
      }
      return reply;
    }
    log::Result<std::vector<ByteSpan>> batches = log::split_batches(read->batches);
    if (!batches.ok()) return Result<FetchReply>(log_status(batches.status(), "fetch"));
    for (ByteSpan batch : *batches) {
      log::Result<log::BatchHeader> header = log::decode_batch_header(batch);
      SLUICE_ASSERT(header.ok());  // split_batches verified it
      if (header->base_offset >= committed_end) return reply;
      std::optional<uint64_t> base = state_.offsets().offset_of(header->base_offset);
      if (!base) continue;  // a no-op, membership change, command or refused batch
      if (!reply.base_offsets.empty() && reply.batches.size() + batch.size() > bytes_max) return reply;
      append_bytes(reply.batches, batch);
      reply.base_offsets.push_back(*base);
    }
    if (!reply.base_offsets.empty() && reply.batches.size() >= bytes_max) break;
    next = read->next_offset;
  }
  return reply;
}

Result<uint64_t> Replica::list_offsets(OffsetQuery query, int64_t timestamp_ms) {
  if (!healthy()) return Result<uint64_t>(Errc::storage_error, failure_);
  switch (query) {
    case OffsetQuery::earliest: return state_.start_offset();
    case OffsetQuery::latest: return state_.end_offset();
    case OffsetQuery::timestamp: break;
  }
  if (!storage_mutex_.lock().ok()) return Result<uint64_t>(Errc::storage_error, "storage lock cancelled");
  rt::MutexGuard guard(storage_mutex_);
  log::Result<uint64_t> found = storage_->offset_for_timestamp(timestamp_ms);
  if (!found.ok()) return Result<uint64_t>(log_status(found.status(), "list offsets"));
  const OffsetMap& offsets = state_.offsets();
  // Times only grow along the log: if the first batch that new is not committed, none is.
  if (*found >= offsets.log_end()) return offsets.end_offset();
  return offsets.offset_at_or_after(std::max(*found, offsets.log_start()));
}

// --- retention -------------------------------------------------------------------------------------

void Replica::retention_loop() {
  while (runtime_.sleep_for(config_.retention_check_interval).ok()) {
    if (!healthy() || !is_leader() || retention_in_flight_) continue;
    std::optional<uint64_t> cut = state_.decide_retention(storage_->log().segments(), wall_ms(runtime_));
    // Followers are not waited for (as in Kafka): one that lacks the entries cut gets a log-start
    // jump carrying the partition state, so a dead follower never holds the disk back.
    if (cut) propose_retention(*cut);
  }
}

void Replica::propose_retention(uint64_t cut_log_offset) {
  const Bytes value = encode_command(Command{Command::Kind::retention_cut, cut_log_offset});
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = value, .headers = {}};
  log::Result<Bytes> batch = log::encode_batch(0, 0, std::span(&record, 1), log::kBatchBytesLimit, log::kAttributeControl);
  SLUICE_ASSERT(batch.ok());
  retention_in_flight_ = true;
  auto reply = host_.propose(config_.group, std::move(batch).value()).receive();
  retention_in_flight_ = false;
  if (reply.ok() && reply->ok()) outcomes_.erase(reply->value());
}

}  // namespace sluice::partition
