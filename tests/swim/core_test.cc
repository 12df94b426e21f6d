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

  Ready deliver(const Message& message, std::string from = "") {
    if (from.empty()) from = message.source;
    EXPECT_TRUE(core.on_datagram(from, encode_or_die(message), now_ms).ok());
    return core.take_ready();
  }

  // Makes every address in `members` known and alive, as a gossip datagram from the first.
  void know(const std::vector<std::string>& members) {
    std::vector<Update> updates;
    for (const std::string& member : members) updates.push_back(Update{member, 0, MemberState::alive, ""});
    deliver(make_message(MessageKind::gossip, members.front(), 0, "", updates));
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

std::vector<std::string> names(std::initializer_list<const char*> list) {
  return std::vector<std::string>(list.begin(), list.end());
}

TEST(SwimFormulas, LogScaleAndRetransmitLimit) {
  EXPECT_EQ(log10_ceil_plus_one(1), 1u);
  EXPECT_EQ(log10_ceil_plus_one(9), 1u);
  EXPECT_EQ(log10_ceil_plus_one(10), 2u);
  EXPECT_EQ(log10_ceil_plus_one(99), 2u);
  EXPECT_EQ(log10_ceil_plus_one(100), 3u);
  Config config = test_config("a:1");
  EXPECT_EQ(retransmit_limit(config, 9), 4u);
  EXPECT_EQ(retransmit_limit(config, 128), 12u);
  // suspicion_mult · max(1, log10 N) · T, continuous in N.
  EXPECT_EQ(suspicion_timeout_min_ms(config, 1), 3000u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 10), 3000u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 32), 4515u);
  EXPECT_EQ(suspicion_timeout_min_ms(config, 128), 6321u);
}

TEST(SwimFormulas, LifeguardSuspicionTimeoutFallsLogarithmically) {
  Config config = test_config("a:1");
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
  queue.push(Update{"a:1", 0});
  queue.push(Update{"b:1", 0});
  queue.push(Update{"c:1", 0});
  queue.push(Update{"a:1", 1});  // supersedes, and is now the newest
  EXPECT_EQ(queue.size(), 3u);
  std::vector<Update> out;
  size_t budget = update_bytes_bound(Update{"a:1", 0}) * 2;
  EXPECT_EQ(queue.take(budget, 3, "", out), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (Update{"a:1", 1}));
  EXPECT_EQ(out[1].member, "c:1");
  out.clear();
  budget = 10000;
  queue.take(budget, 3, "", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].member, "b:1");  // never sent yet: goes before the twice-sent
  EXPECT_EQ(queue.transmits("a:1"), 2u);
}

TEST(SwimBroadcastQueue, DropsAtTheLimitSkipsWhatDoesNotFitAndEvictsTheMostSent) {
  BroadcastQueue queue(2);
  queue.push(Update{std::string(300, 'x'), 0});
  queue.push(Update{"small:1", 0});
  std::vector<Update> out;
  size_t budget = 200;
  queue.take(budget, 2, "", out);
  ASSERT_EQ(out.size(), 1u);  // the big one does not fit and does not block the small one
  EXPECT_EQ(out[0].member, "small:1");
  budget = 10000;
  out.clear();
  queue.take(budget, 2, "", out);
  EXPECT_EQ(queue.find("small:1"), nullptr);  // sent twice: done
  EXPECT_EQ(queue.size(), 1u);
  queue.push(Update{"n1:1", 0});
  EXPECT_FALSE(queue.push(Update{"n2:1", 0}));  // full: the most-sent entry made room
  EXPECT_EQ(queue.find(std::string(300, 'x')), nullptr);
  out.clear();
  queue.take(budget, 5, "n1:1", out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].member, "n2:1");
}

TEST(SwimConfig, RejectsInconsistentSettings) {
  EXPECT_TRUE(validate(test_config("a:1")).ok());
  Config config = test_config("a:1");
  config.probe_timeout_ms = config.probe_deadline_ms;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config("a:1");
  config.probe_deadline_ms = config.probe_interval_ms + 1;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config("a:1");
  config.gossip_nodes = 0;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config("");
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
  config = test_config("a:1");
  config.datagram_bytes_max = kDatagramBytesMax + 1;
  EXPECT_EQ(validate(config).code(), Errc::invalid_config);
}

