// Basic Raft vocabulary shared by every file of the core: ids, entries, hard state, errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "node/base/bytes.h"
#include "node/base/shared_bytes.h"
#include "node/base/ids.h"
#include "node/base/status.h"

namespace sluice::raft {

using NodeId = sluice::NodeId;
using Term = uint64_t;
using Index = uint64_t;

// Node ids start at 1; 0 means "nobody" (no vote cast, no known leader).
using sluice::kNoNode;

enum class Errc {
  ok = 0,
  invalid_config,           // RaftConfig::validate rejected a field (the message names it)
  invalid_state,            // persisted state contradicts itself (commit beyond the log, ...)
  invalid_argument,         // a caller passed something meaningless (message to another node, ...)
  not_leader,               // only the leader proposes, transfers leadership and serves reads
  leader_transfer_pending,  // proposals wait while leadership moves to another node
  conf_change_pending,      // one membership change at a time: the previous one is not applied yet
  invalid_conf_change,      // the change does not apply to the current membership
  learner_not_caught_up,    // promoting a learner that is too far behind the leader
  uncommitted_too_large,    // the leader's uncommitted tail is above uncommitted_bytes_max
  reads_pending_too_many,   // read_index requests above read_index_pending_max
  compacted,                // storage: the index is below the log start (retention removed it)
  unavailable,              // storage: the index is beyond the last entry
  io_error,                 // storage: the backing store failed
  no_space,                 // storage: the disk is full (retry once space frees)
  malformed,                // an encoded conf change does not decode
};

std::string_view to_string(Errc code);

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

// `empty` entries carry no payload: a new leader appends one to commit entries of earlier terms
// (§5.4.2). `conf_change` entries carry an encoded ConfChange (membership.h).
enum class EntryType : uint8_t { normal = 0, conf_change = 1, empty = 2 };

std::string_view to_string(EntryType type);

struct Entry {
  Term term = 0;
  Index index = 0;
  EntryType type = EntryType::normal;
  // Opaque to the core (a partition's record batch); shared, never copied, as the entry moves
  // from the proposal through the log, the Ready and the storage tail to apply.
  SharedBytes data;

  friend bool operator==(const Entry&, const Entry&) = default;
};

// What flow control and size limits count for an entry: its payload.
inline uint64_t entry_bytes(const Entry& entry) { return entry.data.size(); }

// State that must be durable before any message that depends on it leaves the node.
struct HardState {
  Term term = 0;
  NodeId vote = kNoNode;
  Index commit = 0;
  // The node's log lost entries it may have acknowledged (a corrupted tail was cut off): it grants
  // no vote and does not campaign until it has caught up again (docs/raft.md, "Withheld vote").
  bool vote_withheld = false;

  friend bool operator==(const HardState&, const HardState&) = default;
};

enum class Role : uint8_t { follower, pre_candidate, candidate, leader };

std::string_view to_string(Role role);

// Volatile state reported when it changes; never persisted.
struct SoftState {
  NodeId leader = kNoNode;
  Role role = Role::follower;

  friend bool operator==(const SoftState&, const SoftState&) = default;
};

}  // namespace sluice::raft
