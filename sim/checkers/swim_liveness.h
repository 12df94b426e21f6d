// SWIM's promises to live members, judged against what the simulator knows and the members do
// not (who is up, slowed, cut off):
//   Refutation   a suspicion of a healthy member is refuted: the member raises its own
//                incarnation above the suspected one within refute_ns_max of the first
//                suspicion anyone held (SWIM §4.2). A member that was unhealthy at any time since
//                the suspicion began is excused (it may not have heard of it).
//   Not left dead a member that is healthy and can talk both ways with an observer for
//                revive_ns_max is not held dead by that observer: a false positive must
//                heal (the member refutes its death, or a reconnect ping / push-pull merges the
//                two sides).
// Healthy: up and started, not slowed (CPU lag or slow message processing), not partitioned from
// anyone. Polled (poll()) by the swim workload; each poll costs members² lookups.
//
// Pure: NodeIds and incarnations in, the first violation out. Planted bug swim_no_refute (a member
// never refutes a suspicion of itself) is what the refutation check exists to catch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "node/base/ids.h"

namespace sluice::checkers {

enum class MemberView : uint8_t { alive, suspect, dead, left };

// What the checker reads at a poll: the truth about the nodes and each member's view.
class SwimWorldView {
 public:
  virtual ~SwimWorldView() = default;
  virtual std::vector<NodeId> members() const = 0;
  virtual bool healthy(NodeId node) const = 0;
  // Messages flow both ways between a and b (no partition of either direction).
  virtual bool connected(NodeId a, NodeId b) const = 0;
  // The member's own incarnation; nullopt while it is down or not started.
  virtual std::optional<uint64_t> own_incarnation(NodeId node) const = 0;
  // How `observer` holds `subject`; nullopt when the observer is down or does not know it.
  struct View {
    MemberView state = MemberView::alive;
    uint64_t incarnation = 0;
  };
  virtual std::optional<View> view(NodeId observer, NodeId subject) const = 0;
};

struct SwimLivenessConfig {
  int64_t refute_ns_max = 30'000'000'000;
  int64_t revive_ns_max = 60'000'000'000;
};

// Suspicions are counted once per (member, incarnation); false deaths per (observer, member).
struct SwimLivenessStats {
  uint64_t suspicions_judged = 0;    // of healthy members, refuted in time
  uint64_t suspicions_excused = 0;   // the member was (or became) unhealthy before refuting
  uint64_t false_deaths_healed = 0;  // an observer held a healthy member dead, later alive again
};

class SwimLivenessChecker {
 public:
  explicit SwimLivenessChecker(SwimLivenessConfig config) : config_(config) {}

  void poll(int64_t now_ns, const SwimWorldView& world);
  const std::optional<std::string>& violation() const { return violation_; }
  const SwimLivenessStats& stats() const { return stats_; }

 private:
  struct Suspicion {
    int64_t since_ns = 0;  // first seen anywhere
  };
  void track_health(int64_t now_ns, const SwimWorldView& world, const std::vector<NodeId>& members);
  void judge_suspicions(int64_t now_ns, const SwimWorldView& world);
  void judge_deaths(int64_t now_ns, const SwimWorldView& world, const std::vector<NodeId>& members);
  void fail(int64_t now_ns, std::string what);

  SwimLivenessConfig config_;
  std::map<NodeId, int64_t> healthy_since_;                    // absent: unhealthy now
  std::map<std::pair<NodeId, NodeId>, int64_t> pair_since_;    // both healthy and connected since
  struct HeldDead {
    int64_t since_ns = 0;
    bool false_death = false;  // the subject was healthy when first seen held dead
  };
  std::map<std::pair<NodeId, uint64_t>, Suspicion> suspicions_;  // (subject, incarnation) pending
  std::set<std::pair<NodeId, uint64_t>> excused_;  // counted once; judged again if still held later
  std::map<std::pair<NodeId, NodeId>, HeldDead> held_dead_;      // (observer, subject)
  std::optional<std::string> violation_;
  SwimLivenessStats stats_;
};

}  // namespace sluice::checkers
