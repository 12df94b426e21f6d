// The producer's routes against hand-written brokers on the simulated network: node 0 answers
// the metadata and produce requests (the first metadata answer names node 1 as the partition's
// leader, later ones name node 0), node 1 accepts connections and reads requests but answers
// none, node 2 runs the client library.
// - A leader that answers nothing in time: the request times out, and the route is resolved
//   again, so the record is delivered through the leader the next answer names. Before, a timeout
//   kept the route, and the producer sent to the silent node until the delivery timeout
//   (cluster-swarm-leaders seed 1692: a node whose replica could not open was still named
//   leader, and held each produce request until the client gave up).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "client/producer.h"
#include "node/http/server.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/world_config.h"

namespace sluice::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint16_t kPort = 8080;
constexpr sim::NodeIndex kBroker = 0;
constexpr sim::NodeIndex kSilent = 1;
constexpr sim::NodeIndex kClientNode = 2;

// What the answering broker saw, kept outside the nodes.
struct BrokerLog {
  int metadata_requests = 0;
  int produce_requests = 0;
  int silent_accepted = 0;
  std::string broker_api, silent_api;
};

http::HttpResponse json_response(const nlohmann::json& body) {
  http::HttpResponse response;
  response.headers.push_back(http::HttpHeader{"content-type", "application/json"});
  response.body = to_bytes(body.dump());
  return response;
}

// Topic "t", one partition: its leader is the silent node in the first metadata answer, this
// broker in every later one. Every produce is acknowledged at the next offset.
http::HttpResponse answer(BrokerLog& log, const http::HttpRequest& request) {
  if (request.method == "GET" && request.target == "/v1/topics/t/metadata") {
    const bool first = log.metadata_requests++ == 0;
    const nlohmann::json partition{{"partition", 0}, {"leader", first ? 2 : 1}, {"leader_api", first ? log.silent_api : log.broker_api}};
    return json_response(nlohmann::json{{"id", 1}, {"partitions", nlohmann::json::array({partition})}});
  }
  if (request.method == "POST" && request.target.starts_with("/v1/topics/t/records")) {
    const int offset = log.produce_requests++;
    return json_response(nlohmann::json{{"partition", 0}, {"base_offset", offset}, {"last_offset", offset}, {"duplicate", false}});
  }
  http::HttpResponse missing;
  missing.status = 404;
  return missing;
}

struct BrokerApp final : sim::NodeApp {
  BrokerApp(sim::SimRuntime& runtime, BrokerLog& log)
      : server(runtime, config(), [&log](const http::HttpRequest& request, const http::ConnectionInfo&, rt::Instant) {
          return answer(log, request);
        }) {
    EXPECT_TRUE(server.start().ok());
  }
  static http::HttpServerConfig config() {
    http::HttpServerConfig config;
    config.port = kPort;
    return config;
  }
  http::HttpServer server;
};

// Accepts, reads whatever comes, never writes: a node that takes requests and answers none.
struct SilentApp final : sim::NodeApp {
  SilentApp(sim::SimRuntime& runtime, BrokerLog& log) {
    auto listener = runtime.listen(kPort);
    EXPECT_TRUE(listener.ok());
    runtime.spawn("silent.accept", [&runtime, &log, listener = std::move(*listener)]() mutable {
      for (;;) {
        auto stream = listener->accept();
        if (!stream.ok()) return;
        ++log.silent_accepted;
        runtime.spawn("silent.conn", [&runtime, stream = std::move(*stream)]() mutable {
          std::byte buffer[1024];
          for (;;) {
            auto read = stream->read(buffer, runtime.now() + seconds(600));
            if (!read.ok() || *read == 0) return;
          }
        });
      }
    });
  }
};

struct Idle final : sim::NodeApp {};

TEST(ProducerRoutes, ALeaderThatAnswersNothingInTimeIsResolvedAgain) {
  BrokerLog log;
  sim::World world(testing::quiet_world(1));
  for (int i = 0; i < 3; ++i) world.add_node();
  log.broker_api = world.host(kBroker) + ":" + std::to_string(kPort);
  log.silent_api = world.host(kSilent) + ":" + std::to_string(kPort);
  world.set_app_factory([&log](sim::SimRuntime& runtime) -> std::unique_ptr<sim::NodeApp> {
    if (runtime.node() == kBroker) return std::make_unique<BrokerApp>(runtime, log);
    if (runtime.node() == kSilent) return std::make_unique<SilentApp>(runtime, log);
    return std::make_unique<Idle>();
  });
  for (int i = 0; i < 3; ++i) world.start(i);

  bool done = false;
  Status flushed(Errc::timeout, "not flushed");
  std::vector<Delivery> deliveries;
  ProducerStats stats;
  sim::SimRuntime& runtime = *world.runtime(kClientNode);
  auto produce = [&] {
    ClientConfig client_config;
    client_config.brokers.push_back(rt::Address{world.host(kBroker), kPort});
    Client client(runtime, client_config);
    ProducerConfig config;
    config.limits.idempotent = false;
    config.limits.delivery_timeout = seconds(30);
    config.request_timeout = seconds(1);
    Producer producer(client, config);
    ASSERT_TRUE(producer.start().ok());
    producer.on_delivery([&](const Delivery& delivery) { deliveries.push_back(delivery); });
    ASSERT_TRUE(producer.send("t", OutRecord{std::nullopt, to_bytes("hello"), 0}).ok());
    flushed = producer.flush(runtime.now() + seconds(20));
    stats = producer.stats();
    producer.close(runtime.now() + seconds(1));
    done = true;
  };
  world.schedule(world.now_ns(), kClientNode, "test.spawn", 0, [&] { runtime.spawn("producer", produce); });
  for (int waited_s = 0; !done && waited_s < 60; ++waited_s) world.run_until(world.now_ns() + 1'000'000'000);

  ASSERT_TRUE(done);
  EXPECT_TRUE(flushed.ok()) << flushed.to_string();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_TRUE(deliveries[0].status.ok()) << deliveries[0].status.to_string();
  EXPECT_EQ(log.produce_requests, 1);
  EXPECT_GE(log.silent_accepted, 1);  // the first attempt went to the silent node
  EXPECT_EQ(log.metadata_requests, 2);
  EXPECT_GE(stats.requests_failed, 1u);
}

}  // namespace
}  // namespace sluice::client
