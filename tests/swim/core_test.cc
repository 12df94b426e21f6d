// The SWIM core driven by hand: one core, datagrams written by the test, virtual time. Each test
// checks one rule of the protocol (probing, ping-req, nacks and awareness, suspicion timeouts,
// refutation, buddy system, gossip limits, leave, join, input hygiene). Rules best read as a
// story of hand-made claims (incarnation order, push-pull merges, the table limit) are
// transcripts (testdata/).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "swim_testing.h"

namespace sluice::swim {
namespace {

using namespace sluice::swim::testing;

// Appends `from` to `into`.
void append(Ready& into, Ready from) {
  for (auto& datagram : from.datagrams) into.datagrams.push_back(std::move(datagram));
  for (auto& request : from.push_pulls) into.push_pulls.push_back(request);
  for (auto& event : from.events) into.events.push_back(std::move(event));
}

// A core under test with its own virtual clock.
struct Harness {
  explicit Harness(Config config, uint64_t seed = 1) : core(std::move(config), Prng(seed), 0) {}

  // Ticks at every due time up to and including `until_ms`; returns everything produced.
  Ready run_to(uint64_t until_ms) {
    Ready all;
    while (core.next_tick_ms() <= until_ms) {
      now_ms = std::max(now_ms, core.next_tick_ms());
      core.tick(now_ms);
      append(all, core.take_ready());
    }
    now_ms = std::max(now_ms, until_ms);
    return all;
  }

  // As received from the sender's address (or `from`).
  Ready deliver(const Message& message, std::string from = "") {
    if (from.empty()) from = message.source_address;
    EXPECT_TRUE(core.on_datagram(from, encode_or_die(message), now_ms).ok());
    return core.take_ready();
  }

  // Makes every member in `members` known and alive, as a gossip datagram from the first.
  void know(const std::vector<NodeId>& members) {
    std::vector<Update> updates;
    for (NodeId member : members) updates.push_back(claim(member));
    deliver(make_message(MessageKind::gossip, members.front(), 0, kNoNode, updates));
  }

  // Runs until the core pings a member (not a join ping); returns that ping and when.
  Message next_probe(Ready* everything = nullptr) {
    for (int steps = 0; steps < 1000; ++steps) {
      now_ms = core.next_tick_ms();
      core.tick(now_ms);
      Ready ready = core.take_ready();
      std::vector<Message> pings = sent(ready, MessageKind::ping);
      if (everything != nullptr) append(*everything, std::move(ready));
      if (!pings.empty()) return pings.front();
    }
    ADD_FAILURE() << "no probe";
    return Message();
  }

  Core core;
  uint64_t now_ms = 0;
};

// Members m0, m1, ... of the bigger tables.
NodeId m(int i) { return static_cast<NodeId>(10 + i); }

TEST(SwimFormulas, LogScaleAndRetransmitLimit) {
  EXPECT_EQ(log10_ceil_plus_one(1), 1u);
  EXPECT_EQ(log10_ceil_plus_one(9), 1u);
  EXPECT_EQ(log10_ceil_plus_one(10), 2u);
  EXPECT_EQ(log10_ceil_plus_one(99), 2u);
  EXPECT_EQ(log10_ceil_plus_one(100), 3u);
  Config config = test_config(1);
  EXPECT_EQ(retransmit_limit(config, 9), 4u);
  EXPECT_EQ(retransmit_limit(config, 128), 12u);
  // suspicion_mult · max(1, log10 N) · T, continuous in N.
  EXPECT_EQ(suspicion_timeout_min_ms(config, 1), 3000u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 10), 3000u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 32), 4515u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 128), 6321u);
}

TEST(SwimFormulas, LifeguardSuspicionTimeoutFallsLogarithmically) {
  Config config = test_config(1);
  // N = 11: min = 3·log10(11)·1000 = 3124, max = 6·min, K = 3.
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 0), 18744u);
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 1), 10934u);
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 2), 6365u);
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 3), 3124u);
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 9), 3124u);
  // Three members: only one other could confirm, so K = 1.
  EXPECT_EQ(suspicion_timeout_ms(config, 3, 1), 3000u);
  config.lifeguard = false;
  EXPECT_EQ(suspicion_timeout_ms(config, 11, 0), 3124u);
}

TEST(SwimBroadcastQueue, LeastSentThenNewestFirstAndSupersedes) {
  BroadcastQueue queue(8);
  queue.push(claim(1, MemberState::alive, 0));
  queue.push(claim(2, MemberState::alive, 0));
  queue.push(claim(3, MemberState::alive, 0));
  queue.push(claim(1, MemberState::alive, 1));  // supersedes, and is now the newest
  EXPECT_EQ(queue.size(), 3u);
  std::vector<Update> out;
  size_t budget = update_bytes_bound(claim(1, MemberState::alive, 0)) * 2;
  EXPECT_EQ(queue.take(budget, 3, kNoNode, out), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (claim(1, MemberState::alive, 1)));
  EXPECT_EQ(out[1].member, 3u);
  out.clear();
  budget = 10000;
  queue.take(budget, 3, kNoNode, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].member, 2u);  // never sent yet: goes before the twice-sent
  EXPECT_EQ(queue.transmits(1), 2u);
}

