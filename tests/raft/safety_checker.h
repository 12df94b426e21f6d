// The Raft safety checker (sim/checkers/raft_safety.h) fed by a test Cluster: attached to the
// cluster at the first check, it hears what the cluster's nodes persist, send, apply and lose as it
// happens, and looks at every up core at each check. Call check() after every step.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tests/raft/cluster.h"

namespace sluice::raft::testing {

class SafetyChecker {
 public:
  struct Options {
    // Judge every message against its sender's durable state. Off: a message sent ahead of its
    // durable state is only caught by what it leads to (two leaders, a lost committed entry).
    bool check_messages = true;
  };

  SafetyChecker() : SafetyChecker(Options{}) {}
  explicit SafetyChecker(Options options);

  // The first violation found, described; nullopt when all hold. A cluster seen for the first
  // time is taken as it stands (its storage is what each node has durably).
  std::optional<std::string> check(Cluster& cluster);

  // read_index(context) is being called on `node`: its answer must cover everything committed
  // so far. Answers to contexts never announced here are not judged.
  void read_requested(ClusterNode& node, uint64_t context);
  // The node's storage was edited by hand (a preset state): the checker takes it as it is.
  void storage_replaced(ClusterNode& node);
  // The highest index known committed in the node's group.
  Index committed_max(ClusterNode& node) const;

 private:
  class Feed;
  Options options_;
  std::shared_ptr<Feed> feed_;
};

}  // namespace sluice::raft::testing
