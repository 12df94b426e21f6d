// Tests of the simulated network through the runtime seam: datagrams (sender address, loss,
// duplication, reordering, partitions, size limit, unbound ports) and streams (connect/accept,
// refusal, timeouts, stalls and resets under partitions, crashes, orderly close, flow control).
// Every test builds a World with a fixed seed, runs fibers on its nodes and records what they see
// in test-owned structs; time is virtual only.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/swim/wire_header.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"

namespace sluice::sim {
namespace {

using runtime::Address;
using runtime::Errc;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
constexpr uint16_t kPortA = 5000;
constexpr uint16_t kPortB = 6000;
constexpr uint16_t kStreamPort = 7000;

using Body = std::function<void(SimRuntime&)>;

// Spawns the fibers the test registered for this node, at every start of the node.
class BodiesApp final : public NodeApp {
 public:
  BodiesApp(SimRuntime& runtime, const std::vector<Body>& bodies) {
    for (const Body& body : bodies) runtime.spawn("test", [&runtime, body] { body(runtime); });
  }
};

WorldConfig config_with_seed(uint64_t seed = 7) {
  WorldConfig config;
  config.seed = seed;
  return config;
}

// A world of `nodes` nodes whose apps run the bodies registered with on().
class Cluster {
 public:
  explicit Cluster(size_t nodes, WorldConfig config = config_with_seed()) : world(config) {
    for (size_t i = 0; i < nodes; ++i) world.add_node();
    world.set_app_factory([this](SimRuntime& runtime) -> std::unique_ptr<NodeApp> {
      return std::make_unique<BodiesApp>(runtime, bodies_[runtime.node()]);
    });
  }
  void on(NodeIndex node, Body body) { bodies_[node].push_back(std::move(body)); }
  void start_all() {
    for (size_t i = 0; i < world.node_count(); ++i) world.start(static_cast<NodeIndex>(i));
  }
  Network& network() { return world.network(); }

 private:
  std::map<NodeIndex, std::vector<Body>> bodies_;  // before world: outlives the fibers

 public:
  World world;
};

std::string host_of(NodeIndex node) { return "n" + std::to_string(node + 1); }

// --- datagrams ---------------------------------------------------------------------------------

struct Received {
  int64_t at_ns = 0;
  std::string from;
  std::string payload;
};

// Binds `port` and records every datagram until the socket or the fiber ends.
Body receive_into(uint16_t port, std::vector<Received>& out) {
  return [port, &out](SimRuntime& runtime) {
    auto bound = runtime.bind_datagram(port);
    ASSERT_TRUE(bound.ok()) << bound.status().to_string();
    auto socket = std::move(bound).value();
    while (true) {
      auto datagram = socket->receive();
      if (!datagram.ok()) return;
      out.push_back({runtime.world().now_ns(), datagram->from.to_string(), std::string(as_string_view(datagram->payload))});
    }
  };
}

// Binds `from_port`, waits 10 ms (receivers bind at start), then sends each payload to `to`,
// `gap_ns` apart.
Body send_all(uint16_t from_port, Address to, std::vector<std::string> payloads, int64_t gap_ns = kMs) {
  return [from_port, to, payloads, gap_ns](SimRuntime& runtime) {
    auto bound = runtime.bind_datagram(from_port);
    ASSERT_TRUE(bound.ok()) << bound.status().to_string();
    auto socket = std::move(bound).value();
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    for (const std::string& payload : payloads) {
      ASSERT_TRUE(socket->send_to(to, as_bytes(payload)).ok());
      if (!runtime.sleep_for(runtime::Duration(gap_ns)).ok()) return;
    }
  };
}

std::vector<std::string> numbered(int count, std::string_view prefix = "m") {
  std::vector<std::string> payloads;
  for (int i = 0; i < count; ++i) payloads.push_back(std::string(prefix) + std::to_string(i));
  return payloads;
}

TEST(SimNetworkDatagram, DeliveredWithTheSendersAddress) {
  std::vector<Received> received;
  Cluster cluster(2);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, {"hello"}));
  cluster.start_all();
  cluster.world.run_until(1 * kS);

  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].from, "n2:6000");
  EXPECT_EQ(received[0].payload, "hello");
  // Latency is drawn from the default link: 1..10 ms after the send at 10 ms.
  EXPECT_GE(received[0].at_ns, 11 * kMs);
  EXPECT_LE(received[0].at_ns, 20 * kMs);
  EXPECT_EQ(cluster.network().stats().datagrams_sent, 1u);
  EXPECT_EQ(cluster.network().stats().datagrams_delivered, 1u);
}