TEST(SwimBroadcastQueue, DropsAtTheLimitSkipsWhatDoesNotFitAndEvictsTheMostSent) {
  BroadcastQueue queue(2);
  Update big = claim(100);
  big.address = std::string(kAddressBytesMax, 'x');
  queue.push(big);
  queue.push(claim(7, MemberState::alive, 0));
  std::vector<Update> out;
  size_t budget = 200;
  queue.take(budget, 2, kNoNode, out);
  ASSERT_EQ(out.size(), 1u);  // the big one does not fit and does not block the small one
  EXPECT_EQ(out[0].member, 7u);
  budget = 10000;
  out.clear();
  queue.take(budget, 2, kNoNode, out);
  EXPECT_EQ(queue.find(7), nullptr);  // sent twice: done
  EXPECT_EQ(queue.size(), 1u);
  queue.push(claim(8, MemberState::alive, 0));
  EXPECT_FALSE(queue.push(claim(9, MemberState::alive, 0)));  // full: the most-sent entry made room
  EXPECT_EQ(queue.find(100), nullptr);
  out.clear();
  queue.take(budget, 5, 8, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].member, 9u);
}

TEST(SwimConfig, RejectsInconsistentSettings) {
  EXPECT_TRUE(validate(test_config(1)).ok());
  Config config = test_config(1);
  config.probe_timeout_ms = config.probe_deadline_ms;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config(1);
  config.probe_deadline_ms = config.probe_interval_ms + 1;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config(1);
  config.gossip_nodes = 0;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config(1);
  config.self_address.clear();
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config(1);
  config.datagram_bytes_max = kDatagramBytesMax + 1;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
}

TEST(SwimCore, ProbesEveryMemberOncePerRound) {
  Harness h(test_config(1));
  const std::vector<NodeId> others = {2, 3, 4, 5, 6};
  h.know(others);
  std::vector<NodeId> targets;
  for (int i = 0; i < 15; ++i) {
    const Message ping = h.next_probe();
    targets.push_back(ping.target);
    h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  std::vector<std::vector<NodeId>> rounds;
  for (size_t start = 0; start < targets.size(); start += others.size()) {
    std::vector<NodeId> round(targets.begin() + static_cast<std::ptrdiff_t>(start),
                              targets.begin() + static_cast<std::ptrdiff_t>(start + others.size()));
    std::vector<NodeId> sorted = round;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, others);
    rounds.push_back(round);
  }
  // Reshuffled each round (with this seed the three orders differ).
  EXPECT_TRUE(rounds[0] != rounds[1] || rounds[1] != rounds[2]);
  EXPECT_EQ(h.core.stats().probes_failed, 0u);
}

TEST(SwimCore, ProbePeriodsAreOneIntervalApart) {
  Harness h(test_config(1));
  h.know({2, 3});
  const Message first = h.next_probe();
  const uint64_t first_ms = h.now_ms;
  h.deliver(make_message(MessageKind::ack, first.target, first.seq));
  h.next_probe();
  EXPECT_EQ(h.now_ms - first_ms, 1000u);
}

// A failed direct probe: ping-req to k helpers after the probe timeout (200 ms), then suspicion
// at the probe deadline (400 ms), before the period ends.
TEST(SwimCore, SilentTargetGetsPingReqsThenSuspicion) {
  Harness h(test_config(1));
  h.know({2, 3, 4, 5});
  const Message ping = h.next_probe();
  const uint64_t start_ms = h.now_ms;
  EXPECT_TRUE(sent(h.run_to(start_ms + 199), MessageKind::ping_req).empty());
  const std::vector<Message> requests = sent(h.run_to(start_ms + 200), MessageKind::ping_req);
  ASSERT_EQ(requests.size(), 3u);
  for (const Message& request : requests) {
    EXPECT_EQ(request.target, ping.target);
    EXPECT_EQ(request.target_address, addr(ping.target));  // where the helpers are to look
    EXPECT_EQ(request.seq, ping.seq);
  }
  for (const Message& request : requests) h.deliver(make_message(MessageKind::nack, 9, request.seq), "x:1");
  h.run_to(start_ms + 399);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::alive);
  Ready end = h.run_to(start_ms + 400);
  ASSERT_NE(h.core.member(ping.target), nullptr);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::suspect);
  ASSERT_FALSE(end.events.empty());
  EXPECT_EQ(end.events.front().kind, EventKind::suspect);
  EXPECT_EQ(end.events.front().id, ping.target);
  EXPECT_EQ(end.events.front().address, addr(ping.target));
  // All helpers answered "could not reach it either": the fault is not ours.
  EXPECT_EQ(h.core.awareness_score(), 0u);
  EXPECT_EQ(h.core.stats().suspicions_started, 1u);
}