TEST(SwimCore, ProbesEveryMemberOncePerRound) {
  Harness h(test_config("a:1"));
  const std::vector<std::string> others = names({"b:1", "c:1", "d:1", "e:1", "f:1"});
  h.know(others);
  std::vector<std::string> targets;
  for (int i = 0; i < 15; ++i) {
    const Message ping = h.next_probe();
    targets.push_back(ping.target);
    h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  std::vector<std::vector<std::string>> rounds;
  for (size_t start = 0; start < targets.size(); start += others.size()) {
    std::vector<std::string> round(targets.begin() + static_cast<std::ptrdiff_t>(start),
                                   targets.begin() + static_cast<std::ptrdiff_t>(start + others.size()));
    std::vector<std::string> sorted = round;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, others);
    rounds.push_back(round);
  }
  // Reshuffled each round (with this seed the three orders differ).
  EXPECT_TRUE(rounds[0] != rounds[1] || rounds[1] != rounds[2]);
  EXPECT_EQ(h.core.stats().probes_failed, 0u);
}

TEST(SwimCore, ProbePeriodsAreOneIntervalApart) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1"}));
  const Message first = h.next_probe();
  const uint64_t first_ms = h.now_ms;
  h.deliver(make_message(MessageKind::ack, first.target, first.seq));
  h.next_probe();
  EXPECT_EQ(h.now_ms - first_ms, 1000u);
}

// A failed direct probe: ping-req to k helpers after the probe timeout (200 ms), then suspicion
// at the probe deadline (400 ms), before the period ends.
TEST(SwimCore, SilentTargetGetsPingReqsThenSuspicion) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1", "d:1", "e:1"}));
  const Message ping = h.next_probe();
  const uint64_t start_ms = h.now_ms;
  EXPECT_TRUE(sent(h.run_to(start_ms + 199), MessageKind::ping_req).empty());
  const std::vector<Message> requests = sent(h.run_to(start_ms + 200), MessageKind::ping_req);
  ASSERT_EQ(requests.size(), 3u);
  std::set<std::string> helpers;
  for (const Message& request : requests) {
    EXPECT_EQ(request.target, ping.target);
    EXPECT_EQ(request.seq, ping.seq);
    helpers.insert(request.source);
  }
  for (const Message& request : requests) h.deliver(make_message(MessageKind::nack, "x:1", request.seq), "x:1");
  h.run_to(start_ms + 399);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::alive);
  Ready end = h.run_to(start_ms + 400);
  ASSERT_NE(h.core.member(ping.target), nullptr);
  EXPECT_EQ(h.core.member(ping.target)->state, MemberState::suspect);
  ASSERT_FALSE(end.events.empty());
  EXPECT_EQ(end.events.front().kind, EventKind::suspect);
  EXPECT_EQ(end.events.front().address, ping.target);
  // All helpers answered "could not reach it either": the fault is not ours.
  EXPECT_EQ(h.core.awareness_score(), 0u);
  EXPECT_EQ(h.core.stats().suspicions_started, 1u);
}

TEST(SwimCore, MissingNacksRaiseAwarenessWhichStretchesThePeriod) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1", "d:1", "e:1"}));
  const Message ping = h.next_probe();
  const uint64_t start_ms = h.now_ms;
  h.run_to(start_ms + 200);
  h.deliver(make_message(MessageKind::nack, "b:1", ping.seq));  // one of three
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
  Harness h(test_config("a:1", /*lifeguard=*/false));
  h.know(names({"b:1", "c:1", "d:1", "e:1"}));
  h.next_probe();
  const uint64_t start_ms = h.now_ms;
  const std::vector<Message> next = sent(h.run_to(start_ms + 1000), MessageKind::ping);
  EXPECT_EQ(h.core.awareness_score(), 0u);
  EXPECT_EQ(next.size(), 1u);  // the period did not stretch
}

TEST(SwimCore, LateTickGivesHelpersTheirWholeWindow) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1", "d:1", "e:1"}));
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
  Harness h(test_config("h:1", lifeguard));
  h.know(names({"r:1", "t:1"}));
  h.now_ms = 10;
  const Ready forwarded_ping = h.deliver(make_message(MessageKind::ping_req, "r:1", 77, "t:1"));
  const std::vector<Message> pings = sent(forwarded_ping, MessageKind::ping, "t:1");
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings.front().target, "t:1");
  EXPECT_TRUE(sent(h.run_to(10 + 159), MessageKind::nack, "r:1").empty());
  const std::vector<Message> nacks = sent(h.run_to(10 + 160), MessageKind::nack, "r:1");
  if (lifeguard) {
    ASSERT_EQ(nacks.size(), 1u);
    EXPECT_EQ(nacks.front().seq, 77u);
  } else {
    EXPECT_TRUE(nacks.empty());
  }
  // The target answers after all: the ack still reaches the requester, under its seq.
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ack, "t:1", pings.front().seq)),
                                         MessageKind::ack, "r:1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks.front().seq, 77u);
  EXPECT_EQ(h.core.stats().acks_forwarded, 1u);
}

