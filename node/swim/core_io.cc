// Datagrams in and out: decoding and dispatch, answering pings, serving ping-reqs, building
// outgoing datagrams with piggybacked gossip up to the size limit; push-pull scheduling.
#include <algorithm>
#include <utility>

#include "node/base/coverage.h"
#include "node/swim/codec.h"
#include "node/swim/core.h"

namespace sluice::swim {

namespace {
// Send times kept for the gossip budget; far above any sensible gossip_load_datagrams_max.
constexpr size_t kRecentSendsMax = 1024;
}  // namespace

Status Core::on_datagram(std::string_view from, ByteSpan bytes, uint64_t now_ms) {
  now_ms_ = now_ms;
  stats_.datagrams_received += 1;
  Bytes opened;
  if (config_.cluster_key) {
    opened.assign(bytes.begin(), bytes.end());
    if (Status authentic = open_datagram(opened, *config_.cluster_key); !authentic.ok()) {
      if (authentic.code() == Errc::unauthenticated) {
        SLUICE_COVER("swim.datagram_unauthenticated");
        stats_.dropped_unauthenticated += 1;
      } else {
        stats_.dropped_bad_header += 1;
      }
      return authentic;
    }
    bytes = opened;
  }
  Result<Message> decoded = decode_datagram(bytes, config_.cluster_id);
  if (!decoded.ok()) {
    switch (decoded.code()) {
      case Errc::bad_header: stats_.dropped_bad_header += 1; break;
      case Errc::foreign_cluster: stats_.dropped_foreign_cluster += 1; break;
      default: stats_.dropped_malformed += 1; break;
    }
    return decoded.status();
  }
  const Message& message = *decoded;
  // A ping names the id it is meant for: one for an old owner of our address must not be
  // answered, or that member would look alive while it is gone.
  const bool misaddressed = message.kind == MessageKind::ping && message.target != kNoNode &&
                            message.target != config_.self_id;
  if (message.source == config_.self_id || misaddressed) {
    stats_.dropped_not_for_us += 1;
    return Status(Errc::not_for_us, "from " + std::to_string(message.source) + " to " + std::to_string(message.target));
  }
  // Every datagram tells that its sender is alive at its incarnation, and where; this is how a
  // seed learns a joiner and a joiner learns whoever answers or probes it.
  apply_update(source_update(message), now_ms);
  for (const Update& update : message.updates) apply_update(update, now_ms);
  switch (message.kind) {
    case MessageKind::ping: handle_ping(from, message); break;
    case MessageKind::ack: handle_ack(message); break;
    case MessageKind::ping_req: handle_ping_req(from, message, now_ms); break;
    case MessageKind::nack: handle_nack(message); break;
    case MessageKind::gossip: break;
  }
  return Status();
}

void Core::handle_ping(std::string_view from, const Message& message) {
  std::vector<Update> forced;
  // If we hold the sender dead or left at its current incarnation (it restarted, or was wrongly
  // declared), say so in the ack so it can refute. Telling it of a mere suspicion is part of
  // the buddy system, so only with Lifeguard. Holding it alive under other addresses (it moved)
  // is said too: it refutes with its own, at a higher incarnation.
  auto it = members_.find(message.source);
  if (it != members_.end() && it->second.incarnation >= message.source_incarnation) {
    const Member& sender = it->second;
    const bool gone = sender.state == MemberState::dead || sender.state == MemberState::left;
    const bool suspected = sender.state == MemberState::suspect && config_.lifeguard;
    const bool elsewhere = sender.state == MemberState::alive &&
                           (sender.address != message.source_address || sender.named != message.source_named);
    if (gone || suspected) forced.push_back(update_of(sender, suspicion_origin(sender.id)));
    if (elsewhere) forced.push_back(update_of(sender, kNoNode));
  }
  send(from, MessageKind::ack, message.seq, kNoNode, "", std::move(forced));
}

void Core::handle_ack(const Message& message) {
  if (probe_.active && message.seq == probe_.seq) {
    probe_.active = false;
    adjust_awareness(-1);
    return;
  }
  auto it = indirect_.find(message.seq);
  if (it != indirect_.end()) {
    stats_.acks_forwarded += 1;
    const IndirectProbe pending = it->second;
    indirect_.erase(it);
    send(pending.requester, MessageKind::ack, pending.requester_seq, kNoNode, "", {});
    return;
  }
  stats_.acks_unmatched += 1;
}

void Core::handle_ping_req(std::string_view from, const Message& message, uint64_t now_ms) {
  if (message.target == kNoNode || message.target == config_.self_id || message.target_address.empty() ||
      indirect_.size() >= config_.indirect_pending_max) {
    stats_.dropped_not_for_us += 1;
    return;
  }
  const uint32_t seq = next_seq_++;
  IndirectProbe pending;
  pending.requester = std::string(from);
  pending.requester_seq = message.seq;
  pending.nack_at_ms = now_ms + config_.nack_timeout_ms;
  // The requester waits until its probe deadline at most (stretched by its awareness, which we
  // do not know); an ack later than a whole period is useless.
  pending.expire_at_ms = now_ms + config_.probe_interval_ms;
  indirect_[seq] = std::move(pending);
  // Where the requester looked for it, naming its id, so a new owner of the address refuses.
  send(message.target_address, MessageKind::ping, seq, message.target, "", {});
}

void Core::handle_nack(const Message& message) {
  stats_.nacks_received += 1;
  if (probe_.active && message.seq == probe_.seq && probe_.nacks_received < probe_.nacks_expected) {
    probe_.nacks_received += 1;
  }
}

void Core::send(std::string_view to, MessageKind kind, uint32_t seq, NodeId target, std::string_view target_address,
                std::vector<Update> forced_updates) {
  if (ready_.datagrams.size() >= config_.outbox_datagrams_max) {
    stats_.dropped_outbox_full += 1;
    return;
  }
  Message message;
  message.kind = kind;
  message.cluster_id = config_.cluster_id;
  message.source = config_.self_id;
  message.source_incarnation = incarnation_;
  message.source_address = config_.self_address;
  message.source_named = config_.self_named;
  message.seq = seq;
  message.target = target;
  message.target_address = std::string(target_address);
  // Buddy system: a ping to a suspect carries the suspicion, so the suspect hears of it from the
  // very probe and refutes, instead of waiting for gossip to reach it by chance.
  if (kind == MessageKind::ping && config_.lifeguard && target != kNoNode) {
    auto it = members_.find(target);
    if (it != members_.end() && it->second.state == MemberState::suspect) {
      forced_updates.insert(forced_updates.begin(), update_of(it->second, suspicion_origin(it->second.id)));
    }
  }
  // The MAC trailer (when keyed) comes out of the same datagram_bytes_max.
  const size_t bytes_max = config_.datagram_bytes_max - (config_.cluster_key ? ClusterKey::kTagBytes : 0);
  size_t budget = bytes_max - std::min(bytes_max, datagram_base_bytes_bound(message));
  for (Update& update : forced_updates) {
    const size_t cost = update_bytes_bound(update);
    if (cost > budget) continue;
    budget -= cost;
    message.updates.push_back(std::move(update));
  }
  const NodeId skip_member = message.updates.empty() ? kNoNode : message.updates.front().member;
  broadcasts_.take(budget, retransmit_limit(config_, live_members()), skip_member, message.updates);
  Result<Bytes> bytes = encode_datagram(message, bytes_max);
  // The bounds make this loop dead code; it is here so an estimate error costs gossip, not a crash.
  while (!bytes.ok() && bytes.code() == Errc::too_large && !message.updates.empty()) {
    SLUICE_COVER("swim.datagram_estimate_too_small");
    message.updates.pop_back();
    bytes = encode_datagram(message, bytes_max);
  }
  if (!bytes.ok()) detail::assert_failed("encode_datagram(message).ok()", bytes.status().to_string(), __FILE__, __LINE__);
  SLUICE_ASSERT_LE(bytes->size(), bytes_max);
  if (config_.cluster_key) seal_datagram(*bytes, *config_.cluster_key);
  stats_.updates_piggybacked += message.updates.size();
  stats_.datagrams_sent += 1;
  period_datagrams_ += 1;
  recent_sends_ms_.push_back(now_ms_);
  if (recent_sends_ms_.size() > kRecentSendsMax) recent_sends_ms_.pop_front();
  switch (kind) {
    case MessageKind::ping: stats_.pings_sent += 1; break;
    case MessageKind::ack: stats_.acks_sent += 1; break;
    case MessageKind::ping_req: stats_.ping_reqs_sent += 1; break;
    case MessageKind::nack: break;  // counted where the decision is made
    case MessageKind::gossip: break;
  }
  ready_.datagrams.push_back(OutDatagram{std::string(to), std::move(bytes).value()});
}

void Core::push_event(EventKind kind, const Member& member, uint64_t now_ms) {
  if (ready_.events.size() >= config_.outbox_events_max) {
    stats_.dropped_outbox_full += 1;
    return;
  }
  ready_.events.push_back(Event{kind, member.id, member.address, member.named, member.incarnation, now_ms});
}

bool Core::gossip_due() const {
  return config_.gossip_interval_ms > 0 && !leaving_ && broadcasts_.pending(retransmit_limit(config_, live_members()));
}

size_t Core::datagrams_sent_last_period(uint64_t now_ms) {
  while (!recent_sends_ms_.empty() && recent_sends_ms_.front() + config_.probe_interval_ms <= now_ms) {
    recent_sends_ms_.pop_front();
  }
  return recent_sends_ms_.size();
}

// Probe traffic alone carries news to about two members per period (the one we ping and, by its
// ack, the one that pinged us); the gossip tick speeds dissemination up while there is news, and
// only while this member's recent load leaves room for it.
void Core::maybe_gossip(uint64_t now_ms) {
  if (!gossip_due() || now_ms < next_gossip_ms_) return;
  next_gossip_ms_ = now_ms + config_.gossip_interval_ms;
  for (NodeId peer : random_alive_members(config_.gossip_nodes, kNoNode, true)) {
    if (!gossip_due() || datagrams_sent_last_period(now_ms) >= config_.gossip_load_datagrams_max) return;
    stats_.gossips_sent += 1;
    send(address_of(peer), MessageKind::gossip, 0, kNoNode, "", {});
  }
}

void Core::maybe_push_pull(uint64_t now_ms) {
  if (config_.push_pull_interval_ms == 0 || now_ms < next_push_pull_ms_) return;
  next_push_pull_ms_ = now_ms + config_.push_pull_interval_ms;
  const std::vector<NodeId> peers = random_alive_members(1, kNoNode);
  if (peers.empty() || ready_.push_pulls.size() >= config_.outbox_datagrams_max) return;
  ready_.push_pulls.push_back(PushPullRequest{address_of(peers.front()), false});
  stats_.push_pull_requests += 1;
}

void Core::maybe_reconnect(uint64_t now_ms) {
  if (config_.reconnect_interval_ms == 0 || now_ms < next_reconnect_ms_) return;
  next_reconnect_ms_ = now_ms + config_.reconnect_interval_ms;
  std::vector<const Member*> dead;
  for (const auto& [id, member] : members_) {
    if (member.state == MemberState::dead) dead.push_back(&member);
  }
  if (dead.empty()) return;
  // Planted (tests only): dead members are never pinged again, so two sides of a healed
  // partition stay apart unless push-pull happens to cross; the liveness checker's "not left
  // dead" rule exists to catch it.
  if (config_.planted_bug == PlantedBug::swim_no_reconnect) return;
  auto next = [this] { return prng_.next(); };
  const Member& target = *dead[random_below(next, dead.size())];
  // If it is alive after all, it refutes at once and its ack (carrying the new incarnation)
  // revives it here; and it tells us in that ack if it holds us dead too.
  stats_.reconnect_pings += 1;
  SLUICE_COVER("swim.reconnect_ping");
  // At the address it had when it died: if it lives on elsewhere, it comes back by its own pings.
  const std::string address = target.address;
  send(address, MessageKind::ping, next_seq_++, target.id, "", {update_of(target, config_.self_id)});
}

bool Core::make_room() {
  auto oldest = members_.end();
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    const Member& member = it->second;
    if (member.state != MemberState::dead && member.state != MemberState::left) continue;
    if (oldest == members_.end() || member.state_since_ms < oldest->second.state_since_ms) oldest = it;
  }
  if (oldest == members_.end()) return false;
  members_.erase(oldest);
  stats_.tombstones_evicted += 1;
  SLUICE_COVER("swim.tombstone_evicted");
  return true;
}

void Core::reap_tombstones(uint64_t now_ms) {
  std::erase_if(members_, [&](const auto& item) {
    const Member& member = item.second;
    const bool gone = member.state == MemberState::dead || member.state == MemberState::left;
    return gone && now_ms >= member.state_since_ms + config_.dead_retention_ms;
  });
}

}  // namespace sluice::swim