TEST(SwimCore, MissingNacksRaiseAwarenessWhichStretchesThePeriod) {
  Harness h(test_config(1));
  h.know({2, 3, 4, 5});
  const Message ping = h.next_probe();
  const uint64_t start_ms = h.now_ms;
  h.run_to(start_ms + 200);
  h.deliver(make_message(MessageKind::nack, 2, ping.seq));  // one of three
  h.run_to(start_ms + 399);
  EXPECT_EQ(h.core.awareness_score(), 0u);
  h.run_to(start_ms + 400);
  EXPECT_EQ(h.core.awareness_score(), 2u);  // two nacks missing
  const std::vector<Message> second = sent(h.run_to(start_ms + 1000), MessageKind::ping);
  ASSERT_EQ(second.size(), 1u);
  h.deliver(make_message(MessageKind::ack, second.front().target, second.front().seq));
  EXPECT_EQ(h.core.awareness_score(), 1u);  // a successful probe lowers it
  // The period that started at +1000 was scaled by 2 + 1; the next one by 1 + 1, probe timeout too.
  EXPECT_TRUE(sent(h.run_to(start_ms + 3999), MessageKind::ping).empty());
  const std::vector<Message> third = sent(h.run_to(start_ms + 4000), MessageKind::ping);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_TRUE(sent(h.run_to(start_ms + 4399), MessageKind::ping_req).empty());
  EXPECT_FALSE(sent(h.run_to(start_ms + 4400), MessageKind::ping_req).empty());
}

TEST(SwimCore, PlainModeKeepsAwarenessAtZero) {
  Harness h(test_config(1, /*lifeguard=*/false));
  h.know({2, 3, 4, 5});
  h.next_probe();
  const uint64_t start_ms = h.now_ms;
  const std::vector<Message> next = sent(h.run_to(start_ms + 1000), MessageKind::ping);
  EXPECT_EQ(h.core.awareness_score(), 0u);
  EXPECT_EQ(next.size(), 1u);  // the period did not stretch
}

TEST(SwimCore, LateTickGivesHelpersTheirWholeWindow) {
  Harness h(test_config(1));
  h.know({2, 3, 4, 5});
  const Message ping = h.next_probe();
  const uint64_t late_ms = h.now_ms + 5000;  // the process stalled for five periods
  h.now_ms = late_ms;
  h.core.tick(late_ms);
  EXPECT_EQ(sent(h.core.take_ready(), MessageKind::ping_req).size(), 3u);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::alive);
  h.run_to(late_ms + 199);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::alive);
  h.run_to(late_ms + 200);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::suspect);
}

class SwimHelper : public ::testing::TestWithParam<bool> {};

TEST_P(SwimHelper, NacksASilentTargetAndForwardsALateAck) {
  const bool lifeguard = GetParam();
  Harness h(test_config(1, lifeguard));
  h.know({2, 3});
  h.now_ms = 10;
  const Ready forwarded_ping = h.deliver(make_message(MessageKind::ping_req, 2, 77, 3));
  const std::vector<Message> pings = sent(forwarded_ping, MessageKind::ping, addr(3));
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings.front().target, 3u);
  EXPECT_TRUE(sent(h.run_to(10 + 159), MessageKind::nack, addr(2)).empty());
  const std::vector<Message> nacks = sent(h.run_to(10 + 160), MessageKind::nack, addr(2));
  if (lifeguard) {
    ASSERT_EQ(nacks.size(), 1u);
    EXPECT_EQ(nacks.front().seq, 77u);
  } else {
    EXPECT_TRUE(nacks.empty());
  }
  // The target answers after all: the ack still reaches the requester, under its seq.
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ack, 3, pings.front().seq)),
                                         MessageKind::ack, addr(2));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks.front().seq, 77u);
  EXPECT_EQ(h.core.stats().acks_forwarded, 1u);
}

INSTANTIATE_TEST_SUITE_P(LifeguardAndPlain, SwimHelper, ::testing::Bool());