TEST(SimNetworkDatagram, LossProbabilityOneDeliversNothing) {
  WorldConfig config = config_with_seed();
  config.network.link.loss_probability = 1;
  std::vector<Received> received;
  Cluster cluster(2, config);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, numbered(50)));
  cluster.start_all();
  cluster.world.run_until(2 * kS);

  EXPECT_TRUE(received.empty());
  EXPECT_EQ(cluster.network().stats().datagrams_sent, 50u);
  EXPECT_EQ(cluster.network().stats().datagrams_lost, 50u);
  EXPECT_EQ(cluster.network().stats().datagrams_delivered, 0u);
}

TEST(SimNetworkDatagram, DuplicateProbabilityOneDeliversEveryDatagramTwice) {
  WorldConfig config = config_with_seed();
  config.network.link.duplicate_probability = 1;
  std::vector<Received> received;
  Cluster cluster(2, config);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, numbered(20)));
  cluster.start_all();
  cluster.world.run_until(2 * kS);

  std::map<std::string, int> copies;
  for (const Received& datagram : received) ++copies[datagram.payload];
  ASSERT_EQ(copies.size(), 20u);
  for (const auto& [payload, count] : copies) EXPECT_EQ(count, 2) << payload;
  EXPECT_EQ(cluster.network().stats().datagrams_duplicated, 20u);
  EXPECT_EQ(cluster.network().stats().datagrams_delivered, 40u);
}

// Indices of the payloads "m<i>" in arrival order.
std::vector<int> arrival_order(const std::vector<Received>& received) {
  std::vector<int> order;
  for (const Received& datagram : received) order.push_back(std::stoi(datagram.payload.substr(1)));
  return order;
}

TEST(SimNetworkDatagram, WideLatencyRangeReorders) {
  WorldConfig config = config_with_seed();
  config.network.link.latency_min = std::chrono::milliseconds(1);
  config.network.link.latency_max = std::chrono::milliseconds(100);
  std::vector<Received> received;
  Cluster cluster(2, config);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, numbered(100)));
  cluster.start_all();
  cluster.world.run_until(2 * kS);

  std::vector<int> order = arrival_order(received);
  ASSERT_EQ(order.size(), 100u);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << "no datagram overtook another";
  std::sort(order.begin(), order.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], i);
}

