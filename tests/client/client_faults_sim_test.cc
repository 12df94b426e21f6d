// The client library against faults around one broker or one partition, in simulated clusters of
// whole nodes (tests/client/client_sim_helpers.h; issue 14, "Tests"):
// - the network isolates one broker that leads some of a topic's partitions while a producer
//   writes to all of them: the partitions led elsewhere keep being acknowledged, the topic's
//   metadata is asked for far less often than sends fail, and after healing every record is
//   acknowledged once and read back in send order;
// - a partition's leader starves (CPU): the producer goes on through the leader elected meanwhile;
// - a consumer's partition leader crashes (or is isolated) mid-read: the consumer resumes at
//   exactly the next offset through the new leader;
// - retention removed the records a consumer asks for: it gets an explicit Gap, then the records
//   from the partition's start on, never a silent skip.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

int64_t ms_of(rt::Instant instant) { return instant.time_since_epoch().count() / 1'000'000; }

// A producer in a fiber of the client's host: creates `topic`, then sends "<p>-<n>" to partition
// n % partitions every `interval` until `stop`, then flushes. Every delivery is recorded with the
// client's time.
struct ProducingClient {
  ProducingClient(Rig& rig_in, std::string topic_in, uint32_t partitions_in, ClientConfig client_config,
                  ProducerConfig producer_config, milliseconds interval)
      : rig(rig_in), topic(std::move(topic_in)), partitions(partitions_in) {
    rig.world.runtime(kClientHost)->spawn("producer", [this, client_config, producer_config, interval] {
      client = std::make_unique<Client>(*rig.world.runtime(kClientHost), client_config);
      Result<TopicInfo> info = client->create_topic(TopicSpec{topic, partitions, 3, {}});
      ASSERT_TRUE(info.ok()) << info.status().to_string();
      producer = std::make_unique<Producer>(*client, producer_config);
      producer->on_delivery([this](const Delivery& delivery) {
        ++delivery_calls;
        acks.by_value[acks.value_of_id[delivery.record_id]] = delivery;
        if (delivery.status.ok()) acked_at_ms[delivery.partition.partition].push_back(ms_of(client->runtime().now()));
      });
      ASSERT_TRUE(producer->start().ok());
      created = true;
      for (; !stop; ++sent) {
        const uint32_t partition = static_cast<uint32_t>(sent % partitions);
        const std::string value = std::to_string(partition) + "-" + std::to_string(sent);
        Result<uint64_t> id = producer->send(topic, OutRecord{std::nullopt, to_bytes(value), partition});
        ASSERT_TRUE(id.ok()) << id.status().to_string();
        acks.value_of_id[*id] = value;
        (void)client->runtime().sleep_for(interval);
      }
      EXPECT_TRUE(producer->flush(client->runtime().now() + seconds(60)).ok());
      done = true;
    });
  }
  // Deliveries of `partition` acknowledged in [from_ms, to_ms) of the client's clock.
  size_t acked_between(uint32_t partition, int64_t from_ms, int64_t to_ms) const {
    auto found = acked_at_ms.find(partition);
    if (found == acked_at_ms.end()) return 0;
    return static_cast<size_t>(std::count_if(found->second.begin(), found->second.end(),
                                             [&](int64_t at) { return at >= from_ms && at < to_ms; }));
  }
  int64_t now_ms() { return ms_of(rig.world.runtime(kClientHost)->now()); }
  uint64_t metadata_requests() const { return client->resolver().core().requests_started(topic); }
  // Closes and destroys the producer and the client on their node.
  void finish() {
    if (client == nullptr) return;
    stop = true;
    rig.run_on(kClientHost, [&] {
      if (producer != nullptr) producer->close(client->runtime().now() + seconds(1));
      producer.reset();
      client.reset();
    });
  }
  ~ProducingClient() { finish(); }

  Rig& rig;
  std::string topic;
  uint32_t partitions;
  std::unique_ptr<Client> client;
  std::unique_ptr<Producer> producer;
  Acks acks;
  std::map<uint32_t, std::vector<int64_t>> acked_at_ms;
  size_t delivery_calls = 0;
  int sent = 0;
  bool created = false;
  bool stop = false;
  bool done = false;
};

