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
  log_shorter_than_leader_knows,  // a follower told to commit beyond its log (it lost data)
  follower_log_lost,              // the leader heard that a follower holds less than it matched
  vote_withheld,                  // restarted with a log that lost entries: no votes, no campaigns
  vote_restored,                  // caught up past anything it could have acknowledged: votes again
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

// Why a vote or pre-vote request was not granted. Cheap records for tests and debugging, kept
// between two calls of RawNode::take_vote_notes() (bounded, oldest dropped); never part of a
// Ready, never needed for correctness, and whether anyone reads them changes nothing.
enum class VoteOutcome : uint8_t {
  refused,   // answered with a rejection
  ignored,   // not answered at all
  deferred,  // a pre-vote put aside until the leader lease ends (answered then)
};

enum class VoteRefusal : uint8_t {
  stale_term,     // the request is for a term below ours
  leader_lease,   // check-quorum: we heard from a leader within the election timeout
  already_voted,  // we voted for another candidate in this term
  vote_withheld,  // our log lost entries we may have acknowledged; we have not caught up yet
  has_leader,     // we follow a leader in this term
  log_behind,     // the candidate's log is less up to date than ours (§5.4.1)
  pre_vote_backing,  // we back another pre-candidate (or ourselves) within the pre-vote window
};

struct VoteNote {
  MessageType type = MessageType::vote_request;  // vote_request or pre_vote_request
  NodeId candidate = kNoNode;
  Term term = 0;  // the term the candidate asked for
  VoteOutcome outcome = VoteOutcome::refused;
  VoteRefusal reason = VoteRefusal::stale_term;
  Term our_term = 0;
  // already_voted: our vote; has_leader, leader_lease: the leader; pre_vote_backing: the backed
  // candidate (kNoNode: ourselves).
  NodeId other = kNoNode;
  // log_behind: our last entry; pre_vote_backing: the backed candidate's last entry.
  Index our_last_index = 0;
  Term our_last_term = 0;
  Index their_last_index = 0;
  Term their_last_term = 0;

  friend bool operator==(const VoteNote&, const VoteNote&) = default;
};

// "refused pre-vote for 2 at t3: log behind (ours 3/2, theirs 2/2)".
std::string to_string(const VoteNote& note);

inline constexpr size_t kVoteNotesMax = 64;

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
