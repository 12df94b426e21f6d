// Majority arithmetic over a configuration. In a joint configuration every decision needs both
// halves: the committed index is the smaller of the two, and a vote is won only when both are.
#pragma once

#include <map>
#include <set>

#include "node/raft/membership.h"
#include "node/raft/types.h"

namespace sluice::raft {

enum class VoteResult : uint8_t { pending, won, lost };

// The largest index acknowledged by a majority of `voters` (missing acks count as 0). An empty
// set imposes no constraint (the absent outgoing half of a non-joint configuration).
Index majority_committed_index(const std::set<NodeId>& voters, const std::map<NodeId, Index>& acked);

// Both halves of the configuration.
Index committed_index(const ConfState& conf, const std::map<NodeId, Index>& acked);

// `votes` maps voter → granted; voters without an entry have not answered yet.
VoteResult majority_vote_result(const std::set<NodeId>& voters, const std::map<NodeId, bool>& votes);
VoteResult vote_result(const ConfState& conf, const std::map<NodeId, bool>& votes);

std::string_view to_string(VoteResult result);

}  // namespace sluice::raft
