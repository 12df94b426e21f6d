#include "node/multiraft/host.h"

#include <algorithm>
#include <string>
#include <utility>

#include "node/base/coverage.h"

namespace sluice::multiraft {

namespace rt = sluice::runtime;
using namespace std::chrono_literals;

RaftHost::RaftHost(rt::Runtime& runtime, RaftHostConfig config)
    : runtime_(runtime),
      config_(std::move(config)),
      transport_(runtime, config_.transport),
      proposals_(runtime.scheduler(), config_.proposals_queued_max) {
  buggify_limits();
}

// BUGGIFY: now and then a node runs with tiny limits (FoundationDB's randomized knobs), each
// opening a path the defaults almost never reach under test.
void RaftHost::buggify_limits() {
  // Proposals and reads time out (expire_proposals, expire_reads) while their entry may still
  // commit or their round still complete: the caller sees `timeout` for a write that happens.
  if (SLUICE_BUGGIFY(runtime_)) config_.proposal_timeout = 30ms;
  if (SLUICE_BUGGIFY(runtime_)) config_.read_timeout = 30ms;
  // A round steps only a few inbound messages before it processes Readies: votes and appends are
  // answered from a core that has not seen the rest of what arrived.
  if (SLUICE_BUGGIFY(runtime_)) config_.inbound_steps_per_round_max = 2;
  // Proposals and reads are refused with queue_full.
  if (SLUICE_BUGGIFY(runtime_)) config_.proposals_pending_max = 2;
  if (SLUICE_BUGGIFY(runtime_)) config_.reads_pending_max = 1;
}

// BUGGIFY: a pause of up to `max` where the host would go straight on (a slow disk, a descheduled
// process), so that a crash can land in the window it stands in.
rt::Status RaftHost::buggify_pause(rt::Duration max) {
  if (!SLUICE_BUGGIFY(runtime_)) return rt::Status();
  return runtime_.sleep_for(rt::Duration(1 + static_cast<int64_t>(runtime_.random_below(static_cast<uint64_t>(max.count())))));
}

rt::Status RaftHost::start() {
  SLUICE_TRY(transport_.start());
  runtime_.spawn("raft-host", [this] { run(); });
  return rt::Status();
}

HostStatus RaftHost::add_group(GroupId id, const raft::RaftConfig& config, std::unique_ptr<GroupStorage> storage,
                               ApplyFn apply, PrepareFn prepare) {
  if (config.id != config_.transport.self) return HostStatus(HostErrc::invalid_argument, "config.id is not this node");
  raft::RaftConfig group_config = config;
  group_config.quiesce = config_.quiesce_idle_groups;
  group_config.lazy_commit = config_.lazy_commit;
  if (groups_.count(id) > 0) return HostStatus(HostErrc::group_exists, "group " + std::to_string(id));
  if (groups_.size() >= config_.groups_max) return HostStatus(HostErrc::queue_full, "groups_max reached");
  if (config_.observer != nullptr) config_.observer->started(id, *storage);
  auto node = raft::RawNode::create(group_config, *storage, Prng(runtime_.random()));
  if (!node.ok()) return HostStatus(HostErrc::storage_error, node.status().to_string());
  Group& group = groups_[id];
  group.storage = std::move(storage);
  group.node = std::move(node).value();
  group.apply = std::move(apply);
  group.prepare = std::move(prepare);
  group.soft = group.node->raft().soft_state();
  group.term = group.node->raft().term();
  group.applied = group.node->raft().log().applied();
  touched(id);  // a restarted group may have committed entries to apply
  return HostStatus();
}

RaftHost::ProposeReply::Receiver RaftHost::propose(GroupId group, Bytes data) {
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  Queued queued{group, std::move(data), std::move(sender)};
  if (!proposals_.try_send(std::move(queued)).ok()) {
    // try_send moves only on success: `queued` still holds the sender.
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_queued_max reached"));
  }
  return std::move(receiver);
}

RaftHost::ProposeReply::Receiver RaftHost::propose_conf_change(GroupId group, raft::ConfChange change) {
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  Queued queued{group, {}, std::move(sender), Queued::Kind::conf_change, std::move(change)};
  if (!proposals_.try_send(std::move(queued)).ok()) {
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_queued_max reached"));
  }
  return std::move(receiver);
}

HostStatus RaftHost::transfer_leadership(GroupId id, raft::NodeId target) {
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  Queued queued{id, {}, std::move(sender), Queued::Kind::transfer, {}, target};
  if (!proposals_.try_send(std::move(queued)).ok()) return HostStatus(HostErrc::queue_full, "proposals_queued_max reached");
  return HostStatus();
}

void RaftHost::wake_groups_with(raft::NodeId peer) {
  suspected_peers_.insert(peer);
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  // A full queue needs no doorbell: the host fiber has work and comes round at once.
  (void)proposals_.try_send(Queued{0, {}, std::move(sender), Queued::Kind::wake});
}

HostStatus RaftHost::transfer_all_leaderships() {
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  Queued queued{0, {}, std::move(sender), Queued::Kind::hand_over_all};
  if (!proposals_.try_send(std::move(queued)).ok()) return HostStatus(HostErrc::queue_full, "proposals_queued_max reached");
  return HostStatus();
}

size_t RaftHost::leaders_here() const {
  size_t count = 0;
  for (const auto& [id, group] : groups_) count += !group.failed() && group.node->raft().role() == raft::Role::leader ? 1 : 0;
  return count;
}

size_t RaftHost::groups_quiesced() const {
  size_t count = 0;
  for (const auto& [id, group] : groups_) count += !group.failed() && group.node->raft().quiesced() ? 1 : 0;
  return count;
}

uint64_t RaftHost::commit_lag_max() const {
  uint64_t lag = 0;
  for (const auto& [id, group] : groups_) {
    const raft::Raft& core = group.node->raft();
    if (group.failed() || core.role() != raft::Role::leader) continue;
    lag = std::max<uint64_t>(lag, core.log().last_index() - core.log().committed());
  }
  return lag;
}

// Every group led here goes to its most caught-up other voter.
void RaftHost::hand_over_all() {
  for (auto& [id, group] : groups_) {
    if (group.failed() || group.node->raft().role() != raft::Role::leader) continue;
    const raft::NodeId target = handover_target(group.node->raft());
    if (target != raft::kNoNode && group.node->transfer_leadership(target).ok()) SLUICE_COVER("multiraft.host.handover");
    touched(id);
  }
}

void RaftHost::wake_now(raft::NodeId peer) {
  for (auto& [id, group] : groups_) {
    const raft::Raft& core = group.node->raft();
    if (group.failed() || !core.quiesced()) continue;
    if (!core.conf_state().is_voter(peer) && !core.conf_state().is_learner(peer)) continue;
    group.node->wake();
    touched(id);
    ++stats_.groups_woken;
  }
}

// The voter other than this node with the highest match (ties: lowest id), recently active ones
// first: a voter that stopped answering (it left before this node) would never take over, and
// the transfer would only time out (found by node_cluster_e2e_test: a rolling stop). kNoNode if
// there is no other voter.
raft::NodeId RaftHost::handover_target(const raft::Raft& core) const {
  raft::NodeId best = raft::kNoNode;
  raft::Index best_match = 0;
  bool best_active = false;
  for (const auto& [id, progress] : core.progress()) {
    if (id == core.id() || !core.conf_state().is_voter(id)) continue;
    const bool better = best == raft::kNoNode || (progress.recent_active && !best_active) ||
                        (progress.recent_active == best_active && progress.match > best_match);
    if (better) {
      best = id;
      best_match = progress.match;
      best_active = progress.recent_active;
    }
  }
  return best;
}

HostStatus RaftHost::campaign(GroupId id) {
  // Through the host fiber like a proposal: only that fiber may touch a core (a Ready may be open).
  auto [sender, receiver] = ProposeReply::make(runtime_.scheduler());
  Queued queued{id, {}, std::move(sender), Queued::Kind::campaign};
  if (!proposals_.try_send(std::move(queued)).ok()) return HostStatus(HostErrc::queue_full, "proposals_queued_max reached");
  return HostStatus();
}

RaftHost::ReadReply::Receiver RaftHost::read_index(GroupId group) {
  auto [sender, receiver] = ReadReply::make(runtime_.scheduler());
  Queued queued{group, {}, std::move(sender), Queued::Kind::read};
  if (!proposals_.try_send(std::move(queued)).ok()) {
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_queued_max reached"));
  }
  return std::move(receiver);
}

RaftHost::RemoveReply::Receiver RaftHost::remove_group(GroupId group) {
  auto [sender, receiver] = RemoveReply::make(runtime_.scheduler());
  Queued queued{group, {}, std::move(sender), Queued::Kind::remove};
  if (!proposals_.try_send(std::move(queued)).ok()) {
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_queued_max reached"));
  }
  return std::move(receiver);
}

const raft::RawNode* RaftHost::group(GroupId id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.node.get();
}

void RaftHost::run() {
  rt::Instant next_tick = runtime_.now() + config_.tick_interval;
  bool ready_again = false;
  while (true) {
    // A group whose last Ready produced another (a single voter commits what it just persisted)
    // goes on at once instead of waiting for a message or the next tick.
    const rt::Instant wake_at = ready_again ? runtime_.now() : next_tick;
    auto woken = rt::select(runtime_.scheduler(), {&transport_.inbound(), &proposals_}, wake_at);
    if (!woken.ok() && woken.code() != rt::Errc::timeout) return;  // cancelled: the node stops
    step_inbound(next_tick);
    take_proposals();
    if (runtime_.now() >= next_tick) {
      tick_all();
      scrub_next_group();
      expire_proposals();
      expire_held();
      expire_reads();
      next_tick += config_.tick_interval;
      // A starved node skips ticks instead of firing a burst of them.
      if (next_tick <= runtime_.now()) {
        SLUICE_COVER("multiraft.host.ticks_skipped");
        ++stats_.ticks_skipped;
        next_tick = runtime_.now() + config_.tick_interval;
      }
    }
    ready_again = process_readies();
    if (!groups_holding_.empty()) release_held();
  }
}

// Steps what arrived, until the round's step budget or the tick is due: a step may read storage
// (a lagging follower's entries), and a long backlog must not hold off ticks, Readies and sends.
void RaftHost::step_inbound(rt::Instant tick_due) {
  for (size_t i = 0; i < config_.inbound_steps_per_round_max; ++i) {
    if (i > 0 && runtime_.now() >= tick_due) {
      SLUICE_COVER("multiraft.host.step_round_cut_by_tick");
      return;
    }
    std::optional<GroupMessage> message = transport_.inbound().try_receive();
    if (!message) return;
    if (i + 1 == config_.inbound_steps_per_round_max) SLUICE_COVER("multiraft.host.inbound_round_full");
    auto it = groups_.find(message->group);
    if (it == groups_.end() || it->second.failed()) {
      if (message->group != 0) ++stats_.unknown_group_messages;
      continue;
    }
    ++stats_.steps;
    if (!it->second.node->step(message->message).ok()) ++stats_.step_errors;
    if (config_.planted_bug != PlantedBug::raft_host_lost_wakeup) touched(message->group);
  }
}

void RaftHost::take_proposals() {
  for (raft::NodeId peer : std::exchange(suspected_peers_, {})) wake_now(peer);
  while (std::optional<Queued> queued = proposals_.try_receive()) {
    if (queued->kind == Queued::Kind::hand_over_all) {
      hand_over_all();
      continue;
    }
    if (queued->kind == Queued::Kind::wake) continue;  // the doorbell: suspected_peers_ was read above
    auto it = groups_.find(queued->group);
    if (queued->kind == Queued::Kind::remove) {
      remove_now(queued->group, *queued);
      continue;
    }
    if (it == groups_.end()) {
      queued->reply.send(HostStatus(HostErrc::unknown_group, "group " + std::to_string(queued->group)));
      continue;
    }
    if (it->second.failed()) {
      queued->reply.send(HostStatus(it->second.failure, "group " + std::to_string(queued->group) + " stopped: its storage failed"));
      continue;
    }
    if (queued->kind == Queued::Kind::propose && hold_for_transfer(queued->group, it->second, *queued)) continue;
    touched(queued->group);
    switch (queued->kind) {
      case Queued::Kind::campaign:
        (void)it->second.node->campaign();  // refused only when it cannot win anyway (a learner, ...)
        break;
      case Queued::Kind::propose: propose_now(it->second, *queued); break;
      case Queued::Kind::conf_change: conf_change_now(it->second, *queued); break;
      case Queued::Kind::transfer:
        if (it->second.node->transfer_leadership(queued->target).ok()) SLUICE_COVER("multiraft.host.leadership_transfer");
        break;
      case Queued::Kind::read: read_now(queued->group, it->second, *queued); break;
      case Queued::Kind::remove:
      case Queued::Kind::wake:
      case Queued::Kind::hand_over_all: break;  // handled above
    }
  }
}

void RaftHost::propose_now(Group& group, Queued& queued) {
  if (proposals_pending_ >= config_.proposals_pending_max) {
    SLUICE_COVER("multiraft.host.proposals_full");
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_pending_max reached"));
    return;
  }
  if (group.prepare && group.node->raft().role() == raft::Role::leader) {
    HostStatus prepared = group.prepare(*group.node, queued.data);
    if (!prepared.ok()) {
      queued.reply.send(prepared);
      ++stats_.proposals_failed;
      return;
    }
  }
  raft::Status status = group.node->propose(std::move(queued.data));
  if (!status.ok()) {
    const HostErrc code = status.code() == raft::Errc::not_leader ? HostErrc::not_leader : HostErrc::queue_full;
    queued.reply.send(HostStatus(code, status.to_string()));
    ++stats_.proposals_failed;
    return;
  }
  track(group, queued);
}

void RaftHost::conf_change_now(Group& group, Queued& queued) {
  if (proposals_pending_ >= config_.proposals_pending_max) {
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_pending_max reached"));
    return;
  }
  raft::Status status = group.node->propose_conf_change(queued.change);
  if (!status.ok()) {
    const HostErrc code = status.code() == raft::Errc::not_leader ? HostErrc::not_leader : HostErrc::invalid_argument;
    queued.reply.send(HostStatus(code, status.to_string()));
    ++stats_.proposals_failed;
    return;
  }
  SLUICE_COVER("multiraft.host.conf_change_proposed");
  track(group, queued);
}

// A leader handing over proposes nothing (the core refuses with leader_transfer_pending, which
// producers would hear as overloaded); a transfer ends within an election timeout, so the
// proposal waits for it here, behind any held before it, and is then proposed or answered
// not_leader naming the new leader (found by the HTTP docs test: a produce right after a topic
// creation got 429 while the controller moved the partition to its preferred leader).
bool RaftHost::hold_for_transfer(GroupId id, Group& group, Queued& queued) {
  const raft::Raft& core = group.node->raft();
  const bool transferring = core.role() == raft::Role::leader && core.lead_transferee() != raft::kNoNode;
  if (!transferring && group.held.empty()) return false;
  if (proposals_held_ >= config_.proposals_held_max) {
    SLUICE_COVER("multiraft.host.proposals_held_full");
    queued.reply.send(HostStatus(HostErrc::queue_full, "proposals_held_max reached (leadership is moving)"));
    return true;
  }
  SLUICE_COVER("multiraft.host.proposal_held_for_transfer");
  group.held.push_back(Held{std::move(queued), runtime_.now() + config_.proposal_timeout});
  ++proposals_held_;
  ++stats_.proposals_held;
  groups_holding_.insert(id);
  return true;
}

// After each round: groups whose transfer ended (done, aborted, or leadership lost otherwise)
// propose what they held, in arrival order. (A failed or removed group answered its held
// proposals already: fail_held.)
void RaftHost::release_held() {
  for (auto it = groups_holding_.begin(); it != groups_holding_.end();) {
    auto found = groups_.find(*it);
    if (found == groups_.end()) {
      it = groups_holding_.erase(it);
      continue;
    }
    Group& group = found->second;
    const raft::Raft& core = group.node->raft();
    // Nothing left (expired, or answered by fail_held): the group need not be watched.
    if (!group.held.empty() && core.role() == raft::Role::leader && core.lead_transferee() != raft::kNoNode) {
      ++it;
      continue;
    }
    std::deque<Held> held = std::move(group.held);
    group.held.clear();
    proposals_held_ -= held.size();
    touched(*it);
    it = groups_holding_.erase(it);
    for (Held& h : held) propose_now(group, h.queued);
  }
}

void RaftHost::expire_held() {
  const rt::Instant now = runtime_.now();
  for (GroupId id : groups_holding_) {
    auto found = groups_.find(id);
    if (found == groups_.end()) continue;  // removed: release_held() forgets it
    std::deque<Held>& held = found->second.held;
    while (!held.empty() && held.front().deadline <= now) {
      ++stats_.proposals_failed;
      held.front().queued.reply.send(HostStatus(HostErrc::timeout, "leadership still moving after proposal_timeout"));
      held.pop_front();
      --proposals_held_;
    }
  }
}

// The proposal just appended (the core's last entry) is answered when that entry is applied.
void RaftHost::track(Group& group, Queued& queued) {
  const raft::Raft& core = group.node->raft();
  group.pending.push_back(Proposal{core.log().last_index(), core.term(), runtime_.now() + config_.proposal_timeout,
                                   std::move(queued.reply)});
  ++proposals_pending_;
}

void RaftHost::remove_now(GroupId id, Queued& queued) {
  auto it = groups_.find(id);
  if (it == groups_.end()) {
    queued.reply.send(HostStatus(HostErrc::unknown_group, "group " + std::to_string(id)));
    return;
  }
  SLUICE_COVER("multiraft.host.group_removed");
  Group& group = it->second;
  fail_held(group, HostErrc::unknown_group, "group " + std::to_string(id) + " removed from this node");
  fail_pending(group, HostErrc::unknown_group, "group " + std::to_string(id) + " removed from this node");
  const raft::Index applied = group.applied;
  groups_.erase(it);
  ready_candidates_.erase(id);
  awake_.erase(id);
  queued.reply.send(applied);
}

void RaftHost::read_now(GroupId id, Group& group, Queued& queued) {
  if (reads_pending_ >= config_.reads_pending_max) {
    SLUICE_COVER("multiraft.host.reads_full");
    ++stats_.reads_failed;
    queued.reply.send(HostStatus(HostErrc::queue_full, "reads_pending_max reached"));
    return;
  }
  const uint64_t context = next_read_context_++;
  raft::Status status = group.node->read_index(context);
  if (!status.ok()) {
    const HostErrc code = status.code() == raft::Errc::not_leader ? HostErrc::not_leader : HostErrc::queue_full;
    ++stats_.reads_failed;
    queued.reply.send(HostStatus(code, status.to_string()));
    return;
  }
  if (config_.observer != nullptr) config_.observer->read_requested(id, context);
  group.reads.emplace(context, Read{runtime_.now() + config_.read_timeout, std::move(queued.reply)});
  ++reads_pending_;
}

// Groups take turns by id; a failed group is skipped (its storage is reopened elsewhere).
void RaftHost::scrub_next_group() {
  if (config_.state_scrub_period.count() <= 0 || groups_.empty()) return;
  // The spacing follows the group count as groups come and go.
  if (runtime_.now() < last_scrub_at_ + config_.state_scrub_period / static_cast<int64_t>(groups_.size())) return;
  last_scrub_at_ = runtime_.now();
  auto next = groups_.upper_bound(last_scrubbed_);
  if (next == groups_.end()) next = groups_.begin();
  last_scrubbed_ = next->first;
  Group& group = next->second;
  if (group.failed()) return;
  ++stats_.scrubs;
  const raft::Status scrubbed = group.storage->scrub();
  if (scrubbed.ok()) return;
  const HostErrc code = scrubbed.code() == raft::Errc::no_space ? HostErrc::storage_full : HostErrc::group_failed;
  fail_now(next->first, group, code, "group " + std::to_string(next->first) + ": scrub: " + scrubbed.to_string());
}

void RaftHost::tick_all() {
  ++stats_.ticks;
  if (config_.observer != nullptr) check_ready_candidates();
  for (auto it = awake_.begin(); it != awake_.end();) {
    auto found = groups_.find(*it);
    if (found == groups_.end() || found->second.failed()) {
      it = awake_.erase(it);
      continue;
    }
    raft::RawNode& node = *found->second.node;
    node.tick();
    if (node.has_ready()) ready_candidates_.insert(*it);
    it = node.raft().quiesced() ? awake_.erase(it) : std::next(it);
  }
}

// Under test (an observer is set): no group outside the candidates has a Ready and none outside
// the awake ones is awake, else a call that changes a core forgot to say so (touched()) and the
// group would wait for an unrelated event, or never tick again.
void RaftHost::check_ready_candidates() const {
  for (const auto& [id, group] : groups_) {
    if (group.failed()) continue;
    if (ready_candidates_.count(id) == 0) SLUICE_ASSERT(!group.node->has_ready());
    if (awake_.count(id) == 0) SLUICE_ASSERT(group.node->raft().quiesced());
  }
}

// Every ready group persists first and syncs; only then does anything leave the node. True when a
// group has another Ready right away.
bool RaftHost::process_readies() {
  std::vector<std::pair<GroupId, raft::Ready>> readies;
  // Calls made while this round waits for its syncs add new candidates for the next round.
  const std::set<GroupId> candidates = std::exchange(ready_candidates_, {});
  for (GroupId id : candidates) {
    auto it = groups_.find(id);
    if (it == groups_.end() || it->second.failed() || !it->second.node->has_ready()) continue;
    Group& group = it->second;
    if (config_.observer != nullptr) config_.observer->observe(id, group.node->raft());
    readies.emplace_back(id, group.node->ready());
  }
  if (readies.empty()) return false;
  ++stats_.rounds;
  stats_.readies += readies.size();
  std::vector<char> durable(readies.size(), 1);
  // Planted bug (tests only): the messages leave before the state they depend on is durable.
  const bool send_first = config_.planted_bug == PlantedBug::raft_send_before_persist;
  if (send_first) send_all(readies, durable);
  if (config_.leader_sends_before_sync) send_leader_appends(readies);
  // Groups persist concurrently: each waits its own sync, the round waits the slowest. A lone
  // group persists on this fiber: a fiber costs a stack mapping, and a produce pays two rounds.
  const auto syncing = std::count_if(readies.begin(), readies.end(), [](const auto& r) { return r.second.must_sync(); });
  rt::WaitGroup persisted(runtime_.scheduler());
  for (size_t i = 0; i < readies.size(); ++i) {
    if (!readies[i].second.must_sync()) continue;
    if (syncing == 1) {
      durable[i] = persist(readies[i].first, groups_.at(readies[i].first), readies[i].second) ? 1 : 0;
      continue;
    }
    persisted.add();
    runtime_.spawn("raft-persist", [this, &readies, &durable, &persisted, i] {
      durable[i] = persist(readies[i].first, groups_.at(readies[i].first), readies[i].second) ? 1 : 0;
      persisted.done();
    });
  }
  if (!persisted.wait().ok()) return false;  // cancelled: the node stops
  // BUGGIFY: the Readies are durable and their messages not sent yet. A crash here must cost
  // nothing; with a sync that did not happen (raft_skip_sync) it loses what peers hear next.
  if (!buggify_pause(20ms).ok()) return false;
  if (!send_first) send_all(readies, durable);
  bool again = false;
  for (size_t i = 0; i < readies.size(); ++i) {
    if (!durable[i]) continue;
    Group& group = groups_.at(readies[i].first);
    apply(readies[i].first, group, readies[i].second);
    group.node->advance();
    SLUICE_ASSERT_EQ(group.applied, group.node->raft().log().applied());
    if (group.failed() || !group.node->has_ready()) continue;
    touched(readies[i].first);
    again = true;
  }
  check_counters();
  return again;
}

// A leader's appends and heartbeats leave before its own copy of the entries is durable (Raft
// thesis §10.2.1): the followers' writes and the leader's overlap instead of following one
// another on the produce path. The core says which messages may (RawNode::take_messages_before_sync:
// none while the leader's own term is not durable); votes and acknowledgements wait for the sync.
void RaftHost::send_leader_appends(std::vector<std::pair<GroupId, raft::Ready>>& readies) {
  bool sent = false;
  for (auto& [id, ready] : readies) {
    if (ready.messages.empty() || !ready.must_sync()) continue;  // nothing to overlap with
    std::vector<raft::Message> early = groups_.at(id).node->take_messages_before_sync(ready);
    if (early.empty()) continue;
    SLUICE_COVER("multiraft.host.leader_appends_before_sync");
    if (config_.observer != nullptr) config_.observer->sent(id, early);
    for (raft::Message& message : early) transport_.send(id, std::move(message));
    sent = true;
  }
  if (sent) transport_.flush();
}

void RaftHost::send_all(std::vector<std::pair<GroupId, raft::Ready>>& readies, const std::vector<char>& durable) {
  for (size_t i = 0; i < readies.size(); ++i) {
    std::vector<raft::Message>& messages = readies[i].second.messages;
    if (!durable[i] || messages.empty()) continue;
    const GroupId id = readies[i].first;
    std::erase_if(messages, [&](raft::Message& m) { return m.type == raft::MessageType::log_start_jump && !attach_app_state(id, m); });
    if (config_.observer != nullptr) config_.observer->sent(readies[i].first, messages);
    for (raft::Message& message : messages) transport_.send(readies[i].first, std::move(message));
    messages.clear();
  }
  transport_.flush();
}

// A log-start jump takes the application's state along. When the storage cannot give it now the
// jump is not sent: the follower's next heartbeat answer makes the core probe and jump again.
bool RaftHost::attach_app_state(GroupId id, raft::Message& jump) {
  raft::Result<SharedBytes> state = groups_.at(id).storage->jump_app_state(jump.index);
  if (!state.ok()) {
    SLUICE_COVER("multiraft.host.jump_without_app_state");
    ++stats_.jumps_dropped;
    return false;
  }
  jump.app_state = std::move(state).value();
  return true;
}

namespace {

// A follower about to cut a conflicting suffix for a newer leader's entries first makes that
// leader's term durable. The log makes a cut durable at once (Log::truncate_suffix syncs), so a
// crash before the Ready's hard state would restart it in the old term without entries it
// acknowledged there, which that term's leader may still count. The commit index waits for the
// whole Ready: it may cover entries not written yet.
raft::Status persist_term_before_cut(GroupStorage& storage, const raft::Ready& ready) {
  if (!ready.hard_state || ready.entries.front().index > storage.last_index()) return raft::Status();
  const raft::HardState durable = storage.initial_state().hard_state;
  if (ready.hard_state->term <= durable.term) return raft::Status();
  SLUICE_COVER("multiraft.host.term_before_cut");
  raft::HardState term_first = *ready.hard_state;
  term_first.commit = std::max(durable.commit, std::min(term_first.commit, ready.entries.front().index - 1));
  storage.save_state(term_first, std::nullopt);
  return storage.sync();
}

}  // namespace

// False when storage failed: the group stops for good (its Ready can be neither completed nor
// retried: the core assumes what it handed out will be made durable).
bool RaftHost::persist(GroupId id, Group& group, const raft::Ready& ready) {
  if (!ready.must_sync()) return true;
  raft::Status status;
  if (ready.log_start_jump) {
    SLUICE_COVER("multiraft.host.log_start_jump");
    status = group.storage->reset_to(*ready.log_start_jump);
  }
  if (status.ok() && !ready.entries.empty()) status = persist_term_before_cut(*group.storage, ready);
  if (status.ok() && !ready.entries.empty()) status = group.storage->append(ready.entries);
  if (status.ok() && (ready.hard_state || ready.conf_state)) group.storage->save_state(ready.hard_state, ready.conf_state);
  // BUGGIFY: written, not synced. A crash here loses what the disk had not made durable yet, and
  // nothing of this Ready may have left the node.
  if (status.ok() && !buggify_pause(10ms).ok()) return false;  // cancelled: the node stops
  // Planted bug (tests only): the writes count as durable without a sync.
  if (status.ok() && config_.planted_bug != PlantedBug::raft_skip_sync) status = group.storage->sync();
  ++stats_.syncs;
  if (status.ok()) {
    // What the core will take as stable must be what storage holds.
    if (!ready.entries.empty()) SLUICE_ASSERT_EQ(group.storage->last_index(), ready.entries.back().index);
    if (ready.log_start_jump && ready.entries.empty()) SLUICE_ASSERT_EQ(group.storage->last_index(), ready.log_start_jump->index);
    if (ready.hard_state) SLUICE_ASSERT_EQ(group.storage->initial_state().hard_state.term, ready.hard_state->term);
    if (config_.observer != nullptr) config_.observer->persisted(id, ready);
    return true;
  }
  // A full disk keeps its code so the producer hears storage_full, not a generic failure.
  const HostErrc code = status.code() == raft::Errc::no_space ? HostErrc::storage_full : HostErrc::group_failed;
  fail_now(id, group, code, "group " + std::to_string(id) + ": " + status.to_string());
  return false;
}

void RaftHost::fail_now(GroupId id, Group& group, HostErrc code, const std::string& why) {
  SLUICE_ASSERT(code != HostErrc::ok);
  if (group.failed()) return;
  SLUICE_COVER("multiraft.host.group_failed");
  if (code == HostErrc::storage_full) SLUICE_COVER("multiraft.host.group_storage_full");
  group.failure = code;
  ++stats_.groups_failed;
  fail_held(group, code, why);
  fail_pending(group, code, why);
  if (config_.observer != nullptr) config_.observer->group_failed(id, why);
}

void RaftHost::fail_group(GroupId id, HostErrc code, const std::string& why) {
  auto it = groups_.find(id);
  SLUICE_ASSERT(it != groups_.end());
  fail_now(id, it->second, code, "group " + std::to_string(id) + " failed applying: " + why);
}

bool RaftHost::group_failed(GroupId id) const {
  auto it = groups_.find(id);
  return it != groups_.end() && it->second.failed();
}

void RaftHost::apply(GroupId id, Group& group, const raft::Ready& ready) {
  // A log-start jump moves the core's applied index to the jump point (it holds nothing before).
  if (ready.log_start_jump) group.applied = std::max(group.applied, ready.log_start_jump->index);
  if (config_.observer != nullptr && !ready.committed_entries.empty()) config_.observer->applied(id, ready.committed_entries);
  for (const raft::Entry& entry : ready.committed_entries) {
    SLUICE_ASSERT_EQ(entry.index, group.applied + 1);
    // After fail_group from the apply nothing more is applied or answered (fail_pending answered
    // the proposals); the core still advances past the Ready.
    if (group.apply && !group.failed()) group.apply(id, entry);
    if (!group.failed()) complete(id, group, entry);
    group.applied = entry.index;
  }
  answer_reads(id, group, ready.read_states);
  serve_applied_reads(id, group);
  note_role(id, group);
}

// A confirmed read waits until its index is applied here; a dropped one (leadership lost before
// the round completed) fails so that the caller retries on the new leader.
void RaftHost::answer_reads(GroupId id, Group& group, const std::vector<raft::ReadState>& read_states) {
  for (const raft::ReadState& state : read_states) {
    if (config_.observer != nullptr) config_.observer->read_answered(id, state);
    auto it = group.reads.find(state.context);
    if (it == group.reads.end()) {
      SLUICE_COVER("multiraft.host.read_answered_after_expiry");
      continue;
    }
    Read read = std::move(it->second);
    group.reads.erase(it);
    if (state.dropped) {
      SLUICE_COVER("multiraft.host.read_dropped");
      --reads_pending_;
      ++stats_.reads_failed;
      read.reply.send(HostStatus(HostErrc::leadership_lost, "leadership lost before the read was confirmed"));
      continue;
    }
    group.reads_confirmed.emplace(state.index, std::move(read));
  }
}

void RaftHost::serve_applied_reads(GroupId id, Group& group) {
  while (!group.reads_confirmed.empty() && group.reads_confirmed.begin()->first <= group.applied) {
    auto [index, read] = std::move(*group.reads_confirmed.begin());
    group.reads_confirmed.erase(group.reads_confirmed.begin());
    --reads_pending_;
    ++stats_.reads_served;
    if (config_.observer != nullptr) config_.observer->read_served(id, index);
    read.reply.send(index);
  }
}

void RaftHost::note_role(GroupId id, Group& group) {
  const raft::Raft& core = group.node->raft();
  const raft::SoftState soft = core.soft_state();
  if (soft == group.soft && core.term() == group.term) return;
  const bool lost = group.soft.role == raft::Role::leader && (soft.role != raft::Role::leader || core.term() != group.term);
  const bool won = soft.role == raft::Role::leader && (group.soft.role != raft::Role::leader || core.term() != group.term);
  stats_.leaderships_won += won ? 1 : 0;
  stats_.leaderships_lost += lost ? 1 : 0;
  group.soft = soft;
  group.term = core.term();
  if (lost) fail_pending(group, HostErrc::leadership_lost, "leadership lost at term " + std::to_string(core.term()));
  if (role_observer_) role_observer_(id, soft.role, soft.leader, core.term());
}

// A pending proposal completes when its index is applied: with its own term it committed,
// with another term it was overwritten by a later leader.
void RaftHost::complete(GroupId id, Group& group, const raft::Entry& entry) {
  (void)id;
  while (!group.pending.empty() && group.pending.front().index <= entry.index) {
    Proposal proposal = std::move(group.pending.front());
    group.pending.pop_front();
    --proposals_pending_;
    if (proposal.index == entry.index && proposal.term == entry.term) {
      ++stats_.proposals_committed;
      proposal.reply.send(entry.index);
    } else {
      SLUICE_COVER("multiraft.host.proposal_replaced");
      ++stats_.proposals_failed;
      proposal.reply.send(HostStatus(HostErrc::leadership_lost, "entry " + std::to_string(proposal.index) + " was replaced"));
    }
  }
}

// Held proposals were never proposed: a leadership loss does not fail them (release_held() answers
// them not_leader, safe to retry anywhere), a removed or failed group does.
void RaftHost::fail_held(Group& group, HostErrc code, const std::string& why) {
  for (Held& held : group.held) {
    ++stats_.proposals_failed;
    held.queued.reply.send(HostStatus(code, why));
  }
  proposals_held_ -= group.held.size();
  group.held.clear();
}

// Reads fail too: a confirmed read's index may never be applied here once this node no longer
// leads (it could, as a follower, but the caller asked the leader and should go on asking it).
void RaftHost::fail_pending(Group& group, HostErrc code, const std::string& why) {
  for (Proposal& proposal : group.pending) {
    ++stats_.proposals_failed;
    proposal.reply.send(HostStatus(code, why));
  }
  proposals_pending_ -= group.pending.size();
  group.pending.clear();
  for (auto& [context, read] : group.reads) read.reply.send(HostStatus(code, why));
  for (auto& [index, read] : group.reads_confirmed) read.reply.send(HostStatus(code, why));
  const size_t reads_failed = group.reads.size() + group.reads_confirmed.size();
  stats_.reads_failed += reads_failed;
  reads_pending_ -= reads_failed;
  group.reads.clear();
  group.reads_confirmed.clear();
}

void RaftHost::expire_reads() {
  if (reads_pending_ == 0) return;
  const rt::Instant now = runtime_.now();
  auto expire = [this, now](auto& reads) {
    for (auto it = reads.begin(); it != reads.end();) {
      if (it->second.deadline > now) {
        ++it;
        continue;
      }
      SLUICE_COVER("multiraft.host.read_timeout");
      ++stats_.reads_failed;
      --reads_pending_;
      it->second.reply.send(HostStatus(HostErrc::timeout, "read not confirmed and applied within read_timeout"));
      it = reads.erase(it);
    }
  };
  for (auto& [id, group] : groups_) {
    expire(group.reads);
    expire(group.reads_confirmed);
  }
}

void RaftHost::expire_proposals() {
  if (proposals_pending_ == 0) return;
  const rt::Instant now = runtime_.now();
  for (auto& [id, group] : groups_) {
    while (!group.pending.empty() && group.pending.front().deadline <= now) {
      SLUICE_COVER("multiraft.host.proposal_timeout");
      ++stats_.proposals_failed;
      group.pending.front().reply.send(HostStatus(HostErrc::timeout, "not committed within proposal_timeout"));
      group.pending.pop_front();
      --proposals_pending_;
    }
  }
}

// The pending counts are kept beside the per-group queues they count (so that a full host
// refuses work in O(1)): they must agree. A scan of every group, hence simulation-only.
void RaftHost::check_counters() const {
  if (!coverage::expensive_assertions()) return;
  size_t proposals = 0;
  size_t reads = 0;
  for (const auto& [id, group] : groups_) {
    proposals += group.pending.size();
    reads += group.reads.size() + group.reads_confirmed.size();
  }
  SLUICE_ASSERT_EQ(proposals, proposals_pending_);
  SLUICE_ASSERT_EQ(reads, reads_pending_);
}

}  // namespace sluice::multiraft
