// Tests of the sweep runner's pure parts (sim/sweep_summary.h, sim/json.h): seed ranges and
// shards, the worker frame, the summary and its JSON, and merging shards' summaries.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "sim/json.h"
#include "sim/sweep_summary.h"

namespace sluice::sim {
namespace {

// --- seed ranges and shards ----------------------------------------------------------------------

TEST(SeedRange, ParsesRangesAndSingleSeeds) {
  auto range = parse_seed_range("3..9");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 3u);
  EXPECT_EQ(range->last, 9u);
  EXPECT_EQ(range->size(), 7u);
  auto single = parse_seed_range("42");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->size(), 1u);
  for (const char* bad : {"", "9..3", "a..b", "1..", "..4", "1...4", "-1..3", "0..18446744073709551615"}) {
    EXPECT_FALSE(parse_seed_range(bad)) << bad;
  }
}

TEST(Shard, ParsesAndRejectsWithAMessage) {
  auto shard = parse_shard("2/5");
  ASSERT_TRUE(shard.ok());
  EXPECT_EQ(shard->index, 2u);
  EXPECT_EQ(shard->count, 5u);
  EXPECT_EQ(shard->to_string(), "2/5");
  for (const char* bad : {"5/5", "1/0", "x/2", "1", "1/2/3", "/2", "-1/2"}) {
    auto parsed = parse_shard(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("--shard"), std::string::npos) << parsed.status().message();
  }
}

// Every seed of a range falls in exactly one shard, the one (s - first) % n names.
TEST(Shard, ShardsPartitionTheRange) {
  const SeedRange range{10, 46};
  for (uint64_t count : {1u, 2u, 3u, 7u, 37u, 50u}) {
    std::set<uint64_t> seen;
    for (uint64_t index = 0; index < count; ++index) {
      const Shard shard{index, count};
      uint64_t previous = 0;
      for (uint64_t k = 0; k < shard_size(range, shard); ++k) {
        const uint64_t seed = shard_seed(range, shard, k);
        EXPECT_GE(seed, range.first);
        EXPECT_LE(seed, range.last);
        EXPECT_EQ((seed - range.first) % count, index);
        if (k > 0) {
          EXPECT_GT(seed, previous);
        }
        previous = seed;
        EXPECT_TRUE(seen.insert(seed).second) << "seed " << seed << " in two shards";
      }
    }
    EXPECT_EQ(seen.size(), range.size()) << "count " << count;
  }
}

// --- the worker frame ----------------------------------------------------------------------------

SeedResult sample_result(uint64_t seed, bool passed) {
  SeedResult result;
  result.seed = seed;
  result.passed = passed;
  result.trace_hash = 0xfedcba9876543210ULL + seed;
  if (!passed) result.failure = "raft safety: two leaders in term 4\n(node 2: \"x\")";
  result.coverage = {"raft.pre_vote_deferred", "server.identity_creation_rolled_back"};
  result.buggify_fired = {{"runtime.cc:271", seed}, {"log.cc:9", 0}};
  return result;
}

