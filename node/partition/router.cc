#include "node/partition/router.h"

#include <utility>

#include "node/base/assert.h"
#include "node/base/coverage.h"

namespace sluice::partition {

namespace rt = runtime;

PartitionRouter::PartitionRouter(rt::Runtime& runtime, multiraft::RaftHost& host, RouterConfig config)
    : runtime_(runtime), host_(host), config_(config), inbox_(runtime.scheduler(), config.requests_queued_max) {}

PartitionRouter::~PartitionRouter() {
  task_.cancel();
  healer_.cancel();
  for (auto& [partition, served] : replicas_) served.server.cancel();
}

void PartitionRouter::start() {
  task_ = runtime_.spawn("partition-router", [this] { run(); });
  healer_ = runtime_.spawn("partition-healer", [this] { heal(); });
}

PartitionRouter::ReplyChannel::Receiver PartitionRouter::route(PartitionId partition, Request request) {
  auto [sender, receiver] = ReplyChannel::make(runtime_.scheduler());
  Item item = Routed{partition, std::move(request), std::move(sender)};
  if (!inbox_.try_send(std::move(item)).ok()) {
    SLUICE_COVER("partition.router.overloaded");
    ++overloaded_;
    std::get<Routed>(item).reply.send(error_reply(nullptr, Status(Errc::overloaded, "requests_queued_max reached")));
  }
  return std::move(receiver);
}

void PartitionRouter::membership_changed(MembershipEvent event) {
  Item item = std::move(event);
  (void)inbox_.try_send(std::move(item));  // a full inbox drops it: the next event carries the news again
}

void PartitionRouter::run() {
  remove_leftovers();
  while (true) {
    rt::Result<Item> item = inbox_.receive();
    if (!item.ok()) return;  // cancelled or closed: the node stops
    if (auto* event = std::get_if<MembershipEvent>(&*item)) {
      for (auto& [partition, served] : replicas_) {
        Item copy = *event;
        (void)served.queue->try_send(std::move(copy));
      }
      continue;
    }
    dispatch(std::get<Routed>(std::move(*item)));
  }
}

void PartitionRouter::dispatch(Routed routed) {
  if (std::holds_alternative<CreateReplicaRequest>(routed.request)) return create(std::move(routed));
  if (std::holds_alternative<RemoveReplicaRequest>(routed.request)) return remove(std::move(routed));
  if (auto broken = broken_.find(routed.partition); broken != broken_.end()) {
    routed.reply.send(error_reply(nullptr, Status(Errc::storage_error, "the replica is being reopened after: " + broken->second.why)));
    return;
  }
  if (auto change = changing_.find(routed.partition); change != changing_.end() && change->second == Change::reopening) {
    routed.reply.send(error_reply(nullptr, Status(Errc::storage_error, "the replica is being reopened after a storage failure")));
    return;
  }
  auto found = replicas_.find(routed.partition);
  if (auto failed = open_failed_.find(routed.partition); found == replicas_.end() && failed != open_failed_.end()) {
    SLUICE_COVER("partition.router.open_failure_answered");
    routed.reply.send(error_reply(nullptr, Status(Errc::storage_error, "the replica here could not open: " + failed->second)));
    return;
  }
  if (found == replicas_.end() || changing_.count(routed.partition) > 0) {
    routed.reply.send(error_reply(nullptr, Status(Errc::unknown_partition, "no replica of topic " +
                                                                               std::to_string(routed.partition.topic) + " partition " +
                                                                               std::to_string(routed.partition.index) + " here")));
    return;
  }
  Item item = std::move(routed);
  if (!found->second.queue->try_send(std::move(item)).ok()) {
    SLUICE_COVER("partition.router.replica_overloaded");
    ++overloaded_;
    std::get<Routed>(item).reply.send(error_reply(found->second.replica.get(),
                                                  Status(Errc::overloaded, "replica_requests_queued_max reached")));
  }
}

// A fiber opens the replica (recovery reads its log) so the router goes on routing meanwhile.
void PartitionRouter::create(Routed routed) {
  const PartitionId partition = routed.partition;
  if (replicas_.count(partition) > 0 || changing_.count(partition) > 0 || broken_.count(partition) > 0) {
    routed.reply.send(changing_.count(partition) > 0 ? error_reply(nullptr, Status(Errc::overloaded, "replica being changed"))
                                                     : Reply{});  // already here: creating is idempotent
    return;
  }
  if (replicas_.size() >= config_.replicas_max) {
    routed.reply.send(error_reply(nullptr, Status(Errc::overloaded, "replicas_max reached")));
    return;
  }
  changing_[partition] = Change::creating;
  runtime_.spawn("partition-open", [this, routed = std::move(routed)]() mutable {
    ReplicaConfig config = std::get<CreateReplicaRequest>(std::move(routed.request)).config;
    config.partition = routed.partition;
    Result<std::unique_ptr<Replica>> opened = Replica::open(runtime_, host_, monitored(std::move(config)));
    changing_.erase(routed.partition);
    if (!opened.ok()) {
      open_failed_[routed.partition] = opened.status().to_string();
      routed.reply.send(error_reply(nullptr, opened.status()));
      return;
    }
    install(routed.partition, std::move(opened).value());
    routed.reply.send(Reply{});
  });
}

// Whoever asked for the replica, its log's fsyncs are timed and counted with the others here.
ReplicaConfig PartitionRouter::monitored(ReplicaConfig config) {
  config.storage.log.clock = &runtime_;
  config.storage.log.sync_stats = log_syncs_;
  return config;
}

LogTotals PartitionRouter::log_totals() const {
  LogTotals totals;
  for (const auto& [partition, served] : replicas_) {
    // One being retired may already have handed its storage back to the host, which frees it.
    if (changing_.count(partition) > 0) continue;
    for (const log::SegmentInfo& segment : served.replica->storage().log().segments()) {
      ++totals.segments;
      totals.data_bytes += segment.size_bytes;
    }
  }
  return totals;
}

void PartitionRouter::install(PartitionId partition, std::unique_ptr<Replica> replica) {
  open_failed_.erase(partition);
  Served& served = replicas_[partition];
  served.replica = std::move(replica);
  served.queue = std::make_unique<rt::Channel<Item>>(runtime_.scheduler(), config_.replica_requests_queued_max);
  served.handlers = std::make_unique<rt::WaitGroup>(runtime_.scheduler());
  served.server = runtime_.spawn("partition-serve", [this, partition, &served] { serve(partition, served); });
}

// Its queue closes, its requests in service finish, then it closes (its group leaves the host) and
// goes. The caller has marked it changing.
Status PartitionRouter::retire(PartitionId partition) {
  Served& served = replicas_.at(partition);
  served.queue->close();
  (void)served.server.join();
  (void)served.handlers->wait();
  Status closed = served.replica->close();
  replicas_.erase(partition);
  return closed;
}

bool PartitionRouter::state_lost(PartitionId partition) const {
  auto broken = broken_.find(partition);
  if (broken != broken_.end()) return LogRaftStorage::state_lost(broken->second.why);
  auto failed = open_failed_.find(partition);
  return failed != open_failed_.end() && LogRaftStorage::state_lost(failed->second);
}

void PartitionRouter::scrub_closed(PartitionId partition, const std::string& dir) {
  if (replicas_.count(partition) > 0 || changing_.count(partition) > 0) return;
  changing_[partition] = Change::scrubbing;
  (void)LogRaftStorage::scrub_at_rest(runtime_.fs(), dir);  // counted by its coverage mark
  changing_.erase(partition);
}

// A crash in the middle of delete_dir leaves the directory renamed aside: finished at start.
void PartitionRouter::remove_leftovers() {
  rt::Result<std::vector<std::string>> names = runtime_.fs().list("");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (!name.ends_with(kDeletingSuffix)) continue;
    if (rt::remove_tree(runtime_.fs(), name).ok()) SLUICE_COVER("partition.router.leftover_removed");
  }
}

