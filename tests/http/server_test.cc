// HttpServer (node/http/server.h) on the simulated network: node 0 serves, nodes 1 and 2 are raw
// clients writing HTTP by hand. A GET; keep-alive; pipelining answered in order (and held back,
// not failed, by the queue limit); chunked bodies; 100-continue; the size limits (413, 431) and
// malformed input (400) after good requests; slowloris and slow bodies cut off while another
// client is served; idle keep-alive connections; connections_max; HEAD; Connection: close; a
// client that reads no response; close(); a crash with connections in every state.
#include "node/http/server.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/sim_rig.h"
#include "tests/testing/world_config.h"

namespace sluice::http {
namespace {

namespace rt = sluice::runtime;
using testing::kSimMsNs;

constexpr uint16_t kPort = 8080;
constexpr sim::NodeIndex kServer = 0;
constexpr sim::NodeIndex kClient = 1;
constexpr sim::NodeIndex kOtherClient = 2;

// What the handler saw, kept outside the nodes so it outlives a crash.
struct Seen {
  std::vector<HttpRequest> requests;
  int in_handler = 0;
  int in_handler_max = 0;
};

// The test's handler. Targets: "/sleep/<ms>" sleeps first, "/big/<bytes>" answers that many
// bytes; everything else answers "<method> <target> <body>".
HttpResponse handle(rt::Runtime& runtime, Seen& seen, const HttpRequest& request, const ConnectionInfo& connection) {
  seen.requests.push_back(request);
  seen.in_handler_max = std::max(seen.in_handler_max, ++seen.in_handler);
  HttpResponse response;
  response.headers.push_back(HttpHeader{"content-type", "text/plain"});
  response.headers.push_back(HttpHeader{"x-connection", std::to_string(connection.id)});
  const std::string_view target = request.target;
  if (target.starts_with("/sleep/")) {
    (void)runtime.sleep_for(std::chrono::milliseconds(std::stoll(std::string(target.substr(7)))));
  }
  if (target.starts_with("/big/")) {
    response.body = Bytes(std::stoull(std::string(target.substr(5))), std::byte{'b'});
  } else {
    response.body = to_bytes(request.method + " " + request.target + " " + std::string(as_string_view(request.body)));
  }
  --seen.in_handler;
  return response;
}

class ServerApp final : public sim::NodeApp {
 public:
  ServerApp(sim::SimRuntime& runtime, HttpServerConfig config, Seen& seen)
      : server(runtime, config, [&runtime, &seen](const HttpRequest& request, const ConnectionInfo& connection, rt::Instant) {
          return handle(runtime, seen, request, connection);
        }) {
    EXPECT_TRUE(server.start().ok());
  }
  HttpServer server;
};

// --- responses as a client reads them ---

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;

  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

// The complete responses at the start of `wire` (interim 1xx ones included), framed by
// Content-Length. `bodiless`: responses to HEAD, whose Content-Length announces no body.
std::vector<Response> parse_responses(std::string_view wire, bool bodiless = false) {
  std::vector<Response> responses;
  while (true) {
    const size_t head_end = wire.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return responses;
    Response response;
    std::string_view head = wire.substr(0, head_end + 2);
    const size_t status_line_end = head.find("\r\n");
    response.status = std::stoi(std::string(head.substr(9, 3)));
    head.remove_prefix(status_line_end + 2);
    while (!head.empty()) {
      const size_t line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      const size_t colon = line.find(": ");
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      response.headers[name] = std::string(line.substr(colon + 2));
      head.remove_prefix(line_end + 2);
    }
    const std::string length = response.header("content-length");
    const size_t body_bytes = length.empty() || bodiless ? 0 : std::stoull(length);
    if (wire.size() < head_end + 4 + body_bytes) return responses;
    response.body = std::string(wire.substr(head_end + 4, body_bytes));
    wire.remove_prefix(head_end + 4 + body_bytes);
    responses.push_back(std::move(response));
  }
}

// What a raw client saw: the bytes the server sent and how the stream ended.
struct ClientLog {
  bool connected = false;
  std::string received;
  std::optional<rt::Status> ended;  // ok: the server closed (EOF); unset: still open
  int64_t ended_at_ns = -1;
  bool done = false;  // the script ran to its end
  std::vector<int64_t> response_at_ns;  // when read_responses() saw each response complete