TEST(SwimCore, SuspicionTimeoutShrinksWithIndependentConfirmations) {
  Harness h(test_config(1));
  std::vector<NodeId> members;
  for (int i = 0; i < 10; ++i) members.push_back(m(i));
  h.know(members);  // N = 11
  h.now_ms = 100;
  auto suspect_from = [&](NodeId origin) {
    h.deliver(make_message(MessageKind::gossip, origin, 0, kNoNode, {claim(m(0), MemberState::suspect, 0, origin)}));
    return *h.core.suspicion_deadline_ms(m(0));
  };
  EXPECT_EQ(suspect_from(m(1)), 100u + 18744);
  EXPECT_EQ(suspect_from(m(2)), 100u + 10934);
  EXPECT_EQ(suspect_from(m(2)), 100u + 10934);  // the same witness twice is one confirmation
  EXPECT_EQ(suspect_from(m(1)), 100u + 10934);  // so is the first accuser
  // Confirmations are passed on so the others' timers shrink too.
  EXPECT_EQ(h.core.broadcasts().find(m(0))->origin, m(2));
  EXPECT_EQ(suspect_from(m(3)), 100u + 6365);
  EXPECT_EQ(suspect_from(m(4)), 100u + 3124);
  EXPECT_EQ(suspect_from(m(5)), 100u + 3124);
  h.run_to(3223);
  EXPECT_EQ(h.core.member(m(0))->state, MemberState::suspect);
  Ready ready = h.run_to(3224);
  EXPECT_EQ(h.core.member(m(0))->state, MemberState::dead);
  EXPECT_TRUE(std::any_of(ready.events.begin(), ready.events.end(), [](const Event& event) {
    return event.kind == EventKind::dead && event.id == m(0) && event.address == addr(m(0)) && event.at_ms == 3224;
  }));
}

// While updates wait, the gossip tick sends them to gossip_nodes members every
// gossip_interval_ms, but only while this member sent fewer than gossip_load_datagrams_max
// datagrams within the last period; once every update is spent it falls silent.
TEST(SwimCore, GossipTickSpreadsNewsWithinTheLoadBudget) {
  Config config = test_config(1);
  config.gossip_load_datagrams_max = 4;
  Harness h(config);
  h.know({2, 3, 4, 5, 6});  // five updates to spread
  std::vector<std::pair<uint64_t, Message>> log;  // every datagram with its send time
  while (h.now_ms < 6000) {
    h.now_ms = std::max(h.now_ms + 1, h.core.next_tick_ms());
    h.core.tick(h.now_ms);
    Ready ready = h.core.take_ready();
    std::set<std::string> gossiped;
    for (const OutDatagram& datagram : ready.datagrams) {
      const Message message = decode_or_die(datagram);
      log.emplace_back(h.now_ms, message);
      if (message.kind == MessageKind::gossip) {
        EXPECT_TRUE(gossiped.insert(datagram.to).second);
      }
      // Every probe is answered: no suspicion adds news of its own.
      if (message.kind == MessageKind::ping) h.deliver(make_message(MessageKind::ack, message.target, message.seq));
    }
    EXPECT_LE(gossiped.size(), config.gossip_nodes);
  }
  size_t gossips = 0;
  uint64_t last_gossip_ms = 0;
  for (const auto& [at_ms, message] : log) {
    if (message.kind != MessageKind::gossip) continue;
    ++gossips;
    last_gossip_ms = at_ms;
    const auto recent = std::count_if(log.begin(), log.end(), [at = at_ms](const auto& entry) {
      return entry.first + 1000 > at && entry.first <= at;
    });
    EXPECT_LE(static_cast<size_t>(recent), config.gossip_load_datagrams_max) << "at " << at_ms;
  }
  EXPECT_GE(gossips, 2u);
  EXPECT_EQ(h.core.stats().gossips_sent, gossips);
  EXPECT_FALSE(h.core.broadcasts().pending(retransmit_limit(config, 6)));
  EXPECT_LT(last_gossip_ms, 5000u);
}

TEST(SwimCore, PlainModeSuspicionTimeoutIsFixed) {
  Harness h(test_config(1, /*lifeguard=*/false));
  std::vector<NodeId> members;
  for (int i = 0; i < 10; ++i) members.push_back(m(i));
  h.know(members);
  h.now_ms = 100;
  for (NodeId origin : {m(1), m(2), m(3), m(4)}) {
    h.deliver(make_message(MessageKind::gossip, origin, 0, kNoNode, {claim(m(0), MemberState::suspect, 0, origin)}));
    EXPECT_EQ(*h.core.suspicion_deadline_ms(m(0)), 100u + 3124);
  }
  h.run_to(3224);
  EXPECT_EQ(h.core.member(m(0))->state, MemberState::dead);
}

class SwimBuddy : public ::testing::TestWithParam<bool> {};

