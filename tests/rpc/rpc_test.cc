// RpcServer and RpcClient (node/rpc/rpc.h) on the simulated network: node 0 calls, node 1 serves,
// node 2 plays raw peers. A call and its answer; concurrent calls on one connection answered out
// of order; unknown methods; overload; caller timeouts (late replies dropped, the connection
// kept); a server crash and restart; malformed frames both ways; a half-read frame across the idle
// check; a network partition; idle connections; size and count limits; close; crashes with calls
// in flight on both ends.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/byte_io.h"
#include "node/log/crc32c.h"
#include "node/rpc/rpc.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/sim_rig.h"
#include "tests/testing/world_config.h"

namespace sluice::rpc {
namespace {

namespace rt = sluice::runtime;
using testing::kSimMsNs;

constexpr uint16_t kPort = 7200;
constexpr sim::NodeIndex kCaller = 0;
constexpr sim::NodeIndex kServer = 1;

// The server's methods.
constexpr uint16_t kEcho = 1;          // answers the request's bytes
constexpr uint16_t kSleep = 2;         // request: u32 ms to sleep first; answers the request
constexpr uint16_t kUntilDeadline = 3; // answers 1 ms before its deadline (too late for the caller)
constexpr uint16_t kBig = 4;           // answers request-many (u32) bytes
constexpr uint16_t kUnknown = 99;

Bytes sleep_request(uint32_t ms, std::string_view tag = "") {
  ByteWriter out;
  out.put<uint32_t>(ms);
  for (char c : tag) out.put<uint8_t>(static_cast<uint8_t>(c));
  return out.take();
}

Bytes big_request(uint32_t reply_bytes) {
  ByteWriter out;
  out.put<uint32_t>(reply_bytes);
  return out.take();
}

void add_methods(RpcServer& server, rt::Runtime& runtime) {
  server.handle(kEcho, [](ByteSpan request, rt::Instant) { return Reply{RpcStatus::ok, Bytes(request.begin(), request.end())}; });
  server.handle(kSleep, [&runtime](ByteSpan request, rt::Instant) {
    if (!runtime.sleep_for(std::chrono::milliseconds(get_le<uint32_t>(request.data()))).ok()) return Reply{RpcStatus::unavailable, {}};
    return Reply{RpcStatus::ok, Bytes(request.begin(), request.end())};
  });
  server.handle(kUntilDeadline, [&runtime](ByteSpan, rt::Instant deadline) {
    (void)runtime.sleep_until(deadline - std::chrono::milliseconds(1));
    return Reply{RpcStatus::ok, to_bytes("late")};
  });
  server.handle(kBig, [](ByteSpan request, rt::Instant) { return Reply{RpcStatus::ok, Bytes(get_le<uint32_t>(request.data()))}; });
}

class ServerApp final : public sim::NodeApp {
 public:
  ServerApp(sim::SimRuntime& runtime, RpcServerConfig config) : server(runtime, config) {
    add_methods(server, runtime);
    EXPECT_TRUE(server.start().ok());
  }
  RpcServer server;
};

class CallerApp final : public sim::NodeApp {
 public:
  CallerApp(sim::SimRuntime& runtime, RpcClientConfig config) : client(runtime, config) {}
  RpcClient client;
};

using Slot = std::shared_ptr<std::optional<rt::Result<Reply>>>;

// Node 0 runs a client, node 1 a server on kPort, node 2 nothing (raw streams come from there).
struct Rig {
  explicit Rig(uint64_t seed = 1, RpcServerConfig server_config = {}, RpcClientConfig client_config = {})
      : world(testing::quiet_world(seed)) {
    server_config.port = kPort;
    for (int i = 0; i < 3; ++i) world.add_node();
    world.set_app_factory([=](sim::SimRuntime& runtime) -> std::unique_ptr<sim::NodeApp> {
      if (runtime.node() == kCaller) return std::make_unique<CallerApp>(runtime, client_config);
      if (runtime.node() == kServer) return std::make_unique<ServerApp>(runtime, server_config);
      return nullptr;
    });
    for (int i = 0; i < 3; ++i) world.start(i);
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kSimMsNs); }
  RpcClient& client() { return dynamic_cast<CallerApp*>(world.app(kCaller))->client; }
  RpcServer& server() { return dynamic_cast<ServerApp*>(world.app(kServer))->server; }
  rt::Address server_address() const { return rt::Address{world.host(kServer), kPort}; }