  std::vector<Response> responses() const { return parse_responses(received); }
};
using Log = std::shared_ptr<ClientLog>;

// The steps of a client script, on a fiber of a client node.
class Client {
 public:
  Client(sim::SimRuntime& runtime, rt::Stream& stream, ClientLog& log) : runtime_(runtime), stream_(stream), log_(log) {}

  bool write(std::string_view text) { return stream_.write(as_bytes(text), runtime_.now() + std::chrono::seconds(5)).ok(); }
  bool sleep_ms(int64_t ms) { return runtime_.sleep_for(std::chrono::milliseconds(ms)).ok(); }

  // Reads until `done(received)` holds. False when the stream ended first (recorded in the log)
  // or `timeout_ms` passed.
  bool read_until(const std::function<bool(const std::string&)>& done, int64_t timeout_ms = 5000) {
    const rt::Instant deadline = runtime_.now() + std::chrono::milliseconds(timeout_ms);
    while (!done(log_.received)) {
      std::byte buffer[4096];
      rt::Result<size_t> read = stream_.read(buffer, deadline);
      if (read.code() == rt::Errc::timeout) return false;
      if (!read.ok() || *read == 0) {
        log_.ended = read.ok() ? rt::Status() : read.status();
        log_.ended_at_ns = rt::to_ns(runtime_.now());
        return false;
      }
      log_.received.append(as_string_view(ByteSpan(buffer, *read)));
    }
    return true;
  }
  bool read_text(std::string_view text, int64_t timeout_ms = 5000) {
    return read_until([text](const std::string& received) { return received.find(text) != std::string::npos; }, timeout_ms);
  }
  // Reads until `count` responses (1xx included) are complete, noting when each completed.
  bool read_responses(size_t count, int64_t timeout_ms = 5000) {
    return read_until(
        [&](const std::string& received) {
          const size_t complete = parse_responses(received).size();
          while (log_.response_at_ns.size() < complete) log_.response_at_ns.push_back(rt::to_ns(runtime_.now()));
          return complete >= count;
        },
        timeout_ms);
  }
  // Reads until the server closes the connection or `timeout_ms` passes.
  void read_to_end(int64_t timeout_ms = 10000) {
    (void)read_until([](const std::string&) { return false; }, timeout_ms);
  }

 private:
  sim::SimRuntime& runtime_;
  rt::Stream& stream_;
  ClientLog& log_;
};

using Script = std::function<void(Client& client)>;

struct Rig {
  explicit Rig(HttpServerConfig config = {}, uint64_t seed = 1) : world(testing::quiet_world(seed)) {
    config.port = kPort;
    for (int i = 0; i < 3; ++i) world.add_node();
    world.set_app_factory([config, seen = &seen](sim::SimRuntime& runtime) -> std::unique_ptr<sim::NodeApp> {
      if (runtime.node() == kServer) return std::make_unique<ServerApp>(runtime, config, *seen);
      return nullptr;
    });
    for (int i = 0; i < 3; ++i) world.start(i);
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kSimMsNs); }
  HttpServer& server() { return dynamic_cast<ServerApp*>(world.app(kServer))->server; }
  HttpServerStats stats() { return server().stats(); }

  // Connects from `node` and runs `script` on the connection; closes it when the script ends.
  Log client(Script script, sim::NodeIndex node = kClient) {
    auto log = std::make_shared<ClientLog>();
    sim::SimRuntime* runtime = world.runtime(node);
    const rt::Address to{world.host(kServer), kPort};
    on_node(node, [runtime, to, log, script = std::move(script)] {
      auto stream = runtime->connect(to, std::chrono::seconds(1));
      if (!stream.ok()) return;
      log->connected = true;
      Client client(*runtime, **stream, *log);
      script(client);
      log->done = true;
      (*stream)->close();
    });
    return log;
  }
  // Writes `text`, then reads until the server closes the connection.
  Log send(std::string text, sim::NodeIndex node = kClient) {
    return client([text = std::move(text)](Client& c) {
      if (c.write(text)) c.read_to_end();
    }, node);
  }