TEST_P(SwimBuddy, ProbeOfASuspectCarriesTheSuspicion) {
  const bool lifeguard = GetParam();
  Config config = test_config(1, lifeguard);
  config.retransmit_mult = 1;  // N = 4: every update is sent once
  Harness h(config);
  h.know({2, 3, 4});
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(2, MemberState::suspect, 0, 3)}));
  // Gossip alone spends the suspicion on the first datagram out (an ack to d).
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, 4, 5, 1)), MessageKind::ack);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(carries(acks.front(), 2, MemberState::suspect));
  EXPECT_EQ(h.core.broadcasts().find(2), nullptr);
  Message ping_to_b;
  for (int i = 0; i < 8 && ping_to_b.target != 2; ++i) {
    const Message ping = h.next_probe();
    if (ping.target == 2) ping_to_b = ping;
    else h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  ASSERT_EQ(ping_to_b.target, 2u);
  EXPECT_EQ(carries(ping_to_b, 2, MemberState::suspect), lifeguard);
  if (!lifeguard) return;
  // The suspect hears it from the probe itself and refutes in its ack.
  Core b(test_config(2), Prng(9), h.now_ms);
  ASSERT_TRUE(b.on_datagram(addr(1), encode_or_die(ping_to_b), h.now_ms).ok());
  EXPECT_EQ(b.incarnation(), 1u);
  const std::vector<Message> answer = sent(b.take_ready(), MessageKind::ack, addr(1));
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer.front().source_incarnation, 1u);
  EXPECT_TRUE(carries(answer.front(), 2, MemberState::alive));
  const Ready refuted = h.deliver(answer.front());
  EXPECT_EQ(h.core.member(2)->state, MemberState::alive);
  EXPECT_EQ(h.core.member(2)->incarnation, 1u);
  ASSERT_EQ(refuted.events.size(), 1u);
  EXPECT_EQ(refuted.events.front().kind, EventKind::alive);
}

INSTANTIATE_TEST_SUITE_P(LifeguardAndPlain, SwimBuddy, ::testing::Bool());

TEST(SwimCore, RefutesSuspicionAndDeathOfItself) {
  Harness h(test_config(1));
  h.know({2, 3});
  h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {claim(1, MemberState::suspect, 0, 2)}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  EXPECT_EQ(h.core.awareness_score(), 1u);
  ASSERT_NE(h.core.broadcasts().find(1), nullptr);
  EXPECT_EQ(*h.core.broadcasts().find(1), (claim(1, MemberState::alive, 1)));
  // Old news (already refuted) changes nothing.
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(1, MemberState::suspect, 0, 3)}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(1, MemberState::dead, 1, 3)}));
  EXPECT_EQ(h.core.incarnation(), 2u);
  EXPECT_EQ(h.core.stats().refutations, 2u);
  // Someone knows a later incarnation of us (we restarted): go above it.
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(1, MemberState::alive, 9)}));
  EXPECT_EQ(h.core.incarnation(), 10u);
}

TEST(SwimCore, PlainModeRefutesWithoutAwareness) {
  Harness h(test_config(1, /*lifeguard=*/false));
  h.know({2});
  h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {claim(1, MemberState::suspect, 0, 2)}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  EXPECT_EQ(h.core.awareness_score(), 0u);
}

TEST(SwimCore, GossipIsRetransmittedExactlyTheLimit) {
  Harness h(test_config(1));
  std::vector<NodeId> members;
  for (int i = 0; i < 9; ++i) members.push_back(m(i));
  h.know(members);  // N = 10: limit 4·⌈log10 11⌉ = 8
  h.deliver(make_message(MessageKind::gossip, m(1), 0, kNoNode, {claim(50, MemberState::alive, 0)}));
  size_t carried = 0;
  for (uint32_t seq = 0; seq < 30; ++seq) {
    for (const Message& ack : sent(h.deliver(make_message(MessageKind::ping, m(0), seq, 1)), MessageKind::ack)) {
      if (carries(ack, 50, MemberState::alive)) ++carried;
    }
  }
  EXPECT_EQ(carried, 8u);
  EXPECT_EQ(h.core.broadcasts().find(50), nullptr);
}

TEST(SwimCore, NewestLeastSentGossipGoesFirstAndDatagramsStayWithinTheLimit) {
  Harness h(test_config(1));
  PushPullState state;
  state.cluster_id = kCluster;
  state.source = 2;
  for (int i = 0; i < 100; ++i) {
    Update member = claim(static_cast<NodeId>(100 + i));
    member.address = std::string(200, 'm') + std::to_string(i);
    state.members.push_back(member);
  }
  ASSERT_TRUE(h.core.merge_remote_state(state, 0).ok());
  h.core.take_ready();
  ASSERT_GT(h.core.broadcasts().size(), 50u);
  h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {claim(51, MemberState::alive, 0)}));
  Ready ready = h.deliver(make_message(MessageKind::ping, 2, 1, 1));
  ASSERT_EQ(ready.datagrams.size(), 1u);
  EXPECT_LE(ready.datagrams.front().bytes.size(), kDatagramBytesMax);
  const Message ack = decode_or_die(ready.datagrams.front());
  EXPECT_GE(ack.updates.size(), 3u);
  EXPECT_LT(ack.updates.size(), 10u);
  EXPECT_EQ(ack.updates.front().member, 51u);
  for (uint32_t seq = 2; seq < 200; ++seq) {
    for (const OutDatagram& datagram : h.deliver(make_message(MessageKind::ping, 2, seq, 1)).datagrams) {
      EXPECT_LE(datagram.bytes.size(), kDatagramBytesMax);
    }
  }
}

