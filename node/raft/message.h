// Messages between the members of one group. One flat struct (like a wire record) whose fields
// mean different things per type; the table in docs/raft.md says which fields each type uses.
// Heartbeats carry only term, commit and context so that a driver can coalesce the heartbeats
// of many groups between two nodes into one message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/types.h"

namespace sluice::raft {

enum class MessageType : uint8_t {
  pre_vote_request,    // "would you vote for me at term+1?"; changes no state at the receiver
  pre_vote_response,
  vote_request,
  vote_response,
  append,              // entries after index/log_term, plus the leader's commit
  append_response,     // accepted up to index, or rejected index with a hint
  heartbeat,           // term, commit (<= what the follower is known to hold), read context
  heartbeat_response,  // echoes the context: acknowledges a read-index round
  log_start_jump,      // restart your log after index/log_term (with this membership)
  timeout_now,         // leader transfer: campaign now, skipping pre-vote and the lease check
};

std::string_view to_string(MessageType type);

struct Message {
  MessageType type = MessageType::heartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;
  // vote requests: the candidate's last log index/term; append: the previous index/term;
  // append_response: the last index accepted, or the previous index rejected;
  // log_start_jump: the index/term the follower's log restarts after.
  Index index = 0;
  Term log_term = 0;
  // append, heartbeat, log_start_jump: the leader's commit index. Vote requests and responses:
  // the sender's commit index, with its term in commit_term, so that a node missing that
  // knowledge learns it during an election (see Raft::learn_commit).
  Index commit = 0;
  Term commit_term = 0;
  std::vector<Entry> entries;
  bool reject = false;  // vote and append responses
  // append_response when rejected: the follower's largest index whose term is <= log_term of
  // the rejected append, and that term; lets the leader skip a whole term per round trip.
  Index reject_hint_index = 0;
  Term reject_hint_term = 0;
  uint64_t context = 0;   // heartbeat and response: the read-index round (0: none)
  bool transfer = false;  // vote_request caused by leader transfer
  bool quiesce = false;   // heartbeat: the leader goes quiet after it (RaftConfig::quiesce)
  ConfState conf_state;   // log_start_jump: the membership at the jump index
  // log_start_jump: the application's state for the follower, attached by the driver when it
  // sends the message (opaque to the core; LogStartJump::app_state).
  SharedBytes app_state;

  friend bool operator==(const Message&, const Message&) = default;
};

// Deterministic one-line rendering for transcripts and logs: "1->2 append t3 ...".
std::string to_string(const Message& message);
std::string to_string(const Entry& entry);
std::string to_string(const std::vector<Entry>& entries);

}  // namespace sluice::raft
