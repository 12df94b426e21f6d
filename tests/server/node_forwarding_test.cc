// Any node answers any partition request (node/server/node.h, Node::route_anywhere): on 4
// simulated whole nodes, a topic of one partition with 2 replicas leaves two nodes without one.
// A produce and a fetch sent to such a node are forwarded to the leader over the inter-node RPC
// and answered; a local_only fetch on the follower reads its own replica; a call that was
// forwarded once is never forwarded again (the follower answers not_leader naming the leader).
#include <gtest/gtest.h>

#include <string>

#include "node/log/codec.h"
#include "tests/server/controller_rig.h"

namespace sluice::server {
namespace {

using testing::index_of;
using testing::node_id;

constexpr uint64_t kSeeds[] = {4, 21};
constexpr int kRecords = 10;

partition::Reply call_on(testing::Rig& rig, sim::NodeIndex at, PartitionCall call) {
  partition::Reply reply;
  reply.status = partition::Status(partition::Errc::timeout, "test: no answer");
  rig.run_on(at, [&] { reply = rig.node(at)->route_anywhere(call, rig.world.runtime(at)->now() + std::chrono::seconds(3)); });
  return reply;
}

Bytes one_record_batch(const std::string& value) {
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}};
  return log::encode_batch(0, 0, std::span(&record, 1)).value();
}

// The records of a fetch reply, in order.
std::vector<std::string> values_of(const partition::FetchReply& fetched) {
  std::vector<std::string> values;
  const log::Result<std::vector<ByteSpan>> batches = log::split_batches(fetched.batches);
  if (!batches.ok()) return values;
  for (ByteSpan batch : *batches) {
    const log::Result<log::BatchHeader> header = log::verify_batch(batch);
    if (!header.ok()) return values;
    const log::Result<std::vector<log::RecordView>> records = log::decode_records(batch, *header);
    if (!records.ok()) return values;
    for (const log::RecordView& record : *records) {
      values.emplace_back(reinterpret_cast<const char*>(record.value.data()), record.value.size());
    }
  }
  return values;
}

void forwarding(uint64_t seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  testing::Rig rig(seed);
  rig.wait_all_alive();
  const controller::Result<controller::Applied> created = rig.submit(controller::CreateTopic{"fwd", 1, 2, {}});
  ASSERT_TRUE(created.ok()) << created.status().to_string();
  const PartitionId p0{created->topic, 0};
  ASSERT_TRUE(rig.run_until([&] { return rig.partition_leader(p0).has_value(); }, 10'000));
  const std::vector<NodeId> replicas = rig.node(*rig.controller_leader())->controller()->metadata().partition(p0)->replicas;
  std::vector<sim::NodeIndex> outsiders;
  for (size_t i = 0; i < rig.nodes(); ++i) {
    if (std::find(replicas.begin(), replicas.end(), node_id(static_cast<sim::NodeIndex>(i))) == replicas.end()) {
      outsiders.push_back(static_cast<sim::NodeIndex>(i));
    }
  }
  ASSERT_EQ(outsiders.size(), 2u);
  // Produced through a node without a replica: forwarded to the leader (retried while
  // leadership settles on the preferred leader).
  for (int r = 0; r < kRecords; ++r) {
    bool acked = false;
    for (int attempt = 0; attempt < 20 && !acked; ++attempt) {
      const partition::Reply reply =
          call_on(rig, outsiders[0], PartitionCall{p0, {}, partition::ProduceRequest{one_record_batch("r" + std::to_string(r))}});
      acked = reply.status.ok();
      if (acked) {
        EXPECT_EQ(std::get<partition::ProduceReply>(reply.value).base_offset, static_cast<uint64_t>(r));
      } else {
        rig.run_ms(100);
      }
    }
    ASSERT_TRUE(acked) << "record " << r;
  }
  // Fetched through the other node without a replica: forwarded too.
  const partition::Reply fetched = call_on(rig, outsiders[1], PartitionCall{p0, {}, partition::FetchRequest{0, 1 << 20, {}}});
  ASSERT_TRUE(fetched.status.ok()) << fetched.status.to_string();
  const std::vector<std::string> values = values_of(std::get<partition::FetchReply>(fetched.value));
  ASSERT_EQ(values.size(), static_cast<size_t>(kRecords));
  for (int r = 0; r < kRecords; ++r) EXPECT_EQ(values[r], "r" + std::to_string(r));
  // The follower reads its own replica when asked to; a node without one cannot.
  const sim::NodeIndex leader = *rig.partition_leader(p0);
  const NodeId follower_id = replicas[0] == node_id(leader) ? replicas[1] : replicas[0];
  const sim::NodeIndex follower = index_of(follower_id);
  auto follower_has_all = [&] {
    const partition::Reply local = call_on(rig, follower, PartitionCall{p0, CallFlags{false, true}, partition::FetchRequest{0, 1 << 20, {}}});
    return local.status.ok() && values_of(std::get<partition::FetchReply>(local.value)).size() == static_cast<size_t>(kRecords);
  };
  EXPECT_TRUE(rig.run_until(follower_has_all, 5000));
  const partition::Reply outsider_local =
      call_on(rig, outsiders[0], PartitionCall{p0, CallFlags{false, true}, partition::FetchRequest{0, 1 << 20, {}}});
  EXPECT_EQ(outsider_local.status.code(), partition::Errc::unknown_partition);
  // One hop: a produce that was forwarded already is answered by the follower, not sent on.
  const partition::Reply once = call_on(rig, follower, PartitionCall{p0, CallFlags{true, false}, partition::ProduceRequest{one_record_batch("x")}});
  EXPECT_EQ(once.status.code(), partition::Errc::not_leader);
  EXPECT_EQ(once.leader, node_id(leader));
}

TEST(NodeForwarding, AnyNodeAnswersAnyPartitionRequestInOneHop) {
  for (uint64_t seed : kSeeds) forwarding(seed);
}

}  // namespace
}  // namespace sluice::server