INSTANTIATE_TEST_SUITE_P(LifeguardAndPlain, SwimHelper, ::testing::Bool());

TEST(SwimCore, SuspicionTimeoutShrinksWithIndependentConfirmations) {
  Harness h(test_config("a:1"));
  std::vector<std::string> members;
  for (int i = 0; i < 10; ++i) members.push_back("m" + std::to_string(i) + ":1");
  h.know(members);  // N = 11
  h.now_ms = 100;
  auto suspect_from = [&](const std::string& origin) {
    h.deliver(make_message(MessageKind::gossip, origin, 0, "", {Update{"m0:1", 0, MemberState::suspect, origin}}));
    return *h.core.suspicion_deadline_ms("m0:1");
  };
  EXPECT_EQ(suspect_from("m1:1"), 100u + 18744);
  EXPECT_EQ(suspect_from("m2:1"), 100u + 10934);
  EXPECT_EQ(suspect_from("m2:1"), 100u + 10934);  // the same witness twice is one confirmation
  EXPECT_EQ(suspect_from("m1:1"), 100u + 10934);  // so is the first accuser
  // Confirmations are passed on so the others' timers shrink too.
  EXPECT_EQ(h.core.broadcasts().find("m0:1")->origin, "m2:1");
  EXPECT_EQ(suspect_from("m3:1"), 100u + 6365);
  EXPECT_EQ(suspect_from("m4:1"), 100u + 3124);
  EXPECT_EQ(suspect_from("m5:1"), 100u + 3124);
  h.run_to(3223);
  EXPECT_EQ(h.core.member("m0:1")->state, MemberState::suspect);
  Ready ready = h.run_to(3224);
  EXPECT_EQ(h.core.member("m0:1")->state, MemberState::dead);
  EXPECT_TRUE(std::any_of(ready.events.begin(), ready.events.end(), [](const Event& event) {
    return event.kind == EventKind::dead && event.address == "m0:1" && event.at_ms == 3224;
  }));
}

// While updates wait, the gossip tick sends them to gossip_nodes members every
// gossip_interval_ms, but only while this member sent fewer than gossip_load_datagrams_max
// datagrams within the last period; once every update is spent it falls silent.
TEST(SwimCore, GossipTickSpreadsNewsWithinTheLoadBudget) {
  Config config = test_config("a:1");
  config.gossip_load_datagrams_max = 4;
  Harness h(config);
  h.know(names({"b:1", "c:1", "d:1", "e:1", "f:1"}));  // five updates to spread
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
      if (message.kind == MessageKind::ping) h.deliver(make_message(MessageKind::ack, datagram.to, message.seq));
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
  Harness h(test_config("a:1", /*lifeguard=*/false));
  std::vector<std::string> members;
  for (int i = 0; i < 10; ++i) members.push_back("m" + std::to_string(i) + ":1");
  h.know(members);
  h.now_ms = 100;
  for (const char* origin : {"m1:1", "m2:1", "m3:1", "m4:1"}) {
    h.deliver(make_message(MessageKind::gossip, origin, 0, "", {Update{"m0:1", 0, MemberState::suspect, origin}}));
    EXPECT_EQ(*h.core.suspicion_deadline_ms("m0:1"), 100u + 3124);
  }
  h.run_to(3224);
  EXPECT_EQ(h.core.member("m0:1")->state, MemberState::dead);
}

class SwimBuddy : public ::testing::TestWithParam<bool> {};