  // Runs `body` on a fiber of `node`, spawned from an event of that node.
  void on_node(sim::NodeIndex node, std::function<void()> body) {
    sim::SimRuntime* runtime = world.runtime(node);
    world.schedule(world.now_ns(), node, "test.spawn", 0, [runtime, body = std::move(body)] { runtime->spawn("test", body); });
  }

  Seen seen;  // outlives the world's nodes
  sim::World world;
};

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: n1\r\n" + std::string(extra_headers) + "\r\n";
}

// A server whose read timeouts are these many seconds.
HttpServerConfig read_timeouts_s(int header, int body, int idle) {
  HttpServerConfig config;
  config.header_read_timeout = std::chrono::seconds(header);
  config.body_read_timeout = std::chrono::seconds(body);
  config.idle_timeout = std::chrono::seconds(idle);
  return config;
}

std::string describe(const ClientLog& log) {
  return "received '" + log.received + "', " + (log.ended ? "ended " + log.ended->to_string() : std::string("still open"));
}

// --- requests and responses ---

TEST(HttpServer, GetIsAnswered) {
  Rig rig;
  Log log = rig.client([](Client& c) {
    if (c.write(get("/hello?x=1"))) c.read_responses(1);
  });
  rig.run_ms(100);
  ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
  const Response response = log->responses()[0];
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "GET /hello?x=1 ");
  EXPECT_EQ(response.header("content-type"), "text/plain");
  EXPECT_EQ(response.header("content-length"), "15");
  EXPECT_EQ(response.header("connection"), "");
  EXPECT_TRUE(log->received.starts_with("HTTP/1.1 200 OK\r\n")) << log->received;
  ASSERT_EQ(rig.seen.requests.size(), 1u);
  EXPECT_EQ(rig.seen.requests[0].find_header("host")->value, "n1");
  EXPECT_FALSE(log->ended.has_value()) << "kept alive";
  const HttpServerStats stats = rig.stats();
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.responses_by_class[2], 1u);
  EXPECT_EQ(stats.connections_accepted, 1u);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  Rig rig;
  Log log = rig.client([](Client& c) {
    for (int i = 1; i <= 4; ++i) {
      if (!c.write(get("/r" + std::to_string(i))) || !c.read_responses(static_cast<size_t>(i))) return;
      c.sleep_ms(100);
    }
  });
  rig.run_ms(1000);
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 4u) << describe(*log);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(responses[i].body, "GET /r" + std::to_string(i + 1) + " ");
    EXPECT_EQ(responses[i].header("x-connection"), "1");
  }
  EXPECT_TRUE(log->done);
  EXPECT_EQ(rig.stats().connections_accepted, 1u);
  EXPECT_EQ(rig.stats().requests, 4u);
}

// Three requests in one write; the first handler sleeps longest. Answers come in request order,
// and the handler never runs twice at once for the connection.
TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig({}, seed);
    Log log = rig.client([](Client& c) {
      if (c.write(get("/sleep/300") + get("/sleep/10") + get("/sleep/100"))) c.read_responses(3);
    });
    rig.run_ms(1000);
    const std::vector<Response> responses = log->responses();
    ASSERT_EQ(responses.size(), 3u) << describe(*log) << testing::replay_hint(seed);
    EXPECT_EQ(responses[0].body, "GET /sleep/300 ");
    EXPECT_EQ(responses[1].body, "GET /sleep/10 ");
    EXPECT_EQ(responses[2].body, "GET /sleep/100 ");
    EXPECT_EQ(rig.seen.in_handler_max, 1) << "one request at a time";
    ASSERT_EQ(log->response_at_ns.size(), 3u);
    EXPECT_GE(log->response_at_ns[2] - log->response_at_ns[0], 100 * kSimMsNs) << "the later ones ran after the first";
  }
}

