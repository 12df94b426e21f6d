#include "tests/raft/safety_checker.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "sim/checkers/raft_safety.h"

namespace sluice::raft::testing {

// A Cluster may hold several groups side by side (a transcript adds one cluster after another):
// nodes bootstrapped together form a group, named by their smallest id; a node bootstrapped
// without members (a joiner) belongs to the newest group.
class SafetyChecker::Feed final : public ClusterObserver {
 public:
  explicit Feed(Options options) : options_(options) {}

  void started(ClusterNode& node) override { safety.started(group_of(node), node.id, node.storage); }
  void persisted(ClusterNode& node, const Ready& rd) override { safety.persisted(group_of(node), node.id, rd); }
  void sent(ClusterNode& node, const std::vector<Message>& messages) override {
    if (options_.check_messages) safety.sent(group_of(node), node.id, messages);
  }
  void handled(ClusterNode& node, const Ready& rd) override {
    const checkers::GroupId group = group_of(node);
    safety.applied(group, node.id, rd.committed_entries);
    for (const ReadState& read : rd.read_states) {
      if (reads_.erase({node.id, read.context}) > 0) safety.read_answered(group, node.id, read);
    }
  }
  void crashed(ClusterNode& node) override { safety.crashed(node.id); }

  void read_requested(ClusterNode& node, uint64_t context) {
    reads_.insert({node.id, context});
    safety.read_requested(group_of(node), node.id, context);
  }

  checkers::GroupId group_of(ClusterNode& node) {
    auto known = groups_.find(node.id);
    if (known != groups_.end()) return known->second;
    checkers::GroupId group = newest_group_;
    const std::set<NodeId> members = node.storage.initial_state().conf_state.all_nodes();
    if (!members.empty()) {
      group = *members.begin();
      for (NodeId member : members) {
        auto other = groups_.find(member);
        if (other != groups_.end()) group = other->second;
      }
    }
    newest_group_ = std::max(newest_group_, group);
    return groups_[node.id] = group;
  }

  checkers::RaftSafety safety;
  bool attached = false;

 private:
  Options options_;
  std::set<std::pair<NodeId, uint64_t>> reads_;
  std::map<NodeId, checkers::GroupId> groups_;
  checkers::GroupId newest_group_ = 1;
};

SafetyChecker::SafetyChecker(Options options) : options_(options), feed_(std::make_shared<Feed>(options)) {}

std::optional<std::string> SafetyChecker::check(Cluster& cluster) {
  if (cluster.observer() != feed_) {
    if (feed_->attached) feed_ = std::make_shared<Feed>(options_);  // another cluster: start afresh
    feed_->attached = true;
    cluster.observe_with(feed_);
    for (NodeId id : cluster.ids()) {
      ClusterNode& node = cluster.node(id);
      feed_->started(node);
      if (!node.raft) feed_->crashed(node);
    }
  }
  for (NodeId id : cluster.ids()) {
    ClusterNode& node = cluster.node(id);
    // Retention is the test's business (MemoryLogStorage::trim_to): report it as it stands.
    const checkers::GroupId group = feed_->group_of(node);
    feed_->safety.compacted(group, id, node.storage.first_index());
    if (node.raft) feed_->safety.observe(group, id, node.raft->raft());
  }
  return feed_->safety.violation();
}

void SafetyChecker::storage_replaced(ClusterNode& node) {
  if (feed_->attached) feed_->safety.replaced(feed_->group_of(node), node.id, node.storage);
}

void SafetyChecker::read_requested(ClusterNode& node, uint64_t context) { feed_->read_requested(node, context); }

Index SafetyChecker::committed_max(ClusterNode& node) const { return feed_->safety.committed_max(feed_->group_of(node)); }

}  // namespace sluice::raft::testing