TEST_P(SwimBuddy, ProbeOfASuspectCarriesTheSuspicion) {
  const bool lifeguard = GetParam();
  Config config = test_config("a:1", lifeguard);
  config.retransmit_mult = 1;  // N = 4: every update is sent once
  Harness h(config);
  h.know(names({"b:1", "c:1", "d:1"}));
  h.deliver(make_message(MessageKind::gossip, "c:1", 0, "", {Update{"b:1", 0, MemberState::suspect, "c:1"}}));
  // Gossip alone spends the suspicion on the first datagram out (an ack to d).
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, "d:1", 5, "a:1")), MessageKind::ack);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(carries(acks.front(), "b:1", MemberState::suspect));
  EXPECT_EQ(h.core.broadcasts().find("b:1"), nullptr);
  Message ping_to_b;
  for (int i = 0; i < 8 && ping_to_b.target != "b:1"; ++i) {
    const Message ping = h.next_probe();
    if (ping.target == "b:1") ping_to_b = ping;
    else h.deliver(make_message(MessageKind::ack, ping.target, ping.seq));
  }
  ASSERT_EQ(ping_to_b.target, "b:1");
  EXPECT_EQ(carries(ping_to_b, "b:1", MemberState::suspect), lifeguard);
  if (!lifeguard) return;
  // The suspect hears it from the probe itself and refutes in its ack.
  Core b(test_config("b:1"), Prng(9), h.now_ms);
  ASSERT_TRUE(b.on_datagram("a:1", encode_or_die(ping_to_b), h.now_ms).ok());
  EXPECT_EQ(b.incarnation(), 1u);
  const std::vector<Message> answer = sent(b.take_ready(), MessageKind::ack, "a:1");
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer.front().source_incarnation, 1u);
  EXPECT_TRUE(carries(answer.front(), "b:1", MemberState::alive));
  const Ready refuted = h.deliver(answer.front());
  EXPECT_EQ(h.core.member("b:1")->state, MemberState::alive);
  EXPECT_EQ(h.core.member("b:1")->incarnation, 1u);
  ASSERT_EQ(refuted.events.size(), 1u);
  EXPECT_EQ(refuted.events.front().kind, EventKind::alive);
}

INSTANTIATE_TEST_SUITE_P(LifeguardAndPlain, SwimBuddy, ::testing::Bool());

