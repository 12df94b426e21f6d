// The cluster workload's client operations (sim/workloads/client_ops.h): `skip_ops` entries parsed
// and written back, their errors named by file, line and field, and what a skip does to a run —
// the skipped records are never sent, and every other record keeps its identity, payload and
// partition, which is what lets the shrinker drop records one by one.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/workloads/client_ops.h"

namespace sluice::sim {
namespace {

TEST(SkipOps, ParsesOneSequenceNumberAndRanges) {
  SkippedOps skipped;
  EXPECT_EQ(parse_skip_range("client0.p1:7", skipped), "");
  EXPECT_EQ(parse_skip_range("client0.p1:10-12", skipped), "");
  EXPECT_EQ(parse_skip_range("client1.p0:0-0", skipped), "");
  EXPECT_EQ(skipped, (SkippedOps{{"client0.p1", {7, 10, 11, 12}}, {"client1.p0", {0}}}));
}

TEST(SkipOps, NamesWhatIsWrongWithAnEntry) {
  SkippedOps skipped;
  EXPECT_NE(parse_skip_range("client0.p1", skipped).find("expected STREAM:FIRST"), std::string::npos);
  EXPECT_NE(parse_skip_range(":5", skipped).find("expected STREAM:FIRST"), std::string::npos);
  for (const char* bad : {"c:", "c:x", "c:5-", "c:-5", "c:5-x", "c:1.5", "c:-1"}) {
    EXPECT_NE(parse_skip_range(bad, skipped).find("unsigned integers"), std::string::npos) << bad;
  }
  EXPECT_NE(parse_skip_range("c:9-3", skipped).find("runs backwards"), std::string::npos);
  EXPECT_NE(parse_skip_range("c:0-1000000", skipped).find("at most 1000000"), std::string::npos);
  EXPECT_EQ(parse_skip_range("c:0-999999", skipped), "");
  EXPECT_EQ(skipped.at("c").size(), 1'000'000u);
}

TEST(SkipOps, WritesConsecutiveSequenceNumbersAsOneRange) {
  const SkippedOps skipped{{"client1.p0", {4}}, {"client0.p0", {0, 1, 2, 5, 7, 8}}};
  EXPECT_EQ(format_skip_ops(skipped),
            (std::vector<std::string>{"client0.p0:0-2", "client0.p0:5", "client0.p0:7-8", "client1.p0:4"}));
  SkippedOps read_back;
  for (const std::string& entry : format_skip_ops(skipped)) ASSERT_EQ(parse_skip_range(entry, read_back), "");
  EXPECT_EQ(read_back, skipped);
  EXPECT_TRUE(format_skip_ops({}).empty());
}

// The scenario parser reports a bad entry as FILE:LINE: FIELD: message.
TEST(SkipOps, ScenarioErrorsNameTheFileLineAndField) {
  auto error = [](const std::string& skip_ops) {
    Result<Scenario> parsed = parse_scenario("nodes = 3\n[workload]\nkind = \"cluster\"\n" + skip_ops +
                                                "\n[budget]\nevents_max = 10\nconverge_s_max = 1\n", "bad.toml");
    return parsed.ok() ? std::string("parsed") : parsed.status().message();
  };
  EXPECT_EQ(error("skip_ops = 'client0.p0:1'"), "bad.toml:4: workload.skip_ops: expected a list of \"STREAM:FIRST-LAST\" strings");
  EXPECT_EQ(error("skip_ops = [3]"), "bad.toml:4: workload.skip_ops: expected a string \"STREAM:FIRST-LAST\"");
  EXPECT_EQ(error("skip_ops = ['client0.p0:4-2']"), "bad.toml:4: workload.skip_ops: 'client0.p0:4-2': the range runs backwards");
  EXPECT_EQ(error("skip_ops = ['client0.p0:1-2', 'client1.p0:3']"), "parsed");
}

// (stream, seq) → (partition, record hash) of every record a run sent (its other operations left out).
std::map<std::pair<std::string, uint64_t>, std::pair<uint32_t, uint64_t>> by_identity(const std::vector<ClientOp>& ops) {
  std::map<std::pair<std::string, uint64_t>, std::pair<uint32_t, uint64_t>> out;
  for (const ClientOp& op : ops) {
    if (op.kind != ClientOpKind::produce) continue;
    EXPECT_TRUE(out.emplace(std::pair(op.stream, op.seq), std::pair(op.partition, op.record)).second)
        << op.stream << ":" << op.seq << " issued twice";
  }
  return out;
}

Scenario smoke_with_skips(const std::string& skip_ops) {
  Result<toml::table> table = load_scenario_table(std::string(SLUICE_SOURCE_DIR) + "/scenarios/cluster-smoke.toml");
  EXPECT_TRUE(table.ok()) << table.status().to_string();
  toml::table& workload = *(*table)["workload"].as_table();
  if (!skip_ops.empty()) {
    Result<toml::table> entries = parse_toml("skip_ops = " + skip_ops, "skips.toml");
    EXPECT_TRUE(entries.ok());
    workload.insert_or_assign("skip_ops", *(*entries)["skip_ops"].as_array());
  }
  Result<Scenario> scenario = parse_scenario_table(*table, "cluster-smoke.toml");
  EXPECT_TRUE(scenario.ok()) << scenario.status().to_string();
  return *scenario;
}

// cluster-smoke seed 1 with and without skipped records: the skipped ones are never sent, every
// record sent in both runs has the same partition and payload in both, and the partition is the
// record's sequence number modulo the topic's partitions.
TEST(SkipOps, SkippedRecordsAreNotSentAndTheOthersKeepTheirIdentity) {
  const SimulationReport all = run_simulation(smoke_with_skips(""), SimulationOptions{1, false});
  ASSERT_TRUE(all.passed) << all.failure;
  const SimulationReport some =
      run_simulation(smoke_with_skips("['client0.p0:3-40', 'client1.p0:0', 'client1.p0:10-11']"), SimulationOptions{1, false});
  ASSERT_TRUE(some.passed) << some.failure;
  const auto sent_all = by_identity(all.client_ops);
  const auto sent_some = by_identity(some.client_ops);
  ASSERT_GT(sent_all.size(), 1000u);
  ASSERT_GT(sent_some.size(), 1000u);
  auto skipped = [](const std::string& stream, uint64_t seq) {
    return (stream == "client0.p0" && seq >= 3 && seq <= 40) || (stream == "client1.p0" && (seq == 0 || seq == 10 || seq == 11));
  };
  size_t in_both = 0;
  for (const auto& [identity, where] : sent_some) {
    EXPECT_FALSE(skipped(identity.first, identity.second)) << identity.first << ":" << identity.second << " was sent";
    EXPECT_EQ(where.first, identity.second % 3) << identity.first << ":" << identity.second;
    auto other = sent_all.find(identity);
    if (other == sent_all.end()) continue;  // the run with fewer records may get further
    ++in_both;
    EXPECT_EQ(other->second, where) << identity.first << ":" << identity.second;
  }
  EXPECT_GT(in_both, 1000u);
  size_t skipped_in_all = 0;
  for (const auto& [identity, where] : sent_all) skipped_in_all += skipped(identity.first, identity.second) ? 1 : 0;
  EXPECT_EQ(skipped_in_all, 41u);  // every skipped record was sent in the full run
}

// A consumer's polls are a stream of operations too: a skipped poll is not made (the consumer
// pauses instead), the polls after it keep their numbers, and the consumer still reads every
// record (the run passes: every consumer caught up).
TEST(SkipOps, SkippedPollsAreNotMadeAndTheConsumerStillReadsEverything) {
  const SimulationReport report = run_simulation(smoke_with_skips("['client0.c0:2-30', 'client1.c0:0']"), SimulationOptions{1, false});
  ASSERT_TRUE(report.passed) << report.failure;
  std::map<std::string, std::vector<uint64_t>> polls;
  for (const ClientOp& op : report.client_ops) {
    if (op.kind == ClientOpKind::poll) polls[op.stream].push_back(op.seq);
  }
  ASSERT_EQ(polls.size(), 2u);  // cluster-smoke: two client hosts, one consumer each
  const std::vector<uint64_t>& first = polls["client0.c0"];
  ASSERT_GT(first.size(), 10u);
  EXPECT_EQ(first[0], 0u);
  EXPECT_EQ(first[1], 1u);
  EXPECT_EQ(first[2], 31u);
  for (size_t i = 3; i < first.size(); ++i) EXPECT_EQ(first[i], first[i - 1] + 1);
  const std::vector<uint64_t>& second = polls["client1.c0"];
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second[0], 1u);
}

// The admin client's topic churn is a stream of operations too: a skipped round is not run (its
// topic never created), the rounds after it keep their numbers.
TEST(SkipOps, SkippedTopicChurnRoundsAreNotRun) {
  Result<toml::table> table = load_scenario_table(std::string(SLUICE_SOURCE_DIR) + "/scenarios/cluster-membership-churn.toml");
  ASSERT_TRUE(table.ok()) << table.status().to_string();
  (*table)["workload"].as_table()->insert_or_assign("skip_ops", toml::array{"client0.admin:1-3", "client0.admin:5"});
  Result<Scenario> scenario = parse_scenario_table(*table, "cluster-membership-churn.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.status().to_string();
  const SimulationReport report = run_simulation(*scenario, SimulationOptions{1, false});
  ASSERT_TRUE(report.passed) << report.failure;
  std::vector<uint64_t> rounds;
  for (const ClientOp& op : report.client_ops) {
    if (op.kind != ClientOpKind::topic_cycle) continue;
    EXPECT_EQ(op.stream, kAdminChurnStream);
    rounds.push_back(op.seq);
  }
  ASSERT_GE(rounds.size(), 3u);
  EXPECT_EQ(rounds[0], 0u);
  EXPECT_EQ(rounds[1], 4u);
  EXPECT_EQ(rounds[2], 6u);
  for (size_t i = 3; i < rounds.size(); ++i) EXPECT_EQ(rounds[i], rounds[i - 1] + 1);
}

}  // namespace
}  // namespace sluice::sim