  // Starts a call from a fiber on node 0; the result lands in the slot. `order`, if given,
  // records the slot's index when the call returns.
  Slot call(uint16_t method, Bytes request, int64_t timeout_ms = 5000, std::vector<int>* order = nullptr, int index = 0) {
    return call_to(server_address(), method, std::move(request), timeout_ms, order, index);
  }
  Slot call_to(const rt::Address& to, uint16_t method, Bytes request, int64_t timeout_ms = 5000,
               std::vector<int>* order = nullptr, int index = 0) {
    auto slot = std::make_shared<std::optional<rt::Result<Reply>>>();
    sim::SimRuntime* runtime = world.runtime(kCaller);
    RpcClient* client = &this->client();
    on_node(kCaller, [=, request = std::move(request)] {
      *slot = client->call(to, method, request, runtime->now() + std::chrono::milliseconds(timeout_ms));
      if (order != nullptr) order->push_back(index);
    });
    return slot;
  }

  // Runs `body` on a fiber of `node`, spawned from an event of that node (a node's fibers run
  // only after its own events).
  void on_node(sim::NodeIndex node, std::function<void()> body) {
    sim::SimRuntime* runtime = world.runtime(node);
    world.schedule(world.now_ns(), node, "test.spawn", 0, [runtime, body = std::move(body)] { runtime->spawn("test", body); });
  }

  sim::World world;
};

std::string describe(const Slot& slot) {
  if (!slot->has_value()) return "no result yet";
  const rt::Result<Reply>& result = **slot;
  if (!result.ok()) return "transport error " + result.status().to_string();
  return std::string("reply ") + std::string(to_string(result->status)) + " '" + std::string(as_string_view(result->payload)) + "'";
}

void expect_reply(const Slot& slot, RpcStatus status, std::string_view payload) {
  ASSERT_TRUE(slot->has_value() && (*slot)->ok()) << describe(slot);
  EXPECT_EQ((**slot)->status, status) << describe(slot);
  EXPECT_EQ(as_string_view((**slot)->payload), payload);
}

// A call made now is answered within 50 ms.
void expect_served(Rig& rig, const std::string& text) {
  Slot slot = rig.call(kEcho, to_bytes(text));
  rig.run_ms(50);
  expect_reply(slot, RpcStatus::ok, text);
}

void expect_error(const Slot& slot, rt::Errc code) {
  ASSERT_TRUE(slot->has_value()) << describe(slot);
  EXPECT_EQ((*slot)->code(), code) << describe(slot);
}

TEST(Rpc, CallGetsItsAnswer) {
  Rig rig;
  expect_served(rig, "hello");
  EXPECT_EQ(rig.server().stats().calls, 1u);
  EXPECT_EQ(rig.client().stats().replies, 1u);
  EXPECT_EQ(rig.client().stats().connects, 1u);
}

// The handler of the first call sleeps longest: answers come back in reverse, on one connection,
// and each call gets its own.
TEST(Rpc, ConcurrentCallsOnOneConnectionAreAnsweredOutOfOrder) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig(seed);
    constexpr int kCalls = 20;
    std::vector<Slot> slots;
    std::vector<int> order;
    for (int i = 0; i < kCalls; ++i) {
      slots.push_back(rig.call(kSleep, sleep_request(static_cast<uint32_t>(10 * (kCalls - i)), "call-" + std::to_string(i)), 5000, &order, i));
    }
    rig.run_ms(500);
    for (int i = 0; i < kCalls; ++i) {
      ASSERT_TRUE(slots[i]->has_value() && (*slots[i])->ok()) << describe(slots[i]) << testing::replay_hint(seed);
      EXPECT_EQ((**slots[i])->payload, sleep_request(static_cast<uint32_t>(10 * (kCalls - i)), "call-" + std::to_string(i)));
    }
    std::vector<int> reversed;
    for (int i = kCalls - 1; i >= 0; --i) reversed.push_back(i);
    EXPECT_EQ(order, reversed) << testing::replay_hint(seed);
    EXPECT_EQ(rig.server().stats().connections, 1u) << "one connection, shared";
    EXPECT_EQ(rig.client().stats().connects, 1u);
    EXPECT_EQ(rig.server().stats().calls, static_cast<uint64_t>(kCalls));
  }
}

