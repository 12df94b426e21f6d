// What the core hands to its driver in one batch, and the small records inside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/message.h"
#include "node/raft/storage.h"
#include "node/raft/types.h"

namespace sluice::raft {

// The outcome of read_index(context): once the local applied index reaches `index`, a read
// served from the local state is linearizable. `dropped`: leadership was lost before the round
// completed; the read must be retried (on the new leader).
struct ReadState {
  uint64_t context = 0;
  Index index = 0;
  bool dropped = false;

  friend bool operator==(const ReadState&, const ReadState&) = default;
};

enum class EventKind : uint8_t {
  became_leader,
  stepped_down,             // check-quorum: no quorum heard within an election timeout
  removed_from_voters,      // the leader left the voters; it hands leadership to a voter
  campaign_deferred,        // a committed conf change is not applied yet; campaigning would use a stale config
  leader_transfer_aborted,  // the target did not take over within an election timeout, or left
  conf_change_applied,
  conf_change_skipped,      // committed but its payload does not decode (every member skips it alike)
  log_start_jump_sent,
  log_start_jump_applied,
};

std::string_view to_string(EventKind kind);

// Things worth a log line or a metric; never needed for correctness.
struct RaftEvent {
  EventKind kind = EventKind::became_leader;
  Term term = 0;
  std::string detail;

  friend bool operator==(const RaftEvent&, const RaftEvent&) = default;
};

// Events kept between two Ready calls; beyond this the oldest are dropped (and counted).
inline constexpr size_t kEventsPendingMax = 64;

// The driver's contract, in order (docs/raft.md):
//   1. log_start_jump: discard the stable log; it restarts empty after jump.index/jump.term.
//   2. entries: append to stable storage, replacing any stable suffix from entries[0].index on.
//   3. hard_state and conf_state: persist together, atomically.
//   4. make 1-3 durable (fsync); only then
//   5. send messages,
//   6. apply committed_entries in order, serve read_states whose index is applied,
//   7. call advance().
// Between ready() and advance() no other call may be made on the node.
struct Ready {
  std::optional<SoftState> soft_state;
  std::optional<HardState> hard_state;
  std::optional<ConfState> conf_state;
  std::optional<LogStartJump> log_start_jump;
  std::vector<Entry> entries;
  std::vector<Entry> committed_entries;
  std::vector<Message> messages;
  std::vector<ReadState> read_states;
  std::vector<RaftEvent> events;

  // True when something must be made durable before the messages may leave.
  bool must_sync() const { return hard_state || conf_state || log_start_jump || !entries.empty(); }
};

}  // namespace sluice::raft
