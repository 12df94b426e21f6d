// SWIM wire codec: round trips, every class of malformed input dropped with its code (never a
// crash), the size limit, and the plain-C header check agreeing with the C++ decoder.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "node/swim/codec.h"
#include "node/wire/swim_generated.h"

extern "C" int swim_header_check_from_c(const uint8_t* data, size_t size);

namespace sluice::swim {
namespace {

constexpr uint64_t kCluster = 42;

Message sample_message() {
  Message message;
  message.kind = MessageKind::ping_req;
  message.cluster_id = kCluster;
  message.source = "10.0.0.1:7946";
  message.source_incarnation = 7;
  message.seq = 0xfedcba98;
  message.target = "10.0.0.2:7946";
  message.updates = {
      Update{"10.0.0.3:7946", 1, MemberState::alive, ""},
      Update{"10.0.0.4:7946", 2, MemberState::suspect, "10.0.0.1:7946"},
      Update{"10.0.0.5:7946", UINT64_MAX, MemberState::dead, "10.0.0.9:7946"},
      Update{"[::1]:7946", 0, MemberState::left, ""},
  };
  return message;
}

const uint8_t* raw(const Bytes& bytes) { return reinterpret_cast<const uint8_t*>(bytes.data()); }

Bytes encoded(const Message& message) {
  Result<Bytes> bytes = encode_datagram(message);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  return bytes.ok() ? std::move(bytes).value() : Bytes();
}

// A datagram with a correct header around an arbitrary payload.
Bytes with_header(const Bytes& payload) {
  Bytes out(SWIM_HEADER_BYTES + payload.size());
  swim_header_write(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint16_t>(payload.size()));
  std::memcpy(out.data() + SWIM_HEADER_BYTES, payload.data(), payload.size());
  return out;
}

// A SwimMessage built by hand, to produce what our encoder never would.
Bytes hand_built(uint8_t kind, uint8_t state, std::string source = "a:1") {
  flatbuffers::FlatBufferBuilder builder;
  const auto member = builder.CreateString("b:1");
  const auto update = wire::CreateSwimUpdate(builder, member, 0, static_cast<wire::SwimMemberState>(state));
  std::vector<flatbuffers::Offset<wire::SwimUpdate>> updates{update};
  const auto updates_offset = builder.CreateVector(updates);
  const auto source_offset = builder.CreateString(source);
  builder.Finish(wire::CreateSwimMessage(builder, kCluster, static_cast<wire::SwimKind>(kind), source_offset, 0, 1,
                                         0, updates_offset));
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return with_header(Bytes(begin, begin + builder.GetSize()));
}

TEST(SwimWire, DatagramRoundTripsEveryKindAndState) {
  for (uint8_t kind = 0; kind <= static_cast<uint8_t>(MessageKind::gossip); ++kind) {
    Message message = sample_message();
    message.kind = static_cast<MessageKind>(kind);
    const Bytes bytes = encoded(message);
    ASSERT_LE(bytes.size(), kDatagramBytesMax);
    EXPECT_EQ(swim_header_check(raw(bytes), bytes.size()), SWIM_HEADER_OK);
    Result<Message> decoded = decode_datagram(bytes, kCluster);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, message);
  }
}

TEST(SwimWire, EmptyTargetAndNoUpdatesRoundTrip) {
  Message message = sample_message();
  message.target.clear();
  message.updates.clear();
  Result<Message> decoded = decode_datagram(encoded(message), kCluster);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, message);
}

TEST(SwimWire, HeaderLayoutIsFixed) {
  const Bytes bytes = encoded(sample_message());
  EXPECT_EQ(std::memcmp(bytes.data(), "SWIM", 4), 0);
  EXPECT_EQ(static_cast<int>(bytes[4]), SWIM_VERSION);
  EXPECT_EQ(static_cast<int>(bytes[5]), 0);
  const size_t length = (static_cast<size_t>(bytes[6]) << 8) | static_cast<size_t>(bytes[7]);
  EXPECT_EQ(length, bytes.size() - SWIM_HEADER_BYTES);
}