// A connection to a node cut off or starved times out rather than being refused: short waits, so
// a test sees the whole episode.
ClientConfig impatient_client(Rig& rig) {
  ClientConfig config = client_config(rig);
  config.http.connect_timeout = seconds(1);
  return config;
}
ProducerConfig impatient_producer() {
  ProducerConfig config;
  config.request_timeout = seconds(2);
  return config;
}

// Runs `fn` when it goes (teardown that must happen also when an assertion ends a test early).
struct OnExit {
  std::function<void()> fn;
  ~OnExit() { fn(); }
};

// The partitions of `topic` each node leads now (by rig.partition_leader).
std::map<sim::NodeIndex, std::vector<uint32_t>> leaders_of(Rig& rig, const std::string& topic, uint32_t partitions) {
  const TopicId id = rig.controller(0)->metadata().topic(topic)->id;
  std::map<sim::NodeIndex, std::vector<uint32_t>> led;
  for (uint32_t p = 0; p < partitions; ++p) {
    std::optional<sim::NodeIndex> leader = rig.partition_leader(PartitionId{id, p});
    if (leader) led[*leader].push_back(p);
  }
  return led;
}

TEST(ClientFaultsSim, IsolatingOneBrokerStallsOnlyThePartitionsItLeads) {
  // 12 partitions on 4 nodes: each leads about 3, so several partitions fail together.
  constexpr uint32_t kPartitions = 12;
  constexpr int64_t kSendEveryMs = 3;
  constexpr int64_t kIsolationMs = 6000;
  for (uint64_t seed : {3, 11, 25}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rig rig(seed, cluster_options());
    rig.wait_all_alive();
    ProducingClient producing(rig, "spread", kPartitions, impatient_client(rig), impatient_producer(), milliseconds(kSendEveryMs));
    // Writing to every partition, each with a leader.
    ASSERT_TRUE(rig.run_until([&] { return producing.sent >= 300; }, 30'000));
    ASSERT_TRUE(producing.created);
    std::map<sim::NodeIndex, std::vector<uint32_t>> led;
    ASSERT_TRUE(rig.run_until([&] {
      led = leaders_of(rig, "spread", kPartitions);
      size_t leading = 0;
      for (const auto& [node, partitions] : led) leading += partitions.size();
      return leading == kPartitions;
    }, 10'000));
    // The broker to isolate: not the client's host, leading at least two partitions but not all
    // (which one of those depends on the seed).
    std::vector<sim::NodeIndex> candidates;
    for (const auto& [node, partitions] : led) {
      if (node != kClientHost && partitions.size() >= 2 && partitions.size() < kPartitions) candidates.push_back(node);
    }
    ASSERT_FALSE(candidates.empty()) << "no broker leads two partitions but not all";
    const std::optional<sim::NodeIndex> isolated = candidates[seed % candidates.size()];
    const std::vector<uint32_t> affected = led[*isolated];
    auto is_affected = [&](uint32_t p) { return std::find(affected.begin(), affected.end(), p) != affected.end(); };

    const uint64_t metadata_before = producing.metadata_requests();
    const uint64_t failed_before = producing.producer->stats().requests_failed;
    const int64_t isolated_at = producing.now_ms();
    rig.world.network().isolate({*isolated});
    rig.run_ms(kIsolationMs);
    rig.world.network().heal();
    const int64_t healed_at = producing.now_ms();
    const uint64_t metadata_isolated = producing.metadata_requests() - metadata_before;
    const uint64_t failed_isolated = producing.producer->stats().requests_failed - failed_before;
    rig.run_ms(2000);
    producing.stop = true;
    ASSERT_TRUE(rig.run_until([&] { return producing.done; }, 90'000));
    const uint64_t metadata_total = producing.metadata_requests() - metadata_before;
    const uint64_t failed_total = producing.producer->stats().requests_failed - failed_before;

    // (a) Until the isolated node's partitions are acknowledged again (their requests time out,
    // the route is resolved anew once another node leads them), the others keep flowing: each is
    // acknowledged as often as it is written to, with no pause.
    int64_t affected_resumed_at = healed_at;
    for (uint32_t p : affected) {
      const std::vector<int64_t>& times = producing.acked_at_ms[p];
      auto first = std::find_if(times.begin(), times.end(), [&](int64_t at) { return at > isolated_at; });
      if (first != times.end()) affected_resumed_at = std::min(affected_resumed_at, *first);
    }
    const int64_t window_ms = affected_resumed_at - isolated_at;
    std::cerr << "seed " << seed << ": isolated node " << *isolated << " leading " << affected.size() << "/" << kPartitions
              << " partitions; they were acknowledged again " << window_ms << " ms later\n";
    EXPECT_GE(window_ms, 1000) << "the isolated node's partitions were acknowledged at once: was it isolated?";
    const int64_t written_in_window = window_ms / (kSendEveryMs * kPartitions);  // per partition
    const int64_t written_in_isolation = kIsolationMs / (kSendEveryMs * kPartitions);
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const size_t in_window = producing.acked_between(p, isolated_at, affected_resumed_at);
      const size_t in_isolation = producing.acked_between(p, isolated_at, healed_at);
      // The longest time without an acknowledgement during the isolation.
      int64_t longest_pause = 0;
      int64_t last = isolated_at;
      for (int64_t at : producing.acked_at_ms[p]) {
        if (at <= isolated_at || at >= healed_at) continue;
        longest_pause = std::max(longest_pause, at - last);
        last = at;
      }
      longest_pause = std::max(longest_pause, healed_at - last);
      std::cerr << "  partition " << p << (is_affected(p) ? " (led by the isolated node)" : "") << ": " << in_window
                << " acknowledged before those resumed, " << in_isolation << " during the isolation, longest pause "
                << longest_pause << " ms\n";
      if (is_affected(p)) continue;
      EXPECT_GE(static_cast<int64_t>(in_window), written_in_window * 9 / 10 - 2) << "partition " << p << " stalled";
      EXPECT_GE(static_cast<int64_t>(in_isolation), written_in_isolation * 9 / 10 - 2) << "partition " << p << " stalled";
      EXPECT_LT(longest_pause, 200) << "partition " << p << " paused";
    }

    // (b) The partitions that failed together shared one metadata request: fewer requests than
    // failed partitions, and than failed sends (each failed partition's request timed out, which
    // marked its route stale; a second request comes only when the first answer still named the
    // isolated node).
    std::cerr << "  metadata requests: " << metadata_isolated << " during the isolation, " << metadata_total
              << " in all; failed sends: " << failed_isolated << " during, " << failed_total << " in all\n";
    EXPECT_GE(failed_isolated, affected.size());
    EXPECT_LT(metadata_isolated, affected.size());
    EXPECT_LE(metadata_total, 2u);
    EXPECT_LT(metadata_total, failed_total);

    // (c) Every record acknowledged exactly once, read back once in per-partition send order.
    EXPECT_EQ(producing.delivery_calls, static_cast<size_t>(producing.sent));
    EXPECT_EQ(producing.acks.by_value.size(), static_cast<size_t>(producing.sent));
    size_t failed = 0;
    for (const auto& [value, delivery] : producing.acks.by_value) failed += delivery.status.ok() ? 0 : 1;
    EXPECT_EQ(failed, 0u);
    std::vector<ConsumedRecord> records;
    ASSERT_TRUE(rig.run_on(kClientHost, [&] { records = consume_all(*producing.client, "spread", producing.sent); }, 60'000));
    EXPECT_EQ(records.size(), static_cast<size_t>(producing.sent));
    check_round_trip(producing.acks, records);
    producing.finish();
  }
}

// A partition's leader starves (its events run up to 8 s late): its followers elect another
// leader, and the producer's requests and connects to the starved node time out; the partition
// is acknowledged through the new leader long before the starved node recovers. (A node that
// accepts at once and then answers nothing: producer_routes_sim_test.cc.)
TEST(ClientFaultsSim, AProducerRoutesAroundALeaderThatAnswersNothingInTime) {
  constexpr uint32_t kPartitions = 3;
  constexpr int64_t kStarvedMs = 12'000;
  for (uint64_t seed : {3, 11}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rig rig(seed, cluster_options());
    rig.wait_all_alive();
    ProducingClient producing(rig, "slow", kPartitions, impatient_client(rig), impatient_producer(), milliseconds(5));
    ASSERT_TRUE(rig.run_until([&] { return producing.sent >= 100; }, 30'000));
    std::map<sim::NodeIndex, std::vector<uint32_t>> led;
    ASSERT_TRUE(rig.run_until([&] {
      led = leaders_of(rig, "slow", kPartitions);
      size_t leading = 0;
      for (const auto& [node, partitions] : led) leading += node == kClientHost ? 0 : partitions.size();
      return leading > 0;
    }, 10'000));
    sim::NodeIndex starved = 0;
    for (const auto& [node, partitions] : led) {
      if (node != kClientHost && !partitions.empty()) starved = node;
    }
    const uint32_t partition = led[starved].front();
    const TopicId topic = rig.controller(kClientHost)->metadata().topic("slow")->id;
    const int64_t starved_at = producing.now_ms();
    rig.world.set_cpu_lag(starved, int64_t{8'000} * 1'000'000);
    // Another node leads the partition soon (its followers hear no heartbeat).
    // (The starved node itself still believes it leads: it has not handled the new term yet.)
    ASSERT_TRUE(rig.run_until([&] {
      for (sim::NodeIndex i = 0; i < static_cast<sim::NodeIndex>(rig.nodes()); ++i) {
        const server::Node* node = rig.node(i);
        const partition::Replica* replica = node == nullptr ? nullptr : node->partitions()->replica(PartitionId{topic, partition});
        if (i != starved && replica != nullptr && replica->is_leader()) return true;
      }
      return false;
    }, 10'000));
    rig.run_ms(kStarvedMs - (producing.now_ms() - starved_at));
    const int64_t recovered_at = producing.now_ms();
    // Acknowledged in the second half of the starvation: through the new leader.
    const size_t acked_late = producing.acked_between(partition, starved_at + kStarvedMs / 2, recovered_at);
    std::cerr << "seed " << seed << ": node " << starved << " starved, leading partition " << partition << "; "
              << acked_late << " of its records acknowledged in the second half of the starvation\n";
    EXPECT_GT(acked_late, 0u) << "partition " << partition << " stalled while its old leader starved";
    rig.world.set_cpu_lag(starved, 0);
    producing.stop = true;
    ASSERT_TRUE(rig.run_until([&] { return producing.done; }, 90'000));
    EXPECT_EQ(producing.delivery_calls, static_cast<size_t>(producing.sent));
    producing.finish();
  }
}

// A consumer reading one partition in a fiber of the client's host (polls of at most `max_bytes`)
// until told to stop, or once it has `expected` records. While `paused` it does not poll.
struct ConsumingFiber {
  ConsumingFiber(Rig& rig_in, Client& client, const std::string& topic, uint32_t partition, StartAt from, size_t max_bytes)
      : rig(rig_in) {
    rig.world.runtime(kClientHost)->spawn("consumer", [this, &client, topic, partition, from, max_bytes] {
      ConsumerConfig config;
      config.max_bytes = max_bytes;
      Consumer consumer(client, config);
      EXPECT_TRUE(consumer.assign(topic, partition, from).ok());
      while (!stop && !(expected && records.size() >= *expected)) {
        idle = paused;
        if (paused) {
          (void)client.runtime().sleep_for(milliseconds(10));
          continue;
        }
        Result<PollResult> polled = consumer.poll(client.runtime().now() + seconds(2));
        ++polls;
        if (!polled.ok()) {
          ++poll_errors;
          (void)client.runtime().sleep_for(milliseconds(10));
          continue;
        }
        for (Gap& gap : polled->gaps) {
          gaps.push_back(std::move(gap));
          records_before_gap.push_back(records.size());
        }
        for (ConsumedRecord& record : polled->records) records.push_back(std::move(record));
        position = consumer.position(topic, partition);
      }
      done = true;
    });
  }
  // Stops the fiber (it uses the client and this object) before either goes.
  ~ConsumingFiber() {
    stop = true;
    EXPECT_TRUE(rig.run_until([&] { return done; }, 30'000));
  }

  Rig& rig;
  std::vector<ConsumedRecord> records;
  std::vector<Gap> gaps;
  std::vector<size_t> records_before_gap;  // per gap: how many records had been read before it
  std::optional<uint64_t> position;
  std::optional<size_t> expected;
  size_t polls = 0;
  size_t poll_errors = 0;
  bool paused = false;
  bool idle = false;  // paused, and not in a poll
  bool stop = false;
  bool done = false;
};

TEST(ClientFaultsSim, AConsumerFollowsALeaderChangeAndResumesAtTheNextOffset) {
  struct Case {
    uint64_t seed;
    bool crash;  // else the network isolates the leader (connections time out, not refused)
  };
  for (Case c : {Case{4, true}, Case{13, true}, Case{4, false}, Case{5, false}}) {
    SCOPED_TRACE("seed " + std::to_string(c.seed) + (c.crash ? " crash" : " isolate"));
    Rig rig(c.seed, cluster_options());
    rig.wait_all_alive();
    ClientConfig config = client_config(rig);
    config.http.connect_timeout = seconds(1);
    ProducerConfig producer_config;
    producer_config.request_timeout = seconds(2);
    // Three partitions: the one to read is one whose leader is not the client's host.
    ProducingClient producing(rig, "follow", 3, config, producer_config, milliseconds(4));
    ASSERT_TRUE(rig.run_until([&] { return producing.sent >= 30; }, 30'000));
    // Leaders settled on the preferred ones, so every node's metadata names them.
    const TopicId topic = rig.controller(0)->metadata().topic("follow")->id;
    std::map<sim::NodeIndex, std::vector<uint32_t>> led;
    ASSERT_TRUE(rig.run_until([&] {
      const controller::TopicRecord* record = rig.controller(0)->metadata().topic("follow");
      for (uint32_t p = 0; p < 3; ++p) {
        std::optional<sim::NodeIndex> leader = rig.partition_leader(PartitionId{topic, p});
        if (!leader || server::testing::node_id(*leader) != record->partitions[p].preferred_leader) return false;
      }
      led = leaders_of(rig, "follow", 3);
      return true;
    }, 10'000));
    // The partition to read: one not led by the client's host (which one depends on the seed).
    std::vector<std::pair<uint32_t, sim::NodeIndex>> candidates;
    for (const auto& [node, partitions] : led) {
      for (uint32_t p : partitions) {
        if (node != kClientHost) candidates.emplace_back(p, node);
      }
    }
    ASSERT_FALSE(candidates.empty()) << "the client's host leads every partition";
    const std::optional<uint32_t> partition = candidates[c.seed % candidates.size()].first;
    const sim::NodeIndex old_leader = candidates[c.seed % candidates.size()].second;
    // The reader has a client of its own (its own metadata cache), created now.
    std::unique_ptr<Client> reader;
    OnExit close_reader{[&] { rig.run_on(kClientHost, [&] { reader.reset(); }); }};
    ASSERT_TRUE(rig.run_on(kClientHost, [&] { reader = std::make_unique<Client>(*rig.world.runtime(kClientHost), config); }));

    // Read part of the partition (about 1 KiB per poll), then lose its leader.
    ConsumingFiber consuming(rig, *reader, "follow", *partition, StartAt::earliest(), 1024);
    ASSERT_TRUE(rig.run_until([&] { return consuming.records.size() >= 100; }, 30'000));
    // It reads from the leader (a fetch is served by any replica: reading from a follower would
    // not notice the leader's loss).
    ASSERT_EQ(reader->resolver().core().routes("follow")->partitions[*partition].leader, server::testing::node_id(old_leader));
    const size_t read_before = consuming.records.size();
    const uint64_t position_before = *consuming.position;
    const uint64_t metadata_before = reader->resolver().core().requests_started("follow");
    const int sent_before = producing.sent;
    if (c.crash) {
      rig.world.crash(old_leader);
    } else {
      rig.world.network().isolate({old_leader});
    }
    // Keep producing through the new leader while the old one is away, then bring it back.
    ASSERT_TRUE(rig.run_until([&] {
      std::optional<sim::NodeIndex> now_leading = rig.partition_leader(PartitionId{topic, *partition});
      return now_leading && *now_leading != old_leader;
    }, 10'000));
    rig.run_ms(4000);
    const size_t read_while_away = consuming.records.size() - read_before;
    if (c.crash) {
      rig.world.start(old_leader);
    } else {
      rig.world.network().heal();
    }
    rig.run_ms(2000);
    producing.stop = true;
    ASSERT_TRUE(rig.run_until([&] { return producing.done; }, 60'000));
    // Everything acknowledged on the partition, read by the consumer that was reading all along.
    size_t acknowledged = 0;
    std::map<uint64_t, std::string> value_at;
    for (const auto& [value, delivery] : producing.acks.by_value) {
      EXPECT_TRUE(delivery.status.ok()) << value << ": " << delivery.status.to_string();
      if (delivery.status.ok() && delivery.partition.partition == *partition) {
        ++acknowledged;
        value_at[delivery.offset] = value;
      }
    }
    consuming.expected = acknowledged;
    ASSERT_TRUE(rig.run_until([&] { return consuming.done; }, 30'000)) << consuming.records.size() << " of " << acknowledged << " read";
    std::cerr << "seed " << c.seed << (c.crash ? " crash" : " isolate") << ": partition " << *partition << " led by node "
              << old_leader << "; read " << read_before << " (position " << position_before << ") before, " << read_while_away
              << " while the old leader was away, " << consuming.records.size() << " in all of " << acknowledged
              << "; the reader's metadata requests after the loss: " << reader->resolver().core().requests_started("follow") - metadata_before << "; polls "
              << consuming.polls << "\n";

    // Resumes at exactly the next offset: offsets are 0, 1, 2, ... with no gap and no repeat, and
    // each holds what the producer was told it holds.
    EXPECT_TRUE(consuming.gaps.empty());
    ASSERT_GT(consuming.records.size(), read_before);
    EXPECT_EQ(consuming.records[read_before].offset, position_before) << "not resumed at the next offset";
    for (size_t i = 0; i < consuming.records.size(); ++i) {
      ASSERT_EQ(consuming.records[i].offset, i) << "skipped or repeated at record " << i;
      EXPECT_EQ(text_of(consuming.records[i].value), value_at[i]) << "offset " << i;
    }
    ASSERT_EQ(consuming.records.size(), acknowledged);
    // It did follow: records written after the loss were read while the old leader was away.
    EXPECT_GT(read_while_away, 0u);
    EXPECT_GT(producing.sent, sent_before);
    EXPECT_GT(reader->resolver().core().requests_started("follow"), metadata_before);  // the lost route was resolved again
    consuming.stop = true;
    producing.finish();
  }
}

TEST(ClientFaultsSim, RecordsRemovedByRetentionAreReportedAsAGap) {
  for (uint64_t seed : {6, 19}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rig rig(seed, cluster_options());
    rig.wait_all_alive();
    std::unique_ptr<Client> client;
    std::unique_ptr<Producer> producer;
    // Closes the producer and the client on their node, also when an assertion ends the test early.
    OnExit teardown{[&] {
      rig.run_on(kClientHost, [&] {
        if (producer != nullptr) producer->close(client->runtime().now() + seconds(1));
        producer.reset();
        client.reset();
      });
    }};
    Acks acks;
    int sent = 0;
    // Produces `count` records of about 100 bytes, a few per batch, and waits for their acks.
    auto produce = [&](int count) {
      for (int end = sent + count; sent < end; ++sent) {
        const std::string value = "0-" + std::to_string(sent) + "-" + std::string(90, 'x');
        Result<uint64_t> id = producer->send("aged", OutRecord{std::nullopt, to_bytes(value), 0u});
        ASSERT_TRUE(id.ok());
        acks.value_of_id[*id] = value;
        (void)client->runtime().sleep_for(milliseconds(1));
      }
      EXPECT_TRUE(producer->flush(client->runtime().now() + seconds(20)).ok());
    };
    ASSERT_TRUE(rig.run_on(kClientHost, [&] {
      client = std::make_unique<Client>(*rig.world.runtime(kClientHost), client_config(rig));
      TopicSpec spec{"aged", 1, 3, {}};
      spec.config.segment_bytes = 4096;    // the smallest segment
      spec.config.retention_bytes = 4096;  // keep about one sealed segment
      Result<TopicInfo> created = client->create_topic(spec);
      ASSERT_TRUE(created.ok()) << created.status().to_string();
      producer = std::make_unique<Producer>(*client, ProducerConfig{});
      producer->on_delivery([&](const Delivery& delivery) { acks.by_value[acks.value_of_id[delivery.record_id]] = delivery; });
      ASSERT_TRUE(producer->start().ok());
      produce(60);
    }, 30'000));
    // A consumer that read a little from the start, then fell behind.
    ConsumingFiber behind(rig, *client, "aged", 0, StartAt::earliest(), 512);
    ASSERT_TRUE(rig.run_until([&] { return !behind.records.empty(); }, 10'000));
    behind.paused = true;
    ASSERT_TRUE(rig.run_until([&] { return behind.idle; }, 10'000));
    ASSERT_TRUE(behind.gaps.empty());
    const uint64_t behind_at = *behind.position;
    ASSERT_EQ(behind.records.size(), behind_at);
    ASSERT_TRUE(rig.run_on(kClientHost, [&] { produce(600); }, 60'000));

    // Retention runs on the leader every 5 s (retention_check_interval): wait for its cut to be
    // applied on every replica.
    const TopicId topic = rig.controller(0)->metadata().topic("aged")->id;
    auto start_offset = [&]() -> std::optional<uint64_t> {
      std::optional<uint64_t> start;
      for (sim::NodeIndex i = 0; i < 4; ++i) {
        const partition::Replica* replica = rig.node(i)->partitions()->replica(PartitionId{topic, 0});
        if (replica == nullptr) continue;
        if (start && *start != replica->state().start_offset()) return std::nullopt;
        start = replica->state().start_offset();
      }
      return start;
    };
    const int64_t produced_at_ms = rig.world.now_ns() / 1'000'000;
    ASSERT_TRUE(rig.run_until([&] { return start_offset().value_or(0) > behind_at; }, 30'000)) << "retention did not run";
    const int64_t retention_after_ms = rig.world.now_ns() / 1'000'000 - produced_at_ms;
    rig.run_ms(6000);  // one more check: nothing more to cut
    const uint64_t start = start_offset().value_or(0);
    ASSERT_GT(start, behind_at);
    const uint64_t end = static_cast<uint64_t>(sent);

    // The acknowledged values by offset.
    std::map<uint64_t, std::string> value_at;
    for (const auto& [value, delivery] : acks.by_value) {
      ASSERT_TRUE(delivery.status.ok()) << value << ": " << delivery.status.to_string();
      value_at[delivery.offset] = value;
    }
    ASSERT_EQ(value_at.size(), end);
    // `reader` read `before` records, then got the gap [from, start), then every record from start
    // to the end, in order.
    auto check_reader = [&](const char* who, ConsumingFiber& reader, size_t before, uint64_t from) {
      SCOPED_TRACE(who);
      ASSERT_EQ(reader.gaps.size(), 1u) << "records removed by retention were skipped silently";
      EXPECT_EQ(reader.records_before_gap[0], before) << "the gap was not reported where the records stopped";
      EXPECT_EQ(reader.gaps[0].topic, "aged");
      EXPECT_EQ(reader.gaps[0].partition, 0u);
      EXPECT_EQ(reader.gaps[0].from, from);
      EXPECT_EQ(reader.gaps[0].to, start);
      ASSERT_EQ(reader.records.size(), before + (end - start));
      for (size_t i = before; i < reader.records.size(); ++i) {
        ASSERT_EQ(reader.records[i].offset, start + (i - before));
        EXPECT_EQ(text_of(reader.records[i].value), value_at[start + (i - before)]);
      }
    };
    // A new consumer asking for offset 0: offset_out_of_range, answered with a gap.
    ConsumingFiber from_zero(rig, *client, "aged", 0, StartAt::offset(0), 4096);
    from_zero.expected = end - start;
    ASSERT_TRUE(rig.run_until([&] { return from_zero.done; }, 30'000)) << from_zero.records.size() << " read";
    check_reader("from offset 0", from_zero, 0, 0);
    // The one that fell behind reads on from its position.
    behind.expected = behind_at + (end - start);
    behind.paused = false;
    ASSERT_TRUE(rig.run_until([&] { return behind.done; }, 30'000)) << behind.records.size() << " read";
    check_reader("fell behind", behind, behind_at, behind_at);
    // From the earliest offset there is nothing to report.
    ConsumingFiber earliest(rig, *client, "aged", 0, StartAt::earliest(), 4096);
    earliest.expected = end - start;
    ASSERT_TRUE(rig.run_until([&] { return earliest.done; }, 30'000));
    EXPECT_TRUE(earliest.gaps.empty());
    ASSERT_FALSE(earliest.records.empty());
    EXPECT_EQ(earliest.records.front().offset, start);
    std::cerr << "seed " << seed << ": " << end << " records, retention cut at " << start << " after "
              << retention_after_ms << " ms; the lagging consumer was at " << behind_at << "\n";
  }
}

}  // namespace
}  // namespace sluice::client