TEST(SimNetworkDatagram, FixedLatencyKeepsSendOrder) {
  WorldConfig config = config_with_seed();
  config.network.link.latency_min = std::chrono::milliseconds(5);
  config.network.link.latency_max = std::chrono::milliseconds(5);
  std::vector<Received> received;
  Cluster cluster(2, config);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, numbered(100), 0));  // all at one instant
  cluster.start_all();
  cluster.world.run_until(2 * kS);

  std::vector<int> order = arrival_order(received);
  ASSERT_EQ(order.size(), 100u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

// Every ordered pair of `nodes` nodes exchanges one datagram; returns the "from->to" pairs that
// arrived. Each node receives on kPortA and sends from kPortB.
std::vector<std::string> exchange_all_pairs(Cluster& cluster, size_t nodes,
                                            std::map<NodeIndex, std::vector<Received>>& received) {
  for (size_t i = 0; i < nodes; ++i) {
    const auto me = static_cast<NodeIndex>(i);
    cluster.on(me, receive_into(kPortA, received[me]));
    cluster.on(me, [nodes, me](SimRuntime& runtime) {
      auto socket = std::move(runtime.bind_datagram(kPortB)).value();
      ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
      for (size_t peer = 0; peer < nodes; ++peer) {
        if (static_cast<NodeIndex>(peer) == me) continue;
        ASSERT_TRUE(socket->send_to(Address{host_of(static_cast<NodeIndex>(peer)), kPortA}, as_bytes(host_of(me))).ok());
      }
      (void)runtime.sleep_for(std::chrono::seconds(10));  // keep the socket until the test ends
    });
  }
  cluster.start_all();
  cluster.world.run_until(1 * kS);
  std::vector<std::string> pairs;
  for (auto& [node, datagrams] : received) {
    for (const Received& datagram : datagrams) pairs.push_back(datagram.payload + "->" + host_of(node));
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

using Pairs = std::vector<std::string>;

TEST(SimNetworkDatagram, SymmetricPartitionBlocksBothDirections) {
  std::map<NodeIndex, std::vector<Received>> received;
  Cluster cluster(3);
  cluster.network().partition({0}, {1}, true);
  EXPECT_EQ(cluster.network().blocked_links(), 2u);
  EXPECT_EQ(exchange_all_pairs(cluster, 3, received), (Pairs{"n1->n3", "n2->n3", "n3->n1", "n3->n2"}));
  EXPECT_EQ(cluster.network().stats().datagrams_blocked, 2u);
}

TEST(SimNetworkDatagram, OneWayPartitionBlocksOnlyThatDirection) {
  std::map<NodeIndex, std::vector<Received>> received;
  Cluster cluster(2);
  cluster.network().partition({0}, {1}, false);
  EXPECT_TRUE(cluster.network().blocked(0, 1));
  EXPECT_FALSE(cluster.network().blocked(1, 0));
  EXPECT_EQ(exchange_all_pairs(cluster, 2, received), (Pairs{"n2->n1"}));
  EXPECT_EQ(cluster.network().stats().datagrams_blocked, 1u);
}

TEST(SimNetworkDatagram, IsolateCutsANodeOffBothWays) {
  std::map<NodeIndex, std::vector<Received>> received;
  Cluster cluster(3);
  cluster.network().isolate({0});
  EXPECT_EQ(cluster.network().blocked_links(), 4u);
  EXPECT_EQ(exchange_all_pairs(cluster, 3, received), (Pairs{"n2->n3", "n3->n2"}));
}

TEST(SimNetworkDatagram, HealRestoresDelivery) {
  std::vector<Received> received;
  Cluster cluster(2);
  cluster.on(0, receive_into(kPortA, received));
  // One datagram at 10 ms (partitioned), one at 1010 ms (healed by then).
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, {"before", "after"}, 1 * kS));
  cluster.network().partition({0}, {1}, true);
  cluster.start_all();
  cluster.world.run_until(500 * kMs);
  EXPECT_TRUE(received.empty());
  cluster.network().heal();
  EXPECT_EQ(cluster.network().blocked_links(), 0u);
  cluster.world.run_until(2 * kS);

  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].payload, "after");
  EXPECT_EQ(cluster.network().stats().datagrams_blocked, 1u);
}

TEST(SimNetworkDatagram, PartitionDropsDatagramsAlreadyInFlight) {
  WorldConfig config = config_with_seed();
  config.network.link.latency_min = std::chrono::milliseconds(50);
  config.network.link.latency_max = std::chrono::milliseconds(50);
  std::vector<Received> received;
  Cluster cluster(2, config);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA}, {"in-flight"}));
  cluster.start_all();
  cluster.world.run_until(30 * kMs);  // sent at 10 ms, arrives at 60 ms
  cluster.network().partition({1}, {0}, false);
  cluster.world.run_until(1 * kS);
  EXPECT_TRUE(received.empty());
  EXPECT_EQ(cluster.network().stats().datagrams_blocked, 1u);
}

TEST(SimNetworkDatagram, OversizeDatagramIsRefused) {
  std::vector<Received> received;
  std::vector<Errc> results;
  Cluster cluster(2);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, [&results](SimRuntime& runtime) {
    auto socket = std::move(runtime.bind_datagram(kPortB)).value();
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    Bytes largest(runtime::kDatagramBytesMax, std::byte{0x5a});
    Bytes too_large(runtime::kDatagramBytesMax + 1, std::byte{0x5a});
    results.push_back(socket->send_to(Address{"n1", kPortA}, too_large).code());
    results.push_back(socket->send_to(Address{"n1", kPortA}, largest).code());
    (void)runtime.sleep_for(std::chrono::seconds(1));
  });
  cluster.start_all();
  cluster.world.run_until(1 * kS);

  EXPECT_EQ(results, (std::vector<Errc>{Errc::message_too_large, Errc::ok}));
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].payload.size(), runtime::kDatagramBytesMax);
  EXPECT_EQ(cluster.network().stats().datagrams_sent, 1u);  // the refused one never left
}