// Twelve pipelined requests in one write with room for two in the parser's queue: the server
// stops feeding while the queue is full, so all are answered (no 429).
TEST(HttpServer, PipelinedBurstAboveTheQueueLimitIsHeldBackNotRefused) {
  HttpServerConfig config;
  config.limits.requests_queued_max = 2;
  Rig rig(config);
  Log log = rig.client([](Client& c) {
    std::string burst;
    for (int i = 0; i < 12; ++i) burst += get("/p" + std::to_string(i));
    if (c.write(burst)) c.read_responses(12);
  });
  rig.run_ms(500);
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 12u) << describe(*log);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(responses[i].body, "GET /p" + std::to_string(i) + " ");
  EXPECT_EQ(rig.stats().parse_errors, 0u);
}

// Requests pipelined behind a body, in the same write: where the body ends is found by the
// server without the parser's help, and the request after it, half-sent, is timed as headers.
TEST(HttpServer, RequestsPipelinedBehindABodyAreAnsweredAndTimed) {
  Rig rig(read_timeouts_s(2, 30, 30));
  Log log = rig.send("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + get("/b") + "GET /partial HTT");
  rig.run_ms(1900);
  ASSERT_EQ(log->responses().size(), 2u) << describe(*log);
  EXPECT_EQ(log->responses()[0].body, "POST /a abc");
  EXPECT_EQ(log->responses()[1].body, "GET /b ");
  EXPECT_EQ(rig.stats().slow_clients_cut, 0u);
  rig.run_ms(200);
  EXPECT_EQ(rig.stats().slow_clients_cut, 1u) << "the half-sent request is held to header_read_timeout";
  EXPECT_EQ(rig.stats().idle_closed, 0u);
}

// A body followed by a stray line end (as old clients send): the connection is idle after it, not
// in the headers of a next request.
TEST(HttpServer, LineEndsAfterABodyLeaveTheConnectionIdle) {
  Rig rig(read_timeouts_s(2, 30, 5));
  Log log = rig.send("POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\n");
  rig.run_ms(4900);
  ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
  EXPECT_FALSE(log->ended.has_value()) << describe(*log);
  rig.run_ms(200);
  EXPECT_EQ(rig.stats().idle_closed, 1u);
  EXPECT_EQ(rig.stats().slow_clients_cut, 0u);
}

// The body comes in chunks across several writes; the handler sees it whole and de-chunked.
TEST(HttpServer, ChunkedBodyReachesTheHandlerDechunked) {
  Rig rig;
  Log log = rig.client([](Client& c) {
    const char* pieces[] = {"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel", "\r\n2\r\nlo\r\n",
                            "6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n"};
    for (const char* piece : pieces) {
      if (!c.write(piece) || !c.sleep_ms(50)) return;
    }
    c.read_responses(1);
  });
  rig.run_ms(500);
  ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
  EXPECT_EQ(log->responses()[0].body, "POST /c hello world");
  ASSERT_EQ(rig.seen.requests.size(), 1u);
  EXPECT_EQ(as_string_view(rig.seen.requests[0].body), "hello world");
  EXPECT_EQ(rig.seen.requests[0].trailers, (std::vector<HttpHeader>{{"x-trailer", "t"}}));
}

// The client sends the headers and waits for 100 Continue before it sends the body.
TEST(HttpServer, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  Rig rig;
  auto continued = std::make_shared<bool>(false);
  Log log = rig.client([continued](Client& c) {
    if (!c.write("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")) return;
    *continued = c.read_responses(1, 3000);
    if (*continued && c.write("hello")) c.read_responses(2);
  });
  rig.run_ms(200);
  EXPECT_TRUE(*continued) << describe(*log);
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 2u) << describe(*log);
  EXPECT_EQ(responses[0].status, 100);
  EXPECT_TRUE(log->received.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")) << log->received;
  EXPECT_EQ(responses[1].body, "POST /up hello");
  EXPECT_EQ(rig.stats().responses_by_class[1], 1u);
  EXPECT_EQ(rig.stats().responses_by_class[2], 1u);
}

// A request whose body came with its headers needs no 100 Continue.
TEST(HttpServer, ExpectContinueWithTheBodyAlreadySentGetsNoInterimResponse) {
  Rig rig;
  Log log = rig.client([](Client& c) {
    if (c.write("POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")) c.read_responses(1);
  });
  rig.run_ms(200);
  ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
  EXPECT_EQ(log->responses()[0].status, 200);
  EXPECT_EQ(rig.stats().responses_by_class[1], 0u);
}

TEST(HttpServer, HeadGetsTheHeadersWithoutTheBody) {
  Rig rig;
  Log log = rig.client([](Client& c) {
    if (!c.write("HEAD /h HTTP/1.1\r\n\r\n") || !c.read_text("\r\n\r\n")) return;
    c.sleep_ms(100);  // anything more would arrive meanwhile
    if (c.write(get("/after"))) c.read_text("GET /after ");
  });
  rig.run_ms(500);
  const std::string head_response = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-connection: 1\r\nContent-Length: 8\r\n\r\n";
  ASSERT_TRUE(log->received.starts_with(head_response)) << log->received;
  const std::vector<Response> after = parse_responses(std::string_view(log->received).substr(head_response.size()));
  ASSERT_EQ(after.size(), 1u) << "the next response follows the head directly: " << log->received;
  EXPECT_EQ(after[0].body, "GET /after ");
  EXPECT_EQ(rig.seen.requests.at(0).method, "HEAD");
}

// "Connection: close" is answered with "Connection: close", then the server closes; a request
// pipelined behind it is never handled.
TEST(HttpServer, ConnectionCloseIsHonoured) {
  Rig rig;
  Log log = rig.send(get("/last", "Connection: close\r\n") + get("/ignored"));
  rig.run_ms(200);
  ASSERT_TRUE(log->ended.has_value()) << describe(*log);
  EXPECT_TRUE(log->ended->ok()) << log->ended->to_string();
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 1u) << describe(*log);
  EXPECT_EQ(responses[0].body, "GET /last ");
  EXPECT_EQ(responses[0].header("connection"), "close");
  EXPECT_EQ(rig.seen.requests.size(), 1u);
  EXPECT_EQ(rig.stats().connections_open, 0u);
}

