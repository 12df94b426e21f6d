// Core: construction, join/leave, the tick dispatcher, push-pull state and queries. Probing is
// in core_probe.cc, datagram handling in core_io.cc, the membership rules in core_membership.cc.
#include "node/base/coverage.h"
#include "node/swim/core.h"

#include <algorithm>
#include <utility>

namespace sluice::swim {

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::joined: return "joined";
    case EventKind::suspect: return "suspect";
    case EventKind::alive: return "alive";
    case EventKind::dead: return "dead";
    case EventKind::left: return "left";
    case EventKind::updated: return "updated";
  }
  return "unknown";
}

Core::Core(Config config, Prng prng, uint64_t now_ms)
    : config_(std::move(config)), prng_(prng), broadcasts_(config_.broadcast_queue_max), now_ms_(now_ms) {
  sort_named_addresses(config_.self_named);  // the wire's order: equal sets compare equal
  const Status status = validate(config_);
  if (!status.ok()) detail::assert_failed("validate(config).ok()", status.to_string(), __FILE__, __LINE__);
  // A random first sequence number: acks meant for a previous life of this address do not match.
  next_seq_ = static_cast<uint32_t>(prng_.next());
  // Members started together would otherwise probe in lockstep.
  auto next = [this] { return prng_.next(); };
  next_probe_ms_ = now_ms + random_below(next, config_.probe_interval_ms);
  next_reconnect_ms_ = now_ms + config_.reconnect_interval_ms;
  if (config_.push_pull_interval_ms > 0) {
    next_push_pull_ms_ = now_ms + config_.push_pull_interval_ms / 2 +
                         random_below(next, config_.push_pull_interval_ms / 2 + 1);
  }
}

void Core::join(std::span<const std::string> seeds, uint64_t now_ms) {
  now_ms_ = now_ms;
  for (const std::string& seed : seeds) {
    if (seeds_.size() >= config_.seeds_max) break;
    if (seed.empty() || seed.size() > kAddressBytesMax || seed == config_.self_address) continue;
    if (std::find(seeds_.begin(), seeds_.end(), seed) != seeds_.end()) continue;
    seeds_.push_back(seed);
  }
  if (!leaving_) send_join(now_ms);
}

void Core::send_join(uint64_t now_ms) {
  next_join_ms_ = now_ms + config_.join_retry_interval_ms;
  for (const std::string& seed : seeds_) {
    // Target empty: the seed may know itself under another name than the one we were given.
    // Its answer (like every datagram) names its sender, which is how we learn the seed.
    send(seed, MessageKind::ping, next_seq_++, kNoNode, "", {});
    if (ready_.push_pulls.size() < config_.outbox_datagrams_max) {
      ready_.push_pulls.push_back(PushPullRequest{seed, true});
      stats_.push_pull_requests += 1;
    }
  }
}

void Core::leave(uint64_t now_ms) {
  if (leaving_) return;
  now_ms_ = now_ms;
  leaving_ = true;
  leave_started_ms_ = now_ms;
  probe_.active = false;
  broadcasts_.push(self_update());
  // Push the news to a few members at once rather than waiting to be pinged: they spread it.
  const size_t fanout = std::max<uint32_t>(config_.indirect_probes, 1);
  for (NodeId peer : random_alive_members(fanout, kNoNode)) send(address_of(peer), MessageKind::gossip, 0, kNoNode, "", {});
}

bool Core::leave_done(uint64_t now_ms) const {
  return leaving_ && now_ms >= leave_started_ms_ + config_.leave_linger_ms;
}

void Core::tick(uint64_t now_ms) {
  now_ms_ = now_ms;
  serve_indirect(now_ms);
  reap_tombstones(now_ms);
  if (leaving_) {
    if (leave_done(now_ms)) leave_reported_ = true;
    return;
  }
  advance_probe(now_ms);
  if (now_ms >= next_probe_ms_) start_probe(now_ms);
  expire_suspicions(now_ms);
  maybe_gossip(now_ms);
  maybe_push_pull(now_ms);
  maybe_reconnect(now_ms);
  if (!seeds_.empty() && live_members() == 1 && now_ms >= next_join_ms_) send_join(now_ms);
}

uint64_t Core::next_tick_ms() const {
  uint64_t next = UINT64_MAX;
  auto consider = [&next](uint64_t at_ms) { next = std::min(next, at_ms); };
  for (const auto& [seq, pending] : indirect_) {
    if (config_.lifeguard && !pending.nack_sent) consider(pending.nack_at_ms);
    consider(pending.expire_at_ms);
  }
  for (const auto& [id, member] : members_) {
    if (member.state == MemberState::dead || member.state == MemberState::left) {
      consider(member.state_since_ms + config_.dead_retention_ms);
    }
  }
  if (leaving_) {
    // Once the linger is over there is nothing left to wake up for but helper duties.
    return leave_reported_ ? next : std::min(next, leave_started_ms_ + config_.leave_linger_ms);
  }
  consider(next_probe_ms_);
  if (probe_.active) {
    if (!probe_.indirect_sent) consider(probe_.indirect_at_ms);
    consider(probe_.end_at_ms);
  }
  for (const auto& [id, suspicion] : suspicions_) consider(suspicion.deadline_ms);
  if (gossip_due()) consider(next_gossip_ms_);
  if (config_.push_pull_interval_ms > 0) consider(next_push_pull_ms_);
  if (config_.reconnect_interval_ms > 0) consider(next_reconnect_ms_);
  if (!seeds_.empty() && live_members() == 1) consider(next_join_ms_);
  return next;
}

