#include "sim/checkers/raft_ledger.h"

#include <algorithm>

namespace sluice::checkers {
namespace {

std::string at(RaftLedger::GroupId group, raft::NodeId node) {
  return "group " + std::to_string(group) + " node " + std::to_string(node);
}

}  // namespace

void RaftLedger::applied(GroupId group, raft::Index index, raft::Term term, uint64_t payload_hash) {
  applied_.try_emplace({group, index}, Applied{term, payload_hash});
}

void RaftLedger::acknowledged(GroupId group, raft::NodeId node, raft::Index index, uint64_t payload_hash) {
  ++acknowledged_;
  auto it = applied_.find({group, index});
  if (it == applied_.end()) {
    return fail("acknowledged write: " + at(group, node) + " acknowledged index " + std::to_string(index) +
                ", which no replica applied");
  }
  if (it->second.payload_hash != payload_hash) {
    return fail("acknowledged write: " + at(group, node) + " acknowledged a write #" + std::to_string(payload_hash % 100000) +
                " at index " + std::to_string(index) + ", where term " + std::to_string(it->second.term) + " #" +
                std::to_string(it->second.payload_hash % 100000) + " was applied");
  }
  raft::Index& max = acked_max_[group];
  max = std::max(max, index);
}

void RaftLedger::read_returned(GroupId group, raft::NodeId node, raft::Index floor, raft::Index index,
                               raft::Index node_applied) {
  ++reads_;
  if (index < floor) {
    return fail("linearizable reads: " + at(group, node) + " returned read index " + std::to_string(index) +
                ", below index " + std::to_string(floor) + " acknowledged to a client before the read was issued");
  }
  if (node_applied < index) {
    fail("linearizable reads: " + at(group, node) + " returned read index " + std::to_string(index) + " having applied only " +
         std::to_string(node_applied));
  }
}

raft::Index RaftLedger::acked_max(GroupId group) const {
  auto it = acked_max_.find(group);
  return it == acked_max_.end() ? 0 : it->second;
}

}  // namespace sluice::checkers