TEST(HttpServer, Http10GetsOneRequestPerConnection) {
  Rig rig;
  Log log = rig.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  rig.run_ms(200);
  ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
  EXPECT_EQ(log->responses()[0].header("connection"), "close");
  EXPECT_TRUE(log->ended.has_value() && log->ended->ok()) << describe(*log);
}

// --- errors: answered after the requests before them, then the connection closes ---

void expect_error_reply(const ClientLog& log, const Response& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status) << describe(log);
  EXPECT_EQ(response.header("connection"), "close");
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_TRUE(response.body.starts_with("{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"")) << response.body;
  ASSERT_TRUE(log.ended.has_value()) << "closed after the error: " << describe(log);
}

TEST(HttpServer, MalformedRequestIsAnswered400AfterTheRequestsBeforeIt) {
  Rig rig;
  Log log = rig.send(get("/a") + get("/b") + "GET /c HTTP/1.1\r\nBad Name: x\r\n\r\n" + get("/never"));
  rig.run_ms(2000);
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 3u) << describe(*log);
  EXPECT_EQ(responses[0].body, "GET /a ");
  EXPECT_EQ(responses[1].body, "GET /b ");
  expect_error_reply(*log, responses[2], 400, "malformed");
  EXPECT_NE(responses[2].body.find("whitespace in header name \\\"bad name\\\""), std::string::npos) << responses[2].body;
  EXPECT_EQ(rig.seen.requests.size(), 2u) << "the handler never sees the bad request or what follows";
  EXPECT_EQ(rig.stats().parse_errors, 1u);
  EXPECT_EQ(rig.stats().responses_by_class[4], 1u);
}