TEST(SimNetworkDatagram, DatagramToUnboundPortIsDroppedAndCounted) {
  std::vector<Received> received;
  Cluster cluster(2);
  cluster.on(0, receive_into(kPortA, received));
  cluster.on(1, send_all(kPortB, Address{"n1", kPortA + 1}, {"nobody"}));
  cluster.start_all();
  cluster.world.run_until(1 * kS);

  EXPECT_TRUE(received.empty());
  EXPECT_EQ(cluster.network().stats().datagrams_sent, 1u);
  EXPECT_EQ(cluster.network().stats().datagrams_delivered, 0u);
  EXPECT_EQ(cluster.network().stats().datagrams_overflowed, 1u);
}

TEST(SimNetworkDatagram, BindingABoundPortFails) {
  std::vector<Errc> results;
  Cluster cluster(1);
  cluster.on(0, [&results](SimRuntime& runtime) {
    auto first = runtime.bind_datagram(kPortA);
    auto second = runtime.bind_datagram(kPortA);
    results.push_back(first.code());
    results.push_back(second.code());
    first.value()->close();
    results.push_back(runtime.bind_datagram(kPortA).code());  // free again after close
  });
  cluster.start_all();
  EXPECT_EQ(results, (std::vector<Errc>{Errc::ok, Errc::address_in_use, Errc::ok}));
}

// --- streams -----------------------------------------------------------------------------------

Bytes pattern(size_t size, uint8_t salt = 0) {
  Bytes bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((i * 131 + i / 251 + salt) & 0xff);
  return bytes;
}

// What a server fiber saw on the one stream it accepted.
struct ServerLog {
  bool accepted = false;
  std::string peer;
  Bytes data;
  std::vector<std::pair<int64_t, size_t>> reads;  // (time, bytes) of every non-empty read
  bool eof = false;
  std::optional<Errc> error;
  int64_t ended_at_ns = -1;
};

// Listens, accepts one stream, and reads it (echoing back when `echo`) until EOF or an error.
// With start_reading_at_ns > 0 it waits until that global time before the first read.
Body serve_one(ServerLog& log, bool echo = false, int64_t start_reading_at_ns = 0) {
  return [&log, echo, start_reading_at_ns](SimRuntime& runtime) {
    auto listening = runtime.listen(kStreamPort);
    ASSERT_TRUE(listening.ok()) << listening.status().to_string();
    auto accepted = listening.value()->accept();
    ASSERT_TRUE(accepted.ok()) << accepted.status().to_string();
    std::unique_ptr<runtime::Stream> stream = std::move(accepted).value();
    log.accepted = true;
    log.peer = stream->peer_address().host;
    if (start_reading_at_ns > runtime.world().now_ns()) {
      ASSERT_TRUE(runtime.sleep_for(runtime::Duration(start_reading_at_ns - runtime.world().now_ns())).ok());
    }
    Bytes buffer(8192);
    while (true) {
      auto got = stream->read(buffer);
      log.ended_at_ns = runtime.world().now_ns();
      if (!got.ok()) {
        log.error = got.code();
        return;
      }
      if (*got == 0) {
        log.eof = true;
        return;
      }
      log.reads.emplace_back(runtime.world().now_ns(), *got);
      append_bytes(log.data, ByteSpan(buffer).first(*got));
      if (echo && !stream->write(ByteSpan(buffer).first(*got)).ok()) return;
    }
  };
}

struct ClientLog {
  std::optional<Errc> connect_result;
  int64_t connect_started_ns = -1;
  int64_t connect_ended_ns = -1;
  std::string local;
  std::string peer;
  size_t bytes_written = 0;
  std::vector<int64_t> write_done_ns;
  std::optional<Errc> write_error;
  int64_t write_error_ns = -1;
  Bytes echoed;
  std::optional<Errc> read_error;
  bool finished = false;
};

