// The leader's queue of linearizable reads (thesis §6.4). A read records the commit index when it
// arrives, then waits for a heartbeat round that a quorum answers: only then is it certain that
// no newer leader existed at the moment the read arrived, so that commit index covers every
// write acknowledged before the read. A confirmed round also confirms every read queued before it.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/ready.h"
#include "node/raft/types.h"

namespace sluice::raft {

class ReadIndexQueue {
 public:
  size_t size() const { return pending_.size() + awaiting_commit_.size(); }
  bool contains(uint64_t context) const;

  // A read arriving before the leader committed an entry of its own term: its commit index may
  // still lag entries committed by earlier leaders, so it waits (§8, thesis §6.4 step 1).
  void add_awaiting_commit(uint64_t context) { awaiting_commit_.push_back(context); }
  // Starts the heartbeat round for every read that waited; returns true if there were any.
  bool start_awaiting(Index commit, NodeId self);
  void add(uint64_t context, Index commit, NodeId self);

  // `from` answered the round `context`. When that round reaches a quorum of `conf`, returns the
  // reads it confirms (it and all queued before it) and forgets them.
  std::vector<ReadState> acknowledge(uint64_t context, NodeId from, const ConfState& conf);
  // The context to put into periodic heartbeats, so that a lost round is retried (0: none).
  uint64_t last_context() const { return pending_.empty() ? 0 : pending_.back().context; }
  // Leadership lost: every read is answered as dropped.
  std::vector<ReadState> drop_all();

 private:
  struct Pending {
    uint64_t context;
    Index index;
    std::set<NodeId> acks;
  };
  std::deque<Pending> pending_;
  std::vector<uint64_t> awaiting_commit_;
};

}  // namespace sluice::raft
