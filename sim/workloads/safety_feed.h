// A node's multi-Raft host reporting to the shared Raft safety checker (sim/checkers/raft_safety.h):
// every workload that runs Raft groups (raft, partitions) gives each node's host one of these as
// its observer. It outlives every incarnation of its node.
#pragma once

#include <functional>
#include <memory>
#include <vector>
#include <span>
#include <string>

#include "node/multiraft/host.h"
#include "sim/checkers/raft_safety.h"
#include "sim/world.h"

namespace sluice::sim {

class SafetyFeed final : public multiraft::HostObserver {
 public:
  // `on_group_failed`: a group's storage failed on this node (the workload restarts the node).
  SafetyFeed(sluice::checkers::RaftSafety& safety, raft::NodeId id, std::function<void()> on_group_failed)
      : safety_(safety), id_(id), on_group_failed_(std::move(on_group_failed)) {}
  void started(GroupId group, raft::RaftLogStorage& storage) override;
  void deleting(GroupId group) override { safety_.deleted(group, id_); }
  void observe(GroupId group, const raft::Raft& core) override { safety_.observe(group, id_, core); }
  void persisted(GroupId group, const raft::Ready& ready) override { safety_.persisted(group, id_, ready); }
  void sent(GroupId group, std::span<const raft::Message> messages) override { safety_.sent(group, id_, messages); }
  void applied(GroupId group, std::span<const raft::Entry> entries) override { safety_.applied(group, id_, entries); }
  void read_requested(GroupId group, uint64_t context) override { safety_.read_requested(group, id_, context); }
  void read_answered(GroupId group, const raft::ReadState& read) override { safety_.read_answered(group, id_, read); }
  void read_served(GroupId group, raft::Index index) override { safety_.read_served(group, id_, index); }
  void group_failed(GroupId group, const std::string& why) override {
    (void)group;
    (void)why;
    on_group_failed_();
  }

 private:
  sluice::checkers::RaftSafety& safety_;
  raft::NodeId id_;
  std::function<void()> on_group_failed_;
};

// One feed per node 0 .. nodes - 1; a group failing on a node calls on_group_failed(node).
std::vector<std::unique_ptr<SafetyFeed>> make_safety_feeds(sluice::checkers::RaftSafety& safety, size_t nodes,
                                                           const std::function<void(NodeIndex)>& on_group_failed);

}  // namespace sluice::sim