TEST(SwimWire, EachHeaderMalformationIsRejectedWithItsReason) {
  const Bytes good = encoded(sample_message());
  auto expect_bad = [](const Bytes& bytes, int reason) {
    EXPECT_EQ(swim_header_check(raw(bytes), bytes.size()), reason);
    EXPECT_EQ(swim_header_check_from_c(raw(bytes), bytes.size()), reason);
    EXPECT_EQ(swim_header_valid(raw(bytes), bytes.size()), 0);
    EXPECT_EQ(decode_datagram(bytes, kCluster).code(), Errc::bad_header);
  };
  for (size_t size = 0; size < SWIM_HEADER_BYTES; ++size) expect_bad(Bytes(good.begin(), good.begin() + size), SWIM_HEADER_SHORT);
  Bytes magic = good;
  magic[3] = std::byte{'X'};
  expect_bad(magic, SWIM_HEADER_BAD_MAGIC);
  Bytes version = good;
  version[4] = std::byte{2};
  expect_bad(version, SWIM_HEADER_BAD_VERSION);
  Bytes flags = good;
  flags[5] = std::byte{0x80};
  expect_bad(flags, SWIM_HEADER_BAD_FLAGS);
  Bytes truncated(good.begin(), good.end() - 1);
  expect_bad(truncated, SWIM_HEADER_BAD_LENGTH);
  Bytes padded = good;
  padded.push_back(std::byte{0});
  expect_bad(padded, SWIM_HEADER_BAD_LENGTH);
  EXPECT_EQ(swim_header_check_from_c(raw(good), good.size()), SWIM_HEADER_OK);
}

TEST(SwimWire, HeaderAcceptsExactlyTheMaximumSize) {
  Bytes largest = with_header(Bytes(kDatagramBytesMax - SWIM_HEADER_BYTES));
  EXPECT_EQ(swim_header_check(raw(largest), largest.size()), SWIM_HEADER_OK);
  Bytes over = with_header(Bytes(kDatagramBytesMax - SWIM_HEADER_BYTES + 1));
  EXPECT_EQ(swim_header_check(raw(over), over.size()), SWIM_HEADER_BAD_LENGTH);
  EXPECT_EQ(decode_datagram(over, kCluster).code(), Errc::bad_header);
}

TEST(SwimWire, PayloadThatFailsTheVerifierIsMalformed) {
  EXPECT_EQ(decode_datagram(with_header(Bytes()), kCluster).code(), Errc::malformed);
  EXPECT_EQ(decode_datagram(with_header(Bytes(64, std::byte{0xff})), kCluster).code(), Errc::malformed);
  // A valid message cut short, with the header's length fixed up to match.
  const Bytes good = encoded(sample_message());
  const Bytes payload(good.begin() + SWIM_HEADER_BYTES, good.end() - 12);
  EXPECT_EQ(decode_datagram(with_header(payload), kCluster).code(), Errc::malformed);
}

TEST(SwimWire, OutOfRangeEnumsAndBadAddressesAreMalformed) {
  EXPECT_TRUE(decode_datagram(hand_built(0, 0), kCluster).ok());
  EXPECT_EQ(decode_datagram(hand_built(5, 0), kCluster).code(), Errc::malformed);    // unknown kind
  EXPECT_EQ(decode_datagram(hand_built(0, 4), kCluster).code(), Errc::malformed);    // unknown state
  EXPECT_EQ(decode_datagram(hand_built(0, 0, ""), kCluster).code(), Errc::malformed);  // empty source
  EXPECT_EQ(decode_datagram(hand_built(0, 0, std::string(kAddressBytesMax + 1, 'a')), kCluster).code(),
            Errc::malformed);
  Message long_target = sample_message();
  long_target.target = std::string(kAddressBytesMax + 1, 'a');
  EXPECT_EQ(encode_datagram(long_target).code(), Errc::malformed);
}

TEST(SwimWire, ForeignClusterIsRejected) {
  EXPECT_EQ(decode_datagram(encoded(sample_message()), kCluster + 1).code(), Errc::foreign_cluster);
}

TEST(SwimWire, DecodesFromAnyAlignment) {
  const Bytes good = encoded(sample_message());
  Bytes shifted(good.size() + 3);
  std::memcpy(shifted.data() + 3, good.data(), good.size());
  Result<Message> decoded = decode_datagram(ByteSpan(shifted).subspan(3), kCluster);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, sample_message());
}

TEST(SwimWire, EncodingRefusesToExceedTheLimit) {
  Message message = sample_message();
  message.updates.clear();
  for (int i = 0; i < 40; ++i) message.updates.push_back(Update{std::string(40, 'm') + std::to_string(i), 1});
  EXPECT_EQ(encode_datagram(message).code(), Errc::too_large);
  EXPECT_EQ(encode_datagram(sample_message(), 64 + SWIM_HEADER_BYTES).code(), Errc::too_large);
}

