#include "sim/checkers/swim_liveness.h"

namespace sluice::checkers {
namespace {

std::string seconds(int64_t ns) {
  const int64_t ms = ns / 1'000'000;
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
}

}  // namespace

void SwimLivenessChecker::fail(int64_t now_ns, std::string what) {
  if (!violation_) violation_ = "t=" + seconds(now_ns) + " " + std::move(what);
}

void SwimLivenessChecker::poll(int64_t now_ns, const SwimWorldView& world) {
  const std::vector<NodeId> members = world.members();
  track_health(now_ns, world, members);
  judge_suspicions(now_ns, world);
  judge_deaths(now_ns, world, members);
}

void SwimLivenessChecker::track_health(int64_t now_ns, const SwimWorldView& world, const std::vector<NodeId>& members) {
  for (NodeId node : members) {
    bool healthy = world.healthy(node);
    for (NodeId other : members) healthy = healthy && (other == node || world.connected(node, other));
    if (!healthy) {
      healthy_since_.erase(node);
    } else {
      healthy_since_.try_emplace(node, now_ns);
    }
  }
  for (NodeId a : members) {
    for (NodeId b : members) {
      if (a == b) continue;
      const bool ok = world.healthy(a) && world.healthy(b) && world.connected(a, b);
      if (!ok) {
        pair_since_.erase({a, b});
      } else {
        pair_since_.try_emplace({a, b}, now_ns);
      }
    }
  }
}

// Every suspicion anyone holds is remembered by (subject, incarnation) until the subject raises
// its incarnation above it (refuted), turns unhealthy after it began (excused), or the bound
// passes (a violation).
void SwimLivenessChecker::judge_suspicions(int64_t now_ns, const SwimWorldView& world) {
  std::set<std::pair<NodeId, uint64_t>> held;
  for (NodeId observer : world.members()) {
    for (NodeId subject : world.members()) {
      if (observer == subject) continue;
      const std::optional<SwimWorldView::View> view = world.view(observer, subject);
      if (!view || view->state != MemberView::suspect) continue;
      // A suspicion the member has already refuted is old news still travelling: not a new one.
      const std::optional<uint64_t> own = world.own_incarnation(subject);
      if (own && *own > view->incarnation) continue;
      held.insert({subject, view->incarnation});
      suspicions_.try_emplace({subject, view->incarnation}, Suspicion{now_ns});
    }
  }
  for (auto it = suspicions_.begin(); it != suspicions_.end();) {
    const auto [subject, incarnation] = it->first;
    const std::optional<uint64_t> own = world.own_incarnation(subject);
    auto healthy = healthy_since_.find(subject);
    if (own && *own > incarnation) {
      ++stats_.suspicions_judged;
      it = suspicions_.erase(it);
    } else if (healthy == healthy_since_.end() || healthy->second > it->second.since_ns || held.count(it->first) == 0) {
      // Excused for now: the member was unhealthy (a suspicion still held once it is healthy
      // again is judged anew), or nobody holds it any more (its holders crashed, or declared the
      // member dead, which the not-left-dead rule judges).
      if (excused_.insert(it->first).second) ++stats_.suspicions_excused;
      it = suspicions_.erase(it);
    } else if (now_ns - it->second.since_ns > config_.refute_ns_max) {
      std::string holders;
      for (NodeId observer : world.members()) {
        const std::optional<SwimWorldView::View> view = observer == subject ? std::nullopt : world.view(observer, subject);
        if (view && view->state == MemberView::suspect && view->incarnation == incarnation) {
          holders += (holders.empty() ? "" : ",") + std::to_string(observer);
        }
      }
      fail(now_ns, "swim refutation: member " + std::to_string(subject) + " (own incarnation " +
                       (own ? std::to_string(*own) : std::string("-")) + ") was suspected at incarnation " +
                       std::to_string(incarnation) + " " + seconds(now_ns - it->second.since_ns) +
                       " ago while healthy and has not refuted (refute_s_max " + seconds(config_.refute_ns_max) +
                       "); held suspect by " + (holders.empty() ? "nobody now" : holders));
      return;
    } else {
      ++it;
    }
  }
}

void SwimLivenessChecker::judge_deaths(int64_t now_ns, const SwimWorldView& world, const std::vector<NodeId>& members) {
  for (NodeId observer : members) {
    for (NodeId subject : members) {
      if (observer == subject) continue;
      const std::optional<SwimWorldView::View> view = world.view(observer, subject);
      // `left` is a member's own decision: it is gone, not falsely declared dead.
      const bool held_dead = view && view->state == MemberView::dead;
      auto held = held_dead_.find({observer, subject});
      if (!held_dead) {
        if (held != held_dead_.end()) {
          if (view && held->second.false_death) ++stats_.false_deaths_healed;
          held_dead_.erase(held);
        }
        continue;
      }
      if (held == held_dead_.end()) {
        const HeldDead first{now_ns, healthy_since_.count(subject) != 0};
        held = held_dead_.emplace(std::make_pair(observer, subject), first).first;
      }
      auto pair = pair_since_.find({observer, subject});
      if (pair == pair_since_.end() || now_ns - pair->second <= config_.revive_ns_max) continue;
      if (now_ns - held->second.since_ns <= config_.revive_ns_max) continue;
      fail(now_ns, "swim liveness: member " + std::to_string(subject) + " is healthy and reachable from " +
                       std::to_string(observer) + " for " + seconds(now_ns - pair->second) + " but still held dead there " +
                       "(revive_s_max " + seconds(config_.revive_ns_max) + ")");
      return;
    }
  }
}

}  // namespace sluice::checkers