TEST(SwimCore, MalformedForeignAndMisaddressedDatagramsAreCountedAndIgnored) {
  Harness h(test_config(1));
  h.know({2});
  Bytes bad_header = encode_or_die(make_message(MessageKind::ping, 2, 1, 1));
  bad_header[0] = std::byte{'X'};
  EXPECT_EQ(h.core.on_datagram(addr(2), bad_header, 0).code(), Errc::bad_header);
  Bytes garbage = encode_or_die(make_message(MessageKind::ping, 2, 1, 1));
  for (size_t i = SWIM_HEADER_BYTES; i < garbage.size(); ++i) garbage[i] = std::byte{0xee};
  EXPECT_EQ(h.core.on_datagram(addr(2), garbage, 0).code(), Errc::malformed);
  Message foreign = make_message(MessageKind::ping, 66, 1, 1);
  foreign.cluster_id = kCluster + 1;
  EXPECT_EQ(h.core.on_datagram(addr(66), encode_or_die(foreign), 0).code(), Errc::foreign_cluster);
  EXPECT_EQ(h.core.on_datagram(addr(2), encode_or_die(make_message(MessageKind::ping, 2, 1, 99)), 0).code(),
            Errc::not_for_us);
  EXPECT_EQ(h.core.on_datagram(addr(1), encode_or_die(make_message(MessageKind::ping, 1, 1, 1)), 0).code(),
            Errc::not_for_us);
  const Stats& stats = h.core.stats();
  EXPECT_EQ(stats.dropped_bad_header, 1u);
  EXPECT_EQ(stats.dropped_malformed, 1u);
  EXPECT_EQ(stats.dropped_foreign_cluster, 1u);
  EXPECT_EQ(stats.dropped_not_for_us, 2u);
  EXPECT_TRUE(h.core.take_ready().empty());
  EXPECT_EQ(h.core.member(66), nullptr);
  EXPECT_EQ(h.core.members().size(), 1u);
}

TEST(SwimCore, LeaveAnnouncesAndStopsProbing) {
  Harness h(test_config(1));
  h.know({2, 3, 4, 5});
  h.now_ms = 50;
  h.core.leave(h.now_ms);
  const Ready announced = h.core.take_ready();
  const std::vector<Message> gossip = sent(announced, MessageKind::gossip);
  ASSERT_EQ(gossip.size(), 3u);
  for (const Message& message : gossip) EXPECT_TRUE(carries(message, 1, MemberState::left));
  EXPECT_TRUE(sent(h.run_to(5000), MessageKind::ping).empty());
  // It still answers, and does not argue with being declared gone.
  h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {claim(1, MemberState::suspect, 0, 2)}));
  EXPECT_EQ(h.core.incarnation(), 0u);
  EXPECT_EQ(sent(h.deliver(make_message(MessageKind::ping, 2, 3, 1)), MessageKind::ack).size(), 1u);
  EXPECT_FALSE(h.core.leave_done(50 + 999));
  EXPECT_TRUE(h.core.leave_done(50 + 1000));
  EXPECT_EQ(h.core.full_state().members.front(), (claim(1, MemberState::left, 0)));
}

TEST(SwimCore, JoinContactsSeedsUntilOneAnswers) {
  Harness h(test_config(1));
  const std::vector<std::string> seeds{"s:1", addr(1), "s:1", "t:1"};
  h.core.join(seeds, 0);
  Ready first = h.core.take_ready();
  ASSERT_EQ(first.push_pulls.size(), 2u);
  EXPECT_EQ(first.push_pulls[0].to, "s:1");
  EXPECT_TRUE(first.push_pulls[0].join);
  const std::vector<Message> pings = sent(first, MessageKind::ping);
  ASSERT_EQ(pings.size(), 2u);
  EXPECT_EQ(pings.front().target, kNoNode);  // the seed may know itself by another name
  EXPECT_EQ(h.run_to(1999).push_pulls.size(), 0u);
  EXPECT_EQ(h.run_to(2000).push_pulls.size(), 2u);  // nobody answered: try again
  const Ready answered = h.deliver(make_message(MessageKind::ack, 7, pings.front().seq, kNoNode, {}, 4));
  ASSERT_NE(h.core.member(7), nullptr);
  EXPECT_EQ(h.core.member(7)->incarnation, 4u);
  ASSERT_EQ(answered.events.size(), 1u);
  EXPECT_EQ(answered.events.front().kind, EventKind::joined);
  // A member is known: no more retries (one would be due at 4000). The periodic push-pull
  // starts after half its interval.
  EXPECT_TRUE(h.run_to(4500).push_pulls.empty());
  EXPECT_NE(h.core.member(7)->state, MemberState::dead);
}

