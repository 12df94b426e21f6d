// The API's route table and target parsing (node/http/routes.h).
#include <gtest/gtest.h>

#include "node/http/routes.h"

namespace sluice::http {
namespace {

TEST(HttpTarget, SplitsAndPercentDecodesPathAndQuery) {
  const std::optional<Target> target = parse_target("/v1/topics/a%20b//records/?offset=5&wait_ms=&x=a+b%2F");
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->segments, (std::vector<std::string>{"v1", "topics", "a b", "records"}));
  EXPECT_EQ(target->query.at("offset"), "5");
  EXPECT_EQ(target->query.at("wait_ms"), "");
  EXPECT_EQ(target->query.at("x"), "a b/");
  EXPECT_TRUE(parse_target("/")->segments.empty());
}

TEST(HttpTarget, RefusesWhatIsNotAnOriginFormTarget) {
  for (const char* bad : {"", "v1/topics", "http://host/v1", "/a%2Fb", "/a%", "/a%4", "/a%zz", "/a%00", "/?a=1&a=2", "/?=1",
                          "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"}) {
    EXPECT_FALSE(parse_target(bad).has_value()) << bad;
  }
}

TEST(HttpRoutes, MatchesParametersAndTellsNotFoundFromMethodNotAllowed) {
  RouteTable routes;
  routes.add("GET", "/v1/topics", 1);
  routes.add("POST", "/v1/topics", 2);
  routes.add("GET", "/v1/topics/{topic}/partitions/{partition}/records", 3);
  routes.add("GET", "/", 4);
  const MatchResult fetch = routes.match("GET", parse_target("/v1/topics/orders/partitions/7/records")->segments);
  ASSERT_EQ(fetch.outcome, MatchOutcome::matched);
  EXPECT_EQ(fetch.match.id, 3);
  EXPECT_EQ(fetch.match.params.at("topic"), "orders");
  EXPECT_EQ(fetch.match.params.at("partition"), "7");
  EXPECT_EQ(routes.match("POST", {"v1", "topics"}).match.id, 2);
  EXPECT_EQ(routes.match("HEAD", {"v1", "topics"}).match.id, 1);  // HEAD takes the GET route
  EXPECT_EQ(routes.match("GET", {}).match.id, 4);
  const MatchResult wrong_method = routes.match("DELETE", {"v1", "topics"});
  EXPECT_EQ(wrong_method.outcome, MatchOutcome::method_not_allowed);
  EXPECT_EQ(wrong_method.allowed, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(routes.match("GET", {"v1", "topic"}).outcome, MatchOutcome::not_found);
  EXPECT_EQ(routes.match("GET", {"v1", "topics", "orders", "partitions"}).outcome, MatchOutcome::not_found);
}

}  // namespace
}  // namespace sluice::http
