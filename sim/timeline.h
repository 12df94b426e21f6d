// The timeline recorder behind `sluice-sim run --timeline FILE` (docs/simulation.md, "Timeline"):
// what happened on which node when, kept for a space-time diagram. The world, the network, the
// fault injector and the workloads fill it only when a run asks for one (World::timeline() is
// null otherwise: one pointer check per event). Recording never draws randomness, schedules an
// event or touches the trace, so a run's trace_hash is the same with and without it.
//
// Memory is bounded: messages are sampled (when kMessagesMax are kept, every other one is dropped
// and only every 2nd, 4th, ... new one is kept, so the sample stays spread over the whole run)
// and other events stop at kMarksMax; the page says when either happened.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::sim {

// How a message is classified: by the port of the service it goes to (set_port_class).
enum class MessageClass : uint8_t { swim, raft, rpc, http, other };
inline constexpr int kMessageClasses = 5;
std::string_view to_string(MessageClass cls);

enum class MarkKind : uint8_t {
  crash,      // the node lost power
  start,      // the node booted (first start or restart)
  fault,      // a fault the injector applied (lane -1: the network or every node)
  role,       // a Raft group's role on the node changed
  client,     // a client operation on a client host
  violation,  // a checker failed (lane -1)
};
std::string_view to_string(MarkKind kind);

struct TimelineMessage {
  int64_t sent_ns = 0;
  int64_t arrived_ns = 0;  // when it was dropped, for a dropped one
  int32_t from = 0;
  int32_t to = 0;
  MessageClass cls = MessageClass::other;
  bool stream = false;     // a stream segment (else a datagram)
  bool dropped = false;    // lost, blocked by a partition, refused by the classifier, overflowed
  uint32_t bytes = 0;
};

struct TimelineMark {
  int64_t at_ns = 0;
  int32_t lane = -1;   // node index; -1: the whole cluster
  MarkKind kind = MarkKind::fault;
  uint64_t group = 0;       // role marks: the Raft group; 0: none
  int64_t partition = -1;   // client marks bound to a topic partition; -1: none
  std::string label;
};

// A Raft group as the page's partition filter names it.
struct TimelineGroup {
  std::string label;     // "controller", "events/0", ...
  int64_t partition = -1;  // the topic partition it replicates; -1: the controller or unknown
};

// A lane of the diagram: a simulated host.
struct TimelineLane {
  std::string host;
  bool client = false;  // a client host (runs clients, no node)
};

class Timeline {
 public:
  static constexpr size_t kMessagesMax = 250'000;   // message arrows kept (a sample beyond)
  static constexpr size_t kMarksMax = 2'000'000;    // every other event kept
  static constexpr size_t kLabelBytesMax = 512;     // longer labels are cut

  explicit Timeline(size_t messages_max = kMessagesMax, size_t marks_max = kMarksMax)
      : messages_max_(messages_max), marks_max_(marks_max) {}

  // --- what the run tells it ---
  void set_lanes(std::vector<TimelineLane> lanes) { lanes_ = std::move(lanes); }
  void set_port_class(uint16_t port, MessageClass cls) { port_classes_[port] = cls; }
  MessageClass class_of(uint16_t port) const;
  void message(const TimelineMessage& message);
  void mark(int64_t at_ns, int32_t lane, MarkKind kind, std::string label, uint64_t group = 0, int64_t partition = -1);
  // A Raft group's role on `lane`, recorded only when it differs from the last one seen there.
  void role(int64_t at_ns, int32_t lane, uint64_t group, std::string_view role, uint64_t term);
  void name_group(uint64_t group, TimelineGroup name) { groups_[group] = std::move(name); }

  // --- what the page shows ---
  const std::vector<TimelineLane>& lanes() const { return lanes_; }
  const std::vector<TimelineMessage>& messages() const { return messages_; }
  const std::vector<TimelineMark>& marks() const { return marks_; }
  const std::map<uint64_t, TimelineGroup>& groups() const { return groups_; }
  uint64_t messages_seen() const { return messages_seen_; }
  uint64_t messages_seen(MessageClass cls) const { return messages_seen_by_class_[static_cast<int>(cls)]; }
  uint64_t sample_every() const { return sample_every_; }
  uint64_t marks_dropped() const { return marks_dropped_; }

 private:
  size_t messages_max_;
  size_t marks_max_;
  std::vector<TimelineLane> lanes_;
  std::map<uint16_t, MessageClass> port_classes_;
  std::vector<TimelineMessage> messages_;
  std::vector<TimelineMark> marks_;
  std::map<uint64_t, TimelineGroup> groups_;
  std::map<std::pair<int32_t, uint64_t>, std::string> last_role_;  // (lane, group) -> "leader"
  uint64_t messages_seen_ = 0;
  uint64_t messages_seen_by_class_[kMessageClasses] = {};
  uint64_t sample_every_ = 1;
  uint64_t marks_dropped_ = 0;
};

}  // namespace sluice::sim