PushPullState Core::full_state(bool join) const {
  PushPullState state;
  state.cluster_id = config_.cluster_id;
  state.source = config_.self_id;
  state.join = join;
  state.members.reserve(members_.size() + 1);
  state.members.push_back(self_update());
  for (const auto& [id, member] : members_) state.members.push_back(update_of(member, kNoNode));
  return state;
}

Status Core::merge_remote_state(const PushPullState& state, uint64_t now_ms) {
  now_ms_ = now_ms;
  if (state.cluster_id != config_.cluster_id) {
    stats_.dropped_foreign_cluster += 1;
    return Status(Errc::foreign_cluster, std::to_string(state.cluster_id));
  }
  if (state.members.size() > kPushPullMembersMax) {
    stats_.dropped_malformed += 1;
    return Status(Errc::malformed, "too many members");
  }
  stats_.push_pull_merges += 1;
  SLUICE_COVER("swim.push_pull_merged");
  for (Update update : state.members) {
    // A peer's "dead" may be old news; we suspect instead and let the member refute, rather
    // than declaring a possibly live member dead on hearsay.
    if (update.state == MemberState::dead) update.state = MemberState::suspect;
    // The peer's table says who is suspected, not who witnessed it: most likely the peer only
    // heard the suspicion itself. No origin = hearsay, which never counts as a confirmation.
    if (update.state == MemberState::suspect) update.origin = kNoNode;
    apply_update(update, now_ms);
  }
  return Status();
}

std::string_view to_string(NoteKind kind) {
  switch (kind) {
    case NoteKind::stale_claim: return "stale claim";
    case NoteKind::needs_refutation: return "needs a higher incarnation";
    case NoteKind::unknown_member: return "unknown member";
    case NoteKind::table_full: return "member table full";
    case NoteKind::hearsay: return "hearsay, not a confirmation";
    case NoteKind::confirmations_max: return "enough confirmations already";
    case NoteKind::leaving: return "leaving, not refuting";
    case NoteKind::address_conflict: return "other addresses at the same incarnation";
  }
  return "unknown";
}

std::string to_string(const Note& note) {
  std::string text = "ignored " + std::to_string(note.claim.member) + " " + std::string(to_string(note.claim.state)) +
                     " " + std::to_string(note.claim.incarnation);
  if (note.claim.origin != kNoNode) text += " by " + std::to_string(note.claim.origin);
  if (note.kind == NoteKind::address_conflict) text += " at " + note.claim.address;
  text += ": " + std::string(to_string(note.kind));
  if (note.kind != NoteKind::unknown_member && note.kind != NoteKind::table_full && note.kind != NoteKind::leaving) {
    text += " (holds " + std::string(to_string(note.held_state)) + " " + std::to_string(note.held_incarnation);
    if (note.kind == NoteKind::address_conflict) text += " at " + note.held_address;
    text += ")";
  }
  return text;
}

void Core::note(NoteKind kind, const Update& claim, const Member* held) {
  if (notes_.size() >= kNotesPendingMax) notes_.pop_front();
  Note entry{kind, claim, MemberState::alive, incarnation_, ""};
  if (held != nullptr) {
    entry.held_state = held->state;
    entry.held_incarnation = held->incarnation;
    entry.held_address = held->address;
  }
  notes_.push_back(std::move(entry));
}

std::vector<Note> Core::take_notes() {
  std::vector<Note> out(notes_.begin(), notes_.end());
  notes_.clear();
  return out;
}

const Core::Suspicion* Core::suspicion(NodeId id) const {
  auto it = suspicions_.find(id);
  return it == suspicions_.end() ? nullptr : &it->second;
}

Ready Core::take_ready() {
  Ready out = std::move(ready_);
  ready_ = Ready();
  return out;
}

const Member* Core::member(NodeId id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const std::string& Core::address_of(NodeId id) const {
  auto it = members_.find(id);
  SLUICE_ASSERT(it != members_.end());
  return it->second.address;
}

std::vector<Member> Core::members() const {
  std::vector<Member> out;
  out.reserve(members_.size());
  for (const auto& [id, member] : members_) out.push_back(member);
  return out;
}

size_t Core::live_members() const {
  size_t live = 1;
  for (const auto& [id, member] : members_) {
    if (member.state == MemberState::alive || member.state == MemberState::suspect) ++live;
  }
  return live;
}

std::optional<uint64_t> Core::suspicion_deadline_ms(NodeId id) const {
  auto it = suspicions_.find(id);
  if (it == suspicions_.end()) return std::nullopt;
  return it->second.deadline_ms;
}

}  // namespace sluice::swim