// The Content-Length is refused before any body byte: the client gets 413 at once (it would
// otherwise wait for 100 Continue), and the connection closes.
TEST(HttpServer, BodyAboveTheLimitIsAnswered413AndCloses) {
  HttpServerConfig config;
  config.limits.body_bytes_max = 100;
  Rig rig(config);
  Log declared = rig.send("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n");
  Log chunked = rig.send("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + std::string(101, 'c') + "\r\n0\r\n\r\n",
                         kOtherClient);
  rig.run_ms(2000);
  for (const Log& log : {declared, chunked}) {
    ASSERT_EQ(log->responses().size(), 1u) << describe(*log);
    expect_error_reply(*log, log->responses()[0], 413, "body_too_large");
  }
  EXPECT_TRUE(rig.seen.requests.empty());
  EXPECT_EQ(rig.stats().parse_errors, 2u);
}

TEST(HttpServer, HeaderAboveTheLimitIsAnswered431) {
  HttpServerConfig config;
  config.limits.header_bytes_max = 64;
  Rig rig(config);
  Log log = rig.send(get("/ok") + get("/x", "X-Big: " + std::string(64, 'v') + "\r\n"));
  rig.run_ms(2000);
  ASSERT_EQ(log->responses().size(), 2u) << describe(*log);
  EXPECT_EQ(log->responses()[0].status, 200);
  expect_error_reply(*log, log->responses()[1], 431, "header_too_large");
}

// After an error reply the server drops what the client still sends until the client closes
// (error_linger_timeout), so closing never resets the connection under the reply.
TEST(HttpServer, ErrorReplyLingersUntilTheClientCloses) {
  HttpServerConfig config;
  config.limits.body_bytes_max = 10;
  config.error_linger_timeout = std::chrono::seconds(1);
  Rig rig(config);
  Log log = rig.client([](Client& c) {
    if (!c.write("POST /x HTTP/1.1\r\nContent-Length: 4000\r\n\r\n") || !c.read_responses(1)) return;
    c.write(std::string(4000, 'b'));  // the body it had started sending
    c.read_to_end(5000);
  });
  rig.run_ms(300);
  EXPECT_EQ(log->responses().size(), 1u) << describe(*log);
  EXPECT_FALSE(log->ended.has_value()) << "still lingering: " << describe(*log);
  EXPECT_EQ(rig.stats().connections_open, 1u);
  rig.run_ms(1000);
  ASSERT_TRUE(log->ended.has_value()) << describe(*log);
  EXPECT_TRUE(log->ended->ok()) << "a clean close, not a reset: " << log->ended->to_string();
  EXPECT_EQ(rig.stats().connections_open, 0u);
}

// --- the server never waits on one client ---

// One header byte a second: cut off at header_read_timeout (10 s by default) from the request's
// first byte and counted, while a client on another node is served promptly all along.
TEST(HttpServer, SlowlorisIsCutOffWhileAnotherClientIsServed) {
  Rig rig;
  const std::string dribble = "GET /slow HTTP/1.1\r\nX-Padding: " + std::string(100, 'p');
  auto writes = std::make_shared<int>(0);
  Log slow = rig.client([dribble, writes](Client& c) {
    for (char byte : dribble) {
      if (!c.write(std::string(1, byte)) || !c.sleep_ms(1000)) break;
      ++*writes;
    }
    c.read_to_end(1000);
  });
  Log other = rig.client([](Client& c) {
    for (size_t i = 1; i <= 40; ++i) {
      if (!c.write(get("/other")) || !c.read_responses(i) || !c.sleep_ms(250)) return;
    }
  }, kOtherClient);
  rig.run_ms(9900);
  EXPECT_EQ(rig.stats().slow_clients_cut, 0u);
  rig.run_ms(200);
  EXPECT_EQ(rig.stats().slow_clients_cut, 1u);
  rig.run_ms(3000);
  EXPECT_LE(*writes, 12) << "the slow client's writes fail once the server closed";
  ASSERT_TRUE(slow->ended.has_value()) << describe(*slow);
  EXPECT_EQ(slow->received, "") << "cut off without a reply";
  ASSERT_EQ(other->response_at_ns.size(), 40u) << describe(*other);
  EXPECT_TRUE(other->done);
  EXPECT_EQ(rig.seen.requests.size(), 40u) << "the slow request never reached the handler";
}

