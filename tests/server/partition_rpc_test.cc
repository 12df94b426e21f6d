// The partition calls and replies nodes forward to each other (node/server/partition_rpc.h,
// docs/formats/rpc.md "Partition calls"): every kind round-trips, and anything but the canonical
// encoding is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/server/partition_rpc.h"

namespace sluice::server {
namespace {

std::vector<PartitionCall> calls() {
  partition::ProduceRequest produce;
  produce.batch = Bytes(300, std::byte{7});
  produce.timeout = std::chrono::milliseconds(2500);
  partition::FetchRequest fetch;
  fetch.offset = 123456789;
  fetch.bytes_max = 1 << 20;
  fetch.wait = std::chrono::milliseconds(200);
  partition::FetchRequest confirmed = fetch;
  confirmed.confirm_end = true;
  return {PartitionCall{{4, 1}, CallFlags{false, false}, confirmed},
          PartitionCall{{4, 2}, CallFlags{false, false}, produce}, PartitionCall{{4, 0}, CallFlags{true, true}, fetch},
          PartitionCall{{9, 7}, CallFlags{true, false}, partition::ListOffsetsRequest{partition::OffsetQuery::timestamp, -5}}};
}

std::vector<partition::Reply> replies() {
  partition::Reply produced;
  produced.value = partition::ProduceReply{10, 14, 1700000000000, true};
  partition::Reply fetched;
  fetched.value = partition::FetchReply{Bytes(100, std::byte{1}), {3, 9}, 20, 1};
  partition::Reply offset;
  offset.value = uint64_t{42};
  partition::Reply not_leader;
  not_leader.status = partition::Status(partition::Errc::not_leader, "leader is node 3");
  not_leader.leader = 3;
  not_leader.leader_address = "10.0.0.3:8080";
  return {produced, fetched, offset, not_leader};
}

TEST(PartitionRpc, CallsRoundTripAndEveryCutIsRefused) {
  for (const PartitionCall& call : calls()) {
    const Bytes bytes = encode_partition_call(call);
    const std::optional<PartitionCall> decoded = decode_partition_call(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->partition, call.partition);
    EXPECT_EQ(decoded->flags, call.flags);
    EXPECT_EQ(decoded->request.index(), call.request.index());
    EXPECT_EQ(encode_partition_call(*decoded), bytes);
    for (size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(decode_partition_call(ByteSpan(bytes).first(cut))) << cut;
    Bytes longer = bytes;
    longer.push_back(std::byte{0});
    EXPECT_FALSE(decode_partition_call(longer));
  }
  const auto fetch = std::get<partition::FetchRequest>(decode_partition_call(encode_partition_call(calls()[2]))->request);
  EXPECT_EQ(fetch.offset, 123456789u);
  EXPECT_EQ(fetch.wait, std::chrono::milliseconds(200));
  EXPECT_FALSE(fetch.confirm_end);
  EXPECT_TRUE(std::get<partition::FetchRequest>(decode_partition_call(encode_partition_call(calls()[0]))->request).confirm_end);
  // The confirm flag on a call that is not a fetch is refused.
  Bytes listing = encode_partition_call(calls()[3]);
  listing[2] |= std::byte{4};
  EXPECT_FALSE(decode_partition_call(listing));
}

TEST(PartitionRpc, UnknownVersionKindFlagsAndQueryAreRefused) {
  const Bytes bytes = encode_partition_call(calls()[3]);
  for (size_t at : {size_t{0}, size_t{1}, size_t{2}, bytes.size() - 9}) {
    Bytes bad = bytes;
    bad[at] = std::byte{0x7f};
    EXPECT_FALSE(decode_partition_call(bad)) << "byte " << at;
  }
}

TEST(PartitionRpc, RepliesRoundTripAndEveryCutIsRefused) {
  for (const partition::Reply& reply : replies()) {
    const Bytes bytes = encode_partition_reply(reply);
    const std::optional<partition::Reply> decoded = decode_partition_reply(bytes);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->status.code(), reply.status.code());
    EXPECT_EQ(decoded->status.message(), reply.status.message());
    EXPECT_EQ(decoded->leader, reply.leader);
    EXPECT_EQ(decoded->leader_address, reply.leader_address);
    EXPECT_EQ(decoded->value.index(), reply.value.index());
    EXPECT_EQ(encode_partition_reply(*decoded), bytes);
    for (size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(decode_partition_reply(ByteSpan(bytes).first(cut))) << cut;
  }
  const auto fetched = std::get<partition::FetchReply>(decode_partition_reply(encode_partition_reply(replies()[1]))->value);
  EXPECT_EQ(fetched.base_offsets, (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(fetched.batches.size(), 100u);
  EXPECT_EQ(fetched.high_watermark, 20u);
  // A replica that cannot vouch for its end (a follower) sends none, and none arrives.
  partition::Reply not_vouched = replies()[1];
  std::get<partition::FetchReply>(not_vouched.value).high_watermark.reset();
  EXPECT_EQ(std::get<partition::FetchReply>(decode_partition_reply(encode_partition_reply(not_vouched))->value).high_watermark, std::nullopt);
  Bytes unknown_code = encode_partition_reply(replies()[0]);
  unknown_code[1] = std::byte{0x7f};
  EXPECT_FALSE(decode_partition_reply(unknown_code));
}

}  // namespace
}  // namespace sluice::server
