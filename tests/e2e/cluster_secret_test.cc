// The cluster secret on real sluice-node processes on 127.0.0.1 (ctest label e2e;
// `--cluster-secret-file`, docs/formats/rpc.md "Cluster secret"):
//
//   1. Three nodes start sharing one secret file (all controller voters, `--anonymous admin`). The
//      test waits (bounded) until each lists the three of them alive in /v1/cluster and answers
//      /readyz with 200 once a topic of 3 partitions x 3 replicas is created through the HTTP
//      API; one record per partition is produced through node 2 and read back, at the offset it
//      was acknowledged with, through node 3: the MAC on every RPC, Raft and SWIM message does not
//      keep a cluster from forming and replicating.
//   2. Two outsiders of the same cluster id start: node 4 with a DIFFERENT secret, seeded with node
//      1's SWIM address, and node 5 with NO secret, seeded with node 2's. Each of them tries to
//      join at once and again every join_retry_interval_ms (2 s). The test waits (bounded) until
//      node 1's and node 2's /metrics count sluice_unauthenticated_total{protocol="swim"} > 0,
//      then watches for kObserveFor (longer than one join retry): every poll of /v1/cluster on
//      nodes 1..3 lists exactly members 1, 2 and 3, each outsider's lists only itself, and by the
//      end both counters have grown again (a retry came and was refused too). Raft and RPC count
//      no unauthenticated frames on node 1 (the members' own traffic carries valid MACs).
//   3. SIGTERM to all five: the three members exit 0 within 15 s, the outsiders exit too.
//
// HTTP is spoken over plain blocking sockets with the client library's request encoder and
// response parser (client/http). Every wait has a deadline and polls a condition; every child is
// reaped (NodeProcess; the kernel kills them if this process dies).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/http/client.h"
#include "client/http/response_parser.h"
#include "tests/e2e/node_process.h"

#ifndef SLUICE_NODE_BIN
#error "SLUICE_NODE_BIN: the sluice-node binary under test (tests/CMakeLists.txt)"
#endif

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMembers = 3;         // nodes 1..3, sharing secret A
constexpr int kWrongSecret = 4;     // an outsider with secret B, seeded with node 1
constexpr int kNoSecret = 5;        // an outsider without a secret, seeded with node 2
constexpr int kProcesses = 5;
constexpr uint32_t kPartitions = 3;
const std::string kTopic = "secret-e2e";
// At least ClusterKey::kSecretBytesMin (16) bytes each; any bytes will do.
const std::string kSecretA = "sluice e2e cluster secret A: 0123456789abcdef";
const std::string kSecretB = "sluice e2e cluster secret B: fedcba9876543210";

constexpr auto kFormWithin = 30s;       // three members alive, the controller's leader known
constexpr auto kAdminWithin = 30s;      // a topic created, replicas open, a record acknowledged
constexpr auto kRefusedWithin = 10s;    // the first refused SWIM message counted
constexpr auto kObserveFor = 3s;        // > join_retry_interval_ms (2 s): a retry is refused too
constexpr auto kHttpWithin = 5s;        // one HTTP exchange
constexpr auto kPollInterval = 100ms;
constexpr auto kExitWithin = 15s;       // SIGTERM to exit

// ---- HTTP over a blocking socket ---------------------------------------------------------------

struct HttpAnswer {
  int status = 0;     // 0: no response (then `error` says why)
  std::string body;
  std::string error;
};

std::string describe(const HttpAnswer& answer) {
  return answer.status == 0 ? answer.error : std::to_string(answer.status) + " " + answer.body;
}