// The headers arrive, then the body dribbles: cut at body_read_timeout after the headers.
TEST(HttpServer, SlowBodyIsCutOffAtTheBodyReadTimeout) {
  Rig rig(read_timeouts_s(2, 5, 60));
  Log log = rig.client([](Client& c) {
    if (!c.write("POST /slow-body HTTP/1.1\r\nContent-Length: 100\r\n\r\n")) return;
    for (int i = 0; i < 100; ++i) {
      if (!c.write("b") || !c.sleep_ms(1000)) break;
    }
  });
  rig.run_ms(4900);
  EXPECT_EQ(rig.stats().slow_clients_cut, 0u) << "a body is not held to header_read_timeout";
  rig.run_ms(200);
  EXPECT_EQ(rig.stats().slow_clients_cut, 1u);
  EXPECT_EQ(rig.stats().connections_open, 0u);
  EXPECT_TRUE(rig.seen.requests.empty());
}

// A kept-alive connection with no byte of a next request is closed idle_timeout after the last
// response; line ends alone do not keep it alive.
TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  Rig rig(read_timeouts_s(10, 30, 2));
  Log log = rig.client([](Client& c) {
    if (!c.write(get("/once")) || !c.read_responses(1) || !c.sleep_ms(1000) || !c.write("\r\n")) return;
    c.read_to_end(5000);
  });
  rig.run_ms(1900);
  EXPECT_FALSE(log->ended.has_value()) << describe(*log);
  EXPECT_EQ(rig.stats().idle_closed, 0u);
  rig.run_ms(200);
  EXPECT_EQ(rig.stats().idle_closed, 1u);
  EXPECT_EQ(rig.stats().slow_clients_cut, 0u);
  rig.run_ms(100);
  ASSERT_TRUE(log->ended.has_value()) << describe(*log);
  EXPECT_EQ(log->responses().size(), 1u);
}

// The read timers count only time the server waits on the client: a handler slower than
// idle_timeout and header_read_timeout does not get its connection (or the request half-sent
// behind it) closed.
TEST(HttpServer, TimeSpentAnsweringIsNotTheClients) {
  Rig rig(read_timeouts_s(2, 30, 2));
  Log log = rig.client([](Client& c) {
    if (!c.write(get("/sleep/3000") + "GET /second HTTP/1.1\r\n") || !c.read_responses(1) || !c.sleep_ms(1000)) return;
    if (c.write("\r\n")) c.read_responses(2);
  });
  rig.run_ms(5000);
  const std::vector<Response> responses = log->responses();
  ASSERT_EQ(responses.size(), 2u) << describe(*log);
  EXPECT_EQ(responses[1].body, "GET /second ");
  EXPECT_EQ(rig.stats().slow_clients_cut + rig.stats().idle_closed, 0u);
}

// A client that never reads a large response: the write times out at write_timeout, the
// connection closes, and another client is served meanwhile.
TEST(HttpServer, ClientThatReadsNothingIsCutAtTheWriteTimeout) {
  HttpServerConfig config;
  config.write_timeout = std::chrono::seconds(2);
  Rig rig(config);
  Log stuck = rig.client([](Client& c) {
    if (c.write(get("/big/4194304"))) c.sleep_ms(10000);
  });
  rig.run_ms(500);
  Log other = rig.client([](Client& c) {
    if (c.write(get("/other"))) c.read_responses(1);
  }, kOtherClient);
  rig.run_ms(100);
  EXPECT_EQ(other->responses().size(), 1u) << describe(*other);
  EXPECT_EQ(rig.stats().write_failures, 0u);
  rig.run_ms(1500);
  EXPECT_EQ(rig.stats().write_failures, 1u);
  EXPECT_EQ(rig.stats().connections_open, 0u);
  EXPECT_EQ(rig.stats().responses_by_class[2], 1u) << "only the other client's response was written";
}

