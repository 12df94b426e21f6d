// What the clients of Raft groups were told, held against what the replicas applied: the client's
// side of safety, beside RaftSafety's replica side (raft_safety.h).
//   - an acknowledged write is the entry applied at its index (the host acknowledges a proposal
//     once it is applied where it was proposed), so with State Machine Safety every replica that
//     applies that index applies that write: acknowledged writes are never lost or replaced;
//   - a read returns an index covering every write acknowledged before it was issued, and the
//     node serving it has applied that far (linearizable reads, seen from outside).
// Liveness is the driver's to judge with acked_max(): once faults stop, every replica must apply
// up to the last acknowledged write of its group.
//
// Feeding it: applied() for every entry any replica applies (several replicas: the first one is
// kept; RaftSafety reports any disagreement), acknowledged() when a client receives a proposal's
// index, read_floor() when a client issues a read, read_returned() when it gets the index.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "node/raft/types.h"

namespace sluice::checkers {

class RaftLedger {
 public:
  using GroupId = uint64_t;

  void applied(GroupId group, raft::Index index, raft::Term term, uint64_t payload_hash);
  // A client on `node` got `index` back for a write of `payload_hash`.
  void acknowledged(GroupId group, raft::NodeId node, raft::Index index, uint64_t payload_hash);
  // What a read of `group` issued now must return at least.
  raft::Index read_floor(GroupId group) const { return acked_max(group); }
  // A read issued with `floor` returned `index` on `node`, which has applied `node_applied`.
  void read_returned(GroupId group, raft::NodeId node, raft::Index floor, raft::Index index, raft::Index node_applied);

  raft::Index acked_max(GroupId group) const;
  uint64_t acknowledged_count() const { return acknowledged_; }
  uint64_t reads_checked() const { return reads_; }
  const std::optional<std::string>& violation() const { return violation_; }

 private:
  struct Applied {
    raft::Term term = 0;
    uint64_t payload_hash = 0;
  };
  void fail(std::string message) {
    if (!violation_) violation_ = std::move(message);
  }

  std::map<std::pair<GroupId, raft::Index>, Applied> applied_;  // the first replica's, per index
  std::map<GroupId, raft::Index> acked_max_;
  uint64_t acknowledged_ = 0;
  uint64_t reads_ = 0;
  std::optional<std::string> violation_;
};

}  // namespace sluice::checkers
