// A partition replica: one Raft group on the node's RaftHost, its LogRaftStorage (the partition log
// is the Raft log) and the partition state machine (state_machine.h). The thin driver around the
// pure core (docs/partition.md, "Replica"):
//
// - produce: checks the client's batch, answers a retry of a committed batch from the producer
//   table, and proposes the batch. The host calls prepare() right before the core appends it: the
//   batch is stamped there, in place, with its log offset, the term and the leader's time, so the
//   entry's data is the client's batch as it will be stored. The produce is answered once the
//   entry is committed and applied here (durable on a quorum), with what apply decided.
// - apply (on the host fiber): each committed entry, summarised from its batch header, goes to
//   the state machine; new records wake fetches waiting at the end of the log; a retention
//   command writes a snapshot of the state and then removes the log prefix.
// - fetch / list offsets: committed data only (below the high watermark), from the log.
// - retention: the leader checks now and then and proposes a cut as a command.
//
// Every method is called on fibers of the node's runtime; the storage is shared between the host
// (persisting, on its fibers) and fetches, so a fiber mutex orders them (LockedStorage).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/ids.h"
#include "node/multiraft/host.h"
#include "node/partition/errors.h"
#include "node/partition/raft_storage.h"
#include "node/partition/state_machine.h"
#include "runtime/runtime.h"
#include "runtime/sync.h"

namespace sluice::partition {

struct ReplicaConfig {
  PartitionId partition;
  GroupId group = 0;
  std::string dir;  // this replica's directory (created if missing)
  PartitionConfig state;
  raft::RaftConfig raft;          // id must be this node's
  RaftStorageOptions storage;     // entries_are_batches is forced on; bootstrap = the replica set
  size_t produces_waiting_max = 4096;  // produces proposed and not yet answered
  size_t fetches_waiting_max = 4096;   // fetches parked at the end of the log
  size_t fetch_bytes_max = 8 << 20;    // one fetch returns at most this (or its first batch)
  runtime::Duration fetch_wait_max = std::chrono::seconds(30);
  runtime::Duration retention_check_interval = std::chrono::seconds(5);
  // A fetch that asks for a confirmed high watermark waits at most this for its read-index round
  // (and for its index to be applied); past it the reply carries none.
  runtime::Duration end_confirm_timeout = std::chrono::seconds(1);
  // Test-only (node/base/planted_bug.h): fetch_end_unconfirmed.
  PlantedBug planted_bug = PlantedBug::none;
};

// Test only: every layer of the replica gets `bug` (each acts only on the bugs that are its own:
// the partition state, the Raft core, its storage and the log).
void plant_bug(ReplicaConfig& config, PlantedBug bug);

struct ProduceReply {
  uint64_t base_offset = 0;
  uint64_t last_offset = 0;
  int64_t timestamp_ms = 0;  // the leader's stamp: the first record's time
  bool duplicate = false;    // a retry of a batch already committed: these are its offsets
};

struct FetchReply {
  // Whole batches as the log stores them (docs/formats/log.md), back to back; a batch's header
  // holds its log offset, so `base_offsets` gives each batch's partition offset (the client
  // numbers the records from it). The first batch may start before the requested offset.
  Bytes batches;
  std::vector<uint64_t> base_offsets;
  // The end of the committed records when this replica can vouch that it holds every record
  // acknowledged so far: only a leader that has applied an entry of its own term can (a follower,
  // or a leader still applying its predecessor's entries, may lag). A consumer judging whether it
  // has read to the end must not take a lagging end for the end.
  std::optional<uint64_t> high_watermark;
  uint64_t start_offset = 0;
};

enum class OffsetQuery : uint8_t { earliest, latest, timestamp };

// What SWIM says about a node, broadcast by the router to every replica.
struct MembershipEvent {
  NodeId node = kNoNode;
  std::string address;  // where clients reach it (empty when unknown)
  bool alive = true;
};

struct NotLeader {
  NodeId leader = kNoNode;  // kNoNode: unknown (an election is on)
  std::string address;      // from the membership events; empty if unknown
};

struct ReplicaStats {
  uint64_t produced_batches = 0;
  uint64_t produced_records = 0;
  uint64_t duplicates = 0;   // answered from the producer table or found duplicate at apply
  uint64_t refused = 0;      // out_of_order_sequence, producer_fenced
  uint64_t fetches = 0;
  uint64_t retention_cuts = 0;
};

class Replica {
 public:
  // Opens the storage (recovering), rebuilds the state (snapshot + replay of the committed
  // entries the host will not hand out again) and adds the group to `host`. Call on a fiber.
  static Result<std::unique_ptr<Replica>> open(runtime::Runtime& runtime, multiraft::RaftHost& host, ReplicaConfig config);
  // Stops the retention fiber; the group must already be removed from the host (the router does
  // that first, see close()).
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Removes the group from the host and waits until it is gone. Files stay.
  Status close();

