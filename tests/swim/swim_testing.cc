#include "swim_testing.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "node/base/hash.h"

namespace sluice::swim::testing {

std::string addr(NodeId id) { return "n" + std::to_string(id) + ":7946"; }

Config test_config(NodeId self, bool lifeguard) {
  Config config;
  config.self_id = self;
  config.self_address = addr(self);
  config.cluster_id = kCluster;
  config.lifeguard = lifeguard;
  config.push_pull_interval_ms = 10000;
  config.dead_retention_ms = 600000;  // tombstones stay visible for the whole of a test
  return config;
}

Update claim(NodeId member, MemberState state, uint64_t incarnation, NodeId origin) {
  Update update{member, incarnation, state, origin, "", {}};
  if (state == MemberState::alive) update.address = addr(member);
  return update;
}

Bytes encode_or_die(const Message& message) {
  Result<Bytes> bytes = encode_datagram(message);
  SLUICE_ASSERT(bytes.ok());
  return std::move(bytes).value();
}

Message decode_or_die(const OutDatagram& datagram) {
  Result<Message> message = decode_datagram(datagram.bytes, kCluster);
  if (!message.ok()) ADD_FAILURE() << "a core sent an undecodable datagram: " << message.status().to_string();
  return message.ok() ? std::move(message).value() : Message();
}

Message make_message(MessageKind kind, NodeId source, uint32_t seq, NodeId target, std::vector<Update> updates,
                     uint64_t source_incarnation) {
  Message message;
  message.kind = kind;
  message.cluster_id = kCluster;
  message.source = source;
  message.source_address = addr(source);
  message.source_incarnation = source_incarnation;
  message.seq = seq;
  message.target = target;
  if (kind == MessageKind::ping_req && target != kNoNode) message.target_address = addr(target);
  message.updates = std::move(updates);
  return message;
}

std::vector<Message> sent(const Ready& ready, MessageKind kind, std::optional<std::string> to) {
  std::vector<Message> out;
  for (const OutDatagram& datagram : ready.datagrams) {
    if (to && datagram.to != *to) continue;
    Message message = decode_or_die(datagram);
    if (message.kind == kind) out.push_back(std::move(message));
  }
  return out;
}

bool carries(const Message& message, NodeId member, MemberState state) {
  return std::any_of(message.updates.begin(), message.updates.end(),
                     [&](const Update& update) { return update.member == member && update.state == state; });
}

TestNet::TestNet(size_t n, const Config& base, uint64_t seed, bool join)
    : base_(base), seed_(seed), prng_(hash_combine(seed, 0x6e6574)) {
  for (size_t i = 0; i < n; ++i) {
    nodes_[address_of(i)].core = std::make_unique<Core>(config_of(i), Prng(hash_combine(seed_, i)), now_ms_);
  }
  if (join) {
    const std::vector<std::string> seeds{address_of(0)};
    for (size_t i = 1; i < n; ++i) core(i).join(seeds, now_ms_);
  }
  for (auto& [address, node] : nodes_) collect(address);
}

Config TestNet::config_of(size_t index, NodeId id) const {
  Config config = base_;
  config.self_id = id == kNoNode ? id_of(index) : id;
  config.self_address = address_of(index);
  return config;
}

void TestNet::isolate(size_t index) {
  for (const auto& [address, node] : nodes_) {
    blocked_.insert({address, address_of(index)});
    blocked_.insert({address_of(index), address});
  }
}

void TestNet::restart(size_t index) { start_fresh(index, id_of(index)); }

void TestNet::replace(size_t index, NodeId id) {
  node(index).events.clear();
  start_fresh(index, id);
}

void TestNet::start_fresh(size_t index, NodeId id) {
  Node& target = node(index);
  target.core = std::make_unique<Core>(config_of(index, id), Prng(hash_combine(seed_, index + 1000 * (now_ms_ + 1))), now_ms_);
  target.up = true;
  const std::vector<std::string> seeds{address_of(0)};
  target.core->join(seeds, now_ms_);
  collect(address_of(index));
}

bool TestNet::link_up(const std::string& from, const std::string& to) {
  auto it = nodes_.find(to);
  if (it == nodes_.end() || !it->second.up || !nodes_.at(from).up) return false;
  return blocked_.count({from, to}) == 0;
}

void TestNet::run_for(uint64_t duration_ms) {
  const uint64_t end_ms = now_ms_ + duration_ms;
  while (now_ms_ < end_ms) step(end_ms);
}

void TestNet::step(uint64_t end_ms) {
  uint64_t next_ms = end_ms;
  for (const InFlight& flight : in_flight_) {
    const Node& to = nodes_.at(flight.to);
    next_ms = std::min(next_ms, to.stall_ms == 0 ? flight.deliver_at_ms : std::max(flight.deliver_at_ms, next_wake_ms(to)));
  }
  for (auto& [address, node] : nodes_) {
    if (node.up) next_ms = std::min(next_ms, node.stall_ms == 0 ? node.core->next_tick_ms() : next_wake_ms(node));
  }
  now_ms_ = std::max(next_ms, now_ms_ + 1);
  std::stable_sort(in_flight_.begin(), in_flight_.end(), [](const InFlight& a, const InFlight& b) {
    return a.deliver_at_ms != b.deliver_at_ms ? a.deliver_at_ms < b.deliver_at_ms : a.sequence < b.sequence;
  });
  std::vector<InFlight> due;
  std::vector<InFlight> later;
  for (InFlight& flight : in_flight_) {
    const bool ready = flight.deliver_at_ms <= now_ms_ && awake(nodes_.at(flight.to));
    (ready ? due : later).push_back(std::move(flight));
  }
  in_flight_ = std::move(later);
  for (const InFlight& flight : due) {
    Node& node = nodes_.at(flight.to);
    if (!node.up) continue;
    datagrams_delivered += 1;
    transcript_hash = hash_combine(transcript_hash, hash_bytes(flight.bytes, hash_bytes(flight.from + flight.to)));
    (void)node.core->on_datagram(flight.from, flight.bytes, now_ms_);
    collect(flight.to);
  }
  for (auto& [address, node] : nodes_) {
    if (!node.up || !awake(node)) continue;
    node.core->tick(now_ms_);
    collect(address);
  }
}

void TestNet::collect(const std::string& address) {
  Node& node = nodes_.at(address);
  Ready ready = node.core->take_ready();
  node.events.insert(node.events.end(), ready.events.begin(), ready.events.end());
  for (OutDatagram& datagram : ready.datagrams) {
    if (!link_up(address, datagram.to)) continue;
    if (loss_probability > 0 && random_chance([this] { return prng_.next(); }, loss_probability)) continue;
    in_flight_.push_back(InFlight{now_ms_ + latency_ms, sequence_++, address, datagram.to, std::move(datagram.bytes)});
  }
  for (const PushPullRequest& request : ready.push_pulls) {
    if (push_pull_enabled && link_up(address, request.to) && link_up(request.to, address)) {
      exchange_push_pull(address, request.to, request.join);
    }
  }
}

// Both directions through the codec, as the driver will do over a stream.
void TestNet::exchange_push_pull(const std::string& from, const std::string& to, bool join) {
  Core& initiator = *nodes_.at(from).core;
  Core& peer = *nodes_.at(to).core;
  Result<Bytes> ours = encode_push_pull(initiator.full_state(join));
  Result<Bytes> theirs = encode_push_pull(peer.full_state());
  ASSERT_TRUE(ours.ok() && theirs.ok());
  Result<PushPullState> ours_decoded = decode_push_pull(*ours, kCluster);
  Result<PushPullState> theirs_decoded = decode_push_pull(*theirs, kCluster);
  ASSERT_TRUE(ours_decoded.ok() && theirs_decoded.ok());
  EXPECT_TRUE(peer.merge_remote_state(*ours_decoded, now_ms_).ok());
  EXPECT_TRUE(initiator.merge_remote_state(*theirs_decoded, now_ms_).ok());
  // The merges may have produced datagrams and events (the caller's batch is already taken).
  collect(to);
  collect(from);
}

bool TestNet::everyone_sees(size_t index, MemberState state) {
  for (auto& [address, node] : nodes_) {
    if (!node.up || address == address_of(index)) continue;
    const Member* member = node.core->member(id_of(index));
    if (member == nullptr || member->state != state) return false;
  }
  return true;
}

bool TestNet::converged() {
  for (auto& [address, node] : nodes_) {
    if (!node.up) continue;
    for (auto& [other, other_node] : nodes_) {
      if (!other_node.up || other == address) continue;
      const Member* member = node.core->member(other_node.core->id());
      if (member == nullptr || member->state != MemberState::alive) return false;
    }
  }
  return true;
}

size_t TestNet::count_events(size_t observer, size_t subject, EventKind kind) {
  const std::vector<Event>& events = node(observer).events;
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const Event& event) {
    return event.kind == kind && event.id == id_of(subject);
  }));
}

}  // namespace sluice::swim::testing