Status PartitionRouter::delete_dir(const std::string& dir) {
  rt::Filesystem& fs = runtime_.fs();
  // Without its tombstone a replica created here again could vote twice in a term: keep the data.
  if (const raft::Status buried = LogRaftStorage::bury(fs, dir); !buried.ok()) {
    return Status(Errc::storage_error, "tombstone of " + dir + ": " + buried.to_string());
  }
  const std::string aside = dir + std::string(kDeletingSuffix);
  rt::Result<bool> exists = fs.exists(dir);
  if (exists.ok() && *exists) {
    if (rt::Status renamed = fs.rename(dir, aside); !renamed.ok()) return Status(Errc::storage_error, "rename " + dir + ": " + renamed.to_string());
  }
  if (rt::Status removed = rt::remove_tree(fs, aside); !removed.ok()) return Status(Errc::storage_error, "remove " + aside + ": " + removed.to_string());
  SLUICE_COVER("partition.router.replica_data_deleted");
  return Status();
}

// The healer: a replica whose storage failed is closed and opened again from its files (recovery
// cuts what a failed write or sync left behind); while opening fails (the disk still full or
// failing) it stays broken and is retried with backoff. Requests meanwhile get storage_error.
void PartitionRouter::heal() {
  while (runtime_.sleep_for(config_.heal_check_interval).ok()) {
    std::vector<PartitionId> failed;
    for (const auto& [partition, served] : replicas_) {
      if (changing_.count(partition) == 0 && served.replica->needs_reopen()) failed.push_back(partition);
    }
    for (PartitionId partition : failed) {
      // Removed or being changed meanwhile (reopening one waits for its requests to finish).
      if (replicas_.count(partition) > 0 && changing_.count(partition) == 0) reopen(partition);
    }
    std::vector<PartitionId> due;
    for (const auto& [partition, broken] : broken_) {
      if (broken.next_attempt <= runtime_.now() && changing_.count(partition) == 0) due.push_back(partition);
    }
    for (PartitionId partition : due) {
      Broken broken = std::move(broken_.at(partition));
      broken_.erase(partition);
      try_open(partition, std::move(broken));
    }
  }
}