  // `batch`: one batch as docs/formats/log.md describes it, as the client encoded it (offsets,
  // term and times are stamped by the leader). Errors: not_leader (not_leader() says who),
  // invalid_request, record_too_large, out_of_order_sequence, producer_fenced, timeout,
  // overloaded, storage_error, storage_full.
  Result<ProduceReply> produce(Bytes batch, runtime::Instant deadline);
  // Committed batches from `offset` up to `bytes_max` (at least one whole batch if there is any).
  // At the end of the log it waits up to `wait` for new records. Errors: offset_out_of_range,
  // overloaded, storage_error. Served by any replica (followers lag by their apply); the high
  // watermark only by a leader (FetchReply), and with `confirm_end` only after a read-index round.
  Result<FetchReply> fetch(uint64_t offset, size_t bytes_max, runtime::Duration wait, bool confirm_end = false);
  // earliest: the start offset; latest: the high watermark; timestamp: the first offset whose
  // record time is >= timestamp_ms (the high watermark if none), found through the log's time
  // index without scanning.
  Result<uint64_t> list_offsets(OffsetQuery query, int64_t timestamp_ms);

  bool is_leader() const;
  NotLeader leader() const;
  void note_membership(const MembershipEvent& event);
  const PartitionState& state() const { return state_; }
  const ReplicaStats& stats() const { return stats_; }
  const LogRaftStorage& storage() const { return *storage_; }
  const ReplicaConfig& config() const { return config_; }
  // False once the replica stopped for good (storage failure or a log that contradicts the
  // state): it answers storage_error until the router reopens it (needs_reopen).
  bool healthy() const { return failure_.empty(); }
  // True once this replica or its group stopped for good (a storage failure while applying, or a
  // failed sync in the host), or a read found damaged log data: the router closes it and opens it
  // again from its files, which cuts the damage off (the vote withheld until a leader repairs it).
  // Waiting for the next sync to fail on the damage was not enough: a quiet group syncs nothing,
  // and a consumer asked its leader for the damaged batch forever (cluster-swarm-faults seed 229).
  bool needs_reopen() const { return !healthy() || host_.group_failed(config_.group) || storage_->read_damaged(); }
  const std::string& failure() const { return failure_; }

 private:
  Replica(runtime::Runtime& runtime, multiraft::RaftHost& host, ReplicaConfig config);

  Status recover();
  Status load_snapshot(const std::string& path);
  Status replay(raft::Index from, raft::Index to);
  Status write_snapshot();
  Status write_snapshot_bytes(ByteSpan bytes);
  raft::Result<SharedBytes> jump_app_state(raft::Index index);
  raft::Status install_jump(const raft::LogStartJump& jump);
  multiraft::HostStatus prepare(const raft::RawNode& node, Bytes& data);
  void apply(const raft::Entry& entry);
  Status apply_committed(const raft::Entry& entry);
  Result<CommittedEntry> summarise(const raft::Entry& entry) const;
  Status on_outcome(const raft::Entry& entry, const ApplyOutcome& outcome);
  Status cut_prefix(uint64_t cut_log_offset);
  void fail(std::string why);
  Result<ProduceReply> take_outcome(raft::Index index);
  bool log_holds(uint64_t offset) const;
  std::optional<uint64_t> vouched_end() const;
  std::optional<uint64_t> confirmed_end();
  Result<FetchReply> fetch_records(uint64_t offset, size_t bytes_max, runtime::Duration wait);
  Result<FetchReply> read_committed(uint64_t offset, size_t bytes_max);
  void retention_loop();
  void propose_retention(uint64_t cut_log_offset);

  runtime::Runtime& runtime_;
  multiraft::RaftHost& host_;
  ReplicaConfig config_;
  runtime::Mutex storage_mutex_;
  LogRaftStorage* storage_ = nullptr;       // owned by the host (through a LockedStorage)
  std::unique_ptr<LogRaftStorage> opened_;  // until handed to the host
  PartitionState state_;
  // Outcomes of this leader's proposals, by index: prepare() adds a slot, apply fills it, the
  // produce that proposed it takes it.
  std::map<raft::Index, std::optional<ApplyOutcome>> outcomes_;
  size_t produces_waiting_ = 0;
  size_t fetches_waiting_ = 0;
  std::shared_ptr<runtime::Event> records_arrived_;  // set (and replaced) when records are applied
  raft::Index restart_applied_ = 0;  // where the core restarts applying (recover() computes it)
  bool retention_in_flight_ = false;
  bool added_to_host_ = false;
  std::string failure_;
  std::map<NodeId, std::string> addresses_;  // of live members, from membership events
  ReplicaStats stats_;
  runtime::Task retention_task_;
};

// The partition snapshot file in a replica's directory (docs/formats/partition.md).
inline constexpr const char* kSnapshotFile = "partition-snapshot";
inline constexpr uint64_t kSnapshotBytesMax = 64ULL << 20;

// Maps a host error (a proposal that failed) to the partition's.
Status from_host(const multiraft::HostStatus& status);

}  // namespace sluice::partition
