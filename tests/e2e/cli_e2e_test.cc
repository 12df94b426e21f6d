// The `sluice` CLI against three real sluice-node processes on 127.0.0.1 (ctest label e2e):
//
//   1. Three nodes start (all controller voters, `--anonymous admin`); the test waits (bounded)
//      until `sluice cluster members --json` through each node lists three alive members and
//      each node logs nodes_alive=3 (the controller's metadata has them all).
//   2. `sluice topic create` (3 partitions, RF 3), then `topic describe` (text and --json) until
//      every partition shows a leader.
//   3. 10,000 distinct lines from a file on stdin through `sluice produce`, then `sluice consume
//      --from earliest --count 10000` (JSON lines, and the plain template): the same lines as a
//      multiset, and per partition contiguous offsets from 0 with the lines in input order.
//   4. `produce --key --json` reports (one JSON line per record, one partition for one key),
//      `topic list`, `cluster members`, `cluster metadata` with --json parsed.
//   5. Exit codes: usage errors 2 (message on stderr), --help 0 (usage on stdout), an unknown
//      topic 1 with a `sluice: <what>: <code>: <message>` line.
//   6. `sluice bench produce --records 2000` prints the figure keys; `bench consume` reads them.
//
// Every wait has a deadline and every child is reaped (NodeProcess; the kernel kills them if this
// process dies).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/node_process.h"

#ifndef SLUICE_NODE_BIN
#error "SLUICE_NODE_BIN: the sluice-node binary under test (tests/CMakeLists.txt)"
#endif
#ifndef SLUICE_CLI_BIN
#error "SLUICE_CLI_BIN: the sluice binary under test (tests/CMakeLists.txt)"
#endif

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kNodes = 3;
constexpr auto kReadyWithin = 30s;
constexpr auto kLeadersWithin = 30s;
constexpr auto kCommandWithin = 30s;   // one admin command
constexpr auto kStreamWithin = 120s;   // produce or consume of the 10,000 lines, a bench
constexpr auto kPollInterval = 200ms;
constexpr size_t kLines = 10'000;
const std::string kTopic = "cli-e2e";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

