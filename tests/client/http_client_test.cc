// HttpClient (client/http/client.h) against the real HttpServer (node/http/server.h) on the
// simulated network: node 0 serves, node 1 runs the client, node 2 is a hand-written server that
// misbehaves on cue. Keep-alive reuse, the per-address connection limit, deadlines (a stalled
// server, a caller waiting for a connection), stale keep-alive connections (GET resent, POST not),
// the response size limit, a server closing mid-response, close(), and the request's encoding.
#include "client/http/client.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/http/server.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/sim_rig.h"
#include "tests/testing/world_config.h"

namespace sluice::client {
namespace {

using testing::kSimMsNs;

constexpr uint16_t kPort = 8080;
constexpr uint16_t kRawPort = 9090;
constexpr sim::NodeIndex kServer = 0;
constexpr sim::NodeIndex kClient = 1;
constexpr sim::NodeIndex kRaw = 2;

// What the server's handler saw, kept outside the nodes.
struct Seen {
  std::vector<http::HttpRequest> requests;
  int in_handler = 0;
  int in_handler_max = 0;
};

// Targets: "/sleep/<ms>" sleeps first, "/big/<bytes>" answers that many bytes; everything else
// answers "<method> <target> <body>". Every answer names its connection in x-connection.
http::HttpResponse handle(rt::Runtime& runtime, Seen& seen, const http::HttpRequest& request, uint64_t connection) {
  seen.requests.push_back(request);
  seen.in_handler_max = std::max(seen.in_handler_max, ++seen.in_handler);
  http::HttpResponse response;
  response.headers.push_back(http::HttpHeader{"x-connection", std::to_string(connection)});
  const std::string_view target = request.target;
  if (target.starts_with("/sleep/")) (void)runtime.sleep_for(std::chrono::milliseconds(std::stoll(std::string(target.substr(7)))));
  if (target.starts_with("/big/")) {
    response.body = Bytes(std::stoull(std::string(target.substr(5))), std::byte{'b'});
  } else {
    response.body = to_bytes(request.method + " " + request.target + " " + std::string(as_string_view(request.body)));
  }
  --seen.in_handler;
  return response;
}

struct ServerApp final : sim::NodeApp {
  ServerApp(sim::SimRuntime& runtime, http::HttpServerConfig config, Seen& seen)
      : server(runtime, config, [&runtime, &seen](const http::HttpRequest& request, const http::ConnectionInfo& connection,
                                                  rt::Instant) { return handle(runtime, seen, request, connection.id); }) {
    EXPECT_TRUE(server.start().ok());
  }
  http::HttpServer server;
};

struct ClientApp final : sim::NodeApp {
  ClientApp(sim::SimRuntime& runtime, HttpClientConfig config) : client(runtime, std::move(config)) {}
  HttpClient client;
};

// The hand-written server: per connection, reads one request head, then writes `reply` and closes.
struct RawApp final : sim::NodeApp {
  RawApp(sim::SimRuntime& runtime, const std::string& reply, int& accepted) {
    auto listener = runtime.listen(kRawPort);
    EXPECT_TRUE(listener.ok());
    runtime.spawn("raw.accept", [&runtime, listener = std::move(*listener), &reply, &accepted]() mutable {
      for (;;) {
        auto stream = listener->accept();
        if (!stream.ok()) return;
        ++accepted;
        runtime.spawn("raw.conn", [&runtime, stream = std::move(*stream), &reply]() mutable {
          std::string received;
          std::byte buffer[1024];
          while (received.find("\r\n\r\n") == std::string::npos) {
            auto read = stream->read(buffer, runtime.now() + std::chrono::seconds(5));
            if (!read.ok() || *read == 0) return;
            received.append(as_string_view(ByteSpan(buffer, *read)));
          }
          (void)stream->write(as_bytes(reply), runtime.now() + std::chrono::seconds(5));
          stream->close();
        });
      }
    });
  }
};

// How one call ended, and when (ms after it began, on the client's clock).
struct Call {
  std::optional<rt::Result<HttpClientResponse>> result;
  int64_t took_ms = -1;

