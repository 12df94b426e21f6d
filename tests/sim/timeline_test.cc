// The timeline of `sluice-sim run --timeline` (sim/timeline.h, sim/timeline_page.h): the
// recorder's bounds (sampled messages, capped marks, roles only on change), the page (the data
// element, lanes, escaping so no label can end the script early), and a whole cluster run: the
// same trace_hash with and without a timeline, every kind of event recorded, a failure marked.
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/timeline.h"
#include "sim/timeline_page.h"

namespace sluice::sim {
namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST(Timeline, JsonStringEscapesQuotesControlsAndMarkup) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("line\nnext\t"), "\"line\\u000anext\\u0009\"");
  EXPECT_EQ(json_string("</script><!--&"), "\"\\u003c/script\\u003e\\u003c!--\\u0026\"");
}

TEST(Timeline, PageHoldsTheDataAndTheLanesAndNoLabelEndsTheScript) {
  Timeline timeline;
  timeline.set_lanes({TimelineLane{"n1", false}, TimelineLane{"n2", false}, TimelineLane{"n3", true}});
  timeline.message(TimelineMessage{1'000'000, 3'000'000, 0, 1, MessageClass::raft, true, false, 120});
  timeline.mark(2'000'000, 1, MarkKind::fault, "evil </script><script>alert(1)</script> <!--");
  timeline.role(2'500'000, 0, 7, "leader", 3);
  timeline.name_group(7, TimelineGroup{"events/2", 2});
  TimelineRun run{"a<b>", "x.toml", 9, "00ff", 5'000'000'000, false, "raft safety: </script> two leaders"};
  const std::string page = render_timeline_html(timeline, run);

  EXPECT_NE(page.find("<script type=\"application/json\" id=\"timeline-data\">{\"format\":\"sluice-timeline\""), std::string::npos);
  EXPECT_NE(page.find("\"lanes\":[{\"host\":\"n1\",\"kind\":\"node\"},{\"host\":\"n2\",\"kind\":\"node\"},{\"host\":\"n3\",\"kind\":\"client\"}]"),
            std::string::npos);
  EXPECT_NE(page.find("\"rows\":[[1000,3000,0,1,1,1,120]]"), std::string::npos) << "one raft stream segment, in us";
  EXPECT_NE(page.find("[2500,0,\"role\",7,2,\"leader t3\"]"), std::string::npos) << "the role mark resolves to partition 2";
  EXPECT_NE(page.find("\"partitions\":[2]"), std::string::npos);
  EXPECT_NE(page.find("\"failure\":\"raft safety: \\u003c/script\\u003e two leaders\""), std::string::npos);
  EXPECT_NE(page.find("<title>sluice timeline: a&lt;b&gt; seed 9</title>"), std::string::npos);
  // Only the page's own two script elements end: the data's and the drawing script's.
  EXPECT_EQ(count_of(page, "</script"), 2u);
  EXPECT_EQ(count_of(page, "<!--"), 0u);
  EXPECT_NE(page.find("id=\"lanes\""), std::string::npos);
  EXPECT_NE(page.find("id=\"partition-filter\""), std::string::npos);
  EXPECT_NE(page.find("id=\"legend\""), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos) << "no external resource";
  EXPECT_EQ(page.find("https://"), std::string::npos) << "no external resource";
}

TEST(Timeline, MessagesBeyondTheCapAreSampledOverTheWholeRun) {
  Timeline timeline(100, 10);
  for (int64_t i = 0; i < 1000; ++i) timeline.message(TimelineMessage{i, i + 1, 0, 1, MessageClass::swim, false, false, 1});
  EXPECT_EQ(timeline.messages_seen(), 1000u);
  EXPECT_EQ(timeline.messages_seen(MessageClass::swim), 1000u);
  EXPECT_EQ(timeline.sample_every(), 16u);
  ASSERT_LE(timeline.messages().size(), 100u);
  EXPECT_GE(timeline.messages().size(), 50u);
  for (const TimelineMessage& message : timeline.messages()) EXPECT_EQ(message.sent_ns % 16, 0) << message.sent_ns;
  EXPECT_EQ(timeline.messages().front().sent_ns, 0);
  EXPECT_GE(timeline.messages().back().sent_ns, 1000 - 16) << "the sample reaches the end of the run";
}

TEST(Timeline, MarksStopAtTheCapButTheViolationIsKept) {
  Timeline timeline(100, 3);
  for (int i = 0; i < 5; ++i) timeline.mark(i, 0, MarkKind::client, "op");
  timeline.mark(9, -1, MarkKind::violation, std::string(2000, 'v'));
  ASSERT_EQ(timeline.marks().size(), 4u);
  EXPECT_EQ(timeline.marks_dropped(), 2u);
  EXPECT_EQ(timeline.marks().back().kind, MarkKind::violation);
  EXPECT_EQ(timeline.marks().back().label.size(), Timeline::kLabelBytesMax);
  const std::string page = render_timeline_html(timeline, TimelineRun{});
  EXPECT_NE(page.find("\"marks\":{\"dropped\":2,"), std::string::npos);
}

TEST(Timeline, ARoleIsMarkedOnlyWhenItChanges) {
  Timeline timeline;
  timeline.role(1, 0, 5, "follower", 1);
  timeline.role(2, 0, 5, "follower", 2);
  timeline.role(3, 1, 5, "follower", 2);  // another node
  timeline.role(4, 0, 6, "follower", 2);  // another group
  timeline.role(5, 0, 5, "leader", 3);
  ASSERT_EQ(timeline.marks().size(), 4u);
  EXPECT_EQ(timeline.marks().back().label, "leader t3");
  EXPECT_EQ(timeline.marks().back().group, 5u);
}

Scenario small_cluster() {
  Result<Scenario> scenario = load_scenario(std::string(SLUICE_SOURCE_DIR) + "/tests/sim/timeline-cluster-small.toml");
  EXPECT_TRUE(scenario.ok()) << scenario.status().to_string();
  return scenario.ok() ? *scenario : Scenario{};
}

bool has_mark(const Timeline& timeline, MarkKind kind, const std::string& label_start) {
  for (const TimelineMark& mark : timeline.marks()) {
    if (mark.kind == kind && mark.label.rfind(label_start, 0) == 0) return true;
  }
  return false;
}

TEST(Timeline, AClusterRunRecordsEveryKindAndKeepsItsTraceHash) {
  const Scenario scenario = small_cluster();
  const SimulationReport plain = run_simulation(scenario, SimulationOptions{1, false});
  Timeline timeline;
  const SimulationReport recorded = run_simulation(scenario, SimulationOptions{1, false, &timeline});
  ASSERT_TRUE(plain.passed) << plain.failure;
  EXPECT_EQ(recorded.trace_hash, plain.trace_hash);
  EXPECT_EQ(recorded.trace_events, plain.trace_events);

  ASSERT_EQ(timeline.lanes().size(), 7u);  // 5 nodes, 2 client hosts
  EXPECT_TRUE(timeline.lanes()[5].client);
  for (MessageClass cls : {MessageClass::swim, MessageClass::raft, MessageClass::http}) {
    EXPECT_GT(timeline.messages_seen(cls), 0u) << to_string(cls);
  }
  EXPECT_EQ(timeline.messages_seen(MessageClass::other), 0u) << "every port the nodes serve on is classed";
  EXPECT_TRUE(has_mark(timeline, MarkKind::fault, "partition [n1] | [n2 n3 n4 n5]"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::fault, "heal"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::fault, "clock_jump 150"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::crash, "crash"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::start, "start #2"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::role, "leader"));
  EXPECT_TRUE(has_mark(timeline, MarkKind::client, "create_topic"));
  EXPECT_FALSE(has_mark(timeline, MarkKind::violation, ""));
  ASSERT_EQ(timeline.groups().size(), 4u);  // the controller's and the topic's 3 partitions
  EXPECT_EQ(timeline.groups().begin()->second.label, "controller");
  for (const TimelineMark& mark : timeline.marks()) {
    EXPECT_LE(mark.at_ns, recorded.simulated_ns) << "no mark from tearing the world down";
  }
}

TEST(Timeline, AFailedRunMarksItsFailure) {
  Scenario scenario = small_cluster();
  scenario.budget.events_max = 20'000;
  Timeline timeline;
  const SimulationReport report = run_simulation(scenario, SimulationOptions{1, false, &timeline});
  ASSERT_FALSE(report.passed);
  ASSERT_FALSE(timeline.marks().empty());
  EXPECT_EQ(timeline.marks().back().kind, MarkKind::violation);
  EXPECT_EQ(timeline.marks().back().label, report.failure);
  EXPECT_EQ(timeline.marks().back().at_ns, report.simulated_ns);
}

}  // namespace
}  // namespace sluice::sim
