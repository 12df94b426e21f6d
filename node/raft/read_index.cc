#include "node/raft/read_index.h"

#include <algorithm>
#include <map>

#include "node/raft/quorum.h"

namespace sluice::raft {

bool ReadIndexQueue::contains(uint64_t context) const {
  for (const Pending& read : pending_) {
    if (read.context == context) return true;
  }
  return std::find(awaiting_commit_.begin(), awaiting_commit_.end(), context) != awaiting_commit_.end();
}

bool ReadIndexQueue::start_awaiting(Index commit, NodeId self) {
  if (awaiting_commit_.empty()) return false;
  for (uint64_t context : awaiting_commit_) add(context, commit, self);
  awaiting_commit_.clear();
  return true;
}

void ReadIndexQueue::add(uint64_t context, Index commit, NodeId self) {
  pending_.push_back(Pending{context, commit, {self}});
}

std::vector<ReadState> ReadIndexQueue::acknowledge(uint64_t context, NodeId from, const ConfState& conf) {
  std::vector<ReadState> confirmed;
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& read) { return read.context == context; });
  if (it == pending_.end()) return confirmed;
  it->acks.insert(from);
  std::map<NodeId, bool> votes;
  for (NodeId id : it->acks) votes[id] = true;
  if (vote_result(conf, votes) != VoteResult::won) return confirmed;
  const auto end = std::next(it);
  for (auto read = pending_.begin(); read != end; ++read) confirmed.push_back(ReadState{read->context, read->index, false});
  pending_.erase(pending_.begin(), end);
  return confirmed;
}

std::vector<ReadState> ReadIndexQueue::drop_all() {
  std::vector<ReadState> dropped;
  for (const Pending& read : pending_) dropped.push_back(ReadState{read.context, 0, true});
  for (uint64_t context : awaiting_commit_) dropped.push_back(ReadState{context, 0, true});
  pending_.clear();
  awaiting_commit_.clear();
  return dropped;
}

}  // namespace sluice::raft