// --- connections ---

TEST(HttpServer, ConnectionsMaxIsEnforced) {
  HttpServerConfig config;
  config.connections_max = 2;
  Rig rig(config);
  auto hold = [](Client& c) {
    if (c.write(get("/hold"))) c.read_responses(1);
    c.sleep_ms(1000);
  };
  Log first = rig.client(hold);
  Log second = rig.client(hold, kOtherClient);
  rig.run_ms(100);
  Log third = rig.send(get("/third"));
  rig.run_ms(100);
  ASSERT_TRUE(third->ended.has_value()) << describe(*third);
  EXPECT_EQ(third->received, "") << "closed at once, unanswered";
  EXPECT_EQ(rig.stats().connections_refused, 1u);
  EXPECT_EQ(rig.stats().connections_open, 2u);
  rig.run_ms(1000);  // the first two end
  Log fourth = rig.client([](Client& c) {
    if (c.write(get("/fourth"))) c.read_responses(1);
  });
  rig.run_ms(100);
  ASSERT_EQ(fourth->responses().size(), 1u) << describe(*fourth);
  EXPECT_EQ(fourth->responses()[0].body, "GET /fourth ");
  EXPECT_EQ(rig.stats().connections_accepted, 3u);
}

// close() stops accepting and ends every connection: an idle one, one half-way through its
// headers, one whose handler is running (its response has nowhere to go).
TEST(HttpServer, CloseEndsEveryConnection) {
  Rig rig;
  Log idle = rig.client([](Client& c) {
    if (c.write(get("/first"))) c.read_responses(1);
    c.read_to_end();
  });
  Log partial = rig.client([](Client& c) {
    if (c.write("GET /partial HTTP/1.1\r\nHo")) c.read_to_end();
  });
  Log busy = rig.client([](Client& c) {
    if (c.write(get("/sleep/1000"))) c.read_to_end();
  }, kOtherClient);
  rig.run_ms(100);
  EXPECT_EQ(rig.stats().connections_open, 3u);
  rig.on_node(kServer, [&rig] { rig.server().close(); });
  rig.run_ms(100);
  for (const Log& log : {idle, partial, busy}) EXPECT_TRUE(log->ended.has_value()) << describe(*log);
  EXPECT_EQ(busy->received, "");
  rig.run_ms(1000);
  EXPECT_EQ(rig.stats().connections_open, 0u);
  EXPECT_EQ(rig.stats().write_failures, 1u) << "the sleeper's response";
  Log refused = rig.send(get("/after"));
  rig.run_ms(100);
  EXPECT_FALSE(refused->connected);
}

// A crash with connections in every state (handler sleeping, headers half-read, body half-read,
// idle, writing a large response): the unwound fibers leave nothing behind that trips the
// server's destruction, and the restarted node serves again.
TEST(HttpServer, CrashWithConnectionsInEveryStateDestroysCleanly) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig({}, seed);
    rig.send(get("/sleep/5000"));
    rig.send("GET /partial HTTP/1.1\r\nHo");
    rig.send("POST /body HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf");
    rig.client([](Client& c) { c.sleep_ms(10000); }, kOtherClient);
    rig.client([](Client& c) {
      if (c.write(get("/big/8388608"))) c.sleep_ms(10000);
    }, kOtherClient);
    rig.run_ms(50);
    EXPECT_EQ(rig.stats().connections_open, 5u) << testing::replay_hint(seed);
    rig.world.crash(kServer);
    rig.world.start(kServer);
    Log after = rig.client([](Client& c) {
      if (c.write(get("/after"))) c.read_responses(1);
    });
    rig.run_ms(100);
    ASSERT_EQ(after->responses().size(), 1u) << describe(*after) << testing::replay_hint(seed);
    EXPECT_EQ(after->responses()[0].body, "GET /after ");
  }
}

}  // namespace
}  // namespace sluice::http
