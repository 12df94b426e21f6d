#include "node/raft/quorum.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace sluice::raft {

Index majority_committed_index(const std::set<NodeId>& voters, const std::map<NodeId, Index>& acked) {
  if (voters.empty()) return std::numeric_limits<Index>::max();
  std::vector<Index> indexes;
  indexes.reserve(voters.size());
  for (NodeId id : voters) {
    auto it = acked.find(id);
    indexes.push_back(it == acked.end() ? 0 : it->second);
  }
  std::sort(indexes.begin(), indexes.end(), std::greater<Index>());
  // Sorted descending, position n/2 is the largest index that n/2 + 1 voters have reached.
  return indexes[indexes.size() / 2];
}

Index committed_index(const ConfState& conf, const std::map<NodeId, Index>& acked) {
  return std::min(majority_committed_index(conf.voters, acked),
                  majority_committed_index(conf.voters_outgoing, acked));
}

VoteResult majority_vote_result(const std::set<NodeId>& voters, const std::map<NodeId, bool>& votes) {
  if (voters.empty()) return VoteResult::won;
  size_t granted = 0;
  size_t missing = 0;
  for (NodeId id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t quorum = voters.size() / 2 + 1;
  if (granted >= quorum) return VoteResult::won;
  if (granted + missing >= quorum) return VoteResult::pending;
  return VoteResult::lost;
}

VoteResult vote_result(const ConfState& conf, const std::map<NodeId, bool>& votes) {
  const VoteResult incoming = majority_vote_result(conf.voters, votes);
  const VoteResult outgoing = majority_vote_result(conf.voters_outgoing, votes);
  if (incoming == VoteResult::lost || outgoing == VoteResult::lost) return VoteResult::lost;
  if (incoming == VoteResult::won && outgoing == VoteResult::won) return VoteResult::won;
  return VoteResult::pending;
}

std::string_view to_string(VoteResult result) {
  switch (result) {
    case VoteResult::pending: return "pending";
    case VoteResult::won: return "won";
    case VoteResult::lost: return "lost";
  }
  return "unknown";
}

}  // namespace sluice::raft