void PartitionRouter::reopen(PartitionId partition) {
  SLUICE_COVER("partition.router.replica_reopened");
  const Replica& replica = *replicas_.at(partition).replica;
  Broken broken{replica.config(), {}, config_.reopen_backoff_min,
                replica.healthy() ? std::string("its group's storage failed") : replica.failure()};
  changing_[partition] = Change::reopening;  // until try_open is done
  (void)retire(partition);  // the group is failed already: nothing more to lose by closing it
  try_open(partition, std::move(broken));
}

void PartitionRouter::try_open(PartitionId partition, Broken broken) {
  changing_[partition] = Change::reopening;
  Result<std::unique_ptr<Replica>> opened = Replica::open(runtime_, host_, monitored(broken.config));
  changing_.erase(partition);
  if (opened.ok()) {
    ++reopened_;
    install(partition, std::move(opened).value());
    return;
  }
  SLUICE_COVER("partition.router.reopen_failed");
  broken.why = opened.status().to_string();
  broken.next_attempt = runtime_.now() + broken.backoff;
  broken.backoff = std::min(broken.backoff * 2, config_.reopen_backoff_max);
  broken_[partition] = std::move(broken);
}

// The replica's queue closes, its requests in service finish, then it closes and goes.
void PartitionRouter::remove(Routed routed) {
  open_failed_.erase(routed.partition);
  const bool delete_data = std::get<RemoveReplicaRequest>(routed.request).delete_data;
  const multiraft::DeleteCause cause = std::get<RemoveReplicaRequest>(routed.request).cause;
  if (auto change = changing_.find(routed.partition); change != changing_.end() && change->second == Change::scrubbing) {
    // Its files are being rewritten: asked again next round, once the scrub is done.
    routed.reply.send(error_reply(nullptr, Status(Errc::overloaded, "replica being changed")));
    return;
  }
  auto broken = broken_.find(routed.partition);
  if (changing_.count(routed.partition) == 0 && broken != broken_.end()) {
    // Nothing open: its files stay unless asked otherwise.
    const std::string dir = broken->second.config.dir;
    if (delete_data) host_.note_deleting(broken->second.config.group, cause);
    broken_.erase(broken);
    const Status deleted = delete_data ? delete_dir(dir) : Status();
    routed.reply.send(deleted.ok() ? Reply{} : error_reply(nullptr, deleted));
    return;
  }
  auto found = replicas_.find(routed.partition);
  if (found == replicas_.end() || changing_.count(routed.partition) > 0) {
    routed.reply.send(found == replicas_.end() ? Reply{} : error_reply(nullptr, Status(Errc::overloaded, "replica being changed")));
    return;
  }
  changing_[routed.partition] = Change::removing;
  const std::string dir = found->second.replica->config().dir;
  const GroupId group = found->second.replica->config().group;
  runtime_.spawn("partition-remove", [this, dir, group, delete_data, cause, routed = std::move(routed)]() mutable {
    Status closed = retire(routed.partition);
    if (closed.ok() && delete_data) {
      host_.note_deleting(group, cause);  // before: a crash in between must not look like lost state
      closed = delete_dir(dir);
    }
    changing_.erase(routed.partition);
    SLUICE_COVER("partition.router.replica_removed");
    routed.reply.send(closed.ok() ? Reply{} : error_reply(nullptr, closed));
  });
}