struct Outcome {
  bool finished = false;
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string describe(const Outcome& outcome) {
  std::string text = outcome.finished ? "exit " + std::to_string(outcome.exit_code) : "did not finish";
  std::string out = outcome.out.size() > 2000 ? outcome.out.substr(0, 2000) + "[...]" : outcome.out;
  return text + "; stdout: " + out + "; stderr: " + outcome.err;
}

class CliE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(SLUICE_NODE_BIN)) << "no sluice-node at " << SLUICE_NODE_BIN;
    ASSERT_TRUE(std::filesystem::exists(SLUICE_CLI_BIN)) << "no sluice at " << SLUICE_CLI_BIN;
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
    if (!loopback_usable()) GTEST_SKIP() << "no loopback networking here";
  }

  void TearDown() override {
    if (cluster_ != nullptr) cluster_->finish(HasFailure());
  }

  std::string broker(int id) const { return "127.0.0.1:" + std::to_string(cluster_->http_port(id)); }
  std::string brokers() const { return broker(1) + "," + broker(2) + "," + broker(3); }

  // `sh -c "sluice ARGS"` with --brokers for the cluster (unless `brokers` is empty) and stdout and
  // stderr captured; killed when it runs past `within`.
  Outcome sluice(const std::string& args, std::chrono::milliseconds within = kCommandWithin, const std::string& brokers = "*") {
    const std::string base = dir_.path() + "/command-" + std::to_string(++commands_);
    std::string line = std::string(SLUICE_CLI_BIN) + " " + args;
    if (!brokers.empty()) line += " --brokers " + (brokers == "*" ? this->brokers() : brokers);
    NodeProcess process("/bin/sh", {"-c", "exec 2>" + quoted(base + ".err") + "\n" + line}, base + ".out");
    std::string error;
    Outcome outcome;
    if (!process.start(error)) {
      ADD_FAILURE() << "starting " << line << ": " << error;
      return outcome;
    }
    const std::optional<int> status = process.wait_exit(within);
    if (!status) process.kill_and_reap();
    outcome.finished = status.has_value();
    outcome.exit_code = status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
    outcome.out = read_file(base + ".out");
    outcome.err = read_file(base + ".err");
    return outcome;
  }

  void start_cluster() {
    std::string error;
    cluster_ = LocalCluster::create({.binary = SLUICE_NODE_BIN,
                                     .dir = dir_.path(),
                                     .cluster_id = 3000 + static_cast<uint64_t>(::getpid()),
                                     .nodes = kNodes,
                                     .anonymous = "admin"},
                                    error);
    ASSERT_NE(cluster_, nullptr) << error;
    ASSERT_TRUE(cluster_->start_all(error)) << error;
  }

  // Every node, asked alone, lists three alive members and knows the controller's leader.
  void wait_members() {
    const std::string failed = cluster_->wait_until(kReadyWithin, kPollInterval, [&]() -> std::string {
      for (int id = 1; id <= kNodes; ++id) {
        const Outcome members = sluice("cluster members --json --timeout 2s", 10s, broker(id));
        const Json answer = Json::parse(members.out, nullptr, false);
        size_t alive = 0;
        if (answer.is_object()) {
          for (const Json& member : answer.value("members", Json::array())) alive += member.value("state", "") == "alive" ? 1 : 0;
        }
        if (members.exit_code != 0 || alive != kNodes || answer.value("controller_leader", 0) == 0) {
          return "node " + std::to_string(id) + ": " + describe(members);
        }
        // The controller's metadata counts the nodes that take replicas a moment after SWIM.
        if (!cluster_->log_has(id, "nodes_alive=3")) return "node " + std::to_string(id) + " logs no nodes_alive=3";
      }
      return "";
    });
    ASSERT_EQ(failed, "") << "three alive members on every node";
  }

  // `topic describe --json` until every partition of `topic` has a leader; returns the answer.
  Json wait_leaders(const std::string& topic, size_t partitions) {
    const auto give_up = Clock::now() + kLeadersWithin;
    Outcome last;
    while (Clock::now() < give_up) {
      last = sluice("topic describe " + topic + " --json");
      const Json answer = Json::parse(last.out, nullptr, false);
      if (last.exit_code == 0 && answer.is_object()) {
        const Json list = answer.value("partitions", Json::array());
        const bool led = list.size() == partitions &&
                         std::all_of(list.begin(), list.end(), [](const Json& p) { return p.value("leader", 0) != 0; });
        if (led) return answer;
      }
      std::this_thread::sleep_for(kPollInterval);
    }
    ADD_FAILURE() << "topic " << topic << " has no leader for every partition within " << kLeadersWithin.count() << " s: " << describe(last);
    return Json();
  }

  std::string write_input() {
    const std::string path = dir_.path() + "/input.txt";
    std::ofstream file(path);
    for (size_t i = 0; i < kLines; ++i) file << "line-" << i << " the quick brown fox " << i * 7919 % 10007 << "\n";
    return path;
  }

  TempDir dir_;
  std::unique_ptr<LocalCluster> cluster_;  // after dir_: its processes are gone before the directory
  int commands_ = 0;
};

// The number in "line-N ...".
size_t line_number(const std::string& value) { return std::stoul(value.substr(5)); }

void check_consumed_json(const Outcome& consumed, const std::vector<std::string>& input) {
  std::map<uint32_t, std::vector<Json>> by_partition;
  std::vector<std::string> values;
  for (const std::string& line : lines_of(consumed.out)) {
    const Json record = Json::parse(line, nullptr, false);
    ASSERT_TRUE(record.is_object()) << "not a JSON line: " << line;
    EXPECT_EQ(record.value("topic", ""), kTopic);
    EXPECT_TRUE(record.contains("timestamp_ms") && record["timestamp_ms"].get<int64_t>() > 0) << line;
    EXPECT_TRUE(record.contains("key") && record["key"].is_null()) << line;
    values.push_back(record.value("value", ""));
    by_partition[record.value("partition", 0u)].push_back(record);
  }
  std::vector<std::string> sorted_input = input;
  std::sort(sorted_input.begin(), sorted_input.end());
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, sorted_input) << "the consumed lines differ from the produced ones";
  EXPECT_EQ(by_partition.size(), 3u) << "round-robin should reach every partition";
  for (const auto& [partition, records] : by_partition) {
    for (size_t i = 0; i < records.size(); ++i) {
      ASSERT_EQ(records[i].value("offset", uint64_t{0}), i) << "partition " << partition << ": offsets not contiguous from 0";
      if (i > 0) {
        ASSERT_LT(line_number(records[i - 1].value("value", "")), line_number(records[i].value("value", "")))
            << "partition " << partition << ": lines out of input order at offset " << i;
      }
    }
  }
}

