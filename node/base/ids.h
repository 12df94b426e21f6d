// The identities shared by every layer, in one place.
//
// A node is named by a NodeId: a u64 chosen when its data directory is created and recorded there
// (node/server), carried in SWIM member state next to the node's addresses, used as the Raft
// member id and as the key of inter-node connections. 0 means "nobody". Addresses change (a node
// may move to another host); the id does not. The simulator names node index i as NodeId i + 1
// (sim::node_id_of), the one mapping between the two.
//
// A Raft group is named by a GroupId, unique in the cluster: the controller's metadata group is
// kControllerGroup; partition groups get ids from the controller. A partition is named by its
// topic's id (a topic re-created under the same name gets a new TopicId, so stale replicas of the
// old one can never serve the new one) and its index within the topic.
#pragma once

#include <compare>
#include <cstdint>

namespace sluice {

using NodeId = uint64_t;
inline constexpr NodeId kNoNode = 0;

using GroupId = uint64_t;
inline constexpr GroupId kControllerGroup = 1;

using TopicId = uint64_t;

struct PartitionId {
  TopicId topic = 0;
  uint32_t index = 0;  // 0 .. partition count - 1

  friend auto operator<=>(const PartitionId&, const PartitionId&) = default;
};

}  // namespace sluice