std::unique_ptr<runtime::Stream> connect_logged(SimRuntime& runtime, ClientLog& log, NodeIndex server,
                                                runtime::Duration timeout = std::chrono::seconds(1)) {
  log.connect_started_ns = runtime.world().now_ns();
  auto connected = runtime.connect(Address{host_of(server), kStreamPort}, timeout);
  log.connect_ended_ns = runtime.world().now_ns();
  log.connect_result = connected.code();
  if (!connected.ok()) return nullptr;
  std::unique_ptr<runtime::Stream> stream = std::move(connected).value();
  log.local = stream->local_address().to_string();
  log.peer = stream->peer_address().to_string();
  return stream;
}

// Connects after 10 ms and writes `data` in `chunk`-byte writes, `gap_ns` apart; closes the
// stream at the end when `close`, else keeps it open (blocked in a read) until the test ends.
Body write_chunks(ClientLog& log, NodeIndex server, Bytes data, size_t chunk, int64_t gap_ns, bool close) {
  return [&log, server, data, chunk, gap_ns, close](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    std::unique_ptr<runtime::Stream> stream = connect_logged(runtime, log, server);
    if (!stream) return;
    for (size_t offset = 0; offset < data.size(); offset += chunk) {
      const size_t count = std::min(chunk, data.size() - offset);
      runtime::Status written = stream->write(ByteSpan(data).subspan(offset, count));
      if (!written.ok()) {
        log.write_error = written.code();
        log.write_error_ns = runtime.world().now_ns();
        return;
      }
      log.bytes_written += count;
      log.write_done_ns.push_back(runtime.world().now_ns());
      if (gap_ns > 0 && !runtime.sleep_for(runtime::Duration(gap_ns)).ok()) return;
    }
    log.finished = true;
    if (close) {
      stream->close();
      return;
    }
    Bytes buffer(64);
    auto got = stream->read(buffer);
    if (!got.ok()) log.read_error = got.code();
  };
}