TEST(Rpc, UnknownMethodIsAnswered) {
  Rig rig;
  Slot slot = rig.call(kUnknown, to_bytes("?"));
  rig.run_ms(50);
  expect_reply(slot, RpcStatus::unknown_method, "");
  EXPECT_EQ(rig.server().stats().unknown_method, 1u);
  EXPECT_EQ(rig.server().stats().calls, 0u);
}

// Two slow calls fill the connection's two slots: the third is refused at once, and once the
// slots free up calls are served again.
TEST(Rpc, OverloadedWhenTheInFlightLimitIsReached) {
  RpcServerConfig config;
  config.calls_in_flight_per_connection_max = 2;
  Rig rig(1, config);
  Slot first = rig.call(kSleep, sleep_request(300));
  Slot second = rig.call(kSleep, sleep_request(300));
  Slot third = rig.call(kSleep, sleep_request(300));
  rig.run_ms(50);
  expect_reply(third, RpcStatus::overloaded, "");
  EXPECT_FALSE(first->has_value());
  EXPECT_FALSE(second->has_value());
  rig.run_ms(300);
  expect_reply(first, RpcStatus::ok, as_string_view(sleep_request(300)));
  expect_reply(second, RpcStatus::ok, as_string_view(sleep_request(300)));
  expect_served(rig, "again");
  EXPECT_EQ(rig.server().stats().overloaded, 1u);
}

// The caller gives up at its deadline; the late reply is dropped (by the server when its handler
// overran the deadline, by the client when it arrives too late) and the connection stays usable.
TEST(Rpc, CallerTimeoutDropsTheLateReplyAndKeepsTheConnection) {
  Rig rig;
  Slot slow = rig.call(kSleep, sleep_request(500), 100);
  rig.run_ms(99);
  EXPECT_FALSE(slow->has_value());
  rig.run_ms(2);
  expect_error(slow, rt::Errc::timeout);
  Slot late = rig.call(kUntilDeadline, {}, 100);
  rig.run_ms(600);
  expect_error(late, rt::Errc::timeout);
  EXPECT_EQ(rig.server().stats().late_replies_dropped, 1u) << "the sleeper overran its deadline";
  EXPECT_EQ(rig.client().stats().late_replies_dropped, 1u) << "the deadline sleeper's reply came too late";
  EXPECT_EQ(rig.client().stats().timeouts, 2u);
  expect_served(rig, "still here");
  EXPECT_EQ(rig.client().stats().connects, 1u) << "the same connection";
}

// A crash fails the pending call with a transport error (long before its deadline); after the
// restart the next call connects anew and is answered.
TEST(Rpc, ServerCrashFailsThePendingCallAndTheNextCallReconnects) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig(seed);
    Slot pending = rig.call(kSleep, sleep_request(1000), 5000);
    rig.run_ms(100);
    rig.world.crash(kServer);
    rig.run_ms(50);
    expect_error(pending, rt::Errc::connection_reset);
    Slot refused = rig.call(kEcho, to_bytes("down"));
    rig.run_ms(600);
    expect_error(refused, rt::Errc::unreachable);  // a node without power answers no SYN
    rig.world.start(kServer);
    expect_served(rig, "back");
    EXPECT_EQ(rig.client().stats().connects, 2u) << testing::replay_hint(seed);
    EXPECT_EQ(rig.client().stats().connections_lost, 1u);
  }
}

