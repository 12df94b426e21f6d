#include "node/raft/membership.h"

#include <algorithm>

namespace sluice::raft {

namespace {

constexpr uint8_t kConfChangeVersion = 1;
void put_u16(Bytes& out, size_t value) {
  out.push_back(static_cast<std::byte>(value & 0xff));
  out.push_back(static_cast<std::byte>((value >> 8) & 0xff));
}

void put_u64(Bytes& out, uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<std::byte>(value >> shift));
}

// Little-endian reads that turn `ok` false instead of reading past the end.
struct Reader {
  ByteSpan rest;
  bool ok = true;

  uint64_t take(size_t bytes) {
    if (!ok || rest.size() < bytes) {
      ok = false;
      return 0;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(rest[i]) << (8 * i);
    rest = rest.subspan(bytes);
    return value;
  }
  uint8_t u8() { return static_cast<uint8_t>(take(1)); }
  size_t u16() { return static_cast<size_t>(take(2)); }
  uint64_t u64() { return take(8); }
};

std::string join_ids(const std::set<NodeId>& ids) {
  std::string text;
  for (NodeId id : ids) {
    if (!text.empty()) text += ",";
    text += std::to_string(id);
  }
  return text;
}

size_t voter_difference(const std::set<NodeId>& a, const std::set<NodeId>& b) {
  std::vector<NodeId> difference;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(difference));
  return difference.size();
}

// Applies the items to the incoming half. `joint` says whether a voter demoted to learner keeps
// voting in the outgoing half until the joint configuration is left (learners_next).
Status apply_items(ConfState& state, const std::vector<ConfChangeItem>& items, bool joint) {
  for (const ConfChangeItem& item : items) {
    if (item.node == kNoNode) return Status(Errc::invalid_conf_change, "node id 0");
    switch (item.type) {
      case ConfChangeType::add_voter:
        state.learners.erase(item.node);
        state.learners_next.erase(item.node);
        state.voters.insert(item.node);
        break;
      case ConfChangeType::add_learner:
        state.voters.erase(item.node);
        if (joint && state.voters_outgoing.count(item.node) > 0) {
          state.learners_next.insert(item.node);
        } else {
          state.learners.insert(item.node);
        }
        break;
      case ConfChangeType::remove_node:
        state.voters.erase(item.node);
        state.learners.erase(item.node);
        state.learners_next.erase(item.node);
        break;
      default:
        return Status(Errc::invalid_conf_change, "unknown change type");
    }
  }
  if (state.voters.empty()) return Status(Errc::invalid_conf_change, "no voter would be left");
  return Status();
}

}  // namespace

std::set<NodeId> ConfState::all_nodes() const {
  std::set<NodeId> nodes = voters;
  nodes.insert(voters_outgoing.begin(), voters_outgoing.end());
  nodes.insert(learners.begin(), learners.end());
  nodes.insert(learners_next.begin(), learners_next.end());
  return nodes;
}

Bytes encode_conf_change_entry(const ConfChangeEntry& entry) {
  const ConfChange& change = entry.change;
  SLUICE_ASSERT_LE(change.items.size(), kConfChangeItemsMax);
  Bytes out;
  out.push_back(static_cast<std::byte>(kConfChangeVersion));
  out.push_back(static_cast<std::byte>(change.transition));
  put_u16(out, change.items.size());
  for (const ConfChangeItem& item : change.items) {
    out.push_back(static_cast<std::byte>(item.type));
    put_u64(out, item.node);
  }
  out.push_back(static_cast<std::byte>(entry.result.auto_leave ? 1 : 0));
  for (const std::set<NodeId>* ids : {&entry.result.voters, &entry.result.voters_outgoing, &entry.result.learners,
                                      &entry.result.learners_next}) {
    SLUICE_ASSERT_LE(ids->size(), kConfNodesMax);
    put_u16(out, ids->size());
    for (NodeId id : *ids) put_u64(out, id);
  }
  return out;
}