  bool ok() const { return result.has_value() && result->ok(); }
  rt::Errc code() const { return result.has_value() ? result->code() : rt::Errc::ok; }
  std::string body() const { return ok() ? std::string(as_string_view((*result)->body)) : ""; }
  std::string describe() const { return !result ? "not done" : result->ok() ? "ok: " + body() : result->status().to_string(); }
};
using CallLog = std::shared_ptr<Call>;

HttpClientRequest request(std::string method, std::string target, std::string_view body = "") {
  HttpClientRequest out;
  out.method = std::move(method);
  out.target = std::move(target);
  out.body = to_bytes(body);
  return out;
}

struct Rig {
  explicit Rig(HttpClientConfig client_config = {}, http::HttpServerConfig server_config = {}, uint64_t seed = 1)
      : world(testing::quiet_world(seed)) {
    server_config.port = kPort;
    for (int i = 0; i < 3; ++i) world.add_node();
    world.set_app_factory([this, server_config, client_config](sim::SimRuntime& runtime) -> std::unique_ptr<sim::NodeApp> {
      if (runtime.node() == kServer) return std::make_unique<ServerApp>(runtime, server_config, seen);
      if (runtime.node() == kClient) return std::make_unique<ClientApp>(runtime, client_config);
      return std::make_unique<RawApp>(runtime, raw_reply, raw_accepted);
    });
    for (int i = 0; i < 3; ++i) world.start(i);
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kSimMsNs); }
  http::HttpServerStats server_stats() { return dynamic_cast<ServerApp*>(world.app(kServer))->server.stats(); }
  HttpClient& client() { return dynamic_cast<ClientApp*>(world.app(kClient))->client; }
  rt::Address server() { return rt::Address{world.host(kServer), kPort}; }
  rt::Address raw_server() { return rt::Address{world.host(kRaw), kRawPort}; }

  // Runs `body` on a fiber of the client node.
  void on_client(std::function<void(rt::Runtime&, HttpClient&)> body) {
    sim::SimRuntime* runtime = world.runtime(kClient);
    HttpClient* http_client = &client();
    world.schedule(world.now_ns(), kClient, "test.spawn", 0, [runtime, http_client, body = std::move(body)] {
      runtime->spawn("test", [runtime, http_client, body] { body(*runtime, *http_client); });
    });
  }
  // One call on its own fiber, after `delay_ms`, with a deadline `timeout_ms` after it begins.
  CallLog call(HttpClientRequest req, int64_t timeout_ms = 5000, int64_t delay_ms = 0, std::optional<rt::Address> to = {}) {
    auto log = std::make_shared<Call>();
    const rt::Address address = to.value_or(server());
    on_client([=](rt::Runtime& runtime, HttpClient& http_client) {
      if (!runtime.sleep_for(std::chrono::milliseconds(delay_ms)).ok()) return;
      const rt::Instant start = runtime.now();
      log->result = http_client.call(address, req, start + std::chrono::milliseconds(timeout_ms));
      log->took_ms = (runtime.now() - start) / std::chrono::milliseconds(1);
    });
    return log;
  }

  Seen seen;              // outlives the world's nodes
  std::string raw_reply;  // what the raw server answers
  int raw_accepted = 0;
  sim::World world;
};

// --- keep-alive ---

TEST(HttpClient, SequentialCallsShareOneKeepAliveConnection) {
  Rig rig;
  std::vector<CallLog> calls;
  for (int i = 0; i < 4; ++i) calls.push_back(rig.call(request("GET", "/r" + std::to_string(i)), 5000, 100 * i));
  calls.push_back(rig.call(request("POST", "/p", "payload"), 5000, 500));
  rig.run_ms(1000);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(calls[i]->ok()) << calls[i]->describe();
    EXPECT_EQ(calls[i]->body(), "GET /r" + std::to_string(i) + " ");
    EXPECT_EQ((*calls[i]->result)->status, 200);
    EXPECT_EQ(*(*calls[i]->result)->header("x-connection"), "1");
  }
  EXPECT_EQ(calls[4]->body(), "POST /p payload") << calls[4]->describe();
  EXPECT_EQ(rig.server_stats().connections_accepted, 1u);
  EXPECT_EQ(rig.client().stats().connections_opened, 1u);
  EXPECT_EQ(rig.client().stats().connections_reused, 4u);
  EXPECT_EQ(rig.client().connections_open(rig.server()), 1u) << "idle in the pool";
}