TEST(SimNetworkStream, ConnectAcceptAndEcho) {
  ServerLog server;
  ClientLog client;
  const Bytes message = pattern(100'000);
  Cluster cluster(2);
  cluster.on(1, serve_one(server, /*echo=*/true));
  cluster.on(0, [&client, &message](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    std::unique_ptr<runtime::Stream> stream = connect_logged(runtime, client, 1);
    ASSERT_NE(stream, nullptr);
    ASSERT_TRUE(stream->write(message).ok());
    Bytes echoed(message.size());
    runtime::Status read = stream->read_exact(echoed);
    ASSERT_TRUE(read.ok()) << read.to_string();
    client.echoed = std::move(echoed);
    stream->close();
    client.finished = true;
  });
  cluster.start_all();
  cluster.world.run_until(5 * kS);

  EXPECT_EQ(client.connect_result, Errc::ok);
  EXPECT_EQ(client.peer, "n2:7000");
  EXPECT_EQ(client.local.substr(0, 3), "n1:");
  EXPECT_EQ(server.peer, "n1");
  ASSERT_TRUE(client.finished);
  EXPECT_TRUE(client.echoed == message);
  EXPECT_TRUE(server.data == message);
  EXPECT_TRUE(server.eof);
  EXPECT_FALSE(server.error.has_value());
  EXPECT_EQ(cluster.network().stats().streams_connected, 1u);
  EXPECT_EQ(cluster.network().stats().streams_reset, 0u);
}

TEST(SimNetworkStream, ConnectWithoutListenerIsRefused) {
  ClientLog client;
  Cluster cluster(2);
  cluster.on(0, write_chunks(client, 1, pattern(10), 10, 0, true));
  cluster.start_all();
  cluster.world.run_until(2 * kS);

  EXPECT_EQ(client.connect_result, Errc::connection_refused);
  // A refusal is a round trip, not a timeout.
  EXPECT_LE(client.connect_ended_ns - client.connect_started_ns, 20 * kMs);
  EXPECT_EQ(cluster.network().stats().streams_refused, 1u);
}

TEST(SimNetworkStream, ConnectWhilePartitionedIsUnreachable) {
  ServerLog server;
  ClientLog client;
  Cluster cluster(2);
  cluster.on(1, serve_one(server));
  cluster.on(0, [&client](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    (void)connect_logged(runtime, client, 1, std::chrono::milliseconds(500));
  });
  cluster.network().partition({0}, {1}, true);
  cluster.start_all();
  cluster.world.run_until(3 * kS);

  EXPECT_EQ(client.connect_result, Errc::unreachable);
  EXPECT_EQ(client.connect_ended_ns - client.connect_started_ns, 500 * kMs);
  EXPECT_FALSE(server.accepted);
}

TEST(SimNetworkStream, ConnectWithReturnPathBlockedIsUnreachable) {
  ServerLog server;
  ClientLog client;
  Cluster cluster(2);
  cluster.on(1, serve_one(server));
  cluster.on(0, [&client](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    (void)connect_logged(runtime, client, 1, std::chrono::milliseconds(500));
  });
  cluster.network().partition({1}, {0}, false);  // the SYN passes, the SYN-ACK does not
  cluster.start_all();
  cluster.world.run_until(3 * kS);

  EXPECT_EQ(client.connect_result, Errc::unreachable);
  EXPECT_EQ(cluster.network().stats().streams_connected, 0u);
  // The half-open connection the server accepted is reset, never an EOF.
  EXPECT_FALSE(server.eof);
  if (server.accepted) {
    EXPECT_EQ(server.error, Errc::connection_reset);
  }
}

TEST(SimNetworkStream, PartitionStallsAStreamThatResumesInOrderAfterHeal) {
  ServerLog server;
  ClientLog client;
  const Bytes data = pattern(200 * 2048, 3);
  Cluster cluster(2);
  cluster.on(1, serve_one(server));
  // 2 KiB every 20 ms: writes run from 10 ms to about 4 s.
  cluster.on(0, write_chunks(client, 1, data, 2048, 20 * kMs, /*close=*/true));
  cluster.start_all();

  cluster.world.run_until(1 * kS);
  cluster.network().partition({0}, {1}, true);
  const size_t delivered_at_partition = server.data.size();
  EXPECT_GT(delivered_at_partition, 0u);
  cluster.world.run_until(3 * kS);
  EXPECT_EQ(server.data.size(), delivered_at_partition) << "bytes crossed a partition";
  for (const auto& [at_ns, bytes] : server.reads) {
    EXPECT_TRUE(at_ns <= 1 * kS || at_ns > 3 * kS) << bytes << " bytes read at " << at_ns;
  }
  EXPECT_GT(cluster.network().stats().stream_stalls, 0u);
  EXPECT_GT(client.bytes_written, delivered_at_partition);  // the writer went on meanwhile

  cluster.network().heal();
  cluster.world.run_until(10 * kS);
  ASSERT_TRUE(client.finished);
  EXPECT_EQ(server.data.size(), data.size());
  EXPECT_TRUE(server.data == data) << "bytes lost, duplicated or reordered across the stall";
  EXPECT_TRUE(server.eof);
  EXPECT_FALSE(server.error.has_value());
  EXPECT_EQ(cluster.network().stats().streams_reset, 0u);
  // The backlog arrives right after the heal, not after the stall limit.
  auto first_after = std::find_if(server.reads.begin(), server.reads.end(), [](const auto& read) { return read.first > 3 * kS; });
  ASSERT_NE(first_after, server.reads.end());
  EXPECT_LE(first_after->first, 3 * kS + cluster.network().config().stream_retry_interval.count() + 10 * kMs);
}

TEST(SimNetworkStream, PartitionLongerThanStallLimitResetsBothEnds) {
  WorldConfig config = config_with_seed();
  config.network.stream_stall_reset_after = std::chrono::seconds(1);
  ServerLog server;
  ClientLog client;
  Cluster cluster(2, config);
  cluster.on(1, serve_one(server));
  cluster.on(0, write_chunks(client, 1, pattern(1000 * 1024), 1024, 50 * kMs, true));
  cluster.start_all();

  cluster.world.run_until(500 * kMs);
  cluster.network().partition({0}, {1}, true);
  cluster.world.run_until(5 * kS);

  EXPECT_EQ(client.connect_result, Errc::ok);
  EXPECT_EQ(client.write_error, Errc::connection_reset);
  EXPECT_EQ(server.error, Errc::connection_reset);
  EXPECT_FALSE(server.eof);
  // Reset once the stall lasted stream_stall_reset_after, not earlier.
  EXPECT_GE(client.write_error_ns, 1500 * kMs);
  EXPECT_LE(client.write_error_ns, 1700 * kMs);
  EXPECT_GE(server.ended_at_ns, 1500 * kMs);
  EXPECT_EQ(cluster.network().stats().streams_reset, 1u);
}

TEST(SimNetworkStream, CrashOfTheClientResetsTheServersStream) {
  ServerLog server;
  ClientLog client;
  const Bytes data = pattern(10 * 1024, 9);
  Cluster cluster(2);
  cluster.on(1, serve_one(server));
  // Writes everything, then blocks in a read with the stream open.
  cluster.on(0, write_chunks(client, 1, data, 1024, 0, /*close=*/false));
  cluster.start_all();
  cluster.world.run_until(1 * kS);
  ASSERT_TRUE(client.finished);
  EXPECT_TRUE(server.data == data);
  EXPECT_FALSE(server.error.has_value());

  cluster.world.crash(0);  // unwinding the client's fiber destroys its stream: no FIN may leak out
  cluster.world.run_until(2 * kS);
  EXPECT_EQ(server.error, Errc::connection_reset);
  EXPECT_FALSE(server.eof) << "a crash looked like an orderly close";
  EXPECT_LE(server.ended_at_ns, 1 * kS + 10 * kMs);
}

TEST(SimNetworkStream, CrashOfTheServerResetsTheClientsStream) {
  ServerLog server;
  ClientLog client;
  Cluster cluster(2);
  cluster.on(1, serve_one(server));
  cluster.on(0, write_chunks(client, 1, pattern(1024), 1024, 0, /*close=*/false));
  cluster.start_all();
  cluster.world.run_until(1 * kS);
  ASSERT_TRUE(client.finished);
  EXPECT_FALSE(client.read_error.has_value());

  cluster.world.crash(1);
  cluster.world.run_until(2 * kS);
  EXPECT_EQ(client.read_error, Errc::connection_reset);
}

TEST(SimNetworkStream, OrderlyCloseGivesThePeerEofAfterAllData) {
  ServerLog server;
  ClientLog client;
  const Bytes data = pattern(300 * 1024, 5);
  std::vector<Errc> after_close;
  std::vector<size_t> second_reads;
  Cluster cluster(2);
  cluster.on(1, [&server, &second_reads](SimRuntime& runtime) {
    auto listener = std::move(runtime.listen(kStreamPort)).value();
    auto stream = std::move(listener->accept()).value();
    Bytes buffer(4096);
    while (true) {
      auto got = stream->read(buffer);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      if (*got == 0) break;
      append_bytes(server.data, ByteSpan(buffer).first(*got));
    }
    server.eof = true;
    auto again = stream->read(buffer);  // EOF is sticky
    ASSERT_TRUE(again.ok());
    second_reads.push_back(*again);
  });
  cluster.on(0, [&client, &data, &after_close](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    std::unique_ptr<runtime::Stream> stream = connect_logged(runtime, client, 1);
    ASSERT_NE(stream, nullptr);
    ASSERT_TRUE(stream->write(data).ok());
    stream->close();
    after_close.push_back(stream->write(as_bytes("late")).code());
    Bytes buffer(16);
    after_close.push_back(stream->read(buffer).code());
  });
  cluster.start_all();
  cluster.world.run_until(5 * kS);

  EXPECT_TRUE(server.eof);
  EXPECT_EQ(server.data.size(), data.size());
  EXPECT_TRUE(server.data == data);
  EXPECT_EQ(second_reads, std::vector<size_t>{0});
  EXPECT_EQ(after_close, (std::vector<Errc>{Errc::closed, Errc::closed}));
  EXPECT_EQ(cluster.network().stats().streams_reset, 0u);
}

TEST(SimNetworkStream, WriterBlocksOnAFullWindowUntilThePeerReads) {
  constexpr size_t kWindow = 16 * 1024;
  constexpr size_t kChunk = 4 * 1024;
  WorldConfig config = config_with_seed();
  config.network.stream_window_bytes_max = kWindow;
  ServerLog server;
  ClientLog client;
  const Bytes data = pattern(64 * 1024, 11);
  Cluster cluster(2, config);
  cluster.on(1, serve_one(server, false, /*start_reading_at_ns=*/2 * kS));
  cluster.on(0, write_chunks(client, 1, data, kChunk, 0, true));
  cluster.start_all();

  cluster.world.run_until(1900 * kMs);
  EXPECT_EQ(client.bytes_written, kWindow) << "the writer ignored the window";
  EXPECT_TRUE(server.data.empty());
  EXPECT_FALSE(client.finished);

  cluster.world.run_until(5 * kS);
  ASSERT_TRUE(client.finished);
  EXPECT_TRUE(server.data == data);
  EXPECT_TRUE(server.eof);
  ASSERT_EQ(client.write_done_ns.size(), data.size() / kChunk);
  EXPECT_LT(client.write_done_ns[kWindow / kChunk - 1], 1 * kS);
  EXPECT_GE(client.write_done_ns[kWindow / kChunk], 2 * kS);  // released by the reader's acks
}

TEST(SimNetworkStream, WriteIntoAFullWindowTimesOutAtItsDeadline) {
  WorldConfig config = config_with_seed();
  config.network.stream_window_bytes_max = 1024;
  ServerLog server;
  std::vector<Errc> results;
  int64_t timed_out_at = -1;
  Cluster cluster(2, config);
  cluster.on(1, serve_one(server, false, /*start_reading_at_ns=*/10 * kS));
  cluster.on(0, [&](SimRuntime& runtime) {
    ASSERT_TRUE(runtime.sleep_for(std::chrono::milliseconds(10)).ok());
    auto stream = std::move(runtime.connect(Address{"n2", kStreamPort}, std::chrono::seconds(1))).value();
    results.push_back(stream->write(pattern(1024)).code());
    results.push_back(stream->write(pattern(1), runtime.now() + std::chrono::milliseconds(300)).code());
    timed_out_at = runtime.world().now_ns();
    (void)runtime.sleep_for(std::chrono::seconds(20));
  });
  cluster.start_all();
  cluster.world.run_until(3 * kS);

  EXPECT_EQ(results, (std::vector<Errc>{Errc::ok, Errc::timeout}));
  EXPECT_GE(timed_out_at, 310 * kMs);
  EXPECT_LE(timed_out_at, 340 * kMs);
}

}  // namespace
}  // namespace sluice::sim

