// Several SWIM cores against each other on the in-test network (TestNet): join and convergence,
// failure detection, refutation, indirect probes, local health awareness, graceful leave,
// restart, determinism and load, in Lifeguard and plain mode.
#include <gtest/gtest.h>

#include <algorithm>

#include "swim_testing.h"

namespace sluice::swim {
namespace {

using namespace sluice::swim::testing;

Config base_config(bool lifeguard = true) { return test_config(1, lifeguard); }  // TestNet sets the id

NodeId id_of(size_t index) { return TestNet::id_of(index); }
std::string address_of(size_t index) { return TestNet::address_of(index); }

// All events of all members about `subject`, of `kind`, and the earliest time one happened.
uint64_t first_event_ms(TestNet& net, size_t members, size_t subject, EventKind kind) {
  uint64_t first = UINT64_MAX;
  for (size_t i = 0; i < members; ++i) {
    for (const Event& event : net.node(i).events) {
      if (event.kind == kind && event.id == id_of(subject)) first = std::min(first, event.at_ms);
    }
  }
  return first;
}

size_t events_since(TestNet& net, size_t members, EventKind kind, uint64_t since_ms) {
  size_t count = 0;
  for (size_t i = 0; i < members; ++i) {
    for (const Event& event : net.node(i).events) {
      if (event.kind == kind && event.at_ms >= since_ms) ++count;
    }
  }
  return count;
}

class SwimCluster : public ::testing::TestWithParam<bool> {
 protected:
  bool lifeguard() const { return GetParam(); }
};

TEST_P(SwimCluster, JoinThroughOneSeedConverges) {
  TestNet net(8, base_config(lifeguard()), 11);
  EXPECT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  EXPECT_EQ(events_since(net, 8, EventKind::suspect, 0), 0u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(net.core(i).members().size(), 7u);
}

TEST_P(SwimCluster, JoinConvergesThroughGossipAlone) {
  TestNet net(8, base_config(lifeguard()), 12);
  net.push_pull_enabled = false;
  EXPECT_TRUE(net.run_until([&] { return net.converged(); }, 60000));
}

TEST_P(SwimCluster, JoinConvergesThroughPushPullAlone) {
  Config config = base_config(lifeguard());
  config.retransmit_mult = 0;  // nothing piggybacked
  config.push_pull_interval_ms = 2000;
  TestNet net(8, config, 13);
  EXPECT_TRUE(net.run_until([&] { return net.converged(); }, 120000));
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(net.core(i).stats().updates_piggybacked, 0u);
}

TEST_P(SwimCluster, KilledMemberIsSuspectedThenDeadEverywhere) {
  TestNet net(6, base_config(lifeguard()), 21);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  const uint64_t kill_ms = net.now_ms();
  net.kill(3);
  ASSERT_TRUE(net.run_until([&] { return net.everyone_sees(3, MemberState::dead); }, 60000));
  const uint64_t first_suspect_ms = first_event_ms(net, 6, 3, EventKind::suspect);
  EXPECT_LE(first_suspect_ms, kill_ms + 5000);
  for (size_t i = 0; i < 6; ++i) {
    if (i == 3) continue;
    EXPECT_EQ(net.count_events(i, 3, EventKind::dead), 1u) << address_of(i);
  }
  // The suspicion timeout at least passed between first suspicion and first death: min =
  // 3·max(1, log10 6)·1 s = 3 s.
  EXPECT_GE(first_event_ms(net, 6, 3, EventKind::dead), first_suspect_ms + 3000);
  // Nobody else was harmed.
  EXPECT_EQ(events_since(net, 6, EventKind::dead, 0), 5u);
}

TEST_P(SwimCluster, SuspectedLiveMemberRefutes) {
  TestNet net(5, base_config(lifeguard()), 31);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  net.isolate(2);
  ASSERT_TRUE(net.run_until([&] { return first_event_ms(net, 5, 2, EventKind::suspect) != UINT64_MAX; }, 10000));
  net.heal();
  net.run_for(30000);
  EXPECT_EQ(first_event_ms(net, 5, 2, EventKind::dead), UINT64_MAX);
  EXPECT_GE(net.core(2).incarnation(), 1u);
  EXPECT_GE(net.core(2).stats().refutations, 1u);
  for (size_t i = 0; i < 5; ++i) {
    if (i == 2) continue;
    const Member* member = net.core(i).member(id_of(2));
    ASSERT_NE(member, nullptr);
    EXPECT_EQ(member->state, MemberState::alive);
    EXPECT_EQ(member->incarnation, net.core(2).incarnation());
  }
  // While cut off, n2 suspected others too, and spent its gossip into the void. With the buddy
  // system its next probe tells each of them, and they refute; plain SWIM has no such path, so
  // there n2's stale suspicions may ripen into false deaths (refuted later, when heard of).
  if (lifeguard()) {
    EXPECT_EQ(events_since(net, 5, EventKind::dead, 0), 0u);
  }
}

TEST_P(SwimCluster, IndirectProbeBridgesABrokenDirectPath) {
  TestNet net(5, base_config(lifeguard()), 41);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  const uint64_t broken_ms = net.now_ms();
  net.block(0, 1);
  net.block(1, 0);
  net.run_for(60000);
  EXPECT_EQ(events_since(net, 5, EventKind::suspect, broken_ms), 0u);
  EXPECT_TRUE(net.converged());
  EXPECT_GT(net.core(0).stats().indirect_rounds, 0u);
  uint64_t forwarded = 0;
  for (size_t i = 2; i < 5; ++i) forwarded += net.core(i).stats().acks_forwarded;
  EXPECT_GT(forwarded, 0u);
}

TEST_P(SwimCluster, GracefulLeaveIsNotAFailure) {
  TestNet net(5, base_config(lifeguard()), 51);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  net.core(4).leave(net.now_ms());
  ASSERT_TRUE(net.run_until([&] { return net.core(4).leave_done(net.now_ms()); }, 5000));
  net.kill(4);
  net.run_for(30000);
  EXPECT_TRUE(net.everyone_sees(4, MemberState::left));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(net.count_events(i, 4, EventKind::left), 1u);
    EXPECT_EQ(net.count_events(i, 4, EventKind::suspect), 0u);
    EXPECT_EQ(net.count_events(i, 4, EventKind::dead), 0u);
  }
}

TEST_P(SwimCluster, RestartedMemberRejoinsAboveItsDeadIncarnation) {
  TestNet net(5, base_config(lifeguard()), 61);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  net.kill(3);
  ASSERT_TRUE(net.run_until([&] { return net.everyone_sees(3, MemberState::dead); }, 60000));
  net.restart(3);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  EXPECT_GE(net.core(3).incarnation(), 1u);
  for (size_t i = 0; i < 5; ++i) {
    if (i == 3) continue;
    EXPECT_EQ(net.count_events(i, 3, EventKind::joined), 2u);
    EXPECT_EQ(net.core(i).member(id_of(3))->incarnation, net.core(3).incarnation());
  }
}

// A node replaced on the same host under a new id: the others keep both ids apart, the new one
// refuses probes meant for the old one, so the old one is declared dead and the new one lives.
TEST_P(SwimCluster, ANodeReplacedAtTheSameAddressIsANewMember) {
  TestNet net(6, base_config(lifeguard()), 111);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  const NodeId old_id = id_of(4);
  const NodeId new_id = 40;
  net.kill(4);
  net.replace(4, new_id);
  auto settled = [&] {
    for (size_t i = 0; i < 6; ++i) {
      if (i == 4) continue;
      const Member* old_member = net.core(i).member(old_id);
      const Member* new_member = net.core(i).member(new_id);
      if (old_member == nullptr || old_member->state != MemberState::dead) return false;
      if (new_member == nullptr || new_member->state != MemberState::alive) return false;
      if (new_member->address != address_of(4)) return false;
    }
    return true;
  };
  EXPECT_TRUE(net.run_until(settled, 60000));
  EXPECT_GT(net.core(4).stats().dropped_not_for_us, 0u);  // it refused the probes of the old id
  EXPECT_EQ(net.core(4).live_members(), 6u);
  // Nobody else died: the old id, once by each member (the new one learned it from its seed).
  for (size_t i = 0; i < 6; ++i) {
    for (const Event& event : net.node(i).events) {
      if (event.kind == EventKind::dead) {
        EXPECT_EQ(event.id, old_id);
      }
    }
  }
  EXPECT_EQ(events_since(net, 6, EventKind::dead, 0), 6u);
}

// A partition long enough for each side to declare the other dead: both sides then hold each
// other dead at equal incarnations, and only reconnect pings (telling a dead member so, so it
// refutes) bring them together again.
TEST_P(SwimCluster, SidesOfAHealedPartitionFindEachOtherAgain) {
  TestNet net(6, base_config(lifeguard()), 91);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  for (size_t a = 0; a < 3; ++a) {
    for (size_t b = 3; b < 6; ++b) {
      net.block(a, b);
      net.block(b, a);
    }
  }
  auto sides_see_each_other_dead = [&] {
    for (size_t a = 0; a < 3; ++a) {
      for (size_t b = 3; b < 6; ++b) {
        if (net.core(a).member(id_of(b))->state != MemberState::dead) return false;
        if (net.core(b).member(id_of(a))->state != MemberState::dead) return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(net.run_until(sides_see_each_other_dead, 120000));
  net.run_for(30000);
  const uint64_t healed_ms = net.now_ms();
  net.heal();
  EXPECT_TRUE(net.run_until([&] { return net.converged(); }, 60000));
  EXPECT_LE(net.now_ms() - healed_ms, 30000u);
  uint64_t reconnects = 0;
  for (size_t i = 0; i < 6; ++i) reconnects += net.core(i).stats().reconnect_pings;
  EXPECT_GT(reconnects, 0u);
}

TEST_P(SwimCluster, MessagesPerPeriodStayWithinFourKPlusTwo) {
  TestNet net(8, base_config(lifeguard()), 71);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  net.run_for(60000);
  net.kill(5);  // failures bring ping-reqs, nacks and forwarded acks
  net.run_for(60000);
  const uint64_t bound = 4 * 3 + 2;
  for (size_t i = 0; i < 8; ++i) {
    if (i == 5) continue;
    const Stats& stats = net.core(i).stats();
    EXPECT_LE(stats.datagrams_sent_period_max, bound) << address_of(i);
    EXPECT_LE(stats.datagrams_sent, bound * stats.periods);
    EXPECT_GE(stats.periods, 100u);
  }
}

INSTANTIATE_TEST_SUITE_P(LifeguardAndPlain, SwimCluster, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "lifeguard" : "plain"; });

// A member that hears nothing (its inbound path is broken, like a starved process): Lifeguard
// sees that its own probes fail without nacks, slows down, and its suspicions stay at the
// maximum timeout (nobody confirms them), so it declares nobody dead; plain SWIM does.
TEST(SwimClusterAwareness, DeafMemberBacksOffOnlyWithLifeguard) {
  uint64_t probes[2] = {0, 0};
  for (const bool lifeguard : {false, true}) {
    Config config = base_config(lifeguard);
    // Long enough that plain SWIM keeps probing its suspects for most of the 15 s instead of
    // running out of live members to probe: the probe rates are what this test compares.
    config.suspicion_mult = 6;
    TestNet net(6, config, 81);
    ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
    const Stats before = net.core(0).stats();
    for (size_t i = 1; i < 6; ++i) net.block(i, 0);
    net.run_for(15000);
    const Stats& after = net.core(0).stats();
    probes[lifeguard] = after.probes - before.probes;
    if (lifeguard) {
      EXPECT_EQ(net.core(0).awareness_score(), net.core(0).config().awareness_score_max);
      EXPECT_EQ(after.deaths_declared, 0u);
    } else {
      EXPECT_EQ(net.core(0).awareness_score(), 0u);
      EXPECT_GE(after.deaths_declared, 3u);
    }
    net.heal();
    net.run_for(60000);
    EXPECT_EQ(net.core(0).awareness_score(), 0u);  // healthy again
    EXPECT_TRUE(net.converged());
  }
  EXPECT_LT(probes[1] * 2, probes[0]);
}

// 10% loss everywhere and one member that runs only every 1.5 s: Lifeguard declares no healthy
// member dead (the starved one may be, it is unresponsive for long stretches).
TEST(SwimClusterAwareness, LossAndAStarvedMemberKillNoHealthyMember) {
  constexpr size_t kMembers = 16;
  TestNet net(kMembers, base_config(), 101);
  ASSERT_TRUE(net.run_until([&] { return net.converged(); }, 30000));
  net.loss_probability = 0.1;
  net.stall(kMembers - 1, 1500);
  net.run_for(120000);
  size_t suspicions = 0;
  for (size_t i = 0; i < kMembers; ++i) {
    for (const Event& event : net.node(i).events) {
      if (event.kind == EventKind::suspect) ++suspicions;
      if (event.kind == EventKind::dead) {
        EXPECT_EQ(event.id, id_of(kMembers - 1)) << address_of(i);
        EXPECT_EQ(event.address, address_of(kMembers - 1));
      }
    }
  }
  EXPECT_GT(suspicions, 10u);  // the faults did bite; refutations kept everyone alive
}

TEST(SwimClusterDeterminism, SameSeedSameTranscript) {
  auto run = [](uint64_t seed) {
    TestNet net(6, base_config(), seed);
    net.run_for(20000);
    net.kill(2);
    net.block(0, 4);
    net.run_for(30000);
    return std::make_pair(net.transcript_hash, net.datagrams_delivered);
  };
  const auto first = run(5);
  EXPECT_EQ(first, run(5));
  EXPECT_NE(first.first, run(6).first);
  EXPECT_GT(first.second, 100u);
}

}  // namespace
}  // namespace sluice::swim