TEST(HttpClient, HeadHasNoBodyAndKeepsTheConnection) {
  Rig rig;
  CallLog head = rig.call(request("HEAD", "/h"));
  CallLog after = rig.call(request("GET", "/after"), 5000, 100);
  rig.run_ms(500);
  ASSERT_TRUE(head->ok()) << head->describe();
  EXPECT_TRUE((*head->result)->body.empty());
  EXPECT_EQ(after->body(), "GET /after ") << after->describe();
  EXPECT_EQ(rig.server_stats().connections_accepted, 1u);
}

// Host, User-Agent, the bearer token, Content-Length as the server received them.
TEST(HttpClient, RequestCarriesHostUserAgentTokenAndLength) {
  HttpClientConfig config;
  config.bearer_token = "s3cret";
  Rig rig(config);
  HttpClientRequest post = request("POST", "/topics/t/records?x=1", "abc");
  post.headers.push_back(http::HttpHeader{"Content-Type", "application/json"});
  CallLog call = rig.call(post);
  rig.run_ms(200);
  ASSERT_TRUE(call->ok()) << call->describe();
  ASSERT_EQ(rig.seen.requests.size(), 1u);
  const http::HttpRequest& seen = rig.seen.requests[0];
  EXPECT_EQ(seen.target, "/topics/t/records?x=1");
  EXPECT_EQ(seen.find_header("host")->value, rig.server().to_string());
  EXPECT_EQ(seen.find_header("user-agent")->value, "sluice-client");
  EXPECT_EQ(seen.find_header("authorization")->value, "Bearer s3cret");
  EXPECT_EQ(seen.find_header("content-length")->value, "3");
  EXPECT_EQ(seen.find_header("content-type")->value, "application/json");
}

TEST(HttpClient, RequestThatCannotBeEncodedIsRefused) {
  Rig rig;
  HttpClientRequest framing = request("POST", "/x", "abc");
  framing.headers.push_back(http::HttpHeader{"Content-Length", "1"});
  HttpClientRequest split = request("GET", "/x");
  split.headers.push_back(http::HttpHeader{"x-a", "1\r\nx-b: 2"});
  CallLog framing_call = rig.call(framing);
  CallLog split_call = rig.call(split);
  CallLog bad_target = rig.call(request("GET", "no-slash"));
  rig.run_ms(100);
  for (const CallLog& call : {framing_call, split_call, bad_target}) EXPECT_EQ(call->code(), rt::Errc::invalid_argument) << call->describe();
  EXPECT_EQ(rig.server_stats().connections_accepted, 0u);
}

// --- the per-address limit and deadlines ---

TEST(HttpClient, CallersBeyondTheConnectionLimitWaitForOne) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    HttpClientConfig config;
    config.connections_per_address_max = 2;
    Rig rig(config, {}, seed);
    std::vector<CallLog> calls;
    for (int i = 0; i < 5; ++i) calls.push_back(rig.call(request("GET", "/sleep/100")));
    rig.run_ms(50);
    EXPECT_EQ(rig.client().connections_open(rig.server()), 2u) << testing::replay_hint(seed);
    rig.run_ms(1000);
    int64_t slowest_ms = 0;
    for (const CallLog& call : calls) {
      ASSERT_TRUE(call->ok()) << call->describe() << testing::replay_hint(seed);
      slowest_ms = std::max(slowest_ms, call->took_ms);
    }
    EXPECT_EQ(rig.server_stats().connections_accepted, 2u) << testing::replay_hint(seed);
    EXPECT_EQ(rig.seen.in_handler_max, 2) << testing::replay_hint(seed);
    EXPECT_GE(slowest_ms, 300) << "five calls of 100 ms through two connections" << testing::replay_hint(seed);
  }
}

TEST(HttpClient, WaitingForAConnectionEndsAtTheDeadline) {
  HttpClientConfig config;
  config.connections_per_address_max = 1;
  Rig rig(config);
  CallLog busy = rig.call(request("GET", "/sleep/1000"));
  CallLog waiting = rig.call(request("GET", "/quick"), 200, 10);
  rig.run_ms(500);
  EXPECT_EQ(waiting->code(), rt::Errc::timeout) << waiting->describe();
  EXPECT_EQ(waiting->took_ms, 200);
  EXPECT_FALSE(busy->result.has_value());
  rig.run_ms(1000);
  EXPECT_TRUE(busy->ok()) << busy->describe();
  EXPECT_EQ(rig.seen.requests.size(), 1u) << "the waiter never sent";
}