namespace sluice::sim {
namespace {

// A SWIM-framed datagram: the 8-byte header and `body`.
std::string swim_datagram(const std::string& body) {
  std::string datagram(SWIM_HEADER_BYTES, '\0');
  swim_header_write(reinterpret_cast<uint8_t*>(datagram.data()), static_cast<uint16_t>(body.size()));
  return datagram + body;
}

TEST(SimNetworkDatagram, MembershipPortRunsTheXdpClassifier) {
  Cluster cluster(2);
  cluster.network().config().membership_port = kPortB;
  std::vector<Received> membership, other;
  cluster.on(1, receive_into(kPortB, membership));
  cluster.on(1, receive_into(kPortA, other));
  const std::vector<std::string> payloads = {swim_datagram("hello"), "not swim at all", swim_datagram("x").substr(0, 6)};
  cluster.on(0, send_all(kPortA, Address{"n2", kPortB}, payloads));
  cluster.on(0, send_all(kPortB, Address{"n2", kPortA}, {"anything goes here"}));
  cluster.start_all();
  cluster.world.run_until(kS);

  ASSERT_EQ(membership.size(), 1u);
  EXPECT_EQ(membership[0].payload, payloads[0]);
  EXPECT_EQ(cluster.network().stats().datagrams_dropped_classifier, 2u);
  ASSERT_EQ(other.size(), 1u);  // other ports are not classified
}

}  // namespace
}  // namespace sluice::sim
