// The SWIM liveness checker (sim/checkers/swim_liveness.h) on a hand-made world.
#include "sim/checkers/swim_liveness.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace sluice::checkers {
namespace {

constexpr int64_t kS = 1'000'000'000;

struct FakeWorld final : SwimWorldView {
  std::vector<NodeId> nodes{1, 2, 3};
  std::set<NodeId> unhealthy;
  std::set<std::pair<NodeId, NodeId>> cut;  // either order
  std::map<NodeId, uint64_t> own{{1, 0}, {2, 0}, {3, 0}};
  std::map<std::pair<NodeId, NodeId>, View> views;  // (observer, subject); absent: alive at 0

  std::vector<NodeId> members() const override { return nodes; }
  bool healthy(NodeId node) const override { return unhealthy.count(node) == 0; }
  bool connected(NodeId a, NodeId b) const override { return cut.count({a, b}) == 0 && cut.count({b, a}) == 0; }
  std::optional<uint64_t> own_incarnation(NodeId node) const override { return own.at(node); }
  std::optional<View> view(NodeId observer, NodeId subject) const override {
    auto it = views.find({observer, subject});
    return it == views.end() ? View{} : it->second;
  }
};

SwimLivenessConfig config() { return SwimLivenessConfig{10 * kS, 20 * kS}; }

TEST(SwimLivenessChecker, ARefutedSuspicionPasses) {
  FakeWorld world;
  SwimLivenessChecker checker(config());
  checker.poll(0, world);
  world.views[{1, 2}] = {MemberView::suspect, 0};
  checker.poll(1 * kS, world);
  world.own[2] = 1;  // 2 heard of it and raised its incarnation
  world.views[{1, 2}] = {MemberView::alive, 1};
  checker.poll(3 * kS, world);
  checker.poll(30 * kS, world);
  EXPECT_FALSE(checker.violation()) << *checker.violation();
  EXPECT_EQ(checker.stats().suspicions_judged, 1u);
}

TEST(SwimLivenessChecker, AHealthyMemberThatNeverRefutesIsReported) {
  FakeWorld world;
  SwimLivenessChecker checker(config());
  checker.poll(0, world);
  world.views[{3, 2}] = {MemberView::suspect, 0};
  for (int64_t t = 1; t <= 10; ++t) checker.poll(t * kS, world);
  EXPECT_FALSE(checker.violation());  // within refute_s_max
  checker.poll(12 * kS, world);
  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("member 2 (own incarnation 0) was suspected at incarnation 0"), std::string::npos)
      << *checker.violation();
  EXPECT_NE(checker.violation()->find("held suspect by 3"), std::string::npos) << *checker.violation();
}

TEST(SwimLivenessChecker, AnUnhealthyMemberIsExcused) {
  FakeWorld world;
  SwimLivenessChecker checker(config());
  checker.poll(0, world);
  world.views[{1, 2}] = {MemberView::suspect, 0};
  checker.poll(1 * kS, world);
  world.cut.insert({2, 3});  // 2 is partitioned from 3: it may never hear of the suspicion
  checker.poll(2 * kS, world);
  world.cut.clear();
  world.views.clear();
  checker.poll(40 * kS, world);
  EXPECT_FALSE(checker.violation());
  EXPECT_EQ(checker.stats().suspicions_excused, 1u);
}

TEST(SwimLivenessChecker, AHealthyMemberLeftDeadIsReportedAndAHealedOneCounted) {
  FakeWorld world;
  world.unhealthy.insert(2);  // slowed: declared dead legitimately, not a false death
  world.views[{1, 2}] = {MemberView::dead, 0};
  SwimLivenessChecker checker(config());
  checker.poll(0, world);
  world.unhealthy.clear();
  checker.poll(1 * kS, world);
  checker.poll(15 * kS, world);
  world.views[{1, 2}] = {MemberView::alive, 1};  // healed in time
  world.own[2] = 1;
  checker.poll(16 * kS, world);
  EXPECT_FALSE(checker.violation());
  EXPECT_EQ(checker.stats().false_deaths_healed, 0u);

  world.views[{2, 3}] = {MemberView::dead, 0};  // 3 is healthy: a false death, healed in time
  checker.poll(17 * kS, world);
  world.views.erase({2, 3});
  checker.poll(18 * kS, world);
  EXPECT_EQ(checker.stats().false_deaths_healed, 1u);

  world.views[{3, 1}] = {MemberView::dead, 0};  // never heals
  for (int64_t t = 19; t <= 40; ++t) checker.poll(t * kS, world);
  ASSERT_TRUE(checker.violation());
  EXPECT_NE(checker.violation()->find("member 1 is healthy and reachable from 3"), std::string::npos) << *checker.violation();
}

TEST(SwimLivenessChecker, ASuspicionNobodyHoldsAnyMoreIsDropped) {
  FakeWorld world;
  SwimLivenessChecker checker(config());
  world.views[{1, 2}] = {MemberView::suspect, 0};
  checker.poll(0, world);
  world.views.erase({1, 2});  // its only holder forgot it (crashed, or declared 2 dead and revived it)
  for (int64_t t = 1; t <= 40; ++t) checker.poll(t * kS, world);
  EXPECT_FALSE(checker.violation());
  EXPECT_EQ(checker.stats().suspicions_excused, 1u);
}

TEST(SwimLivenessChecker, ALeftMemberIsNotDead) {
  FakeWorld world;
  world.views[{1, 2}] = {MemberView::left, 0};
  SwimLivenessChecker checker(config());
  for (int64_t t = 0; t <= 60; ++t) checker.poll(t * kS, world);
  EXPECT_FALSE(checker.violation());
}

}  // namespace
}  // namespace sluice::checkers