TEST(SwimCore, RefutesSuspicionAndDeathOfItself) {
  Harness h(test_config("x:1"));
  h.know(names({"y:1", "z:1"}));
  h.deliver(make_message(MessageKind::gossip, "y:1", 0, "", {Update{"x:1", 0, MemberState::suspect, "y:1"}}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  EXPECT_EQ(h.core.awareness_score(), 1u);
  ASSERT_NE(h.core.broadcasts().find("x:1"), nullptr);
  EXPECT_EQ(*h.core.broadcasts().find("x:1"), (Update{"x:1", 1, MemberState::alive, ""}));
  // Old news (already refuted) changes nothing.
  h.deliver(make_message(MessageKind::gossip, "z:1", 0, "", {Update{"x:1", 0, MemberState::suspect, "z:1"}}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  h.deliver(make_message(MessageKind::gossip, "z:1", 0, "", {Update{"x:1", 1, MemberState::dead, "z:1"}}));
  EXPECT_EQ(h.core.incarnation(), 2u);
  EXPECT_EQ(h.core.stats().refutations, 2u);
  // Someone knows a later incarnation of us (we restarted): go above it.
  h.deliver(make_message(MessageKind::gossip, "z:1", 0, "", {Update{"x:1", 9, MemberState::alive, ""}}));
  EXPECT_EQ(h.core.incarnation(), 10u);
}

TEST(SwimCore, PlainModeRefutesWithoutAwareness) {
  Harness h(test_config("x:1", /*lifeguard=*/false));
  h.know(names({"y:1"}));
  h.deliver(make_message(MessageKind::gossip, "y:1", 0, "", {Update{"x:1", 0, MemberState::suspect, "y:1"}}));
  EXPECT_EQ(h.core.incarnation(), 1u);
  EXPECT_EQ(h.core.awareness_score(), 0u);
}

TEST(SwimCore, GossipIsRetransmittedExactlyTheLimit) {
  Harness h(test_config("a:1"));
  std::vector<std::string> members;
  for (int i = 0; i < 9; ++i) members.push_back("m" + std::to_string(i) + ":1");
  h.know(members);  // N = 10: limit 4·⌈log10 11⌉ = 8
  h.deliver(make_message(MessageKind::gossip, "m1:1", 0, "", {Update{"new:1", 0, MemberState::alive, ""}}));
  size_t carried = 0;
  for (uint32_t seq = 0; seq < 30; ++seq) {
    for (const Message& ack : sent(h.deliver(make_message(MessageKind::ping, "m0:1", seq, "a:1")), MessageKind::ack)) {
      if (carries(ack, "new:1", MemberState::alive)) ++carried;
    }
  }
  EXPECT_EQ(carried, 8u);
  EXPECT_EQ(h.core.broadcasts().find("new:1"), nullptr);
}

TEST(SwimCore, NewestLeastSentGossipGoesFirstAndDatagramsStayWithinTheLimit) {
  Harness h(test_config("a:1"));
  PushPullState state;
  state.cluster_id = kCluster;
  state.source = "seed:1";
  for (int i = 0; i < 100; ++i) state.members.push_back(Update{std::string(200, 'm') + std::to_string(i), 0});
  ASSERT_TRUE(h.core.merge_remote_state(state, 0).ok());
  h.core.take_ready();
  ASSERT_GT(h.core.broadcasts().size(), 50u);
  h.deliver(make_message(MessageKind::gossip, "seed:1", 0, "", {Update{"fresh:1", 0, MemberState::alive, ""}}));
  Ready ready = h.deliver(make_message(MessageKind::ping, "seed:1", 1, "a:1"));
  ASSERT_EQ(ready.datagrams.size(), 1u);
  EXPECT_LE(ready.datagrams.front().bytes.size(), kDatagramBytesMax);
  const Message ack = decode_or_die(ready.datagrams.front());
  EXPECT_GE(ack.updates.size(), 3u);
  EXPECT_LT(ack.updates.size(), 10u);
  EXPECT_EQ(ack.updates.front().member, "fresh:1");
  for (uint32_t seq = 2; seq < 200; ++seq) {
    for (const OutDatagram& datagram : h.deliver(make_message(MessageKind::ping, "seed:1", seq, "a:1")).datagrams) {
      EXPECT_LE(datagram.bytes.size(), kDatagramBytesMax);
    }
  }
}

TEST(SwimCore, MalformedForeignAndMisaddressedDatagramsAreCountedAndIgnored) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1"}));
  Bytes bad_header = encode_or_die(make_message(MessageKind::ping, "b:1", 1, "a:1"));
  bad_header[0] = std::byte{'X'};
  EXPECT_EQ(h.core.on_datagram("b:1", bad_header, 0).code(), Errc::bad_header);
  Bytes garbage = encode_or_die(make_message(MessageKind::ping, "b:1", 1, "a:1"));
  for (size_t i = SWIM_HEADER_BYTES; i < garbage.size(); ++i) garbage[i] = std::byte{0xee};
  EXPECT_EQ(h.core.on_datagram("b:1", garbage, 0).code(), Errc::malformed);
  Message foreign = make_message(MessageKind::ping, "evil:1", 1, "a:1");
  foreign.cluster_id = kCluster + 1;
  EXPECT_EQ(h.core.on_datagram("evil:1", encode_or_die(foreign), 0).code(), Errc::foreign_cluster);
  EXPECT_EQ(h.core.on_datagram("b:1", encode_or_die(make_message(MessageKind::ping, "b:1", 1, "old:1")), 0).code(),
            Errc::not_for_us);
  EXPECT_EQ(h.core.on_datagram("a:1", encode_or_die(make_message(MessageKind::ping, "a:1", 1, "a:1")), 0).code(),
            Errc::not_for_us);
  const Stats& stats = h.core.stats();
  EXPECT_EQ(stats.dropped_bad_header, 1u);
  EXPECT_EQ(stats.dropped_malformed, 1u);
  EXPECT_EQ(stats.dropped_foreign_cluster, 1u);
  EXPECT_EQ(stats.dropped_not_for_us, 2u);
  EXPECT_TRUE(h.core.take_ready().empty());
  EXPECT_EQ(h.core.member("evil:1"), nullptr);
  EXPECT_EQ(h.core.members().size(), 1u);
}

TEST(SwimCore, LeaveAnnouncesAndStopsProbing) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1", "d:1", "e:1"}));
  h.now_ms = 50;
  h.core.leave(h.now_ms);
  const Ready announced = h.core.take_ready();
  const std::vector<Message> gossip = sent(announced, MessageKind::gossip);
  ASSERT_EQ(gossip.size(), 3u);
  for (const Message& message : gossip) EXPECT_TRUE(carries(message, "a:1", MemberState::left));
  EXPECT_TRUE(sent(h.run_to(5000), MessageKind::ping).empty());
  // It still answers, and does not argue with being declared gone.
  h.deliver(make_message(MessageKind::gossip, "b:1", 0, "", {Update{"a:1", 0, MemberState::suspect, "b:1"}}));
  EXPECT_EQ(h.core.incarnation(), 0u);
  EXPECT_EQ(sent(h.deliver(make_message(MessageKind::ping, "b:1", 3, "a:1")), MessageKind::ack).size(), 1u);
  EXPECT_FALSE(h.core.leave_done(50 + 999));
  EXPECT_TRUE(h.core.leave_done(50 + 1000));
  EXPECT_EQ(h.core.full_state().members.front(), (Update{"a:1", 0, MemberState::left, ""}));
}

TEST(SwimCore, JoinContactsSeedsUntilOneAnswers) {
  Harness h(test_config("a:1"));
  const std::vector<std::string> seeds = names({"s:1", "a:1", "s:1", "t:1"});
  h.core.join(seeds, 0);
  Ready first = h.core.take_ready();
  ASSERT_EQ(first.push_pulls.size(), 2u);
  EXPECT_EQ(first.push_pulls[0].to, "s:1");
  EXPECT_TRUE(first.push_pulls[0].join);
  const std::vector<Message> pings = sent(first, MessageKind::ping);
  ASSERT_EQ(pings.size(), 2u);
  EXPECT_EQ(pings.front().target, "");  // the seed may know itself by another name
  EXPECT_EQ(h.run_to(1999).push_pulls.size(), 0u);
  EXPECT_EQ(h.run_to(2000).push_pulls.size(), 2u);  // nobody answered: try again
  const Ready answered = h.deliver(make_message(MessageKind::ack, "s:1", pings.front().seq, "", {}, 4));
  ASSERT_NE(h.core.member("s:1"), nullptr);
  EXPECT_EQ(h.core.member("s:1")->incarnation, 4u);
  ASSERT_EQ(answered.events.size(), 1u);
  EXPECT_EQ(answered.events.front().kind, EventKind::joined);
  // A member is known: no more retries (one would be due at 4000). The periodic push-pull
  // starts after half its interval.
  EXPECT_TRUE(h.run_to(4500).push_pulls.empty());
  EXPECT_NE(h.core.member("s:1")->state, MemberState::dead);
}

TEST(SwimCore, ReconnectPingTellsADeadMemberItIsDead) {
  Harness h(test_config("a:1"));
  h.know(names({"b:1", "c:1"}));
  h.deliver(make_message(MessageKind::gossip, "c:1", 0, "", {Update{"b:1", 2, MemberState::dead, "c:1"}}));
  // c stays silent too, so by the first reconnect ping both are dead: either may be picked.
  Message reconnect;
  for (const Message& ping : sent(h.run_to(10000), MessageKind::ping)) {
    if (carries(ping, ping.target, MemberState::dead)) reconnect = ping;
  }
  ASSERT_TRUE(reconnect.target == "b:1" || reconnect.target == "c:1") << reconnect.target;
  EXPECT_EQ(h.core.stats().reconnect_pings, 1u);
  const uint64_t dead_incarnation = h.core.member(reconnect.target)->incarnation;
  // It is alive after all: it refutes, and its ack revives it here.
  Core target(test_config(reconnect.target), Prng(3), h.now_ms);
  ASSERT_TRUE(target.on_datagram("a:1", encode_or_die(reconnect), h.now_ms).ok());
  EXPECT_EQ(target.incarnation(), dead_incarnation + 1);
  const std::vector<Message> acks = sent(target.take_ready(), MessageKind::ack, "a:1");
  ASSERT_EQ(acks.size(), 1u);
  const Ready revived = h.deliver(acks.front());
  EXPECT_EQ(h.core.member(reconnect.target)->state, MemberState::alive);
  ASSERT_EQ(revived.events.size(), 1u);
  EXPECT_EQ(revived.events.front().kind, EventKind::joined);
}

TEST(SwimCore, AckTellsARestartedSenderItWasDeclaredDead) {
  Harness h(test_config("a:1", /*lifeguard=*/false));
  h.know(names({"b:1", "c:1"}));
  h.deliver(make_message(MessageKind::gossip, "c:1", 0, "", {Update{"b:1", 2, MemberState::dead, "c:1"}}));
  const std::vector<Message> acks = sent(h.deliver(make_message(MessageKind::ping, "b:1", 1, "a:1")), MessageKind::ack);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(carries(acks.front(), "b:1", MemberState::dead));
}

}  // namespace
}  // namespace sluice::swim
