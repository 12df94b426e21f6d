#include "node/raft/membership.h"

#include <algorithm>

namespace sluice::raft {

namespace {

constexpr uint8_t kConfChangeVersion = 1;
constexpr size_t kConfChangeHeaderBytes = 4;  // version, transition, item count (u16 LE)
constexpr size_t kConfChangeItemBytes = 9;    // type, node id (u64 LE)

void put_u64(Bytes& out, uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) out.push_back(static_cast<std::byte>(value >> shift));
}

uint64_t get_u64(ByteSpan bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  return value;
}

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

Bytes encode_conf_change(const ConfChange& change) {
  SLUICE_ASSERT_LE(change.items.size(), kConfChangeItemsMax);
  Bytes out;
  out.reserve(kConfChangeHeaderBytes + change.items.size() * kConfChangeItemBytes);
  out.push_back(static_cast<std::byte>(kConfChangeVersion));
  out.push_back(static_cast<std::byte>(change.transition));
  out.push_back(static_cast<std::byte>(change.items.size() & 0xff));
  out.push_back(static_cast<std::byte>(change.items.size() >> 8));
  for (const ConfChangeItem& item : change.items) {
    out.push_back(static_cast<std::byte>(item.type));
    put_u64(out, item.node);
  }
  return out;
}

Result<ConfChange> decode_conf_change(ByteSpan bytes) {
  if (bytes.size() < kConfChangeHeaderBytes) return Status(Errc::malformed, "conf change shorter than its header");
  if (static_cast<uint8_t>(bytes[0]) != kConfChangeVersion) return Status(Errc::malformed, "unknown conf change version");
  const auto transition = static_cast<uint8_t>(bytes[1]);
  if (transition > static_cast<uint8_t>(ConfChangeTransition::joint_explicit_leave)) {
    return Status(Errc::malformed, "unknown conf change transition");
  }
  const size_t count = static_cast<size_t>(bytes[2]) | (static_cast<size_t>(bytes[3]) << 8);
  if (count > kConfChangeItemsMax) return Status(Errc::malformed, "too many conf change items");
  if (bytes.size() != kConfChangeHeaderBytes + count * kConfChangeItemBytes) {
    return Status(Errc::malformed, "conf change length does not match its item count");
  }
  ConfChange change;
  change.transition = static_cast<ConfChangeTransition>(transition);
  for (size_t i = 0; i < count; ++i) {
    ByteSpan item = bytes.subspan(kConfChangeHeaderBytes + i * kConfChangeItemBytes, kConfChangeItemBytes);
    const auto type = static_cast<uint8_t>(item[0]);
    if (type > static_cast<uint8_t>(ConfChangeType::remove_node)) return Status(Errc::malformed, "unknown conf change type");
    change.items.push_back({static_cast<ConfChangeType>(type), get_u64(item.subspan(1))});
  }
  return change;
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
