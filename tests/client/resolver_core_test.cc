// The topic resolver's pure core (client/resolver_core.h): one metadata request per topic however
// many partitions fail, only stale partitions stall, requests spaced, stale reports about
// replaced routes ignored.
#include <gtest/gtest.h>

#include "client/resolver_core.h"

namespace sluice::client {
namespace {

using Step = ResolverCore::Step;
using std::chrono::milliseconds;

rt::Instant at_ms(int64_t ms) { return rt::Instant(milliseconds(ms)); }

TopicRoutes three_partitions(std::string_view leader_api) {
  TopicRoutes routes;
  routes.topic_id = 1;
  for (uint32_t p = 0; p < 3; ++p) routes.partitions.push_back(PartitionRoute{NodeId{p + 1}, std::string(leader_api)});
  return routes;
}

TEST(ResolverCore, TheFirstLookupRequestsAndTheRestWait) {
  ResolverCore core;
  EXPECT_EQ(core.lookup("t", 0, at_ms(0)).step, Step::request);
  EXPECT_EQ(core.lookup("t", 1, at_ms(0)).step, Step::wait);
  EXPECT_EQ(core.lookup("t", std::nullopt, at_ms(0)).step, Step::wait);
  core.complete("t", three_partitions("a:1"), at_ms(1));
  ResolverCore::Lookup found = core.lookup("t", 2, at_ms(1));
  ASSERT_EQ(found.step, Step::use_route);
  EXPECT_EQ(found.route.leader, NodeId{3});
  EXPECT_EQ(core.requests_started("t"), 1u);
}

TEST(ResolverCore, ManyStalePartitionsCauseOneRequestAndTheOthersKeepFlowing) {
  ResolverCore core;
  ASSERT_EQ(core.lookup("t", 0, at_ms(0)).step, Step::request);
  core.complete("t", three_partitions("a:1"), at_ms(0));
  const uint64_t generation = core.lookup("t", 0, at_ms(100)).generation;
  EXPECT_TRUE(core.report_stale("t", 0, generation));
  EXPECT_TRUE(core.report_stale("t", 1, generation));
  EXPECT_FALSE(core.report_stale("t", 1, generation));  // already stale
  EXPECT_EQ(core.lookup("t", 0, at_ms(100)).step, Step::request);
  EXPECT_EQ(core.lookup("t", 1, at_ms(100)).step, Step::wait);
  EXPECT_EQ(core.lookup("t", 0, at_ms(100)).step, Step::wait);
  EXPECT_EQ(core.lookup("t", 2, at_ms(100)).step, Step::use_route);  // unaffected
  EXPECT_EQ(core.requests_started("t"), 2u);
  core.complete("t", three_partitions("b:1"), at_ms(101));
  EXPECT_EQ(core.lookup("t", 1, at_ms(101)).route.leader_api, "b:1");
  // A report about the routes the answer replaced changes nothing.
  EXPECT_FALSE(core.report_stale("t", 1, generation));
  EXPECT_EQ(core.lookup("t", 1, at_ms(101)).step, Step::use_route);
}

TEST(ResolverCore, RequestsAreSpacedWhenAnswersNameNoLeader) {
  ResolverLimits limits;
  limits.refresh_interval_min = milliseconds(50);
  ResolverCore core(limits);
  ASSERT_EQ(core.lookup("t", 0, at_ms(0)).step, Step::request);
  core.complete("t", three_partitions(""), at_ms(1));
  ResolverCore::Lookup again = core.lookup("t", 0, at_ms(10));
  EXPECT_EQ(again.step, Step::wait);
  EXPECT_EQ(again.retry_at, at_ms(50));
  EXPECT_EQ(core.lookup("t", 0, at_ms(50)).step, Step::request);
}

TEST(ResolverCore, AFailedRequestIsReportedToWaitersAndRetriedLater) {
  ResolverCore core;
  ASSERT_EQ(core.lookup("t", 0, at_ms(0)).step, Step::request);
  core.complete("t", Status(Errc::unknown_topic, "no topic t"), at_ms(1));
  ResolverCore::Lookup waiting = core.lookup("t", 0, at_ms(2));
  EXPECT_EQ(waiting.step, Step::wait);
  ASSERT_TRUE(waiting.last_error.has_value());
  EXPECT_EQ(waiting.last_error->code(), Errc::unknown_topic);
  EXPECT_EQ(core.lookup("t", 0, at_ms(60)).step, Step::request);
}

TEST(ResolverCore, APartitionBeyondTheCachedCountIsResolvedAgain) {
  ResolverCore core;
  ASSERT_EQ(core.lookup("t", 0, at_ms(0)).step, Step::request);
  core.complete("t", three_partitions("a:1"), at_ms(0));
  EXPECT_EQ(core.lookup("t", 5, at_ms(100)).step, Step::request);
}

TEST(ResolverCore, TopicsBeyondTheLimitEvictTheLeastRecentlyRefreshed) {
  ResolverLimits limits;
  limits.topics_max = 2;
  ResolverCore core(limits);
  for (const char* topic : {"a", "b", "c"}) {
    ASSERT_EQ(core.lookup(topic, 0, at_ms(0)).step, Step::request) << topic;
    core.complete(topic, three_partitions("x:1"), at_ms(0));
  }
  EXPECT_EQ(core.routes("a"), nullptr);
  EXPECT_NE(core.routes("c"), nullptr);
}

}  // namespace
}  // namespace sluice::client
