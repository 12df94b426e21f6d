#include "sim/timeline.h"

#include <utility>

namespace sluice::sim {

std::string_view to_string(MessageClass cls) {
  switch (cls) {
    case MessageClass::swim: return "swim";
    case MessageClass::raft: return "raft";
    case MessageClass::rpc: return "rpc";
    case MessageClass::http: return "http";
    case MessageClass::other: break;
  }
  return "other";
}

std::string_view to_string(MarkKind kind) {
  switch (kind) {
    case MarkKind::crash: return "crash";
    case MarkKind::start: return "start";
    case MarkKind::fault: return "fault";
    case MarkKind::role: return "role";
    case MarkKind::client: return "client";
    case MarkKind::violation: break;
  }
  return "violation";
}

MessageClass Timeline::class_of(uint16_t port) const {
  auto it = port_classes_.find(port);
  return it == port_classes_.end() ? MessageClass::other : it->second;
}

// Keeps every sample_every_-th message; when full, halves the sample (keeping the even positions)
// and doubles the stride, so what is kept stays spread evenly over the whole run.
void Timeline::message(const TimelineMessage& message) {
  const uint64_t index = messages_seen_++;
  ++messages_seen_by_class_[static_cast<int>(message.cls)];
  if (index % sample_every_ != 0) return;
  if (messages_.size() >= messages_max_) {
    size_t kept = 0;
    for (size_t i = 0; i < messages_.size(); i += 2) messages_[kept++] = messages_[i];
    messages_.resize(kept);
    sample_every_ *= 2;
    if (index % sample_every_ != 0) return;
  }
  messages_.push_back(message);
}

void Timeline::mark(int64_t at_ns, int32_t lane, MarkKind kind, std::string label, uint64_t group, int64_t partition) {
  // The verdict is always kept: it is what the page is opened for.
  if (marks_.size() >= marks_max_ && kind != MarkKind::violation) {
    ++marks_dropped_;
    return;
  }
  if (label.size() > kLabelBytesMax) label.resize(kLabelBytesMax);
  marks_.push_back(TimelineMark{at_ns, lane, kind, group, partition, std::move(label)});
}

void Timeline::role(int64_t at_ns, int32_t lane, uint64_t group, std::string_view role, uint64_t term) {
  std::string& last = last_role_[{lane, group}];
  if (last == role) return;
  last = role;
  mark(at_ns, lane, MarkKind::role, std::string(role) + " t" + std::to_string(term), group);
}

}  // namespace sluice::sim
