// The node's request router / partition manager (seed 000, docs/partition.md "Router"): one
// object per node owns the node's partition replicas and hands each request to its partition.
//
//   caller (HTTP handler, test, simulated client) --route()--> router queue --router fiber-->
//     create / remove: handled by the router itself (a fiber per replica opens or closes it)
//     partition request: that replica's queue --replica server fiber--> a handler fiber per request
//     membership event (SWIM): broadcast to every replica's queue
//
// route() never blocks: each request carries its own reply channel, and every queue is bounded;
// a full queue answers `overloaded` at once instead of letting memory grow. Replies name the
// leader (id and address, from the membership events) when the answer is not_leader.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "node/base/ids.h"
#include "node/log/log.h"
#include "node/multiraft/host.h"
#include "node/partition/errors.h"
#include "node/partition/replica.h"
#include "runtime/runtime.h"
#include "runtime/sync.h"

namespace sluice::partition {

struct ProduceRequest {
  Bytes batch;  // docs/formats/log.md, as the client encoded it
  runtime::Duration timeout = std::chrono::seconds(10);
};
struct FetchRequest {
  uint64_t offset = 0;
  size_t bytes_max = 1 << 20;
  runtime::Duration wait{0};  // long-poll at the end of the log
  // The high watermark is confirmed by a read-index round (Replica::fetch): it then covers every
  // record acknowledged before the request arrived, on any leader. Without: the leader's end.
  bool confirm_end = false;
};
struct ListOffsetsRequest {
  OffsetQuery query = OffsetQuery::latest;
  int64_t timestamp_ms = 0;
};
struct CreateReplicaRequest {
  ReplicaConfig config;  // config.partition names it
};
struct RemoveReplicaRequest {
  // Also removes the replica's directory (a deleted topic, a replica moved away): renamed aside
  // first, then removed, so a crash never leaves a half-removed replica where one is opened.
  bool delete_data = false;
  // Why the data goes (for a checker: HostObserver::deleting).
  multiraft::DeleteCause cause = multiraft::DeleteCause::left_group;
};

using Request = std::variant<ProduceRequest, FetchRequest, ListOffsetsRequest, CreateReplicaRequest, RemoveReplicaRequest>;

struct Reply {
  Status status;                 // ok, or the error (errors.h)
  NodeId leader = kNoNode;       // not_leader: the leader if known
  std::string leader_address;    // not_leader: its address if membership knows it
  std::variant<std::monostate, ProduceReply, FetchReply, uint64_t> value;  // by request kind (offset for list)
};

struct RouterConfig {
  size_t requests_queued_max = 4096;         // waiting for the router fiber
  size_t replica_requests_queued_max = 1024;  // per replica, waiting for its server fiber
  size_t replica_handlers_max = 1024;         // per replica, requests being served at once
  size_t replicas_max = 10'000;
  // Healing: a replica whose storage failed (an I/O error, a full disk) is closed and opened
  // again from its files; while that fails it is retried with backoff, doubling up to the max.
  runtime::Duration heal_check_interval = std::chrono::milliseconds(200);
  runtime::Duration reopen_backoff_min = std::chrono::milliseconds(200);
  runtime::Duration reopen_backoff_max = std::chrono::seconds(10);
};

// The logs of the replicas open on a node, at one moment (for monitoring).
struct LogTotals {
  uint64_t segments = 0;
  uint64_t data_bytes = 0;  // of segment data files (headers and batches; index files not counted)
};

class PartitionRouter {
 public:
  PartitionRouter(runtime::Runtime& runtime, multiraft::RaftHost& host, RouterConfig config = {});
  ~PartitionRouter();
  PartitionRouter(const PartitionRouter&) = delete;
  PartitionRouter& operator=(const PartitionRouter&) = delete;

  // Starts the router fiber.
  void start();
  using ReplyChannel = runtime::Oneshot<Reply>;
  // Hands `request` for `partition` to the router; the reply comes on the receiver.
  ReplyChannel::Receiver route(PartitionId partition, Request request);
  // A membership change, broadcast to every replica (which keep addresses for not_leader replies).
  void membership_changed(MembershipEvent event);
  // Closes every replica (removing their groups from the host). Call on a fiber.
  void stop();

