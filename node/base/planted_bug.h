// Test-only switches that plant a known bug. A checker is only as good as the bugs it catches: for
// every checker there is a planted bug that it must report, switched on through the config of the
// component that has the bug (e.g. raft::RaftConfig::planted_bug) and, in the simulator, by a
// scenario's `planted_bug = "<name>"`. Production configs never set one; `none` is the default
// everywhere. The catalogue of bugs and the tests that plant them: docs/testing.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice {

enum class PlantedBug : uint8_t {
  none = 0,
  // Raft core: a leader counts replicas of an entry of an earlier term to commit it (the bug of
  // the Raft paper's Figure 8).
  raft_commit_previous_term,
  // Multi-Raft host: messages leave before the Ready that produced them is durable (a vote, a
  // term or an append acknowledgement may be lost by a crash after the peer acted on it).
  raft_send_before_persist,
  // Multi-Raft host: storage sync is skipped (writes are treated as durable when written).
  raft_skip_sync,
  // SWIM: a member never refutes a suspicion about itself.
  swim_no_refute,
  // SWIM: dead members are never pinged again (no reconnect after a healed partition).
  swim_no_reconnect,
  // Partition log: sync() returns before the data is synced.
  log_skip_sync,
  // Partition state machine: apply ignores the producer table (a retried batch is appended again).
  partition_no_dedup,
  // Partition leader: a batch is stamped with the wall clock alone (time goes back when it does).
  partition_clock_stamp,
  // Controller placement: new partitions go to nodes in id order, ignoring their load.
  controller_place_ignores_load,
  // Client producer: a batch whose send failed ambiguously (timeout, lost connection) is renumbered
  // under a new epoch before its resend (if it had been appended, it is appended twice).
  client_renumber_on_retry,
  // Raft log: a follower keeps the suffix of its log that conflicts with the leader's entries and
  // appends only what lies beyond its last index (Log Matching is broken).
  raft_keep_conflicting_suffix,
  // Multi-Raft host: a stepped message does not make its group a Ready candidate (the Ready waits
  // for the next tick, and the host's always-on check under test reports the missed wakeup).
  raft_host_lost_wakeup,
  // Raft core with quiescence: wake() from the driver's failure detector is ignored (a dead
  // leader's quiet followers never elect another).
  raft_ignore_wake,
  // Partition storage: a replica created afresh where one was deleted ignores the deleted one's
  // tombstone (it starts at term 0 and votes at once, maybe a second time in a term it voted in).
  replica_forgets_deleted_term,
  // Raft core: a leader's appends may leave before its Ready is durable even when the Ready makes
  // its term durable (a single voter that won alone), so a crash can take back a term peers heard.
  raft_early_send_unsynced_term,
  // Partition replica: a fetch that asks for a confirmed high watermark gets the answering
  // replica's applied end, unconfirmed, from a follower too (the end may lag acknowledged records).
  fetch_end_unconfirmed,
};

inline constexpr PlantedBug kPlantedBugs[] = {
    PlantedBug::none,          PlantedBug::raft_commit_previous_term, PlantedBug::raft_send_before_persist,
    PlantedBug::raft_skip_sync, PlantedBug::swim_no_refute,           PlantedBug::swim_no_reconnect,
    PlantedBug::log_skip_sync,          PlantedBug::partition_no_dedup,        PlantedBug::partition_clock_stamp,
    PlantedBug::controller_place_ignores_load, PlantedBug::client_renumber_on_retry, PlantedBug::raft_keep_conflicting_suffix,
    PlantedBug::raft_host_lost_wakeup, PlantedBug::raft_ignore_wake, PlantedBug::replica_forgets_deleted_term,
    PlantedBug::raft_early_send_unsynced_term, PlantedBug::fetch_end_unconfirmed,
};

constexpr std::string_view to_string(PlantedBug bug) {
  switch (bug) {
    case PlantedBug::none: return "none";
    case PlantedBug::raft_commit_previous_term: return "raft_commit_previous_term";
    case PlantedBug::raft_send_before_persist: return "raft_send_before_persist";
    case PlantedBug::raft_skip_sync: return "raft_skip_sync";
    case PlantedBug::swim_no_refute: return "swim_no_refute";
    case PlantedBug::swim_no_reconnect: return "swim_no_reconnect";
    case PlantedBug::log_skip_sync: return "log_skip_sync";
    case PlantedBug::partition_no_dedup: return "partition_no_dedup";
    case PlantedBug::partition_clock_stamp: return "partition_clock_stamp";
    case PlantedBug::controller_place_ignores_load: return "controller_place_ignores_load";
    case PlantedBug::client_renumber_on_retry: return "client_renumber_on_retry";
    case PlantedBug::raft_keep_conflicting_suffix: return "raft_keep_conflicting_suffix";
    case PlantedBug::raft_host_lost_wakeup: return "raft_host_lost_wakeup";
    case PlantedBug::raft_ignore_wake: return "raft_ignore_wake";
    case PlantedBug::replica_forgets_deleted_term: return "replica_forgets_deleted_term";
    case PlantedBug::raft_early_send_unsynced_term: return "raft_early_send_unsynced_term";
    case PlantedBug::fetch_end_unconfirmed: return "fetch_end_unconfirmed";
  }
  return "unknown";
}

constexpr std::optional<PlantedBug> parse_planted_bug(std::string_view name) {
  for (PlantedBug bug : kPlantedBugs) {
    if (to_string(bug) == name) return bug;
  }
  return std::nullopt;
}

}  // namespace sluice