Result<ConfChangeEntry> decode_conf_change_entry(ByteSpan bytes) {
  Reader in{bytes};
  ConfChangeEntry entry;
  const uint8_t version = in.u8();
  const uint8_t transition = in.u8();
  if (!in.ok) return Status(Errc::malformed, "conf change shorter than its header");
  if (version != kConfChangeVersion) return Status(Errc::malformed, "unknown conf change version");
  if (transition > static_cast<uint8_t>(ConfChangeTransition::joint_explicit_leave)) {
    return Status(Errc::malformed, "unknown conf change transition");
  }
  entry.change.transition = static_cast<ConfChangeTransition>(transition);
  const size_t items = in.u16();
  if (items > kConfChangeItemsMax) return Status(Errc::malformed, "too many conf change items");
  for (size_t i = 0; i < items && in.ok; ++i) {
    const uint8_t type = in.u8();
    const NodeId node = in.u64();
    if (type > static_cast<uint8_t>(ConfChangeType::remove_node)) return Status(Errc::malformed, "unknown conf change type");
    entry.change.items.push_back({static_cast<ConfChangeType>(type), node});
  }
  const uint8_t flags = in.u8();
  if (flags > 1) return Status(Errc::malformed, "unknown conf change flags");
  entry.result.auto_leave = flags == 1;
  for (std::set<NodeId>* ids : {&entry.result.voters, &entry.result.voters_outgoing, &entry.result.learners,
                                &entry.result.learners_next}) {
    const size_t count = in.u16();
    if (count > kConfNodesMax) return Status(Errc::malformed, "too many nodes in a conf change result");
    for (size_t i = 0; i < count && in.ok; ++i) ids->insert(in.u64());
  }
  if (!in.ok) return Status(Errc::malformed, "conf change truncated");
  if (!in.rest.empty()) return Status(Errc::malformed, "bytes after the conf change");
  if (entry.result.voters.empty()) return Status(Errc::malformed, "conf change result without voters");
  return entry;
}

Result<ConfState> apply_conf_change(const ConfState& current, const ConfChange& change) {
  if (change.leave_joint()) {
    if (!current.joint()) return Status(Errc::invalid_conf_change, "not in a joint configuration");
    ConfState next = current;
    next.learners.insert(next.learners_next.begin(), next.learners_next.end());
    next.learners_next.clear();
    next.voters_outgoing.clear();
    next.auto_leave = false;
    return next;
  }
  if (current.joint()) return Status(Errc::invalid_conf_change, "already in a joint configuration");
  if (change.transition == ConfChangeTransition::automatic) {
    ConfState simple = current;
    SLUICE_TRY(apply_items(simple, change.items, /*joint=*/false));
    if (voter_difference(simple.voters, current.voters) <= 1) return simple;
  }
  ConfState next = current;
  next.voters_outgoing = current.voters;
  SLUICE_TRY(apply_items(next, change.items, /*joint=*/true));
  next.auto_leave = change.transition != ConfChangeTransition::joint_explicit_leave;
  return next;
}

std::string to_string(const ConfState& state) {
  std::string text = "voters=(" + join_ids(state.voters) + ")";
  if (state.joint()) text += "&&(" + join_ids(state.voters_outgoing) + ")";
  if (!state.learners.empty()) text += " learners=(" + join_ids(state.learners) + ")";
  if (!state.learners_next.empty()) text += " learners_next=(" + join_ids(state.learners_next) + ")";
  if (state.auto_leave) text += " autoleave";
  return text;
}

std::string to_string(const ConfChange& change) {
  if (change.leave_joint()) return "leave-joint";
  std::string text;
  switch (change.transition) {
    case ConfChangeTransition::automatic: break;
    case ConfChangeTransition::joint_auto_leave: text = "joint "; break;
    case ConfChangeTransition::joint_explicit_leave: text = "joint-explicit "; break;
  }
  for (size_t i = 0; i < change.items.size(); ++i) {
    if (i > 0) text += " ";
    const ConfChangeItem& item = change.items[i];
    switch (item.type) {
      case ConfChangeType::add_voter: text += "v"; break;
      case ConfChangeType::add_learner: text += "l"; break;
      case ConfChangeType::remove_node: text += "r"; break;
    }
    text += std::to_string(item.node);
  }
  return text;
}

}  // namespace sluice::raft