TEST(SwimCore, ReconnectPingTellsADeadMemberItIsDead) {
  Harness h(test_config(1));
  h.know({2, 3});
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(2, MemberState::dead, 2, 3)}));
  // c stays silent too, so by the first reconnect ping both are dead: either may be picked.
  Message reconnect;
  for (const Message& ping : sent(h.run_to(10000), MessageKind::ping)) {
    if (carries(ping, ping.target, MemberState::dead)) reconnect = ping;
  }
  ASSERT_TRUE(reconnect.target == 2 || reconnect.target == 3) << reconnect.target;
  EXPECT_EQ(h.core.stats().reconnect_pings, 1u);
  const uint64_t dead_incarnation = h.core.member(reconnect.target)->incarnation;
  // It is alive after all: it refutes, and its ack revives it here.
  Core target(test_config(reconnect.target), Prng(3), h.now_ms);
  ASSERT_TRUE(target.on_datagram(addr(1), encode_or_die(reconnect), h.now_ms).ok());
  EXPECT_EQ(target.incarnation(), dead_incarnation + 1);
  const std::vector<Message> acks = sent(target.take_ready(), MessageKind::ack, addr(1));
  ASSERT_EQ(acks.size(), 1u);
  const Ready revived = h.deliver(acks.front());
  EXPECT_EQ(h.core.member(reconnect.target)->state, MemberState::alive);
  ASSERT_EQ(revived.events.size(), 1u);
  EXPECT_EQ(revived.events.front().kind, EventKind::joined);
}

TEST(SwimCore, AckTellsARestartedSenderItWasDeclaredDead) {
  Harness h(test_config(1, /*lifeguard=*/false));
  h.know({2, 3});
  h.deliver(make_message(MessageKind::gossip, 3, 0, kNoNode, {claim(2, MemberState::dead, 2, 3)}));
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, 2, 1, 1)), MessageKind::ack);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(carries(acks.front(), 2, MemberState::dead));
}

// Identity (docs/swim.md): members are keyed by id; addresses change only at a higher
// incarnation, which only the member itself raises.

TEST(SwimIdentity, APingForAnotherIdIsRefusedEvenAtOurAddress) {
  Config config = test_config(4);
  config.self_address = addr(3);  // 4 replaced 3 on the same host
  Harness h(config);
  Message for_old_owner = make_message(MessageKind::ping, 1, 5, 3);
  EXPECT_EQ(h.core.on_datagram(addr(1), encode_or_die(for_old_owner), 0).code(), Errc::not_for_us);
  EXPECT_TRUE(h.core.take_ready().empty());
  EXPECT_EQ(h.core.member(1), nullptr);  // nothing in a refused datagram is believed
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, 1, 6, 4)), MessageKind::ack, addr(1));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks.front().source, 4u);
  EXPECT_EQ(acks.front().source_address, addr(3));
}

TEST(SwimIdentity, ANewIdAtAKnownAddressLivesBesideTheOldOne) {
  Harness h(test_config(1));
  h.know({2, 3});
  Update newcomer = claim(4);
  newcomer.address = addr(3);
  const Ready ready = h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {newcomer}));
  ASSERT_EQ(ready.events.size(), 1u);
  EXPECT_EQ(ready.events.front().id, 4u);
  EXPECT_EQ(ready.events.front().address, addr(3));
  ASSERT_NE(h.core.member(3), nullptr);
  EXPECT_EQ(h.core.member(3)->state, MemberState::alive);  // the address proves nothing about 3
  EXPECT_EQ(h.core.member(4)->address, addr(3));
  // Both are probed at h3, each by its own id.
  std::set<NodeId> targets;
  for (int i = 0; i < 3; ++i) {
    Ready everything;
    const Message ping = h.next_probe(&everything);
    targets.insert(ping.target);
    for (const OutDatagram& datagram : everything.datagrams) {
      if (decode_or_die(datagram).kind == MessageKind::ping) {
        EXPECT_EQ(datagram.to, addr(ping.target == 2 ? 2 : 3));
      }
    }
    h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  EXPECT_EQ(targets, (std::set<NodeId>{2, 3, 4}));
}

