// Membership rules: how an update (from gossip, a datagram's sender, a push-pull merge or our
// own probe) changes the table. Members are keyed by node id; incarnation numbers order claims
// about one member: a member alone raises its own incarnation, to refute suspicion or death, or
// to settle which addresses are its own (docs/swim.md "Identity"). Every change is re-broadcast
// and reported as an event.
#include <algorithm>
#include <utility>

#include "node/base/coverage.h"
#include "node/swim/core.h"

namespace sluice::swim {

namespace {

// Only alive claims say where a member is (formats/swim.md).
Update claim(NodeId id, uint64_t incarnation, MemberState state, NodeId origin, const std::string& address,
             const NamedAddresses& named) {
  if (state != MemberState::alive) return Update{id, incarnation, state, origin, "", {}};
  return Update{id, incarnation, state, origin, address, named};
}

bool same_addresses(const Member& member, const Update& update) {
  return member.address == update.address && member.named == update.named;
}

}  // namespace

Update Core::self_update() const {
  return claim(config_.self_id, incarnation_, leaving_ ? MemberState::left : MemberState::alive, kNoNode,
               config_.self_address, config_.self_named);
}

Update Core::update_of(const Member& member, NodeId origin) const {
  return claim(member.id, member.incarnation, member.state, origin, member.address, member.named);
}

NodeId Core::suspicion_origin(NodeId id) const {
  auto it = suspicions_.find(id);
  return it == suspicions_.end() ? config_.self_id : it->second.first_origin;
}

void Core::set_state(Member& member, MemberState state, uint64_t incarnation, uint64_t now_ms) {
  // Only the member raises its incarnation; nobody else's claim may lower what we hold.
  SLUICE_ASSERT_GE(incarnation, member.incarnation);
  member.state = state;
  member.incarnation = incarnation;
  member.state_since_ms = now_ms;
  if (state != MemberState::suspect) suspicions_.erase(member.id);
}

void Core::enqueue(Update update) {
  if (!broadcasts_.push(std::move(update))) stats_.broadcasts_evicted += 1;
}

void Core::apply_update(const Update& update, uint64_t now_ms) {
  if (update.member == config_.self_id) {
    apply_about_self(update);
    return;
  }
  switch (update.state) {
    case MemberState::alive: apply_alive(update, now_ms); break;
    case MemberState::suspect: apply_suspect(update, now_ms); break;
    case MemberState::dead:
    case MemberState::left: apply_gone(update, now_ms); break;
  }
}

// A newcomer, whatever address it claims: ids are never reused, addresses are. Another member we
// hold at the same address (a node replaced on the same host) stays until its probes fail, which
// they do, as the newcomer refuses pings addressed to that member's id.
void Core::add_member(const Update& update, uint64_t now_ms) {
  // A live newcomer matters more than the oldest tombstone.
  if (members_.size() >= config_.members_max && !make_room()) {
    stats_.dropped_members_full += 1;
    note(NoteKind::table_full, update, nullptr);
    return;
  }
  Member fresh{update.member, update.address, update.named, update.incarnation, MemberState::alive, now_ms};
  const Member& member = members_.emplace(update.member, std::move(fresh)).first->second;
  insert_probe_order(member.id);
  push_event(EventKind::joined, member, now_ms);
  enqueue(update_of(member, kNoNode));
}

void Core::apply_alive(const Update& update, uint64_t now_ms) {
  SLUICE_ASSERT(!update.address.empty());  // alive claims say where (the codec refuses others)
  auto it = members_.find(update.member);
  if (it == members_.end()) {
    add_member(update, now_ms);
    return;
  }
  Member& member = it->second;
  // Only the member itself raises its incarnation, so a higher one is newer news than anything
  // we hold, addresses included (it moved); an equal one cannot clear a suspicion (that needs a
  // refutation), nor say which of two address sets is newer: we keep ours, and the member, when
  // it hears of ours, refutes with its own at a higher incarnation.
  if (update.incarnation < member.incarnation) note(NoteKind::stale_claim, update, &member);
  if (update.incarnation == member.incarnation && member.state != MemberState::alive) {
    note(NoteKind::needs_refutation, update, &member);
  } else if (update.incarnation == member.incarnation && !same_addresses(member, update)) {
    stats_.address_conflicts += 1;
    note(NoteKind::address_conflict, update, &member);
  }
  if (update.incarnation <= member.incarnation) return;
  const MemberState before = member.state;
  const bool moved = !same_addresses(member, update);
  member.address = update.address;
  member.named = update.named;
  set_state(member, MemberState::alive, update.incarnation, now_ms);
  if (before == MemberState::suspect) push_event(EventKind::alive, member, now_ms);
  if (before == MemberState::dead || before == MemberState::left) {
    insert_probe_order(member.id);
    push_event(EventKind::joined, member, now_ms);
  }
  if (before == MemberState::alive && moved) push_event(EventKind::updated, member, now_ms);
  enqueue(update_of(member, kNoNode));
}

void Core::apply_suspect(const Update& update, uint64_t now_ms) {
  auto it = members_.find(update.member);
  // Unknown: its alive will reach us first or soon; we could not verify the claim anyway.
  if (it == members_.end()) {
    note(NoteKind::unknown_member, update, nullptr);
    return;
  }
  Member& member = it->second;
  if (update.incarnation < member.incarnation) {  // already refuted
    note(NoteKind::stale_claim, update, &member);
    return;
  }
  if (member.state == MemberState::dead || member.state == MemberState::left) return;
  if (member.state == MemberState::suspect) {
    confirm_suspicion(member, update);
    return;
  }
  set_state(member, MemberState::suspect, update.incarnation, now_ms);
  Suspicion suspicion;
  suspicion.started_ms = now_ms;
  suspicion.deadline_ms = now_ms + suspicion_timeout_ms(config_, live_members(), 0);
  suspicion.first_origin = update.origin;
  suspicions_[member.id] = std::move(suspicion);
  push_event(EventKind::suspect, member, now_ms);
  enqueue(update_of(member, update.origin));
}

void Core::confirm_suspicion(Member& member, const Update& update) {
  member.incarnation = std::max(member.incarnation, update.incarnation);
  // Plain SWIM has a fixed timeout: confirmations change nothing and need not travel.
  if (!config_.lifeguard) return;
  auto it = suspicions_.find(member.id);
  if (it == suspicions_.end()) return;
  Suspicion& suspicion = it->second;
  // Hearsay (a push-pull merge) names no witness; and a suspicion that started from hearsay
  // takes its first named witness as its origin, not as a confirmation.
  if (update.origin == kNoNode) note(NoteKind::hearsay, update, &member);
  if (update.origin == kNoNode || update.origin == suspicion.first_origin) return;
  if (suspicion.first_origin == kNoNode) {
    suspicion.first_origin = update.origin;
    return;
  }
  const auto& confirmers = suspicion.confirmers;
  if (std::find(confirmers.begin(), confirmers.end(), update.origin) != confirmers.end()) return;
  // Beyond K the timeout is at its minimum already; more would only grow this list.
  if (confirmers.size() >= config_.suspicion_confirmations_expected) {
    note(NoteKind::confirmations_max, update, &member);
    return;
  }
  suspicion.confirmers.push_back(update.origin);
  SLUICE_COVER("swim.suspicion_confirmed");
  const auto count = static_cast<uint32_t>(suspicion.confirmers.size());
  suspicion.deadline_ms = suspicion.started_ms + suspicion_timeout_ms(config_, live_members(), count);
  // Spread the independent confirmation so the other members' timers shrink as well.
  enqueue(update_of(member, update.origin));
}

void Core::apply_gone(const Update& update, uint64_t now_ms) {
  auto it = members_.find(update.member);
  if (it == members_.end()) {  // never knew it: nothing to remove
    note(NoteKind::unknown_member, update, nullptr);
    return;
  }
  Member& member = it->second;
  if (update.incarnation < member.incarnation) {
    note(NoteKind::stale_claim, update, &member);
    return;
  }
  if (member.state == MemberState::dead || member.state == MemberState::left) return;
  set_state(member, update.state, update.incarnation, now_ms);
  if (probe_.active && probe_.target == member.id) probe_.active = false;
  push_event(update.state == MemberState::left ? EventKind::left : EventKind::dead, member, now_ms);
  enqueue(update_of(member, update.origin));
}

void Core::apply_about_self(const Update& update) {
  if (update.state == MemberState::alive) {
    // Someone knows us at a higher incarnation than we do: we restarted and forgot. Go above it,
    // with our addresses, which may not be those of the life they know.
    if (update.incarnation > incarnation_) {
      SLUICE_COVER("swim.restart_above_known_incarnation");
      incarnation_ = update.incarnation + 1;
      enqueue(self_update());
      return;
    }
    // Known at our incarnation under other addresses: a life of ours that ran elsewhere or with
    // other endpoints (we moved and restarted), which nobody can tell from this one. Only we
    // can settle it: a higher incarnation with our addresses wins everywhere.
    const bool ours = update.address == config_.self_address && update.named == config_.self_named;
    if (update.incarnation == incarnation_ && !ours && !leaving_) {
      SLUICE_COVER("swim.refute_address_conflict");
      stats_.address_conflicts += 1;
      stats_.refutations += 1;
      incarnation_ = update.incarnation + 1;
      enqueue(self_update());
    }
    return;
  }
  // A member that is leaving does not argue with its own departure.
  if (leaving_ && update.incarnation >= incarnation_) note(NoteKind::leaving, update, nullptr);
  if (leaving_ || update.incarnation < incarnation_) return;
  // Planted (tests only): the member lets suspicion and death stand, the bug the simulator's
  // SWIM liveness checker exists to catch.
  if (config_.planted_bug == PlantedBug::swim_no_refute) return;
  if (update.state == MemberState::suspect) {
    SLUICE_COVER("swim.refute_suspicion");
  } else {
    SLUICE_COVER("swim.refute_death");
  }
  incarnation_ = update.incarnation + 1;
  stats_.refutations += 1;
  // Being suspected is also a hint that we are the slow one (Lifeguard).
  adjust_awareness(1);
  enqueue(self_update());
}

// Every suspect member has a running suspicion timer (one that lost its timer would stay suspect
// for ever): the two tables must agree.
bool Core::suspects_have_timers() const {
  return std::all_of(members_.begin(), members_.end(), [this](const auto& entry) {
    return entry.second.state != MemberState::suspect || suspicions_.count(entry.first) != 0;
  });
}

void Core::expire_suspicions(uint64_t now_ms) {
  SLUICE_ASSERT_EXPENSIVE(suspects_have_timers());
  std::vector<NodeId> due;
  for (const auto& [id, suspicion] : suspicions_) {
    if (suspicion.deadline_ms <= now_ms) due.push_back(id);
  }
  for (NodeId id : due) {
    auto it = members_.find(id);
    if (it == members_.end() || it->second.state != MemberState::suspect) {
      suspicions_.erase(id);
      continue;
    }
    stats_.deaths_declared += 1;
    SLUICE_COVER("swim.suspicion_expired_dead");
    apply_gone(Update{id, it->second.incarnation, MemberState::dead, config_.self_id, "", {}}, now_ms);
  }
}

}  // namespace sluice::swim
