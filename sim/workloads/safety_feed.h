// A node's multi-Raft host reporting to the shared Raft safety checker (sim/checkers/raft_safety.h):
// every workload that runs Raft groups (raft, partitions) gives each node's host one of these as
// its observer. It outlives every incarnation of its node. With a world that records a timeline
// (sim/timeline.h), it also reports each group's role changes on its node there.
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
  // `world`: where the timeline is (null: no timeline).
  SafetyFeed(sluice::checkers::RaftSafety& safety, raft::NodeId id, std::function<void()> on_group_failed,
             const World* world = nullptr, NodeIndex node = -1)
      : safety_(safety), id_(id), on_group_failed_(std::move(on_group_failed)), world_(world), node_(node) {}
  void started(GroupId group, raft::RaftLogStorage& storage) override;
  void deleting(GroupId group, multiraft::DeleteCause cause) override {
    safety_.deleted(group, id_, cause == multiraft::DeleteCause::group_ended);
  }
  void observe(GroupId group, const raft::Raft& core) override {
    safety_.observe(group, id_, core);
    if (world_ != nullptr && world_->timeline() != nullptr) {
      world_->timeline()->role(world_->now_ns(), node_, group, raft::to_string(core.role()), core.term());
    }
  }
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
  const World* world_;
  NodeIndex node_;
};

// One feed per node 0 .. nodes - 1; a group failing on a node calls on_group_failed(node). With
// `world`, role changes go to its timeline when it records one.
std::vector<std::unique_ptr<SafetyFeed>> make_safety_feeds(sluice::checkers::RaftSafety& safety, size_t nodes,
                                                           const std::function<void(NodeIndex)>& on_group_failed,
                                                           const World* world = nullptr);

}  // namespace sluice::sim
