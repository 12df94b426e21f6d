// The HTTP API (node/server/api.h, docs/formats/http-api.md) against a simulated 4-node cluster of
// whole nodes: every request goes through the real server and pipeline of the node it is sent to.
// Topics are created, described, altered and deleted; records are produced through one node and
// fetched through another (forwarded to the leader); a long-poll fetch wakes on a produce; errors
// come in the one shape with their statuses; tokens and grants give 401 and 403; /metrics counts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <string>

#include "node/log/codec.h"

#include "tests/server/controller_rig.h"

namespace sluice::server {
namespace {

using Json = nlohmann::json;
using testing::kHttpPort;

struct HttpAnswer {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

// One request with Connection: close from a fiber of `rt` to `host`; the answer read to EOF.
HttpAnswer http_exchange(runtime::Runtime& rt, const std::string& host, const std::string& method, const std::string& target,
                         const std::string& body, const std::string& extra_headers) {
  HttpAnswer answer;
  {
    auto stream = rt.connect(runtime::Address{host, kHttpPort}, std::chrono::seconds(1));
    if (!stream.ok()) return answer;
    const std::string request = method + " " + target + " HTTP/1.1\r\nhost: sluice\r\nconnection: close\r\n" + extra_headers +
                                "content-length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!(*stream)->write(as_bytes(request), rt.now() + std::chrono::seconds(2)).ok()) return answer;
    std::string wire;
    Bytes buffer(64 * 1024);
    while (true) {
      auto read = (*stream)->read(buffer, rt.now() + std::chrono::seconds(10));
      if (!read.ok() || *read == 0) break;
      wire.append(reinterpret_cast<const char*>(buffer.data()), *read);
    }
    const size_t split = wire.find("\r\n\r\n");
    if (wire.size() < 12 || split == std::string::npos) return answer;
    answer.status = std::stoi(wire.substr(9, 3));
    answer.head = wire.substr(0, split);
    answer.body = wire.substr(split + 4);
  }
  return answer;
}

// The same from node `from` to node `to`, running the world until it is answered.
HttpAnswer http_call(testing::Rig& rig, sim::NodeIndex from, sim::NodeIndex to, const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& extra_headers = "") {
  HttpAnswer answer;
  rig.run_on(from, [&] { answer = http_exchange(*rig.world.runtime(from), rig.world.host(to), method, target, body, extra_headers); }, 15'000);
  return answer;
}

testing::RigOptions api_options(http::AuthConfig auth) {
  testing::RigOptions options;
  options.http = true;
  options.auth = std::move(auth);
  return options;
}

http::AuthConfig open_to_anyone() {
  http::AuthConfig auth;
  auth.anonymous_allowed = true;
  auth.anonymous.cluster_admin = true;
  return auth;
}

constexpr uint64_t kSeeds[] = {6, 13};

void topic_lifecycle(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  testing::Rig rig(seed, api_options(open_to_anyone()));
  rig.wait_all_alive();
  EXPECT_EQ(http_call(rig, 0, 1, "GET", "/healthz").status, 200);
  const HttpAnswer console = http_call(rig, 0, 1, "GET", "/");
  EXPECT_EQ(console.status, 200);
  EXPECT_NE(console.head.find("content-type: text/html"), std::string::npos);
  EXPECT_NE(console.body.find("id=\"members\""), std::string::npos);
  const HttpAnswer created = http_call(rig, 0, 1, "POST", "/v1/topics", R"({"name":"orders","partitions":2,"replication":3})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["partitions"].size(), 2u);
  EXPECT_EQ(http_call(rig, 0, 2, "POST", "/v1/topics", R"({"name":"orders","partitions":2,"replication":3})").status, 409);
  // Ready once every node opened its replicas.
  for (sim::NodeIndex node = 0; node < 4; ++node) {
    EXPECT_TRUE(rig.run_until([&] { return http_call(rig, 0, node, "GET", "/readyz").status == 200; }, 10'000)) << "node " << node + 1;
  }
  const HttpAnswer listed = http_call(rig, 1, 3, "GET", "/v1/topics");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json()["topics"][0]["name"], "orders");
  // Produced through node 4, fetched through node 3: forwarded where they do not lead.
  const HttpAnswer produced = http_call(rig, 0, 3, "POST", "/v1/topics/orders/records",
                                        R"({"records":[{"value":"a","partition":1},{"value":"b","partition":1},{"key":"k","value":"c"}]})");
  ASSERT_EQ(produced.status, 200) << produced.body;
  EXPECT_EQ(produced.json()["records"][0], (Json{{"partition", 1}, {"offset", 0}}));
  EXPECT_EQ(produced.json()["records"][1], (Json{{"partition", 1}, {"offset", 1}}));
  const HttpAnswer fetched = http_call(rig, 1, 2, "GET", "/v1/topics/orders/partitions/1/records?offset=1");
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(fetched.json()["records"][0]["value"], "b");
  EXPECT_EQ(fetched.json()["records"][0]["offset"], 1);
  const HttpAnswer base64 = http_call(rig, 1, 2, "GET", "/v1/topics/orders/partitions/1/records?encoding=base64");
  EXPECT_EQ(base64.json()["records"][0]["value"], "YQ==");
  EXPECT_EQ(http_call(rig, 1, 0, "GET", "/v1/topics/orders/partitions/1/offsets?at=latest").json()["offset"], 2);
  // A replica reported lost shows in the description (docs/controller.md, "Lost replicas").
  const TopicId topic_id = created.json()["id"].get<TopicId>();
  const NodeId lost_on = created.json()["partitions"][0]["replicas"][0].get<NodeId>();
  ASSERT_TRUE(rig.submit(controller::ReportReplicaLost{topic_id, 0, lost_on}).ok());
  const Json described = http_call(rig, 1, 2, "GET", "/v1/topics/orders").json();
  EXPECT_EQ(described["partitions"][0]["lost_on"], Json::array({lost_on}));
  EXPECT_FALSE(described["partitions"][1].contains("lost_on"));
  // Configs change; the topic goes.
  const HttpAnswer altered = http_call(rig, 2, 0, "PUT", "/v1/topics/orders/config", R"({"retention_ms":60000})");
  ASSERT_EQ(altered.status, 200) << altered.body;
  EXPECT_EQ(altered.json()["config"]["retention_ms"], 60000);
  EXPECT_EQ(http_call(rig, 2, 0, "DELETE", "/v1/topics/orders").status, 200);
  EXPECT_EQ(http_call(rig, 2, 1, "GET", "/v1/topics/orders").status, 404);
}

TEST(HttpApi, TopicsAreCreatedWrittenReadAlteredAndDeletedThroughAnyNode) {
  for (uint64_t seed : kSeeds) topic_lifecycle(seed);
}

// Errors come in one shape with the documented status.
TEST(HttpApi, ErrorsHaveOneShapeAndTheirStatus) {
  testing::Rig rig(5, api_options(open_to_anyone()));
  rig.wait_all_alive();
  ASSERT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"t","partitions":1,"replication":1})").status, 201);
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  const Case cases[] = {
      {"GET", "/v2/nothing", "", 404, "not_found"},
      {"PATCH", "/v1/topics", "", 405, "method_not_allowed"},
      {"POST", "/v1/topics", "{not json", 400, "bad_request"},
      {"POST", "/v1/topics", R"({"name":"u","partitions":-1})", 400, "bad_request"},
      {"POST", "/v1/topics", R"({"name":"u","partitions":1,"replication":9})", 400, "invalid_request"},
      {"GET", "/v1/topics/missing", "", 404, "unknown_topic"},
      {"GET", "/v1/topics/t/partitions/5/records", "", 404, "unknown_partition"},
      {"GET", "/v1/topics/t/partitions/0/records?offset=x", "", 400, "bad_request"},
      {"GET", "/v1/topics/t/partitions/0/records?offset=99", "", 416, "offset_out_of_range"},
      {"GET", "/v1/topics/t/partitions/0/records?offset=0&confirm_high_watermark=2", "", 400, "bad_request"},
      {"POST", "/v1/topics/t/records", R"({"records":[]})", 400, "bad_request"},
      {"POST", "/v1/topics/t/records", R"({"encoding":"base64","records":[{"value":"***"}]})", 400, "bad_request"},
  };
  for (const Case& c : cases) {
    const HttpAnswer answer = http_call(rig, 1, 0, c.method, c.target, c.body);
    EXPECT_EQ(answer.status, c.status) << c.method << " " << c.target << ": " << answer.body;
    EXPECT_EQ(answer.json()["error"]["code"], c.code) << c.method << " " << c.target << ": " << answer.body;
    EXPECT_TRUE(answer.json()["error"]["message"].is_string());
  }
  EXPECT_NE(http_call(rig, 1, 0, "PATCH", "/v1/topics").head.find("allow: GET, POST"), std::string::npos);
}

// A long-poll fetch at the end of the log returns the record a later produce appends.
TEST(HttpApi, ALongPollFetchWakesOnAProduce) {
  testing::Rig rig(8, api_options(open_to_anyone()));
  rig.wait_all_alive();
  ASSERT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"poll","partitions":1,"replication":3})").status, 201);
  ASSERT_TRUE(rig.run_until([&] { return http_call(rig, 0, 0, "GET", "/readyz").status == 200; }, 10'000));
  ASSERT_EQ(http_call(rig, 1, 2, "POST", "/v1/topics/poll/records", R"({"records":[{"value":"first"}]})").status, 200);
  HttpAnswer polled;
  bool done = false;
  rig.world.runtime(3)->spawn("poller", [&] {
    polled = http_exchange(*rig.world.runtime(3), rig.world.host(1), "GET", "/v1/topics/poll/partitions/0/records?offset=1&wait_ms=20000", "", "");
    done = true;
  });
  rig.run_ms(300);
  EXPECT_FALSE(done) << "the fetch did not wait: " << polled.body;
  ASSERT_EQ(http_call(rig, 1, 2, "POST", "/v1/topics/poll/records", R"({"records":[{"value":"second"}]})").status, 200);
  EXPECT_TRUE(rig.run_until([&] { return done; }, 5000));
  ASSERT_EQ(polled.status, 200) << polled.body;
  ASSERT_EQ(polled.json()["records"].size(), 1u) << polled.body;
  EXPECT_EQ(polled.json()["records"][0]["value"], "second");
  // Read to the end through every node: a confirmed high watermark covers both acknowledged records.
  for (sim::NodeIndex node = 0; node < 3; ++node) {
    const HttpAnswer confirmed = http_call(rig, 1, node, "GET", "/v1/topics/poll/partitions/0/records?offset=0&confirm_high_watermark=1");
    ASSERT_EQ(confirmed.status, 200) << confirmed.body;
    EXPECT_EQ(confirmed.json()["high_watermark"], 2) << "through node " << node << ": " << confirmed.body;
  }
}

// Tokens and grants: no token or a wrong one is 401, a token without the grant 403; health is open.
TEST(HttpApi, TokensAndGrantsGive401And403) {
  const Bytes salt(http::kTokenSaltBytes, std::byte{9});
  http::AuthConfig auth;
  http::TokenEntry admin = *http::parse_token_entry_line(http::token_entry_line("admin", "root-token", salt));
  admin.grants.cluster_admin = true;
  http::TokenEntry reader = *http::parse_token_entry_line(http::token_entry_line("reader", "read-token", salt));
  reader.grants.topics.push_back(http::TopicGrant{"*", true, false, false});
  auth.tokens = {admin, reader};
  testing::Rig rig(12, api_options(auth));
  rig.wait_all_alive();
  const std::string as_admin = "authorization: Bearer root-token\r\n";
  const std::string as_reader = "authorization: Bearer read-token\r\n";
  EXPECT_EQ(http_call(rig, 0, 0, "GET", "/healthz").status, 200);
  const HttpAnswer anonymous = http_call(rig, 0, 0, "GET", "/v1/topics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.head.find("www-authenticate: Bearer"), std::string::npos);
  EXPECT_EQ(http_call(rig, 0, 0, "GET", "/v1/topics", "", "authorization: Bearer nope\r\n").status, 401);
  EXPECT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"s","partitions":1,"replication":1})", as_reader).status, 403);
  ASSERT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"s","partitions":1,"replication":1})", as_admin).status, 201);
  ASSERT_TRUE(rig.run_until([&] { return http_call(rig, 0, 0, "GET", "/readyz").status == 200; }, 10'000));
  EXPECT_EQ(http_call(rig, 0, 1, "POST", "/v1/topics/s/records", R"({"records":[{"value":"x"}]})", as_reader).status, 403);
  EXPECT_EQ(http_call(rig, 0, 1, "POST", "/v1/topics/s/records", R"({"records":[{"value":"x"}]})", as_admin).status, 200);
  EXPECT_EQ(http_call(rig, 0, 1, "GET", "/v1/topics/s/partitions/0/records", "", as_reader).status, 200);
  // The stats layer counted them by route and status.
  const HttpAnswer metrics = http_call(rig, 0, 1, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("http_requests_total{route=\"produce\",status=\"403\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("http_requests_total{route=\"produce\",status=\"200\"} 1"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("sluice_raft_groups "), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_swim_events_total{kind=\"probe\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_produce_bytes_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_raft_leaderships_won_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_raft_commit_lag_entries_max "), std::string::npos);
  EXPECT_NE(metrics.body.find("sluice_unauthenticated_total{protocol=\"swim\"} 0"), std::string::npos);
  // Decommissioning a node is a cluster admin's call.
  EXPECT_EQ(http_call(rig, 0, 1, "POST", "/v1/cluster/nodes/4/decommission", "", as_reader).status, 403);
  EXPECT_EQ(http_call(rig, 0, 1, "POST", "/v1/cluster/nodes/4/decommission", "", as_admin).status, 202);
  EXPECT_TRUE(rig.run_until([&] { return rig.state_everywhere(4) == controller::NodeState::removed; }, 20'000));
}

// NDJSON and the binary batch format, both ways; an idempotent binary batch sent twice is
// appended once (the second answer says duplicate, with the first one's offsets).
TEST(HttpApi, NdjsonAndBinaryBatchesBothWays) {
  testing::Rig rig(9, api_options(open_to_anyone()));
  rig.wait_all_alive();
  ASSERT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"b","partitions":1,"replication":3})").status, 201);
  ASSERT_TRUE(rig.run_until([&] { return http_call(rig, 0, 0, "GET", "/readyz").status == 200; }, 10'000));
  const HttpAnswer ndjson = http_call(rig, 1, 2, "POST", "/v1/topics/b/records", "{\"value\":\"n0\"}\n{\"value\":\"n1\"}\n",
                                      "content-type: application/x-ndjson\r\n");
  ASSERT_EQ(ndjson.status, 200) << ndjson.body;
  EXPECT_EQ(ndjson.json()["records"].size(), 2u);
  const std::string value = "binary";
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}};
  const Bytes batch = log::encode_batch(0, 0, std::span(&record, 1), log::kBatchBytesLimit, 0, log::ProducerStamp{77, 0, 0}).value();
  const std::string body(reinterpret_cast<const char*>(batch.data()), batch.size());
  const std::string binary_type = "content-type: application/vnd.sluice.batch\r\n";
  const HttpAnswer first = http_call(rig, 1, 3, "POST", "/v1/topics/b/records?partition=0", body, binary_type);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["base_offset"], 2);
  const HttpAnswer again = http_call(rig, 1, 0, "POST", "/v1/topics/b/records?partition=0", body, binary_type);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["base_offset"], 2);
  EXPECT_EQ(again.json()["duplicate"], true);
  EXPECT_EQ(http_call(rig, 1, 0, "POST", "/v1/topics/b/records", body, binary_type).status, 404);  // no ?partition=
  // JSON with a producer stamp: a retry is answered with the first append's offset, not appended.
  const std::string idempotent = R"({"producer":{"id":88,"epoch":0,"sequence":0},"records":[{"value":"once"}]})";
  const HttpAnswer json_first = http_call(rig, 3, 1, "POST", "/v1/topics/b/records", idempotent);
  const HttpAnswer json_again = http_call(rig, 3, 2, "POST", "/v1/topics/b/records", idempotent);
  ASSERT_EQ(json_first.status, 200) << json_first.body;
  ASSERT_EQ(json_again.status, 200) << json_again.body;
  EXPECT_EQ(json_first.json()["records"][0]["offset"], 3);
  EXPECT_EQ(json_again.json()["records"][0]["offset"], 3);
  const HttpAnswer lines = http_call(rig, 2, 1, "GET", "/v1/topics/b/partitions/0/records", "", "accept: application/x-ndjson\r\n");
  ASSERT_EQ(lines.status, 200);
  EXPECT_EQ(std::count(lines.body.begin(), lines.body.end(), '\n'), 4);
  const HttpAnswer raw = http_call(rig, 2, 1, "GET", "/v1/topics/b/partitions/0/records?offset=2", "", "accept: application/vnd.sluice.batch\r\n");
  ASSERT_EQ(raw.status, 200);
  EXPECT_NE(raw.head.find("x-sluice-high-watermark: 4"), std::string::npos) << raw.head;
  EXPECT_NE(raw.body.find("binary"), std::string::npos);
  EXPECT_EQ(http_call(rig, 2, 1, "GET", "/v1/topics/b/partitions/0/records", "", "accept: text/html\r\n").status, 406);
  EXPECT_EQ(http_call(rig, 2, 1, "POST", "/v1/topics/b/records", "x", "content-type: text/plain\r\n").status, 415);
}

// A sample's value in an exposition ("name" or "name{labels}" exactly); -1 when it is missing.
double sample(const std::string& exposition, const std::string& series) {
  const std::string start = "\n" + series + " ";
  const size_t at = exposition.find(start);
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + start.size(), exposition.find('\n', at + start.size()) - at - start.size()));
}

struct LogSamples {
  double segments = -1;
  double bytes = -1;
  double fsyncs = -1;
  double fsync_seconds = -1;
};

LogSamples log_samples(testing::Rig& rig, sim::NodeIndex node) {
  const HttpAnswer answer = http_call(rig, 0, node, "GET", "/metrics");
  EXPECT_EQ(answer.status, 200);
  // The histogram is whole: its +Inf bucket is its count.
  EXPECT_EQ(sample(answer.body, "sluice_log_fsync_seconds_bucket{le=\"+Inf\"}"), sample(answer.body, "sluice_log_fsync_seconds_count"))
      << answer.body;
  return LogSamples{sample(answer.body, "sluice_log_segments"), sample(answer.body, "sluice_log_bytes"),
                    sample(answer.body, "sluice_log_fsync_seconds_count"), sample(answer.body, "sluice_log_fsync_seconds_sum")};
}

// /metrics shows the partition logs of the replicas on the node: segments, bytes of their data
// files and the fsyncs' latency (timed on the simulated clock, whose disk takes 0.5-5 ms a sync).
// More records make all of them grow: 4 KiB segments roll every few 1000-byte records.
TEST(HttpApi, MetricsShowTheLogsGrowWithWrites) {
  testing::Rig rig(7, api_options(open_to_anyone()));
  rig.wait_all_alive();
  ASSERT_EQ(http_call(rig, 0, 0, "POST", "/v1/topics", R"({"name":"m","partitions":1,"replication":3,"config":{"segment_bytes":4096}})").status,
            201);
  for (sim::NodeIndex node = 0; node < 4; ++node) {
    ASSERT_TRUE(rig.run_until([&] { return http_call(rig, 0, node, "GET", "/readyz").status == 200; }, 10'000)) << "node " << node + 1;
  }
  const std::string record = R"({"records":[{"value":")" + std::string(1000, 'x') + R"("}]})";
  ASSERT_EQ(http_call(rig, 1, 0, "POST", "/v1/topics/m/records", record).status, 200);
  std::map<sim::NodeIndex, LogSamples> before;
  for (sim::NodeIndex node = 0; node < 4; ++node) {
    const LogSamples samples = log_samples(rig, node);
    ASSERT_GE(samples.segments, 0) << "node " << node + 1 << " exports no sluice_log_segments";
    if (samples.segments == 0) continue;  // holds no replica
    EXPECT_GE(samples.segments, 1);
    EXPECT_GT(samples.bytes, 0);
    EXPECT_GT(samples.fsyncs, 0);
    EXPECT_GT(samples.fsync_seconds, 0);
    before[node] = samples;
  }
  ASSERT_EQ(before.size(), 3u) << "replication 3: three nodes hold the partition's log";
  for (int i = 0; i < 10; ++i) ASSERT_EQ(http_call(rig, 1, 0, "POST", "/v1/topics/m/records", record).status, 200);
  for (const auto& [node, then] : before) {
    LogSamples now;
    EXPECT_TRUE(rig.run_until([&] {
      now = log_samples(rig, node);
      return now.segments > then.segments && now.bytes >= then.bytes + 10 * 1000 && now.fsyncs > then.fsyncs &&
             now.fsync_seconds > then.fsync_seconds;
    }, 10'000)) << "node " << node + 1 << ": segments " << then.segments << " -> " << now.segments << ", bytes " << then.bytes
                << " -> " << now.bytes << ", fsyncs " << then.fsyncs << " -> " << now.fsyncs;
  }
}

}  // namespace
}  // namespace sluice::server
