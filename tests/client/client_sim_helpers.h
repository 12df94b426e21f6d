// What the client library's simulated-cluster tests share (client_sim_test.cc,
// client_faults_sim_test.cc): the cluster (tests/server/controller_rig.h, 4 whole nodes with the
// HTTP API, the library in a fiber of the 4th), the client's config, what the producer was told,
// and the round-trip check (every acknowledged record consumed once, at its offset, in send order).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "tests/server/controller_rig.h"

namespace sluice::client::sim_testing {

using server::testing::kHttpPort;
using server::testing::Rig;

// The library runs here; nodes 0..2 are its brokers (and the metadata group's voters).
inline constexpr sim::NodeIndex kClientHost = 3;

inline server::testing::RigOptions cluster_options() {
  server::testing::RigOptions options;
  options.nodes = 4;
  options.http = true;
  options.auth.anonymous_allowed = true;
  options.auth.anonymous.cluster_admin = true;
  return options;
}

inline ClientConfig client_config(Rig& rig) {
  ClientConfig config;
  for (sim::NodeIndex i = 0; i < 3; ++i) config.brokers.push_back(rt::Address{rig.world.host(i), kHttpPort});
  config.request_timeout = std::chrono::seconds(10);
  return config;
}

inline std::string text_of(const Bytes& bytes) { return std::string(as_string_view(bytes)); }

// What the producer was told, per record value.
struct Acks {
  std::map<std::string, Delivery> by_value;
  std::map<uint64_t, std::string> value_of_id;
  size_t failed = 0;
};

// Reads every partition of `topic` from the start until `expected` records arrived (or 30 s).
inline std::vector<ConsumedRecord> consume_all(Client& client, const std::string& topic, size_t expected) {
  Consumer consumer(client, ConsumerConfig{});
  EXPECT_TRUE(consumer.assign_all(topic, StartAt::earliest()).ok());
  std::vector<ConsumedRecord> records;
  const rt::Instant give_up = client.runtime().now() + std::chrono::seconds(30);
  while (records.size() < expected && client.runtime().now() < give_up) {
    Result<PollResult> polled = consumer.poll(client.runtime().now() + std::chrono::seconds(2));
    if (!polled.ok()) continue;
    EXPECT_TRUE(polled->gaps.empty());
    for (ConsumedRecord& record : polled->records) records.push_back(std::move(record));
  }
  return records;
}

// Every acknowledged record is consumed exactly once at its offset; per partition, offsets are
// dense and values in send order (values are "<partition>-<sequence>").
inline void check_round_trip(const Acks& acks, const std::vector<ConsumedRecord>& records) {
  std::map<std::pair<uint32_t, uint64_t>, std::string> at;
  std::map<uint32_t, uint64_t> next_offset;
  std::map<uint32_t, int> last_sequence;
  std::multiset<std::string> values;
  for (const ConsumedRecord& record : records) {
    EXPECT_EQ(record.offset, next_offset[record.partition]) << "offsets not dense in partition " << record.partition;
    next_offset[record.partition] = record.offset + 1;
    const std::string value = text_of(record.value);
    values.insert(value);
    at[{record.partition, record.offset}] = value;
    const int sequence = std::stoi(value.substr(value.find('-') + 1));
    auto last = last_sequence.find(record.partition);
    if (last != last_sequence.end()) {
      EXPECT_LT(last->second, sequence) << "out of send order in partition " << record.partition;
    }
    last_sequence[record.partition] = sequence;
  }
  for (const std::string& value : values) EXPECT_EQ(values.count(value), 1u) << value << " duplicated";
  for (const auto& [value, delivery] : acks.by_value) {
    if (!delivery.status.ok()) {
      continue;
    }
    auto found = at.find({delivery.partition.partition, delivery.offset});
    ASSERT_NE(found, at.end()) << value << " acknowledged at " << delivery.offset << " but not consumed (lost)";
    EXPECT_EQ(found->second, value);
  }
}

}  // namespace sluice::client::sim_testing