  const Replica* replica(PartitionId partition) const;
  // Removes a replica directory no replica here uses (renamed to `<dir>.deleting` first, then
  // removed; the router fiber finishes leftovers of a crash at start): for data of deleted topics
  // or moved-away replicas found on disk. Its tombstone is left first (LogRaftStorage::bury).
  // Call on a fiber.
  Status delete_dir(const std::string& dir);
  // Scrubs the state file in `dir`, partition `partition`'s replica directory, unless a replica of
  // it is open here or being opened, closed or reopened (LogRaftStorage::scrub_at_rest: a closed
  // replica's state file has no running scrub). Meanwhile requests to create it are refused as
  // overloaded. One whose copies are both damaged is left to fail its open, which says so. Call
  // on a fiber.
  void scrub_closed(PartitionId partition, const std::string& dir);
  // The replica cannot be opened, now or ever, because its Raft state is lost for good
  // (LogRaftStorage::state_lost): its last create or its reopen after a failure said so.
  bool state_lost(PartitionId partition) const;
  size_t replica_count() const { return replicas_.size(); }
  uint64_t overloaded() const { return overloaded_; }
  uint64_t reopened() const { return reopened_; }  // replicas healed by reopening
  // Summed over the replicas open here now: a gauge, it drops when a replica goes.
  LogTotals log_totals() const;
  // Every fsync the logs of this router's replicas made, replicas since closed included: the
  // router hands one SyncStats to each replica it opens (timed on its runtime).
  const log::SyncStats& log_syncs() const { return *log_syncs_; }

 private:
  struct Routed {
    PartitionId partition;
    Request request;
    ReplyChannel::Sender reply;
  };
  using Item = std::variant<Routed, MembershipEvent>;
  struct Served {
    std::unique_ptr<Replica> replica;
    std::unique_ptr<runtime::Channel<Item>> queue;
    std::unique_ptr<runtime::WaitGroup> handlers;  // requests being served
    runtime::Task server;
  };

  // A replica that failed and could not be opened again yet: requests get storage_error.
  struct Broken {
    ReplicaConfig config;
    runtime::Instant next_attempt{};
    runtime::Duration backoff{};
    std::string why;
  };

  void run();
  void heal();
  ReplicaConfig monitored(ReplicaConfig config);
  void reopen(PartitionId partition);
  void try_open(PartitionId partition, Broken broken);
  void install(PartitionId partition, std::unique_ptr<Replica> replica);
  Status retire(PartitionId partition);
  void remove_leftovers();
  static constexpr std::string_view kDeletingSuffix = ".deleting";
  void dispatch(Routed routed);
  void create(Routed routed);
  void remove(Routed routed);
  void serve(PartitionId partition, Served& served);
  Reply handle(Replica& replica, Request& request);
  static Reply error_reply(const Replica* replica, const Status& status);

  runtime::Runtime& runtime_;
  multiraft::RaftHost& host_;
  RouterConfig config_;
  runtime::Channel<Item> inbox_;
  std::map<PartitionId, Served> replicas_;
  enum class Change : uint8_t { creating, removing, reopening, scrubbing };
  std::map<PartitionId, Change> changing_;  // its requests are refused meanwhile
  std::map<PartitionId, Broken> broken_;
  // Why the last create of each replica failed to open it (the reconciler asks again each round):
  // a request for it is answered with that at once. Before, it was answered unknown_partition,
  // which the API retries as "still being created" until the request's deadline, and a node the
  // metadata named leader kept every produce waiting (cluster-swarm-leaders seed 1692). Cleared
  // when a create opens it or a remove is asked; at most one entry per partition placed here.
  std::map<PartitionId, std::string> open_failed_;
  runtime::Task task_;
  runtime::Task healer_;
  uint64_t overloaded_ = 0;
  uint64_t reopened_ = 0;
  std::shared_ptr<log::SyncStats> log_syncs_ = std::make_shared<log::SyncStats>();
};

}  // namespace sluice::partition