TEST(SwimIdentity, AHigherIncarnationMovesAMember) {
  Harness h(test_config(1));
  h.know({2, 3});
  Update moved = claim(3, MemberState::alive, 1);
  moved.address = "elsewhere:7946";
  moved.named = {NamedAddress{"raft", "elsewhere:7100"}};
  const Ready ready = h.deliver(make_message(MessageKind::gossip, 2, 0, kNoNode, {moved}));
  ASSERT_EQ(ready.events.size(), 1u);
  const Event& event = ready.events.front();
  EXPECT_EQ(event.kind, EventKind::updated);
  EXPECT_EQ(event.id, 3u);
  EXPECT_EQ(event.address, "elsewhere:7946");
  EXPECT_EQ(find_address(event.named, "raft"), "elsewhere:7100");
  EXPECT_EQ(h.core.member(3)->address, "elsewhere:7946");
  EXPECT_EQ(*h.core.broadcasts().find(3), moved);  // passed on with the new addresses
  // Probes follow it.
  for (int i = 0; i < 4; ++i) {
    Ready everything;
    const Message ping = h.next_probe(&everything);
    if (ping.target == 3) {
      EXPECT_EQ(sent(everything, MessageKind::ping, "elsewhere:7946").size(), 1u);
      return;
    }
    h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  ADD_FAILURE() << "3 was never probed";
}

TEST(SwimIdentity, OtherAddressesAtTheSameIncarnationKeepOursAndTheAckSaysSo) {
  Harness h(test_config(1));
  h.know({2, 3});
  Message ping = make_message(MessageKind::ping, 3, 8, 1);
  ping.source_address = "elsewhere:7946";  // 3 restarted there, still at incarnation 0
  const Ready ready = h.deliver(ping);
  EXPECT_TRUE(ready.events.empty());
  EXPECT_EQ(h.core.member(3)->address, addr(3));
  EXPECT_EQ(h.core.stats().address_conflicts, 1u);
  const std::vector<Message> acks = sent(ready, MessageKind::ack, "elsewhere:7946");
  ASSERT_EQ(acks.size(), 1u);
  ASSERT_FALSE(acks.front().updates.empty());
  EXPECT_EQ(acks.front().updates.front(), claim(3, MemberState::alive, 0));  // what we hold, where
  std::vector<Note> notes = h.core.take_notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes.front().kind, NoteKind::address_conflict);
  EXPECT_EQ(notes.front().held_address, addr(3));
}

TEST(SwimIdentity, ClaimedElsewhereAtItsIncarnationAMemberRefutes) {
  Config config = test_config(3);
  config.self_address = "elsewhere:7946";
  config.self_named = {NamedAddress{"raft", "elsewhere:7100"}, NamedAddress{"api", "elsewhere:8080"}};
  Harness h(config);
  EXPECT_EQ(h.core.config().self_named.front().name, "api");  // kept in name order
  h.know({1, 2});
  // Our own addresses at our incarnation: nothing to argue about.
  Update ours = claim(3);
  ours.address = "elsewhere:7946";
  ours.named = h.core.config().self_named;
  h.deliver(make_message(MessageKind::gossip, 1, 0, kNoNode, {ours}));
  EXPECT_EQ(h.core.incarnation(), 0u);
  // Our old address (a previous life): refute with our own at a higher incarnation.
  h.deliver(make_message(MessageKind::gossip, 1, 0, kNoNode, {claim(3)}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  EXPECT_EQ(h.core.stats().address_conflicts, 1u);
  EXPECT_EQ(h.core.awareness_score(), 0u);  // not a hint that we are slow
  ASSERT_NE(h.core.broadcasts().find(3), nullptr);
  EXPECT_EQ(h.core.broadcasts().find(3)->address, "elsewhere:7946");
  EXPECT_EQ(h.core.broadcasts().find(3)->named, h.core.config().self_named);
  // Every datagram names us with all our addresses.
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, 1, 2, 3)), MessageKind::ack);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks.front().source_named, h.core.config().self_named);
}

TEST(SwimConfig, SelfIdAndNamedAddressesAreChecked) {
  Config config = test_config(1);
  config.self_named = {NamedAddress{"raft", "h:1"}, NamedAddress{"api", "h:2"}};
  EXPECT_TRUE(validate(config).ok());  // any order
  config.self_named.push_back(NamedAddress{"raft", "h:3"});
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);  // a name twice
  config = test_config(1);
  config.self_named = {NamedAddress{std::string(kAddressNameBytesMax + 1, 'n'), "h:1"}};
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config.self_named.assign(kNamedAddressesMax + 1, NamedAddress{"a", "h:1"});
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  EXPECT_EQ(validate(test_config(kNoNode)).code(), Errc::invalid_config);
}

}  // namespace
}  // namespace sluice::swim