TEST(SeedResultFrame, RoundTripsThroughPartialReads) {
  const SeedResult first = sample_result(7, false), second = sample_result(8, true);
  const std::string bytes = encode_seed_result(first) + encode_seed_result(second);
  std::string buffer;
  std::vector<SeedResult> got;
  for (char c : bytes) {  // one byte at a time: a pipe may deliver any split
    buffer += c;
    auto frame = take_seed_result(buffer);
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    if (frame->has_value()) got.push_back(**frame);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(buffer.empty());
  for (size_t i = 0; i < 2; ++i) {
    const SeedResult& want = i == 0 ? first : second;
    EXPECT_EQ(got[i].seed, want.seed);
    EXPECT_EQ(got[i].passed, want.passed);
    EXPECT_EQ(got[i].trace_hash, want.trace_hash);
    EXPECT_EQ(got[i].failure, want.failure);
    EXPECT_EQ(got[i].coverage, want.coverage);
    EXPECT_EQ(got[i].buggify_fired, want.buggify_fired);
  }
}

TEST(SeedResultFrame, RejectsGarbage) {
  for (std::string bad : {"x:", "5:ab:cd", "3:1:1", "123456789012345678901234"}) {
    EXPECT_FALSE(take_seed_result(bad).ok()) << bad;
  }
}

// --- the summary, its JSON, and merging ----------------------------------------------------------

SweepSummary summary_of(const SeedRange& range, const Shard& shard, double wall_s) {
  SweepSummary summary;
  summary.scenario = "smoke";
  summary.scenario_path = "scenarios/smoke.toml";
  summary.range = range;
  summary.shards = {shard};
  summary.jobs = 2;
  summary.coverage_required = {"raft.pre_vote_deferred", "never.hit"};
  summary.wall_s = wall_s;
  for (uint64_t k = 0; k < shard_size(range, shard); ++k) {
    const uint64_t seed = shard_seed(range, shard, k);
    summary.add(sample_result(seed, seed % 4 != 0));
  }
  return summary;
}

TEST(SweepSummary, CountsSeedsFailuresCoverageAndBuggify) {
  const SweepSummary summary = summary_of(SeedRange{1, 8}, Shard{}, 2.0);
  EXPECT_EQ(summary.seeds, 8u);
  ASSERT_EQ(summary.failures.size(), 2u);  // seeds 4 and 8
  EXPECT_EQ(summary.failures[0].seed, 4u);
  EXPECT_EQ(summary.failures[0].checker, "raft safety");
  EXPECT_EQ(summary.failures[0].replay, "build/bin/sluice-sim run --scenario scenarios/smoke.toml --seed 4");
  EXPECT_EQ(summary.coverage.at("raft.pre_vote_deferred"), 8u);
  EXPECT_EQ(summary.coverage_missing(), std::vector<std::string>{"never.hit"});
  EXPECT_FALSE(summary.passed());
  EXPECT_DOUBLE_EQ(summary.seeds_per_s(), 4.0);
  const BuggifySiteSummary& fired = summary.buggify.at("runtime.cc:271");
  EXPECT_EQ(fired.seeds_enabled, 8u);
  EXPECT_EQ(fired.seeds_fired, 8u);
  EXPECT_EQ(fired.fires, 36u);  // 1 + ... + 8
  EXPECT_EQ(summary.buggify.at("log.cc:9").seeds_fired, 0u);
}

TEST(SweepSummary, JsonRoundTrips) {
  const SweepSummary summary = summary_of(SeedRange{1, 8}, Shard{1, 2}, 1.5);
  const std::string text = to_json(summary);
  auto parsed_json = json::parse(text);
  ASSERT_TRUE(parsed_json.ok()) << parsed_json.status().message() << "\n" << text;
  EXPECT_EQ(parsed_json->find("seeds_per_s")->text, "2.667");
  EXPECT_EQ(parsed_json->find("coverage_missing")->items.at(0).text, "never.hit");
  auto back = summary_from_json(text);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(to_json(*back), text);
  EXPECT_EQ(back->failures.at(0).failure, summary.failures.at(0).failure);  // newline and quotes survive
}

TEST(SweepSummary, MergingShardsEqualsTheWholeSweep) {
  const SeedRange range{5, 40};
  const SweepSummary whole = summary_of(range, Shard{}, 9.0);
  std::vector<SweepSummary> shards;
  for (uint64_t i : {2u, 0u, 1u}) {  // in any order
    auto back = summary_from_json(to_json(summary_of(range, Shard{i, 3}, 3.0 + static_cast<double>(i))));
    ASSERT_TRUE(back.ok());
    shards.push_back(*back);
  }
  auto merged = merge_summaries(shards);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  EXPECT_EQ(merged->seeds, whole.seeds);
  EXPECT_EQ(merged->coverage, whole.coverage);
  ASSERT_EQ(merged->failures.size(), whole.failures.size());
  for (size_t i = 0; i < whole.failures.size(); ++i) EXPECT_EQ(merged->failures[i].seed, whole.failures[i].seed);
  EXPECT_EQ(merged->buggify.at("runtime.cc:271").fires, whole.buggify.at("runtime.cc:271").fires);
  EXPECT_EQ(merged->jobs, 6u);
  EXPECT_DOUBLE_EQ(merged->wall_s, 5.0);  // the longest shard: shards run side by side
  ASSERT_EQ(merged->shards.size(), 3u);
  EXPECT_EQ(merged->shards[0].index, 0u);
}

TEST(SweepSummary, MergeRefusesSummariesThatDoNotBelongTogether) {
  const SeedRange range{1, 10};
  const SweepSummary a = summary_of(range, Shard{0, 2}, 1), b = summary_of(range, Shard{1, 2}, 1);
  SweepSummary other_range = summary_of(SeedRange{1, 11}, Shard{1, 2}, 1);
  SweepSummary other_count = summary_of(range, Shard{1, 3}, 1);
  SweepSummary other_scenario = b;
  other_scenario.scenario_path = "scenarios/other.toml";
  EXPECT_TRUE(merge_summaries({a, b}).ok());
  for (const SweepSummary& bad : {a, other_range, other_count, other_scenario}) {
    auto merged = merge_summaries({a, bad});
    ASSERT_FALSE(merged.ok());
    EXPECT_NE(merged.status().message().find("cannot merge"), std::string::npos);
  }
  EXPECT_FALSE(merge_summaries({}).ok());
}

TEST(SweepSummary, FromJsonRejectsOtherDocuments) {
  for (const char* bad : {"", "{}", "[1, 2]", "{\"format\": \"sluice-sweep-summary\", \"version\": 2}",
                          "{\"format\": \"sluice-sweep-summary\", \"version\": 1}", "{\"a\": 1,}"}) {
    EXPECT_FALSE(summary_from_json(bad).ok()) << bad;
  }
}

TEST(SweepSummary, FailureCheckerIsTheTextBeforeTheFirstColon) {
  EXPECT_EQ(failure_checker("t=60.0s swim refutation: member 29 was suspected"), "swim refutation");
  EXPECT_EQ(failure_checker("partition ledger: duplicate: record 4"), "partition ledger");
  EXPECT_EQ(failure_checker("budget: not converged 10 s"), "budget");
  EXPECT_EQ(failure_checker("worker died: the process running this seed was killed by signal 6"), "worker died");
  EXPECT_EQ(failure_checker("no colon here"), "unknown");
  EXPECT_EQ(failure_checker(""), "unknown");
  EXPECT_EQ(failure_checker("t=1s"), "unknown");
}

// --- JSON ----------------------------------------------------------------------------------------

TEST(Json, ParsesValuesAndKeepsNumbersExact) {
  auto value = json::parse(R"( {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\n\u00e9", "seed": 18446744073709551615} )");
  ASSERT_TRUE(value.ok()) << value.status().message();
  const json::Value& a = *value->find("a");
  ASSERT_EQ(a.items.size(), 5u);
  EXPECT_EQ(a.items[0].as_u64(), 1u);
  EXPECT_EQ(a.items[1].as_double(), -2500.0);
  EXPECT_TRUE(a.items[2].boolean);
  EXPECT_EQ(a.items[4].kind, json::Value::Kind::null);
  EXPECT_EQ(value->find("b")->text, "x\"\\\n\xc3\xa9");
  EXPECT_EQ(value->find("seed")->as_u64(), UINT64_MAX);
  EXPECT_EQ(value->find("missing"), nullptr);
}

TEST(Json, RejectsMalformedText) {
  for (const char* bad : {"{", "[1 2]", "{\"a\" 1}", "{\"a\": 1, \"a\": 2}", "\"open", "tru", "1 2", "{\"a\": 01x}",
                          "\"\\q\"", "\"\\u12\""}) {
    EXPECT_FALSE(json::parse(bad).ok()) << bad;
  }
  std::string deep(100, '[');
  EXPECT_FALSE(json::parse(deep + std::string(100, ']')).ok());
}

TEST(Json, QuoteEscapesWhatJsonNeeds) {
  EXPECT_EQ(json::quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  auto back = json::parse(json::quote("a\"b\\c\nd\x01"));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->text, "a\"b\\c\nd\x01");
}

}  // namespace
}  // namespace sluice::sim
