// The client library (client/client.h, producer.h, consumer.h) against simulated clusters of
// whole nodes (tests/server/controller_rig.h): the real HTTP server, pipeline, forwarding and
// replication under the simulator, the real library in a fiber of the 4th node.
// - admin calls and a produce/consume round trip: every delivery's offset is where the consumer
//   finds the record;
// - a partition leader crashes while the producer writes: nothing acknowledged is lost, nothing
//   is duplicated, each partition keeps send order;
// - a full buffer blocks send() (or fails it, per the setting) and a delivery timeout fails the
//   records of a partition that cannot be reached.
// Faults around one partition or one broker (isolation, a consumer following a leader change, a
// retention gap): client_faults_sim_test.cc.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>

#include "client/client.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "client/resolver.h"
#include "tests/client/client_sim_helpers.h"

namespace sluice::client {
namespace {

using namespace sim_testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ClientSim, AdminCallsAndAProduceConsumeRoundTrip) {
  Rig rig(21, cluster_options());
  rig.wait_all_alive();
  bool done = rig.run_on(kClientHost, [&] {
    Client client(*rig.world.runtime(kClientHost), client_config(rig));
    Result<TopicInfo> created = client.create_topic(TopicSpec{"orders", 3, 3, {}});
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    EXPECT_EQ(created->partitions.size(), 3u);
    Result<std::vector<TopicSummary>> topics = client.list_topics();
    ASSERT_TRUE(topics.ok());
    ASSERT_EQ(topics->size(), 1u);
    EXPECT_EQ((*topics)[0].name, "orders");
    EXPECT_EQ(client.create_topic(TopicSpec{"orders", 3, 3, {}}).code(), Errc::topic_exists);
    EXPECT_EQ(client.describe_topic("nope").code(), Errc::unknown_topic);
    Result<ClusterInfo> cluster = client.cluster();
    ASSERT_TRUE(cluster.ok());
    EXPECT_EQ(cluster->members.size(), 4u);

    Producer producer(client, ProducerConfig{});
    Acks acks;
    producer.on_delivery([&](const Delivery& delivery) { acks.by_value[acks.value_of_id[delivery.record_id]] = delivery; });
    ASSERT_TRUE(producer.start().ok());
    for (int i = 0; i < 300; ++i) {
      const uint32_t partition = static_cast<uint32_t>(i % 3);
      const std::string value = std::to_string(partition) + "-" + std::to_string(i);
      Result<uint64_t> id = producer.send("orders", OutRecord{std::nullopt, to_bytes(value), partition});
      ASSERT_TRUE(id.ok()) << id.status().to_string();
      acks.value_of_id[*id] = value;
    }
    ASSERT_TRUE(producer.flush(client.runtime().now() + seconds(20)).ok());
    producer.close(client.runtime().now() + seconds(1));
    ASSERT_EQ(acks.by_value.size(), 300u);
    for (const auto& [value, delivery] : acks.by_value) EXPECT_TRUE(delivery.status.ok()) << value << ": " << delivery.status.to_string();
    // Batching: far fewer requests than records.
    EXPECT_LT(producer.stats().requests, 150u);
    const std::vector<ConsumedRecord> records = consume_all(client, "orders", 300);
    EXPECT_EQ(records.size(), 300u);
    std::cerr << "requests=" << producer.stats().requests << " records=" << records.size() << " metadata=" << client.resolver().core().requests_started("orders") << " now_ms=" << client.runtime().now().time_since_epoch().count() / 1000000 << "\n";
    check_round_trip(acks, records);
    // One metadata request for the topic served the producer and the consumer.
    EXPECT_LE(client.resolver().core().requests_started("orders"), 2u);
    client.close();
  }, 120'000);
  EXPECT_TRUE(done);
}

TEST(ClientSim, ALeaderCrashMidFlightLosesNothingAndDuplicatesNothing) {
  for (uint64_t seed : {5, 17}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rig rig(seed, cluster_options());
    rig.wait_all_alive();
    Acks acks;
    bool created = false;
    std::unique_ptr<Client> client;
    std::unique_ptr<Producer> producer;
    int sent = 0;
    bool producing_done = false;
    rig.world.runtime(kClientHost)->spawn("producer", [&] {
      client = std::make_unique<Client>(*rig.world.runtime(kClientHost), client_config(rig));
      created = client->create_topic(TopicSpec{"events", 3, 3, {}}).ok();
      producer = std::make_unique<Producer>(*client, ProducerConfig{});
      producer->on_delivery([&](const Delivery& delivery) { acks.by_value[acks.value_of_id[delivery.record_id]] = delivery; });
      ASSERT_TRUE(producer->start().ok());
      for (; sent < 900; ++sent) {
        const uint32_t partition = static_cast<uint32_t>(sent % 3);
        const std::string value = std::to_string(partition) + "-" + std::to_string(sent);
        Result<uint64_t> id = producer->send("events", OutRecord{std::nullopt, to_bytes(value), partition});
        ASSERT_TRUE(id.ok());
        acks.value_of_id[*id] = value;
        (void)client->runtime().sleep_for(milliseconds(5));
      }
      EXPECT_TRUE(producer->flush(client->runtime().now() + seconds(60)).ok());
      producing_done = true;
    });
    ASSERT_TRUE(rig.run_until([&] { return sent >= 300; }, 30'000));
    ASSERT_TRUE(created);
    // Crash the leader of partition 0 (not the client's host) while records are in flight.
    const TopicId topic = rig.controller(0)->metadata().topic("events")->id;
    std::optional<sim::NodeIndex> leader = rig.partition_leader(PartitionId{topic, 0});
    ASSERT_TRUE(leader.has_value());
    if (*leader == kClientHost) leader = 0;
    rig.world.crash(*leader);
    rig.run_ms(3000);
    rig.world.start(*leader);
    ASSERT_TRUE(rig.run_until([&] { return producing_done; }, 90'000));
    EXPECT_EQ(acks.by_value.size(), 900u);
    size_t failed = 0;
    for (const auto& [value, delivery] : acks.by_value) failed += delivery.status.ok() ? 0 : 1;
    EXPECT_EQ(failed, 0u);  // within delivery_timeout every record gets through
    std::vector<ConsumedRecord> records;
    ASSERT_TRUE(rig.run_on(kClientHost, [&] {
      producer->close(client->runtime().now() + seconds(1));
      records = consume_all(*client, "events", 900);
    }, 60'000));
    EXPECT_EQ(records.size(), 900u);
    check_round_trip(acks, records);
    EXPECT_GT(producer->stats().core.retries, 0u);  // the crash was felt
    rig.run_on(kClientHost, [&] {
      producer.reset();
      client.reset();
    });
  }
}

TEST(ClientSim, AFullBufferBlocksOrFailsSendAndADeliveryTimeoutFailsUnreachableRecords) {
  Rig rig(8, cluster_options());
  rig.wait_all_alive();
  bool done = rig.run_on(kClientHost, [&] {
    Client client(*rig.world.runtime(kClientHost), client_config(rig));
    ASSERT_TRUE(client.create_topic(TopicSpec{"t", 1, 3, {}}).ok());
    ProducerConfig config;
    config.limits.buffer_bytes_max = 4 * (100 + kRecordOverheadBytes);
    config.limits.batch_bytes_max = config.limits.buffer_bytes_max;
    config.limits.linger = seconds(1);  // nothing leaves on its own: the buffer fills
    config.block_when_full = false;
    Producer producer(client, config);
    ASSERT_TRUE(producer.start().ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(producer.send("t", OutRecord{std::nullopt, Bytes(100), 0}).ok());
    EXPECT_EQ(producer.send("t", OutRecord{std::nullopt, Bytes(100), 0}).code(), Errc::buffer_full);
    producer.close(client.runtime().now() + seconds(10));

    config.block_when_full = true;
    Producer blocking(client, config);
    ASSERT_TRUE(blocking.start().ok());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(blocking.send("t", OutRecord{std::nullopt, Bytes(100), 0}).ok());
    // A full buffer is a full batch, sent at once: the fifth send blocks until its
    // acknowledgement frees the space.
    EXPECT_EQ(blocking.undelivered(), 4u);
    const rt::Instant before = client.runtime().now();
    EXPECT_TRUE(blocking.send("t", OutRecord{std::nullopt, Bytes(100), 0}, before + seconds(5)).ok());
    EXPECT_GT(client.runtime().now(), before);
    EXPECT_EQ(blocking.undelivered(), 1u);
    blocking.close(client.runtime().now() + seconds(10));
    client.close();
  }, 60'000);
  EXPECT_TRUE(done);

  // Every node but the client's host down: the records fail with delivery_timeout, not hang.
  std::vector<Delivery> deliveries;
  for (sim::NodeIndex i = 0; i < 3; ++i) rig.world.crash(i);
  done = rig.run_on(kClientHost, [&] {
    Client client(*rig.world.runtime(kClientHost), client_config(rig));
    ProducerConfig config;
    config.limits.idempotent = false;  // no controller to ask for an id
    config.limits.delivery_timeout = seconds(3);
    config.request_timeout = seconds(1);
    Producer producer(client, config);
    producer.on_delivery([&](const Delivery& delivery) { deliveries.push_back(delivery); });
    ASSERT_TRUE(producer.start().ok());
    ASSERT_TRUE(producer.send("t", OutRecord{std::nullopt, Bytes(10), 0}).ok());
    (void)producer.flush(client.runtime().now() + seconds(10));
    producer.close(client.runtime().now());
    client.close();
  }, 30'000);
  EXPECT_TRUE(done);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].status.code(), Errc::delivery_timeout);
}

}  // namespace
}  // namespace sluice::client