// The core fills datagrams by these bounds; they must never underestimate the real size.
RC_GTEST_PROP(SwimWire, SizeBoundsNeverUnderestimate, ()) {
  Message message;
  message.kind = static_cast<MessageKind>(*rc::gen::inRange(0, 5));
  message.cluster_id = *rc::gen::arbitrary<uint64_t>();
  message.source = std::string(*rc::gen::inRange<size_t>(1, kAddressBytesMax + 1), 's');
  message.target = std::string(*rc::gen::inRange<size_t>(0, kAddressBytesMax + 1), 't');
  message.source_incarnation = *rc::gen::arbitrary<uint64_t>();
  message.seq = *rc::gen::arbitrary<uint32_t>();
  size_t bound = datagram_base_bytes_bound(message);
  const size_t count = *rc::gen::inRange<size_t>(0, 24);
  for (size_t i = 0; i < count; ++i) {
    Update update;
    update.member = std::string(*rc::gen::inRange<size_t>(1, kAddressBytesMax + 1), 'm');
    update.origin = std::string(*rc::gen::inRange<size_t>(0, kAddressBytesMax + 1), 'o');
    update.incarnation = *rc::gen::arbitrary<uint64_t>();
    update.state = static_cast<MemberState>(*rc::gen::inRange(0, 4));
    bound += update_bytes_bound(update);
    message.updates.push_back(update);
  }
  Result<Bytes> bytes = encode_datagram(message, kDatagramBytesMax);
  if (bound <= kDatagramBytesMax) RC_ASSERT(bytes.ok());
  if (bytes.ok()) RC_ASSERT(bytes->size() <= bound);
}

// Whatever arrives, decoding returns a value or one of the drop codes, never crashes.
TEST(SwimWire, CorruptedDatagramsNeverCrash) {
  const Bytes good = encoded(sample_message());
  Prng prng(7);
  auto next = [&prng] { return prng.next(); };
  size_t rejected = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes bytes = good;
    const uint64_t flips = 1 + random_below(next, 4);
    for (uint64_t i = 0; i < flips; ++i) {
      // Mostly the payload, so the Verifier is exercised rather than the header check.
      const size_t at = SWIM_HEADER_BYTES + random_below(next, bytes.size() - SWIM_HEADER_BYTES);
      bytes[at] = static_cast<std::byte>(next());
    }
    Result<Message> decoded = decode_datagram(bytes, kCluster);
    if (!decoded.ok()) {
      const Errc code = decoded.code();
      EXPECT_TRUE(code == Errc::malformed || code == Errc::foreign_cluster) << to_string(code);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000u);
}

TEST(SwimWire, PushPullRoundTripsAndIsChecked) {
  PushPullState state;
  state.cluster_id = kCluster;
  state.source = "a:1";
  state.join = true;
  for (int i = 0; i < 500; ++i) {
    state.members.push_back(Update{"m" + std::to_string(i) + ":1", static_cast<uint64_t>(i),
                                   static_cast<MemberState>(i % 4), ""});
  }
  Result<Bytes> bytes = encode_push_pull(state);
  ASSERT_TRUE(bytes.ok());
  Result<PushPullState> decoded = decode_push_pull(*bytes, kCluster);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, state);
  EXPECT_EQ(decode_push_pull(*bytes, kCluster + 1).code(), Errc::foreign_cluster);
  Bytes cut(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(bytes->size() / 2));
  EXPECT_EQ(decode_push_pull(cut, kCluster).code(), Errc::malformed);
  EXPECT_EQ(decode_push_pull(Bytes(), kCluster).code(), Errc::malformed);
}

TEST(SwimWire, PushPullMemberCountIsLimited) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::SwimUpdate>> members;
  const auto name = builder.CreateSharedString("m:1");
  for (size_t i = 0; i <= kPushPullMembersMax; ++i) members.push_back(wire::CreateSwimUpdate(builder, name));
  const auto vector = builder.CreateVector(members);
  builder.Finish(wire::CreateSwimPushPull(builder, kCluster, builder.CreateString("a:1"), false, vector));
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  EXPECT_EQ(decode_push_pull(Bytes(begin, begin + builder.GetSize()), kCluster).code(), Errc::malformed);
  PushPullState state;
  state.source = "a:1";
  state.members.resize(kPushPullMembersMax + 1, Update{"m:1"});
  EXPECT_EQ(encode_push_pull(state).code(), Errc::too_large);
}

}  // namespace
}  // namespace sluice::swim