// One request to 127.0.0.1:port on a fresh connection, the response read with the client
// library's parser, all within `within`.
HttpAnswer http_call(uint16_t port, const std::string& method, const std::string& target, const std::string& json = "",
                     std::chrono::milliseconds within = kHttpWithin) {
  HttpAnswer answer;
  client::HttpClientRequest request;
  request.method = method;
  request.target = target;
  if (!json.empty()) {
    request.headers.push_back(http::HttpHeader{"content-type", "application/json"});
    request.body = to_bytes(json);
  }
  const std::string host = "127.0.0.1:" + std::to_string(port);
  auto wire = client::encode_request(request, host, "");
  if (!wire.ok()) return HttpAnswer{0, "", "encoding the request: " + wire.status().to_string()};
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return HttpAnswer{0, "", std::string("socket: ") + std::strerror(errno)};
  const auto give_up = Clock::now() + within;
  const timeval timeout{static_cast<time_t>(within.count() / 1000), static_cast<suseconds_t>(within.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto failed = [&](const std::string& what) {
    answer.error = host + " " + method + " " + target + ": " + what;
    ::close(fd);
    return answer;
  };
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) return failed(std::strerror(errno));
  for (size_t sent = 0; sent < wire->size();) {
    const ssize_t n = ::send(fd, wire->data() + sent, wire->size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return failed(std::string("send: ") + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  client::ResponseParser parser(method);
  std::array<std::byte, 16 * 1024> buffer{};
  while (!parser.complete()) {
    if (Clock::now() >= give_up) return failed("no whole response within the time limit");
    const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(std::string("recv: ") + std::strerror(errno));
    const http::Status fed = n == 0 ? parser.finish() : parser.feed(ByteSpan(buffer.data(), static_cast<size_t>(n)));
    if (!fed.ok()) return failed("reading the response: " + fed.to_string());
    if (n == 0 && !parser.complete()) return failed("the connection ended before the response did");
  }
  ::close(fd);
  client::HttpClientResponse response = parser.take_response();
  answer.status = response.status;
  answer.body = std::string(as_string_view(response.body));
  return answer;
}

Json parse_json(const HttpAnswer& answer) { return Json::parse(answer.body, nullptr, false); }

// The value of the sample `series` (name and labels, as /metrics prints them) in an exposition.
std::optional<double> metric_value(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::string unauthenticated(const std::string& protocol) {
  return "sluice_unauthenticated_total{protocol=\"" + protocol + "\"}";
}

// ---- the test ------------------------------------------------------------------------------------

class ClusterSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(SLUICE_NODE_BIN)) << "no sluice-node at " << SLUICE_NODE_BIN;
    if (!loopback_usable()) GTEST_SKIP() << "this machine does not let a process bind 127.0.0.1";
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
    const std::string secret_a = write_secret("secret-a", kSecretA);
    const std::string secret_b = write_secret("secret-b", kSecretB);
    std::string error;
    cluster_ = LocalCluster::create(
        {.binary = SLUICE_NODE_BIN,
         .dir = dir_.path(),
         // Its own cluster id: a concurrent run that picked overlapping ports cannot merge with this
         // one. The outsiders share it, so only the secret keeps them out.
         .cluster_id = 5000 + static_cast<uint64_t>(::getpid()),
         .nodes = kProcesses,
         .anonymous = "admin",
         .seed = [](int id) { return id == 1 ? 0 : id == kNoSecret ? 2 : 1; },
         .extra_args =
             [secret_a, secret_b](int id) -> std::vector<std::string> {
               if (id <= kMembers) return {"--cluster-secret-file", secret_a};
               if (id == kWrongSecret) return {"--cluster-secret-file", secret_b};
               return {};
             },
         .name =
             [](int id) -> std::string {
               if (id == kWrongSecret) return "node 4 (wrong secret)";
               if (id == kNoSecret) return "node 5 (no secret)";
               return "node " + std::to_string(id);
             }},
        error);
    ASSERT_NE(cluster_, nullptr) << error;
  }

  void TearDown() override {
    if (cluster_ != nullptr) cluster_->finish(HasFailure());
  }

  std::string write_secret(const std::string& file_name, const std::string& secret) {
    const std::string path = dir_.path() + "/" + file_name;
    std::ofstream(path, std::ios::binary) << secret;
    return path;
  }

  std::string name(int id) const { return cluster_->name(id); }

  void start(int id) {
    std::string error;
    ASSERT_TRUE(cluster_->start(id, error)) << error;
  }

  HttpAnswer http(int id, const std::string& method, const std::string& target, const std::string& json = "") {
    return http_call(cluster_->http_port(id), method, target, json);
  }

  // The member ids node `id`'s /v1/cluster lists (itself included) and their states; nullopt
  // with `why` set when it does not answer with a member list.
  std::optional<std::vector<std::pair<uint64_t, std::string>>> members(int id, std::string& why) {
    const HttpAnswer answer = http(id, "GET", "/v1/cluster");
    const Json json = parse_json(answer);
    if (answer.status != 200 || !json.is_object() || !json.contains("members")) {
      why = name(id) + " GET /v1/cluster: " + describe(answer);
      return std::nullopt;
    }
    std::vector<std::pair<uint64_t, std::string>> listed;
    for (const Json& member : json["members"]) listed.emplace_back(member.value("id", uint64_t{0}), member.value("state", ""));
    std::sort(listed.begin(), listed.end());
    return listed;
  }

  std::string members_text(const std::vector<std::pair<uint64_t, std::string>>& listed) {
    std::string text;
    for (const auto& [id, state] : listed) text += (text.empty() ? "" : ", ") + std::to_string(id) + " " + state;
    return "[" + text + "]";
  }

  // Polls `condition` (empty string: met; else what it still waits for) until it is met or
  // `within` passes, failing on a node that exited.
  void wait_until(const std::string& what, std::chrono::milliseconds within, const std::function<std::string()>& condition) {
    const std::string failed = cluster_->wait_until(within, kPollInterval, condition);
    ASSERT_EQ(failed, "") << what;
  }

  // Node `id`'s sluice_unauthenticated_total for `protocol` (nullopt when /metrics does not show it).
  std::optional<double> refused(int id, const std::string& protocol) {
    const HttpAnswer answer = http(id, "GET", "/metrics");
    if (answer.status != 200) return std::nullopt;
    return metric_value(answer.body, unauthenticated(protocol));
  }

  void step_done(const std::string& step) {
    const auto now = Clock::now();
    std::cout << "step " << step << ": " << std::chrono::duration_cast<std::chrono::milliseconds>(now - step_started_).count() << " ms\n";
    step_started_ = now;
  }

  TempDir dir_;
  std::unique_ptr<LocalCluster> cluster_;  // after dir_: its processes are gone before the directory
  Clock::time_point step_started_ = Clock::now();
};

TEST_F(ClusterSecretTest, NodesSharingTheSecretFormAClusterAndNodesWithoutItAreRefused) {
  // ---- 1. three nodes with the same secret form a cluster and replicate ----
  for (int id = 1; id <= kMembers; ++id) ASSERT_NO_FATAL_FAILURE(start(id));
  ASSERT_NO_FATAL_FAILURE(wait_until("three members alive on every node", kFormWithin, [&]() -> std::string {
    for (int id = 1; id <= kMembers; ++id) {
      std::string why;
      const auto listed = members(id, why);
      if (!listed) return why;
      const std::vector<std::pair<uint64_t, std::string>> all_alive = {{1, "alive"}, {2, "alive"}, {3, "alive"}};
      if (*listed != all_alive) return name(id) + " lists " + members_text(*listed);
    }
    return "";
  }));
  step_done("three members alive");

  // A try that timed out (504) may have created it: a retry is then answered 409.
  bool uncertain = false;
  ASSERT_NO_FATAL_FAILURE(wait_until("creating the topic", kAdminWithin, [&]() -> std::string {
    const HttpAnswer created = http(1, "POST", "/v1/topics",
                                    Json{{"name", kTopic}, {"partitions", kPartitions}, {"replication", 3}}.dump());
    if (created.status == 201 || (created.status == 409 && uncertain)) return "";
    uncertain = uncertain || created.status == 0 || created.status == 504;
    return "POST /v1/topics: " + describe(created);
  }));
  ASSERT_NO_FATAL_FAILURE(wait_until("every node ready", kAdminWithin, [&]() -> std::string {
    for (int id = 1; id <= kMembers; ++id) {
      const HttpAnswer ready = http(id, "GET", "/readyz");
      if (ready.status != 200) return name(id) + " GET /readyz: " + describe(ready);
    }
    return "";
  }));
  step_done("topic created, replicas open");

  // One record per partition through node 2, retried until acknowledged (a retry after an
  // uncertain answer may append it twice: only the acknowledged offsets are checked).
  Json produced;
  Json records = Json::array();
  for (uint32_t p = 0; p < kPartitions; ++p) records.push_back(Json{{"partition", p}, {"value", "sealed " + std::to_string(p)}});
  ASSERT_NO_FATAL_FAILURE(wait_until("producing", kAdminWithin, [&]() -> std::string {
    const HttpAnswer answer = http(2, "POST", "/v1/topics/" + kTopic + "/records", Json{{"records", records}}.dump());
    produced = parse_json(answer);
    if (answer.status == 200 && produced.is_object() && produced["records"].size() == kPartitions) return "";
    return "POST records: " + describe(answer);
  }));
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const Json& ack = produced["records"][p];
    ASSERT_EQ(ack.value("partition", uint32_t{99}), p) << produced.dump();
    const uint64_t offset = ack.value("offset", uint64_t{0});
    const std::string target = "/v1/topics/" + kTopic + "/partitions/" + std::to_string(p) + "/records?offset=" + std::to_string(offset);
    ASSERT_NO_FATAL_FAILURE(wait_until("reading partition " + std::to_string(p) + " back through node 3", kAdminWithin, [&]() -> std::string {
      const HttpAnswer answer = http(3, "GET", target);
      const Json fetched = parse_json(answer);
      if (answer.status != 200 || !fetched.is_object() || fetched.value("records", Json::array()).empty()) return "GET " + target + ": " + describe(answer);
      const Json& first = fetched["records"][0];
      EXPECT_EQ(first.value("offset", uint64_t{0}), offset) << answer.body;
      EXPECT_EQ(first.value("value", ""), "sealed " + std::to_string(p)) << answer.body;
      return "";
    }));
  }
  step_done("produced through node 2, read back through node 3");

  // ---- 2. outsiders of the same cluster id, one with another secret and one without, are refused ----
  ASSERT_NO_FATAL_FAILURE(start(kWrongSecret));
  ASSERT_NO_FATAL_FAILURE(start(kNoSecret));
  // Node 4 joins through node 1, node 5 through node 2: each counter is one outsider's doing.
  std::array<double, kMembers + 1> first_refused{};
  ASSERT_NO_FATAL_FAILURE(wait_until("the outsiders' SWIM messages refused and counted", kRefusedWithin, [&]() -> std::string {
    for (int id : {1, 2}) {
      const std::optional<double> count = refused(id, "swim");
      if (!count || *count <= 0) return name(id) + " /metrics: " + unauthenticated("swim") + " " + (count ? std::to_string(*count) : "absent");
      first_refused[id] = *count;
    }
    return "";
  }));
  step_done("outsiders refused (sluice_unauthenticated_total swim > 0 on nodes 1 and 2)");

  // Watch a while longer than one join retry: nobody lets an outsider in, the outsiders know
  // nobody. Every observation is checked; the first difference is reported.
  std::string first_difference;
  size_t observations = 0;
  const auto observe_until = Clock::now() + kObserveFor;
  while (Clock::now() < observe_until && first_difference.empty()) {
    ASSERT_EQ(cluster_->unexpected_exit(), "");
    for (int id = 1; id <= kProcesses && first_difference.empty(); ++id) {
      std::string why;
      const auto listed = members(id, why);
      if (!listed) {
        first_difference = why;
        continue;
      }
      std::set<uint64_t> ids;
      for (const auto& [member, state] : *listed) ids.insert(member);
      const std::set<uint64_t> expected = id <= kMembers ? std::set<uint64_t>{1, 2, 3} : std::set<uint64_t>{static_cast<uint64_t>(id)};
      if (ids != expected) first_difference = name(id) + " lists " + members_text(*listed);
    }
    ++observations;
    std::this_thread::sleep_for(kPollInterval);
  }
  EXPECT_EQ(first_difference, "") << "after " << observations << " observations";
  EXPECT_GE(observations, 5u);
  // The outsiders kept trying (a join retry every 2 s) and were refused again.
  ASSERT_NO_FATAL_FAILURE(wait_until("a join retry refused too", kRefusedWithin, [&]() -> std::string {
    for (int id : {1, 2}) {
      const std::optional<double> count = refused(id, "swim");
      if (!count || *count <= first_refused[id]) {
        return name(id) + ": " + unauthenticated("swim") + " still " + std::to_string(first_refused[id]);
      }
    }
    return "";
  }));
  // The members' own Raft and RPC traffic carries valid MACs.
  EXPECT_EQ(refused(1, "raft").value_or(-1), 0.0);
  EXPECT_EQ(refused(1, "rpc").value_or(-1), 0.0);
  step_done("observed " + std::to_string(observations) + " rounds: 3 members, outsiders alone");
  if (HasFailure()) return;

  // ---- 3. everyone stops on SIGTERM ----
  cluster_->signal_all(SIGTERM);
  for (int id = 1; id <= kProcesses; ++id) {
    const std::optional<int> status = cluster_->node(id).wait_exit(kExitWithin);
    ASSERT_TRUE(status.has_value()) << name(id) << " still runs " << kExitWithin.count() << " s after SIGTERM";
    std::cout << name(id) << ": " << describe_wait_status(*status) << " after SIGTERM\n";
    if (id <= kMembers) {
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << name(id) << ": " << describe_wait_status(*status);
    }
  }
  step_done("all stopped on SIGTERM");
}

}  // namespace
}  // namespace sluice::e2e