TEST(HttpClient, DeadlineIsKeptWhenTheServerStalls) {
  Rig rig;
  CallLog stalled = rig.call(request("GET", "/sleep/5000"), 300);
  rig.run_ms(1000);
  EXPECT_EQ(stalled->code(), rt::Errc::timeout) << stalled->describe();
  EXPECT_EQ(stalled->took_ms, 300);
  EXPECT_EQ(rig.client().connections_open(rig.server()), 0u) << "a late answer could confuse the next call: closed";
  CallLog next = rig.call(request("GET", "/next"));
  rig.run_ms(200);
  EXPECT_EQ(next->body(), "GET /next ") << next->describe();
}

TEST(HttpClient, NobodyListeningIsConnectionRefused) {
  Rig rig;
  CallLog call = rig.call(request("GET", "/"), 1000, 0, rt::Address{rig.world.host(kServer), 1234});
  rig.run_ms(1500);
  EXPECT_EQ(call->code(), rt::Errc::connection_refused) << call->describe();
}

// --- stale keep-alive connections ---

http::HttpServerConfig server_idle_timeout_s(int seconds) {
  http::HttpServerConfig config;
  config.idle_timeout = std::chrono::seconds(seconds);
  return config;
}

// The server closes the idle connection after 1 s; the client still pools it (its idle_timeout is
// 30 s), so the next GET meets a closed connection and is sent again on a fresh one.
TEST(HttpClient, StaleKeepAliveConnectionIsRetriedForGet) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig({}, server_idle_timeout_s(1), seed);
    CallLog first = rig.call(request("GET", "/a"));
    CallLog second = rig.call(request("GET", "/b"), 5000, 2000);
    rig.run_ms(2500);
    ASSERT_TRUE(first->ok()) << first->describe() << testing::replay_hint(seed);
    EXPECT_EQ(second->body(), "GET /b ") << second->describe() << testing::replay_hint(seed);
    EXPECT_EQ(rig.client().stats().stale_retries, 1u) << testing::replay_hint(seed);
    EXPECT_EQ(rig.server_stats().idle_closed, 1u) << testing::replay_hint(seed);
    EXPECT_EQ(rig.server_stats().connections_accepted, 2u) << testing::replay_hint(seed);
  }
}

// The same for POST: not sent again, an error that says why; the next POST gets a fresh connection.
TEST(HttpClient, StaleKeepAliveConnectionIsNotRetriedForPost) {
  Rig rig({}, server_idle_timeout_s(1));
  CallLog first = rig.call(request("POST", "/a", "1"));
  CallLog second = rig.call(request("POST", "/b", "2"), 5000, 2000);
  CallLog third = rig.call(request("POST", "/c", "3"), 5000, 2200);
  rig.run_ms(2500);
  ASSERT_TRUE(first->ok()) << first->describe();
  EXPECT_EQ(second->code(), rt::Errc::connection_reset) << second->describe();
  EXPECT_NE(second->describe().find("POST not resent"), std::string::npos) << second->describe();
  EXPECT_EQ(third->body(), "POST /c 3") << third->describe();
  EXPECT_EQ(rig.client().stats().stale_retries, 0u);
  ASSERT_EQ(rig.seen.requests.size(), 2u);
  EXPECT_EQ(rig.seen.requests[1].target, "/c");
}

// A connection idle longer than the client's own idle_timeout is closed, not tried.
TEST(HttpClient, ConnectionIdleTooLongIsNotReused) {
  HttpClientConfig config;
  config.idle_timeout = std::chrono::milliseconds(500);
  Rig rig(config);
  CallLog first = rig.call(request("GET", "/a"));
  CallLog second = rig.call(request("GET", "/b"), 5000, 1000);
  rig.run_ms(1500);
  EXPECT_TRUE(first->ok() && second->ok()) << first->describe() << " / " << second->describe();
  EXPECT_EQ(rig.client().stats().idle_expired, 1u);
  EXPECT_EQ(rig.client().stats().stale_retries, 0u);
  EXPECT_EQ(rig.server_stats().connections_accepted, 2u);
}

// --- broken or oversized responses ---

TEST(HttpClient, ResponseAboveTheLimitIsRefused) {
  HttpClientConfig config;
  config.response_bytes_max = 1000;
  Rig rig(config);
  CallLog big = rig.call(request("GET", "/big/5000"));
  CallLog fits = rig.call(request("GET", "/big/1000"), 5000, 200);
  rig.run_ms(500);
  EXPECT_EQ(big->code(), rt::Errc::limit_exceeded) << big->describe();
  EXPECT_NE(big->describe().find("body_bytes_max 1000"), std::string::npos) << big->describe();
  ASSERT_TRUE(fits->ok()) << fits->describe();
  EXPECT_EQ((*fits->result)->body.size(), 1000u);
  EXPECT_EQ(rig.server_stats().connections_accepted, 2u) << "the refused response's connection was dropped";
}

