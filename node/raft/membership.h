// Group membership: who votes, who only learns, and how a change moves from one configuration to
// the next. Changes to more than one voter go through a joint configuration (Raft §6 / thesis
// §4.3): while joint, elections and commits need a majority of the outgoing AND of the incoming
// voters, so no moment exists where two disjoint majorities could decide.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "node/base/bytes.h"
#include "node/raft/types.h"

namespace sluice::raft {

struct ConfState {
  std::set<NodeId> voters;           // the incoming (or only) voter set
  std::set<NodeId> voters_outgoing;  // non-empty only while joint
  std::set<NodeId> learners;         // receive the log, never vote
  // Voters of the outgoing set demoted to learners by the joint change: they keep voting in the
  // outgoing half until the joint configuration is left, then become learners.
  std::set<NodeId> learners_next;
  bool auto_leave = false;  // the leader proposes leaving the joint configuration by itself
  Index index = 0;          // the conf-change entry this state results from (0: bootstrap)

  bool joint() const { return !voters_outgoing.empty(); }
  bool is_voter(NodeId id) const { return voters.count(id) > 0 || voters_outgoing.count(id) > 0; }
  bool is_learner(NodeId id) const { return learners.count(id) > 0 || learners_next.count(id) > 0; }
  // Every node the configuration knows: voters of both halves and learners, sorted.
  std::set<NodeId> all_nodes() const;

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

enum class ConfChangeType : uint8_t { add_voter = 0, add_learner = 1, remove_node = 2 };

struct ConfChangeItem {
  ConfChangeType type = ConfChangeType::add_voter;
  NodeId node = kNoNode;

  friend bool operator==(const ConfChangeItem&, const ConfChangeItem&) = default;
};

enum class ConfChangeTransition : uint8_t {
  // One voter changes: apply directly (a single-server change keeps majorities overlapping).
  // More than one: joint configuration, left automatically.
  automatic = 0,
  joint_auto_leave = 1,      // always joint; the leader leaves it once the change is applied
  joint_explicit_leave = 2,  // always joint; stays joint until an empty change is proposed
};

// An empty `items` list means "leave the joint configuration".
struct ConfChange {
  ConfChangeTransition transition = ConfChangeTransition::automatic;
  std::vector<ConfChangeItem> items;

  bool leave_joint() const { return items.empty(); }

  friend bool operator==(const ConfChange&, const ConfChange&) = default;
};

// Items per change and ids per node set; bounds so a decoder never allocates on a hostile count.
inline constexpr size_t kConfChangeItemsMax = 64;
inline constexpr size_t kConfNodesMax = 256;

// A conf-change entry carries the change (what was asked, for people reading the log) and the
// membership it results in. Applying the entry adopts `result` as it is: a node that joins with
// no membership at all, or one that meets the entry again after a log-start jump, needs no
// correct base to apply a delta to. (The leader computes `result` from a membership that is
// current: it proposes only when no conf change is unapplied.)
struct ConfChangeEntry {
  ConfChange change;
  ConfState result;  // `index` is not encoded; the entry's own index is

  friend bool operator==(const ConfChangeEntry&, const ConfChangeEntry&) = default;
};

// The conf-change entry payload (docs/raft.md, "Conf-change entry encoding").
Bytes encode_conf_change_entry(const ConfChangeEntry& entry);
Result<ConfChangeEntry> decode_conf_change_entry(ByteSpan bytes);

// The configuration after `change`, or invalid_conf_change saying why it does not apply
// (entering joint while joint, leaving while not joint, no voter left, node id 0, ...).
// The result's `index` is left as in `current`; the caller stamps the entry index.
Result<ConfState> apply_conf_change(const ConfState& current, const ConfChange& change);

std::string to_string(const ConfState& state);
std::string to_string(const ConfChange& change);

}  // namespace sluice::raft
