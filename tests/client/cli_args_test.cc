// The `sluice` command line (client/cli/args.h): every command parses into its typed arguments;
// unknown commands, unknown flags, missing or bad values and missing arguments are usage errors
// (exit 2, text for stderr naming the --help to run); --help anywhere is help (exit 0, usage for
// stdout); --brokers/--token fall back to SLUICE_BROKERS/SLUICE_TOKEN.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client/cli/args.h"

namespace sluice::client::cli {
namespace {

using Outcome = ParseResult::Outcome;

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

ParseResult parse(const std::string& line, const Environment& environment = {}) { return parse_args(words(line), environment); }

Command run(const std::string& line, const Environment& environment = {}) {
  ParseResult result = parse(line, environment);
  EXPECT_EQ(result.outcome, Outcome::run) << line << ": " << result.text;
  return result.command;
}

void expect_usage_error(const std::string& line, const std::string& says) {
  ParseResult result = parse(line);
  EXPECT_EQ(result.outcome, Outcome::usage_error) << line;
  EXPECT_EQ(result.exit_code(), kExitUsage) << line;
  EXPECT_TRUE(result.text.starts_with("sluice: ")) << line << ": " << result.text;
  EXPECT_NE(result.text.find(says), std::string::npos) << line << ": " << result.text;
  EXPECT_NE(result.text.find("--help' for usage."), std::string::npos) << line << ": " << result.text;
}

TEST(CliArgs, TopicCommands) {
  Command create = run("topic create orders --partitions 3 --replication 3 --retention-ms 60000 --segment-bytes=1048576");
  EXPECT_EQ(create.kind, CommandKind::topic_create);
  EXPECT_EQ(create.topic_create.name, "orders");
  EXPECT_EQ(create.topic_create.partitions, 3u);
  EXPECT_EQ(create.topic_create.replication, 3u);
  EXPECT_EQ(create.topic_create.config.retention_ms, 60000);
  EXPECT_EQ(create.topic_create.config.segment_bytes, 1048576);
  EXPECT_FALSE(create.topic_create.config.retention_bytes.has_value());

  Command defaults = run("topic create t");
  EXPECT_EQ(defaults.topic_create.partitions, 1u);
  EXPECT_EQ(defaults.topic_create.replication, 1u);

  EXPECT_EQ(run("topic list").kind, CommandKind::topic_list);
  Command describe = run("topic describe orders");
  EXPECT_EQ(describe.kind, CommandKind::topic_describe);
  EXPECT_EQ(describe.topic, "orders");
  Command alter = run("topic alter orders --retention-bytes -1");
  EXPECT_EQ(alter.kind, CommandKind::topic_alter);
  EXPECT_EQ(alter.topic_config.retention_bytes, -1);
  Command deleted = run("topic delete orders");
  EXPECT_EQ(deleted.kind, CommandKind::topic_delete);
  EXPECT_EQ(deleted.topic, "orders");
}

TEST(CliArgs, Produce) {
  Command plain = run("produce orders");
  EXPECT_EQ(plain.kind, CommandKind::produce);
  EXPECT_EQ(plain.produce.topic, "orders");
  EXPECT_FALSE(plain.produce.key.has_value());
  EXPECT_FALSE(plain.produce.partition.has_value());
  EXPECT_EQ(plain.produce.format, InputFormat::text);

  Command full = run("produce orders --key k1 --partition 2 --format json");
  EXPECT_EQ(full.produce.key, "k1");
  EXPECT_EQ(full.produce.partition, 2u);
  EXPECT_EQ(full.produce.format, InputFormat::json);
}

TEST(CliArgs, ConsumeStartsAndFormats) {
  Command plain = run("consume orders");
  EXPECT_EQ(plain.kind, CommandKind::consume);
  EXPECT_EQ(plain.consume.from.kind, StartAt::Kind::earliest);
  EXPECT_FALSE(plain.consume.follow);
  EXPECT_FALSE(plain.consume.count.has_value());
  EXPECT_FALSE(plain.consume.partition.has_value());
  EXPECT_FALSE(plain.consume.format.json);

  EXPECT_EQ(run("consume t --from latest").consume.from.kind, StartAt::Kind::latest);
  Command offset = run("consume t --from 42 --follow --count 10 --partition 1");
  EXPECT_EQ(offset.consume.from.kind, StartAt::Kind::offset);
  EXPECT_EQ(offset.consume.from.value, 42);
  EXPECT_TRUE(offset.consume.follow);
  EXPECT_EQ(offset.consume.count, 10u);
  EXPECT_EQ(offset.consume.partition, 1u);
  Command timestamp = run("consume t --from @1700000000000");
  EXPECT_EQ(timestamp.consume.from.kind, StartAt::Kind::timestamp);
  EXPECT_EQ(timestamp.consume.from.value, 1700000000000);

  EXPECT_TRUE(run("consume t --format json").consume.format.json);
  EXPECT_TRUE(run("consume t --json").consume.format.json);
  Command templated = run("consume t --format {partition}:{offset}:{value}");
  EXPECT_FALSE(templated.consume.format.json);
  EXPECT_EQ(templated.consume.format.parts.size(), 3u);
}

TEST(CliArgs, ClusterAndBench) {
  EXPECT_EQ(run("cluster members").kind, CommandKind::cluster_members);
  Command all = run("cluster metadata");
  EXPECT_EQ(all.kind, CommandKind::cluster_metadata);
  EXPECT_EQ(all.topic, "");
  EXPECT_EQ(run("cluster metadata orders").topic, "orders");
  Command decommission = run("cluster decommission 4");
  EXPECT_EQ(decommission.kind, CommandKind::cluster_decommission);
  EXPECT_EQ(decommission.node, 4u);

  Command defaults = run("bench produce");
  EXPECT_EQ(defaults.kind, CommandKind::bench_produce);
  EXPECT_EQ(defaults.bench_produce.topic, "sluice-bench");
  EXPECT_EQ(defaults.bench_produce.record_bytes, 1024u);
  EXPECT_EQ(defaults.bench_produce.replication, 3u);
  Command bench = run("bench produce --records 2000 --record-bytes 100 --partitions 6 --producers 4 --topic b --replication 1 --sync");
  EXPECT_EQ(bench.bench_produce.records, 2000u);
  EXPECT_EQ(bench.bench_produce.record_bytes, 100u);
  EXPECT_EQ(bench.bench_produce.partitions, 6u);
  EXPECT_EQ(bench.bench_produce.producers, 4u);
  EXPECT_EQ(bench.bench_produce.replication, 1u);
  EXPECT_EQ(bench.bench_produce.topic, "b");
  EXPECT_TRUE(bench.bench_produce.sync);

  Command consume = run("bench consume --topic b --records 500");
  EXPECT_EQ(consume.kind, CommandKind::bench_consume);
  EXPECT_EQ(consume.bench_consume.topic, "b");
  EXPECT_EQ(consume.bench_consume.records, 500u);
  EXPECT_FALSE(run("bench consume").bench_consume.records.has_value());
}

TEST(CliArgs, GlobalFlagsAnywhere) {
  Command before = run("--brokers 10.0.0.1:8080,10.0.0.2:8081 --json --token secret --timeout 500ms topic list");
  ASSERT_EQ(before.global.brokers.size(), 2u);
  EXPECT_EQ(before.global.brokers[0].host, "10.0.0.1");
  EXPECT_EQ(before.global.brokers[1].port, 8081);
  EXPECT_TRUE(before.global.json);
  EXPECT_EQ(before.global.token, "secret");
  EXPECT_EQ(before.global.timeout, std::chrono::milliseconds(500));

  Command after = run("topic describe orders --brokers=127.0.0.1:9000 --timeout 2m --json");
  ASSERT_EQ(after.global.brokers.size(), 1u);
  EXPECT_EQ(after.global.brokers[0].port, 9000);
  EXPECT_EQ(after.global.timeout, std::chrono::minutes(2));
  EXPECT_TRUE(after.global.json);

  Command defaults = run("topic list");
  ASSERT_EQ(defaults.global.brokers.size(), 1u);
  EXPECT_EQ(defaults.global.brokers[0].to_string(), std::string(kBrokersDefault));
  EXPECT_EQ(defaults.global.token, "");
  EXPECT_FALSE(defaults.global.json);
  EXPECT_EQ(defaults.global.timeout, kTimeoutDefault);
}

TEST(CliArgs, EnvironmentFallbacks) {
  const Environment environment{"10.1.1.1:1,10.1.1.2:2", "from-env"};
  Command from_env = run("topic list", environment);
  ASSERT_EQ(from_env.global.brokers.size(), 2u);
  EXPECT_EQ(from_env.global.brokers[1].host, "10.1.1.2");
  EXPECT_EQ(from_env.global.token, "from-env");

  // Flags win over the environment.
  Command flags = run("topic list --brokers 10.9.9.9:9 --token from-flag", environment);
  ASSERT_EQ(flags.global.brokers.size(), 1u);
  EXPECT_EQ(flags.global.brokers[0].host, "10.9.9.9");
  EXPECT_EQ(flags.global.token, "from-flag");

  // A bad SLUICE_BROKERS is a usage error that names it.
  ParseResult bad = parse("topic list", Environment{"nonsense", std::nullopt});
  EXPECT_EQ(bad.outcome, Outcome::usage_error);
  EXPECT_NE(bad.text.find("SLUICE_BROKERS"), std::string::npos) << bad.text;
}

TEST(CliArgs, HelpEverywhere) {
  const std::vector<std::string> lines = {
      "--help", "-h", "help", "topic --help", "topic create --help", "topic list -h", "topic describe --help", "topic alter --help",
      "topic delete --help", "produce --help", "consume --help", "cluster --help", "cluster members --help", "cluster decommission --help",
      "cluster metadata --help", "bench --help", "bench produce --help", "bench consume --help",
      // Help wins over what else is wrong on the line.
      "topic create --help --partitions nope", "consume --help --bogus"};
  for (const std::string& line : lines) {
    ParseResult result = parse(line);
    EXPECT_EQ(result.outcome, Outcome::help) << line << ": " << result.text;
    EXPECT_EQ(result.exit_code(), kExitOk) << line;
    EXPECT_TRUE(result.text.starts_with("Usage: sluice")) << line << ": " << result.text;
  }
  EXPECT_NE(parse("topic create --help").text.find("--partitions"), std::string::npos);
  EXPECT_NE(parse("consume --help").text.find("{timestamp}"), std::string::npos);
  EXPECT_NE(parse("bench produce --help").text.find("--record-bytes"), std::string::npos);
  EXPECT_NE(parse("topic --help").text.find("describe"), std::string::npos);
  EXPECT_NE(parse("--help").text.find("bench produce"), std::string::npos);
}

TEST(CliArgs, UsageErrors) {
  expect_usage_error("", "no command");
  expect_usage_error("frobnicate", "unknown command 'frobnicate'");
  expect_usage_error("topic", "topic needs a subcommand");
  expect_usage_error("topic frob", "unknown command 'topic frob'");
  expect_usage_error("topic create", "needs TOPIC");
  expect_usage_error("topic create a b", "unexpected argument 'b'");
  expect_usage_error("topic create t --partitions", "--partitions needs a value");
  expect_usage_error("topic create t --partitions 0", "--partitions must be a number from 1");
  expect_usage_error("cluster decommission", "needs NODE");
  expect_usage_error("cluster decommission 0", "NODE must be a node id from 1");
  expect_usage_error("cluster decommission four", "NODE must be a node id from 1 to 4294967295, not 'four'");
  expect_usage_error("cluster decommission 4294967296", "NODE must be a node id");
  expect_usage_error("cluster decommission 4 5", "unexpected argument '5'");
  expect_usage_error("topic create t --partitions three", "--partitions must be a number");
  expect_usage_error("topic create t --bogus", "unknown flag --bogus");
  expect_usage_error("topic list --partitions 3", "unknown flag --partitions");
  expect_usage_error("topic create t --retention-ms -5", "--retention-ms must be -1");
  expect_usage_error("topic alter t", "at least one of");
  expect_usage_error("produce", "needs TOPIC");
  expect_usage_error("produce t --format xml", "--format must be text or json");
  expect_usage_error("produce t --json=yes", "--json takes no value");
  expect_usage_error("consume t --from yesterday", "--from must be");
  expect_usage_error("consume t --from @-3", "--from must be");
  expect_usage_error("consume t --count 0", "--count must be a number from 1");
  expect_usage_error("consume t --format {nope}", "{nope}");
  expect_usage_error("consume t --format {value", "unclosed");
  expect_usage_error("cluster metadata a b", "unexpected argument 'b'");
  expect_usage_error("bench produce --producers 1000", "--producers must be a number from 1 to 64");
  expect_usage_error("bench produce --records 0", "--records must be");
  expect_usage_error("bench produce --topic", "--topic needs a value");
  expect_usage_error("topic list --brokers nohost", "--brokers");
  expect_usage_error("topic list --brokers ,", "no broker");
  expect_usage_error("topic list --timeout 0s", "--timeout");
  expect_usage_error("topic list --timeout soon", "--timeout");
  expect_usage_error("--partitions 3 topic create t", "unknown flag --partitions");
}

TEST(CliArgs, ErrorsNameTheCommandsHelp) {
  EXPECT_NE(parse("topic create t --bogus").text.find("Run 'sluice topic create --help'"), std::string::npos);
  EXPECT_NE(parse("topic").text.find("Run 'sluice topic --help'"), std::string::npos);
  EXPECT_NE(parse("nope").text.find("Run 'sluice --help'"), std::string::npos);
}

TEST(CliArgs, DoubleDashEndsFlags) {
  Command command = run("topic describe -- -odd-name");
  EXPECT_EQ(command.topic, "-odd-name");
}

TEST(CliArgs, Durations) {
  EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(parse_duration("10s"), std::chrono::seconds(10));
  EXPECT_EQ(parse_duration("7"), std::chrono::seconds(7));
  EXPECT_EQ(parse_duration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(parse_duration("1h"), std::chrono::hours(1));
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("-1s").has_value());
  EXPECT_FALSE(parse_duration("0").has_value());
  EXPECT_FALSE(parse_duration("3d").has_value());
  EXPECT_FALSE(parse_duration("9999999h").has_value());
}

}  // namespace
}  // namespace sluice::client::cli
