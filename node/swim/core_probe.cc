// Probing: one member per protocol period in shuffled round-robin order, a direct ping, ping-req
// through k helpers after the probe timeout, suspicion at the probe deadline without an ack; the
// helper side of ping-req (forwarding acks, Lifeguard nacks); local health awareness.
#include <algorithm>
#include <utility>

#include "node/base/coverage.h"
#include "node/swim/core.h"

namespace sluice::swim {

void Core::close_period() {
  stats_.periods += 1;
  stats_.datagrams_sent_period_max = std::max(stats_.datagrams_sent_period_max, period_datagrams_);
  period_datagrams_ = 0;
}

uint64_t Core::awareness_multiplier() const { return config_.lifeguard ? awareness_score_ + 1 : 1; }

void Core::adjust_awareness(int64_t delta) {
  if (!config_.lifeguard) return;
  const int64_t score = std::clamp<int64_t>(static_cast<int64_t>(awareness_score_) + delta, 0,
                                            static_cast<int64_t>(config_.awareness_score_max));
  awareness_score_ = static_cast<uint32_t>(score);
}

void Core::start_probe(uint64_t now_ms) {
  SLUICE_ASSERT(!probe_.active);
  close_period();
  const uint64_t multiplier = awareness_multiplier();
  next_probe_ms_ = now_ms + config_.probe_interval_ms * multiplier;
  std::optional<NodeId> target = next_probe_target();
  if (!target) return;
  probe_ = Probe{};
  probe_.active = true;
  probe_.target = *target;
  probe_.seq = next_seq_++;
  probe_.indirect_at_ms = now_ms + config_.probe_timeout_ms * multiplier;
  probe_.end_at_ms = now_ms + config_.probe_deadline_ms * multiplier;
  stats_.probes += 1;
  // To the member's membership address, naming its id: a new owner of that address refuses it.
  send(address_of(probe_.target), MessageKind::ping, probe_.seq, probe_.target, "", {});
}

void Core::advance_probe(uint64_t now_ms) {
  if (!probe_.active) return;
  auto it = members_.find(probe_.target);
  if (it == members_.end() || it->second.state == MemberState::dead || it->second.state == MemberState::left) {
    probe_.active = false;  // gone meanwhile: nothing left to judge
    return;
  }
  if (!probe_.indirect_sent && now_ms >= probe_.indirect_at_ms) {
    const bool late = now_ms >= probe_.end_at_ms;
    send_ping_reqs();
    if (late) {
      // Our own tick came so late that the whole period passed unseen (a starved process).
      // Give the helpers their full window instead of blaming the target for our delay.
      const uint64_t window_ms = (config_.probe_deadline_ms - config_.probe_timeout_ms) * awareness_multiplier();
      probe_.end_at_ms = now_ms + window_ms;
      next_probe_ms_ = std::max(next_probe_ms_, probe_.end_at_ms);
    }
  }
  if (now_ms >= probe_.end_at_ms) finish_failed_probe(now_ms);
}

void Core::send_ping_reqs() {
  probe_.indirect_sent = true;
  stats_.indirect_rounds += 1;
  SLUICE_COVER("swim.indirect_probe");
  const std::vector<NodeId> helpers = random_alive_members(config_.indirect_probes, probe_.target);
  probe_.nacks_expected = config_.lifeguard ? static_cast<uint32_t>(helpers.size()) : 0;
  const std::string target_address = address_of(probe_.target);
  for (NodeId helper : helpers) {
    send(address_of(helper), MessageKind::ping_req, probe_.seq, probe_.target, target_address, {});
  }
}

void Core::finish_failed_probe(uint64_t now_ms) {
  probe_.active = false;
  stats_.probes_failed += 1;
  // Lifeguard: helpers that could not reach the target say so (nack). Nacks that did not come
  // point at ourselves (slow, or our network is lossy); without helpers, every failure counts.
  if (probe_.nacks_expected > 0) {
    adjust_awareness(static_cast<int64_t>(probe_.nacks_expected - probe_.nacks_received));
  } else {
    adjust_awareness(1);
  }
  auto it = members_.find(probe_.target);
  if (it == members_.end()) return;
  const Member& target = it->second;
  if (target.state != MemberState::alive && target.state != MemberState::suspect) return;
  if (target.state == MemberState::alive) stats_.suspicions_started += 1;
  apply_update(Update{target.id, target.incarnation, MemberState::suspect, config_.self_id, "", {}}, now_ms);
}

void Core::serve_indirect(uint64_t now_ms) {
  for (auto it = indirect_.begin(); it != indirect_.end();) {
    IndirectProbe& pending = it->second;
    if (config_.lifeguard && !pending.nack_sent && now_ms >= pending.nack_at_ms) {
      // "I could not reach it either": the requester learns its own path is not the problem.
      pending.nack_sent = true;
      stats_.nacks_sent += 1;
      SLUICE_COVER("swim.nack_sent");
      send(pending.requester, MessageKind::nack, pending.requester_seq, kNoNode, "", {});
    }
    if (now_ms >= pending.expire_at_ms) {
      it = indirect_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<NodeId> Core::next_probe_target() {
  for (int round = 0; round < 2; ++round) {
    while (probe_index_ < probe_order_.size()) {
      const NodeId id = probe_order_[probe_index_++];
      auto it = members_.find(id);
      if (it != members_.end() &&
          (it->second.state == MemberState::alive || it->second.state == MemberState::suspect)) {
        return id;
      }
    }
    // A round is over: the next one visits every live member once, in a fresh random order,
    // which bounds the time to first probe a failed member to 2N-1 periods.
    probe_order_.clear();
    probe_index_ = 0;
    for (const auto& [id, member] : members_) {
      if (member.state == MemberState::alive || member.state == MemberState::suspect) probe_order_.push_back(id);
    }
    auto next = [this] { return prng_.next(); };
    for (size_t i = probe_order_.size(); i > 1; --i) std::swap(probe_order_[i - 1], probe_order_[random_below(next, i)]);
  }
  return std::nullopt;
}

void Core::insert_probe_order(NodeId id) {
  if (std::find(probe_order_.begin(), probe_order_.end(), id) != probe_order_.end()) return;
  auto next = [this] { return prng_.next(); };
  const size_t position = random_below(next, probe_order_.size() + 1);
  probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(position), id);
  if (position < probe_index_) ++probe_index_;  // keep pointing at the same next member
}

std::vector<NodeId> Core::random_alive_members(size_t count, NodeId exclude, bool with_suspects) {
  std::vector<NodeId> candidates;
  for (const auto& [id, member] : members_) {
    const bool wanted = member.state == MemberState::alive || (with_suspects && member.state == MemberState::suspect);
    if (wanted && id != exclude) candidates.push_back(id);
  }
  count = std::min(count, candidates.size());
  auto next = [this] { return prng_.next(); };
  for (size_t i = 0; i < count; ++i) {
    std::swap(candidates[i], candidates[i + random_below(next, candidates.size() - i)]);
  }
  candidates.resize(count);
  return candidates;
}

}  // namespace sluice::swim