TEST_F(CliE2eTest, ProduceConsumeAdminAndBench) {
  start_cluster();
  wait_members();

  // ---- topic create, describe -------------------------------------------------------------------
  const Outcome created = sluice("topic create " + kTopic + " --partitions 3 --replication 3");
  ASSERT_EQ(created.exit_code, 0) << describe(created);
  EXPECT_NE(created.out.find("created topic " + kTopic), std::string::npos) << created.out;
  const Json described = wait_leaders(kTopic, 3);
  ASSERT_TRUE(described.is_object());
  for (const Json& partition : described["partitions"]) {
    EXPECT_EQ(partition.value("replicas", Json::array()).size(), 3u) << described.dump();
    const int leader = partition.value("leader", 0);
    EXPECT_TRUE(leader >= 1 && leader <= kNodes) << described.dump();
  }
  const Outcome described_text = sluice("topic describe " + kTopic);
  ASSERT_EQ(described_text.exit_code, 0) << describe(described_text);
  const std::vector<std::string> rows = lines_of(described_text.out);
  ASSERT_EQ(rows.size(), 5u) << described_text.out;  // topic line, header, three partitions
  EXPECT_TRUE(rows[1].starts_with("PARTITION  LEADER")) << described_text.out;
  for (size_t i = 2; i < rows.size(); ++i) {
    std::istringstream row(rows[i]);
    std::string partition, leader;
    row >> partition >> leader;
    EXPECT_EQ(partition, std::to_string(i - 2)) << rows[i];
    EXPECT_TRUE(leader == "1" || leader == "2" || leader == "3") << "no leader shown: " << rows[i];
  }

  // ---- 10,000 lines in and out ------------------------------------------------------------------
  const std::string input_path = write_input();
  const std::vector<std::string> input = lines_of(read_file(input_path));
  const Outcome produced = sluice("produce " + kTopic + " < " + quoted(input_path), kStreamWithin);
  ASSERT_EQ(produced.exit_code, 0) << describe(produced);
  const Outcome consumed = sluice("consume " + kTopic + " --from earliest --count " + std::to_string(kLines) + " --format json", kStreamWithin);
  ASSERT_EQ(consumed.exit_code, 0) << describe(consumed);
  check_consumed_json(consumed, input);
  // The default format (the value) through --json-less text, the end reached without --count.
  const Outcome plain = sluice("consume " + kTopic + " --from earliest", kStreamWithin);
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  std::vector<std::string> plain_lines = lines_of(plain.out);
  std::vector<std::string> sorted_input = input;
  std::sort(plain_lines.begin(), plain_lines.end());
  std::sort(sorted_input.begin(), sorted_input.end());
  EXPECT_EQ(plain_lines, sorted_input);
  // One partition from an offset, with a template.
  const Outcome templated = sluice("consume " + kTopic + " --partition 1 --from 5 --count 2 --format '{partition}:{offset}'");
  ASSERT_EQ(templated.exit_code, 0) << describe(templated);
  EXPECT_EQ(templated.out, "1:5\n1:6\n");

  // ---- keyed produce with --json reports --------------------------------------------------------
  {
    std::ofstream file(input_path + ".keyed");
    file << "a\nb\nc\n";
  }
  const Outcome keyed_ok = sluice("produce " + kTopic + " --key customer-7 --json < " + quoted(input_path + ".keyed"));
  ASSERT_EQ(keyed_ok.exit_code, 0) << describe(keyed_ok);
  const std::vector<std::string> reports = lines_of(keyed_ok.out);
  ASSERT_EQ(reports.size(), 3u) << keyed_ok.out;
  std::set<uint32_t> partitions;
  for (const std::string& line : reports) {
    const Json report = Json::parse(line, nullptr, false);
    ASSERT_TRUE(report.is_object() && report.contains("offset") && report.contains("partition") && report.contains("line")) << line;
    partitions.insert(report["partition"].get<uint32_t>());
  }
  EXPECT_EQ(partitions.size(), 1u) << "one key, one partition: " << keyed_ok.out;

  // ---- admin --json -----------------------------------------------------------------------------
  const Outcome listed = sluice("topic list --json");
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const Json topics = Json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(topics.is_object()) << listed.out;
  bool found = false;
  for (const Json& topic : topics.value("topics", Json::array())) found |= topic.value("name", "") == kTopic && topic.value("partitions", 0) == 3;
  EXPECT_TRUE(found) << listed.out;
  const Outcome members = sluice("cluster members --json");
  ASSERT_EQ(members.exit_code, 0) << describe(members);
  EXPECT_EQ(Json::parse(members.out, nullptr, false).value("members", Json::array()).size(), 3u) << members.out;
  const Outcome metadata = sluice("cluster metadata " + kTopic + " --json");
  ASSERT_EQ(metadata.exit_code, 0) << describe(metadata);
  const Json metadata_json = Json::parse(metadata.out, nullptr, false);
  ASSERT_TRUE(metadata_json.is_object()) << metadata.out;
  EXPECT_EQ(metadata_json["topics"].size(), 1u) << metadata.out;

  // ---- exit codes -------------------------------------------------------------------------------
  const Outcome bogus = sluice("topic create x --bogus");
  EXPECT_EQ(bogus.exit_code, 2) << describe(bogus);
  EXPECT_NE(bogus.err.find("unknown flag --bogus"), std::string::npos) << bogus.err;
  EXPECT_EQ(bogus.out, "");
  const Outcome missing = sluice("consume");
  EXPECT_EQ(missing.exit_code, 2) << describe(missing);
  const Outcome unknown_command = sluice("frobnicate");
  EXPECT_EQ(unknown_command.exit_code, 2) << describe(unknown_command);
  const Outcome bad_value = sluice("consume " + kTopic + " --from yesterday");
  EXPECT_EQ(bad_value.exit_code, 2) << describe(bad_value);
  const Outcome help = sluice("produce --help");
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  EXPECT_TRUE(help.out.starts_with("Usage: sluice produce")) << help.out;
  const Outcome no_topic = sluice("topic describe no-such-topic");
  EXPECT_EQ(no_topic.exit_code, 1) << describe(no_topic);
  EXPECT_TRUE(no_topic.err.starts_with("sluice: topic describe no-such-topic: unknown_topic")) << no_topic.err;

  // ---- bench ------------------------------------------------------------------------------------
  const Outcome bench = sluice("bench produce --records 2000 --record-bytes 1024 --partitions 3 --producers 2 --topic cli-bench", kStreamWithin);
  ASSERT_EQ(bench.exit_code, 0) << describe(bench);
  for (const char* key : {"records=2000\n", "msg_s=", "mb_s=", "latency_ms_p50=", "latency_ms_p99=", "latency_ms_max="}) {
    EXPECT_NE(bench.out.find(key), std::string::npos) << key << " missing: " << bench.out;
  }
  std::cerr << "bench produce (2000 records, 1 KiB, RF 3, 2 producers):\n" << bench.out;
  const Outcome bench_json = sluice("bench consume --topic cli-bench --json", kStreamWithin);
  ASSERT_EQ(bench_json.exit_code, 0) << describe(bench_json);
  EXPECT_EQ(Json::parse(bench_json.out, nullptr, false).value("records", 0.0), 2000.0) << bench_json.out;

  // ---- decommission (last: node 3 stays draining, with nowhere to move RF 3 replicas) -----------
  const Outcome no_node = sluice("cluster decommission 99");
  EXPECT_EQ(no_node.exit_code, 1) << describe(no_node);
  EXPECT_TRUE(no_node.err.starts_with("sluice: cluster decommission 99: unknown_node")) << no_node.err;
  const Outcome drain = sluice("cluster decommission 3 --json");
  ASSERT_EQ(drain.exit_code, 0) << describe(drain);
  const Json drain_json = Json::parse(drain.out, nullptr, false);
  EXPECT_EQ(drain_json.value("node", 0), 3) << drain.out;
  EXPECT_TRUE(drain_json.value("decommissioning", false)) << drain.out;
  // What the metadata says of each node, and who votes in the metadata group (3 nodes, 3 voters:
  // node 3 keeps its vote, nobody else could take it).
  const Outcome members_after = sluice("cluster members --json");
  ASSERT_EQ(members_after.exit_code, 0) << describe(members_after);
  const Json after = Json::parse(members_after.out, nullptr, false);
  ASSERT_TRUE(after.is_object()) << members_after.out;
  EXPECT_EQ(after.value("controller_voters", Json::array()), Json::parse("[1,2,3]")) << members_after.out;
  size_t draining = 0;
  for (const Json& member : after.value("members", Json::array())) {
    EXPECT_EQ(member.value("controller", ""), "voter") << member.dump();
    draining += member.value("node_state", "") == "decommissioning";
    if (member.value("id", 0) == 3) {
      EXPECT_EQ(member.value("node_state", ""), "decommissioning") << member.dump();
    }
  }
  EXPECT_EQ(draining, 1u) << members_after.out;
  const Outcome table = sluice("cluster members");
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find("decommissioning"), std::string::npos) << table.out;
  std::cerr << "cluster members after decommissioning node 3:\n" << table.out;
}

}  // namespace
}  // namespace sluice::e2e
