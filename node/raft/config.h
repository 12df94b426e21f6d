// Per-group settings of the core. Every queue and batch the core builds has its limit here.
#pragma once

#include <cstdint>

#include "node/base/planted_bug.h"
#include "node/raft/types.h"

namespace sluice::raft {

struct RaftConfig {
  NodeId id = kNoNode;

  // A follower that hears nothing from a leader for a random number of ticks in
  // [election_timeout_ticks, 2 * election_timeout_ticks) campaigns. The leader checks its
  // quorum (check_quorum) once per election_timeout_ticks.
  uint32_t election_timeout_ticks = 10;
  uint32_t heartbeat_interval_ticks = 1;

  // Pre-vote (thesis §9.6): a node first asks whether it could win, without raising its term,
  // so a node rejoining after a partition does not depose a healthy leader.
  bool pre_vote = true;
  // A leader that did not hear from a quorum within an election timeout steps down; followers
  // that heard from a leader within the timeout ignore vote requests (leader lease).
  bool check_quorum = true;
  // Quiescence (docs/raft.md, "Quiescence"): a leader whose group is idle (every member holds and
  // knows the whole committed log, nothing pending) sends one last heartbeat marked `quiesce` and
  // stops ticking; a follower that holds that commit stops too. Any message, proposal or read
  // wakes them, and so does wake() (a driver calls it when its failure detector suspects a
  // member): a dead leader is then found by the followers' election timers again. Only for a
  // driver with such a failure detector: without one a quiet follower never notices a dead leader.
  bool quiesce = false;
  // Lazy commit (docs/raft.md, "Lazy commit"): a leader whose commit index moves does not send
  // every follower an empty append to say so. Followers learn it from the next append or
  // heartbeat, at most heartbeat_interval_ticks later. On a busy group that saves two messages
  // per follower per commit (the announcement and its answer), and the follower's wake-up and
  // apply round they cost; followers apply later, the leader commits and answers as before.
  // Membership changes still announce at once (new members are probed at the same time).
  bool lazy_commit = false;

  // Flow control per follower in replicate state: appends not yet acknowledged.
  uint32_t inflight_msgs_max = 256;
  uint64_t inflight_bytes_max = 16 * 1024 * 1024;
  // Payload per append message (at least one entry is always sent, however large).
  uint64_t append_bytes_max = 1024 * 1024;
  // The leader refuses proposals while its uncommitted tail holds more payload than this.
  uint64_t uncommitted_bytes_max = 64 * 1024 * 1024;
  // Committed entries handed out per Ready.
  uint64_t apply_bytes_max = 16 * 1024 * 1024;
  // read_index requests waiting for their heartbeat round (or for the leader's first commit).
  uint32_t read_index_pending_max = 4096;
  // A learner is promoted to voter only when its log is within this many entries of the
  // leader's, so the promotion cannot stall commits while it catches up.
  uint64_t learner_promotion_lag_entries_max = 1000;

  // Test-only (node/base/planted_bug.h): raft_commit_previous_term makes the leader commit an
  // entry of an earlier term by counting its replicas (the Raft paper's Figure 8).
  PlantedBug planted_bug = PlantedBug::none;
};

// Limits that keep the arithmetic (2 * election timeout, ring sizes) far from overflow.
inline constexpr uint32_t kElectionTimeoutTicksLimit = 1u << 20;
inline constexpr uint32_t kInflightMsgsLimit = 1u << 16;

// invalid_config naming the first offending field, or ok.
Status validate(const RaftConfig& config);

}  // namespace sluice::raft
