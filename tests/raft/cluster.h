// A test cluster of Raft cores: in-memory "disks" that survive crashes, volatile RawNodes, and a
// network that is just a list of messages in flight which the test delivers, drops, duplicates
// or reorders at will. Shared by the transcript driver and the property tests.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "node/base/planted_bug.h"
#include "node/raft/memory_storage.h"
#include "node/raft/raw_node.h"

namespace sluice::raft::testing {

struct ClusterNode {
  NodeId id = kNoNode;
  RaftConfig config;
  MemoryLogStorage storage;        // the durable part: survives crash()
  std::unique_ptr<RawNode> raft;   // the volatile part: null while crashed
  uint64_t incarnation = 0;
  std::vector<Entry> applications;  // every entry handed out for applying, in order (all incarnations)
  std::vector<ReadState> reads;    // read states handed out, in order
};

// Told what happens to the nodes as a driver would tell a checker (tests/raft/safety_checker.h
// forwards it to sim/checkers/raft_safety.h), at the moment it happens.
class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;
  virtual void started(ClusterNode& node) = 0;  // created or restarted: its storage is what it has
  virtual void persisted(ClusterNode& node, const Ready& rd) = 0;  // the Ready's writes are durable
  virtual void sent(ClusterNode& node, const std::vector<Message>& messages) = 0;
  virtual void handled(ClusterNode& node, const Ready& rd) = 0;  // committed entries applied, read states out
  virtual void crashed(ClusterNode& node) = 0;
};

// "1: leader term=2 vote=1 lead=1 log=1..5 commit=5 applied=5 voters=(1,2,3)" plus one line per
// peer's progress on a leader, and lines for what the node holds back (pre-vote backing, deferred
// pre-votes, a campaign waiting for an apply); "1: down" for a crashed node.
std::string describe_node(const ClusterNode& node);

class Cluster {
 public:
  explicit Cluster(uint64_t seed) : seed_(seed) {}

  Status add_node(const RaftConfig& config, const ConfState& bootstrap);
  // A node whose storage is preset (a log, a hard state) before it starts.
  Status add_node(const RaftConfig& config, MemoryLogStorage storage);
  bool has(NodeId id) const { return nodes_.count(id) > 0; }
  bool up(NodeId id) const { return has(id) && nodes_.at(id).raft != nullptr; }
  ClusterNode& node(NodeId id) { return nodes_.at(id); }
  const std::map<NodeId, ClusterNode>& nodes() const { return nodes_; }
  std::vector<NodeId> ids() const;

  // Power loss: everything not persisted by a processed Ready is gone.
  void crash(NodeId id);
  // Power loss in the middle of handling a Ready: after its writes are durable and before its
  // messages leave. With a planted bug (node/base/planted_bug.h) the order the bug breaks:
  // raft_send_before_persist: the messages left, the writes never happened; raft_skip_sync: the
  // writes happened (and were reported persisted) and the messages left, but the writes were
  // never synced and are lost. False when the node is down or has nothing ready.
  bool crash_during_ready(NodeId id);
  void plant(PlantedBug bug) { planted_bug_ = bug; }
  // As the multi-Raft host does (RaftHostConfig::leader_sends_before_sync): a leader's appends
  // and heartbeats leave before its Ready is persisted; crash_during_ready then loses the writes
  // of a leader's Ready after those messages left.
  void leader_sends_before_sync(bool on) { leader_sends_early_ = on; }
  Status restart(NodeId id);

  // One Ready of `id` handled by the contract: jump, append, hard/conf state (the "sync"), then
  // send, apply, advance. nullopt when the node is down or has nothing ready.
  std::optional<Ready> process_ready(NodeId id);

  // Messages in flight, oldest first.
  std::deque<Message>& network() { return network_; }
  const std::deque<Message>& network() const { return network_; }
  // Removes message `position` and steps its recipient. False if it was lost: recipient down,
  // or the two ends are partitioned.
  bool deliver(size_t position);
  void drop(size_t position) { network_.erase(network_.begin() + static_cast<std::ptrdiff_t>(position)); }

  // Nodes in different groups cannot exchange messages (checked at delivery).
  void partition(const std::vector<std::set<NodeId>>& groups) { groups_ = groups; }
  void heal() { groups_.clear(); }
  bool connected(NodeId a, NodeId b) const;

  // At most one observer, held weakly: either side may go first.
  void observe_with(std::weak_ptr<ClusterObserver> observer) { observer_ = std::move(observer); }
  std::shared_ptr<ClusterObserver> observer() const { return observer_.lock(); }

 private:
  Prng prng_for(const ClusterNode& node) const;
  void persist(ClusterNode& node, const Ready& rd);
  void send(ClusterNode& node, const Ready& rd);
  bool send_leader_appends(ClusterNode& node, Ready& rd);

  uint64_t seed_;
  std::map<NodeId, ClusterNode> nodes_;
  std::deque<Message> network_;
  std::vector<std::set<NodeId>> groups_;
  PlantedBug planted_bug_ = PlantedBug::none;
  bool leader_sends_early_ = false;
  std::weak_ptr<ClusterObserver> observer_;
};

}  // namespace sluice::raft::testing