// One fiber per replica takes its queue in order and hands each request to a handler fiber of its
// own: a produce waits for its commit while the next ones are already proposed.
void PartitionRouter::serve(PartitionId partition, Served& served) {
  (void)partition;
  while (true) {
    rt::Result<Item> item = served.queue->receive();
    if (!item.ok()) return;  // closed (removal) or cancelled
    if (auto* event = std::get_if<MembershipEvent>(&*item)) {
      served.replica->note_membership(*event);
      continue;
    }
    Routed routed = std::get<Routed>(std::move(*item));
    if (served.handlers->outstanding() >= config_.replica_handlers_max) {
      SLUICE_COVER("partition.router.handlers_full");
      ++overloaded_;
      routed.reply.send(error_reply(served.replica.get(), Status(Errc::overloaded, "replica_handlers_max reached")));
      continue;
    }
    served.handlers->add();
    Replica* replica = served.replica.get();
    rt::WaitGroup* handlers = served.handlers.get();
    runtime_.spawn("partition-request", [this, replica, handlers, routed = std::move(routed)]() mutable {
      routed.reply.send(handle(*replica, routed.request));
      handlers->done();
    });
  }
}

Reply PartitionRouter::handle(Replica& replica, Request& request) {
  Reply reply;
  if (auto* produce = std::get_if<ProduceRequest>(&request)) {
    Result<ProduceReply> produced = replica.produce(std::move(produce->batch), runtime_.now() + produce->timeout);
    if (!produced.ok()) return error_reply(&replica, produced.status());
    reply.value = *produced;
  } else if (auto* fetch = std::get_if<FetchRequest>(&request)) {
    Result<FetchReply> fetched = replica.fetch(fetch->offset, fetch->bytes_max, fetch->wait, fetch->confirm_end);
    if (!fetched.ok()) return error_reply(&replica, fetched.status());
    reply.value = std::move(fetched).value();
  } else if (auto* list = std::get_if<ListOffsetsRequest>(&request)) {
    Result<uint64_t> offset = replica.list_offsets(list->query, list->timestamp_ms);
    if (!offset.ok()) return error_reply(&replica, offset.status());
    reply.value = *offset;
  } else {
    SLUICE_ASSERT(false && "create and remove are the router's own");
  }
  return reply;
}

Reply PartitionRouter::error_reply(const Replica* replica, const Status& status) {
  Reply reply;
  reply.status = status;
  if (replica != nullptr && status.code() == Errc::not_leader) {
    NotLeader leader = replica->leader();
    reply.leader = leader.leader;
    reply.leader_address = std::move(leader.address);
  }
  return reply;
}

void PartitionRouter::stop() {
  healer_.cancel();
  (void)healer_.join();
  for (auto& [partition, served] : replicas_) served.queue->close();
  for (auto& [partition, served] : replicas_) {
    (void)served.server.join();
    (void)served.handlers->wait();
    (void)served.replica->close();
  }
  replicas_.clear();
  task_.cancel();
}

const Replica* PartitionRouter::replica(PartitionId partition) const {
  auto found = replicas_.find(partition);
  return found == replicas_.end() ? nullptr : found->second.replica.get();
}

}  // namespace sluice::partition
