// The leader's view of one follower: how far its log is known to match, where to send next, and
// how much is in flight. Flow control lives here:
//   probe     - the follower's position is unknown; one append at a time, then wait for the
//               answer (or the next heartbeat answer) before sending again.
//   replicate - the position is known; appends are pipelined, `next` advances optimistically,
//               bounded by inflight_msgs_max messages and inflight_bytes_max bytes.
//   jump      - the follower needs entries the leader no longer has (retention removed them);
//               a LogStartJump is on its way and nothing else is sent until it is answered.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "node/raft/types.h"

namespace sluice::raft {

// Appends sent in replicate state and not yet acknowledged: one record per message with the
// last index it carried and its payload bytes.
class Inflights {
 public:
  Inflights(uint32_t msgs_max, uint64_t bytes_max) : msgs_max_(msgs_max), bytes_max_(bytes_max) {}

  // `last_index` must grow from one call to the next.
  void add(Index last_index, uint64_t bytes);
  // Frees every message whose last index is <= `index` (the follower acknowledged up to it).
  void free_le(Index index);
  void free_first_one();
  void reset();

  bool full() const { return records_.size() >= msgs_max_ || bytes_ >= bytes_max_; }
  size_t count() const { return records_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Record {
    Index last_index;
    uint64_t bytes;
  };
  uint32_t msgs_max_;
  uint64_t bytes_max_;
  uint64_t bytes_ = 0;
  std::deque<Record> records_;  // never more than msgs_max_
};

enum class ProgressState : uint8_t { probe, replicate, jump };

std::string_view to_string(ProgressState state);

struct Progress {
  Progress(Index next_index, uint32_t inflight_msgs_max, uint64_t inflight_bytes_max)
      : next(next_index), inflights(inflight_msgs_max, inflight_bytes_max) {}

  Index match = 0;  // highest index known to be in the follower's log
  Index next = 1;   // the next index to send
  ProgressState state = ProgressState::probe;
  Index jump_index = 0;     // in jump state: the index the follower was told to restart after
  bool probe_sent = false;  // in probe state: an append is unanswered; wait
  // Heard from since the last check-quorum round. New nodes start active so that adding a node
  // cannot make a leader step down before the node had a chance to answer.
  bool recent_active = true;
  bool is_learner = false;
  Inflights inflights;

  void become_probe();
  void become_replicate();
  void become_jump(Index index);

  // The follower's log ends at `last`, below match (it lost data): probe from there.
  void forget_match(Index last);
  // An acknowledgement up to `index`; false when it is stale (nothing new).
  bool maybe_update(Index index);
  // A rejection of the append whose previous index was `rejected`; `hint` is the highest index
  // that may still match. False when the rejection is stale (answers an older append).
  bool maybe_decrease_to(Index rejected, Index hint);
  // Sent an append carrying entries up to `last_index` (`bytes` of payload).
  void sent_entries(Index last_index, uint64_t bytes);

  // Nothing may be sent until something is heard from the follower.
  bool paused() const;

  std::string to_string() const;
};

}  // namespace sluice::raft