TEST(HttpClient, ServerClosingMidResponseIsAnError) {
  Rig rig;
  rig.raw_reply = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part";
  CallLog call = rig.call(request("GET", "/"), 5000, 0, rig.raw_server());
  rig.run_ms(500);
  EXPECT_EQ(call->code(), rt::Errc::connection_reset) << call->describe();
  EXPECT_NE(call->describe().find("mid-response"), std::string::npos) << call->describe();
  EXPECT_EQ(rig.client().connections_open(rig.raw_server()), 0u);
}

// On a fresh connection an early close is not "stale": nothing is resent, even for GET.
TEST(HttpClient, FreshConnectionClosedBeforeAResponseIsNotRetried) {
  Rig rig;
  CallLog call = rig.call(request("GET", "/"), 5000, 0, rig.raw_server());
  rig.run_ms(500);
  EXPECT_EQ(call->code(), rt::Errc::connection_reset) << call->describe();
  EXPECT_EQ(rig.raw_accepted, 1);
}

TEST(HttpClient, MalformedResponseIsAnIoError) {
  Rig rig;
  rig.raw_reply = "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n";
  CallLog call = rig.call(request("GET", "/"), 5000, 0, rig.raw_server());
  rig.run_ms(500);
  EXPECT_EQ(call->code(), rt::Errc::io_error) << call->describe();
}

TEST(HttpClient, BodyRunningToTheEndOfTheConnectionIsAResponse) {
  Rig rig;
  rig.raw_reply = "HTTP/1.1 200 OK\r\n\r\nuntil close";
  CallLog call = rig.call(request("GET", "/"), 5000, 0, rig.raw_server());
  rig.run_ms(500);
  EXPECT_EQ(call->body(), "until close") << call->describe();
  EXPECT_EQ(rig.client().connections_open(rig.raw_server()), 0u);
}

// --- close() ---

TEST(HttpClient, CloseFailsCallsInFlightAndLaterOnes) {
  HttpClientConfig config;
  config.connections_per_address_max = 1;
  Rig rig(config);
  CallLog busy = rig.call(request("GET", "/sleep/1000"));
  CallLog waiting = rig.call(request("GET", "/w"), 5000, 10);
  rig.run_ms(100);
  rig.on_client([](rt::Runtime&, HttpClient& http_client) { http_client.close(); });
  CallLog later = rig.call(request("GET", "/later"), 5000, 10);
  rig.run_ms(100);
  for (const CallLog& call : {busy, waiting, later}) EXPECT_EQ(call->code(), rt::Errc::closed) << call->describe();
  EXPECT_EQ(rig.client().connections_open(rig.server()), 0u);
}

// --- crashes ---

// The client's node crashes with calls in every state: reading a response, waiting for a
// connection, connecting. The unwound fibers give back what they held (the client asserts on
// destruction that nothing is left), and the restarted node calls again.
TEST(HttpClient, CrashWithCallsInEveryStateDestroysCleanly) {
  HttpClientConfig config;
  config.connections_per_address_max = 2;
  Rig rig(config);
  std::vector<CallLog> calls = {rig.call(request("GET", "/sleep/1000")), rig.call(request("GET", "/sleep/1000")),
                                rig.call(request("GET", "/waits"), 5000, 10),
                                rig.call(request("GET", "/"), 5000, 100, rig.raw_server())};
  rig.world.run_until(rig.world.now_ns() + 100 * kSimMsNs + kSimMsNs / 2);
  EXPECT_EQ(rig.client().connections_open(rig.server()), 2u);
  EXPECT_EQ(rig.client().connections_open(rig.raw_server()), 1u) << "connecting";
  rig.world.crash(kClient);
  for (const CallLog& call : calls) EXPECT_FALSE(call->result.has_value()) << call->describe();
  rig.world.start(kClient);
  CallLog again = rig.call(request("GET", "/again"));
  rig.run_ms(200);
  EXPECT_EQ(again->body(), "GET /again ") << again->describe();
}

}  // namespace
}  // namespace sluice::client