// Writes `bytes` to the server from a fiber on node 2 and records how the stream ended.
std::shared_ptr<std::optional<rt::Status>> send_raw(Rig& rig, Bytes bytes) {
  auto ended = std::make_shared<std::optional<rt::Status>>();
  sim::SimRuntime* runtime = rig.world.runtime(2);
  const rt::Address to = rig.server_address();
  rig.on_node(2, [runtime, to, bytes, ended] {
    auto stream = runtime->connect(to, std::chrono::seconds(1));
    if (!stream.ok()) return void(*ended = stream.status());
    if (auto written = (*stream)->write(bytes); !written.ok()) return void(*ended = written);
    std::byte buffer[64];
    auto read = (*stream)->read(buffer);
    *ended = !read.ok() ? read.status() : *read == 0 ? rt::Status() : rt::Status(rt::Errc::io_error, "the server answered");
  });
  return ended;
}

// The server's idle check times its reads out while a call is in flight; a frame that was half
// read at that moment is kept, and completes when the rest arrives.
TEST(Rpc, ReadTimeoutKeepsAHalfReadFrame) {
  RpcServerConfig config;
  config.idle_timeout = std::chrono::milliseconds(100);
  Rig rig(1, config);
  auto answered = std::make_shared<std::vector<uint64_t>>();  // call ids, in the order answered
  sim::SimRuntime* runtime = rig.world.runtime(2);
  const rt::Address to = rig.server_address();
  rig.on_node(2, [runtime, to, answered] {
    auto stream = runtime->connect(to, std::chrono::seconds(1));
    if (!stream.ok()) return;
    const Bytes slow = encode_request(1, kSleep, 1000, sleep_request(300));
    const Bytes echo = encode_request(2, kEcho, 1000, as_bytes("split"));
    const ByteSpan halves[] = {ByteSpan(echo).first(10), ByteSpan(echo).subspan(10)};
    if (!(*stream)->write(slow).ok() || !(*stream)->write(halves[0]).ok()) return;
    if (!runtime->sleep_for(std::chrono::milliseconds(150)).ok() || !(*stream)->write(halves[1]).ok()) return;
    while (answered->size() < 2) {
      Bytes header(kFrameHeaderBytes);
      if (!(*stream)->read_exact(header).ok()) return;
      Bytes body(get_le<uint32_t>(header.data()));
      if (!(*stream)->read_exact(body).ok()) return;
      append_bytes(header, body);
      auto frame = decode_frame(header, kFrameBytesMaxDefault);
      if (frame.ok()) answered->push_back(frame->call_id);
    }
  });
  rig.run_ms(400);
  EXPECT_EQ(*answered, (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(rig.server().stats().malformed_frames, 0u);
}

TEST(Rpc, MalformedFrameClosesThatConnectionAndIsCounted) {
  Rig rig;
  expect_served(rig, "before");
  Bytes bad_crc = encode_request(1, kEcho, 100, as_bytes("x"));
  bad_crc.back() ^= std::byte{1};
  Bytes bad_kind = encode_request(1, kEcho, 100, {});
  bad_kind[kFrameHeaderBytes] = std::byte{7};
  put_le<uint32_t>(bad_kind.data() + 4, log::crc32c(ByteSpan(bad_kind).subspan(kFrameHeaderBytes)));
  const std::vector<Bytes> cases = {
      to_bytes("GET / HTTP/1.1\r\n\r\n"),                     // a length far above frame_bytes_max
      bad_crc,
      bad_kind,
      encode_response(1, RpcStatus::ok, as_bytes("reply?")),  // a response sent to a server
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto ended = send_raw(rig, cases[i]);
    rig.run_ms(50);
    ASSERT_TRUE(ended->has_value()) << "case " << i << ": the connection stays open";
    EXPECT_TRUE((*ended)->ok()) << "case " << i << ": " << (*ended)->to_string();
    EXPECT_EQ(rig.server().stats().malformed_frames, i + 1) << "case " << i;
  }
  expect_served(rig, "after");
  EXPECT_EQ(rig.client().stats().connects, 1u) << "other connections are untouched";
}

TEST(Rpc, PartitionedCallTimesOutAndWorksAfterHealing) {
  Rig rig;
  expect_served(rig, "before");
  rig.world.network().partition({kCaller}, {kServer}, true);
  Slot cut = rig.call(kEcho, to_bytes("cut"), 300);
  rig.run_ms(299);
  EXPECT_FALSE(cut->has_value());
  rig.run_ms(2);
  expect_error(cut, rt::Errc::timeout);
  rig.world.network().heal();
  rig.run_ms(500);  // the stalled request gets through late; its reply is dropped
  expect_served(rig, "after");
}

// Without a connection, a partition leaves the connect unanswered: the call times out at its
// deadline, not at the (longer) connect timeout.
TEST(Rpc, PartitionedConnectTimesOutAtTheCallsDeadline) {
  Rig rig;
  rig.world.network().partition({kCaller}, {kServer}, true);
  Slot cut = rig.call(kEcho, to_bytes("cut"), 200);
  rig.run_ms(201);
  expect_error(cut, rt::Errc::timeout);
  rig.world.network().heal();
  rig.run_ms(500);
  expect_served(rig, "after");
}

// The server closes a connection quiet for its idle_timeout since the last call ended (not
// while a call runs, however long); the client sees it and connects anew for the next call.
TEST(Rpc, ServerClosesIdleConnections) {
  RpcServerConfig server_config;
  server_config.idle_timeout = std::chrono::milliseconds(500);
  Rig rig(1, server_config);
  Slot slow = rig.call(kSleep, sleep_request(800));
  rig.run_ms(900);
  expect_reply(slow, RpcStatus::ok, as_string_view(sleep_request(800)));
  rig.run_ms(350);  // 1250 ms: less than 500 ms since the call ended
  EXPECT_EQ(rig.server().stats().connections_idle_closed, 0u);
  rig.run_ms(150);
  EXPECT_EQ(rig.server().stats().connections_idle_closed, 1u);
  EXPECT_EQ(rig.server().stats().connections_open, 0u);
  EXPECT_EQ(rig.client().stats().connections_open, 0u) << "the client saw the close";
  expect_served(rig, "after");
  EXPECT_EQ(rig.client().stats().connects, 2u);
}

// The client's idle_timeout is shorter than the server's, so the client closes first.
TEST(Rpc, ClientClosesIdleConnections) {
  RpcClientConfig client_config;
  client_config.idle_timeout = std::chrono::milliseconds(500);
  Rig rig(1, {}, client_config);
  Slot slow = rig.call(kSleep, sleep_request(800));
  rig.run_ms(900);
  expect_reply(slow, RpcStatus::ok, as_string_view(sleep_request(800)));
  EXPECT_EQ(rig.client().stats().connections_open, 1u) << "a call pending is not idle";
  rig.run_ms(500);
  EXPECT_EQ(rig.client().stats().connections_open, 0u);
  EXPECT_EQ(rig.client().stats().connections_lost, 0u) << "closed as idle, not lost";
  EXPECT_EQ(rig.server().stats().connections_open, 0u) << "the server saw the close";
  expect_served(rig, "after");
  EXPECT_EQ(rig.client().stats().connects, 2u);
}

TEST(Rpc, OversizedRequestsAndRepliesAreRefused) {
  RpcServerConfig server_config;
  server_config.frame_bytes_max = 4096;
  RpcClientConfig client_config;
  client_config.frame_bytes_max = 4096;
  Rig rig(1, server_config, client_config);
  Slot request = rig.call(kEcho, Bytes(4096));
  Slot reply = rig.call(kBig, big_request(5000));
  rig.run_ms(50);
  expect_error(request, rt::Errc::message_too_large);
  expect_reply(reply, RpcStatus::too_large, "");
  EXPECT_EQ(rig.server().stats().replies_too_large, 1u);
}

// Stops accepting and ends every connection: the call in flight fails at once (its late reply has
// nowhere to go), and the next call finds nobody listening.
TEST(Rpc, ServerCloseEndsItsConnections) {
  Rig rig;
  Slot pending = rig.call(kSleep, sleep_request(1000));
  rig.run_ms(50);
  rig.on_node(kServer, [&rig] { rig.server().close(); });
  rig.run_ms(50);
  expect_error(pending, rt::Errc::connection_reset);
  EXPECT_EQ(rig.server().stats().connections_open, 0u);
  Slot refused = rig.call(kEcho, to_bytes("closed"));
  rig.run_ms(50);
  expect_error(refused, rt::Errc::connection_refused);
}

// A server that answers garbage, or a request instead of a response: the client counts the frame
// as malformed, fails the call with invalid_argument and drops the connection.
// A raw server on node 2 at `port`: accepts one connection, reads a request, answers `answer`.
void serve_raw_answer(Rig& rig, uint16_t port, Bytes answer) {
  sim::SimRuntime* runtime = rig.world.runtime(2);
  rig.on_node(2, [runtime, port, answer = std::move(answer)] {
    auto listener = runtime->listen(port);
    if (!listener.ok()) return;
    auto stream = (*listener)->accept();
    if (!stream.ok()) return;
    std::byte buffer[64];
    (void)(*stream)->read(buffer);
    (void)(*stream)->write(answer);
    (void)(*stream)->read(buffer);  // until the client closes
  });
}

TEST(Rpc, ClientRefusesMalformedResponses) {
  Rig rig;
  const std::vector<Bytes> answers = {to_bytes("HTTP/1.1 200 OK\r\n\r\n"), encode_request(1, kEcho, 100, {})};
  for (size_t i = 0; i < answers.size(); ++i) {
    const uint16_t port = static_cast<uint16_t>(7300 + i);
    serve_raw_answer(rig, port, answers[i]);
    rig.run_ms(1);
    Slot slot = rig.call_to(rt::Address{rig.world.host(2), port}, kEcho, to_bytes("x"));
    rig.run_ms(50);
    expect_error(slot, rt::Errc::invalid_argument);
    EXPECT_EQ(rig.client().stats().malformed_frames, i + 1);
    EXPECT_EQ(rig.client().stats().connections_open, 0u);
  }
}

// The cluster secret (docs/formats/rpc.md, "Cluster secret"): a caller with the server's key is
// served; one with another key is refused at its first frame (the connection closed, counted),
// one with no key is never served (its frame waits for a MAC trailer that never comes), and a
// forged frame sent raw is refused too. Other connections are untouched.
TEST(Rpc, ClusterSecretServesOnlyCallersWithTheKey) {
  const ClusterKey key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  RpcServerConfig server_config;
  server_config.cluster_key = key;
  RpcClientConfig same;
  same.cluster_key = key;
  {
    Rig rig(1, server_config, same);
    expect_served(rig, "member");
    expect_served(rig, "member again");
    EXPECT_EQ(rig.server().stats().frames_unauthenticated, 0u);
    Bytes forged = encode_request(1, kEcho, 100, as_bytes("x"));
    seal_frame(forged, ClusterKey::derive(as_bytes("a guess at the secret bytes")));
    auto ended = send_raw(rig, forged);
    rig.run_ms(50);
    ASSERT_TRUE(ended->has_value()) << "the forged frame's connection stays open";
    EXPECT_TRUE((*ended)->ok()) << (*ended)->to_string();
    EXPECT_EQ(rig.server().stats().frames_unauthenticated, 1u);
    EXPECT_EQ(rig.server().stats().calls, 2u);
    expect_served(rig, "still served");
  }
  RpcClientConfig other;
  other.cluster_key = ClusterKey::derive(as_bytes("someone else's secret bytes"));
  {
    Rig rig(1, server_config, other);
    Slot slot = rig.call(kEcho, to_bytes("outsider"), 200);
    rig.run_ms(300);
    ASSERT_TRUE(slot->has_value());
    EXPECT_FALSE((*slot)->ok()) << describe(slot);
    EXPECT_EQ(rig.server().stats().frames_unauthenticated, 1u);
    EXPECT_EQ(rig.server().stats().calls, 0u);
  }
  {
    Rig rig(1, server_config, RpcClientConfig{});
    Slot slot = rig.call(kEcho, to_bytes("outsider"), 200);
    rig.run_ms(300);
    expect_error(slot, rt::Errc::timeout);
    EXPECT_EQ(rig.server().stats().calls, 0u);
    // Its next frame completes the "trailer": refused and counted.
    Slot again = rig.call(kEcho, to_bytes("outsider, again"), 200);
    rig.run_ms(300);
    EXPECT_EQ(rig.server().stats().frames_unauthenticated, 1u);
    EXPECT_EQ(rig.server().stats().calls, 0u);
  }
}

// A client with the key refuses an answer without its MAC: a server with another key cannot
// inject replies.
TEST(Rpc, ClusterSecretClientRefusesUnauthenticatedReplies) {
  RpcClientConfig client_config;
  client_config.cluster_key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  Rig rig(1, {}, client_config);
  Bytes reply = encode_response(1, RpcStatus::ok, as_bytes("injected"));
  seal_frame(reply, ClusterKey::derive(as_bytes("someone else's secret bytes")));
  const uint16_t port = 7400;
  serve_raw_answer(rig, port, reply);
  rig.run_ms(1);
  Slot slot = rig.call_to(rt::Address{rig.world.host(2), port}, kEcho, to_bytes("x"));
  rig.run_ms(50);
  expect_error(slot, rt::Errc::invalid_argument);
  EXPECT_EQ(rig.client().stats().frames_unauthenticated, 1u);
  EXPECT_EQ(rig.client().stats().connections_open, 0u);
}

// calls_pending_max per connection and connections_max: the call beyond is refused at once,
// with limit_exceeded, and the calls within are served.
TEST(Rpc, ClientLimitsRefuseTheCallBeyond) {
  RpcClientConfig config;
  config.calls_pending_max = 2;
  config.connections_max = 1;
  Rig rig(1, {}, config);
  Slot first = rig.call(kSleep, sleep_request(100));
  Slot second = rig.call(kSleep, sleep_request(100));
  Slot third = rig.call(kSleep, sleep_request(100));
  rig.run_ms(20);
  expect_error(third, rt::Errc::limit_exceeded);
  Slot other = rig.call_to(rt::Address{rig.world.host(2), kPort}, kEcho, to_bytes("x"));
  rig.run_ms(150);
  expect_error(other, rt::Errc::limit_exceeded);
  expect_reply(first, RpcStatus::ok, as_string_view(sleep_request(100)));
  expect_reply(second, RpcStatus::ok, as_string_view(sleep_request(100)));
  EXPECT_EQ(rig.client().stats().calls_refused, 2u);
}

// Both ends crash with calls in flight on both sides: handlers sleeping, and large replies
// blocked in writes (the stream's window is full) while others wait for the write mutex. The
// unwound fibers must leave nothing behind that trips the destruction of server or client (a
// mutex still held, a call still listed), and the restarted nodes serve again.
TEST(Rpc, CrashesWithCallsInFlightDestroyCleanly) {
  for (uint64_t seed : testing::sim_seeds(5)) {
    Rig rig(seed);
    std::vector<Slot> slots;
    for (int i = 0; i < 10; ++i) slots.push_back(rig.call(kBig, big_request(512 * 1024)));
    for (int i = 0; i < 10; ++i) slots.push_back(rig.call(kSleep, sleep_request(static_cast<uint32_t>(i))));
    rig.run_ms(6);
    const uint64_t answered = rig.client().stats().replies;
    EXPECT_LT(answered, 20u) << "calls still in flight at the crash" << testing::replay_hint(seed);
    rig.world.crash(kServer);
    rig.world.crash(kCaller);
    rig.world.start(kServer);
    rig.world.start(kCaller);
    expect_served(rig, "after");
  }
}

}  // namespace
}  // namespace sluice::rpc
